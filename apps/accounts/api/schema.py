"""OpenAPI descriptions of our authentication classes, so /api/docs/ offers JWT bearer and API key.

drf-spectacular registers extensions when their module is imported; apps/accounts/api/views.py
imports this one. It stays out of authentication.py, which DRF loads while importing
rest_framework.views (importing drf-spectacular's plumbing there would be circular).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object

from apps.accounts.api.authentication import ApiKeyAuthentication, TenantJWTAuthentication


class TenantJWTScheme(OpenApiAuthenticationExtension):
    target_class = TenantJWTAuthentication
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(
            header_name="HTTP_AUTHORIZATION", token_prefix="Bearer", bearer_format="JWT"
        )
        scheme["description"] = (
            "Access token from POST /api/v1/auth/token on this workspace's host. "
            "A token is valid only on the workspace that issued it."
        )
        return scheme


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": (
                "A workspace API key `chk_<prefix>_<secret>`, sent as `X-Api-Key: <key>` "
                "or `Authorization: Api-Key <key>`."
            ),
        }
