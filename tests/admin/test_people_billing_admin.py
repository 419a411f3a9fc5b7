from apps.accounts.models import Membership, Role, User
from apps.billing.models import Plan, Subscription, UsageRecord
from apps.billing.services import usage_record_add
from apps.tenants.services import tenant_set_status
from tests.admin.conftest import change_form_data
from tests.conftest import PASSWORD


def listed(response) -> list[str]:
    return [str(obj) for obj in response.context["cl"].result_list]


def test_reseller_staff_see_their_staff_and_their_tenants_members_only(admin_client, north, south):
    response = admin_client(north.staff).get("/admin/accounts/user/")

    assert response.status_code == 200
    assert listed(response) == ["owner@alpha.test", "staff@north.test"]


def test_superuser_sees_every_user(admin_client, superuser, north, south):
    response = admin_client(superuser).get("/admin/accounts/user/")

    assert listed(response) == [
        "owner@alpha.test",
        "owner@beta.test",
        "root@chorus.test",
        "staff@north.test",
        "staff@south.test",
    ]


def test_reseller_staff_cannot_open_another_resellers_users(admin_client, north, south):
    client = admin_client(north.staff)
    beta_owner = User.objects.get(email="owner@beta.test")

    assert client.get(f"/admin/accounts/user/{beta_owner.pk}/change/").status_code == 404
    assert client.get(f"/admin/accounts/user/{south.staff.pk}/change/").status_code == 404
    response = client.post(
        f"/admin/accounts/user/{beta_owner.pk}/password/",
        {"password1": "x-New-pass-123", "password2": "x-New-pass-123"},
    )
    assert response.status_code == 404
    assert User.objects.get(pk=beta_owner.pk).check_password(PASSWORD)


def test_reseller_staff_cannot_grant_staff_or_superuser(admin_client, north, south):
    client = admin_client(north.staff)
    owner = User.objects.get(email="owner@alpha.test")
    url = f"/admin/accounts/user/{owner.pk}/change/"
    data = change_form_data(client.get(url))
    data.update({"full_name": "Alpha Boss", "is_superuser": "on", "is_staff": "on", "reseller": str(south.reseller.pk)})

    response = client.post(url, data)

    assert response.status_code == 302
    owner.refresh_from_db()
    assert (owner.full_name, owner.is_superuser, owner.is_staff, owner.reseller_id) == (
        "Alpha Boss",
        False,
        False,
        None,
    )


def test_reseller_staff_only_view_a_member_who_also_works_elsewhere(admin_client, north, south):
    beta_owner = User.objects.get(email="owner@beta.test")
    Membership.objects.create(user=beta_owner, tenant=north.tenant, role=Role.AGENT)
    client = admin_client(north.staff)
    url = f"/admin/accounts/user/{beta_owner.pk}/change/"

    page = client.get(url)
    data = change_form_data(page)
    data["full_name"] = "Hijacked"
    response = client.post(url, data)

    assert page.status_code == 200
    assert response.status_code == 403
    assert User.objects.get(pk=beta_owner.pk).full_name == "beta owner"


def test_reseller_staff_create_a_user_into_their_tenant(admin_client, north, south):
    response = admin_client(north.staff).post(
        "/admin/accounts/user/add/",
        {
            "email": "Agent@Alpha.test",
            "full_name": "New Agent",
            "usable_password": "true",
            "password1": "a-Strong-pass-987",
            "password2": "a-Strong-pass-987",
            "tenant": north.tenant.pk,
            "role": Role.AGENT,
        },
    )

    assert response.status_code == 302
    user = User.objects.get(email="agent@alpha.test")
    assert (user.is_staff, user.is_superuser, user.reseller_id) == (False, False, None)
    assert user.check_password("a-Strong-pass-987")
    assert Membership.objects.get(user=user).tenant_id == north.tenant.pk


def test_reseller_staff_cannot_create_a_user_in_another_resellers_tenant(admin_client, north, south):
    response = admin_client(north.staff).post(
        "/admin/accounts/user/add/",
        {
            "email": "spy@beta.test",
            "usable_password": "true",
            "password1": "a-Strong-pass-987",
            "password2": "a-Strong-pass-987",
            "tenant": south.tenant.pk,
            "role": Role.OWNER,
        },
    )

    assert response.status_code == 200
    assert "tenant" in response.context["adminform"].form.errors
    assert not User.objects.filter(email="spy@beta.test").exists()


def test_memberships_are_scoped_to_the_resellers_tenants(admin_client, north, south):
    response = admin_client(north.staff).get("/admin/accounts/membership/")

    assert listed(response) == ["owner@alpha.test @ Alpha Inc (owner)"]


def test_reseller_staff_cannot_add_a_membership_to_another_resellers_tenant(admin_client, north, south):
    response = admin_client(north.staff).post(
        "/admin/accounts/membership/add/",
        {"user": north.staff.pk, "tenant": south.tenant.pk, "role": Role.OWNER},
    )

    assert response.status_code == 200
    assert not Membership.objects.filter(user=north.staff).exists()


