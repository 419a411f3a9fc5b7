"""/api/v1/messages: queue a message (202, Idempotency-Key replays), read its state and history,
list with filters; agents send, viewers read, tenants never meet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django_tenants.utils import tenant_context
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers

from apps.accounts.models import Role
from apps.senders.models import MessageEvent, OutboundMessage, SenderProfile
from apps.senders.services import ledger
from tests.senders.api_support import api_error, change_plan, jwt_client, key_client, member

TO = "+919876543210"
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def connected(world, label: str = "Main", **fields) -> SenderProfile:
    with tenant_context(world.tenant):
        return SenderProfile.objects.create(label=label, status=SenderProfile.Status.CONNECTED, **fields)


def rows(world) -> list[OutboundMessage]:
    with tenant_context(world.tenant):
        return list(OutboundMessage.objects.order_by("id"))


def send(client: Client, payload: dict, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/v1/messages", payload, content_type="application/json", **headers)


def test_agent_queues_a_message_and_gets_202_with_its_id(alpha):
    profile = connected(alpha)
    client = jwt_client(alpha, member(alpha, Role.AGENT))

    response = send(client, {"to": "098765 43210", "text": "Your order shipped"})

    assert response.status_code == 202
    [row] = rows(alpha)
    body = response.json()
    assert body == {
        "id": row.id,
        "profile": profile.id,
        "to": TO,
        "text": "Your order shipped",
        "state": "queued",
        "attempts": 0,
        "error_code": "",
        "error_detail": "",
        "created_at": body["created_at"],
        "queued_at": body["queued_at"],
        "sending_at": None,
        "sent_at": None,
        "delivered_at": None,
        "read_at": None,
        "failed_at": None,
        "next_attempt_at": None,
    }
    assert response["Location"] == f"/api/v1/messages/{row.id}"
    assert response.has_header("Idempotent-Replayed") is False
    assert (row.profile_id, row.to_number, row.body, row.idempotency_key) == (
        profile.id,
        TO,
        "Your order shipped",
        None,
    )


def test_the_chosen_profile_is_used(alpha):
    connected(alpha, "First")
    second = connected(alpha, "Second")

    response = send(jwt_client(alpha), {"to": TO, "text": "Hi", "profile": second.id})

    assert response.status_code == 202
    assert response.json()["profile"] == second.id
    assert [row.profile_id for row in rows(alpha)] == [second.id]


def test_replaying_an_idempotency_key_returns_the_same_message_and_queues_nothing_more(alpha):
    connected(alpha)
    client = jwt_client(alpha)
    payload = {"to": TO, "text": "Exactly once"}

    first = send(client, payload, key="order-1001")
    again = send(client, payload, key="order-1001")
    # The same number written another way is the same request.
    local = send(client, {"to": "09876543210", "text": "Exactly once"}, key="order-1001")

    assert [r.status_code for r in (first, again, local)] == [202, 202, 202]
    assert first.json()["id"] == again.json()["id"] == local.json()["id"]
    assert again.json() == first.json()
    assert first.has_header("Idempotent-Replayed") is False
    assert (again["Idempotent-Replayed"], local["Idempotent-Replayed"]) == ("true", "true")
    [row] = rows(alpha)
    assert (row.id, row.idempotency_key) == (first.json()["id"], "order-1001")


def test_reusing_an_idempotency_key_for_another_request_is_a_409(alpha):
    connected(alpha)
    client = jwt_client(alpha)
    first = send(client, {"to": TO, "text": "One"}, key="order-1002")

    conflicts = [
        send(client, {"to": TO, "text": "Two"}, key="order-1002"),
        send(client, {"to": "+919812345678", "text": "One"}, key="order-1002"),
    ]

    for response in conflicts:
        assert response.status_code == 409
        assert response.json() == api_error(
            "idempotency_key_reused", "This Idempotency-Key was used for a different request."
        )
    assert [row.id for row in rows(alpha)] == [first.json()["id"]]


def test_messages_without_a_key_are_separate(alpha):
    connected(alpha)
    client = jwt_client(alpha)

    ids = {send(client, {"to": TO, "text": "Same"}).json()["id"] for _ in range(2)}

    assert len(ids) == 2
    assert len(rows(alpha)) == 2


def test_an_overlong_idempotency_key_is_refused(alpha):
    connected(alpha)

    response = send(jwt_client(alpha), {"to": TO, "text": "Hi"}, key="k" * 201)

    assert response.status_code == 400
    assert response.json() == api_error("invalid_idempotency_key", "An Idempotency-Key is at most 200 characters.")
    assert rows(alpha) == []


@pytest.mark.parametrize(
    ("payload", "code", "details"),
    [
        ({"to": "12", "text": "Hi"}, "invalid_number", None),
        ({"to": TO, "text": "   "}, "empty_text", None),
        ({"to": TO, "text": "x" * 4097}, "text_too_long", None),
        ({"text": "Hi"}, "invalid", {"to": ["This field is required."]}),
        (
            {"to": TO, "text": "Hi", "profile": 999999},
            "invalid",
            {"profile": ['Invalid pk "999999" - object does not exist.']},
        ),
    ],
)
def test_bad_messages_are_refused_in_the_error_shape_and_nothing_is_queued(alpha, payload, code, details):
    connected(alpha)

    response = send(jwt_client(alpha), payload, key="bad-request")

    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert (response.json()["error"]["code"], response.json()["error"]["details"]) == (code, details)
    assert rows(alpha) == []


def test_sending_without_any_number_is_refused(alpha):
    response = send(jwt_client(alpha), {"to": TO, "text": "Hi"})

    assert response.status_code == 400
    assert response.json() == api_error("no_sender_profile", "Link a WhatsApp number before sending.")
    assert rows(alpha) == []


def test_sending_from_a_banned_number_is_refused(alpha):
    connected(alpha)
    banned = connected(alpha, "Banned")
    with tenant_context(alpha.tenant):
        SenderProfile.objects.filter(id=banned.id).update(status=SenderProfile.Status.BANNED)

    response = send(jwt_client(alpha), {"to": TO, "text": "Hi", "profile": banned.id})

    assert response.status_code == 400
    assert response.json() == api_error("profile_banned", "This WhatsApp number is banned.")
    assert rows(alpha) == []


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(value: datetime) -> str:
    return serializers.DateTimeField().to_representation(value)


def pin_times(message_id: int, **offsets: int) -> None:
    """Put the message's state timestamps at T0 + offset seconds. The claim stamps `sending_at`
    with PostgreSQL's now(), which inside a test's transaction is when the test began."""
    OutboundMessage.objects.filter(id=message_id).update(**{name: at(s) for name, s in offsets.items()})


def test_detail_shows_state_timestamps_error_and_history(alpha):
    profile = connected(alpha)
    with tenant_context(alpha.tenant):
        message = ledger.message_enqueue(to=TO, text="Hello", region="IN", profile=profile, kick=False).message
        [claim] = ledger.messages_claim(profile_id=profile.id, holder="test-host")
        ledger.message_mark_failed(
            message_id=message.id, claim_token=claim.claim_token, code="timeout", detail="no tick", retryable=True
        )
        pin_times(message.id, queued_at=0, sending_at=1, next_attempt_at=32)
        MessageEvent.objects.filter(message_id=message.id).update(at=at(2))
    viewer = jwt_client(alpha, member(alpha, Role.VIEWER))

    response = viewer.get(f"/api/v1/messages/{message.id}")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("id", "state", "attempts", "error_code", "error_detail")} == {
        "id": message.id,
        "state": "queued",
        "attempts": 1,
        "error_code": "timeout",
        "error_detail": "no tick",
    }
    assert (body["queued_at"], body["sending_at"], body["next_attempt_at"], body["failed_at"]) == (
        iso(at(0)),
        iso(at(1)),
        iso(at(32)),
        None,
    )
    assert body["history"] == [
        {"state": "queued", "at": iso(at(0)), "detail": ""},
        {"state": "sending", "at": iso(at(1)), "detail": ""},
        {"state": "queued", "at": iso(at(2)), "detail": "attempt 1: timeout (will retry)"},
    ]
    missing = viewer.get("/api/v1/messages/999999")
    assert missing.status_code == 404
    assert missing.json() == api_error("message_not_found", "No such message.")


def test_detail_of_a_delivered_message_lists_each_tick(alpha):
    profile = connected(alpha)
    with tenant_context(alpha.tenant):
        message = ledger.message_enqueue(to=TO, text="Hello", region="IN", profile=profile, kick=False).message
        [claim] = ledger.messages_claim(profile_id=profile.id, holder="test-host")
        ledger.message_mark_sent(message_id=message.id, claim_token=claim.claim_token, wa_message_id="wa-1")
        ledger.message_mark_ack(profile_id=profile.id, wa_message_id="wa-1", state="delivered", at=at(9))
        pin_times(message.id, queued_at=0, sending_at=1, sent_at=4)

    body = jwt_client(alpha).get(f"/api/v1/messages/{message.id}").json()

    assert (body["state"], body["sent_at"], body["delivered_at"], body["read_at"]) == (
        "delivered",
        iso(at(4)),
        iso(at(9)),
        None,
    )
    assert [(item["state"], item["at"]) for item in body["history"]] == [
        ("queued", iso(at(0))),
        ("sending", iso(at(1))),
        ("sent", iso(at(4))),
        ("delivered", iso(at(9))),
    ]


def test_list_filters_by_state_profile_and_recipient(alpha):
    first = connected(alpha, "First")
    second = connected(alpha, "Second")
    with tenant_context(alpha.tenant):
        a = ledger.message_enqueue(to=TO, text="a", region="IN", profile=first, kick=False).message
        b = ledger.message_enqueue(to="+919812345678", text="b", region="IN", profile=first, kick=False).message
        c = ledger.message_enqueue(to=TO, text="c", region="IN", profile=second, kick=False).message
        OutboundMessage.objects.filter(id=b.id).update(state="failed")
    client = jwt_client(alpha, member(alpha, Role.VIEWER))

    def ids(**params) -> list[int]:
        response = client.get("/api/v1/messages", params)
        assert response.status_code == 200
        return [item["id"] for item in response.json()["results"]]

    assert ids() == [c.id, b.id, a.id]
    assert ids(state="queued") == [c.id, a.id]
    assert ids(state="failed") == [b.id]
    assert ids(profile=first.id) == [b.id, a.id]
    assert ids(to="098765 43210") == [c.id, a.id]
    assert ids(to=TO, profile=second.id) == [c.id]


@pytest.mark.parametrize(
    ("params", "code"),
    [({"state": "lost"}, "invalid"), ({"profile": "abc"}, "invalid"), ({"to": "12"}, "invalid_number")],
)
def test_bad_list_filters_are_a_400(alpha, params, code):
    response = jwt_client(alpha).get("/api/v1/messages", params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_list_pages_with_a_cursor(alpha):
    profile = connected(alpha)
    with tenant_context(alpha.tenant):
        made = [
            ledger.message_enqueue(to=TO, text=f"m{n}", region="IN", profile=profile, kick=False).message.id
            for n in range(5)
        ]
    client = jwt_client(alpha)

    seen: list[int] = []
    url = "/api/v1/messages?page_size=2"
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen += [item["id"] for item in response.json()["results"]]
        url = response.json()["next"]
        pages += 1

    assert seen == sorted(made, reverse=True)
    assert pages == 3


def test_viewers_cannot_send(alpha):
    connected(alpha)
    for client in (jwt_client(alpha, member(alpha, Role.VIEWER)), key_client(alpha, Role.VIEWER)):
        response = send(client, {"to": TO, "text": "Hi"}, key="viewer-try")

        assert response.status_code == 403
        assert response.json() == api_error("role_required", "This needs the Agent role or higher.")
    assert rows(alpha) == []


def test_an_agent_api_key_sends(alpha):
    connected(alpha)

    response = send(key_client(alpha, Role.AGENT), {"to": TO, "text": "From the CRM"}, key="crm-1")

    assert response.status_code == 202
    assert [row.idempotency_key for row in rows(alpha)] == ["crm-1"]


def test_api_keys_stop_sending_when_the_plan_has_no_api_access(alpha):
    connected(alpha)
    client = key_client(alpha, Role.AGENT)
    change_plan(alpha, "pro")

    response = send(client, {"to": TO, "text": "Hi"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "plan_feature_missing"
    assert rows(alpha) == []


@pytest.mark.parametrize(
    ("method", "path"), [("get", "/api/v1/messages"), ("post", "/api/v1/messages"), ("get", "/api/v1/messages/1")]
)
def test_without_credentials_messages_are_a_401(alpha, method, path):
    connected(alpha)
    client = Client(HTTP_HOST=alpha.host)

    response = send(client, {"to": TO, "text": "Hi"}) if method == "post" else client.get(path)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert rows(alpha) == []


def test_beta_cannot_read_or_send_as_alpha(alpha, beta):
    profile = connected(alpha)
    with tenant_context(alpha.tenant):
        message = ledger.message_enqueue(to=TO, text="Alpha secret", region="IN", profile=profile, kick=False).message

    for client in (jwt_client(beta, host=alpha.host), key_client(beta, Role.ADMIN, host=alpha.host)):
        read = client.get(f"/api/v1/messages/{message.id}")
        listed = client.get("/api/v1/messages")
        sent = send(client, {"to": TO, "text": "Injected", "profile": profile.id})
        assert (read.status_code, listed.status_code, sent.status_code) == (401, 401, 401)
        assert "Alpha secret" not in read.content.decode() + listed.content.decode()

    on_beta = jwt_client(beta)
    assert on_beta.get(f"/api/v1/messages/{message.id}").status_code == 404
    assert on_beta.get("/api/v1/messages").json()["results"] == []
    assert [row.body for row in rows(alpha)] == ["Alpha secret"]


def test_idempotency_keys_belong_to_one_workspace(alpha, beta):
    connected(alpha)
    connected(beta)
    payload = {"to": TO, "text": "Hi"}

    on_alpha = send(jwt_client(alpha), payload, key="shared-key")
    on_beta = send(jwt_client(beta), {"to": TO, "text": "Different"}, key="shared-key")

    assert (on_alpha.status_code, on_beta.status_code) == (202, 202)
    assert on_beta.has_header("Idempotent-Replayed") is False
    assert [row.body for row in rows(alpha)] == ["Hi"]
    assert [row.body for row in rows(beta)] == ["Different"]


def test_the_api_docs_describe_messages_with_the_idempotency_header():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    post = schema["paths"]["/api/v1/messages"]["post"]
    assert [(p["in"], p["name"]) for p in post["parameters"]] == [("header", "Idempotency-Key")]
    assert set(post["responses"]) == {"202", "400", "401", "403", "409"}
    listing = schema["paths"]["/api/v1/messages"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"cursor", "page_size", "state", "profile", "to"}
    detail = schema["components"]["schemas"]["MessageDetail"]["properties"]
    assert detail["history"]["type"] == "array"
