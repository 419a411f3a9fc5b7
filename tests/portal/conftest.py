"""Portal fixtures: members of the session tenants with a given role."""

from __future__ import annotations

import pytest

from apps.accounts.models import User
from tests.accounts.factories import MembershipFactory


@pytest.fixture
def member_of(db):
    """member_of(world, role, email=None) -> a new user with that role in the world's tenant."""

    def make(world, role: str, email: str | None = None) -> User:
        email = email or f"{role}@{world.tenant.slug}.test"
        membership = MembershipFactory(
            tenant=world.tenant, role=role, user__email=email, user__full_name=f"{role.title()} Person"
        )
        return membership.user

    return make
