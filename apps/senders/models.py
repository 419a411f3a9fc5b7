"""WhatsApp numbers (sender profiles), the outbound message ledger and captured inbound messages.
All in the tenant's schema."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core import crypto


class PacingPreset(models.TextChoices):
    FAST = "fast", _("Fast (2–5 s between messages)")
    BALANCED = "balanced", _("Balanced (5–10 s)")
    SAFE = "safe", _("Safe (10–30 s)")
    CUSTOM = "custom", _("Custom")
    OFF = "off", _("Off (testing only)")


# Seconds between two messages of one profile, drawn uniformly from (min, max).
PACING_PRESETS: dict[str, tuple[float, float]] = {
    PacingPreset.FAST: (2.0, 5.0),
    PacingPreset.BALANCED: (5.0, 10.0),
    PacingPreset.SAFE: (10.0, 30.0),
    PacingPreset.OFF: (0.0, 0.0),
}

# Daily caps for a new number's first days; the last value holds until warm-up ends.
DEFAULT_WARMUP_RAMP = [20, 40, 80, 150, 250, 400, 600]


def default_warmup_ramp() -> list[int]:
    return list(DEFAULT_WARMUP_RAMP)


class SenderProfile(models.Model):
    """One linked WhatsApp number: its browser session, pacing and live status."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        WAITING_FOR_QR = "waiting_for_qr", _("Waiting for QR scan")
        CONNECTING = "connecting", _("Connecting")
        CONNECTED = "connected", _("Connected")
        LOGGED_OUT = "logged_out", _("Logged out")
        RATE_LIMITED = "rate_limited", _("Rate limited")
        BANNED = "banned", _("Banned")
        FAILED = "failed", _("Failed")

    label = models.CharField(_("label"), max_length=100)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.NEW)
    status_detail = models.CharField(_("status detail"), max_length=300, blank=True)
    # Proxy URL (http://, https:// or socks5://, with credentials) — encrypted at rest.
    proxy_encrypted = models.BinaryField(null=True, blank=True, editable=False)

    pacing_preset = models.CharField(
        _("pacing"), max_length=16, choices=PacingPreset.choices, default=PacingPreset.BALANCED
    )
    pacing_min_s = models.FloatField(_("custom minimum gap (s)"), default=5.0, validators=[MinValueValidator(0)])
    pacing_max_s = models.FloatField(_("custom maximum gap (s)"), default=10.0, validators=[MinValueValidator(0)])
    batch_size = models.PositiveIntegerField(
        _("pause after every N messages"), default=50, help_text=_("0 turns batch pauses off.")
    )
    batch_pause_s = models.PositiveIntegerField(_("batch pause (s)"), default=300)
    daily_cap = models.PositiveIntegerField(_("daily cap"), default=500)
    warmup_enabled = models.BooleanField(_("warm-up"), default=True)
    warmup_started_on = models.DateField(_("warm-up started on"), null=True, blank=True)
    warmup_ramp = models.JSONField(_("warm-up daily caps"), default=default_warmup_ramp)
    quiet_hours_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_hours_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    per_contact_daily_cap = models.PositiveIntegerField(
        _("messages per contact per day"), default=3, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )

    # Playwright storage state (cookies + IndexedDB), encrypted, so any sender host can resume.
    session_state_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    session_saved_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    lease_host = models.CharField(_("driven by"), max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True)
    rate_limit_strikes = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.label} ({self.phone or self.get_status_display()})"

    # Encrypted fields -----------------------------------------------------------------------

    @property
    def proxy_url(self) -> str:
        return crypto.decrypt(self.proxy_encrypted).decode() if self.proxy_encrypted else ""

    @proxy_url.setter
    def proxy_url(self, value: str) -> None:
        self.proxy_encrypted = crypto.encrypt(value.encode()) if value else None

    @property
    def session_state(self) -> bytes | None:
        return crypto.decrypt(self.session_state_encrypted) if self.session_state_encrypted else None

    @session_state.setter
    def session_state(self, value: bytes | None) -> None:
        self.session_state_encrypted = crypto.encrypt(value) if value else None

    @property
    def pacing_gap_s(self) -> tuple[float, float]:
        if self.pacing_preset == PacingPreset.CUSTOM:
            low, high = sorted((self.pacing_min_s, self.pacing_max_s))
            return (low, high)
        return PACING_PRESETS[self.pacing_preset]

    @property
    def can_send(self) -> bool:
        return self.status == self.Status.CONNECTED


