"""Skies for tests (as :class:`core.model.windows.Sky`) that no real place has: the sun at
the same two moments every day, or never anywhere. The real sky is astral's
(:class:`core.daemon.sky.AstralSky`); these stand in only where it cannot serve."""

from __future__ import annotations

from datetime import UTC, date, datetime

from astral import Observer

from core.model.durations import NS_PER_S
from core.model.place import Place
from core.model.windows import Moment


def _day_of(wall_ns: int) -> date:
    return datetime.fromtimestamp(wall_ns // NS_PER_S, UTC).date()


class ClockworkSky:
    """The sun comes up through every angle ``rising_s`` and goes down ``setting_s``
    seconds after midnight (UTC), every day: a night as short, or an opening as close to
    a closing, as a test needs."""

    def __init__(self, *, rising_s: int, setting_s: int) -> None:
        self.at = {True: rising_s, False: setting_s}

    def moment_ns(self, moment: Moment, day: date) -> int | None:
        midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        return (midnight + self.at[moment.rising]) * NS_PER_S

    def day_of(self, wall_ns: int) -> date:
        return _day_of(wall_ns)

    def altitude(self, wall_ns: int) -> float:
        return 0.0


class DarkSky:
    """A sun that never reaches any angle and stays far below the horizon."""

    def moment_ns(self, moment: Moment, day: date) -> int | None:
        return None

    def day_of(self, wall_ns: int) -> date:
        return _day_of(wall_ns)

    def altitude(self, wall_ns: int) -> float:
        return -90.0


GREENWICH = Place(51.48, 0.0, 0.0)
"""Where the tests' real sun is asked about: nights of 16 hours in December."""
GREENWICH_OBSERVER = Observer(51.48, 0.0, 0.0)
"""The same place as astral's own tests of lapse's answers ask it directly."""


def ns_of(moment: datetime) -> int:
    """An aware datetime (astral's answer) as wall ns, to the microsecond it carries."""
    return round(moment.timestamp() * 1_000_000) * 1_000
