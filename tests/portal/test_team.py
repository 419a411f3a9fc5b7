import pytest

from apps.accounts.models import Invitation, Membership, Role


def membership(world, user) -> Membership:
    return Membership.objects.get(tenant=world.tenant, user=user)


def test_team_page_lists_members_with_their_roles(alpha, client_for, member_of):
    member_of(alpha, "agent")

    html = client_for(alpha).get("/settings/team/").content.decode()

    assert 'data-member="owner@alpha.test"' in html
    assert 'data-member="agent@alpha.test"' in html
    assert '<option value="agent" selected>Agent</option>' in html


def test_invite_from_the_team_page_emails_a_link_and_creates_a_pending_invitation(
    alpha, client_for, mailoutbox, django_capture_on_commit_callbacks
):
    client = client_for(alpha)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/settings/team/invite/", {"email": "New.Person@Example.com", "role": "viewer"})

    assert response.status_code == 302
    invitation = Invitation.objects.get(tenant=alpha.tenant)
    assert (invitation.email, invitation.role, invitation.accepted_at) == ("new.person@example.com", "viewer", None)
    assert invitation.invited_by == alpha.owner
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["new.person@example.com"]
    assert "http://alpha.localhost/accounts/invite/" in mailoutbox[0].body
    page = client.get("/settings/team/").content.decode()
    assert 'data-invitation="new.person@example.com"' in page


def test_revoking_a_pending_invitation_removes_it(alpha, client_for, django_capture_on_commit_callbacks):
    client = client_for(alpha)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/settings/team/invite/", {"email": "later@example.com", "role": "agent"})
    invitation = Invitation.objects.get(tenant=alpha.tenant)

    response = client.post(f"/settings/team/invitations/{invitation.pk}/revoke/")

    assert response.status_code == 302
    assert not Invitation.objects.filter(tenant=alpha.tenant).exists()
    assert 'data-invitation="later@example.com"' not in client.get("/settings/team/").content.decode()


def test_inviting_an_existing_member_shows_the_error_and_sends_nothing(
    alpha, client_for, member_of, mailoutbox, django_capture_on_commit_callbacks
):
    member_of(alpha, "agent")

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alpha).post("/settings/team/invite/", {"email": "agent@alpha.test", "role": "admin"})

    assert response.status_code == 400
    assert "already a member" in response.content.decode()
    assert Invitation.objects.filter(tenant=alpha.tenant).count() == 0
    assert mailoutbox == []


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_cannot_invite_change_roles_or_remove(
    role, alpha, client_for, member_of, mailoutbox, django_capture_on_commit_callbacks
):
    user = member_of(alpha, role)
    other = member_of(alpha, "viewer" if role == "agent" else "agent")
    client = client_for(alpha, user=user)
    other_membership = membership(alpha, other)

    with django_capture_on_commit_callbacks(execute=True):
        invite = client.post("/settings/team/invite/", {"email": "x@example.com", "role": "agent"})
    change = client.post(f"/settings/team/members/{other_membership.pk}/role/", {"role": "admin"})
    promote_self = client.post(f"/settings/team/members/{membership(alpha, user).pk}/role/", {"role": "owner"})
    remove = client.post(f"/settings/team/members/{membership(alpha, alpha.owner).pk}/remove/")

    assert [invite.status_code, change.status_code, promote_self.status_code, remove.status_code] == [403] * 4
    assert Invitation.objects.filter(tenant=alpha.tenant).count() == 0
    assert mailoutbox == []
    assert membership(alpha, other).role == other_membership.role
    assert membership(alpha, user).role == role
    assert membership(alpha, alpha.owner).role == Role.OWNER


def test_owner_changes_a_members_role(alpha, client_for, member_of):
    agent = member_of(alpha, "agent")

    response = client_for(alpha).post(f"/settings/team/members/{membership(alpha, agent).pk}/role/", {"role": "admin"})

    assert response.status_code == 302
    assert membership(alpha, agent).role == Role.ADMIN


