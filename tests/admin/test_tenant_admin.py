from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tenants.utils import schema_exists

from apps.accounts.models import Membership, Role, User
from apps.billing.models import Plan, Subscription
from apps.billing.services import usage_record_add
from apps.tenants import services
from apps.tenants.models import Domain, Tenant
from tests.admin.conftest import ADMIN_HOST, change_form_data
from tests.conftest import PASSWORD

CHANGELIST = "/admin/tenants/tenant/"


def change_url(tenant: Tenant) -> str:
    return f"/admin/tenants/tenant/{tenant.pk}/change/"


def listed_names(response) -> list[str]:
    return [tenant.name for tenant in response.context["cl"].result_list]


def test_superuser_sees_every_tenant_but_the_public_one(admin_client, superuser, north, south):
    response = admin_client(superuser).get(CHANGELIST)

    assert response.status_code == 200
    assert listed_names(response) == ["Alpha Inc", "Beta Inc"]


def test_changelist_shows_plan_domain_reseller_and_usage(admin_client, superuser, north, south):
    usage_record_add(tenant=north.tenant, messages_sent=7)

    response = admin_client(superuser).get(CHANGELIST)

    alpha = next(t for t in response.context["cl"].result_list if t.slug == "alpha")
    assert (alpha.primary_domain, alpha.messages_today, alpha.messages_month) == ("alpha.localhost", 7, 7)
    assert alpha.subscription.plan.name == "Business"
    content = response.content.decode()
    assert "North Partners" in content
    assert "alpha.localhost" in content


def test_reseller_staff_see_only_their_tenants(admin_client, north, south):
    response = admin_client(north.staff).get(CHANGELIST)

    assert response.status_code == 200
    assert listed_names(response) == ["Alpha Inc"]
    assert "Beta Inc" not in response.content.decode()


def test_reseller_staff_cannot_open_another_resellers_tenant(admin_client, north, south):
    client = admin_client(north.staff)

    assert client.get(change_url(south.tenant)).status_code == 404
    assert client.get(f"/admin/tenants/tenant/{south.tenant.pk}/history/").status_code == 404
    assert client.get(change_url(north.tenant)).status_code == 200


def test_reseller_staff_post_to_another_resellers_tenant_changes_nothing(admin_client, north, south):
    page = admin_client(south.staff).get(change_url(south.tenant))
    data = change_form_data(page)
    data["name"] = "Taken Over"

    response = admin_client(north.staff).post(change_url(south.tenant), data)

    assert response.status_code == 404
    assert Tenant.objects.get(pk=south.tenant.pk).name == "Beta Inc"


def test_reseller_staff_can_rename_their_tenant_but_not_move_it(admin_client, north, south):
    client = admin_client(north.staff)
    data = change_form_data(client.get(change_url(north.tenant)))
    data["name"] = "Alpha Renamed"
    data["reseller"] = str(south.reseller.pk)

    response = client.post(change_url(north.tenant), data)

    assert response.status_code == 302
    tenant = Tenant.objects.get(pk=north.tenant.pk)
    assert (tenant.name, tenant.reseller_id) == ("Alpha Renamed", north.reseller.pk)


def test_subscription_inline_changes_the_plan_through_the_service(admin_client, superuser, north):
    client = admin_client(superuser)
    data = change_form_data(client.get(change_url(north.tenant)))
    data["subscription-0-plan"] = str(Plan.objects.get(slug="pro").pk)

    response = client.post(change_url(north.tenant), data)

    assert response.status_code == 302
    assert Subscription.objects.get(tenant=north.tenant).plan.slug == "pro"


def test_suspend_and_reactivate_actions_change_status(admin_client, superuser, north, south):
    client = admin_client(superuser)

    client.post(CHANGELIST, {"action": "suspend_tenants", "_selected_action": [north.tenant.pk, south.tenant.pk]})
    suspended = set(Tenant.objects.filter(pk__in=[north.tenant.pk, south.tenant.pk]).values_list("status", flat=True))
    client.post(CHANGELIST, {"action": "reactivate_tenants", "_selected_action": [south.tenant.pk]})

    assert suspended == {"suspended"}
    assert Tenant.objects.get(pk=north.tenant.pk).status == "suspended"
    assert Tenant.objects.get(pk=south.tenant.pk).status == "active"


def test_reseller_staff_crafted_action_cannot_suspend_another_resellers_tenant(admin_client, north, south):
    client = admin_client(north.staff)

    client.post(CHANGELIST, {"action": "suspend_tenants", "_selected_action": [south.tenant.pk]})
    detail = client.post(f"/admin/tenants/tenant/{south.tenant.pk}/suspend/", {"_form_submitted": "on"})

    assert detail.status_code == 404
    assert Tenant.objects.get(pk=south.tenant.pk).status == "active"


def test_reseller_staff_suspend_their_own_tenant_from_its_page(admin_client, north):
    response = admin_client(north.staff).post(
        f"/admin/tenants/tenant/{north.tenant.pk}/suspend/", {"_form_submitted": "on"}
    )

    assert response.status_code == 302
    assert Tenant.objects.get(pk=north.tenant.pk).status == "suspended"


