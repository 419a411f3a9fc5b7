from apps.accounts.models import Membership, Role, User
from apps.tenants import services
from apps.tenants.models import Tenant, TenantProvisioning


def test_provisioning_run_creates_the_tenant_owned_by_the_requester(db, django_capture_on_commit_callbacks):
    owner = User.objects.create_user("new@zeta.test", "pw-123456789")

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
    owner = User.objects.create_user("twice@eta.test", "pw-123456789")
    provisioning = services.provisioning_start(owner=owner, name="Eta", slug="eta")

    services.provisioning_run(provisioning_id=provisioning.id)
    services.provisioning_run(provisioning_id=provisioning.id)

    assert Tenant.objects.filter(slug="eta").count() == 1


def test_provisioning_failure_is_recorded_with_its_reason(db):
    owner = User.objects.create_user("late@theta.test", "pw-123456789")
    provisioning = services.provisioning_start(owner=owner, name="Theta", slug="theta")
    services.tenant_create(name="Someone else", slug="theta")  # taken while the request waited

    services.provisioning_run(provisioning_id=provisioning.id)

    provisioning.refresh_from_db()
    assert provisioning.state == TenantProvisioning.State.FAILED
    assert "taken" in provisioning.error
    assert not Membership.objects.filter(user=owner).exists()


def test_provisioning_of_a_missing_request_is_a_no_op(db):
    assert services.provisioning_run(provisioning_id=987654) is None


def test_suspend_and_reactivate(alpha):
    services.tenant_set_status(tenant=alpha.tenant, status=Tenant.Status.SUSPENDED)
    assert Tenant.objects.get(slug="alpha").status == "suspended"
    services.tenant_set_status(tenant=alpha.tenant, status=Tenant.Status.ACTIVE)
    assert Tenant.objects.get(slug="alpha").status == "active"