def test_owner_removes_a_member(alpha, client_for, member_of):
    agent = member_of(alpha, "agent")

    response = client_for(alpha).post(f"/settings/team/members/{membership(alpha, agent).pk}/remove/")

    assert response.status_code == 302
    assert not Membership.objects.filter(tenant=alpha.tenant, user=agent).exists()
    assert agent.__class__.objects.filter(pk=agent.pk).exists()


def test_the_last_owner_can_be_neither_demoted_nor_removed(alpha, client_for):
    client = client_for(alpha)
    own = membership(alpha, alpha.owner)

    demote = client.post(f"/settings/team/members/{own.pk}/role/", {"role": "admin"}, follow=True)
    remove = client.post(f"/settings/team/members/{own.pk}/remove/", follow=True)

    assert "A workspace needs at least one owner" in demote.content.decode()
    assert "A workspace needs at least one owner" in remove.content.decode()
    assert membership(alpha, alpha.owner).role == Role.OWNER


def test_an_owner_can_step_down_once_another_owner_exists(alpha, client_for, member_of):
    second = member_of(alpha, "owner", email="second-owner@alpha.test")

    response = client_for(alpha).post(
        f"/settings/team/members/{membership(alpha, alpha.owner).pk}/role/", {"role": "admin"}
    )

    assert response.status_code == 302
    assert membership(alpha, alpha.owner).role == Role.ADMIN
    assert membership(alpha, second).role == Role.OWNER


def test_an_admin_cannot_touch_owners_or_grant_ownership(alpha, client_for, member_of):
    admin = member_of(alpha, "admin")
    agent = member_of(alpha, "agent")
    client = client_for(alpha, user=admin)

    promote = client.post(f"/settings/team/members/{membership(alpha, agent).pk}/role/", {"role": "owner"}, follow=True)
    demote_owner = client.post(f"/settings/team/members/{membership(alpha, alpha.owner).pk}/role/", {"role": "viewer"})
    remove_owner = client.post(f"/settings/team/members/{membership(alpha, alpha.owner).pk}/remove/")

    assert "Only an owner can grant or change the owner role." in promote.content.decode()
    assert demote_owner.status_code == remove_owner.status_code == 302
    assert membership(alpha, agent).role == Role.AGENT
    assert membership(alpha, alpha.owner).role == Role.OWNER


def test_an_admin_manages_agents_and_viewers(alpha, client_for, member_of):
    admin = member_of(alpha, "admin")
    viewer = member_of(alpha, "viewer")
    client = client_for(alpha, user=admin)

    client.post(f"/settings/team/members/{membership(alpha, viewer).pk}/role/", {"role": "agent"})

    assert membership(alpha, viewer).role == Role.AGENT
    client.post(f"/settings/team/members/{membership(alpha, viewer).pk}/remove/")
    assert not Membership.objects.filter(tenant=alpha.tenant, user=viewer).exists()


def test_members_of_another_tenant_cannot_be_changed_through_this_one(alpha, beta, client_for, member_of):
    beta_agent = member_of(beta, "agent")
    beta_membership = membership(beta, beta_agent)
    client = client_for(alpha)

    change = client.post(f"/settings/team/members/{beta_membership.pk}/role/", {"role": "viewer"}, follow=True)
    remove = client.post(f"/settings/team/members/{beta_membership.pk}/remove/", follow=True)

    assert "No such member in this workspace." in change.content.decode()
    assert "No such member in this workspace." in remove.content.decode()
    assert membership(beta, beta_agent).role == Role.AGENT


def test_team_pages_never_show_another_tenants_members_or_invitations(
    alpha, beta, client_for, member_of, django_capture_on_commit_callbacks
):
    member_of(alpha, "agent", email="only-in-alpha@alpha.test")
    with django_capture_on_commit_callbacks(execute=True):
        client_for(alpha).post("/settings/team/invite/", {"email": "alpha-invitee@example.com", "role": "agent"})

    html = client_for(beta).get("/settings/team/").content.decode()

    assert 'data-member="owner@beta.test"' in html
    assert "only-in-alpha@alpha.test" not in html
    assert "owner@alpha.test" not in html
    assert "alpha-invitee@example.com" not in html