def test_creating_a_tenant_in_the_admin_clones_its_schema(admin_client, superuser, north):
    response = admin_client(superuser).post(
        "/admin/tenants/tenant/add/",
        {
            "name": "Gamma Traders",
            "slug": "gamma",
            "plan": Plan.objects.get(slug="pro").pk,
            "owner_email": "Founder@Gamma.test",
            "timezone": "Asia/Kolkata",
            "default_region": "IN",
            "reseller": north.reseller.pk,
        },
    )

    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="gamma")
    assert (tenant.schema_name, tenant.reseller_id, tenant.timezone) == ("t_gamma", north.reseller.pk, "Asia/Kolkata")
    assert schema_exists("t_gamma")
    assert list(Domain.objects.filter(tenant=tenant).values_list("domain", flat=True)) == ["gamma.localhost"]
    assert Subscription.objects.get(tenant=tenant).plan.slug == "pro"
    owner = User.objects.get(email="founder@gamma.test")
    assert Membership.objects.get(tenant=tenant, user=owner).role == Role.OWNER
    assert owner.has_usable_password() is False


def test_reseller_staff_tenant_is_assigned_to_their_reseller(admin_client, north, south):
    response = admin_client(north.staff).post(
        "/admin/tenants/tenant/add/",
        {
            "name": "Delta Shop",
            "slug": "delta",
            "plan": Plan.objects.get(slug="free").pk,
            "timezone": "UTC",
            "default_region": "IN",
            "reseller": south.reseller.pk,
        },
    )

    assert response.status_code == 302
    assert Tenant.objects.get(slug="delta").reseller_id == north.reseller.pk
    assert schema_exists("t_delta")


def test_taken_slug_is_a_form_error_and_nothing_is_created(admin_client, superuser, north):
    response = admin_client(superuser).post(
        "/admin/tenants/tenant/add/",
        {
            "name": "Copy",
            "slug": "alpha",
            "plan": Plan.objects.get(slug="free").pk,
            "timezone": "UTC",
            "default_region": "IN",
        },
    )

    assert response.status_code == 200
    assert "slug" in response.context["adminform"].form.errors
    assert Tenant.objects.filter(name="Copy").count() == 0


def test_changelist_query_count_does_not_grow_with_tenants(admin_client, superuser, north, south):
    client = admin_client(superuser)
    client.get(CHANGELIST)  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as two:
        assert len(listed_names(client.get(CHANGELIST))) == 2

    for i in range(4):
        created = services.tenant_create(name=f"Extra {i}", slug=f"extra-{i}", reseller=north.reseller)
        usage_record_add(tenant=created.tenant, messages_sent=i + 1)
    with CaptureQueriesContext(connection) as six:
        assert len(listed_names(client.get(CHANGELIST))) == 6

    assert len(six.captured_queries) == len(two.captured_queries)


def test_delete_is_not_offered_as_a_bulk_action(admin_client, superuser, north):
    response = admin_client(superuser).get(CHANGELIST)

    actions = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions
    assert {"suspend_tenants", "reactivate_tenants"} <= set(actions)


def test_tenant_hosts_route_only_the_workspace_admin(client_for, alpha, superuser):
    """A tenant host's /admin/ is the workspace admin (tests/admin/test_workspace_admin.py): the
    platform's models are not there, even for a superuser, and a tenant member is sent to log in."""
    as_superuser = client_for(alpha, superuser)
    as_owner = client_for(alpha)

    assert as_superuser.get(CHANGELIST).status_code == 404
    assert as_superuser.get("/admin/").status_code == 200
    owner_page = as_owner.get("/admin/")
    assert owner_page.status_code == 302 and owner_page["Location"].startswith("/admin/login/")


def test_reverse_of_tenant_changelist_is_on_the_public_urlconf():
    assert reverse("admin:tenants_tenant_changelist", urlconf="config.urls_public") == CHANGELIST


def test_logging_in_on_the_admin_login_page_lands_on_the_admin(superuser):
    client = Client(HTTP_HOST=ADMIN_HOST)

    page = client.get("/admin/login/")
    assert '<input type="hidden" name="next" value="/admin/">' in page.content.decode()
    response = client.post(
        "/admin/login/", {"username": "root@chorus.test", "password": PASSWORD, "next": page.context["next"]}
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_domains_list_tenant_domains_only_and_scoped(admin_client, superuser, north, south):
    platform = admin_client(superuser).get("/admin/tenants/domain/")
    reseller = admin_client(north.staff).get("/admin/tenants/domain/")

    assert sorted(str(d) for d in platform.context["cl"].result_list) == ["alpha.localhost", "beta.localhost"]
    assert [str(d) for d in reseller.context["cl"].result_list] == ["alpha.localhost"]


def test_reseller_staff_cannot_attach_a_domain_to_another_resellers_tenant(admin_client, north, south):
    response = admin_client(north.staff).post(
        "/admin/tenants/domain/add/", {"domain": "shop.example.test", "tenant": south.tenant.pk, "is_primary": ""}
    )

    assert response.status_code == 200
    assert not Domain.objects.filter(domain="shop.example.test").exists()
