"""Contacts, their groups/tags, the suppression list and contact imports (tenant schema).

The sending engine reads `contacts_contact.phone` and `opted_out_at` in raw SQL: those columns
keep their names and meaning. Imports write contacts set-based (COPY + SQL upsert), so every
column a bulk INSERT may leave out has a database default (`db_default`) as well.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex, GinIndex, OpClass
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower, Now, Upper
from django.utils.translation import gettext_lazy as _

# E.164 allows at most 15 digits; the column leaves room for "+" and a little slack.
PHONE_MAX_LENGTH = 20
GROUP_NAME_MAX_LENGTH = 100


class Contact(models.Model):
    class OptOutVia(models.TextChoices):
        KEYWORD = "keyword", _("Replied with an opt-out word")
        MANUAL = "manual", _("Marked by a team member")
        API = "api", _("Through the API")
        IMPORT = "import", _("Imported as opted out")

    class Consent(models.TextChoices):
        UNKNOWN = "unknown", _("Unknown")
        GRANTED = "granted", _("Granted")
        REVOKED = "revoked", _("Revoked")

    phone = models.CharField(_("phone (E.164)"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), max_length=254, blank=True, db_default="")
    language = models.CharField(
        _("language"), max_length=16, blank=True, db_default="", help_text=_("Language code, e.g. en, hi, pt-BR.")
    )
    custom_fields = models.JSONField(
        _("custom fields"), default=dict, blank=True, db_default=models.Value({}, output_field=models.JSONField())
    )
    consent_status = models.CharField(
        _("consent"), max_length=16, choices=Consent.choices, default=Consent.UNKNOWN, db_default=Consent.UNKNOWN
    )
    consent_source = models.CharField(_("consent source"), max_length=200, blank=True, db_default="")
    consented_at = models.DateTimeField(_("consent recorded at"), null=True, blank=True)
    opted_out_at = models.DateTimeField(_("opted out at"), null=True, blank=True)
    opted_out_reason = models.CharField(_("opt-out reason"), max_length=200, blank=True)
    opted_out_via = models.CharField(_("opted out via"), max_length=16, choices=OptOutVia.choices, blank=True)
    groups = models.ManyToManyField(
        "contacts.Group", through="contacts.GroupMembership", related_name="contacts", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # Substring search on names ("%ravi%") at 1M rows: trigrams over UPPER(name), which
            # is exactly the expression Django's `name__icontains` compares.
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="contact_name_trgm"),
            # Numbers are searched by prefix ("+9198765…"), which the varchar_pattern_ops index
            # Django keeps for the unique phone column already serves; a trigram index on
            # phone would slow imports by a third for substring matches nobody needs.
            # Most contacts have no e-mail: index only those that do.
            models.Index(Lower("email"), name="contact_email_lower", condition=~models.Q(email="")),
            # Rows arrive in creation order, so a BRIN range index serves "contacts added per
            # day" at almost no cost to bulk inserts.
            BrinIndex(fields=["created_at"], name="contact_created_brin"),
        ]

    def __str__(self) -> str:
        return self.name or self.phone

    @property
    def is_opted_out(self) -> bool:
        return self.opted_out_at is not None


class Group(models.Model):
    """A group or tag of contacts (one model: a tag is a group a contact was labelled with).
    Names are unique per tenant regardless of case."""

    name = models.CharField(_("name"), max_length=GROUP_NAME_MAX_LENGTH)
    description = models.CharField(_("description"), max_length=300, blank=True, db_default="")
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="contact_group_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


class GroupMembership(models.Model):
    """Contact ∈ group. A plain table with a (group, contact) unique key so imports can add
    thousands of members in one `INSERT … SELECT … ON CONFLICT DO NOTHING`."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="memberships")
    added_at = models.DateTimeField(auto_now_add=True, db_default=Now())

    class Meta:
        constraints = [
            # Written as expressions so PostgreSQL gets a named unique *index*: the template
            # clone (django-tenants' clone_schema) renames multi-column unique *constraints*,
            # which would break later migrations on cloned tenants. Imports rely on it for
            # ON CONFLICT (group_id, contact_id).
            models.UniqueConstraint(F("group"), F("contact"), name="contact_group_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.group_id}"


class SuppressedNumber(models.Model):
    """A number never to message, whether or not it is a contact (complaints, legal requests,
    numbers that said STOP elsewhere). Campaigns skip these when they write their rows."""

    phone = models.CharField(_("phone (E.164)"), max_length=PHONE_MAX_LENGTH, unique=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.phone


def import_upload_to(instance: ImportJob, filename: str) -> str:
    # Uploads are private: no URL serves MEDIA_ROOT; files are read by the worker and the
    # error report is downloaded through an authenticated view of the owning tenant.
    from django.db import connection

    return f"imports/{connection.schema_name}/{filename}"


class ImportJob(models.Model):
    """One contact import: the uploaded file, how to read it, and what happened to each row.

    total_rows = created + updated + unchanged + skipped_existing + duplicates + errors."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    class Mode(models.TextChoices):
        UPDATE = "update", _("Update existing contacts")
        SKIP = "skip", _("Skip existing contacts")

    class Format(models.TextChoices):
        CSV = "csv", _("CSV / TSV")
        XLSX = "xlsx", _("Excel (.xlsx)")

    file = models.FileField(_("file"), upload_to=import_upload_to, max_length=300)
    original_name = models.CharField(_("file name"), max_length=255)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    delimiter = models.CharField(_("delimiter"), max_length=1, blank=True)
    encoding = models.CharField(_("encoding"), max_length=32, blank=True)
    headers = models.JSONField(_("columns"), default=list, blank=True)
    # {"phone": "Mobile", "name": "Full name", "custom.city": "City", "tags": "Labels"}
    mapping = models.JSONField(_("column mapping"), default=dict)
    mode = models.CharField(_("existing contacts"), max_length=8, choices=Mode.choices, default=Mode.UPDATE)
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports", verbose_name=_("add to group")
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    # Live progress while running (rows read so far, % of the file), final counts after.
    processed_rows = models.PositiveIntegerField(_("rows read"), default=0)
    progress = models.PositiveSmallIntegerField(_("progress %"), default=0)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    skipped_count = models.PositiveIntegerField(_("existing, skipped"), default=0)
    duplicate_count = models.PositiveIntegerField(_("duplicates in file"), default=0)
    error_count = models.PositiveIntegerField(_("rows with errors"), default=0)
    rows_per_s = models.FloatField(_("rows per second"), null=True, blank=True)
    error_file = models.FileField(_("error report"), upload_to=import_upload_to, max_length=300, blank=True)
    failure = models.TextField(_("failure"), blank=True)
    # Users live in the public schema; the id is kept without a cross-schema foreign key.
    created_by_id = models.BigIntegerField(_("created by"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.COMPLETED, self.State.FAILED)


class ImportMapping(models.Model):
    """The column mapping last used for files with these headers, offered again next time."""

    header_signature = models.CharField(max_length=64, unique=True)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return ", ".join(self.headers[:5])


class SavedFilter(models.Model):
    """A named audience filter over contact fields (the spec of apps.contacts.filters), reused by
    the contacts list and by campaigns; a campaign reads it when each run starts, so a recurring
    campaign follows later edits."""

    name = models.CharField(_("name"), max_length=GROUP_NAME_MAX_LENGTH)
    spec = models.JSONField(_("rules"), default=dict)
    created_by_id = models.BigIntegerField(null=True, blank=True)  # a public-schema user id
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="contact_saved_filter_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


def export_upload_to(instance: ContactExport, filename: str) -> str:
    # Private like import files: no URL serves MEDIA_ROOT; the file is downloaded through an
    # authenticated view of the owning tenant.
    from django.db import connection

    return f"exports/{connection.schema_name}/{filename}"


class ContactExport(models.Model):
    """One background export of contacts: the list's filters when it was asked for, the file the
    worker wrote (CSV or XLSX, cells neutralised against formulas) and how far it got. Files are
    deleted after a while (state `expired`); the row stays as a record."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    class Format(models.TextChoices):
        CSV = "csv", _("CSV")
        XLSX = "xlsx", _("Excel (.xlsx)")

    file_format = models.CharField(_("format"), max_length=8, choices=Format.choices, default=Format.CSV)
    # Keyword arguments of selectors.contacts_list, as they were when the export was asked for.
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    # rows_total is counted when the run starts (contacts added meanwhile may still be written);
    # once completed it is the number of rows in the file.
    rows_total = models.PositiveIntegerField(_("rows to write"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    file = models.FileField(_("file"), upload_to=export_upload_to, max_length=300, blank=True)
    error = models.TextField(_("error"), blank=True)
    # Users live in the public schema; the id is kept without a cross-schema foreign key.
    requested_by_id = models.BigIntegerField(_("requested by"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"contacts.{self.file_format} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.COMPLETED, self.State.FAILED, self.State.EXPIRED)

    @property
    def progress(self) -> int:
        """Percent written: 100 only once completed."""
        if self.state == self.State.COMPLETED:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)
