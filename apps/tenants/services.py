"""Tenant lifecycle: creation by cloning the migrated template schema, suspension, domains."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

from django.apps import apps as django_apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.clone import CloneSchema
from django_tenants.utils import get_public_schema_name, schema_exists

from apps.accounts.models import Membership, Role, User
from apps.billing.models import Plan, Subscription
from apps.core.exceptions import ChorusError, Conflict, ValidationFailed
from apps.tenants.models import RESERVED_SLUGS, Domain, Reseller, Tenant, TenantProvisioning, slug_validator

logger = logging.getLogger(__name__)


class TemplateSchemaError(ChorusError):
    """The template schema is missing or behind the code's migrations: cloning it would make a
    half-built tenant whose migrations are recorded as applied. Run `make migrate`."""

    status = 503
    default_code = "tenant_template_stale"


@dataclass(frozen=True)
class TenantCreated:
    tenant: Tenant
    domain: Domain
    owner_membership: Membership | None


def template_schema_name() -> str:
    return settings.TENANT_BASE_SCHEMA


def tenant_domain_for(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def schema_name_for(slug: str) -> str:
    return "t_" + slug.replace("-", "_")


@cache
def _tenant_app_migrations() -> frozenset[tuple[str, str]]:
    """Every migration on disk for apps that live in tenant schemas (fixed for a process)."""
    labels = {django_apps.get_app_config(path.rsplit(".", 1)[-1]).label for path in settings.TENANT_APPS}
    loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
    return frozenset(key for key in loader.disk_migrations if key[0] in labels)


def template_missing_migrations() -> list[tuple[str, str]]:
    """Migrations the template schema lacks. Raises when the template does not exist."""
    template = template_schema_name()
    if not schema_exists(template):
        raise TemplateSchemaError(f"Template schema '{template}' does not exist; run `make migrate`.")
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{template}".django_migrations')  # noqa: S608 - fixed name
        applied = {(app, name) for app, name in cursor.fetchall()}
    return sorted(_tenant_app_migrations() - applied)


def template_ensure_current() -> None:
    missing = template_missing_migrations()
    if missing:
        shown = ", ".join(f"{app}.{name}" for app, name in missing[:5])
        raise TemplateSchemaError(
            f"Template schema '{template_schema_name()}' is behind by {len(missing)} migration(s) "
            f"({shown}); run `make migrate` before creating tenants.",
            details={"missing": [f"{app}.{name}" for app, name in missing]},
        )


def template_migrate(*, verbosity: int = 1) -> None:
    """Create the template schema if needed and bring it up to date with tenant migrations."""
    template = template_schema_name()
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{template}"')
    call_command("migrate_schemas", schema_name=template, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()


def validate_slug(slug: str) -> str:
    slug = slug.strip().lower()
    try:
        slug_validator(slug)
    except ValidationError as exc:
        raise ValidationFailed(str(exc.messages[0]), code="invalid_slug", details={"field": "slug"}) from exc
    if slug in RESERVED_SLUGS:
        raise ValidationFailed(f"'{slug}' is reserved.", code="invalid_slug", details={"field": "slug"})
    if Tenant.objects.filter(slug=slug).exists() or schema_exists(schema_name_for(slug)):
        raise Conflict(f"'{slug}' is taken.", code="slug_taken", details={"field": "slug"})
    return slug


def tenant_create(
    *,
    name: str,
    slug: str,
    owner: User | None = None,
    plan_slug: str | None = None,
    timezone: str = "UTC",
    default_region: str = "IN",
    reseller: Reseller | None = None,
) -> TenantCreated:
    """Create a tenant: its row, a schema cloned from the migrated template (tables, indexes,
    seed rows and the migration history, so no migration runs), its `<slug>.<BASE_DOMAIN>`
    domain, a subscription to `plan_slug` (default plan when omitted) and the owner's
    membership. All of it commits together or not at all (PostgreSQL DDL is transactional).
    Refuses to clone a template that is behind on migrations."""
    slug = validate_slug(slug)
    template_ensure_current()
    plan = Plan.objects.get(slug=plan_slug or settings.DEFAULT_PLAN_SLUG)
    connection.set_schema_to_public()
    with transaction.atomic():
        tenant = Tenant(
            schema_name=schema_name_for(slug),
            name=name,
            slug=slug,
            timezone=timezone,
            default_region=default_region.upper(),
            reseller=reseller,
        )
        try:
            tenant.full_clean()
        except ValidationError as exc:
            raise ValidationFailed("Invalid tenant.", details=exc.message_dict) from exc
        tenant.save()
        CloneSchema().clone_schema(template_schema_name(), tenant.schema_name, "DATA", set_connection=False)
        _constraint_names_restore(source=template_schema_name(), target=tenant.schema_name)
        domain = Domain.objects.create(domain=tenant_domain_for(slug), tenant=tenant, is_primary=True)
        Subscription.objects.create(tenant=tenant, plan=plan, status=Subscription.Status.ACTIVE)
        membership = None
        if owner is not None:
            membership = Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    logger.info("tenant.created", extra={"tenant_id": tenant.id, "schema": tenant.schema_name})
    return TenantCreated(tenant=tenant, domain=domain, owner_membership=membership)


# django-tenants' clone recreates multi-column unique constraints from their definition, so
# PostgreSQL names them `<table>_<cols>_key` instead of the names migrations gave them. A later
# migration that alters or drops such a constraint by name would then fail on cloned tenants
# only; so every constraint of the clone gets its template name back (renaming a constraint
# renames its index too).
_MISNAMED_CONSTRAINTS_SQL = """
SELECT DISTINCT ON (clone.oid) clone_table.relname, clone.conname, tpl.conname
FROM pg_constraint clone
JOIN pg_class clone_table ON clone_table.oid = clone.conrelid
JOIN pg_namespace clone_ns ON clone_ns.oid = clone.connamespace AND clone_ns.nspname = %(target)s
JOIN pg_namespace tpl_ns ON tpl_ns.nspname = %(source)s
JOIN pg_class tpl_table ON tpl_table.relnamespace = tpl_ns.oid AND tpl_table.relname = clone_table.relname
JOIN pg_constraint tpl ON tpl.conrelid = tpl_table.oid AND tpl.contype = clone.contype
WHERE tpl.conname <> clone.conname
  AND pg_get_constraintdef(tpl.oid) = pg_get_constraintdef(clone.oid)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint same WHERE same.conrelid = clone.conrelid AND same.conname = tpl.conname)
