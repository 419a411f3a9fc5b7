import re

from django.core import mail
from django.test import Client

from apps.accounts.models import User
from tests.conftest import PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase-42"
RESET_LINK = re.compile(r"http://alpha\.localhost(/accounts/password/reset/[^/\s]+/[^/\s]+/)")


def test_password_reset_full_flow_sets_the_new_password(alpha):
    client = Client(HTTP_HOST=alpha.host)

    requested = client.post("/accounts/password/reset/", {"email": "OWNER@alpha.test"})
    assert requested.status_code == 302
    assert requested["Location"] == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["owner@alpha.test"]
    assert mail.outbox[0].subject == "Reset your Chorus password"
    link = RESET_LINK.search(mail.outbox[0].body).group(1)
    assert link in mail.outbox[0].alternatives[0][0]

    opened = client.get(link)
    assert opened.status_code == 302
    form_page = client.get(opened["Location"])
    assert form_page.status_code == 200
    assert b'name="new_password1"' in form_page.content
    saved = client.post(opened["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert saved.status_code == 302
    assert saved["Location"] == "/accounts/password/reset/done/"

    owner = User.objects.get(pk=alpha.owner.pk)
    assert owner.check_password(NEW_PASSWORD)
    assert not owner.check_password(PASSWORD)
    fresh = Client(HTTP_HOST=alpha.host)
    assert fresh.post("/accounts/login/", {"username": "owner@alpha.test", "password": NEW_PASSWORD}).status_code == 302

    reused = Client(HTTP_HOST=alpha.host).get(link, follow=True)
    assert "The password reset link was already used or has expired." in reused.content.decode()


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(alpha):
    client = Client(HTTP_HOST=alpha.host)

    response = client.post("/accounts/password/reset/", {"email": "nobody@nowhere.test"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert mail.outbox == []


def test_password_change_from_the_profile(alpha, client_for):
    client = client_for(alpha)

    response = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/profile/"
    assert User.objects.get(pk=alpha.owner.pk).check_password(NEW_PASSWORD)
    assert client.session["_auth_user_id"] == str(alpha.owner.pk)


def test_password_change_with_a_wrong_old_password_changes_nothing(alpha, client_for):
    client = client_for(alpha)

    response = client.post(
        "/accounts/password/change/",
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert User.objects.get(pk=alpha.owner.pk).check_password(PASSWORD)
