"""Tenant isolation of imports: alpha's import never touches beta, and beta cannot reach
alpha's job or its error report."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from apps.contacts.models import Contact, ImportJob
from apps.contacts.services import importing
from apps.core.exceptions import NotFound


def test_an_import_into_alpha_never_touches_beta(alpha, beta, run_import):
    with tenant_context(beta.tenant):
        Contact.objects.create(phone="+919876543210", name="Beta's own")
    with tenant_context(alpha.tenant):
        job = run_import(b"Name,Phone\nAlpha's,+919876543210\nBad,1\n")
        assert (job.created_count, job.error_count) == (1, 1)

    with tenant_context(beta.tenant):
        assert list(Contact.objects.values_list("phone", "name")) == [("+919876543210", "Beta's own")]
        assert not ImportJob.objects.filter(pk=job.id).exists()
        with pytest.raises(NotFound):
            importing.import_job_get(job_id=job.id)
    # Stored files live under the owning schema's folder.
    assert job.file.name.startswith(f"imports/{alpha.tenant.schema_name}/")
    assert job.error_file.name.startswith(f"imports/{alpha.tenant.schema_name}/")


def test_the_same_number_is_a_separate_contact_in_each_tenant(alpha, beta, run_import):
    for world in (alpha, beta):
        with tenant_context(world.tenant):
            run_import(f"Name,Phone\n{world.tenant.slug},+919876543210\n".encode())

    for world in (alpha, beta):
        with tenant_context(world.tenant):
            assert list(Contact.objects.values_list("name", flat=True)) == [world.tenant.slug]
