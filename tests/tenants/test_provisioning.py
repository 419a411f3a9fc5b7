import logging

from apps.accounts.models import Membership, Role
from apps.tenants import services
from apps.tenants.models import Tenant, TenantProvisioning
from tests.accounts.factories import UserFactory
from tests.tenants.factories import TenantFactory


def test_provisioning_run_creates_the_tenant_owned_by_the_requester(db, django_capture_on_commit_callbacks):
    owner = UserFactory()

    with django_capture_on_commit_callbacks() as callbacks:
        provisioning = services.provisioning_start(owner=owner, name="Zeta", slug="zeta", timezone="Asia/Kolkata")
    assert len(callbacks) == 1  # the Celery task is queued only after commit
    assert provisioning.state == TenantProvisioning.State.PENDING

    services.provisioning_run(provisioning_id=provisioning.id)

    provisioning.refresh_from_db()
    assert provisioning.state == TenantProvisioning.State.DONE
    assert provisioning.tenant.slug == "zeta"
    assert provisioning.tenant.timezone == "Asia/Kolkata"
    assert Membership.objects.get(tenant=provisioning.tenant).user == owner
    assert Membership.objects.get(tenant=provisioning.tenant).role == Role.OWNER


def test_provisioning_run_twice_creates_one_tenant(db):
    owner = UserFactory()
    provisioning = services.provisioning_start(owner=owner, name="Eta", slug="eta")

    services.provisioning_run(provisioning_id=provisioning.id)
    services.provisioning_run(provisioning_id=provisioning.id)

    assert Tenant.objects.filter(slug="eta").count() == 1


def test_provisioning_failure_is_recorded_with_its_reason(db):
    owner = UserFactory()
    provisioning = services.provisioning_start(owner=owner, name="Theta", slug="theta")
    TenantFactory(slug="theta")  # taken while the request waited

    services.provisioning_run(provisioning_id=provisioning.id)

    provisioning.refresh_from_db()
    assert provisioning.state == TenantProvisioning.State.FAILED
    assert "taken" in provisioning.error
    assert not Membership.objects.filter(user=owner).exists()


def test_provisioning_of_a_missing_request_is_logged_and_a_no_op(db, caplog):
    with caplog.at_level(logging.WARNING, logger="apps.tenants.services"):
        assert services.provisioning_run(provisioning_id=987654) is None

    assert [(r.getMessage(), r.provisioning_id) for r in caplog.records] == [("tenant.provisioning_missing", 987654)]


def test_provision_task_goes_to_the_default_queue():
    from apps.tenants.tasks import tenant_provision
    from config.celery import app

    assert app.amqp.router.route({}, tenant_provision.name)["queue"].name == "default"


def test_suspend_and_reactivate(alpha):
    services.tenant_set_status(tenant=alpha.tenant, status=Tenant.Status.SUSPENDED)
    assert Tenant.objects.get(slug="alpha").status == "suspended"
    services.tenant_set_status(tenant=alpha.tenant, status=Tenant.Status.ACTIVE)
    assert Tenant.objects.get(slug="alpha").status == "active"