ORDER BY clone.oid, tpl.conname
"""


def _constraint_names_restore(*, source: str, target: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_MISNAMED_CONSTRAINTS_SQL, {"source": source, "target": target})
        for table, clone_name, template_name in cursor.fetchall():
            cursor.execute(f'ALTER TABLE "{target}"."{table}" RENAME CONSTRAINT "{clone_name}" TO "{template_name}"')


def tenant_constraint_names_repair() -> int:
    """Give tenants cloned before the fix above their template constraint names back. Runs in
    `make migrate` before the template and tenants migrate, while template and tenants are at
    the same migration. Returns how many tenant schemas were checked."""
    template = template_schema_name()
    if not schema_exists(template):
        return 0
    schemas = list(
        Tenant.objects.exclude(schema_name__in=[get_public_schema_name(), template]).values_list(
            "schema_name", flat=True
        )
    )
    with transaction.atomic():
        for schema in schemas:
            _constraint_names_restore(source=template, target=schema)
    return len(schemas)


def tenant_create_by_migrating(*, name: str, slug: str) -> Tenant:
    """The slow path (runs every migration); kept for the benchmark's comparison only."""
    slug = validate_slug(slug)
    connection.set_schema_to_public()
    tenant = Tenant.objects.create(schema_name=schema_name_for(slug), name=name, slug=slug)
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{tenant.schema_name}"')
    call_command("migrate_schemas", schema_name=tenant.schema_name, interactive=False, verbosity=0)
    connection.set_schema_to_public()
    Domain.objects.create(domain=tenant_domain_for(slug), tenant=tenant, is_primary=True)
    return tenant


def tenant_set_status(*, tenant: Tenant, status: str) -> Tenant:
    """Suspend or reactivate. A suspended tenant's hosts answer 403 and its sending stops."""
    if tenant.is_public:
        raise ValidationFailed("The public tenant cannot change status.")
    if status not in Tenant.Status.values:
        raise ValidationFailed(f"Unknown status {status!r}.")
    Tenant.objects.filter(pk=tenant.pk).update(status=status)
    tenant.status = status
    logger.info("tenant.status_changed", extra={"tenant_id": tenant.id, "status": status})
    return tenant


def public_tenant_ensure() -> Tenant:
    """The row for the public schema and the bare domain (idempotent)."""
    public, _ = Tenant.objects.get_or_create(
        schema_name=get_public_schema_name(), defaults={"name": "Chorus platform", "slug": "public"}
    )
    Domain.objects.get_or_create(domain=settings.BASE_DOMAIN, defaults={"tenant": public, "is_primary": True})
    return public


