"""A run's settings, validated at the edge with messages that name the limit."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from core.model.durations import (
    DAY_NS,
    NS_PER_MS,
    NS_PER_S,
    format_duration,
    parse_signed_duration,
)
from core.model.errors import DurationError, SettingsError
from core.model.toml_text import toml_value

MIN_INTERVAL_NS = 10 * NS_PER_MS
MAX_INTERVAL_NS = 365 * DAY_NS
MAX_FRAMES = 100_000_000
MAX_DELAY_NS = 365 * DAY_NS
MIN_EXPOSURE_NS = 1 * NS_PER_MS
MAX_EXPOSURE_NS = 1 * DAY_NS
MAX_FOCUS_LEAD_NS = 10 * NS_PER_S
MAX_CLOCK_PPM = 500.0

PULSE = "pulse"


@dataclass(frozen=True)
class Settings:
    """What the photographer chose for one run.

    Durations are integer nanoseconds. Build one with :meth:`from_dict` (human
    spellings, as in config and on the socket) or directly and call
    :meth:`validated`.
    """

    interval_ns: int
    """Time between shutter openings: frame k opens at t0 + k·interval."""
    power: bool = False
    """Switch the camera's power line on before each frame and off after it."""
    frames: int = 0
    """How many grid slots the run has; 0 runs until stopped."""
    delay_ns: int = 0
    """Wait this long after start before the first frame's leads begin."""
    exposure_ns: int | None = None
    """None: a short pulse, the camera times the exposure; else lapse holds the shutter (bulb)."""
    focus_lead_ns: int = 4 * NS_PER_S
    """How long the focus line leads the shutter (compressed for short intervals)."""
    clock_ppm: float = 0.0
    """This Pi's measured clock error; +18 stretches the grid by 18 parts per million."""

    def validated(self) -> Settings:
        """Return self, or raise :class:`SettingsError` naming the field and its limit."""
        _check_range("interval", self.interval_ns, MIN_INTERVAL_NS, MAX_INTERVAL_NS, duration=True)
        if not isinstance(self.power, bool):
            raise SettingsError("power must be true or false")
        if isinstance(self.frames, bool) or not isinstance(self.frames, int):
            raise SettingsError("frames must be a whole number (0 runs until stopped)")
        if not 0 <= self.frames <= MAX_FRAMES:
            raise SettingsError(
                f"frames must be between 0 (until stopped) and {MAX_FRAMES:,}, got {self.frames}"
            )
        _check_range("delay", self.delay_ns, 0, MAX_DELAY_NS, duration=True)
        if self.exposure_ns is not None:
            _check_range(
                "exposure", self.exposure_ns, MIN_EXPOSURE_NS, MAX_EXPOSURE_NS, duration=True
            )
        _check_range("focus lead", self.focus_lead_ns, 0, MAX_FOCUS_LEAD_NS, duration=True)
        ppm = self.clock_ppm
        limits = f"between -{MAX_CLOCK_PPM:g} and +{MAX_CLOCK_PPM:g} ppm"
        if isinstance(ppm, bool) or not isinstance(ppm, int | float) or not math.isfinite(ppm):
            raise SettingsError(
                f"clock trim must be a number of parts per million {limits}, got {toml_value(ppm)}"
            )
        if abs(ppm) > MAX_CLOCK_PPM:
            # Shown exactly: 500.00000000000006 rounded to "500" would read as allowed.
            raise SettingsError(f"clock trim must be {limits}, got {toml_value(ppm)}")
        return self

    def with_changes(self, **changes: Any) -> Settings:
        """A validated copy with ``changes`` applied."""
        return replace(self, **changes).validated()

    def to_dict(self) -> dict[str, Any]:
        """Human spellings, as written to config, run.toml and the socket."""
        return {
            "interval": format_duration(self.interval_ns),
            "power": self.power,
            "frames": self.frames,
            "delay": format_duration(self.delay_ns),
            "exposure": PULSE if self.exposure_ns is None else format_duration(self.exposure_ns),
            "focus_lead": format_duration(self.focus_lead_ns),
            "clock_ppm": float(self.clock_ppm),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Settings | None = None) -> Settings:
        """Read human spellings; keys not given keep ``base``'s values (or the defaults).

        Raises :class:`SettingsError` naming the key for an unknown key, a
        wrong type or a value out of range.
        """
        if not isinstance(data, dict):
            raise SettingsError("settings must be a table of names and values")
        known = set(SETTING_KEYS)
        for key in data:
            if key not in known:
                raise SettingsError(
                    f"unknown setting {key!r}; known settings are {', '.join(SETTING_KEYS)}"
                )
        if base is None and "interval" not in data:
            raise SettingsError('interval is required, e.g. interval = "10s"')
        values: dict[str, Any] = {}
        for key, value in data.items():
            values.update(_READERS[key](value))
        start = base if base is not None else cls(interval_ns=values.pop("interval_ns"))
        return replace(start, **values).validated()


def _check_range(name: str, value: int, low: int, high: int, *, duration: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{name} must be a duration")
    if not low <= value <= high:
        show = format_duration if duration else str
        raise SettingsError(
            f"{name} must be between {show(low)} and {show(high)}, got {show(value)}"
        )


def _duration(key: str, field: str) -> Any:
    def read(value: Any) -> dict[str, Any]:
        if not isinstance(value, str):
            raise SettingsError(f'{key} must be a duration in quotes, such as "10s"; got {value!r}')
        try:
            return {field: parse_signed_duration(value)}
        except DurationError as error:
            raise SettingsError(f"{key}: {error}") from None

    return read


def _exposure(value: Any) -> dict[str, Any]:
    if value == PULSE:
        return {"exposure_ns": None}
    if not isinstance(value, str):
        raise SettingsError(f'exposure must be "pulse" or a bulb time such as "2s"; got {value!r}')
    try:
        return {"exposure_ns": parse_signed_duration(value)}
    except DurationError:
        raise SettingsError(
            f'exposure must be "pulse" or a bulb time such as "2s"; got {value!r}'
        ) from None


def _boolean(value: Any) -> dict[str, Any]:
    if not isinstance(value, bool):
        raise SettingsError(f"power must be true or false, got {value!r}")
    return {"power": value}


def _frames(value: Any) -> dict[str, Any]:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"frames must be a whole number (0 runs until stopped), got {value!r}")
    return {"frames": value}


def _ppm(value: Any) -> dict[str, Any]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(f"clock_ppm must be a number such as 18.5, got {value!r}")
    return {"clock_ppm": float(value)}


_READERS = {
    "interval": _duration("interval", "interval_ns"),
    "power": _boolean,
    "frames": _frames,
    "delay": _duration("delay", "delay_ns"),
    "exposure": _exposure,
    "focus_lead": _duration("focus_lead", "focus_lead_ns"),
    "clock_ppm": _ppm,
}
SETTING_KEYS: tuple[str, ...] = tuple(_READERS)

assert len(SETTING_KEYS) == len(fields(Settings)), "every Settings field has a reader"
