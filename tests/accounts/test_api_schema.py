"""OpenAPI schema and Swagger UI on tenant hosts, served without login and without any CDN."""

from __future__ import annotations

import yaml
from django.contrib.staticfiles import finders
from django.test import Client
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

ACCOUNTS_PATHS = {
    "/api/v1/auth/token": {"post"},
    "/api/v1/auth/token/refresh": {"post"},
    "/api/v1/auth/token/blacklist": {"post"},
    "/api/v1/me": {"get"},
    "/api/v1/api-keys": {"get", "post"},
    "/api/v1/api-keys/{api_key_id}": {"delete"},
}


def test_schema_is_valid_openapi_with_our_paths_and_auth_schemes(alpha):
    response = Client(HTTP_HOST=alpha.host).get("/api/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    schema = yaml.safe_load(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Chorus API"
    for path, methods in ACCOUNTS_PATHS.items():
        assert set(schema["paths"][path]) == methods, path
    schemes = schema["components"]["securitySchemes"]
    assert schemes["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Access token from POST /api/v1/auth/token on this workspace's host. "
        "A token is valid only on the workspace that issued it.",
    }
    assert (schemes["apiKeyAuth"]["type"], schemes["apiKeyAuth"]["in"], schemes["apiKeyAuth"]["name"]) == (
        "apiKey",
        "header",
        "X-Api-Key",
    )
    assert {"jwtAuth": []} in schema["paths"]["/api/v1/me"]["get"]["security"]
    assert {"apiKeyAuth": []} in schema["paths"]["/api/v1/me"]["get"]["security"]
    assert schema["paths"]["/api/v1/auth/token"]["post"]["security"] == [{}]


def test_schema_is_also_served_as_json(alpha):
    response = Client(HTTP_HOST=alpha.host).get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    assert "/api/v1/me" in response.json()["paths"]


def test_docs_page_serves_swagger_ui_from_our_static_files(alpha):
    response = Client(HTTP_HOST=alpha.host).get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"></script>' in html
    assert 'href="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"' in html
    assert '"/api/schema/"' in html
    assert "http://" not in html
    assert "https://" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "favicon-32x32.png"):
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{asset}") is not None, asset


def test_openapi_schema_generates_without_warnings():
    GENERATOR_STATS.reset()

    schema = SchemaGenerator().get_schema(request=None, public=True)

    assert dict(GENERATOR_STATS._warn_cache) == {}
    assert dict(GENERATOR_STATS._error_cache) == {}
    assert set(ACCOUNTS_PATHS) <= set(schema["paths"])
