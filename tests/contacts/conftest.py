"""Fixtures for contacts: work inside alpha's schema, uploads in a temporary MEDIA_ROOT."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django_tenants.utils import tenant_context

from apps.contacts.models import ImportJob
from apps.contacts.services import importing


@pytest.fixture(autouse=True)
def _media_root(request, settings, tmp_path):
    # Live tests share files with a worker process, which uses the configured MEDIA_ROOT;
    # they delete their own files.
    if request.node.get_closest_marker("live") is None:
        settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def in_alpha(alpha):
    with tenant_context(alpha.tenant):
        yield alpha


@pytest.fixture
def run_import() -> Callable[..., ImportJob]:
    """run_import(data, name="contacts.csv", **options) -> the finished job (run inline)."""

    def run(data: bytes, name: str = "contacts.csv", **options) -> ImportJob:
        job = importing.import_job_create(stream=io.BytesIO(data), name=name, start=False, **options)
        finished = importing.import_job_run(job_id=job.id)
        assert finished is not None
        return finished

    return run


def error_rows(job: ImportJob) -> list[list[str]]:
    """The error report as rows (header first)."""
    import csv

    with job.error_file.open("rb") as handle:
        text = handle.read().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))
