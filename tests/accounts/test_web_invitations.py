import hashlib
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from apps.accounts.models import Invitation, Membership, Role, User
from apps.accounts.services import invitations
from apps.core.exceptions import Conflict, PermissionDenied
from tests.conftest import PASSWORD

INVITE_LINK = re.compile(r"http://alpha\.localhost/accounts/invite/([^/\s]+)/")
NEW_PASSWORD = "invited-and-happy-2024"


@pytest.fixture
def invite(alpha, django_capture_on_commit_callbacks):
    """invite(email, role=Role.AGENT, by=alpha owner) -> the token from the e-mailed link."""

    def make(email: str, role: str = Role.AGENT, by=None) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            created = invitations.invitation_create(
                tenant=alpha.tenant, email=email, role=role, invited_by=by or alpha.owner
            )
        token = INVITE_LINK.search(mail.outbox[-1].body).group(1)
        assert token == created.token
        return token

    return make


def member(tenant, email: str) -> Membership | None:
    return Membership.objects.filter(tenant=tenant, user__email=email).first()


def test_invitation_create_stores_only_a_hash_and_mails_a_link_to_the_tenant_host(alpha, invite):
    token = invite("Newbie@Example.test", Role.ADMIN)

    invitation = Invitation.objects.get(tenant=alpha.tenant)
    assert invitation.email == "newbie@example.test"
    assert invitation.role == Role.ADMIN
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in invitation.token_hash
    assert invitation.expires_at - invitation.created_at == pytest.approx(timedelta(days=7), abs=timedelta(seconds=5))
    message = mail.outbox[0]
    assert message.to == ["newbie@example.test"]
    assert message.subject == "You are invited to join Alpha Inc on Chorus"
    assert f"http://alpha.localhost/accounts/invite/{token}/" in message.alternatives[0][0]


def test_accepting_as_a_new_user_creates_the_account_and_the_membership_with_the_role(alpha, invite):
    token = invite("newbie@example.test", Role.VIEWER)
    client = Client(HTTP_HOST=alpha.host)

    page = client.get(f"/accounts/invite/{token}/")
    response = client.post(f"/accounts/invite/{token}/", {"full_name": "New Bie", "password": NEW_PASSWORD})

    assert page.status_code == 200
    assert "Join Alpha Inc" in page.content.decode()
    assert "Viewer" in page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(email="newbie@example.test")
    assert user.full_name == "New Bie"
    assert user.check_password(NEW_PASSWORD)
    assert user.email_verified_at is not None
    assert member(alpha.tenant, "newbie@example.test").role == Role.VIEWER
    assert Invitation.objects.get(tenant=alpha.tenant).accepted_at is not None
    assert client.session["_auth_user_id"] == str(user.pk)


def test_accepting_with_an_existing_account_needs_its_password(alpha, beta, invite):
    token = invite("owner@beta.test", Role.ADMIN)
    client = Client(HTTP_HOST=alpha.host)

    wrong = client.post(f"/accounts/invite/{token}/", {"password": "not-it"})
    assert wrong.status_code == 200
    assert member(alpha.tenant, "owner@beta.test") is None
    right = client.post(f"/accounts/invite/{token}/", {"password": PASSWORD})

    assert right.status_code == 302
    assert member(alpha.tenant, "owner@beta.test").role == Role.ADMIN
    assert member(beta.tenant, "owner@beta.test").role == Role.OWNER
    assert client.session["_auth_user_id"] == str(beta.owner.pk)


def test_the_signed_in_invitee_just_confirms(alpha, beta, invite, client_for):
    token = invite("owner@beta.test", Role.AGENT)
    client = client_for(beta)
    client.defaults["HTTP_HOST"] = alpha.host

    response = client.post(f"/accounts/invite/{token}/")

    assert response.status_code == 302
    assert member(alpha.tenant, "owner@beta.test").role == Role.AGENT


def test_someone_signed_in_as_another_user_cannot_accept(alpha, beta, invite, client_for):
    token = invite("someone@example.test")
    client = client_for(beta)
    client.defaults["HTTP_HOST"] = alpha.host

    page = client.get(f"/accounts/invite/{token}/")
    response = client.post(f"/accounts/invite/{token}/", {"full_name": "X", "password": NEW_PASSWORD})

    assert "You are signed in as owner@beta.test." in page.content.decode()
    assert response.status_code == 200
    assert not User.objects.filter(email="someone@example.test").exists()
    assert Invitation.objects.get(tenant=alpha.tenant).accepted_at is None


