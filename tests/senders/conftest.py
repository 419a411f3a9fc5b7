import pytest
from django_tenants.utils import tenant_context

from apps.senders.coordination import client as coordination_client
from apps.senders.models import SenderProfile


@pytest.fixture
def in_alpha(alpha):
    with tenant_context(alpha.tenant):
        yield alpha


@pytest.fixture
def profile(in_alpha):
    return SenderProfile.objects.create(
        label="Main", phone="+919800000001", status=SenderProfile.Status.CONNECTED, pacing_preset="off", batch_size=0
    )


@pytest.fixture(autouse=True)
def _clean_coordination_redis():
    coordination_client().flushdb()
    yield
    coordination_client().flushdb()


# --- end-to-end: real Chromium through the real host against the simulator ----------------------

# Every sending delay (pacing, backoff, typing) shrinks to a hundredth.
E2E_TIME_SCALE = 0.01
# The host looks at an idle page this often (production: apps.senders.host.IDLE_POLL_S).
E2E_IDLE_POLL_S = 0.3


@pytest.fixture
def e2e(alpha_live, simulator, settings, monkeypatch):
    """One end-to-end world: alpha (committed), a reset simulator, the host's settings pointed at
    it with time scaled down, and task kicks recorded instead of queued (tests kick their own
    hosts). Profiles, their messages, contacts and usage made by the test are removed after it;
    hosts are shut down (browsers closed) and listeners closed."""
    from apps.billing.models import UsageRecord
    from apps.contacts.models import Contact
    from apps.senders import host as host_module
    from apps.senders import tasks
    from apps.senders.models import OutboundMessage
    from tests.senders.e2e_support import E2E

    settings.WHATSAPP_WEB_URL = simulator.base_url
    settings.PACING_TIME_SCALE = E2E_TIME_SCALE
    settings.SENDER_IDLE_PARK_S = 120.0
    settings.SENDER_QR_TIMEOUT_S = 60.0
    settings.SENDER_PAGE_TIMEOUT_S = 15.0
    settings.SENDER_SENT_TICK_TIMEOUT_S = 10.0
    settings.SENDER_LEASE_TTL_S = 30.0
    settings.SENDER_TRANSPORT = "browser"
    monkeypatch.setattr(host_module, "IDLE_POLL_S", E2E_IDLE_POLL_S)
    kicks: list[int] = []
    monkeypatch.setattr(tasks, "profile_kick", lambda profile_id, *, schema: kicks.append(profile_id))
    monkeypatch.setattr(tasks, "profile_kick_at", lambda profile_id, *, schema, eta: kicks.append(profile_id))
    world = E2E(world=alpha_live, sim=simulator, kicks=kicks)
    try:
        yield world
    finally:
        for host in world.hosts:
            host.shutdown(timeout=60)
        for listener in world.listeners:
            listener.close()
        with tenant_context(alpha_live.tenant):
            OutboundMessage.objects.filter(profile_id__in=world.profiles).delete()
            SenderProfile.objects.filter(id__in=world.profiles).delete()
            Contact.objects.filter(phone__in=["+" + p for p in world.phones]).delete()
        UsageRecord.objects.filter(tenant=alpha_live.tenant).delete()
