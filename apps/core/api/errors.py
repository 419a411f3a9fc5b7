"""Every API error leaves in one shape: {"error": {"code": str, "message": str, "details": any}}.

DRF's own exceptions (validation, authentication, permission, throttling, method, parse), Django's
Http404/PermissionDenied and our ChorusError family all pass through `exception_handler`.
Unexpected exceptions are not caught here: they propagate (logged by Django, seen by error
reporting, re-raised by the test client) and `server_error` renders the 500 page for /api/ paths
in the same shape. Unknown /api/ paths reach `ApiNotFoundView` (see apps/core/api/views.py).
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from apps.core.exceptions import ChorusError

API_PATH_PREFIX = "/api/"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


class ChorusAPIException(exceptions.APIException):
    """A ChorusError as a DRF exception, for the places DRF only handles its own exceptions
    (authenticators: DRF resets the request's user only for an APIException)."""

    def __init__(self, error: ChorusError):
        super().__init__(detail=error.message, code=error.code)
        self.status_code = error.status
        self.details = error.details


def _describe(exc: exceptions.APIException) -> tuple[str, str, Any]:
    """(code, message, details) for a DRF exception."""
    detail = exc.detail
    if isinstance(exc, ChorusAPIException):
        return str(detail.code), str(detail), exc.details
    if isinstance(exc, exceptions.ValidationError):
        # Field errors stay a mapping of field -> [messages]; non-field errors a list.
        return "invalid", _("Invalid input."), detail
    if isinstance(exc, exceptions.Throttled):
        retry_after = math.ceil(exc.wait) if exc.wait is not None else None
        return "throttled", _("Too many requests."), {"retry_after": retry_after}
    if isinstance(detail, dict) and "detail" in detail:
        # simplejwt raises InvalidToken({"detail": ..., "code": ..., "messages": [...]}).
        inner = detail["detail"]
        code = str(detail.get("code") or getattr(inner, "code", None) or exc.default_code)
        rest = {key: value for key, value in detail.items() if key not in ("detail", "code")}
        return code, str(inner), rest or None
    if isinstance(detail, str):
        return str(getattr(detail, "code", None) or exc.default_code), str(detail), None
    return str(exc.default_code), str(exc.default_detail), detail


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER. Returns None for unexpected exceptions so they still raise."""
    # Imported here: authenticators import this module while rest_framework.views is loading.
    from rest_framework.views import set_rollback

    if isinstance(exc, ChorusError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if not isinstance(exc, exceptions.APIException):
        return None

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(math.ceil(exc.wait))
    code, message, details = _describe(exc)
    set_rollback()
    return Response(error_body(code, message, details), status=exc.status_code, headers=headers)


def server_error(request: HttpRequest, template_name: str = defaults.ERROR_500_TEMPLATE_NAME) -> HttpResponse:
    """handler500 of the tenant URLconf: the API's shape under /api/, Django's page elsewhere."""
    if request.path.startswith(API_PATH_PREFIX):
        return JsonResponse(error_body("server_error", _("Something went wrong on our side.")), status=500)
    return defaults.server_error(request, template_name)


class ApiErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(allow_null=True)


class ApiErrorSerializer(serializers.Serializer):
    """The documented error shape (drf-spectacular responses)."""

    error = ApiErrorDetailSerializer()
