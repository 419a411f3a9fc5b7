"""WhatsApp numbers: create, configure, link by QR, log out, and every status change (which is
pushed live to the tenant's browsers on `profile.<id>` and `notifications`)."""

from __future__ import annotations

import base64
import io
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import segno
from django.db import connection, transaction
from django.utils import timezone

from apps.billing.services import QuotaAction, quota_require
from apps.core.exceptions import NotFound, ValidationFailed
from apps.core.realtime.publish import publish
from apps.senders import coordination
from apps.senders.driver.browser import parse_proxy
from apps.senders.models import PacingPreset, SenderProfile

logger = logging.getLogger(__name__)

# Rate-limit backoff: 15 min, 1 h, 4 h, then 24 h per further strike.
RATE_LIMIT_BACKOFF_S = [15 * 60, 60 * 60, 4 * 60 * 60, 24 * 60 * 60]
# Strikes are forgiven after this long of sending without a rate limit (a clean send window),
# so an old incident does not make the next pause a day long.
RATE_LIMIT_FORGIVE_S = 6 * 60 * 60
STRIKES_KEY_TTL_S = 30 * 24 * 60 * 60
# The latest QR payload of a profile is kept this long for the API's PNG endpoint.
QR_TTL_S = 60

EDITABLE_FIELDS = (
    "label",
    "pacing_preset",
    "pacing_min_s",
    "pacing_max_s",
    "batch_size",
    "batch_pause_s",
    "daily_cap",
    "warmup_enabled",
    "warmup_started_on",
    "warmup_ramp",
    "quiet_hours_start",
    "quiet_hours_end",
    "per_contact_daily_cap",
)


def _tenant():
    return connection.tenant


def profile_get(*, profile_id: int) -> SenderProfile:
    profile = SenderProfile.objects.filter(id=profile_id).first()
    if profile is None:
        raise NotFound("No such WhatsApp number.", code="profile_not_found")
    return profile


def _kick_after_commit(profile_id: int) -> None:
    from apps.senders import tasks

    schema = connection.schema_name
    transaction.on_commit(lambda: tasks.profile_kick(profile_id, schema=schema))


def _validate(profile: SenderProfile) -> None:
    if profile.pacing_preset == PacingPreset.CUSTOM and profile.pacing_max_s < profile.pacing_min_s:
        raise ValidationFailed("The maximum gap must not be below the minimum.", code="invalid_pacing")
    if profile.pacing_preset == PacingPreset.CUSTOM and profile.pacing_max_s <= 0:
        raise ValidationFailed("A custom gap needs a maximum above zero.", code="invalid_pacing")
    ramp = profile.warmup_ramp or []
    if not isinstance(ramp, list) or not all(isinstance(n, int) and n > 0 for n in ramp):
        raise ValidationFailed("The warm-up ramp is a list of positive daily caps.", code="invalid_warmup")
    if (profile.quiet_hours_start is None) != (profile.quiet_hours_end is None):
        raise ValidationFailed("Quiet hours need both a start and an end.", code="invalid_quiet_hours")


def profile_create(*, label: str, proxy_url: str = "", link: bool = True, **settings: Any) -> SenderProfile:
    """Add a WhatsApp number (within the plan's limit). With `link`, a sender worker opens
    WhatsApp Web for it and its QR code appears live on the page."""
    tenant = _tenant()
    quota_require(tenant=tenant, action=QuotaAction.ADD_NUMBER, current=SenderProfile.objects.count())
    profile = SenderProfile(label=label.strip() or "WhatsApp number")
    """Change a number's settings. A refused change leaves `profile` as it was stored."""
    unknown = set(settings) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown setting {sorted(unknown)[0]!r}.", code="invalid_field")
    stored = {field: getattr(profile, field) for field in [*settings, "proxy_encrypted"]}
    try:
        for field, value in settings.items():
            setattr(profile, field, value)
        _set_proxy(profile, proxy_url)
        _validate(profile)
    except ValidationFailed:
        for field, value in stored.items():
            setattr(profile, field, value)
        raise
    with transaction.atomic():
        profile.status = SenderProfile.Status.WAITING_FOR_QR if link else SenderProfile.Status.NEW
        profile.save()
        if link:
            _kick_after_commit(profile.id)
    logger.info("profile.created", extra={"profile_id": profile.id})
    return profile


