"""Analytics reads (selectors) for the portal: messages per day by state, campaign performance
and contact growth over the last 30 days, and one campaign's throughput over time.

Everything is one GROUP BY each, over a bounded window. The ledger has no index on created_at
(each index costs every campaign write); its ids grow with time, so the window's first id is
found by bisecting the primary key (about 20 index probes) and the read is an id range scan.
Days are the workspace's calendar days (its time zone)."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from apps.campaigns.models import Campaign, CampaignRun
from apps.campaigns.services.campaigns import current_tenant
from apps.campaigns.services.progress import FAILED_STATES, SENT_STATES, run_rows
from apps.contacts.models import Contact
from apps.senders.models import MessageState, OutboundMessage

WINDOW_DAYS = 30
# Buckets of a campaign's throughput chart: minutes for short runs, then hours, then days.
MINUTE_BUCKETS_UP_TO = datetime.timedelta(hours=3)
HOUR_BUCKETS_UP_TO = datetime.timedelta(days=7)
CAMPAIGNS_SHOWN = 20
DELIVERED_STATES = (MessageState.DELIVERED, MessageState.READ)


def _zone() -> zoneinfo.ZoneInfo:
    return current_tenant().zone


def _window(
    now: datetime.datetime, zone: zoneinfo.ZoneInfo, days: int
) -> tuple[list[datetime.date], datetime.datetime]:
    """The last `days` local days (oldest first, today last) and the moment the first one began."""
    today = timezone.localtime(now, zone).date()
    dates = [today - datetime.timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    start = datetime.datetime.combine(dates[0], datetime.time.min, tzinfo=zone)
    return dates, start


def ledger_first_id_since(moment: datetime.datetime) -> int | None:
    """The smallest ledger id created at or after `moment` (ids grow with created_at): a bisection
    over the primary key, one index probe per step."""

    def first_from(lowest: int) -> tuple[int, datetime.datetime]:
        return OutboundMessage.objects.filter(id__gte=lowest).order_by("id").values_list("id", "created_at").first()

    last = OutboundMessage.objects.order_by("-id").values_list("id", "created_at").first()
    if last is None or last[1] < moment:
        return None
    low, high = 0, last[0]
    while low < high:
        middle = (low + high) // 2
        row_id, created_at = first_from(middle)
        if created_at >= moment:
            high = middle
        else:
            low = row_id + 1
    return first_from(low)[0]


@dataclass(frozen=True)
class DailyStates:
    dates: list[datetime.date]
    # state -> one count per date (same order as dates); only states that occur.
    series: dict[str, list[int]]


def messages_per_day(*, now: datetime.datetime | None = None, days: int = WINDOW_DAYS) -> DailyStates:
    """Ledger messages created on each of the last `days` local days, by their current state."""
    zone = _zone()
    dates, start = _window(now or timezone.now(), zone, days)
    first_id = ledger_first_id_since(start)
    series: dict[str, list[int]] = {}
    if first_id is not None:
        index = {day: i for i, day in enumerate(dates)}
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (created_at AT TIME ZONE %s)::date AS day, state, count(*) FROM senders_outboundmessage "
                "WHERE id >= %s AND created_at >= %s GROUP BY day, state",
                [zone.key, first_id, start],
            )
            for day, state, count in cursor.fetchall():
                if day in index:
                    series.setdefault(state, [0] * len(dates))[index[day]] = count
    return DailyStates(dates=dates, series=dict(sorted(series.items())))


@dataclass(frozen=True)
class CampaignPerformance:
    campaign_id: int
    name: str
    state: str
    state_label: str
    messages: int
    sent: int
    delivered: int
    failed: int
    skipped: int

    @property
    def delivery_rate(self) -> float | None:
        return round(100 * self.delivered / self.sent, 1) if self.sent else None

    @property
    def failure_rate(self) -> float | None:
        attempted = self.sent + self.failed
        return round(100 * self.failed / attempted, 1) if attempted else None


SKIPPED_STATES = (MessageState.SKIPPED_OPTED_OUT, MessageState.SKIPPED_SUPPRESSED)


def campaign_performance(
    *, now: datetime.datetime | None = None, days: int = WINDOW_DAYS, limit: int = CAMPAIGNS_SHOWN
) -> list[CampaignPerformance]:
    """Campaigns with ledger rows in the window (most messages first): rows by outcome."""
    _dates, start = _window(now or timezone.now(), _zone(), days)
    first_id = ledger_first_id_since(start)
    if first_id is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT campaign_id, state, count(*) FROM senders_outboundmessage "
            "WHERE id >= %s AND created_at >= %s AND campaign_id IS NOT NULL GROUP BY campaign_id, state",
            [first_id, start],
        )
        counts: dict[int, dict[str, int]] = {}
        for campaign_id, state, count in cursor.fetchall():
            counts.setdefault(campaign_id, {})[state] = count
    campaigns = {c.id: c for c in Campaign.objects.filter(id__in=counts).only("id", "name", "state")}
    rows = []
    for campaign_id, by_state in counts.items():
        campaign = campaigns.get(campaign_id)
        if campaign is None:
            continue
        rows.append(
            CampaignPerformance(
                campaign_id=campaign_id,
                name=campaign.name,
                state=campaign.state,
                state_label=str(campaign.get_state_display()),
                messages=sum(by_state.values()),
                sent=sum(by_state.get(s, 0) for s in SENT_STATES),
                delivered=sum(by_state.get(s, 0) for s in DELIVERED_STATES),
                failed=sum(by_state.get(s, 0) for s in FAILED_STATES),
                skipped=sum(by_state.get(s, 0) for s in SKIPPED_STATES),
            )
        )
    rows.sort(key=lambda row: (-row.messages, -row.campaign_id))
    return rows[:limit]


@dataclass(frozen=True)
class ContactGrowth:
    dates: list[datetime.date]
    added: list[int]
    # Contacts in the workspace at the end of each day.
    total: list[int]


def contact_growth(*, now: datetime.datetime | None = None, days: int = WINDOW_DAYS) -> ContactGrowth:
    """Contacts added on each of the last `days` local days, and the running total."""
    zone = _zone()
    dates, start = _window(now or timezone.now(), zone, days)
    index = {day: i for i, day in enumerate(dates)}
    added = [0] * len(dates)
    with connection.cursor() as cursor:
        # contact_created_brin makes the window a cheap range read.
        cursor.execute(
            "SELECT (created_at AT TIME ZONE %s)::date AS day, count(*) FROM contacts_contact "
            "WHERE created_at >= %s GROUP BY day",
            [zone.key, start],
        )
        for day, count in cursor.fetchall():
            if day in index:
                added[index[day]] = count
    before = Contact.objects.filter(created_at__lt=start).count()
    total, running = [], before
    for count in added:
        running += count
        total.append(running)
    return ContactGrowth(dates=dates, added=added, total=total)


@dataclass(frozen=True)
class Throughput:
    bucket: str  # minute | hour | day
    labels: list[str]
    sent: list[int]
    failed: list[int]


def campaign_throughput(*, run: CampaignRun | None) -> Throughput:
    """A run's messages sent and failed per minute (hour, day for longer runs), local time."""
    empty = Throughput(bucket="minute", labels=[], sent=[], failed=[])
    if run is None or run.first_message_id is None:
        return empty
    rows = run_rows(run)
    first = rows.filter(sent_at__isnull=False).order_by("sent_at").values_list("sent_at", flat=True).first()
    failed_first = (
        rows.filter(failed_at__isnull=False).order_by("failed_at").values_list("failed_at", flat=True).first()
    )
    starts = [moment for moment in (first, failed_first) if moment is not None]
    if not starts:
        return empty
    span = timezone.now() - min(starts)
    bucket = "minute" if span <= MINUTE_BUCKETS_UP_TO else "hour" if span <= HOUR_BUCKETS_UP_TO else "day"
    zone = _zone()
    fmt = {"minute": "%H:%M", "hour": "%m-%d %H:00", "day": "%Y-%m-%d"}[bucket]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT date_trunc(%s, coalesce(sent_at, failed_at) AT TIME ZONE %s) AS slot, "
            "count(*) FILTER (WHERE sent_at IS NOT NULL), count(*) FILTER (WHERE sent_at IS NULL) "
            "FROM senders_outboundmessage WHERE campaign_id = %s AND id BETWEEN %s AND %s "
            "AND (sent_at IS NOT NULL OR failed_at IS NOT NULL) GROUP BY slot ORDER BY slot",
            [bucket, zone.key, run.campaign_id, run.first_message_id, run.last_message_id],
        )
        result = cursor.fetchall()
    return Throughput(
        bucket=bucket,
        labels=[slot.strftime(fmt) for slot, _sent, _failed in result],
        sent=[sent for _slot, sent, _failed in result],
        failed=[failed for _slot, _sent, failed in result],
    )