def test_expired_invitation_is_refused_and_creates_nothing(alpha, invite):
    token = invite("late@example.test")
    Invitation.objects.filter(tenant=alpha.tenant).update(expires_at=timezone.now() - timedelta(seconds=1))
    client = Client(HTTP_HOST=alpha.host)

    page = client.get(f"/accounts/invite/{token}/")
    response = client.post(f"/accounts/invite/{token}/", {"full_name": "Late", "password": NEW_PASSWORD})

    assert page.status_code == 410
    assert response.status_code == 410
    assert "This invitation has expired." in response.content.decode()
    assert not User.objects.filter(email="late@example.test").exists()
    assert Membership.objects.filter(tenant=alpha.tenant).count() == 1


def test_used_invitation_is_refused(alpha, invite):
    token = invite("once@example.test")
    Client(HTTP_HOST=alpha.host).post(f"/accounts/invite/{token}/", {"full_name": "Once", "password": NEW_PASSWORD})

    again = Client(HTTP_HOST=alpha.host).post(
        f"/accounts/invite/{token}/", {"full_name": "Twice", "password": NEW_PASSWORD}
    )

    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    assert User.objects.get(email="once@example.test").full_name == "Once"


def test_unknown_invitation_token_is_refused(alpha):
    response = Client(HTTP_HOST=alpha.host).get("/accounts/invite/not-a-real-token/")

    assert response.status_code == 404
    assert "This invitation link is not valid." in response.content.decode()


def test_invitation_opened_on_another_tenant_host_is_refused(alpha, beta, invite):
    token = invite("traveller@example.test")
    client = Client(HTTP_HOST=beta.host)

    page = client.get(f"/accounts/invite/{token}/")
    response = client.post(f"/accounts/invite/{token}/", {"full_name": "T", "password": NEW_PASSWORD})

    assert page.status_code == 404
    assert response.status_code == 404
    assert not User.objects.filter(email="traveller@example.test").exists()
    assert Membership.objects.filter(tenant=beta.tenant).count() == 1
    assert Invitation.objects.get(tenant=alpha.tenant).accepted_at is None


def test_revoked_invitation_link_stops_working(alpha, invite):
    token = invite("revoked@example.test")

    invitations.invitation_revoke(tenant=alpha.tenant, invitation_id=Invitation.objects.get(tenant=alpha.tenant).pk)

    assert Client(HTTP_HOST=alpha.host).get(f"/accounts/invite/{token}/").status_code == 404
    assert Invitation.objects.filter(tenant=alpha.tenant).count() == 0


def test_reinviting_replaces_the_pending_invitation(alpha, invite):
    first = invite("twice@example.test", Role.VIEWER)
    second = invite("twice@example.test", Role.ADMIN)

    assert Invitation.objects.filter(tenant=alpha.tenant).count() == 1
    assert Client(HTTP_HOST=alpha.host).get(f"/accounts/invite/{first}/").status_code == 404
    assert Client(HTTP_HOST=alpha.host).get(f"/accounts/invite/{second}/").status_code == 200


def test_inviting_an_existing_member_is_a_conflict(alpha):
    with pytest.raises(Conflict) as excinfo:
        invitations.invitation_create(
            tenant=alpha.tenant, email="OWNER@alpha.test", role=Role.ADMIN, invited_by=alpha.owner
        )

    assert excinfo.value.code == "already_member"
    assert Invitation.objects.filter(tenant=alpha.tenant).count() == 0
    assert mail.outbox == []


def test_only_owners_invite_owners_and_agents_invite_nobody(alpha):
    admin = User.objects.create_user("admin@alpha.test", PASSWORD)
    Membership.objects.create(user=admin, tenant=alpha.tenant, role=Role.ADMIN)
    agent = User.objects.create_user("agent@alpha.test", PASSWORD)
    Membership.objects.create(user=agent, tenant=alpha.tenant, role=Role.AGENT)

    with pytest.raises(PermissionDenied):
        invitations.invitation_create(tenant=alpha.tenant, email="boss@example.test", role=Role.OWNER, invited_by=admin)
    with pytest.raises(PermissionDenied):
        invitations.invitation_create(tenant=alpha.tenant, email="pal@example.test", role=Role.VIEWER, invited_by=agent)
    allowed = invitations.invitation_create(
        tenant=alpha.tenant, email="boss@example.test", role=Role.OWNER, invited_by=alpha.owner
    )

    assert list(Invitation.objects.filter(tenant=alpha.tenant)) == [allowed.invitation]


def test_a_forwarded_invitation_cannot_be_accepted_by_another_account(alpha, beta, invite):
    token = invite("intended@example.test")

    with pytest.raises(PermissionDenied):
        invitations.invitation_accept(token=token, user=beta.owner)

    assert member(alpha.tenant, "owner@beta.test") is None
    assert Invitation.objects.get(tenant=alpha.tenant).accepted_at is None
