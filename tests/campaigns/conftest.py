"""Fixtures for campaigns: work inside alpha's schema, numbers and contacts made in bulk, and
the Celery hand-offs recorded (tests run the materialization and ticks themselves)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.campaigns import tasks
from apps.campaigns.models import Campaign, CampaignRun
from apps.campaigns.services import campaigns as campaign_services
from apps.campaigns.services import lifecycle, materialize
from apps.contacts.models import Contact, Group, GroupMembership
from apps.senders.coordination import client as coordination_client
from apps.senders.models import SenderProfile


@dataclass
class Handoffs:
    """What the services asked Celery for after commit."""

    materialize: list[int] = field(default_factory=list)
    ticks: list[int] = field(default_factory=list)
    kicks: list[int] = field(default_factory=list)
    moves: list[tuple[int, str]] = field(default_factory=list)


@pytest.fixture(autouse=True)
def handoffs(monkeypatch) -> Handoffs:
    from apps.senders import tasks as sender_tasks

    recorded = Handoffs()
    monkeypatch.setattr(tasks, "materialize_enqueue", lambda run_id, *, schema: recorded.materialize.append(run_id))
    monkeypatch.setattr(
        tasks, "tick_soon", lambda run_id, *, schema, countdown_s=1.0: recorded.ticks.append(run_id) or True
    )
    monkeypatch.setattr(sender_tasks, "profile_kick", lambda profile_id, *, schema: recorded.kicks.append(profile_id))
    monkeypatch.setattr(
        tasks, "rows_move_enqueue", lambda run_id, move, *, schema: recorded.moves.append((run_id, move)) or True
    )
    return recorded


@pytest.fixture(autouse=True)
def _media_root(request, settings, tmp_path):
    # Template attachments of non-live tests go to a temporary folder.
    if request.node.get_closest_marker("live") is None:
        settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _clean_coordination_redis():
    coordination_client().flushdb()
    yield
    coordination_client().flushdb()


@pytest.fixture
def in_alpha(alpha):
    with tenant_context(alpha.tenant):
        yield alpha


def make_profile(label: str = "Main", **fields) -> SenderProfile:
    values = {"status": SenderProfile.Status.CONNECTED, "pacing_preset": "off", "batch_size": 0, **fields}
    return SenderProfile.objects.create(label=label, **values)


def make_contacts(count: int, *, start: int = 0, group: Group | None = None, **fields) -> list[Contact]:
    """`count` contacts +91987600xxxx (from `start`), named "Person <i>", optionally in `group`."""
    contacts = Contact.objects.bulk_create(
        [Contact(phone=f"+9198760{start + i:05d}", name=f"Person {start + i}", **fields) for i in range(count)]
    )
    if group is not None:
        GroupMembership.objects.bulk_create([GroupMembership(group=group, contact=c) for c in contacts])
    return contacts


def make_campaign(*, profiles: list[SenderProfile], groups: list[Group] = (), **values) -> Campaign:
    values.setdefault("body", "Hello {{name|there}}")
    senders = [
        p if isinstance(p, campaign_services.SenderChoice) else campaign_services.SenderChoice(profile=p)
        for p in profiles
    ]
    return campaign_services.campaign_create(
        name=values.pop("name", "Spring sale"), groups=list(groups), senders=senders, **values
    )


def start(campaign: Campaign) -> CampaignRun:
    """Start and materialize inline (what the worker would do after commit)."""
    run = lifecycle.campaign_start(campaign=campaign)
    return materialize.run_materialize(run_id=run.id)


@pytest.fixture
def now() -> Callable:
    return timezone.now
