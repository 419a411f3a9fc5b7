"""Portal fixtures: members of the session tenants with a given role."""

from __future__ import annotations

import pytest

from apps.accounts.models import Membership, User
from tests.conftest import PASSWORD


@pytest.fixture
def member_of(db):
    """member_of(world, role, email=None) -> a new user with that role in the world's tenant."""

    def make(world, role: str, email: str | None = None) -> User:
        email = email or f"{role}@{world.tenant.slug}.test"
        user = User.objects.create_user(email, PASSWORD, full_name=f"{role.title()} Person")
        Membership.objects.create(user=user, tenant=world.tenant, role=role)
        return user

    return make
