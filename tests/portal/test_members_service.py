"""apps.accounts.services.members: the invariants, without the web layer."""

import pytest

from apps.accounts.models import Membership, Role
from apps.accounts.services.members import member_change_role, member_remove
from apps.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.accounts.factories import MembershipFactory


def add(world, role, email):
    return MembershipFactory(tenant=world.tenant, role=role, user__email=email)


def owner_membership(world):
    return Membership.objects.get(tenant=world.tenant, user=world.owner)


def test_last_owner_cannot_be_demoted(alpha):
    own = owner_membership(alpha)

    with pytest.raises(Conflict) as excinfo:
        member_change_role(tenant=alpha.tenant, actor=own, membership_id=own.pk, role=Role.ADMIN)

    assert excinfo.value.code == "last_owner"
    assert Membership.objects.get(pk=own.pk).role == Role.OWNER


def test_last_owner_cannot_be_removed(alpha):
    own = owner_membership(alpha)

    with pytest.raises(Conflict):
        member_remove(tenant=alpha.tenant, actor=own, membership_id=own.pk)

    assert Membership.objects.filter(pk=own.pk).exists()


def test_owner_can_hand_over_ownership_and_step_down(alpha):
    own = owner_membership(alpha)
    admin = add(alpha, Role.ADMIN, "heir@alpha.test")

    member_change_role(tenant=alpha.tenant, actor=own, membership_id=admin.pk, role=Role.OWNER)
    member_change_role(tenant=alpha.tenant, actor=own, membership_id=own.pk, role=Role.VIEWER)

    roles = dict(Membership.objects.filter(tenant=alpha.tenant).values_list("user__email", "role"))
    assert roles == {"owner@alpha.test": "viewer", "heir@alpha.test": "owner"}


def test_agent_manages_nobody(alpha):
    agent = add(alpha, Role.AGENT, "agent-svc@alpha.test")
    viewer = add(alpha, Role.VIEWER, "viewer-svc@alpha.test")

    with pytest.raises(PermissionDenied):
        member_change_role(tenant=alpha.tenant, actor=agent, membership_id=viewer.pk, role=Role.AGENT)
    with pytest.raises(PermissionDenied):
        member_remove(tenant=alpha.tenant, actor=agent, membership_id=viewer.pk)

    assert Membership.objects.get(pk=viewer.pk).role == Role.VIEWER


def test_unknown_role_is_refused(alpha):
    own = owner_membership(alpha)
    agent = add(alpha, Role.AGENT, "agent-role@alpha.test")

    with pytest.raises(ValidationFailed):
        member_change_role(tenant=alpha.tenant, actor=own, membership_id=agent.pk, role="emperor")

    assert Membership.objects.get(pk=agent.pk).role == Role.AGENT


def test_another_tenants_membership_is_not_found(alpha, beta):
    beta_member = add(beta, Role.AGENT, "agent@beta-svc.test")

    with pytest.raises(NotFound):
        member_remove(tenant=alpha.tenant, actor=owner_membership(alpha), membership_id=beta_member.pk)

    assert Membership.objects.filter(pk=beta_member.pk).exists()