def _set_proxy(profile: SenderProfile, proxy_url: str | None) -> None:
    if proxy_url is None:
        return
    try:
        parse_proxy(proxy_url)
    except ValueError as exc:
        raise ValidationFailed(str(exc), code="invalid_proxy") from exc
    profile.proxy_url = proxy_url


def profile_update(*, profile: SenderProfile, proxy_url: str | None = None, **settings: Any) -> SenderProfile:
    """Change a number's settings. A refused change leaves `profile` as it was stored."""
    unknown = set(settings) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown setting {sorted(unknown)[0]!r}.", code="invalid_field")
    stored = {field: getattr(profile, field) for field in [*settings, "proxy_encrypted"]}
    try:
        for field, value in settings.items():
            setattr(profile, field, value)
        _set_proxy(profile, proxy_url)
        _validate(profile)
    except ValidationFailed:
        for field, value in stored.items():
            setattr(profile, field, value)
        raise
    fields = [*settings.keys(), "updated_at"] + (["proxy_encrypted"] if proxy_url is not None else [])
    profile.save(update_fields=fields)
    return profile


def profile_link(*, profile: SenderProfile) -> SenderProfile:
    """(Re)start linking: a worker opens WhatsApp Web and shows its QR code."""
    if profile.status == SenderProfile.Status.BANNED:
        raise ValidationFailed("This number is banned by WhatsApp.", code="profile_banned")
    with transaction.atomic():
        profile_set_status(profile=profile, status=SenderProfile.Status.WAITING_FOR_QR, detail="")
        _kick_after_commit(profile.id)
    return profile


def profile_logout(*, profile: SenderProfile) -> SenderProfile:
    """Forget the session: the browser closes and a new QR scan is needed to send again."""
    with transaction.atomic():
        profile.session_state = None
        profile.session_saved_at = None
        profile.save(update_fields=["session_state_encrypted", "session_saved_at", "updated_at"])
        profile_set_status(profile=profile, status=SenderProfile.Status.LOGGED_OUT, detail="Logged out by a user")
    return profile


def profile_delete(*, profile: SenderProfile) -> None:
    from apps.senders.models import MessageState

    with transaction.atomic():
        # The row lock makes a concurrent enqueue for this profile wait (its foreign key check
        # needs the row), so no message can be queued between the check and the delete.
        SenderProfile.objects.select_for_update().filter(id=profile.id).first()
        if profile.messages.filter(state__in=[MessageState.QUEUED, MessageState.SENDING]).exists():
            raise ValidationFailed("This number still has messages to send; cancel them first.", code="profile_busy")
        profile.messages.update(profile=None)
        profile.delete()


# --- status, as seen by the driver --------------------------------------------------------------


def profile_status_event(profile: SenderProfile) -> dict[str, Any]:
    return {
        "kind": "profile.status",
        "profile_id": profile.id,
        "status": profile.status,
        "status_label": str(profile.get_status_display()),
        "detail": profile.status_detail,
        "phone": profile.phone,
        "paused_until": profile.paused_until.isoformat() if profile.paused_until else None,
    }


# Status changes worth a toast in every open page of the tenant.
NOTIFY_STATUSES = {
    SenderProfile.Status.CONNECTED: "info",
    SenderProfile.Status.LOGGED_OUT: "warning",
    SenderProfile.Status.RATE_LIMITED: "warning",
    SenderProfile.Status.BANNED: "error",
    SenderProfile.Status.FAILED: "error",
}


