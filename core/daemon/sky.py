"""The sun and the local clock at the rig's place, from astral: the daemon's side of
:class:`core.model.windows.Sky`.

astral computes the sun's times, imported only when a run's window asks for the sun
(``core`` imports the standard library alone, docs/architecture.md §2). The local
clock is the system's time zone, daylight saving included, as ``date`` prints it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from core.model.durations import NS_PER_S
from core.model.place import Place
from core.model.windows import Moment, SunEvent


def _wall_ns(moment: datetime) -> int:
    """``moment`` (aware) as whole wall ns since the epoch, without a float's rounding."""
    since = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (since.days * 86_400 + since.seconds) * NS_PER_S + since.microseconds * 1_000


class AstralSky:
    """The sky over ``place`` (None: unknown, so only clock times can be answered)."""

    def __init__(self, place: Place | None) -> None:
        self.place = place
        self._observer: Any = None
        if place is not None and place.latitude is not None and place.longitude is not None:
            import astral  # lazily: only a run by the sun needs it

            self._observer = astral.Observer(place.latitude, place.longitude, place.elevation)

    def _needs_place(self) -> Any:
        if self._observer is None:
            raise ValueError("the sun's times need the place: set [place] in the config")
        return self._observer

    def moment_ns(self, moment: Moment, day: date) -> int | None:
        """Wall ns of ``moment`` on ``day`` (a clock time in local time, the sun's in the
        UTC day); None when the sun does not get there that day."""
        if moment.clock_s is not None:
            hours, rest = divmod(moment.clock_s, 3600)
            local = datetime.combine(day, time(hours, rest // 60, rest % 60)).astimezone()
            return _wall_ns(local) + moment.offset_ns
        import astral.sun

        observer = self._needs_place()
        # The sun's moment in the UTC day ``day``: the walk gathers every day's around a
        # stretch and sorts them, so which day a moment is told under does not matter.
        zone = UTC
        try:
            if moment.event is SunEvent.SUNRISE:
                at = astral.sun.sunrise(observer, day, zone)
            elif moment.event is SunEvent.SUNSET:
                at = astral.sun.sunset(observer, day, zone)
            elif moment.event is SunEvent.DAWN:
                at = astral.sun.dawn(observer, day, 6, zone)
            elif moment.event is SunEvent.DUSK:
                at = astral.sun.dusk(observer, day, 6, zone)
            else:
                rising = astral.SunDirection.RISING
                direction = rising if moment.rising else astral.SunDirection.SETTING
                at = astral.sun.time_at_elevation(observer, moment.angle, day, direction, zone)
        except ValueError:
            return None  # the sun stays above or below that angle all day
        return _wall_ns(at) + moment.offset_ns

    def day_of(self, wall_ns: int) -> date:
        """The local date at ``wall_ns``."""
        return datetime.fromtimestamp(wall_ns // NS_PER_S).date()

    def altitude(self, wall_ns: int) -> float:
        """The sun's altitude in degrees at ``wall_ns`` (refraction included)."""
        import astral.sun

        at = datetime.fromtimestamp(wall_ns // NS_PER_S, tz=UTC)
        return float(astral.sun.elevation(self._needs_place(), at))
