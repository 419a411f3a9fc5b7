"""The fast half of a contact import: rows → staging table (COPY) → contacts (set-based SQL).

Rows are checked and normalised in Python (one pass, no ORM objects), the first occurrence of
each number wins, and good rows stream into a session-local temporary table with COPY in
chunks (between chunks the caller reports progress). Then a handful of SQL statements apply
the whole file: update existing contacts (mode "update": only the fields the file provides and
only when something changes), insert new ones (`ON CONFLICT (phone) DO NOTHING`, so a number
that appears concurrently is never duplicated), and add group/tag memberships with
`INSERT … SELECT … ON CONFLICT DO NOTHING`. The staging tables are `pg_temp` tables of this
database session: invisible to other sessions, unlogged, gone with the session.

A NULL in the staging table means "the file says nothing" (column not mapped or cell empty),
so an update never blanks a field, and an import never clears an opt-out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from json.encoder import encode_basestring

from django.db import IntegrityError, connection, transaction
from psycopg.errors import UniqueViolation

from apps.contacts.models import GROUP_NAME_MAX_LENGTH, Contact
from apps.contacts.services.import_mapping import CUSTOM_PREFIX
from apps.contacts.services.phones import REASON_MISSING, PhoneNormaliser

STAGE_TABLE = "pg_temp.contact_import_stage"
TAG_STAGE_TABLE = "pg_temp.contact_import_tags"
# Rows per COPY statement: big enough that statement overhead vanishes, small enough that
# progress can be reported about once a second.
COPY_CHUNK_ROWS = 20_000
NAME_MAX_LENGTH = Contact._meta.get_field("name").max_length
EMAIL_MAX_LENGTH = Contact._meta.get_field("email").max_length
LANGUAGE_MAX_LENGTH = Contact._meta.get_field("language").max_length
CUSTOM_VALUE_MAX_LENGTH = 1000
OPTED_OUT_REASON = "Imported as opted out"

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*", re.IGNORECASE)
_TAG_SPLIT = re.compile(r"\s*[,;|]\s*")
_CONSENT_WORDS = {
    Contact.Consent.GRANTED: {"granted", "yes", "y", "true", "1", "opted in", "opt-in", "opted_in", "optin"}
    | {"subscribed", "given"},
    Contact.Consent.REVOKED: {"revoked", "no", "n", "false", "0", "withdrawn", "denied", "opted out", "opt-out"}
    | {"unsubscribed"},
    Contact.Consent.UNKNOWN: {"unknown", "?"},
}
_CONSENT = {word: str(status) for status, words in _CONSENT_WORDS.items() for word in words}
_OPTED_OUT = {word: True for word in ("yes", "y", "true", "1", "x", "stop", "opted out", "unsubscribed", "dnd")}
_OPTED_OUT.update({word: False for word in ("no", "n", "false", "0", "-")})


class BadCell(Exception):
    """A cell the row cannot be imported with; the message is the reason in the error file."""


def _name(value: str) -> str:
    if len(value) > NAME_MAX_LENGTH:
        raise BadCell(f"name longer than {NAME_MAX_LENGTH} characters")
    return value


def _email(value: str) -> str:
    if len(value) > EMAIL_MAX_LENGTH or not _EMAIL.fullmatch(value):
        raise BadCell(f"invalid e-mail address {value[:60]!r}")
    return value


def _language(value: str) -> str:
    value = value.replace("_", "-")
    if len(value) > LANGUAGE_MAX_LENGTH or not _LANGUAGE.fullmatch(value):
        raise BadCell(f"invalid language code {value[:20]!r}")
    primary, _, rest = value.partition("-")
    return primary.lower() + ("-" + rest if rest else "")


def _consent(value: str) -> str:
    status = _CONSENT.get(value.lower())
    if status is None:
        raise BadCell(f"unknown consent value {value[:20]!r}")
    return status


def _opted_out(value: str) -> bool | None:
    flag = _OPTED_OUT.get(value.lower())
    if flag is None:
        raise BadCell(f"unknown opted-out value {value[:20]!r}")
    return True if flag else None  # "no" says nothing: an import never clears an opt-out


_CONVERTERS: dict[str, Callable[[str], object]] = {
    "name": _name,
    "email": _email,
    "language": _language,
    "consent": _consent,
    "opted_out": _opted_out,
}
# Staging column and SQL type per field (phone and custom are added around them).
_STAGE_TYPES = {"phone": "text", "name": "text", "email": "text", "language": "text", "consent": "text"} | {
    "opted_out": "boolean",
    "custom": "jsonb",
}


@dataclass(frozen=True)
class ColumnPlan:
    """Where each mapped field is in a row, and the staging columns they fill."""

    width: int
    phone: int
    fields: tuple[tuple[str, int], ...]  # (field, column index) for _CONVERTERS fields
    custom: tuple[tuple[str, int], ...]  # (key, column index)
    tags: int | None

    @classmethod
    def build(cls, headers: list[str], mapping: dict[str, str]) -> ColumnPlan:
        index = {header: i for i, header in enumerate(headers)}
        return cls(
            width=len(headers),
            phone=index[mapping["phone"]],
            fields=tuple((f, index[mapping[f]]) for f in _CONVERTERS if f in mapping),
            custom=tuple(
                (key[len(CUSTOM_PREFIX) :], index[column])
                for key, column in mapping.items()
                if key.startswith(CUSTOM_PREFIX)
            ),
            tags=index[mapping["tags"]] if "tags" in mapping else None,
        )

    @property
    def stage_columns(self) -> list[str]:
        return ["phone", *(f for f, _ in self.fields), *(["custom"] if self.custom else [])]


@dataclass
class StageCounts:
    total: int = 0
    staged: int = 0
    duplicates: int = 0
    errors: int = 0


@dataclass
class ApplyCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    existing_before: int = 0
    groups_created: list[str] = field(default_factory=list)


def stage_create(plan: ColumnPlan) -> None:
    columns = ", ".join(f"{name} {_STAGE_TYPES[name]}" for name in plan.stage_columns)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE_TABLE}, {TAG_STAGE_TABLE}")
        cursor.execute(f"CREATE TEMPORARY TABLE contact_import_stage ({columns})")
        cursor.execute("CREATE TEMPORARY TABLE contact_import_tags (phone text, tag text)")


def stage_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE_TABLE}, {TAG_STAGE_TABLE}")


def _copy(table: str, columns: list[str], rows: list[list]) -> None:
    if not rows:
        return
    # The psycopg cursor under Django's wrapper: COPY streams rows without building SQL.
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def stage_rows(
    rows: Iterable[tuple[int, list[str]]],
    *,
    plan: ColumnPlan,
    normalise: PhoneNormaliser,
    strict_width: bool,
    on_error: Callable[[int, str, list[str]], None],
    on_chunk: Callable[[StageCounts], None],
) -> StageCounts:
    """Checks, normalises and de-duplicates every row and COPYs the good ones into the staging
    tables. `on_error(line, reason, cells)` gets each rejected row; `on_chunk(counts)` runs
    after each COPY chunk (progress)."""
    counts = StageCounts()
    seen: set[str] = set()
    stage_columns = plan.stage_columns
    chunk: list[list] = []
    tag_chunk: list[list[str]] = []
    width, phone_index, fields, custom, tags_index = plan.width, plan.phone, plan.fields, plan.custom, plan.tags
    converters = [(_CONVERTERS[name], index) for name, index in fields]
    custom = tuple((encode_basestring(key) + ": ", index) for key, index in custom)
    for line, cells in rows:
        counts.total += 1
        if len(cells) != width:
            if not "".join(cells).strip():
                counts.errors += 1
                on_error(line, "empty row", cells)
                continue
            if strict_width or len(cells) > width:
                counts.errors += 1
                on_error(line, f"expected {width} columns, found {len(cells)}", cells)
                continue
            cells = cells + [""] * (width - len(cells))
        e164, reason = normalise(cells[phone_index])
        if e164 is None:
            if reason == REASON_MISSING and not "".join(cells).strip():
                reason = "empty row"
            counts.errors += 1
            on_error(line, reason, cells)
            continue
        if e164 in seen:
            counts.duplicates += 1
            continue
        record: list = [e164]
        try:
            for convert, index in converters:
                value = cells[index].strip()
                record.append(convert(value) if value else None)
            if custom:
                # json.dumps costs more than the rest of the row; the keys are fixed and
                # encode_basestring is the C encoder json.dumps uses for strings.
                parts = []
                for key, index in custom:
                    value = cells[index].strip()
                    if value:
                        if len(value) > CUSTOM_VALUE_MAX_LENGTH:
                            raise BadCell(f"custom field longer than {CUSTOM_VALUE_MAX_LENGTH} characters")
                        parts.append(key + encode_basestring(value))
                record.append("{" + ", ".join(parts) + "}" if parts else None)
            if tags_index is not None and cells[tags_index].strip():
                names = {t[:GROUP_NAME_MAX_LENGTH] for t in _TAG_SPLIT.split(cells[tags_index].strip()) if t}
                tag_chunk.extend([e164, name] for name in sorted(names))
        except BadCell as exc:
            counts.errors += 1
            on_error(line, str(exc), cells)
            continue
        seen.add(e164)
        chunk.append(record)
        counts.staged += 1
        if len(chunk) >= COPY_CHUNK_ROWS:
            _copy(STAGE_TABLE, stage_columns, chunk)
            _copy(TAG_STAGE_TABLE, ["phone", "tag"], tag_chunk)
            chunk, tag_chunk = [], []
            on_chunk(counts)
    _copy(STAGE_TABLE, stage_columns, chunk)
    _copy(TAG_STAGE_TABLE, ["phone", "tag"], tag_chunk)
    on_chunk(counts)
    return counts


def _update_sql(plan: ColumnPlan) -> str | None:
    """UPDATE of existing contacts from the stage: each provided field, only where it differs."""
    provided = {name for name, _ in plan.fields}
    sets, changed = [], []
    for name in ("name", "email", "language"):
        if name in provided:
            sets.append(f"{name} = COALESCE(s.{name}, c.{name})")
            changed.append(f"(s.{name} IS NOT NULL AND s.{name} IS DISTINCT FROM c.{name})")
    if "consent" in provided:
        differs = "(s.consent IS NOT NULL AND s.consent IS DISTINCT FROM c.consent_status)"
        sets += [
            "consent_status = COALESCE(s.consent, c.consent_status)",
            f"consent_source = CASE WHEN {differs} THEN %(source)s ELSE c.consent_source END",
            f"consented_at = CASE WHEN {differs} THEN now() ELSE c.consented_at END",
        ]
        changed.append(differs)
    if "opted_out" in provided:
        newly = "(s.opted_out AND c.opted_out_at IS NULL)"
        sets += [
            f"opted_out_at = CASE WHEN {newly} THEN now() ELSE c.opted_out_at END",
            f"opted_out_reason = CASE WHEN {newly} THEN %(opt_out_reason)s ELSE c.opted_out_reason END",
            f"opted_out_via = CASE WHEN {newly} THEN %(opt_out_via)s ELSE c.opted_out_via END",
        ]
        changed.append(newly)
    if plan.custom:
        sets.append("custom_fields = c.custom_fields || COALESCE(s.custom, '{}'::jsonb)")
        changed.append("(s.custom IS NOT NULL AND NOT c.custom_fields @> s.custom)")
    if not sets:
        return None
    sets.append("updated_at = now()")
    return (
        f"UPDATE contacts_contact c SET {', '.join(sets)} FROM {STAGE_TABLE} s "  # noqa: S608 - fixed names
        f"WHERE c.phone = s.phone AND ({' OR '.join(changed)})"
    )


def _insert_sql(plan: ColumnPlan, *, guarded: bool) -> str:
    """INSERT of the staged numbers that are not contacts yet. The fast form filters them with
    an anti-join and inserts in phone order (plain index inserts, sequential in the phone
    index); the guarded form adds ON CONFLICT for a number inserted concurrently (an opt-out
    reply creating its contact mid-import), at about half the speed."""
    provided = {name for name, _ in plan.fields}

    def given(name: str, expression: str, default: str) -> str:
        return expression if name in provided else default

    consent = "s.consent IS NOT NULL"
    opted_out = "s.opted_out IS TRUE"
    values = {
        "phone": "s.phone",
        "name": given("name", "COALESCE(s.name, '')", "''"),
        "email": given("email", "COALESCE(s.email, '')", "''"),
        "language": given("language", "COALESCE(s.language, '')", "''"),
        "custom_fields": "COALESCE(s.custom, '{}'::jsonb)" if plan.custom else "'{}'::jsonb",
        "consent_status": given("consent", "COALESCE(s.consent, 'unknown')", "'unknown'"),
        "consent_source": given("consent", f"CASE WHEN {consent} THEN %(source)s ELSE '' END", "''"),
        "consented_at": given("consent", f"CASE WHEN {consent} THEN now() END", "NULL"),
        "opted_out_at": given("opted_out", f"CASE WHEN {opted_out} THEN now() END", "NULL"),
        "opted_out_reason": given("opted_out", f"CASE WHEN {opted_out} THEN %(opt_out_reason)s ELSE '' END", "''"),
        "opted_out_via": given("opted_out", f"CASE WHEN {opted_out} THEN %(opt_out_via)s ELSE '' END", "''"),
        "created_at": "now()",
        "updated_at": "now()",
    }
    insert = f"INSERT INTO contacts_contact ({', '.join(values)}) SELECT {', '.join(values.values())} "
    source = f"FROM {STAGE_TABLE} s "
    if guarded:
        return insert + source + "ON CONFLICT (phone) DO NOTHING"
    anti_join = "WHERE NOT EXISTS (SELECT 1 FROM contacts_contact c WHERE c.phone = s.phone) ORDER BY s.phone"
    return insert + source + anti_join


_GROUP_MEMBERS_GUARDED_SQL = (
    "INSERT INTO contacts_groupmembership (group_id, contact_id, added_at) "  # noqa: S608 - fixed names
    f"SELECT %(group_id)s, c.id, now() FROM {STAGE_TABLE} s JOIN contacts_contact c ON c.phone = s.phone "
    "ON CONFLICT (group_id, contact_id) DO NOTHING"
)
_GROUP_MEMBERS_SQL = (
    "INSERT INTO contacts_groupmembership (group_id, contact_id, added_at) "  # noqa: S608 - fixed names
    f"SELECT %(group_id)s, c.id, now() FROM {STAGE_TABLE} s JOIN contacts_contact c ON c.phone = s.phone "
    "WHERE NOT EXISTS (SELECT 1 FROM contacts_groupmembership m WHERE m.group_id = %(group_id)s "
    "AND m.contact_id = c.id) ORDER BY c.id"
)


def _execute_fast_or_guarded(cursor, fast: str, guarded: str, params: dict) -> int:
    """Runs `fast` in a savepoint; if a concurrent writer made it hit a unique index, runs the
    ON CONFLICT form instead. Returns the rows inserted."""
    try:
        with transaction.atomic():
            cursor.execute(fast, params)
    except IntegrityError as exc:
        if not isinstance(exc.__cause__, UniqueViolation):
            raise
        cursor.execute(guarded, params)
    return cursor.rowcount


# Tags name groups case-insensitively; the first spelling seen creates the group.
_TAG_GROUPS_SQL = (
    "INSERT INTO contacts_group (name, description, created_at) "  # noqa: S608 - fixed names
    f"SELECT DISTINCT ON (lower(tag)) tag, '', now() FROM {TAG_STAGE_TABLE} "
    "ORDER BY lower(tag), tag ON CONFLICT ((lower(name))) DO NOTHING RETURNING name"
)
_TAG_MEMBERS_SQL = (
    "INSERT INTO contacts_groupmembership (group_id, contact_id, added_at) "  # noqa: S608 - fixed names
    f"SELECT DISTINCT g.id, c.id, now() FROM {TAG_STAGE_TABLE} t "
    "JOIN contacts_group g ON lower(g.name) = lower(t.tag) JOIN contacts_contact c ON c.phone = t.phone "
    "ON CONFLICT (group_id, contact_id) DO NOTHING"
)


def stage_apply(
    *,
    plan: ColumnPlan,
    staged: int,
    update_existing: bool,
    group_id: int | None,
    source: str,
    opt_out_via: str = Contact.OptOutVia.IMPORT,
    opt_out_reason: str = OPTED_OUT_REASON,
) -> ApplyCounts:
    """Applies the staged file to the contacts (call inside a transaction). Rows newly opted out
    record `opt_out_via` and `opt_out_reason` (a file import by default; the bulk API says so)."""
    params = {"source": source, "opt_out_reason": opt_out_reason, "opt_out_via": str(opt_out_via)}
    counts = ApplyCounts()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {STAGE_TABLE}")
        cursor.execute("SELECT count(*) FROM contacts_contact")
        counts.existing_before = cursor.fetchone()[0]
        update_sql = _update_sql(plan) if update_existing else None
        if update_sql is not None:
            cursor.execute(update_sql, params)
            counts.updated = cursor.rowcount
        counts.created = _execute_fast_or_guarded(
            cursor, _insert_sql(plan, guarded=False), _insert_sql(plan, guarded=True), params
        )
        matched = staged - counts.created
        if update_existing:
            counts.unchanged = matched - counts.updated
        else:
            counts.skipped = matched
        if group_id is not None:
            params = {"group_id": group_id}
            _execute_fast_or_guarded(cursor, _GROUP_MEMBERS_SQL, _GROUP_MEMBERS_GUARDED_SQL, params)
        if plan.tags is not None:
            counts.groups_created = _apply_tags(cursor)
    return counts


def _apply_tags(cursor) -> list[str]:
    cursor.execute(f"ANALYZE {TAG_STAGE_TABLE}")
    cursor.execute(_TAG_GROUPS_SQL)
    created = sorted(row[0] for row in cursor.fetchall())
    cursor.execute(_TAG_MEMBERS_SQL)
    return created
