"""Campaigns and templates API front doors.

Who may do what (like the sending engine's API: agents send, admins manage):
- every member (viewer and up) reads campaigns, their runs, stats and recipients, and
  templates, and renders previews;
- agents and up create and change campaigns and templates, and start, schedule, pause, resume
  and cancel campaigns;
- admins and owners delete campaigns and templates.
API keys act with their own role. Starting is safe to retry: a second start of the same campaign
is a 409 (it is already running), so it never sends twice.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.authentication import ApiKeyPrincipal
from apps.accounts.api.permissions import HasRole, IsTenantMember, RolePerMethodMixin
from apps.accounts.api.views import ERRORS, NOT_FOUND
from apps.accounts.models import Role
from apps.campaigns import selectors
from apps.campaigns.api.serializers import (
    CampaignListFilterSerializer,
    CampaignPreviewRequestSerializer,
    CampaignSerializer,
    CampaignWriteSerializer,
    PreviewRequestSerializer,
    PreviewSerializer,
    RecipientFilterSerializer,
    RecipientSerializer,
    RunSerializer,
    StatsFilterSerializer,
    StatsSerializer,
    TemplateSerializer,
    TemplateWriteSerializer,
)
from apps.campaigns.services import campaigns as campaign_services
from apps.campaigns.services import lifecycle
from apps.campaigns.services import templates as template_services
from apps.core.api.errors import ApiErrorSerializer
from apps.core.api.pagination import CursorPagination

TEMPLATES = ["templates"]
CAMPAIGNS = ["campaigns"]
CONFLICT = {409: OpenApiResponse(ApiErrorSerializer, description="Not allowed in the campaign's current state")}
QUOTA = {402: OpenApiResponse(ApiErrorSerializer, description="The plan's limit is reached")}


def _campaign_values(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split validated input into service keyword arguments (groups, senders) and fields."""
    values = dict(data)
    extra: dict[str, Any] = {}
    if "groups" in values:
        extra["groups"] = values.pop("groups")
    if "senders" in values:
        extra["senders"] = [
            campaign_services.SenderChoice(profile=item["profile"], weight=item["weight"])
            for item in values.pop("senders")
        ]
    return values, extra


