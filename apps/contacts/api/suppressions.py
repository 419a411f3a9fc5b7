"""/api/v1/suppressions: the workspace's suppression list, numbers never to message (see
apps.contacts.services.suppression). Every member reads; agents and up add (one, or a list);
admins and owners remove. API keys act with their own role."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.permissions import RolePerMethodMixin
from apps.accounts.api.views import ERRORS, NOT_FOUND
from apps.contacts import selectors
from apps.contacts.models import SuppressedNumber
from apps.contacts.services import suppression as services
from apps.contacts.services.suppression import BULK_MAX_LINES, LINE_MAX_LENGTH, REASON_MAX_LENGTH

TAGS = ["suppression list"]


class SuppressionSerializer(serializers.ModelSerializer):
    class Meta:
        model = SuppressedNumber
        fields = ["id", "phone", "reason", "created_at"]
        read_only_fields = fields


class SuppressionFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Part of the number (its digits, e.g. 98765 43210) or of the reason.",
    )


class SuppressionCreateSerializer(serializers.Serializer):
    phone = serializers.CharField(
        max_length=LINE_MAX_LENGTH, help_text="Normalised to E.164 with the workspace's region."
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=REASON_MAX_LENGTH, default="")


class SuppressionAddedSerializer(serializers.Serializer):
    """The answer to an add: the entry, whether it is new, and the messages it stopped."""

    id = serializers.IntegerField(source="suppressed.id")
    phone = serializers.CharField(source="suppressed.phone")
    reason = serializers.CharField(source="suppressed.reason")
    created_at = serializers.DateTimeField(source="suppressed.created_at")
    created = serializers.BooleanField(help_text="False: the number was already on the list and nothing changed.")
    messages_skipped = serializers.IntegerField(
        help_text="Queued or held messages to this number that will now never be sent (skipped_suppressed)."
    )


class SuppressionBulkSerializer(serializers.Serializer):
    phones = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        allow_empty=False,
        max_length=BULK_MAX_LINES,
        help_text=f"One number per item (up to {BULK_MAX_LINES:,}); blank items are ignored.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=REASON_MAX_LENGTH, default="")


class BadLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="1-based position in `phones`.")
    value = serializers.CharField()
    error = serializers.CharField()


class SuppressionBulkResultSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    already_suppressed = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Items repeating a number given earlier in the list.")
    messages_skipped = serializers.IntegerField()
    errors = BadLineSerializer(many=True)


class SuppressionListCreateView(RolePerMethodMixin, generics.GenericAPIView):
    serializer_class = SuppressionSerializer

    @extend_schema(
        tags=TAGS,
        summary="List suppressed numbers, newest first (search by number or reason)",
        parameters=[SuppressionFilterSerializer],
        responses={200: SuppressionSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = SuppressionFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.suppressions_list(search=query.validated_data.get("q", "")))
        return self.get_paginated_response(SuppressionSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Suppress a number: nothing more is sent to it, including messages already queued",
        description=(
            "Answers 201 with the entry when the number is added, and 200 with `created: false` when "
            "it was already on the list (nothing changes). Queued or held messages to the number "
            "end `skipped_suppressed` at once (`messages_skipped`)."
        ),
        request=SuppressionCreateSerializer,
        responses={201: SuppressionAddedSerializer, 200: SuppressionAddedSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = SuppressionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        added = services.suppression_add(phone=body.validated_data["phone"], reason=body.validated_data["reason"])
        return Response(
            SuppressionAddedSerializer(added).data,
            status=status.HTTP_201_CREATED if added.created else status.HTTP_200_OK,
        )


class SuppressionBulkView(RolePerMethodMixin, APIView):
    @extend_schema(
        tags=TAGS,
        summary=f"Suppress up to {BULK_MAX_LINES:,} numbers; bad items are reported by line, the rest are added",
        request=SuppressionBulkSerializer,
        responses={200: SuppressionBulkResultSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = SuppressionBulkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.suppressions_bulk_add(
            lines=body.validated_data["phones"], reason=body.validated_data["reason"]
        )
        return Response(SuppressionBulkResultSerializer(result).data)


class SuppressionDetailView(RolePerMethodMixin, APIView):
    @extend_schema(
        tags=TAGS, summary="One suppressed number", responses={200: SuppressionSerializer, **ERRORS, **NOT_FOUND}
    )
    def get(self, request: Request, suppression_id: int) -> Response:
        return Response(SuppressionSerializer(selectors.suppression_get(suppression_id=suppression_id)).data)

    @extend_schema(
        tags=TAGS,
        summary="Take a number off the list (messages skipped meanwhile stay skipped)",
        responses={204: OpenApiResponse(description="Removed"), **ERRORS, **NOT_FOUND},
    )
    def delete(self, request: Request, suppression_id: int) -> Response:
        services.suppression_remove(suppression_id=suppression_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
