import pytest

from apps.tenants.models import Tenant


def test_owner_updates_name_time_zone_and_phone_region(alpha, client_for):
    response = client_for(alpha).post(
        "/settings/general/", {"name": "Alpha Trading", "timezone": "Asia/Kolkata", "default_region": "AE"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/settings/general/"
    tenant = Tenant.objects.get(pk=alpha.tenant.pk)
    assert (tenant.name, tenant.timezone, tenant.default_region) == ("Alpha Trading", "Asia/Kolkata", "AE")


def test_admin_may_update_general_settings(alpha, client_for, member_of):
    admin = member_of(alpha, "admin")

    response = client_for(alpha, user=admin).post(
        "/settings/general/", {"name": "Alpha by Admin", "timezone": "Europe/Berlin", "default_region": "DE"}
    )

    assert response.status_code == 302
    assert Tenant.objects.get(pk=alpha.tenant.pk).name == "Alpha by Admin"


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_see_general_settings_but_cannot_change_them(role, alpha, client_for, member_of):
    client = client_for(alpha, user=member_of(alpha, role))

    page = client.get("/settings/general/")
    response = client.post(
        "/settings/general/", {"name": "Hijacked", "timezone": "Asia/Tehran", "default_region": "IR"}
    )

    assert page.status_code == 200
    assert "Only owners and admins can change these settings." in page.content.decode()
    assert "Save changes" not in page.content.decode()
    assert response.status_code == 403
    tenant = Tenant.objects.get(pk=alpha.tenant.pk)
    assert (tenant.name, tenant.timezone, tenant.default_region) == ("Alpha Inc", "UTC", "IN")


def test_unknown_time_zone_is_refused_and_nothing_changes(alpha, client_for):
    response = client_for(alpha).post(
        "/settings/general/", {"name": "Alpha Two", "timezone": "Mars/Olympus", "default_region": "IN"}
    )

    assert response.status_code == 400
    assert "Mars/Olympus" in response.content.decode()
    assert Tenant.objects.get(pk=alpha.tenant.pk).name == "Alpha Inc"


def test_tenant_update_service_refuses_an_unknown_phone_region(alpha):
    from apps.core.exceptions import ValidationFailed
    from apps.tenants.services import tenant_update

    with pytest.raises(ValidationFailed) as excinfo:
        tenant_update(tenant=alpha.tenant, name="Alpha", timezone="UTC", default_region="XX")

    assert "default_region" in excinfo.value.details
    assert Tenant.objects.get(pk=alpha.tenant.pk).default_region == "IN"
    assert alpha.tenant.default_region == "IN"
