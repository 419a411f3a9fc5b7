import logging
import re

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_exists

from apps.accounts.models import Membership, Role, User
from apps.tenants import services as tenant_services
from apps.tenants.models import Domain, Tenant, TenantProvisioning
from tests.conftest import PASSWORD

HANDOFF_LINK = re.compile(r"^http://gamma\.localhost(/accounts/handoff/[^/]+/)$")


def signup_data(**overrides) -> dict:
    return {
        "full_name": "Gina Founder",
        "email": "Gina@Gamma.test",
        "password": PASSWORD,
        "company_name": "Gamma Ltd",
        "slug": "gamma",
        "timezone": "Asia/Kolkata",
        **overrides,
    }


@pytest.fixture
def public_client() -> Client:
    return Client(HTTP_HOST="localhost")


def sign_up(client: Client, capture, **overrides):
    with capture(execute=True):
        return client.post("/signup/", signup_data(**overrides))


def test_landing_page_offers_sign_up_and_workspace_sign_in(db, public_client):
    response = public_client.get("/")

    assert response.status_code == 200
    assert b'href="/signup/"' in response.content
    assert b'action="/go/"' in response.content


def test_workspace_sign_in_box_redirects_to_that_workspace_login(alpha, public_client):
    response = public_client.get("/go/", {"slug": " Alpha "})

    assert response.status_code == 302
    assert response["Location"] == "http://alpha.localhost/accounts/login/"


def test_workspace_sign_in_box_refuses_an_unknown_workspace(db, public_client):
    response = public_client.get("/go/", {"slug": "nobody-here"})

    assert response.status_code == 400
    assert "There is no workspace at “nobody-here”." in response.content.decode()


def test_signup_creates_an_unverified_user_a_provisioning_request_and_a_verification_mail(
    db, public_client, django_capture_on_commit_callbacks
):
    response = sign_up(public_client, django_capture_on_commit_callbacks)

    user = User.objects.get(email="gina@gamma.test")
    provisioning = TenantProvisioning.objects.get(owner=user)
    assert response.status_code == 302
    assert response["Location"] == f"/signup/{provisioning.pk}/"
    assert user.full_name == "Gina Founder"
    assert user.email_verified_at is None
    assert user.check_password(PASSWORD)
    assert (provisioning.name, provisioning.slug, provisioning.timezone, provisioning.state) == (
        "Gamma Ltd",
        "gamma",
        "Asia/Kolkata",
        TenantProvisioning.State.PENDING,
    )
    assert not Tenant.objects.filter(slug="gamma").exists()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["gina@gamma.test"]
    assert re.search(r"http://localhost/accounts/verify/[^/\s]+/", mail.outbox[0].body)
    assert mail.outbox[0].alternatives[0][1] == "text/html"


def test_signup_then_provisioning_hands_the_owner_over_to_the_new_workspace_exactly_once(
    db, public_client, django_capture_on_commit_callbacks
):
    sign_up(public_client, django_capture_on_commit_callbacks)
    provisioning = TenantProvisioning.objects.get(slug="gamma")

    pending = public_client.get(f"/signup/{provisioning.pk}/")
    assert pending.status_code == 200
    assert b'hx-trigger="every 1s"' in pending.content
    assert f'hx-get="/signup/{provisioning.pk}/status/"'.encode() in pending.content
    assert b'<meta http-equiv="refresh" content="3">' in pending.content

    tenant_services.provisioning_run(provisioning_id=provisioning.pk)

    tenant = Tenant.objects.get(slug="gamma")
    owner = User.objects.get(email="gina@gamma.test")
    assert tenant.name == "Gamma Ltd"
    assert tenant.timezone == "Asia/Kolkata"
    assert list(Membership.objects.filter(tenant=tenant).values_list("user_id", "role")) == [(owner.pk, Role.OWNER)]

    status = public_client.get(f"/signup/{provisioning.pk}/status/")
    assert status.status_code == 200
    assert HANDOFF_LINK.match(status["HX-Redirect"])
    assert b"hx-trigger" not in status.content

    done = public_client.get(f"/signup/{provisioning.pk}/")
    assert done.status_code == 302
    handoff_path = HANDOFF_LINK.match(done["Location"]).group(1)

    tenant_browser = Client(HTTP_HOST="gamma.localhost")
    landed = tenant_browser.get(handoff_path)
    assert landed.status_code == 302
    assert landed["Location"] == "/"
    assert tenant_browser.session["_auth_user_id"] == str(owner.pk)

    replayed_browser = Client(HTTP_HOST="gamma.localhost")
    replay = replayed_browser.get(handoff_path)
    assert replay.status_code == 400
    assert "already been used" in replay.content.decode()
    assert "_auth_user_id" not in replayed_browser.session


