"""Tunable behaviour of the simulator: QR refresh, tick delays and odds, latency, invalid numbers.

Defaults come from `SIM_*` environment variables; tests and demos change them at runtime through
`POST /_sim/config`, and `POST /_sim/reset` puts the start-up values back.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

# Real WhatsApp Web rotates its pairing QR roughly every 20 s and gives up after a handful of
# rotations, showing "Click to reload QR code".
DEFAULT_QR_REFRESH_S = 20.0
DEFAULT_QR_MAX_REFRESHES = 5


class ConfigError(ValueError):
    """A control request named an unknown setting or gave it a value of the wrong kind."""


@dataclasses.dataclass
class SimulatorConfig:
    qr_refresh_s: float = DEFAULT_QR_REFRESH_S
    qr_max_refreshes: int = DEFAULT_QR_MAX_REFRESHES
    # Server ack (clock -> one tick), delivery (two ticks) and read (" Read ") delays, each
    # counted from the previous step. Delivery and read happen only with their probability.
    ack_delay_ms: int = 250
    deliver_delay_ms: int = 1000
    read_delay_ms: int = 3000
    deliver_probability: float = 0.95
    read_probability: float = 0.7
    # Added before every page, asset and page-API response ("slow network"); the control API
    # under /_sim/ is never delayed so tests stay quick.
    latency_ms: int = 0
    # Numbers ending with this suffix are "not on WhatsApp", as are the numbers in the list.
    invalid_suffix: str = "0000"
    invalid_numbers: list[str] = dataclasses.field(default_factory=list)
    # Where linked accounts, sessions and messages survive a restart; None keeps memory only.
    state_file: str | None = None
    # Seed for tick probabilities, so a benchmark run can be repeated exactly.
    seed: int | None = None

    # Settings that only make sense at start-up.
    FIXED = frozenset({"state_file", "seed"})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SimulatorConfig:
        """Build the start-up configuration from `SIM_<FIELD>` variables (upper case)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get("SIM_" + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = raw.split(",") if field.name == "invalid_numbers" else raw
        config = cls()
        config.update(values, allow_fixed=True)
        return config

    def update(self, changes: Mapping[str, Any], *, allow_fixed: bool = False) -> None:
        """Apply `changes`, converting strings from the environment; all or nothing."""
        known = {f.name: f for f in dataclasses.fields(self)}
        converted: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known or (name in self.FIXED and not allow_fixed):
                raise ConfigError(f"unknown or fixed setting: {name}")
            converted[name] = _convert(name, value)
        for name, value in converted.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def copy(self) -> SimulatorConfig:
        return dataclasses.replace(self, invalid_numbers=list(self.invalid_numbers))


def _convert(name: str, value: Any) -> Any:
    try:
        if name in {"qr_refresh_s", "deliver_probability", "read_probability"}:
            number = float(value)
            if number < 0 or (name.endswith("probability") and number > 1):
                raise ConfigError(f"{name} out of range: {value}")
            return number
        if name in {"qr_max_refreshes", "ack_delay_ms", "deliver_delay_ms", "read_delay_ms", "latency_ms"}:
            number = int(value)
            if number < 0:
                raise ConfigError(f"{name} must not be negative: {value}")
            return number
        if name == "seed":
            return None if value is None else int(value)
        if name == "invalid_numbers":
            if isinstance(value, str) or not isinstance(value, list | tuple):
                raise ConfigError("invalid_numbers must be a list of numbers")
            return ["".join(ch for ch in str(item) if ch.isdigit()) for item in value if str(item).strip()]
        if name in {"invalid_suffix", "state_file"}:
            return None if value is None else str(value)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"bad value for {name}: {value!r}") from exc
    raise ConfigError(f"unknown setting: {name}")
