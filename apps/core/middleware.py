"""Middleware that must run before tenant routing."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.core import health


class HealthCheckMiddleware:
    """Answers /healthz and /readyz on any host, before tenant resolution, so load balancers
    and orchestrators can probe by IP without a tenant domain."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return health.healthz_response()
        if request.path == "/readyz":
            return health.readyz_response()
        return self.get_response(request)
