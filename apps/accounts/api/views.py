"""Accounts API front doors: JWT tokens, /me and API keys. Each validates, calls one service and
serializes; rules live in apps/accounts/services/ and apps/accounts/api/permissions.py."""

from __future__ import annotations

from axes.helpers import get_cool_off
from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import AUTH_HEADER_TYPES

from apps.accounts.api import schema as _schema  # noqa: F401 - registers the auth schemes for OpenAPI
from apps.accounts.api.authentication import ApiKeyPrincipal
from apps.accounts.api.permissions import HasRole, request_role
from apps.accounts.api.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    MeSerializer,
    RefreshTokenSerializer,
    SignInSerializer,
    TokenPairSerializer,
)
from apps.accounts.models import ApiKey, Role
from apps.accounts.services import api_keys, jwt
from apps.billing.models import Subscription
from apps.core.api.errors import ApiErrorSerializer
from apps.core.exceptions import ChorusError

ERRORS = {
    400: OpenApiResponse(ApiErrorSerializer, description="Invalid input"),
    401: OpenApiResponse(ApiErrorSerializer, description="Not signed in, or the token/key is not valid here"),
    403: OpenApiResponse(ApiErrorSerializer, description="Signed in but not allowed"),
}
NOT_FOUND = {404: OpenApiResponse(ApiErrorSerializer, description="Not found")}
LOCKED_OUT = {429: OpenApiResponse(ApiErrorSerializer, description="Too many failed sign-ins or requests")}


class SignInLockedOut(ChorusError):
    status = 429
    default_code = "locked_out"


class TokenEndpoint(APIView):
    """Token endpoints take credentials in the body, not in headers."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get_authenticate_header(self, request: Request) -> str:
        # Keep refusals 401 (DRF turns them into 403 when no authenticator names a scheme).
        return f'{AUTH_HEADER_TYPES[0]} realm="api"'


class TokenObtainView(TokenEndpoint):
    @extend_schema(
        tags=["auth"],
        summary="Sign in: e-mail + password for a token pair",
        request=SignInSerializer,
        responses={200: TokenPairSerializer, **ERRORS, **LOCKED_OUT},
    )
    def post(self, request: Request) -> Response:
        body = SignInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        django_request = request._request
        # Through authenticate() with the request so django-axes counts failures and locks out
        # (keyed on "username" + IP, like the portal's login form).
        user = authenticate(
            django_request, username=body.validated_data["email"], password=body.validated_data["password"]
        )
        if getattr(django_request, "axes_locked_out", False):
            # Axes' middleware would replace our answer with its HTML page; answer in API shape.
            django_request.axes_locked_out = False
            cool_off = get_cool_off(django_request)
            raise SignInLockedOut(
                _("Too many failed sign-in attempts. Try again later."),
                details={"retry_after": int(cool_off.total_seconds()) if cool_off else None},
            )
        if user is None:
            raise exceptions.AuthenticationFailed(
                _("No active account found with the given credentials."), code="invalid_credentials"
            )
        pair = jwt.jwt_pair_issue(user=user, tenant=request.tenant)
        return Response(TokenPairSerializer(pair).data)


class TokenRefreshView(TokenEndpoint):
    @extend_schema(
        tags=["auth"],
        summary="Exchange a refresh token for a new pair (the old one stops working)",
        request=RefreshTokenSerializer,
        responses={200: TokenPairSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = RefreshTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            pair = jwt.jwt_refresh(tenant=request.tenant, raw_refresh=body.validated_data["refresh"])
        except jwt.TokenRefused as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc
        return Response(TokenPairSerializer(pair).data)


class TokenBlacklistView(TokenEndpoint):
    @extend_schema(
        tags=["auth"],
        summary="Sign out: revoke a refresh token",
        request=RefreshTokenSerializer,
        responses={204: OpenApiResponse(description="Revoked"), **ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = RefreshTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            jwt.jwt_revoke(tenant=request.tenant, raw_refresh=body.validated_data["refresh"])
        except jwt.TokenRefused as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(
        tags=["account"],
        summary="Who is calling: user or API key, workspace, role and plan",
        responses={200: MeSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        tenant = request.tenant
        principal = request.user
        try:
            plan = tenant.subscription.plan
        except Subscription.DoesNotExist:
            plan = None
        is_key = isinstance(principal, ApiKeyPrincipal)
        me = {
            "user": None if is_key else principal,
            "api_key": principal.api_key if is_key else None,
            "tenant": tenant,
            "role": request_role(request),
            "plan": plan,
        }
        return Response(MeSerializer(me).data)


class ApiKeyListCreateView(generics.GenericAPIView):
    permission_classes = (HasRole(Role.ADMIN),)
    serializer_class = ApiKeySerializer

    def get_queryset(self):
        return ApiKey.objects.filter(tenant=self.request.tenant).select_related("created_by")

    @extend_schema(
        tags=["api keys"],
        summary="List the workspace's API keys (never their secrets)",
        responses={200: ApiKeySerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ApiKeySerializer(page, many=True).data)

    @extend_schema(
        tags=["api keys"],
        summary="Create an API key; the response holds the key, shown this once",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = ApiKeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created_by = None if isinstance(request.user, ApiKeyPrincipal) else request.user
        created = api_keys.api_key_create(
            tenant=request.tenant,
            name=body.validated_data["name"],
            role=body.validated_data["role"],
            created_by=created_by,
        )
        data = ApiKeyCreatedSerializer(created.api_key).data
        data["key"] = created.secret
        return Response(data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    permission_classes = (HasRole(Role.ADMIN),)

    @extend_schema(
        tags=["api keys"],
        summary="Revoke an API key (it stops working at once)",
        responses={204: OpenApiResponse(description="Revoked"), **ERRORS, **NOT_FOUND},
    )
    def delete(self, request: Request, api_key_id: int) -> Response:
        api_keys.api_key_revoke(tenant=request.tenant, api_key_id=api_key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
