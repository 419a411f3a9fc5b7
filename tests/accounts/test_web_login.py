from django.test import Client

from tests.conftest import PASSWORD


def login(client: Client, email: str, password: str):
    return client.post("/accounts/login/", {"username": email, "password": password})


def test_login_page_renders_on_a_tenant_host(alpha):
    response = Client(HTTP_HOST=alpha.host).get("/accounts/login/")

    assert response.status_code == 200
    assert "Alpha Inc" in response.content.decode()
    assert b'name="username"' in response.content


def test_login_with_the_right_password_signs_in_and_goes_to_the_dashboard(alpha):
    client = Client(HTTP_HOST=alpha.host)

    response = login(client, "Owner@Alpha.test ", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(alpha.owner.pk)


def test_login_follows_a_safe_next_and_ignores_an_offsite_one(alpha):
    inside = Client(HTTP_HOST=alpha.host)
    offsite = Client(HTTP_HOST=alpha.host)

    to_profile = inside.post(
        "/accounts/login/?next=/accounts/profile/", {"username": "owner@alpha.test", "password": PASSWORD}
    )
    to_evil = offsite.post(
        "/accounts/login/?next=http://evil.example/", {"username": "owner@alpha.test", "password": PASSWORD}
    )

    assert to_profile["Location"] == "/accounts/profile/"
    assert to_evil["Location"] == "/"


def test_login_with_a_wrong_password_is_refused(alpha):
    client = Client(HTTP_HOST=alpha.host)

    response = login(client, "owner@alpha.test", "not-the-password")

    assert response.status_code == 200
    assert "That e-mail and password do not match an account." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_locks_out_after_the_configured_failures_even_for_the_right_password(alpha, settings):
    client = Client(HTTP_HOST=alpha.host)
    assert settings.AXES_FAILURE_LIMIT == 3

    first = login(client, "owner@alpha.test", "wrong-1")
    second = login(client, "owner@alpha.test", "wrong-2")
    third = login(client, "owner@alpha.test", "wrong-3")
    right = login(client, "owner@alpha.test", PASSWORD)

    assert (first.status_code, second.status_code) == (200, 200)
    assert third.status_code == 429
    assert right.status_code == 429
    assert "accounts/locked_out.html" in [t.name for t in right.templates]
    assert "Too many sign-in attempts" in right.content.decode()
    assert "Signing in failed 3 times" in right.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_of_one_account_does_not_lock_another(alpha, beta):
    client = Client(HTTP_HOST=alpha.host)
    for attempt in range(3):
        login(client, "owner@alpha.test", f"wrong-{attempt}")

    other = Client(HTTP_HOST=beta.host)
    response = login(other, "owner@beta.test", PASSWORD)

    assert response.status_code == 302
    assert other.session["_auth_user_id"] == str(beta.owner.pk)


def test_logout_is_a_post_and_ends_the_session(alpha, client_for):
    client = client_for(alpha)

    refused = client.get("/accounts/logout/")
    response = client.post("/accounts/logout/")

    assert refused.status_code == 405
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session
