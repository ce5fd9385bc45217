"""A run's settings, validated at the edge with messages that name the limit.

The ``[run]`` table of the config file and the settings on the socket are the
same keys, declared once in :data:`RUN`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

from core.model.durations import DAY_NS, NS_PER_MS, NS_PER_S, format_duration
from core.model.errors import SettingsError
from core.model.fields import (
    Choice,
    Duration,
    Flag,
    Invalid,
    Kind,
    Number,
    Phrase,
    Span,
    Table,
    UnknownKey,
    Whole,
    Wording,
)
from core.model.windows import NIGHT_ANGLE, When, tidy_between

MIN_INTERVAL_NS = 10 * NS_PER_MS
MAX_INTERVAL_NS = 365 * DAY_NS
MAX_FRAMES = 100_000_000
MAX_DELAY_NS = 365 * DAY_NS
MIN_EXPOSURE_NS = 1 * NS_PER_MS
MAX_EXPOSURE_NS = 1 * DAY_NS
MAX_FOCUS_LEAD_NS = 10 * NS_PER_S
MAX_CLOCK_PPM = 500.0
SHORTEST_POWER_OFF_NS = 100 * NS_PER_MS
"""Below this a camera's supply capacitors carry it through: the line would still only blip."""
LONGEST_POWER_OFF_NS = 3_600 * NS_PER_S
LOWEST_NIGHT_ANGLE = -18.0
"""Astronomical night: the sky is as dark as it gets."""
HIGHEST_NIGHT_ANGLE = 10.0


class Exposure(StrEnum):
    """What ``exposure`` says instead of a bulb time."""

    PULSE = "pulse"
    """A short pulse: the camera times the exposure itself."""


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
    min_power_off_ns: int = NS_PER_S
    """The shortest time the camera's power may be off; power stays on between frames
    that would leave it off for less (see :func:`core.model.plan.make_plan`)."""
    between: str = ""
    """The daily window slots must fall in (``sunset-30min..sunrise``, ``06:00..20:00``);
    empty: no window (:mod:`core.model.windows`)."""
    when: When = When.ALWAYS
    """Shoot only at night (the sun below ``night_angle``), only by day, or always."""
    night_angle: float = NIGHT_ANGLE
    """The sun's altitude in degrees below which it is night."""
    night_interval_ns: int = 0
    """The interval while it is night (:mod:`core.model.paces`); 0: the same as by day."""

    @property
    def paced(self) -> bool:
        """The run changes its interval at night."""
        return self.night_interval_ns not in (0, self.interval_ns)

    def at_night(self) -> Settings:
        """These settings at the night's pace (themselves when there is none)."""
        return replace(self, interval_ns=self.night_interval_ns) if self.paced else self

    @property
    def windowed(self) -> bool:
        """Slots outside a window are skipped: ``between`` or ``when`` is set."""
        return bool(self.between) or self.when is not When.ALWAYS

    def validated(self) -> Settings:
        """Return self, or raise :class:`SettingsError` naming the field and its limit."""
        try:
            RUN.check(self)
        except Invalid as invalid:
            raise SettingsError(invalid.spoken) from None
        night = self.night_interval_ns
        if 0 < night < MIN_INTERVAL_NS:
            raise SettingsError(
                f"night interval must be 0s (the interval) or at least"
                f" {format_duration(MIN_INTERVAL_NS)}, got {format_duration(night)}"
            )
        return self

    def with_changes(self, **changes: Any) -> Settings:
        """A validated copy with ``changes`` applied."""
        return replace(self, **changes).validated()

    def to_dict(self) -> dict[str, Any]:
        """Human spellings, as written to config, run.toml and the socket."""
        return RUN.write(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Settings | None = None) -> Settings:
        """Read human spellings; keys not given keep ``base``'s values (or the defaults).

        Raises :class:`SettingsError` naming the key for an unknown key, a
        wrong type or a value out of range.
        """
        if not isinstance(data, dict):
            raise SettingsError("settings must be a table of names and values")
        try:
            values = RUN.read(data)
        except UnknownKey as unknown:
            raise SettingsError(
                f"unknown setting {unknown.entry!r}; known settings are {', '.join(unknown.known)}"
            ) from None
        except Invalid as invalid:
            raise SettingsError(invalid.spoken) from None
        if base is None and "interval_ns" not in values:
            raise SettingsError('interval is required, e.g. interval = "10s"')
        start = base if base is not None else cls(interval_ns=values.pop("interval_ns"))
        return replace(start, **values).validated()


RUN = Table(
    "run",
    (
        Duration(
            "interval",
            attr="interval_ns",
            range=Span(Kind.DURATION, MIN_INTERVAL_NS, MAX_INTERVAL_NS),
        ),
        Flag("power"),
        Whole(
            "frames",
            range=Span(Kind.WHOLE, 0, MAX_FRAMES, low_note="(until stopped)"),
            what="a whole number (0 runs until stopped)",
        ),
        Duration("delay", attr="delay_ns", range=Span(Kind.DURATION, 0, MAX_DELAY_NS)),
        Duration(
            "exposure",
            attr="exposure_ns",
            range=Span(Kind.DURATION, MIN_EXPOSURE_NS, MAX_EXPOSURE_NS),
            what="a bulb time",
            example="2s",
            absent=Exposure.PULSE,
        ),
        Duration(
            "focus_lead",
            attr="focus_lead_ns",
            said="focus lead",
            range=Span(Kind.DURATION, 0, MAX_FOCUS_LEAD_NS),
        ),
        Number(
            "clock_ppm",
            said="clock trim",
            range=Span(Kind.NUMBER, -MAX_CLOCK_PPM, MAX_CLOCK_PPM, unit="ppm"),
            what="a number of parts per million such as 18.5",
        ),
        Duration(
            "min_power_off",
            attr="min_power_off_ns",
            said="minimum power-off",
            range=Span(Kind.DURATION, SHORTEST_POWER_OFF_NS, LONGEST_POWER_OFF_NS),
        ),
        Phrase("between", tidy=tidy_between),
        Choice("when", choices=When),
        Duration(
            "night_interval",
            attr="night_interval_ns",
            said="night interval",
            range=Span(Kind.DURATION, 0, MAX_INTERVAL_NS, low_note="(the interval)"),
        ),
        Number(
            "night_angle",
            said="night's sun angle",
            range=Span(Kind.NUMBER, LOWEST_NIGHT_ANGLE, HIGHEST_NIGHT_ANGLE, unit="degrees"),
            what="the sun's altitude in degrees, such as -12",
        ),
    ),
    wording=Wording.SPOKEN,
)
"""The ``[run]`` table, and the settings on the socket: one field a :class:`Settings` field."""

SETTING_KEYS: tuple[str, ...] = RUN.keys

assert {entry.name for entry in RUN.fields} == {f.name for f in fields(Settings)}, (
    "every Settings field is declared"
)
