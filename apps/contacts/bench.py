"""Contact import figures for `make bench-campaigns` (var/bench/campaigns.json).

- import_rows_per_s: our import end to end — store the upload, detect encoding/delimiter,
  parse, normalise to E.164, de-duplicate, COPY, upsert — on a generated 1,000,000-row CSV of
  messy numbers (many formats, ~2 % repeated numbers, ~1 % bad rows).
- import_with_group_rows_per_s: the same, also adding every contact to a group (one
  membership row each, whose foreign keys PostgreSQL checks row by row at commit).
- import_export_rows_per_s: django-import-export on the first 20,000 rows of the same file in
  its fastest documented bulk configuration (use_bulk, skip_diff, batch_size=1000, a cached
  instance loader, one transaction), doing the same work: the same normaliser, first row of a
  number wins, upsert by phone.
Both start from an empty contacts table in a dedicated tenant, removed afterwards.
"""

from __future__ import annotations

import csv
import logging
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tablib
from django.core.files.storage import default_storage
from django.db import connection
from django_tenants.utils import tenant_context
from import_export import fields
from import_export.instance_loaders import CachedInstanceLoader

from apps.billing.models import UsageRecord
from apps.contacts.models import Contact, ImportJob
from apps.contacts.resources import ContactResource, JSONWidget
from apps.contacts.services import importing
from apps.contacts.services.groups import group_get_or_create
from apps.tenants import bench as tenant_bench
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

BENCH_TENANT_SLUG = "bench-campaigns"
MAPPING = {"phone": "Phone", "name": "Name", "email": "Email", "custom.city": "City"}
HEADERS = ["Name", "Phone", "Email", "City"]
# Shares of the generated file (the rest are well-formed new numbers).
DUPLICATE_SHARE = 0.02
BAD_SHARE = 0.01

_FIRST = ["Asha", "Ravi", "Priya", "Arjun", "Meera", "Vikram", "Fatima", "Rahul", "Zoë", "José", "Ananya", "Kabir"]
_LAST = ["Patel", "Sharma", "Iyer", "Khan", "Singh", "Rao", "Müller", "García", "Das", "Reddy", "Nair", "Gupta"]
_CITIES = ["Pune", "Mumbai", "Delhi", "Bengaluru", "Chennai", "Kolkata", "Jaipur", "Kochi", ""]
_BAD_PHONES = ["12345", "n/a", "", "+91 98765", "call after 6", "0000"]


@dataclass(frozen=True)
class Figures:
    rows: int
    seconds: float
    created: int
    duplicates: int
    errors: int
    extra: dict[str, Any]

    @property
    def per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def bench_tenant() -> Tenant:
    return tenant_bench.bench_tenant(slug=BENCH_TENANT_SLUG, name="Benchmark (contacts)")


def contacts_clear(tenant: Tenant) -> None:
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE contacts_groupmembership, contacts_contact, contacts_group, contacts_importjob, "
            "contacts_importmapping RESTART IDENTITY CASCADE"
        )
    folder = f"imports/{tenant.schema_name}"
    if default_storage.exists(folder):
        for name in default_storage.listdir(folder)[1]:
            default_storage.delete(f"{folder}/{name}")


def tenant_remove(tenant: Tenant) -> None:
    contacts_clear(tenant)
    UsageRecord.objects.filter(tenant=tenant).delete()
    connection.set_schema_to_public()
    tenant.delete(force_drop=True)


def _phone_text(number: str, rng: random.Random) -> str:
    """One ten-digit Indian mobile number written the way people write it."""
    pick = rng.random()
    if pick < 0.30:
        return f"+91 {number[:5]}-{number[5:]}"
    if pick < 0.50:
        return f"0{number[:5]} {number[5:]}"
    if pick < 0.65:
        return number
    if pick < 0.75:
        return "91" + number
    if pick < 0.85:
        return "+91" + number
    if pick < 0.93:
        return f"+91-{number[:5]} {number[5:]}"
    if pick < 0.98:
        return f"({number[:3]}) {number[3:6]}-{number[6:]}"
    return f"0091 {number[:5]} {number[5:]}"


