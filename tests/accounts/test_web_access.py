from django.conf import settings
from django.test import Client

from apps.accounts.models import Membership, User
from apps.tenants.services import tenant_set_status
from tests.accounts.factories import UserFactory


def test_a_member_of_alpha_only_gets_403_on_beta_pages(alpha, beta, client_for):
    client = client_for(beta, alpha.owner)

    response = client.get("/")

    assert response.status_code == 403
    assert "portal/no_access.html" in [t.name for t in response.templates]


def test_a_member_of_alpha_only_still_reaches_own_account_pages_on_beta(alpha, beta, client_for):
    client = client_for(beta, alpha.owner)

    response = client.get("/accounts/profile/")

    assert response.status_code == 200
    assert "owner@alpha.test" in response.content.decode()


def test_profile_needs_a_signed_in_user(alpha):
    response = Client(HTTP_HOST=alpha.host).get("/accounts/profile/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/profile/"


def test_profile_saves_name_and_language_and_switches_the_language(alpha, client_for):
    client = client_for(alpha)

    response = client.post("/accounts/profile/", {"full_name": "Ada Owner", "language": "fa"})

    assert response.status_code == 302
    owner = User.objects.get(pk=alpha.owner.pk)
    assert (owner.full_name, owner.language) == ("Ada Owner", "fa")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fa"
    page = client.get("/accounts/profile/")
    assert b'dir="rtl"' in page.content


def test_profile_refuses_an_unknown_language(alpha, client_for):
    client = client_for(alpha)

    response = client.post("/accounts/profile/", {"full_name": "Ada Owner", "language": "xx"})

    assert response.status_code == 200
    assert User.objects.get(pk=alpha.owner.pk).language == ""


def test_a_platform_superuser_without_membership_gets_in_with_owner_rights_and_nothing_is_saved(beta, client_for):
    root = UserFactory(email="root@platform.test", is_staff=True, is_superuser=True)
    client = client_for(beta, root)

    dashboard = client.get("/")
    team = client.get("/settings/team/")
    api_keys = client.get("/settings/api-keys/")
    member_count = Membership.objects.filter(tenant=beta.tenant).count()

    assert (dashboard.status_code, team.status_code, api_keys.status_code) == (200, 200, 200)
    assert "Platform staff" in dashboard.content.decode()
    assert "Beta Inc" in dashboard.content.decode()
    assert not Membership.objects.filter(user=root).exists()
    assert member_count == 1  # the owner; the superuser's stand-in membership is never saved


def test_a_platform_superuser_is_still_refused_on_a_suspended_tenant(beta, client_for):
    root = UserFactory(email="root@platform.test", is_staff=True, is_superuser=True)
    tenant_set_status(tenant=beta.tenant, status="suspended")

    response = client_for(beta, root).get("/")

    assert response.status_code == 403
    assert "portal/suspended.html" in [t.name for t in response.templates]


def test_a_staff_user_who_is_not_a_superuser_still_gets_403(beta, client_for):
    staff = UserFactory(email="staff@platform.test", is_staff=True)

    response = client_for(beta, staff).get("/")

    assert response.status_code == 403
    assert "portal/no_access.html" in [t.name for t in response.templates]
