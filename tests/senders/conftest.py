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
