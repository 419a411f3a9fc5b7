"""Routing by host: `<slug>.localhost` is a tenant, `localhost` is the platform, others are 404."""

from django.test import Client


def test_public_host_serves_the_platform_admin(db):
    response = Client(HTTP_HOST="localhost").get("/admin/login/")
    assert response.status_code == 200
    assert response.wsgi_request.tenant.schema_name == "public"


def test_tenant_host_resolves_its_own_schema(alpha, beta):
    for world in (alpha, beta):
        response = Client(HTTP_HOST=world.host).get("/api/schema/")
        assert response.status_code == 200
        assert response.wsgi_request.tenant.schema_name == world.tenant.schema_name


def test_tenant_host_has_no_platform_admin(alpha):
    response = Client(HTTP_HOST=alpha.host).get("/admin/login/")
    assert response.status_code == 404


def test_tenant_host_with_port_resolves(alpha):
    response = Client(HTTP_HOST=f"{alpha.host}:8000").get("/api/schema/")
    assert response.status_code == 200
    assert response.wsgi_request.tenant.slug == "alpha"


def test_unknown_host_is_404(db):
    for host in ("nobody.localhost", "example.com"):
        response = Client(HTTP_HOST=host).get("/")
        assert response.status_code == 404


def test_health_answers_on_any_host(db):
    response = Client(HTTP_HOST="nobody.localhost").get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
