"""Durations the way people say them, and the 16 interval presets.

``parse_duration("1h30m")`` gives integer nanoseconds; ``format_duration``
gives the shortest exact spelling back. The presets are the two rotary
switches of the front panel: value 1·3·10·30 times unit s·min·h·days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from core.model.errors import DurationError
from core.model.toml_text import echo

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
MINUTE_NS = 60 * NS_PER_S
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS

# Largest first: format_duration walks this list.
UNITS: tuple[tuple[str, int], ...] = (
    ("d", DAY_NS),
    ("h", HOUR_NS),
    ("min", MINUTE_NS),
    ("s", NS_PER_S),
    ("ms", NS_PER_MS),
    ("us", 1_000),
    ("ns", 1),
)

_ALIASES = {
    "d": "d",
    "day": "d",
    "days": "d",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "m": "min",
    "min": "min",
    "mins": "min",
    "minute": "min",
    "minutes": "min",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "ms": "ms",
    "msec": "ms",
    "us": "us",
    "µs": "us",
    "ns": "ns",
}
_UNIT_NS = dict(UNITS)
# ASCII digits only: other scripts' digits would read as a number the
# photographer cannot check against what lapse writes back.
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([a-zµ]+)")
MAX_DIGITS = 30
"""Digits in one number: 30 spell any duration (365 days is 17 digits of nanoseconds),
and a limit keeps a mistyped or hostile value from costing seconds to read."""

DURATION_HELP = "a duration such as 500ms, 10s, 3min, 1h30m or 30d"


def parse_duration(text: str) -> int:
    """Read ``text`` such as ``"10s"`` or ``"1h30m"`` and return nanoseconds.

    A bare number is not accepted: without a unit, ``10`` could mean seconds
    or minutes, and guessing wrong ruins a night's shoot.
    """
    if not isinstance(text, str):
        raise DurationError(f"expected {DURATION_HELP}, got {echo(text)}")
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned:
        raise DurationError(f"expected {DURATION_HELP}, got an empty value")
    if cleaned.strip("0") == "":
        return 0  # zero needs no unit; the caller's range check then says what is allowed
    position = 0
    total = 0
    for match in _PART.finditer(cleaned):
        unit = _ALIASES.get(match.group(2))
        if match.start() != position or unit is None:
            break
        number = match.group(1)
        whole, _, fraction = number.partition(".")
        if len(whole) + len(fraction) > MAX_DIGITS:
            raise DurationError(
                f"{echo(text)} has too many digits for a duration"
                f" ({MAX_DIGITS} at most in a number): use {DURATION_HELP}"
            )
        scale = _UNIT_NS[unit]
        part = int(whole) * scale
        if fraction:
            part += int(fraction) * scale // 10 ** len(fraction)
        total += part
        position = match.end()
    if position != len(cleaned) or position == 0:
        raise DurationError(f"{echo(text)} is not a duration: use {DURATION_HELP}")
    return total


def parse_signed_duration(text: str) -> int:
    """:func:`parse_duration`, with a leading minus read as a negative duration.

    For a value with a range: ``"-1s"`` then reaches the range check, which
    says what is allowed, instead of being "not a duration".
    """
    stripped = text.strip() if isinstance(text, str) else text
    if isinstance(stripped, str) and stripped.startswith("-"):
        try:
            return -parse_duration(stripped[1:])
        except DurationError:
            raise DurationError(f"{echo(text)} is not a duration: use {DURATION_HELP}") from None
    return parse_duration(text)


def format_duration(ns: int) -> str:
    """Spell ``ns`` exactly and shortly: ``90 s`` → ``"1min30s"``, 0 → ``"0s"``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    rest = abs(ns)
    parts = []
    for name, size in UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{name}")
    return sign + "".join(parts)


def format_approx(ns: int) -> str:
    """Spell ``ns`` to its two largest units, for display: ``"29d23h"``, ``"4.2s"``."""
    rest = abs(ns)
    sign = "-" if ns < 0 else ""
    if rest < NS_PER_MS:
        return f"{sign}{rest / 1000:.0f}us"
    if rest < NS_PER_S:
        return f"{sign}{rest / NS_PER_MS:.1f}ms"
    if rest < MINUTE_NS:
        return f"{sign}{rest / NS_PER_S:.1f}s"
    parts = []
    for name, size in UNITS[:4]:
        count, rest = divmod(rest, size)
        if count or parts:
            parts.append(f"{count}{name}")
        if len(parts) == 2:
            break
    return sign + "".join(p for p in parts if not p.startswith("0"))


PRESET_VALUES: tuple[int, ...] = (1, 3, 10, 30)
PRESET_UNITS: tuple[str, ...] = ("s", "min", "h", "d")


@dataclass(frozen=True)
class Preset:
    """One position pair of the two rotary switches."""

    value: int
    unit: str

    @property
    def interval_ns(self) -> int:
        """The interval this position pair selects."""
        return self.value * _UNIT_NS[self.unit]

    @property
    def label(self) -> str:
        """How the switch reads: ``"30min"``."""
        return f"{self.value}{self.unit}"


PRESETS: tuple[Preset, ...] = tuple(
    Preset(value, unit) for unit in PRESET_UNITS for value in PRESET_VALUES
)


def preset_for(interval_ns: int) -> Preset | None:
    """The switch positions that give ``interval_ns``, or None for a custom interval."""
    for preset in PRESETS:
        if preset.interval_ns == interval_ns:
            return preset
    return None


def wall_iso(wall_ns: int) -> str:
    """ISO-8601 with the local zone, to the microsecond: for journals and display."""
    seconds, rest = divmod(wall_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC).astimezone().replace(microsecond=rest // 1000)
    return moment.isoformat(timespec="microseconds")