def test_reseller_staff_see_only_their_reseller(admin_client, north, south):
    client = admin_client(north.staff)

    response = client.get("/admin/tenants/reseller/")

    assert listed(response) == ["North Partners"]
    assert client.get(f"/admin/tenants/reseller/{south.reseller.pk}/change/").status_code == 404


def test_reseller_staff_cannot_change_their_commission(admin_client, north):
    client = admin_client(north.staff)
    url = f"/admin/tenants/reseller/{north.reseller.pk}/change/"

    response = client.post(url, {"name": "North Partners", "commission_percent": "90", "credit_balance": "1000000"})

    assert response.status_code == 403
    north.reseller.refresh_from_db()
    assert (north.reseller.commission_percent, north.reseller.credit_balance) == (15, 0)


def test_reseller_staff_read_plans_but_cannot_edit_them(admin_client, north):
    client = admin_client(north.staff)
    free = Plan.objects.get(slug="free")
    url = f"/admin/billing/plan/{free.pk}/change/"

    listing = client.get("/admin/billing/plan/")
    page = client.get(url)
    post = client.post(url, {"name": "Free", "slug": "free", "messages_per_day": "99999"})
    add = client.get("/admin/billing/plan/add/")

    assert listed(listing) == ["Free", "Pro", "Business"]
    assert page.status_code == 200
    assert (post.status_code, add.status_code) == (403, 403)
    assert Plan.objects.get(pk=free.pk).messages_per_day == 50


def test_superuser_edits_plan_limits(admin_client, superuser):
    client = admin_client(superuser)
    pro = Plan.objects.get(slug="pro")
    url = f"/admin/billing/plan/{pro.pk}/change/"
    data = change_form_data(client.get(url))
    data["messages_per_day"] = "300"

    response = client.post(url, data)

    assert response.status_code == 302
    assert Plan.objects.get(pk=pro.pk).messages_per_day == 300


def test_subscriptions_and_usage_are_scoped(admin_client, north, south):
    usage_record_add(tenant=north.tenant, messages_sent=5)
    usage_record_add(tenant=south.tenant, messages_sent=8)
    client = admin_client(north.staff)

    subscriptions = client.get("/admin/billing/subscription/")
    usage = client.get("/admin/billing/usagerecord/")
    other = Subscription.objects.get(tenant=south.tenant)

    assert [s.tenant.name for s in subscriptions.context["cl"].result_list] == ["Alpha Inc"]
    assert [(u.tenant.name, u.messages_sent) for u in usage.context["cl"].result_list] == [("Alpha Inc", 5)]
    assert client.get(f"/admin/billing/subscription/{other.pk}/change/").status_code == 404


def test_reseller_staff_change_their_tenants_plan(admin_client, north):
    client = admin_client(north.staff)
    subscription = Subscription.objects.get(tenant=north.tenant)
    url = f"/admin/billing/subscription/{subscription.pk}/change/"
    data = change_form_data(client.get(url))
    data["plan"] = str(Plan.objects.get(slug="free").pk)

    response = client.post(url, data)

    assert response.status_code == 302
    assert Subscription.objects.get(pk=subscription.pk).plan.slug == "free"


def test_usage_records_are_read_only(admin_client, superuser, north):
    record = usage_record_add(tenant=north.tenant, messages_sent=5)
    client = admin_client(superuser)

    assert client.get("/admin/billing/usagerecord/add/").status_code == 403
    post = client.post(f"/admin/billing/usagerecord/{record.pk}/change/", {"messages_sent": "0"})
    delete = client.post(f"/admin/billing/usagerecord/{record.pk}/delete/", {"post": "yes"})

    assert (post.status_code, delete.status_code) == (403, 403)
    assert UsageRecord.objects.get(pk=record.pk).messages_sent == 5


def test_dashboard_counts_are_scoped(admin_client, superuser, north, south):
    usage_record_add(tenant=north.tenant, messages_sent=5)
    usage_record_add(tenant=south.tenant, messages_sent=8)
    tenant_set_status(tenant=south.tenant, status="suspended")

    platform = admin_client(superuser).get("/admin/")
    reseller = admin_client(north.staff).get("/admin/")

    def figures(response):
        return {str(kpi["title"]): kpi["value"] for kpi in response.context["kpis"]}

    assert figures(platform) == {
        "Active tenants": 1,
        "Suspended tenants": 1,
        "Users": 5,
        "Messages today": 13,
        "Messages this month": 13,
    }
    assert figures(reseller) == {
        "Active tenants": 1,
        "Suspended tenants": 0,
        "Users": 2,
        "Messages today": 5,
        "Messages this month": 5,
    }
    assert "Beta Inc" not in reseller.content.decode()


def test_reseller_staff_do_not_see_platform_sections(admin_client, north):
    response = admin_client(north.staff).get("/admin/")

    content = response.content.decode()
    assert "/admin/django_celery_beat/periodictask/" not in content
    assert "/admin/axes/accessattempt/" not in content
    assert admin_client(north.staff).get("/admin/django_celery_beat/periodictask/").status_code == 403