def _campaign_response(campaign_id: int, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(CampaignSerializer(selectors.campaign_detail(campaign_id=campaign_id)).data, status=status_code)


# --- templates ------------------------------------------------------------------------------------


class TemplateListCreateView(RolePerMethodMixin, generics.GenericAPIView):
    serializer_class = TemplateSerializer
    parser_classes = (JSONParser, MultiPartParser, FormParser)

    def get_queryset(self):
        return selectors.templates_list()

    @extend_schema(
        tags=TEMPLATES, summary="List message templates", responses={200: TemplateSerializer(many=True), **ERRORS}
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.templates_list(category=request.query_params.get("category")))
        return self.get_paginated_response(TemplateSerializer(page, many=True).data)

    @extend_schema(
        tags=TEMPLATES,
        summary="Add a template (unknown placeholders are refused, listed)",
        request=TemplateWriteSerializer,
        responses={
            201: TemplateSerializer,
            **ERRORS,
            409: OpenApiResponse(ApiErrorSerializer, description="Name taken"),
        },
    )
    def post(self, request: Request) -> Response:
        body = TemplateWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        template = template_services.template_create(
            name=data["name"], body=data["body"], category=data["category"], media=data.get("media")
        )
        return Response(TemplateSerializer(template).data, status=status.HTTP_201_CREATED)


class TemplateDetailView(RolePerMethodMixin, APIView):
    parser_classes = (JSONParser, MultiPartParser, FormParser)

    @extend_schema(tags=TEMPLATES, summary="One template", responses={200: TemplateSerializer, **ERRORS, **NOT_FOUND})
    def get(self, request: Request, template_id: int) -> Response:
        return Response(TemplateSerializer(template_services.template_get(template_id=template_id)).data)

    @extend_schema(
        tags=TEMPLATES,
        summary="Change a template (runs already started keep their text)",
        request=TemplateWriteSerializer,
        responses={200: TemplateSerializer, **ERRORS, **NOT_FOUND},
    )
    def patch(self, request: Request, template_id: int) -> Response:
        template = template_services.template_get(template_id=template_id)
        body = TemplateWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        template = template_services.template_update(
            template=template, media=data.pop("media", None), remove_media=data.pop("remove_media", False), **data
        )
        return Response(TemplateSerializer(template).data)

    @extend_schema(
        tags=TEMPLATES,
        summary="Delete a template (refused while a scheduled or sending campaign uses it)",
        responses={204: OpenApiResponse(description="Deleted"), **ERRORS, **NOT_FOUND, **CONFLICT},
    )
    def delete(self, request: Request, template_id: int) -> Response:
        template_services.template_delete(template=template_services.template_get(template_id=template_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplatePreviewView(APIView):
    permission_classes = (IsTenantMember,)

    @extend_schema(
        tags=TEMPLATES,
        summary="Render a text or template for a contact or sample values (nothing is saved or sent)",
        request=PreviewRequestSerializer,
        responses={200: PreviewSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request: Request) -> Response:
        body = PreviewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        text = data["template"].body if "template" in data else data["body"]
        preview = template_services.template_preview(
            body=text, contact_id=data.get("contact"), sample=data.get("sample"), seed=data.get("seed")
        )
        return Response(PreviewSerializer(preview).data)


# --- campaigns ------------------------------------------------------------------------------------


class CampaignListCreateView(RolePerMethodMixin, generics.GenericAPIView):
    serializer_class = CampaignSerializer

    def get_queryset(self):
        return selectors.campaigns_list()

    @extend_schema(
        tags=CAMPAIGNS,
        summary="List campaigns, newest first",
        parameters=[CampaignListFilterSerializer],
        responses={200: CampaignSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = CampaignListFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.campaigns_list(state=query.validated_data.get("state")))
        return self.get_paginated_response(CampaignSerializer(page, many=True).data)

    @extend_schema(
        tags=CAMPAIGNS,
        summary="Create a draft campaign (text, audience, numbers, schedule and stop rules are checked now)",
        request=CampaignWriteSerializer,
        responses={201: CampaignSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = CampaignWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values, extra = _campaign_values(body.validated_data)
        created_by = None if isinstance(request.user, ApiKeyPrincipal) else request.user.pk
        campaign = campaign_services.campaign_create(created_by_id=created_by, **extra, **values)
        return _campaign_response(campaign.id, status.HTTP_201_CREATED)


class CampaignDetailView(RolePerMethodMixin, APIView):
    @extend_schema(tags=CAMPAIGNS, summary="One campaign", responses={200: CampaignSerializer, **ERRORS, **NOT_FOUND})
    def get(self, request: Request, campaign_id: int) -> Response:
        return Response(CampaignSerializer(selectors.campaign_detail(campaign_id=campaign_id)).data)

    @extend_schema(
        tags=CAMPAIGNS,
        summary="Change a draft or scheduled campaign",
        request=CampaignWriteSerializer,
        responses={200: CampaignSerializer, **ERRORS, **NOT_FOUND, **CONFLICT},
    )
    def patch(self, request: Request, campaign_id: int) -> Response:
        campaign = campaign_services.campaign_get(campaign_id=campaign_id)
        body = CampaignWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        values, extra = _campaign_values(body.validated_data)
        campaign_services.campaign_update(campaign=campaign, **extra, **values)
        return _campaign_response(campaign_id)

    @extend_schema(
        tags=CAMPAIGNS,
        summary="Delete a campaign that is not sending",
        responses={204: OpenApiResponse(description="Deleted"), **ERRORS, **NOT_FOUND, **CONFLICT},
    )
    def delete(self, request: Request, campaign_id: int) -> Response:
        campaign_services.campaign_delete(campaign=campaign_services.campaign_get(campaign_id=campaign_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class _CampaignAction(APIView):
    permission_classes = (HasRole(Role.AGENT),)
    status_code = status.HTTP_200_OK

    def act(self, campaign) -> None:
        raise NotImplementedError

    def post(self, request: Request, campaign_id: int) -> Response:
        self.act(campaign_services.campaign_get(campaign_id=campaign_id))
        return _campaign_response(campaign_id, self.status_code)


def _action_schema(summary: str, code: int = 200, quota: bool = False):
    responses = {code: CampaignSerializer, **ERRORS, **NOT_FOUND, **CONFLICT, **(QUOTA if quota else {})}
    return extend_schema(tags=CAMPAIGNS, summary=summary, request=None, responses=responses)


class CampaignStartView(_CampaignAction):
    status_code = status.HTTP_202_ACCEPTED

    @_action_schema("Start now: the recipients are written by a worker, then sending begins", 202, quota=True)
    def post(self, request: Request, campaign_id: int) -> Response:
        return super().post(request, campaign_id)

    def act(self, campaign) -> None:
        lifecycle.campaign_start(campaign=campaign)


class CampaignScheduleView(_CampaignAction):
    @_action_schema("Schedule a draft campaign for its time or recurrence")
    def post(self, request: Request, campaign_id: int) -> Response:
        return super().post(request, campaign_id)

    def act(self, campaign) -> None:
        campaign_services.campaign_schedule(campaign=campaign)


class CampaignUnscheduleView(_CampaignAction):
    @_action_schema("Take a scheduled campaign back to draft")
    def post(self, request: Request, campaign_id: int) -> Response:
        return super().post(request, campaign_id)

    def act(self, campaign) -> None:
        campaign_services.campaign_unschedule(campaign=campaign)


class CampaignPauseView(_CampaignAction):
    @_action_schema("Pause: nothing more is sent until it is resumed")
    def post(self, request: Request, campaign_id: int) -> Response:
        return super().post(request, campaign_id)

    def act(self, campaign) -> None:
        lifecycle.campaign_pause(campaign=campaign)


class CampaignResumeView(_CampaignAction):
    @_action_schema("Resume a paused campaign (nothing already sent is sent again)", quota=True)
    def post(self, request: Request, campaign_id: int) -> Response:
        return super().post(request, campaign_id)

    def act(self, campaign) -> None:
        lifecycle.campaign_resume(campaign=campaign)


class CampaignCancelView(_CampaignAction):
    @_action_schema("Cancel: unsent messages are dropped and the schedule removed")
    def post(self, request: Request, campaign_id: int) -> Response:
        return super().post(request, campaign_id)

    def act(self, campaign) -> None:
        lifecycle.campaign_cancel(campaign=campaign)


class CampaignStatsView(APIView):
    @extend_schema(
        tags=CAMPAIGNS,
        summary="Counts per state, rate and ETA of a run (the latest by default)",
        parameters=[StatsFilterSerializer],
        responses={200: StatsSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, campaign_id: int) -> Response:
        query = StatsFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        campaign = selectors.campaign_detail(campaign_id=campaign_id)
        stats = selectors.campaign_stats(campaign=campaign, run_id=query.validated_data.get("run"))
        return Response(StatsSerializer(stats).data)


class CampaignRunsView(generics.GenericAPIView):
    serializer_class = RunSerializer

    @extend_schema(
        tags=CAMPAIGNS,
        summary="The campaign's runs, newest first",
        responses={200: RunSerializer(many=True), **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = selectors.campaign_detail(campaign_id=campaign_id)
        page = self.paginate_queryset(selectors.campaign_runs(campaign=campaign))
        return self.get_paginated_response(RunSerializer(page, many=True).data)


class RecipientPagination(CursorPagination):
    # Materialization order: contacts in the order they were added.
    ordering = "id"


class CampaignRecipientsView(generics.GenericAPIView):
    serializer_class = RecipientSerializer
    pagination_class = RecipientPagination

    @extend_schema(
        tags=CAMPAIGNS,
        summary="A run's recipients: one row each with its state and skip reason (cursor-paginated)",
        parameters=[RecipientFilterSerializer],
        responses={200: RecipientSerializer(many=True), **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, campaign_id: int) -> Response:
        query = RecipientFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        campaign = selectors.campaign_detail(campaign_id=campaign_id)
        run = selectors.campaign_run(campaign=campaign, run_id=query.validated_data.get("run"))
        rows = selectors.recipients(run=run, state=query.validated_data.get("state"))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(RecipientSerializer(page, many=True).data)


class CampaignPreviewView(APIView):
    permission_classes = (IsTenantMember,)

    @extend_schema(
        tags=CAMPAIGNS,
        summary="The campaign's text as a contact (or sample values) would receive it",
        request=CampaignPreviewRequestSerializer,
        responses={200: PreviewSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request: Request, campaign_id: int) -> Response:
        body = CampaignPreviewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        campaign = selectors.campaign_detail(campaign_id=campaign_id)
        preview = template_services.template_preview(
            body=campaign_services.campaign_text(campaign),
            contact_id=data.get("contact"),
            sample=data.get("sample"),
            seed=data.get("seed"),
            campaign_id=campaign.id,
        )
        return Response(PreviewSerializer(preview).data)