def profile_set_status(
    *, profile: SenderProfile, status: str, detail: str = "", extra_fields: dict[str, Any] | None = None
) -> SenderProfile:
    previous = profile.status
    profile.status = status
    profile.status_detail = detail[:300]
    fields = ["status", "status_detail", "updated_at"]
    for name, value in (extra_fields or {}).items():
        setattr(profile, name, value)
        fields.append(name)
    profile.save(update_fields=fields)
    publish(f"profile.{profile.id}", profile_status_event(profile))
    publish("profiles", profile_status_event(profile))
    resumed = previous == SenderProfile.Status.CONNECTING and status == SenderProfile.Status.CONNECTED
    if status != previous and status in NOTIFY_STATUSES and not resumed:
        publish(
            "notifications",
            {
                "kind": "notification",
                "level": NOTIFY_STATUSES[status],
                "message": f"{profile.label}: {profile.get_status_display()}" + (f" — {detail}" if detail else ""),
            },
        )
    logger.info("profile.status", extra={"profile_id": profile.id, "status": status, "previous": previous})
    return profile


def profile_connected(*, profile_id: int, phone: str, state: bytes) -> SenderProfile:
    """WhatsApp Web shows the chats: store the session, and start warm-up when this is a new
    link (a resumed session keeps its warm-up as it was)."""
    profile = profile_get(profile_id=profile_id)
    linked_now = profile.status in (SenderProfile.Status.NEW, SenderProfile.Status.WAITING_FOR_QR)
    now = timezone.now()
    extra: dict[str, Any] = {
        "session_state_encrypted": None,
        "session_saved_at": now,
        "last_activity_at": now,
        "rate_limit_strikes": profile.rate_limit_strikes,
    }
    profile.session_state = state
    extra["session_state_encrypted"] = profile.session_state_encrypted
    if phone:
        extra["phone"] = "+" + phone.lstrip("+")
    if linked_now and profile.warmup_enabled and profile.warmup_started_on is None:
        extra["warmup_started_on"] = timezone.localdate()
    coordination.client().delete(qr_key(connection.schema_name, profile_id))
    return profile_set_status(profile=profile, status=SenderProfile.Status.CONNECTED, detail="", extra_fields=extra)


# Statuses of a profile whose browser session is still its own: only these save state on park.
# (A logged-out or unlinked profile must never get a session back without a new QR scan.)
SESSION_STATUSES = (
    SenderProfile.Status.CONNECTED,
    SenderProfile.Status.CONNECTING,
    SenderProfile.Status.RATE_LIMITED,
)


def profile_session_save(*, profile_id: int, state: bytes, lease_host: str = "") -> bool:
    """Store the browser's session state (encrypted) — unless the profile was logged out or
    unlinked meanwhile: one conditional UPDATE, so a logout racing a park always wins. Returns
    whether it was stored."""
    profile = SenderProfile(id=profile_id)
    profile.session_state = state
    now = timezone.now()
    return bool(
        SenderProfile.objects.filter(id=profile_id, status__in=SESSION_STATUSES).update(
            session_state_encrypted=profile.session_state_encrypted,
            session_saved_at=now,
            last_activity_at=now,
            lease_host=lease_host,
        )
    )


def profile_connecting(*, profile_id: int) -> SenderProfile:
    """A driver is opening the stored session (status `connecting` until the page shows the
    chats, or the QR code when the device was unlinked)."""
    return profile_set_status(profile=profile_get(profile_id=profile_id), status=SenderProfile.Status.CONNECTING)


def profile_connecting_abandoned(*, profile_id: int) -> None:
    """The driver stopped before the stored session opened (browser failure, host shutting
    down): the session is not known to be bad, so the profile is connected again and the
    dispatcher retries it."""
    profile = profile_get(profile_id=profile_id)
    if profile.status == SenderProfile.Status.CONNECTING:
        profile_set_status(
            profile=profile, status=SenderProfile.Status.CONNECTED, detail="WhatsApp Web could not be opened; retrying."
        )


def profile_unlinked(*, profile_id: int, detail: str) -> SenderProfile:
    """WhatsApp Web asks for a QR scan again (the phone removed the device): forget the session
    and tell the tenant."""
    with transaction.atomic():
        profile = SenderProfile.objects.select_for_update().get(id=profile_id)
        profile.session_state = None
        profile.session_saved_at = None
        profile.save(update_fields=["session_state_encrypted", "session_saved_at", "updated_at"])
        return profile_set_status(profile=profile, status=SenderProfile.Status.LOGGED_OUT, detail=detail)


