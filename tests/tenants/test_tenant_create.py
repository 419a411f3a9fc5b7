import pytest
from django.db import connection
from django_tenants.utils import schema_exists

from apps.accounts.models import Membership, Role, User
from apps.billing.models import Subscription
from apps.core.exceptions import Conflict, ValidationFailed
from apps.tenants import services
from apps.tenants.models import Domain, Tenant


def tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def test_tenant_create_clones_the_template_schema_with_its_migration_history(db):
    owner = User.objects.create_user("founder@gamma.test", "pw-123456789")

    created = services.tenant_create(name="Gamma", slug="gamma", owner=owner, plan_slug="pro")

    assert created.tenant.schema_name == "t_gamma"
    assert tables_in("t_gamma") == tables_in(services.template_schema_name())
    with connection.cursor() as cursor:
        cursor.execute('SELECT count(*) FROM "t_gamma".django_migrations')
        cloned = cursor.fetchone()[0]
        cursor.execute(f'SELECT count(*) FROM "{services.template_schema_name()}".django_migrations')
        assert cloned == cursor.fetchone()[0] > 0
    assert Domain.objects.get(tenant=created.tenant).domain == "gamma.localhost"
    assert Subscription.objects.get(tenant=created.tenant).plan.slug == "pro"
    assert Membership.objects.get(tenant=created.tenant).role == Role.OWNER


def constraints_and_indexes(schema: str) -> tuple[set[tuple[str, str, str]], set[tuple[str, str]]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, c.conname, pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE n.nspname = %s AND c.contype <> 'f'
            """,
            [schema],
        )
        constraints = set(cursor.fetchall())
        cursor.execute("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = %s", [schema])
        return constraints, set(cursor.fetchall())


def test_a_cloned_tenant_keeps_the_template_names_of_constraints_and_indexes(db):
    """Later migrations alter constraints by name; a clone with other names would break on them."""
    created = services.tenant_create(name="Epsilon", slug="epsilon")

    cloned_constraints, cloned_indexes = constraints_and_indexes(created.tenant.schema_name)
    template_constraints, template_indexes = constraints_and_indexes(services.template_schema_name())

    assert ("senders_inboundmessage", "inbound_unique_profile_waid", "UNIQUE (profile_id, wa_message_id)") in (
        cloned_constraints
    )
    assert cloned_constraints == template_constraints
    assert cloned_indexes == template_indexes


def test_stale_template_refuses_to_create_a_tenant(db):
    template = services.template_schema_name()
    with connection.cursor() as cursor:
        cursor.execute(
            f'DELETE FROM "{template}".django_migrations WHERE app = %s AND name = %s',
            ["contenttypes", "0002_remove_content_type_name"],
        )

    with pytest.raises(services.TemplateSchemaError) as excinfo:
        services.tenant_create(name="Delta", slug="delta")

    assert "contenttypes.0002_remove_content_type_name" in excinfo.value.details["missing"]
    assert not Tenant.objects.filter(slug="delta").exists()
    assert not schema_exists("t_delta")


def test_missing_template_is_reported_not_half_built(db):
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{services.template_schema_name()}" RENAME TO moved_away')

    with pytest.raises(services.TemplateSchemaError):
        services.tenant_create(name="Epsilon", slug="epsilon")

    assert not Tenant.objects.filter(slug="epsilon").exists()


@pytest.mark.parametrize("slug", ["www", "A", "has_underscore", "-lead", "ab"])
def test_bad_or_reserved_slugs_are_refused(db, slug):
    with pytest.raises(ValidationFailed):
        services.tenant_create(name="Bad", slug=slug)
    assert not Tenant.objects.filter(name="Bad").exists()


def test_taken_slug_is_a_conflict(alpha):
    with pytest.raises(Conflict):
        services.tenant_create(name="Again", slug="alpha")
    assert Tenant.objects.filter(slug="alpha").count() == 1


def test_migrate_repairs_constraint_names_of_tenants_cloned_before_the_fix(db):
    created = services.tenant_create(name="Zeta", slug="zeta")
    schema = created.tenant.schema_name
    with connection.cursor() as cursor:
        cursor.execute(
            f'ALTER TABLE "{schema}".senders_inboundmessage RENAME CONSTRAINT inbound_unique_profile_waid '
            "TO senders_inboundmessage_profile_id_wa_message_id_key"
        )

    checked = services.tenant_constraint_names_repair()

    assert checked == Tenant.objects.exclude(schema_name="public").count()
    assert constraints_and_indexes(schema) == constraints_and_indexes(services.template_schema_name())
