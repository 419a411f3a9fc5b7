"""Who a campaign is for: groups (an uploaded list is imported into a group), every contact, its
own filter over contact fields (`Campaign.audience_filter`) and a saved filter
(`Campaign.saved_filter`), compiled to SQL over `contacts_contact c`. Filter specs are those of
apps.contacts.filters.

The audience is the members of any selected group (or every contact when `audience_all`),
narrowed by both filters; with neither groups nor `audience_all`, the filters alone select from
every contact, and a campaign with none of these has no audience.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db import connection

from apps.campaigns.services.errors import CampaignError
from apps.contacts.filters import Rule, filter_rules, rules_where
from apps.contacts.models import SavedFilter
from apps.contacts.selectors import imports_unfinished_into
from apps.core.exceptions import Conflict, ValidationFailed

# Why a contact of the audience gets no message (ledger state, error code), in priority order.
SKIP_OPTED_OUT = "opted_out"
SKIP_CONSENT_REVOKED = "consent_revoked"
SKIP_SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class AudienceSpec:
    group_ids: tuple[int, ...]
    everyone: bool
    match: str
    rules: tuple[Rule, ...]
    saved_match: str = "all"
    saved_rules: tuple[Rule, ...] = ()


def audience_spec(
    *, group_ids: list[int], everyone: bool, audience_filter: Any, saved_filter: SavedFilter | None = None
) -> AudienceSpec:
    """Validate an audience definition (raises ValidationFailed when there is no audience or a
    filter is malformed). A saved filter counts as an audience even when it has no rules yet:
    choosing it means "every contact it matches"."""
    match, rules = filter_rules(audience_filter, field="audience_filter")
    saved_match, saved_rules = (
        filter_rules(saved_filter.spec, field="saved_filter") if saved_filter is not None else ("all", [])
    )
    if not group_ids and not everyone and not rules and saved_filter is None:
        raise ValidationFailed(
            "Choose who receives the campaign: groups, all contacts, or a filter.", code=CampaignError.NO_AUDIENCE
        )
    return AudienceSpec(
        group_ids=tuple(sorted(set(group_ids))),
        everyone=everyone,
        match=match,
        rules=tuple(rules),
        saved_match=saved_match,
        saved_rules=tuple(saved_rules),
    )


def campaign_audience_spec(campaign: Any, *, everyone: bool | None = None) -> AudienceSpec:
    """The audience of a saved campaign as it is now (its saved filter read afresh)."""
    return audience_spec(
        group_ids=list(campaign.groups.values_list("id", flat=True)),
        everyone=campaign.audience_all if everyone is None else everyone,
        audience_filter=campaign.audience_filter,
        saved_filter=campaign.saved_filter,
    )


def audience_imports_check(campaign: Any) -> None:
    """Refuse (409 audience_importing) while a list is still being imported into one of the
    campaign's groups: a run started now would miss the rows not yet loaded, and a run's
    recipients are never re-selected (resume works on its rows)."""
    if campaign.audience_all:
        return
    group_ids = list(campaign.groups.values_list("id", flat=True))
    importing = list(imports_unfinished_into(group_ids).values_list("original_name", flat=True)[:5])
    if importing:
        raise Conflict(
            f"The list {', '.join(importing)} is still being imported; start the campaign when it has finished.",
            code=CampaignError.AUDIENCE_IMPORTING,
            details={"imports": importing},
        )


def audience_where(spec: AudienceSpec, *, zone: zoneinfo.ZoneInfo) -> tuple[str, list[Any]]:
    """The WHERE condition (over `contacts_contact c`) selecting the audience, and its params."""
    clauses: list[str] = []
    params: list[Any] = []
    if spec.group_ids and not spec.everyone:
        clauses.append(
            "EXISTS (SELECT 1 FROM contacts_groupmembership gm WHERE gm.contact_id = c.id AND gm.group_id = ANY(%s))"
        )
        params.append(list(spec.group_ids))
    for match, rules in ((spec.match, spec.rules), (spec.saved_match, spec.saved_rules)):
        if rules:
            sql, rule_params = rules_where(match, rules, zone=zone)
            clauses.append(sql)
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