class MessageState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")
    INVALID_NUMBER = "invalid_number", _("Not on WhatsApp")
    SKIPPED_OPTED_OUT = "skipped_opted_out", _("Skipped: opted out")
    UNCERTAIN = "uncertain", _("Uncertain")
    # Campaign rows (apps.campaigns): a paused campaign's queued rows wait as `held` (not
    # claimable; resume puts them back to queued); a cancelled campaign's unsent rows end
    # `cancelled`; a number on the suppression list is recorded as `skipped_suppressed`.
    HELD = "held", _("Held: campaign paused")
    CANCELLED = "cancelled", _("Cancelled")
    SKIPPED_SUPPRESSED = "skipped_suppressed", _("Skipped: suppressed")


# States a message never leaves (except delivered/read ticks moving forward from sent).
FINAL_STATES = frozenset(
    {
        MessageState.SENT,
        MessageState.DELIVERED,
        MessageState.READ,
        MessageState.FAILED,
        MessageState.INVALID_NUMBER,
        MessageState.SKIPPED_OPTED_OUT,
        MessageState.UNCERTAIN,
        MessageState.CANCELLED,
        MessageState.SKIPPED_SUPPRESSED,
    }
)


class OutboundMessage(models.Model):
    """The ledger: one row per message to send. Workers claim rows with SELECT … FOR UPDATE SKIP
    LOCKED; a row is sent at most once (see apps.senders.services.ledger)."""

    # No index of its own: outbound_profile_to_sent (and outbound_claimable) lead with it, and a
    # campaign writes up to a million rows at a time, each paying for every index.
    profile = models.ForeignKey(
        SenderProfile, null=True, on_delete=models.PROTECT, related_name="messages", db_index=False
    )
    to_number = models.CharField(_("to"), max_length=20)
    body = models.TextField(_("text"))
    # An attachment sent with `body` as its caption: the file's name in default_storage (a
    # campaign's template media), "" for a text message. The database keeps the default too, so
    # bulk writers that do not name the column (COPY, INSERT … SELECT) write "".
    media = models.CharField(_("attachment"), max_length=300, blank=True, default="", db_default="")
    campaign_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    recipient_ref = models.CharField(max_length=64, blank=True)
    state = models.CharField(_("state"), max_length=20, choices=MessageState.choices, default=MessageState.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_detail = models.CharField(max_length=500, blank=True)
    wa_message_id = models.CharField(max_length=200, blank=True)
    # Unique among the rows that have one (outbound_idempotency_key_unique): campaign rows never
    # do. NULL, not "", means "no key", so the partial unique index leaves those rows out.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    request_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The claim query: a profile's due queued rows in id order.
            models.Index(
                fields=["profile", "id"],
                name="outbound_claimable",
                condition=models.Q(state="queued"),
            ),
            models.Index(fields=["state", "claimed_at"], name="outbound_state_claimed"),
            models.Index(fields=["profile", "to_number", "sent_at"], name="outbound_profile_to_sent"),
        ]
        constraints = [
            # A partial unique index (not a table constraint, which the template clone renames).
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="outbound_idempotency_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} → {self.to_number} ({self.state})"


class MessageEvent(models.Model):
    """History of one message: each state change with when and why."""

    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="events")
    state = models.CharField(max_length=20, choices=MessageState.choices)
    at = models.DateTimeField()
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.message_id} {self.state} @ {self.at}"


class InboundMessage(models.Model):
    """A message received on a linked number, captured by the driver (the inbox builds on it)."""

    profile = models.ForeignKey(SenderProfile, on_delete=models.CASCADE, related_name="inbound")
    chat = models.CharField(_("chat"), max_length=40)
    from_number = models.CharField(_("from"), max_length=20)
    sender_name = models.CharField(_("sender name"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    wa_message_id = models.CharField(max_length=200)
    received_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    is_opt_out = models.BooleanField(default=False)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "wa_message_id"], name="inbound_unique_profile_waid"),
        ]
        # A contact's conversation (contact page, inbox).
        indexes = [models.Index(fields=["from_number", "received_at"], name="inbound_from_received")]

    def __str__(self) -> str:
        return f"{self.from_number}: {self.body[:30]}"


class OptOutKeyword(models.Model):
    """Words that, sent alone by a contact, opt them out of every campaign at once. Editable per
    tenant; seeded with STOP and its common translations."""

    word = models.CharField(_("word"), max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["word"]

    def __str__(self) -> str:
        return self.word