def test_handoff_link_is_refused_on_another_workspace_host(
    db, alpha, public_client, django_capture_on_commit_callbacks
):
    sign_up(public_client, django_capture_on_commit_callbacks)
    provisioning = TenantProvisioning.objects.get(slug="gamma")
    tenant_services.provisioning_run(provisioning_id=provisioning.pk)
    handoff_path = HANDOFF_LINK.match(public_client.get(f"/signup/{provisioning.pk}/")["Location"]).group(1)

    other = Client(HTTP_HOST=alpha.host)
    response = other.get(handoff_path)

    assert response.status_code == 400
    assert "_auth_user_id" not in other.session


def test_expired_or_tampered_handoff_link_is_refused(db, public_client, django_capture_on_commit_callbacks, settings):
    sign_up(public_client, django_capture_on_commit_callbacks)
    provisioning = TenantProvisioning.objects.get(slug="gamma")
    tenant_services.provisioning_run(provisioning_id=provisioning.pk)
    handoff_path = HANDOFF_LINK.match(public_client.get(f"/signup/{provisioning.pk}/")["Location"]).group(1)
    browser = Client(HTTP_HOST="gamma.localhost")

    tampered = browser.get(handoff_path[:-3] + "xx/")
    settings.HANDOFF_TOKEN_MAX_AGE_S = -1
    expired = browser.get(handoff_path)

    assert tampered.status_code == 400
    assert expired.status_code == 400
    assert "_auth_user_id" not in browser.session


def test_signup_with_a_taken_slug_shows_the_error_and_creates_no_user(
    alpha, public_client, django_capture_on_commit_callbacks
):
    response = sign_up(public_client, django_capture_on_commit_callbacks, slug="alpha")

    assert response.status_code == 200
    assert "“alpha” is taken. Choose another workspace address." in response.content.decode()
    assert not User.objects.filter(email="gina@gamma.test").exists()
    assert TenantProvisioning.objects.count() == 0
    assert mail.outbox == []


def test_signup_with_a_reserved_slug_shows_the_error_and_creates_no_user(
    db, public_client, django_capture_on_commit_callbacks
):
    response = sign_up(public_client, django_capture_on_commit_callbacks, slug="www")

    assert response.status_code == 200
    assert "“www” is reserved. Choose another workspace address." in response.content.decode()
    assert not User.objects.filter(email="gina@gamma.test").exists()
    assert TenantProvisioning.objects.count() == 0


def test_signup_refuses_a_weak_password_and_an_existing_email(alpha, public_client, django_capture_on_commit_callbacks):
    weak = sign_up(public_client, django_capture_on_commit_callbacks, password="12345678")
    existing = sign_up(public_client, django_capture_on_commit_callbacks, email="OWNER@alpha.test", slug="gamma2")

    assert weak.status_code == 200
    assert "This password is entirely numeric." in weak.content.decode()
    assert existing.status_code == 200
    assert "An account with this e-mail already exists." in existing.content.decode()
    assert User.objects.filter(email__iexact="gina@gamma.test").count() == 0
    assert User.objects.filter(email="owner@alpha.test").count() == 1
    assert TenantProvisioning.objects.count() == 0


def test_progress_page_is_only_shown_to_the_browser_that_signed_up(
    db, public_client, django_capture_on_commit_callbacks
):
    sign_up(public_client, django_capture_on_commit_callbacks)
    provisioning = TenantProvisioning.objects.get(slug="gamma")
    stranger = Client(HTTP_HOST="localhost")

    assert stranger.get(f"/signup/{provisioning.pk}/").status_code == 404
    assert stranger.get(f"/signup/{provisioning.pk}/status/").status_code == 404