def profile_lease_note(*, profile_id: int, host: str, expires_at: datetime | None) -> None:
    SenderProfile.objects.filter(id=profile_id).update(lease_host=host, lease_expires_at=expires_at)


def strikes_key(schema: str, profile_id: int) -> str:
    """Redis: when the profile's last rate-limit pause ends (epoch seconds)."""
    return f"strikes:{schema}:{profile_id}:clean_from"


def profile_rate_limited(*, profile_id: int, detail: str) -> SenderProfile:
    """Pause with growing backoff and tell the tenant."""
    profile = profile_get(profile_id=profile_id)
    strikes = profile.rate_limit_strikes + 1
    backoff = RATE_LIMIT_BACKOFF_S[min(strikes, len(RATE_LIMIT_BACKOFF_S)) - 1]
    coordination.pacing_push_back(schema=connection.schema_name, profile_id=profile_id, delay_s=backoff)
    pause_s = backoff * coordination.time_scale()
    coordination.client().set(
        strikes_key(connection.schema_name, profile_id), time.time() + pause_s, ex=STRIKES_KEY_TTL_S
    )
    return profile_set_status(
        profile=profile,
        status=SenderProfile.Status.RATE_LIMITED,
        detail=detail,
        extra_fields={"rate_limit_strikes": strikes, "paused_until": timezone.now() + timedelta(seconds=pause_s)},
    )


def profile_strikes_forgive(*, profile_id: int) -> bool:
    """Called after successful sends by a profile with rate-limit strikes: once it has sent
    without a rate limit for RATE_LIMIT_FORGIVE_S since its last pause ended, the backoff starts
    over from the shortest pause. Returns whether the strikes were reset."""
    key = strikes_key(connection.schema_name, profile_id)
    redis_client = coordination.client()
    clean_from = redis_client.get(key)
    now = time.time()
    if clean_from is None:
        # No record (Redis lost it): start the clean window now rather than forgive at once.
        redis_client.set(key, now, ex=STRIKES_KEY_TTL_S, nx=True)
        return False
    if now - float(clean_from) < RATE_LIMIT_FORGIVE_S * coordination.time_scale():
        return False
    reset = SenderProfile.objects.filter(id=profile_id, rate_limit_strikes__gt=0).update(rate_limit_strikes=0)
    redis_client.delete(key)
    if reset:
        logger.info("profile.rate_limit_strikes_reset", extra={"profile_id": profile_id})
    return bool(reset)


def profile_resume_after_pause(*, profile: SenderProfile) -> SenderProfile:
    """A rate-limited profile whose pause is over goes back to connected."""
    return profile_set_status(
        profile=profile, status=SenderProfile.Status.CONNECTED, detail="", extra_fields={"paused_until": None}
    )


# --- QR codes ------------------------------------------------------------------------------------


def qr_key(schema: str, profile_id: int) -> str:
    return f"qr:{schema}:{profile_id}"


def qr_png(payload: str, *, scale: int = 6) -> bytes:
    buffer = io.BytesIO()
    segno.make(payload, error="l").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def profile_qr_update(*, profile_id: int, payload: str) -> None:
    """A new QR code is on screen: keep it for the API and push it to open pages."""
    coordination.client().set(qr_key(connection.schema_name, profile_id), payload, ex=QR_TTL_S)
    data_url = "data:image/png;base64," + base64.b64encode(qr_png(payload)).decode()
    publish(f"profile.{profile_id}", {"kind": "profile.qr", "profile_id": profile_id, "png": data_url})


def profile_qr_current(*, profile_id: int) -> str | None:
    value = coordination.client().get(qr_key(connection.schema_name, profile_id))
    return value.decode() if value else None


@dataclass(frozen=True)
class ProfileRuntime:
    """What the driver needs, read once from the database."""

    id: int
    status: str
    storage_state: bytes | None
    proxy_url: str
