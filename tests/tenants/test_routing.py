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


def test_tenant_host_serves_the_workspace_admin_not_the_platform_admin(alpha):
    login = Client(HTTP_HOST=alpha.host).get("/admin/login/")
    platform_model = Client(HTTP_HOST=alpha.host).get("/admin/tenants/tenant/")

    assert login.status_code == 200 and "Chorus workspace admin" in login.content.decode()
    assert platform_model.status_code == 302 and platform_model["Location"].startswith("/admin/login/")


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
