"""What every `make bench-*` command shares: judging figures against their goals."""

from __future__ import annotations

from collections.abc import Collection, Mapping


def goals_met(
    result: Mapping[str, object], goals: Mapping[str, float], ceilings: Collection[str] = ()
) -> dict[str, bool | None]:
    """Each goal: met, missed, or None when its figure was not measured. A goal is a floor (the
    figure must reach it) unless its key is in `ceilings` (the figure must stay at or under)."""
    met: dict[str, bool | None] = {}
    for key, goal in goals.items():
        value = result.get(key)
        if value is None:
            met[key] = None
        else:
            met[key] = value <= goal if key in ceilings else value >= goal  # type: ignore[operator]
    return met
