"""Materialization: a run's audience becomes ledger rows, one per recipient, in one transaction.

The audience is selected, de-duplicated and classified in SQL (one statement over
`contacts_contact`, read out with COPY TO): each distinct contact once, with why it gets no
message (opted out, consent revoked, suppressed number) decided by the database. Python only
renders the personalised text — which SQL cannot, placeholders and spintax being ours — and
picks the sender number, in a streaming loop whose lines go into the ledger through one COPY
FROM (psycopg 3, a writer thread), so PostgreSQL writes rows while the next are rendered.
Nothing is built per row in the ORM; the audience is held as CSV text (about 60 MB per
million recipients) between the two COPYs, which one connection cannot run at once.

Every contact of the audience gets exactly one row (the ledger is the per-recipient record):
- `queued` with its number (rotation), personalised text and the template's attachment (its
  storage name in `media`, sent with the text as its caption);
- `skipped_opted_out` (error_code opted_out or consent_revoked) or `skipped_suppressed`
  (error_code suppressed), never sent, no number;
- `failed` with error_code text_too_long when its personalised text passes WhatsApp's limit.
A contact matched through several selected groups is one recipient; the extra matches are
counted as `duplicates` on the run. The run's rows are the campaign's ledger rows with ids in
[first_message_id, last_message_id] (ids come from the ledger's sequence; the run reserves the
value before its first row and reads its own last one after).
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from apps.campaigns import rendering
from apps.campaigns.models import Campaign, CampaignRun
from apps.campaigns.services import audience, progress
from apps.campaigns.services.campaigns import current_tenant
from apps.campaigns.services.lifecycle import usable_senders
from apps.campaigns.services.rotation import assigner
from apps.senders.models import MessageState
from apps.senders.services.ledger import MAX_BODY_CHARS

logger = logging.getLogger(__name__)

# Lines handed to the COPY writer thread at a time: PostgreSQL writes them while the next are
# rendered.
WRITE_LINES = 2_000
LEDGER_TABLE = "senders_outboundmessage"
COPY_COLUMNS = (
    "profile_id",
    "to_number",
    "body",
    "campaign_id",
    "recipient_ref",
    "state",
    "attempts",
    "claimed_by",
    "error_code",
    "error_detail",
    "wa_message_id",
    "request_fingerprint",
    "created_at",
    "queued_at",
    "failed_at",
    "media",
)
_SKIP_STATES = {
    audience.SKIP_OPTED_OUT: MessageState.SKIPPED_OPTED_OUT,
    audience.SKIP_CONSENT_REVOKED: MessageState.SKIPPED_OPTED_OUT,
    audience.SKIP_SUPPRESSED: MessageState.SKIPPED_SUPPRESSED,
}


@dataclass(frozen=True)
class Materialized:
    recipients: int
    queued: int
    skipped_opted_out: int
    skipped_suppressed: int
    too_long: int
    first_id: int | None
    last_id: int | None
    profiles: tuple[int, ...]


def _audience_sql(campaign: Campaign, fields: tuple[str, ...], zone) -> tuple[str, list]:
    spec = audience.campaign_audience_spec(campaign)
    where, where_params = audience.audience_where(spec, zone=zone)
    columns, column_params = [], []
    for key in fields:
        sql, params = rendering.field_sql(key)
        columns.append(sql)
        column_params.extend(params)
    select = ", ".join(["c.id", "c.phone", audience.SKIP_REASON_SQL, *columns])
    # ORDER BY id: rows are written (and so sent, per number) in the order contacts were added.
    sql = f"SELECT {select} FROM contacts_contact c WHERE {where} ORDER BY c.id"  # noqa: S608 - params below
    return sql, [*column_params, *where_params]


# COPY text format: a value with one of these characters is written escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_escape(text: str) -> str:
    # Rare in messages; testing first is several times cheaper than always translating.
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _audience_read(sql: str, params: list) -> list[bytes]:
    """The whole audience as CSV (id, phone, skip reason, the template's values), read with one
    COPY TO: far cheaper per row than a cursor's fetches, and it leaves the connection free for
    one uninterrupted COPY into the ledger. About 60 bytes a recipient (60 MB per million)."""
    with connection.cursor() as cursor:
        # A plan this simple gains nothing from JIT compilation, which costs a tenth of a second.
        cursor.execute("SET LOCAL jit = off")
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy,
    ):
        return [bytes(block) for block in copy]


def _audience_rows(blocks: list[bytes]) -> Iterator[list[str]]:
    """CSV rows from the COPY TO blocks; NULL and empty both read as "" (the values are NULL
    when empty, never "", and the id and phone are never empty)."""
    text = b"".join(blocks).decode()
    blocks.clear()
    return csv.reader(io.StringIO(text))


def _run_media(campaign: Campaign) -> str:
    """The attachment the run's messages carry: its template's media (storage name, read when the
    run is written, like the template's text), "" for text only."""
    if campaign.template_id is None:
        return ""
    return campaign.template.media.name or ""


def _copy_rows(
    *,
    campaign: Campaign,
    compiled: rendering.CompiledTemplate,
    pick,
    sql: str,
    params: list,
    paused: bool,
    media: str = "",
) -> Materialized:
    """Read the audience, render and COPY into the ledger. Runs inside the caller's transaction.
    Every queued row carries `media` (one value for the whole run); rows that are never sent
    carry none.

    Lines are formatted here (COPY text format) and handed in batches to a writer thread
    (QueuedLibpqWriter), so rendering overlaps with PostgreSQL writing the lines before."""
    raw = connection.connection
    now = timezone.now().isoformat()
    queued_state = str(MessageState.HELD if paused else MessageState.QUEUED)
    skip_states = {reason: str(state) for reason, state in _SKIP_STATES.items()}
    campaign_id = campaign.id
    render = compiled.render
    spins = compiled.has_spintax
    seed_of = rendering.recipient_seed
    escape = _copy_escape
    failed = str(MessageState.FAILED)
    media = escape(media)
    recipients = queued = opted_out = suppressed = too_long = 0
    profiles: set[int] = set()
    copy_sql = f"COPY {LEDGER_TABLE} ({', '.join(COPY_COLUMNS)}) FROM STDIN"
    blocks = _audience_read(sql, params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [LEDGER_TABLE])
        reserved = cursor.fetchone()[0]
    with raw.cursor() as writer_cursor, writer_cursor.copy(copy_sql, writer=QueuedLibpqWriter(writer_cursor)) as copy:
        lines: list[str] = []
        add = lines.append
        for row in _audience_rows(blocks):
            contact_id, phone, skip = row[0], row[1], row[2]
            # An empty value ("" here) takes the fallback exactly like None does.
            body = render(row[3:], seed_of(campaign_id, phone) if spins else 0)
            recipients += 1
            if skip:
                state = skip_states[skip]
                if skip == audience.SKIP_SUPPRESSED:
                    suppressed += 1
                else:
                    opted_out += 1
                add(
                    f"\\N\t{phone}\t{escape(body)}\t{campaign_id}\t{contact_id}\t{state}\t0\t\t{skip}\t\t\t\t"
                    f"{now}\t\\N\t{now}\t\n"
                )
            elif len(body) > MAX_BODY_CHARS:
                too_long += 1
                detail = f"The personalised text has {len(body)} characters; the limit is {MAX_BODY_CHARS}."
                add(
                    f"\\N\t{phone}\t{escape(body[:MAX_BODY_CHARS])}\t{campaign_id}\t{contact_id}\t{failed}\t0\t\t"
                    f"text_too_long\t{detail}\t\t\t{now}\t\\N\t{now}\t\n"
                )
            else:
                profile_id = pick(phone)
                profiles.add(profile_id)
                queued += 1
                add(
                    f"{profile_id}\t{phone}\t{escape(body)}\t{campaign_id}\t{contact_id}\t{queued_state}\t0\t\t\t\t\t\t"
                    f"{now}\t{now}\t\\N\t{media}\n"
                )
            if len(lines) >= WRITE_LINES:
                copy.write("".join(lines))
                lines.clear()
        copy.write("".join(lines))
    last = None
    if recipients:
        with connection.cursor() as cursor:
            cursor.execute("SELECT currval(pg_get_serial_sequence(%s, 'id'))", [LEDGER_TABLE])
            last = cursor.fetchone()[0]
    return Materialized(
        recipients=recipients,
        queued=queued,
        skipped_opted_out=opted_out,
        skipped_suppressed=suppressed,
        too_long=too_long,
        first_id=reserved + 1 if recipients else None,
        last_id=last,
        profiles=tuple(sorted(profiles)),
    )


def _quota_note(tenant, queued: int) -> str:
    """Say so when the run is larger than what the plan has left (it will pause at the limit)."""
    from apps.billing import selectors as billing_selectors

    subscription = getattr(tenant, "subscription", None)
    if subscription is None or not queued:
        return ""
    usage = billing_selectors.usage_messages(tenant=tenant)
    plan = subscription.plan
    month_left = max(plan.messages_per_month - usage.month, 0)
    day_left = max(plan.messages_per_day - usage.today, 0)
    if queued > month_left:
        return (
            f"{queued} messages to send and {month_left} left on the plan this month: the campaign pauses "
            "when the monthly limit is reached."
        )
    if queued > day_left:
        return (
            f"{queued} messages to send and {day_left} left today: sending pauses at the daily limit and "
            "resumes tomorrow."
        )
    return ""


def run_materialize(*, run_id: int) -> CampaignRun | None:
    """Write the run's ledger rows (idempotent: a materialized, cancelled or failed run is left
    alone). Holds the campaign's row lock throughout, so a pause or cancel waits for the rows to
    exist and then applies to all of them. Returns the run (None when it is gone)."""
    from apps.campaigns import tasks

    started = time.perf_counter()
    tenant = current_tenant()
    with transaction.atomic():
        run = CampaignRun.objects.filter(id=run_id).first()
        if run is None:
            logger.info("campaign.run_gone", extra={"run_id": run_id})
            return None
        campaign = Campaign.objects.select_for_update().get(id=run.campaign_id)
        run = CampaignRun.objects.select_for_update().get(id=run_id)
        if run.is_materialized or run.state not in (CampaignRun.State.RUNNING, CampaignRun.State.PAUSED):
            return run
        compiled = rendering.template_compile(run.body)
        senders = usable_senders(campaign)
        if not senders:
            raise NoSender()
        pick = assigner(campaign.rotation, [(s.profile_id, s.weight) for s in senders])
        zone = tenant.zone
        sql, params = _audience_sql(campaign, compiled.fields, zone)
        result = _copy_rows(
            campaign=campaign,
            compiled=compiled,
            pick=pick,
            sql=sql,
            params=params,
            paused=run.state == CampaignRun.State.PAUSED,
            media=_run_media(campaign),
        )
        group_count = campaign.groups.count()
        matches = result.recipients
        if group_count > 1 and not campaign.audience_all and result.recipients:
            spec = audience.campaign_audience_spec(campaign, everyone=False)
            matches = audience.audience_matches(spec, zone=zone)
        run.first_message_id, run.last_message_id = result.first_id, result.last_id
        run.recipients = result.recipients
        run.audience_matches, run.duplicates = matches, max(matches - result.recipients, 0)
        run.queued_initially = result.queued
        run.skipped_opted_out, run.skipped_suppressed = result.skipped_opted_out, result.skipped_suppressed
        run.skipped_too_long = result.too_long
        run.profile_ids = list(result.profiles)
        run.quota_note = _quota_note(tenant, result.queued)
        run.materialized_at = timezone.now()
        run.materialize_s = time.perf_counter() - started
        run.save(
            update_fields=[
                "first_message_id",
                "last_message_id",
                "recipients",
                "audience_matches",
                "duplicates",
                "queued_initially",
                "skipped_opted_out",
                "skipped_suppressed",
                "skipped_too_long",
                "profile_ids",
                "quota_note",
                "materialized_at",
                "materialize_s",
            ]
        )
        run = progress.run_rollup(run=run)
        progress.progress_publish(campaign, run)
        schema = connection.schema_name
        run_id, profile_ids = run.id, result.profiles
        transaction.on_commit(lambda: tasks.run_started(run_id, profile_ids, schema=schema))
    logger.info(
        "campaign.materialized",
        extra={
            "campaign_id": campaign.id,
            "run_id": run.id,
            "recipients": result.recipients,
            "queued": result.queued,
            "seconds": round(run.materialize_s, 3),
        },
    )
    return run


class NoSender(Exception):
    """No number of the campaign can send any more (all banned or removed since the start)."""
