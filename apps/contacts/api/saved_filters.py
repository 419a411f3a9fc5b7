"""/api/v1/saved-filters: named contact filters (the spec of apps.contacts.filters), used by the
contacts list and as campaign audiences (`saved_filter` on a campaign). Every member reads;
agents and up create and change; admins and owners delete."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.authentication import ApiKeyPrincipal
from apps.accounts.api.permissions import RolePerMethodMixin
from apps.accounts.api.views import ERRORS, NOT_FOUND
from apps.contacts import selectors
from apps.contacts.models import SavedFilter
from apps.contacts.selectors import CONTACTS_EXACT_COUNT_CAP
from apps.contacts.services import saved_filters as services
from apps.core.exceptions import NotFound

TAGS = ["contacts"]
CONFLICT = {409: OpenApiResponse(description="The name is taken, or unfinished campaigns use the filter")}
SPEC_HELP = (
    '{"match": "all"|"any", "rules": [{"field", "op", "value"}]}. Fields: language, consent (eq, ne, in); '
    "name, email (eq, contains, exists, not_exists); custom.<key> (eq, ne, in, contains, exists, not_exists); "
    "created_at (after, before: a date in the workspace's time zone or a date-time)."
)


class SavedFilterSerializer(serializers.ModelSerializer):
    spec = serializers.JSONField(help_text=SPEC_HELP)

    class Meta:
        model = SavedFilter
        fields = ["id", "name", "spec", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class SavedFilterUpdateSerializer(SavedFilterSerializer):
    name = serializers.CharField(required=False)
    spec = serializers.JSONField(required=False, help_text=SPEC_HELP)


class SavedFilterDetailSerializer(SavedFilterSerializer):
    matches = serializers.SerializerMethodField(
        help_text=f"Contacts matching now, counted up to {CONTACTS_EXACT_COUNT_CAP} (see matches_exact)."
    )
    matches_exact = serializers.SerializerMethodField()

    class Meta(SavedFilterSerializer.Meta):
        fields = [*SavedFilterSerializer.Meta.fields, "matches", "matches_exact"]
        read_only_fields = fields

    def _count(self, saved: SavedFilter) -> tuple[int, bool]:
        if not hasattr(saved, "_matches"):
            saved._matches = selectors.saved_filter_matches(saved.spec, limit=CONTACTS_EXACT_COUNT_CAP)
        return saved._matches

    def get_matches(self, saved: SavedFilter) -> int:
        return self._count(saved)[0]

    def get_matches_exact(self, saved: SavedFilter) -> bool:
        return self._count(saved)[1]


class SavedFilterListCreateView(RolePerMethodMixin, generics.GenericAPIView):
    serializer_class = SavedFilterSerializer

    @extend_schema(tags=TAGS, summary="List saved filters", responses={200: SavedFilterSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.saved_filters_list().order_by("-id"))
        return self.get_paginated_response(SavedFilterSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Save a filter (names are unique regardless of case)",
        request=SavedFilterSerializer,
        responses={201: SavedFilterDetailSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request: Request) -> Response:
        body = SavedFilterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        saved = services.saved_filter_create(
            name=body.validated_data["name"],
            spec=body.validated_data["spec"],
            created_by_id=None if isinstance(request.user, ApiKeyPrincipal) else request.user.pk,
        )
        return Response(SavedFilterDetailSerializer(saved).data, status=status.HTTP_201_CREATED)


class SavedFilterDetailView(RolePerMethodMixin, APIView):
    def _saved_filter(self, saved_filter_id: int) -> SavedFilter:
        saved = selectors.saved_filters_list().filter(pk=saved_filter_id).first()
        if saved is None:
            raise NotFound("No such saved filter.", code="saved_filter_not_found")
        return saved

    @extend_schema(
        tags=TAGS,
        summary="One saved filter, with how many contacts match it now",
        responses={200: SavedFilterDetailSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, saved_filter_id: int) -> Response:
        return Response(SavedFilterDetailSerializer(self._saved_filter(saved_filter_id)).data)

    @extend_schema(
        tags=TAGS,
        summary="Rename or change the rules (campaigns read them at their next start or run)",
        request=SavedFilterUpdateSerializer,
        responses={200: SavedFilterDetailSerializer, **ERRORS, **NOT_FOUND, **CONFLICT},
    )
    def patch(self, request: Request, saved_filter_id: int) -> Response:
        saved = self._saved_filter(saved_filter_id)
        body = SavedFilterUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.saved_filter_update(
            saved_filter=saved, name=body.validated_data.get("name"), spec=body.validated_data.get("spec")
        )
        return Response(SavedFilterDetailSerializer(saved).data)

    @extend_schema(
        tags=TAGS,
        summary="Delete a saved filter (refused while an unfinished campaign uses it)",
        responses={204: OpenApiResponse(description="Deleted"), **ERRORS, **NOT_FOUND, **CONFLICT},
    )
    def delete(self, request: Request, saved_filter_id: int) -> Response:
        services.saved_filter_delete(saved_filter=self._saved_filter(saved_filter_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