def test_failed_provisioning_shows_the_error_and_a_retry_with_another_address(
    db, public_client, django_capture_on_commit_callbacks
):
    sign_up(public_client, django_capture_on_commit_callbacks)
    provisioning = TenantProvisioning.objects.get(slug="gamma")
    # Someone else takes the address between the form check and the worker.
    tenant_services.tenant_create(name="Squatter", slug="gamma")
    tenant_services.provisioning_run(provisioning_id=provisioning.pk)

    page = public_client.get(f"/signup/{provisioning.pk}/")
    with django_capture_on_commit_callbacks(execute=True):
        retried = public_client.post(f"/signup/{provisioning.pk}/retry/", {"slug": "gamma-two"})

    assert page.status_code == 200
    content = page.content.decode()
    assert "We could not create your workspace." in content
    assert "&#x27;gamma&#x27; is taken." in content
    assert f'action="/signup/{provisioning.pk}/retry/"' in content
    assert b"http-equiv" not in page.content
    second = TenantProvisioning.objects.get(slug="gamma-two")
    assert retried.status_code == 302
    assert retried["Location"] == f"/signup/{second.pk}/"
    assert second.owner_id == provisioning.owner_id
    assert User.objects.filter(email="gina@gamma.test").count() == 1


def test_provisioning_that_crashes_ends_failed_and_the_page_says_so(
    alpha, public_client, django_capture_on_commit_callbacks, caplog
):
    """Not a refusal the service knows (ChorusError) but a database error: a domain row left
    behind for the address makes tenant_create fail on a unique constraint. The request must
    still end FAILED, or the progress page would poll forever."""
    sign_up(public_client, django_capture_on_commit_callbacks)
    provisioning = TenantProvisioning.objects.get(slug="gamma")
    Domain.objects.create(domain="gamma.localhost", tenant=alpha.tenant, is_primary=False)

    with caplog.at_level(logging.ERROR, logger="apps.tenants.services"):
        tenant_services.provisioning_run(provisioning_id=provisioning.pk)
    page = public_client.get(f"/signup/{provisioning.pk}/")
    status = public_client.get(f"/signup/{provisioning.pk}/status/")

    provisioning.refresh_from_db()
    assert provisioning.state == TenantProvisioning.State.FAILED
    assert provisioning.error == tenant_services.PROVISIONING_CRASHED_MESSAGE
    assert not Tenant.objects.filter(slug="gamma").exists()
    assert not schema_exists("t_gamma")
    assert not Membership.objects.filter(user=provisioning.owner).exists()
    crashes = [r for r in caplog.records if r.getMessage() == "tenant.provisioning_crashed"]
    assert len(crashes) == 1
    assert crashes[0].exc_info[0].__name__ == "IntegrityError"
    assert page.status_code == 200
    content = page.content.decode()
    assert "We could not create your workspace." in content
    assert "Something went wrong on our side while creating your workspace. Please try again." in content
    assert f'action="/signup/{provisioning.pk}/retry/"' in content
    assert b"http-equiv" not in page.content
    assert status.status_code == 200
    assert b"hx-trigger" not in status.content


@pytest.mark.live
def test_sign_up_end_to_end_with_a_real_worker(commit_db, celery_worker_process):
    """The Celery task named by provisioning_start really runs in a worker process and the
    progress page then hands over. Everything here is committed, so it is removed at the end."""
    import time

    client = Client(HTTP_HOST="localhost")
    try:
        response = client.post("/signup/", signup_data(email="e2e@zeta.test", slug="zeta-e2e"))
        assert response.status_code == 302
        provisioning = TenantProvisioning.objects.get(slug="zeta-e2e")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            provisioning.refresh_from_db()
            if provisioning.state in (TenantProvisioning.State.DONE, TenantProvisioning.State.FAILED):
                break
            time.sleep(0.2)
        assert provisioning.state == TenantProvisioning.State.DONE, provisioning.error

        done = client.get(f"/signup/{provisioning.pk}/")
        handoff_path = re.match(r"^http://zeta-e2e\.localhost(/accounts/handoff/[^/]+/)$", done["Location"]).group(1)
        browser = Client(HTTP_HOST="zeta-e2e.localhost")
        assert browser.get(handoff_path).status_code == 302
        assert browser.session["_auth_user_id"] == str(provisioning.owner_id)
        assert Membership.objects.get(tenant__slug="zeta-e2e").role == Role.OWNER
    finally:
        for tenant in Tenant.objects.filter(slug="zeta-e2e"):
            tenant.delete(force_drop=True)
        User.objects.filter(email="e2e@zeta.test").delete()


def test_signup_keeps_the_language_picked_with_the_switcher(db, public_client, django_capture_on_commit_callbacks):
    public_client.cookies["django_language"] = "hi"

    sign_up(public_client, django_capture_on_commit_callbacks)

    assert User.objects.get(email="gina@gamma.test").language == "hi"
