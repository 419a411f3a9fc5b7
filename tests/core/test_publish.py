"""publish(): after commit, per-tenant groups; publish_coalesced(): at most one per window."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django_tenants.utils import schema_context

from apps.core.exceptions import ValidationFailed
from apps.core.realtime.notifications import notification_send
from apps.core.realtime.publish import group_name, publish, publish_coalesced

RECEIVE_TIMEOUT_S = 5.0
SILENCE_S = 0.5


class Listener:
    """A channel-layer channel subscribed to one group, read from sync test code. Runs on its own
    event loop: channels_redis binds a channel's receive buffer to the loop that first reads it."""

    def __init__(self, group: str):
        self.loop = asyncio.new_event_loop()
        self.layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)  # private to this loop
        self.group = group
        self.channel = self.loop.run_until_complete(self.layer.new_channel())
        self.loop.run_until_complete(self.layer.group_add(group, self.channel))

    def receive(self, timeout: float = RECEIVE_TIMEOUT_S) -> dict[str, Any] | None:
        try:
            return self.loop.run_until_complete(asyncio.wait_for(self.layer.receive(self.channel), timeout))
        except TimeoutError:
            return None

    def close(self) -> None:
        self.loop.run_until_complete(self.layer.group_discard(self.group, self.channel))
        self.loop.run_until_complete(self.layer.close_pools())
        self.loop.close()


@pytest.fixture
def listen():
    listeners: list[Listener] = []

    def make(group: str) -> Listener:
        listener = Listener(group)
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        listener.close()


def test_group_names_carry_the_schema_and_only_allowed_characters():
    assert group_name("t_alpha", "campaign.12") == "t_alpha.campaign.12"
    assert group_name("t_alpha", "inbox/new chat#1") == "t_alpha.inbox_new_chat_1"
    with pytest.raises(ValueError):
        group_name("t_alpha", "x" * 100)


def test_publish_outside_a_transaction_sends_at_once_to_the_current_schema(listen, commit_db):
    alpha_listener, beta_listener = listen("t_alpha.inbox"), listen("t_beta.inbox")

    with schema_context("t_alpha"):
        publish("inbox", {"chat": 7})

    assert alpha_listener.receive() == {"type": "realtime.event", "topic": "inbox", "event": {"chat": 7}}
    assert beta_listener.receive(SILENCE_S) is None


def test_publish_in_a_rolled_back_transaction_sends_nothing(listen, commit_db):
    listener = listen("t_alpha.notifications")

    with pytest.raises(RuntimeError), transaction.atomic():
        publish("notifications", {"n": 1}, schema_name="t_alpha")
        raise RuntimeError("roll back")

    assert listener.receive(SILENCE_S) is None


def test_publish_in_a_committed_transaction_sends_once_after_commit(listen, commit_db):
    listener = listen("t_alpha.notifications")

    with transaction.atomic():
        publish("notifications", {"n": 2}, schema_name="t_alpha")
        assert listener.receive(SILENCE_S) is None  # not before the commit

    assert listener.receive()["event"] == {"n": 2}
    assert listener.receive(SILENCE_S) is None


def test_publish_refuses_an_event_that_is_not_json(commit_db):
    with pytest.raises(TypeError):
        publish("notifications", {"when": object()}, schema_name="t_alpha")


def test_notification_send_publishes_a_notification_event_to_the_tenant(
    listen, alpha, django_capture_on_commit_callbacks
):
    listener = listen("t_alpha.notifications")

    with django_capture_on_commit_callbacks(execute=True):
        event = notification_send(tenant=alpha.tenant, message="  Hello team  ", level="success")

    received = listener.receive()
    assert received["event"] == event
    assert {k: event[k] for k in ("kind", "level", "message")} == {
        "kind": "notification",
        "level": "success",
        "message": "Hello team",
    }


def test_notification_send_refuses_empty_messages_and_unknown_levels(listen, alpha, django_capture_on_commit_callbacks):
    listener = listen("t_alpha.notifications")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(ValidationFailed):
            notification_send(tenant=alpha.tenant, message="   ")
        with pytest.raises(ValidationFailed):
            notification_send(tenant=alpha.tenant, message="hi", level="shout")

    assert callbacks == []
    assert listener.receive(SILENCE_S) is None


@pytest.mark.live
def test_publish_coalesced_sends_the_first_at_once_and_only_the_latest_after_the_window(
    listen, celery_worker_process, commit_db
):
    listener = listen("t_alpha.campaign.12")
    assert connection.schema_name == "public"

    started = time.monotonic()
    for sent in range(1, 6):
        publish_coalesced("campaign.12", {"sent": sent}, schema_name="t_alpha", interval_s=0.5)

    first = listener.receive()
    assert first["event"] == {"sent": 1}
    trailing = listener.receive()
    assert trailing["event"] == {"sent": 5}
    assert time.monotonic() - started >= 0.5  # not before the window closed
    # The flush finds nothing more pending and closes the gate: no further event.
    assert listener.receive(1.5) is None

    # A quiet group sends the next event at once again.
    publish_coalesced("campaign.12", {"sent": 6}, schema_name="t_alpha", interval_s=0.5)
    assert listener.receive(0.4)["event"] == {"sent": 6}


def test_notify_tenant_command_sends_to_that_tenant_only(listen, alpha, beta, django_capture_on_commit_callbacks):
    alpha_listener, beta_listener = listen("t_alpha.notifications"), listen("t_beta.notifications")
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("notify_tenant", "alpha", "Maintenance at 9", "--level", "warning", stdout=out)

    event = alpha_listener.receive()["event"]
    assert (event["kind"], event["level"], event["message"]) == ("notification", "warning", "Maintenance at 9")
    assert beta_listener.receive(SILENCE_S) is None
    assert out.getvalue().strip() == "sent to t_alpha"


def test_notify_tenant_command_refuses_unknown_and_public_tenants(db):
    for slug in ("nobody", "public"):
        with pytest.raises(CommandError):
            call_command("notify_tenant", slug, "hello")
