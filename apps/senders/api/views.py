"""Sending engine API front doors: WhatsApp numbers (profiles), messages, opt-out words.

Each view checks input, calls one service or selector and serializes. Who may do what:
- every member (viewer and up) reads profiles, their status, messages and opt-out words;
- agents and up send messages;
- admins and owners add, change, link, log out and delete numbers, see their QR code (scanning
  it links a phone to the workspace) and edit the opt-out words.
API keys act with their own role. Like the rest of the API, keys only work on plans with API
access (apps.accounts.services.api_keys); signed-in users are not gated by that flag.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.permissions import HasRole, IsTenantMember
from apps.accounts.api.views import ERRORS, NOT_FOUND
from apps.accounts.models import Role
from apps.core.api.errors import ApiErrorSerializer
from apps.core.exceptions import NotFound, ValidationFailed
from apps.senders import selectors
from apps.senders.api.serializers import (
    MessageCreateSerializer,
    MessageDetailSerializer,
    MessageFilterSerializer,
    MessageSerializer,
    OptOutWordCreateSerializer,
    OptOutWordSerializer,
    ProfileCreateSerializer,
    ProfileSerializer,
    ProfileStatusSerializer,
    ProfileUpdateSerializer,
)
from apps.senders.models import OutboundMessage
from apps.senders.services import ledger, opt_out_words, profiles

QUOTA = {402: OpenApiResponse(ApiErrorSerializer, description="The plan's limit is reached")}
CONFLICT = {409: OpenApiResponse(ApiErrorSerializer, description="Conflicts with the current state")}

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Sent on a response that replays an earlier request with the same Idempotency-Key.
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY_MAX_LENGTH = OutboundMessage._meta.get_field("idempotency_key").max_length


class ReadOrRoleMixin:
    """Safe methods for every member of the workspace; other methods need `write_role`."""

    write_role: str = Role.ADMIN

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method in SAFE_METHODS:
            return [IsTenantMember()]
        return [HasRole(self.write_role)()]


# --- WhatsApp numbers ---------------------------------------------------------------------------


class ProfileListCreateView(ReadOrRoleMixin, generics.GenericAPIView):
    serializer_class = ProfileSerializer

    def get_queryset(self):
        return selectors.profiles_list()

    @extend_schema(
        tags=["whatsapp numbers"],
        summary="List the workspace's WhatsApp numbers",
        responses={200: ProfileSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ProfileSerializer(page, many=True).data)

    @extend_schema(
        tags=["whatsapp numbers"],
        summary="Add a WhatsApp number; with link=true its QR code is ready to scan shortly after",
        request=ProfileCreateSerializer,
        responses={201: ProfileSerializer, **ERRORS, **QUOTA},
    )
    def post(self, request: Request) -> Response:
        body = ProfileCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        settings: dict[str, Any] = dict(body.validated_data)
        profile = profiles.profile_create(
            label=settings.pop("label"),
            proxy_url=settings.pop("proxy_url", ""),
            link=settings.pop("link"),
            **settings,
        )
        return Response(ProfileSerializer(profile).data, status=status.HTTP_201_CREATED)


class ProfileDetailView(ReadOrRoleMixin, APIView):
    @extend_schema(
        tags=["whatsapp numbers"],
        summary="One WhatsApp number and its settings",
        responses={200: ProfileSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, profile_id: int) -> Response:
        return Response(ProfileSerializer(selectors.profile_detail(profile_id=profile_id)).data)

    @extend_schema(
        tags=["whatsapp numbers"],
        summary="Change a number's settings (pacing, caps, warm-up, quiet hours, proxy)",
        request=ProfileUpdateSerializer,
        responses={200: ProfileSerializer, **ERRORS, **NOT_FOUND},
    )
    def patch(self, request: Request, profile_id: int) -> Response:
        body = ProfileUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        settings: dict[str, Any] = dict(body.validated_data)
        profile = profiles.profile_update(
            profile=profiles.profile_get(profile_id=profile_id),
            proxy_url=settings.pop("proxy_url", None),
            **settings,
        )
        return Response(ProfileSerializer(profile).data)

    @extend_schema(
        tags=["whatsapp numbers"],
        summary="Remove a number (refused while it still has messages to send)",
        responses={204: OpenApiResponse(description="Removed"), **ERRORS, **NOT_FOUND},
    )
    def delete(self, request: Request, profile_id: int) -> Response:
        profiles.profile_delete(profile=profiles.profile_get(profile_id=profile_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileQrView(APIView):
    permission_classes = (HasRole(Role.ADMIN),)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        # The image leaves as a plain HttpResponse; every error is JSON in the one error shape,
        # also for clients that send `Accept: image/png` (which must not turn a 404 into a 406).
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        tags=["whatsapp numbers"],
        summary="The QR code to scan now, as a PNG (404 when none is on screen, e.g. once linked)",
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="QR code image"),
            **ERRORS,
            **NOT_FOUND,
        },
    )
    def get(self, request: Request, profile_id: int) -> HttpResponse:
        profile = selectors.profile_detail(profile_id=profile_id)
        payload = profiles.profile_qr_current(profile_id=profile.id)
        if payload is None:
            raise NotFound(
                "There is no QR code to scan for this number right now.",
                code="qr_not_available",
                details={"status": profile.status},
            )
        response = HttpResponse(profiles.qr_png(payload), content_type="image/png")
        # A QR code is valid for seconds and links a phone to this workspace: never cache it.
        response["Cache-Control"] = "no-store"
        return response


class ProfileStatusView(APIView):
    @extend_schema(
        tags=["whatsapp numbers"],
        summary="A number's live status (the same event the portal receives over its websocket)",
        responses={200: ProfileStatusSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, profile_id: int) -> Response:
        profile = selectors.profile_detail(profile_id=profile_id)
        event = profiles.profile_status_event(profile)
        # The websocket event carries an ISO string; the API renders datetimes its own one way.
        event["paused_until"] = profile.paused_until
        event["qr_available"] = profiles.profile_qr_current(profile_id=profile.id) is not None
        return Response(ProfileStatusSerializer(event).data)


class ProfileLogoutView(APIView):
    permission_classes = (HasRole(Role.ADMIN),)

    @extend_schema(
        tags=["whatsapp numbers"],
        summary="Log a number out: its session is forgotten and a new QR scan is needed to send",
        request=None,
        responses={200: ProfileSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request: Request, profile_id: int) -> Response:
        profile = profiles.profile_logout(profile=profiles.profile_get(profile_id=profile_id))
        return Response(ProfileSerializer(profile).data)


class ProfileLinkView(APIView):
    permission_classes = (HasRole(Role.ADMIN),)

    @extend_schema(
        tags=["whatsapp numbers"],
        summary="Start linking (or re-linking) a number; poll …/status and fetch …/qr to scan",
        request=None,
        responses={202: ProfileSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request: Request, profile_id: int) -> Response:
        profile = profiles.profile_link(profile=profiles.profile_get(profile_id=profile_id))
        return Response(ProfileSerializer(profile).data, status=status.HTTP_202_ACCEPTED)


# --- messages -----------------------------------------------------------------------------------


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not key:
        return None
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise ValidationFailed(
            f"An Idempotency-Key is at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters.",
            code="invalid_idempotency_key",
        )
    return key


class MessageListCreateView(ReadOrRoleMixin, generics.GenericAPIView):
    write_role = Role.AGENT
    serializer_class = MessageSerializer

    def get_queryset(self):
        return selectors.messages_list()

    @extend_schema(
        tags=["messages"],
        summary="List messages, newest first, filtered by state, number or recipient",
        parameters=[MessageFilterSerializer],
        responses={200: MessageSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        filters = MessageFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        to = wanted.get("to")
        messages = selectors.messages_list(
            state=wanted.get("state"),
            profile_id=wanted.get("profile"),
            to_number=ledger.normalize_number(to, region=request.tenant.default_region) if to else None,
        )
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    @extend_schema(
        tags=["messages"],
        summary="Queue a message; it is sent at the number's safe pace",
        description=(
            "Answers 202 with the queued message. With an `Idempotency-Key` header, repeating the "
            "same request returns the message made the first time (202, header "
            "`Idempotent-Replayed: true`) and sends nothing more; the same key with a different "
            "request is a 409 `idempotency_key_reused`. A number on the workspace's suppression list "
            "(/api/v1/suppressions) is refused with a 409 `number_suppressed` and nothing is queued."
        ),
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="Any unique string up to 200 characters (a UUID is a good choice).",
            )
        ],
        request=MessageCreateSerializer,
        responses={202: MessageSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request: Request) -> Response:
        body = MessageCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        enqueued = ledger.message_enqueue(
            to=data["to"],
            text=data["text"],
            region=request.tenant.default_region,
            profile=data.get("profile"),
            idempotency_key=_idempotency_key(request),
        )
        headers = {"Location": reverse("api-message-detail", args=[enqueued.message.id])}
        if not enqueued.created:
            headers[REPLAYED_HEADER] = "true"
        return Response(MessageSerializer(enqueued.message).data, status=status.HTTP_202_ACCEPTED, headers=headers)


class MessageDetailView(APIView):
    @extend_schema(
        tags=["messages"],
        summary="One message: its state, timestamps, error and history",
        responses={200: MessageDetailSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, message_id: int) -> Response:
        message = ledger.message_get(message_id=message_id)
        message.history = ledger.message_history(message)
        return Response(MessageDetailSerializer(message).data)


# --- opt-out words ------------------------------------------------------------------------------


class OptOutWordListCreateView(ReadOrRoleMixin, generics.GenericAPIView):
    serializer_class = OptOutWordSerializer

    def get_queryset(self):
        return selectors.opt_out_words_list()

    @extend_schema(
        tags=["opt-out words"],
        summary="Words that opt a contact out when sent alone (STOP and its translations)",
        responses={200: OptOutWordSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(OptOutWordSerializer(page, many=True).data)

    @extend_schema(
        tags=["opt-out words"],
        summary="Add an opt-out word",
        request=OptOutWordCreateSerializer,
        responses={201: OptOutWordSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request: Request) -> Response:
        body = OptOutWordCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        keyword = opt_out_words.opt_out_word_add(word=body.validated_data["word"])
        return Response(OptOutWordSerializer(keyword).data, status=status.HTTP_201_CREATED)


class OptOutWordDetailView(APIView):
    permission_classes = (HasRole(Role.ADMIN),)

    @extend_schema(
        tags=["opt-out words"],
        summary="Remove an opt-out word",
        responses={204: OpenApiResponse(description="Removed"), **ERRORS, **NOT_FOUND},
    )
    def delete(self, request: Request, word_id: int) -> Response:
        opt_out_words.opt_out_word_remove(word_id=word_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