def provisioning_start(
    *, owner: User, name: str, slug: str, plan_slug: str = "", timezone: str = "UTC"
) -> TenantProvisioning:
    """Record a sign-up's tenant request and hand creation to a worker after commit."""
    from apps.tenants import tasks

    slug = validate_slug(slug)
    with transaction.atomic():
        provisioning = TenantProvisioning.objects.create(
            owner=owner, name=name, slug=slug, plan_slug=plan_slug, timezone=timezone
        )
        transaction.on_commit(lambda: tasks.tenant_provision.delay(provisioning.id))
    return provisioning


# Shown on the sign-up progress page when creation broke for a reason that is ours, not the
# user's; the details go to the log, never to the page.
PROVISIONING_CRASHED_MESSAGE = "Something went wrong on our side while creating your workspace. Please try again."


def provisioning_run(*, provisioning_id: int) -> TenantProvisioning | None:
    """Worker side of sign-up. Idempotent: a finished request is left as it is.

    Every way out leaves the request DONE or FAILED, never RUNNING: the sign-up page polls it
    until it is one or the other, so a request stuck in RUNNING would hang that page forever.
    Expected refusals (slug taken meanwhile, stale template) keep their message; anything else
    (a database error, a schema left behind by an earlier crash) is logged with its traceback
    and shown as a generic failure the user can retry."""
    provisioning = TenantProvisioning.objects.select_related("owner").filter(pk=provisioning_id).first()
    if provisioning is None:
        logger.warning("tenant.provisioning_missing", extra={"provisioning_id": provisioning_id})
        return None
    if provisioning.state in (TenantProvisioning.State.DONE, TenantProvisioning.State.FAILED):
        return provisioning
    TenantProvisioning.objects.filter(pk=provisioning.pk).update(state=TenantProvisioning.State.RUNNING)
    try:
        created = tenant_create(
            name=provisioning.name,
            slug=provisioning.slug,
            owner=provisioning.owner,
            plan_slug=provisioning.plan_slug or None,
            timezone=provisioning.timezone,
        )
    except ChorusError as exc:
        logger.warning("tenant.provisioning_failed", extra={"provisioning_id": provisioning.id, "code": exc.code})
        return _provisioning_fail(provisioning, exc.message)
    except Exception:
        # Deliberately broad, and not hiding anything: the traceback is logged here, and the
        # request must still end FAILED whatever broke (see the docstring).
        logger.exception("tenant.provisioning_crashed", extra={"provisioning_id": provisioning.id})
        return _provisioning_fail(provisioning, PROVISIONING_CRASHED_MESSAGE)
    provisioning.state = TenantProvisioning.State.DONE
    provisioning.tenant = created.tenant
    provisioning.save(update_fields=["state", "tenant", "updated_at"])
    logger.info("tenant.provisioned", extra={"provisioning_id": provisioning.id, "tenant_id": created.tenant.id})
    return provisioning


def _provisioning_fail(provisioning: TenantProvisioning, message: str) -> TenantProvisioning:
    # A crash may have left the connection unusable (server gone, broken transaction state) or
    # in another schema; start clean so recording the failure itself cannot fail for that reason.
    if connection.connection is not None and not connection.is_usable():
        connection.close()
    connection.set_schema_to_public()
    provisioning.state = TenantProvisioning.State.FAILED
    provisioning.error = message
    provisioning.save(update_fields=["state", "error", "updated_at"])
    return provisioning


def tenant_update(*, tenant: Tenant, name: str, timezone: str, default_region: str) -> Tenant:
    """Change a tenant's display settings from the portal. The time zone drives quiet hours and
    the "today" of daily quotas, and the region is how numbers without +country are read, so
    both are validated here (known zone, a region phonenumbers can parse) rather than trusted
    from a form. Slug and schema never change: they are the tenant's address and storage."""
    import phonenumbers

    name = name.strip()
    region = default_region.strip().upper()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["A name is required."]
    if region not in phonenumbers.SUPPORTED_REGIONS:
        errors["default_region"] = [f"Unknown phone region {region!r}."]
    tenant.name = name
    tenant.timezone = timezone
    tenant.default_region = region
    try:
        tenant.full_clean(exclude=["schema_name", "slug", "reseller"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        tenant.refresh_from_db(fields=["name", "timezone", "default_region"])
        raise ValidationFailed("Invalid tenant settings.", details=errors)
    with transaction.atomic():
        tenant.save(update_fields=["name", "timezone", "default_region"])
    logger.info("tenant.updated", extra={"tenant_id": tenant.id})
    return tenant
