from django.conf import settings
from django.test import Client

from apps.accounts.models import User


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
