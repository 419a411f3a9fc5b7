import itertools
from datetime import UTC, date, datetime, time

import pytest

from apps.billing.models import UsageRecord
from apps.senders import coordination
from apps.senders.coordination import PacingLimits
from apps.senders.models import SenderProfile
from apps.senders.services import pacing


def limits(**overrides) -> PacingLimits:
    base = dict(
        gap_s=(1.0, 1.0),
        batch_size=0,
        batch_pause_s=0,
        profile_daily_cap=100,
        contact_daily_cap=10,
        tenant_daily_limit=1000,
        tenant_monthly_limit=10000,
    )
    return PacingLimits(**{**base, **overrides})


def reserve(contact="+911", profile_id=1, **kw):
    return coordination.pacing_reserve(
        schema="t_test", profile_id=profile_id, contact=contact, day="2026-11-25", month="2026-11", limits=limits(**kw)
    )


def test_reservations_are_spaced_by_the_gap(settings):
    settings.PACING_TIME_SCALE = 1.0
    waits = [reserve(contact=f"+91{i}").wait_s for i in range(4)]
    # Each slot is one gap after the previous; allow for the milliseconds the test itself takes.
    assert waits[0] == 0
    for earlier, later in itertools.pairwise(waits):
        assert 0.9 <= later - earlier <= 1.0


def test_batch_pause_after_every_n_messages(settings):
    settings.PACING_TIME_SCALE = 1.0
    waits = [reserve(contact=f"+91{i}", gap_s=(0, 0), batch_size=3, batch_pause_s=60).wait_s for i in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert 59 <= waits[3] <= 60
    assert 59 <= waits[4] <= 60


def test_profile_daily_cap_refuses_the_next_message():
    results = [reserve(contact=f"+91{i}", gap_s=(0, 0), profile_daily_cap=3) for i in range(4)]
    assert [r.ok for r in results] == [True, True, True, False]
    assert results[3].refusal == "profile_daily_cap"


def test_contact_daily_cap_applies_per_contact():
    results = [reserve(contact="+91999", gap_s=(0, 0), contact_daily_cap=2) for _ in range(3)]
    assert [r.refusal for r in results] == ["", "", "contact_daily_cap"]
    assert reserve(contact="+91888", gap_s=(0, 0), contact_daily_cap=2).ok


def test_tenant_limits_start_from_the_database_seed():
    seeded = coordination.pacing_reserve(
        schema="t_test",
        profile_id=1,
        contact="+911",
        day="2026-11-25",
        month="2026-11",
        limits=limits(gap_s=(0, 0), tenant_daily_limit=50),
        tenant_day_seed=49,
    )
    assert seeded.ok
    refused = reserve(contact="+912", gap_s=(0, 0), tenant_daily_limit=50)
    assert refused.refusal == "daily_message_limit"


def test_monthly_limit():
    assert reserve(contact="+911", gap_s=(0, 0), tenant_monthly_limit=1).ok
    assert reserve(contact="+912", gap_s=(0, 0), tenant_monthly_limit=1).refusal == "monthly_message_limit"


def test_release_gives_the_counts_back():
    first = reserve(contact="+911", gap_s=(0, 0), profile_daily_cap=1)
    coordination.pacing_release(first)
    assert reserve(contact="+911", gap_s=(0, 0), profile_daily_cap=1).ok


def test_lease_is_exclusive_and_only_its_holder_extends_or_releases():
    assert coordination.lease_acquire("t_test", 5, "host-a", ttl_s=30)
    assert not coordination.lease_acquire("t_test", 5, "host-b", ttl_s=30)
    assert not coordination.lease_extend("t_test", 5, "host-b", ttl_s=30)
    coordination.lease_release("t_test", 5, "host-b")
    assert coordination.lease_holder("t_test", 5) == "host-a"
    assert coordination.lease_extend("t_test", 5, "host-a", ttl_s=30)
    coordination.lease_release("t_test", 5, "host-a")
    assert coordination.lease_acquire("t_test", 5, "host-b", ttl_s=30)


def test_expired_lease_can_be_taken_over():
    assert coordination.lease_acquire("t_test", 6, "dead", ttl_s=0.05)
    import time as _time

    _time.sleep(0.1)
    assert coordination.lease_acquire("t_test", 6, "alive", ttl_s=30)


@pytest.mark.parametrize(
    ("now_local", "open_", "until"),
    [
        (time(22, 30), False, datetime(2026, 11, 26, 9, 0)),
        (time(8, 59), False, datetime(2026, 11, 25, 9, 0)),
        (time(9, 0), True, None),
        (time(14, 0), True, None),
    ],
)
def test_quiet_hours_across_midnight_in_the_tenant_time_zone(in_alpha, now_local, open_, until):
    tenant = in_alpha.tenant
    tenant.timezone = "Asia/Kolkata"
    profile = SenderProfile(label="q", quiet_hours_start=time(21, 0), quiet_hours_end=time(9, 0))
    zone = tenant.zone
    now = datetime.combine(date(2026, 11, 25), now_local, tzinfo=zone).astimezone(UTC)
    window = pacing.quiet_hours_window(profile, tenant, now)
    assert window.open is open_
    if until:
        assert window.until == until.replace(tzinfo=zone)
        assert window.reason == "quiet_hours"


def test_warmup_ramp_caps_the_first_days():
    profile = SenderProfile(
        daily_cap=500, warmup_enabled=True, warmup_started_on=date(2026, 11, 20), warmup_ramp=[20, 40, 80]
    )
    assert pacing.profile_daily_cap(profile, date(2026, 11, 20)) == 20
    assert pacing.profile_daily_cap(profile, date(2026, 11, 22)) == 80
    assert pacing.profile_daily_cap(profile, date(2026, 11, 23)) == 500
    profile.warmup_enabled = False
    assert pacing.profile_daily_cap(profile, date(2026, 11, 20)) == 500


def test_plan_limits_and_seeds_come_from_the_public_rollup(in_alpha):
    tenant = in_alpha.tenant
    UsageRecord.objects.create(tenant=tenant, day=date(2026, 11, 24), messages_sent=7)
    UsageRecord.objects.create(tenant=tenant, day=date(2026, 11, 25), messages_sent=5)
    UsageRecord.objects.create(tenant=tenant, day=date(2026, 10, 31), messages_sent=100)
    assert pacing.usage_seeds(tenant, date(2026, 11, 25)) == (5, 12)
    assert pacing.plan_limits(tenant) == (1000, 30000)  # alpha is on the business plan
