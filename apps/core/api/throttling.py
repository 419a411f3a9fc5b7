"""Rate limit per principal: each user, each API key, and each anonymous IP has its own bucket.

The rate is the "principal" scope of REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (API_THROTTLE_RATE,
100/minute by default). It is read on every request rather than once at import time, so
`override_settings(REST_FRAMEWORK=...)` takes effect in tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:
    from rest_framework.views import APIView


class PrincipalRateThrottle(SimpleRateThrottle):
    scope = "principal"

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def principal_ident(self, request: Request) -> str:
        """ "<schema>:user:<id>", "<schema>:key:<id>" or "<schema>:ip:<address>".

        Users are global across tenants; the schema keeps an agency user's traffic on one tenant
        from using up its budget on another.
        """
        from apps.accounts.api.authentication import ApiKeyPrincipal

        tenant = getattr(request, "tenant", None)
        schema = tenant.schema_name if tenant is not None else "-"
        user = getattr(request, "user", None)
        if isinstance(user, ApiKeyPrincipal):
            return f"{schema}:key:{user.api_key.pk}"
        if user is not None and user.is_authenticated:
            return f"{schema}:user:{user.pk}"
        return f"{schema}:ip:{self.get_ident(request)}"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.principal_ident(request)}
