"""Who a campaign is for: groups (an uploaded list is imported into a group), every contact, and a
saved filter over contact fields, compiled to SQL over `contacts_contact c`.

The filter spec (stored in `Campaign.audience_filter`, JSON):

    {"match": "all" | "any",
     "rules": [{"field": "language", "op": "eq", "value": "hi"},
               {"field": "custom.city", "op": "in", "value": ["Pune", "Mumbai"]},
               {"field": "consent", "op": "eq", "value": "granted"},
               {"field": "created_at", "op": "after", "value": "2026-01-31"}]}

Fields and their operators:
- `language`, `consent`: eq, ne, in
- `name`, `email`: eq, contains, exists, not_exists
- `custom.<key>`: eq, ne, in, contains, exists, not_exists
- `created_at`: after (on or after), before (strictly before); a date means midnight in the
  tenant's time zone, a datetime with an offset means that moment.
Text comparisons ignore case and surrounding spaces. An empty spec ({}) filters nothing.

The audience is the members of any selected group (or every contact when `audience_all`),
narrowed by the filter; with neither groups nor `audience_all`, the filter alone selects from
every contact, and a campaign with none of the three has no audience.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_date, parse_datetime

from apps.campaigns.services.errors import CampaignError
from apps.contacts.models import Contact
from apps.core.exceptions import ValidationFailed

MAX_RULES = 20
MAX_IN_VALUES = 500
MAX_VALUE_LENGTH = 200
CUSTOM_PREFIX = "custom."

_TEXT_OPS = {"eq", "contains", "exists", "not_exists"}
FIELD_OPS: dict[str, set[str]] = {
    "language": {"eq", "ne", "in"},
    "consent": {"eq", "ne", "in"},
    "name": _TEXT_OPS,
    "email": _TEXT_OPS,
    "created_at": {"after", "before"},
}
CUSTOM_OPS = {"eq", "ne", "in", "contains", "exists", "not_exists"}
_COLUMNS = {"language": "c.language", "consent": "c.consent_status", "name": "c.name", "email": "c.email"}
# Why a contact of the audience gets no message (ledger state, error code), in priority order.
SKIP_OPTED_OUT = "opted_out"
SKIP_CONSENT_REVOKED = "consent_revoked"
SKIP_SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class Rule:
    field: str
    op: str
    value: Any


def _invalid(message: str, index: int | None = None) -> ValidationFailed:
    where = f"Rule {index + 1}: " if index is not None else ""
    return ValidationFailed(
        f"{where}{message}", code=CampaignError.INVALID_FILTER, details={"audience_filter": [f"{where}{message}"]}
    )


def _text(value: Any, index: int) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _invalid("the value must be text.", index)
    text = str(value).strip()
    if not text or len(text) > MAX_VALUE_LENGTH:
        raise _invalid(f"the value must be 1–{MAX_VALUE_LENGTH} characters.", index)
    return text


def _moment(value: Any, index: int, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    if isinstance(value, str):
        moment = parse_datetime(value.strip())
        if moment is not None:
            return moment if moment.tzinfo else moment.replace(tzinfo=zone)
        day = parse_date(value.strip())
        if day is not None:
            return datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    raise _invalid("the value must be a date (2026-01-31) or a date and time.", index)


def filter_rules(spec: Any) -> tuple[str, list[Rule]]:
    """Validate a filter spec; returns ("all" | "any", rules). Raises ValidationFailed with code
    invalid_filter naming the rule at fault."""
    if spec in (None, {}):
        return "all", []
    if not isinstance(spec, dict) or set(spec) - {"match", "rules"}:
        raise _invalid('A filter is {"match": "all" or "any", "rules": [...]}.')
    match = spec.get("match", "all")
    if match not in ("all", "any"):
        raise _invalid('"match" is "all" or "any".')
    raw_rules = spec.get("rules", [])
    if not isinstance(raw_rules, list) or len(raw_rules) > MAX_RULES:
        raise _invalid(f'"rules" is a list of at most {MAX_RULES} rules.')
    rules: list[Rule] = []
    for index, raw in enumerate(raw_rules):
        if not isinstance(raw, dict) or set(raw) - {"field", "op", "value"}:
            raise _invalid('a rule is {"field", "op", "value"}.', index)
        field, op, value = raw.get("field"), raw.get("op"), raw.get("value")
        if not isinstance(field, str):
            raise _invalid("the field is missing.", index)
        if field.startswith(CUSTOM_PREFIX):
            key = field[len(CUSTOM_PREFIX) :].strip()
            if not key or len(key) > 100:
                raise _invalid("name the custom field, e.g. custom.city.", index)
            field, ops = CUSTOM_PREFIX + key, CUSTOM_OPS
        elif field in FIELD_OPS:
            ops = FIELD_OPS[field]
        else:
            known = ", ".join([*FIELD_OPS, "custom.<field>"])
            raise _invalid(f"unknown field {field!r}; use one of {known}.", index)
        if op not in ops:
            raise _invalid(f"{field} supports {', '.join(sorted(ops))}, not {op!r}.", index)
        if op in ("exists", "not_exists"):
            value = None
        elif op == "in":
            if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
                raise _invalid(f"'in' takes a list of 1–{MAX_IN_VALUES} values.", index)
            value = [_text(item, index) for item in value]
        elif op in ("after", "before"):
            value = value if isinstance(value, str) else None
            _moment(value, index, zoneinfo.ZoneInfo("UTC"))  # shape check; the zone is applied in SQL
        else:
            value = _text(value, index)
        if field == "consent":
            allowed = set(Contact.Consent.values)
            for item in value if isinstance(value, list) else [value]:
                if item.lower() not in allowed:
                    raise _invalid(f"consent is one of {', '.join(sorted(allowed))}.", index)
        rules.append(Rule(field=field, op=op, value=value))
    return match, rules


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _rule_sql(rule: Rule, zone: zoneinfo.ZoneInfo) -> tuple[str, list[Any]]:
    if rule.field == "created_at":
        moment = _moment(rule.value, 0, zone)
        return ("c.created_at >= %s" if rule.op == "after" else "c.created_at < %s"), [moment]
    if rule.field.startswith(CUSTOM_PREFIX):
        column, params = "(c.custom_fields ->> %s)", [rule.field[len(CUSTOM_PREFIX) :]]
    else:
        column, params = _COLUMNS[rule.field], []
    if rule.op == "eq":
        return f"lower(btrim({column})) = lower(%s)", [*params, rule.value]
    if rule.op == "ne":
        return f"lower(btrim(COALESCE({column}, ''))) <> lower(%s)", [*params, rule.value]
    if rule.op == "in":
        return f"lower(btrim({column})) = ANY(%s)", [*params, [v.lower() for v in rule.value]]
    if rule.op == "contains":
        return f"{column} ILIKE %s", [*params, f"%{_escape_like(rule.value)}%"]
    if rule.op == "exists":
        return f"NULLIF(btrim({column}), '') IS NOT NULL", params
    return f"NULLIF(btrim({column}), '') IS NULL", params


@dataclass(frozen=True)
class AudienceSpec:
    group_ids: tuple[int, ...]
    everyone: bool
    match: str
    rules: tuple[Rule, ...]


def audience_spec(*, group_ids: list[int], everyone: bool, audience_filter: Any) -> AudienceSpec:
    """Validate an audience definition (raises ValidationFailed when there is no audience or the
    filter is malformed)."""
    match, rules = filter_rules(audience_filter)
    if not group_ids and not everyone and not rules:
        raise ValidationFailed(
            "Choose who receives the campaign: groups, all contacts, or a filter.", code=CampaignError.NO_AUDIENCE
        )
    return AudienceSpec(group_ids=tuple(sorted(set(group_ids))), everyone=everyone, match=match, rules=tuple(rules))


def audience_where(spec: AudienceSpec, *, zone: zoneinfo.ZoneInfo) -> tuple[str, list[Any]]:
    """The WHERE condition (over `contacts_contact c`) selecting the audience, and its params."""
    clauses: list[str] = []
    params: list[Any] = []
    if spec.group_ids and not spec.everyone:
        clauses.append(
            "EXISTS (SELECT 1 FROM contacts_groupmembership gm WHERE gm.contact_id = c.id AND gm.group_id = ANY(%s))"
        )
        params.append(list(spec.group_ids))
    if spec.rules:
        parts = [_rule_sql(rule, zone) for rule in spec.rules]
        joiner = " AND " if spec.match == "all" else " OR "
        clauses.append("(" + joiner.join(sql for sql, _ in parts) + ")")
        for _, rule_params in parts:
            params.extend(rule_params)
    return (" AND ".join(clauses) or "TRUE"), params


# Why a contact gets no message, decided in SQL: NULL for a contact to send to.
SKIP_REASON_SQL = (
    "CASE WHEN c.opted_out_at IS NOT NULL THEN 'opted_out' "
    "WHEN c.consent_status = 'revoked' THEN 'consent_revoked' "
    "WHEN EXISTS (SELECT 1 FROM contacts_suppressednumber s WHERE s.phone = c.phone) THEN 'suppressed' "
    "END"
)


@dataclass(frozen=True)
class AudienceSummary:
    contacts: int
    sendable: int
    opted_out: int
    suppressed: int


def audience_summary(spec: AudienceSpec, *, zone: zoneinfo.ZoneInfo) -> AudienceSummary:
    """How many contacts the audience has now and how many would be skipped (one query)."""
    where, params = audience_where(spec, zone=zone)
    sql = (
        "SELECT count(*), count(*) FILTER (WHERE skip IS NULL), "  # noqa: S608 - fixed SQL, values are params
        "count(*) FILTER (WHERE skip IN ('opted_out', 'consent_revoked')), "
        "count(*) FILTER (WHERE skip = 'suppressed') "
        f"FROM (SELECT {SKIP_REASON_SQL} AS skip FROM contacts_contact c WHERE {where}) AS audience"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        total, sendable, opted_out, suppressed = cursor.fetchone()
    return AudienceSummary(contacts=total, sendable=sendable, opted_out=opted_out, suppressed=suppressed)


def audience_matches(spec: AudienceSpec, *, zone: zoneinfo.ZoneInfo) -> int:
    """Audience matches counted once per selected group a contact is in: a contact in two of the
    selected groups is matched twice and messaged once (the difference is `duplicates`). With at
    most one group (or all contacts) every match is a distinct contact, so callers skip this."""
    where, params = audience_where(spec, zone=zone)
    sql = (
        "SELECT count(*) FROM contacts_groupmembership m JOIN contacts_contact c ON c.id = m.contact_id "  # noqa: S608
        f"WHERE m.group_id = ANY(%s) AND {where}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(spec.group_ids), *params])
        return int(cursor.fetchone()[0])
