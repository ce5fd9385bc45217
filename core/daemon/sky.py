"""The sun and the local clock at the rig's place, from astral: the daemon's side of
:class:`core.model.windows.Sky`, and the windows and paces a run's settings ask for.

astral computes the sun's times, imported only when a run's window asks for the sun
(``core`` imports the standard library alone, docs/architecture.md §2). The local
clock is the system's time zone, daylight saving included, as ``date`` prints it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from core.model.durations import NS_PER_S
from core.model.errors import LapseError
from core.model.paces import PacedGrid
from core.model.place import Place
from core.model.plan import Plan, make_plan
from core.model.scheduler import Grid, SlotGrid
from core.model.settings import Settings
from core.model.windows import (
    Moment,
    SunEvent,
    When,
    Windows,
    needs_the_sun,
    sun_window,
    window_rules,
)


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


def uses_the_sun(settings: Settings) -> bool:
    """The run's windows or its paces follow the sun (its place must be known)."""
    rules = window_rules(settings.between, settings.when, settings.night_angle)
    return needs_the_sun(rules) or settings.paced


def refuse_without_place(settings: Settings, place: Place | None) -> None:
    """Raise :class:`LapseError` when ``settings`` follow the sun and ``place`` is unknown."""
    rules = window_rules(settings.between, settings.when, settings.night_angle)
    if needs_the_sun(rules):
        _refuse_without_place(place, "a window by the sun")
    if settings.paced:
        _refuse_without_place(place, "a night interval")


def _refuse_without_place(place: Place | None, what: str) -> None:
    if place is None or not place.known:
        raise LapseError(
            f"{what} needs to know where the rig stands: set [place] latitude and longitude"
            " in the config, or give --place LAT,LON"
        )


def run_windows(
    settings: Settings, place: Place | None, *, anchor_ns: int, anchor_wall_ns: int
) -> Windows | None:
    """The windows ``settings`` ask for, the sun's at ``place``; None for a run that shoots
    at every slot. :class:`LapseError` when the sun is asked for and the place unknown."""
    rules = window_rules(settings.between, settings.when, settings.night_angle)
    if not rules:
        return None
    if needs_the_sun(rules):
        _refuse_without_place(place, "a window by the sun")
    return Windows(rules, AstralSky(place), anchor_ns=anchor_ns, anchor_wall_ns=anchor_wall_ns)


def run_grid(
    settings: Settings, place: Place | None, *, anchor_ns: int, anchor_wall_ns: int
) -> SlotGrid:
    """The run's grid from ``anchor_ns``: one interval, or the day's and the night's
    (:class:`PacedGrid`) with a night interval. :class:`LapseError` when the night's
    pace is asked for and the place unknown."""
    day = Grid(anchor_ns, settings.interval_ns, settings.clock_ppm)
    if not settings.paced:
        return day
    _refuse_without_place(place, "a night interval")
    nights = Windows(
        (sun_window(When.NIGHT, settings.night_angle),),
        AstralSky(place),
        anchor_ns=anchor_ns,
        anchor_wall_ns=anchor_wall_ns,
    )
    plans = {False: make_plan(settings), True: make_plan(settings.at_night())}
    return PacedGrid(
        day,
        settings.night_interval_ns,
        nights,
        lambda night: room_between(plans[night], plans[not night]),
    )


def room_between(before: Plan, after: Plan) -> int:
    """From a frame's shutter on ``before``'s plan to the earliest shutter of a frame on
    ``after``'s: the one's cycle ends, the power stays off as long as it must, and the
    other's leads begin."""
    off = before.min_power_off_ns if before.power_on_ns is not None else 0
    return before.edges[-1].offset_ns + off + after.lead_ns
