"""The contacts tables as tenants get them (cloned from the template schema)."""

from __future__ import annotations

from django.db import connection
from django_tenants.utils import tenant_context

from apps.contacts.models import Contact

EXPECTED_INDEXES = {
    "contact_name_trgm",
    "contact_email_lower",
    "contact_created_brin",
    "contact_group_name_ci_unique",
    "contact_group_member_unique",
}


def _indexes(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename LIKE 'contacts_%%'", [schema]
        )
        return {row[0] for row in cursor.fetchall()}


def test_cloned_tenant_has_the_indexes_of_the_template_by_name(alpha):
    # Names matter: later migrations find indexes by name in every tenant schema.
    assert _indexes("tenant_template") >= EXPECTED_INDEXES
    assert _indexes(alpha.tenant.schema_name) >= EXPECTED_INDEXES


def test_name_search_uses_the_trigram_index(alpha):
    with tenant_context(alpha.tenant):
        Contact.objects.create(phone="+919800000001", name="Ravi Kumar")
        sql, params = Contact.objects.filter(name__icontains="avi").order_by().values("id").query.sql_with_params()
        with connection.cursor() as cursor:
            # On a table this small the planner may walk the primary key instead; leave it only
            # the index kinds a trigram search can use.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "contact_name_trgm" in plan
        assert list(Contact.objects.filter(name__icontains="avi").values_list("name", flat=True)) == ["Ravi Kumar"]
