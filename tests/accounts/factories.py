"""factory_boy factories for apps.accounts (public schema)."""

from __future__ import annotations

import factory
from django.utils import timezone

from apps.accounts.models import Invitation, Membership, Role, User
from apps.accounts.services.invitations import INVITATION_TTL, invitation_token_hash
from tests.conftest import PASSWORD
from tests.tenants.factories import TenantFactory


class UserFactory(factory.django.DjangoModelFactory):
    """A user who can sign in with tests.conftest.PASSWORD."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@people.test")
    full_name = factory.Sequence(lambda n: f"Person {n}")
    password = factory.django.Password(PASSWORD)


class MembershipFactory(factory.django.DjangoModelFactory):
    """Pass `tenant=world.tenant`: the default clones a whole new tenant schema."""

    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Role.AGENT


class InvitationFactory(factory.django.DjangoModelFactory):
    """A pending invitation whose link token is `token` (stored hashed, like the real ones)."""

    class Meta:
        model = Invitation

    class Params:
        token = factory.Sequence(lambda n: f"invitation-token-{n}")

    tenant = factory.SubFactory(TenantFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@people.test")
    role = Role.AGENT
    token_hash = factory.LazyAttribute(lambda invitation: invitation_token_hash(invitation.token))
    invited_by = None
    expires_at = factory.LazyFunction(lambda: timezone.now() + INVITATION_TTL)
