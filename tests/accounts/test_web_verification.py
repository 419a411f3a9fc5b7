import re

from django.core import mail
from django.test import Client

from apps.accounts.models import User
from apps.accounts.services import registration

VERIFY_LINK = re.compile(r"http://(alpha\.localhost|localhost)(/accounts/verify/[^/\s]+/)")


def test_verification_link_sets_email_verified_at(alpha):
    token = registration.email_verification_token(user=alpha.owner)

    response = Client(HTTP_HOST="localhost").get(f"/accounts/verify/{token}/")

    assert response.status_code == 200
    assert "is verified" in response.content.decode()
    assert User.objects.get(pk=alpha.owner.pk).email_verified_at is not None


def test_tampered_verification_link_verifies_nothing(alpha):
    token = registration.email_verification_token(user=alpha.owner)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    response = Client(HTTP_HOST=alpha.host).get(f"/accounts/verify/{tampered}/")

    assert response.status_code == 400
    assert "This verification link is not valid." in response.content.decode()
    assert User.objects.get(pk=alpha.owner.pk).email_verified_at is None


def test_verification_link_for_a_previous_address_verifies_nothing(alpha):
    token = registration.email_verification_token(user=alpha.owner)
    User.objects.filter(pk=alpha.owner.pk).update(email="renamed@alpha.test")

    response = Client(HTTP_HOST=alpha.host).get(f"/accounts/verify/{token}/")

    assert response.status_code == 400
    assert User.objects.get(pk=alpha.owner.pk).email_verified_at is None


def test_resend_verification_mails_a_link_to_this_workspace_host(alpha, client_for, django_capture_on_commit_callbacks):
    client = client_for(alpha)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/verify/resend/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/profile/"
    assert len(mail.outbox) == 1
    host, path = VERIFY_LINK.search(mail.outbox[0].body).groups()
    assert host == "alpha.localhost"
    assert Client(HTTP_HOST=host).get(path).status_code == 200
    assert User.objects.get(pk=alpha.owner.pk).email_verified_at is not None


def test_resend_verification_sends_nothing_to_a_verified_user(alpha, client_for, django_capture_on_commit_callbacks):
    registration.email_verify(token=registration.email_verification_token(user=alpha.owner))
    client = client_for(alpha, User.objects.get(pk=alpha.owner.pk))

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/verify/resend/")

    assert mail.outbox == []


def test_resend_verification_needs_a_signed_in_user(alpha, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = Client(HTTP_HOST=alpha.host).post("/accounts/verify/resend/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert mail.outbox == []
