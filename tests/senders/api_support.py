"""Helpers shared by the sending engine's API tests: clients signed in the ways the API accepts."""

from __future__ import annotations

from django.test import Client

from apps.accounts.models import Membership, User
from apps.accounts.services import api_keys, jwt
from apps.billing.models import Plan
from tests.conftest import PASSWORD


def api_error(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


def member(world, role: str) -> User:
    """A new user of `world`'s tenant with `role`."""
    user = User.objects.create_user(f"senders-{role}@{world.tenant.slug}.test", PASSWORD)
    Membership.objects.create(user=user, tenant=world.tenant, role=role)
    return user


def jwt_client(world, user: User | None = None, host: str | None = None) -> Client:
    """A client with a bearer token issued on `world`'s tenant (sent to `host`, default its own)."""
    pair = jwt.jwt_pair_issue(user=user or world.owner, tenant=world.tenant)
    return Client(HTTP_HOST=host or world.host, HTTP_AUTHORIZATION=f"Bearer {pair.access}")


def key_client(world, role: str, host: str | None = None) -> Client:
    """A client with a new API key of `world`'s tenant with `role` (sent to `host`, default its own)."""
    created = api_keys.api_key_create(tenant=world.tenant, name=f"{role} key", created_by=None, role=role)
    return Client(HTTP_HOST=host or world.host, HTTP_AUTHORIZATION=f"Api-Key {created.secret}")


def change_plan(world, plan_slug: str) -> None:
    subscription = world.tenant.subscription
    subscription.plan = Plan.objects.get(slug=plan_slug)
    subscription.save(update_fields=["plan"])