def generate_csv(path: Path, rows: int, *, seed: int = 20261130) -> None:
    """A deterministic messy contact file: the same rows every run for a given size."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    issued: list[str] = []
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for index in range(rows):
            # A permutation of 4e9 ten-digit numbers starting with 6-9: distinct without a set.
            number = str(6_000_000_000 + (index * 2_654_435_761) % 4_000_000_000)
            name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
            email = f"{name.split()[0].lower()}{index}@example.com" if rng.random() < 0.4 else ""
            city = rng.choice(_CITIES)
            pick = rng.random()
            if pick < BAD_SHARE:
                if rng.random() < 0.2:
                    writer.writerow([name, number, "not-an-email", city])
                else:
                    writer.writerow([name, rng.choice(_BAD_PHONES), email, city])
                continue
            if pick < BAD_SHARE + DUPLICATE_SHARE and issued:
                number = rng.choice(issued)
            elif len(issued) < 100_000:
                issued.append(number)
            writer.writerow([name, _phone_text(number, rng), email, city])


def slice_csv(source: Path, target: Path, rows: int) -> None:
    with source.open(encoding="utf-8") as src, target.open("w", encoding="utf-8") as dst:
        for index, line in enumerate(src):
            if index > rows:
                break
            dst.write(line)


def import_ours(tenant: Tenant, path: Path, *, group_name: str | None = None) -> Figures:
    marks: dict[str, float] = {}

    def progress(event: dict) -> None:
        if event["state"] == ImportJob.State.RUNNING:
            marks["staged"] = time.perf_counter()

    with tenant_context(tenant):
        started = time.perf_counter()
        group = group_get_or_create(name=group_name)[0] if group_name else None
        with path.open("rb") as stream:
            job = importing.import_job_create(stream=stream, name=path.name, mapping=MAPPING, group=group, start=False)
        created_at = time.perf_counter()
        job = importing.import_job_run(job_id=job.id, on_progress=progress)
        seconds = time.perf_counter() - started
        if job is None or job.state != ImportJob.State.COMPLETED:
            raise RuntimeError(f"benchmark import failed: {job and job.failure}")
        stored = Contact.objects.count()
    return Figures(
        rows=job.total_rows,
        seconds=seconds,
        created=job.created_count,
        duplicates=job.duplicate_count,
        errors=job.error_count,
        extra={
            "upload_and_detect_s": round(created_at - started, 2),
            "parse_normalise_copy_s": round(marks.get("staged", created_at) - created_at, 2),
            "upsert_s": round(time.perf_counter() - marks.get("staged", created_at), 2),
            "contacts_stored": stored,
        },
    )


class _CityWidget(JSONWidget):
    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> dict:
        return {"city": value} if value else {}


class BenchContactResource(ContactResource):
    """ContactResource on the benchmark file's columns, in import-export's fastest documented
    bulk configuration (docs: "Bulk imports" → "Performance tuning")."""

    phone = fields.Field(attribute="phone", column_name="Phone")
    name = fields.Field(attribute="name", column_name="Name")
    email = fields.Field(attribute="email", column_name="Email")
    custom_fields = fields.Field(attribute="custom_fields", column_name="City", widget=_CityWidget())

    class Meta:
        model = Contact
        import_id_fields = ("phone",)
        fields = ("phone", "name", "email", "custom_fields")
        exclude = ("groups",)
        use_bulk = True
        batch_size = 1000
        skip_diff = True
        skip_unchanged = False
        instance_loader_class = CachedInstanceLoader
        use_transactions = True


def import_with_import_export(tenant: Tenant, path: Path) -> Figures:
    with tenant_context(tenant):
        started = time.perf_counter()
        dataset = tablib.Dataset().load(path.read_text(encoding="utf-8"), format="csv")
        result = BenchContactResource(region=tenant.default_region).import_data(dataset, raise_errors=False)
        seconds = time.perf_counter() - started
        stored = Contact.objects.count()
    totals = result.totals
    return Figures(
        rows=len(dataset),
        seconds=seconds,
        created=totals.get("new", 0),
        duplicates=totals.get("skip", 0),
        errors=totals.get("invalid", 0) + totals.get("error", 0),
        extra={"contacts_stored": stored},
    )


# How often each list query is timed; the median is reported (the first run warms the cache).
LIST_REPEATS = 5


def _median_ms(call) -> float:
    timings = []
    for _ in range(LIST_REPEATS):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 1)


def list_timings(tenant: Tenant) -> dict[str, float]:
    """Milliseconds (median of LIST_REPEATS) the portal's contacts list takes on the loaded
    tenant for one page and its total, as contacts/views/contacts.py asks for them: newest page,
    a page in the middle, an exact number, a name substring, a group, a saved filter on a custom
    field."""
    from apps.contacts import selectors
    from apps.contacts.models import Group, SavedFilter

    with tenant_context(tenant):
        ids = list(Contact.objects.order_by("id").values_list("id", flat=True)[:: max(1, Contact.objects.count() // 2)])
        middle = ids[1] if len(ids) > 1 else None
        some = Contact.objects.order_by("-id").values_list("phone", flat=True).first() or "+910000000000"
        group = Group.objects.order_by("id").first()
        saved = SavedFilter.objects.create(
            name="Bench: Pune", spec={"rules": [{"field": "custom.city", "op": "eq", "value": "Pune"}]}
        )

        def page(after: int | None = None, **filters) -> None:
            queryset = selectors.contacts_list(**filters)
            selectors.contacts_page(queryset, after=after)
            selectors.contacts_total(queryset, filtered=bool(filters))

        figures = {
            "first_page": _median_ms(lambda: page()),
            "middle_page": _median_ms(lambda: page(after=middle)),
            "search_number": _median_ms(lambda: page(search=some)),
            "search_name": _median_ms(lambda: page(search="sharma")),
            "group_first_page": _median_ms(lambda: page(group_id=group.id if group else None)),
            "saved_filter_first_page": _median_ms(lambda: page(saved_filter_id=saved.id)),
        }
        saved.delete()
    return figures
