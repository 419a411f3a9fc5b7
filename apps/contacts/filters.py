"""Filters over contact fields: the spec shared by saved filters, the contacts list and campaign
audiences, validated here and compiled to SQL over `contacts_contact c`.

The spec (JSON):

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
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_date, parse_datetime

from apps.contacts.models import Contact
from apps.core.exceptions import ValidationFailed


class FilterError(StrEnum):
    INVALID_FILTER = "invalid_filter"


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


@dataclass(frozen=True)
class Rule:
    field: str
    op: str
    value: Any


class _RuleRefused(Exception):
    """A malformed spec, turned into ValidationFailed (on the caller's field) by filter_rules."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(f"Rule {index + 1}: {message}" if index is not None else message)


_invalid = _RuleRefused


def _text(value: Any, index: int) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _invalid("the value must be text.", index)
    text = str(value).strip()
    if not text or len(text) > MAX_VALUE_LENGTH:
        raise _invalid(f"the value must be 1–{MAX_VALUE_LENGTH} characters.", index)
    return text


def _moment(value: Any, index: int, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    if isinstance(value, str):
        try:
            moment = parse_datetime(value.strip())
            if moment is not None:
                return moment if moment.tzinfo else moment.replace(tzinfo=zone)
            day = parse_date(value.strip())
        except ValueError:  # well-formed but impossible, e.g. 2026-02-30
            raise _invalid("that date does not exist.", index) from None
        if day is not None:
            return datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    raise _invalid("the value must be a date (2026-01-31) or a date and time.", index)


def filter_rules(spec: Any, *, field: str = "spec") -> tuple[str, list[Rule]]:
    """Validate a filter spec; returns ("all" | "any", rules). Raises ValidationFailed with code
    invalid_filter naming the rule at fault, under `field` in the error's details."""
    try:
        return _parse(spec)
    except _RuleRefused as refused:
        message = str(refused)
        raise ValidationFailed(message, code=FilterError.INVALID_FILTER, details={field: [message]}) from None


def _parse(spec: Any) -> tuple[str, list[Rule]]:
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


def rule_sql(rule: Rule, zone: zoneinfo.ZoneInfo) -> tuple[str, list[Any]]:
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


def spec_where(spec: Any, *, zone: zoneinfo.ZoneInfo) -> tuple[str, list[Any]]:
    """The condition (over `contacts_contact c`) of a valid spec, and its params; "TRUE" when it
    has no rules."""
    match, rules = filter_rules(spec)
    return rules_where(match, rules, zone=zone)


def rules_where(match: str, rules: list[Rule] | tuple[Rule, ...], *, zone: zoneinfo.ZoneInfo) -> tuple[str, list[Any]]:
    if not rules:
        return "TRUE", []
    parts = [rule_sql(rule, zone) for rule in rules]
    joiner = " AND " if match == "all" else " OR "
    params: list[Any] = []
    for _, rule_params in parts:
        params.extend(rule_params)
    return "(" + joiner.join(sql for sql, _ in parts) + ")", params


def tenant_zone() -> zoneinfo.ZoneInfo:
    """The current tenant's time zone (dates in `created_at` rules are its midnights)."""
    from apps.tenants.models import Tenant

    return Tenant.objects.get(schema_name=connection.schema_name).zone
