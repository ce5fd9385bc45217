"""The phase plan: settings → the edges of one frame, as offsets from shutter-open.

The hardware inspiration, for intervals of a minute and more with camera
power on: power on at −14 s, focus at −4 s, shutter at 0, release at +3 s,
power off at +46 s. Shorter intervals compress every lead and the pulse in
proportion (interval / 1 min), so the whole cycle always fits in one interval.
A bulb exposure is never compressed: if it cannot fit it is refused.

At a minute and less one frame's power-off and the next frame's power-on fall
on the same instant; a little longer, they are apart by less than a camera can
stand. Whenever the power would be off for less than the run's
``min_power_off``, it stays on from one frame to the next instead
(:attr:`Plan.power_stays_on`): the camera is never switched off for a blip.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from fractions import Fraction

from core.model.durations import NS_PER_MS, NS_PER_S, format_duration
from core.model.errors import PlanError
from core.model.settings import Settings

REFERENCE_INTERVAL_NS = 60 * NS_PER_S
"""At and above this interval the leads are used as they are."""
POWER_LEAD_NS = 14 * NS_PER_S
"""Camera power comes on this long before the shutter, so the camera has woken."""
PULSE_NS = 3 * NS_PER_S
"""How long the shutter (and focus) lines are held for a short-pulse exposure."""
POWER_OFF_NS = 46 * NS_PER_S
"""Camera power goes off this long after shutter-open, once the frame is saved."""
SAVE_TIME_NS = 3 * NS_PER_S
"""After a bulb exposure, power stays on at least this long so the camera can save."""
MIN_POWER_INTERVAL_NS = 10 * NS_PER_S
"""Below this a powered camera has no time to wake (its lead would be under ~2 s)."""


class Line(enum.StrEnum):
    """The three opto-isolated outputs."""

    POWER = "power"
    FOCUS = "focus"
    SHUTTER = "shutter"


# Order of simultaneous edges: switch on outer to inner, release inner to outer.
_ON_ORDER = {Line.POWER: 0, Line.FOCUS: 1, Line.SHUTTER: 2}
_OFF_ORDER = {Line.SHUTTER: 3, Line.FOCUS: 4, Line.POWER: 5}


@dataclass(frozen=True)
class Edge:
    """One output switching, ``offset_ns`` from the frame's shutter-open."""

    offset_ns: int
    line: Line
    on: bool

    @property
    def rank(self) -> tuple[int, int]:
        """Sort key: by time, then on-edges outer to inner, off-edges inner to outer."""
        order = _ON_ORDER[self.line] if self.on else _OFF_ORDER[self.line]
        return (self.offset_ns, order)


@dataclass(frozen=True)
class Plan:
    """The edges of one frame and the times the LED and the UI derive from them."""

    interval_ns: int
    edges: tuple[Edge, ...]
    focus_on_ns: int | None
    """Offset at which focus comes on, None when there is no focus lead."""
    release_ns: int
    """Offset at which shutter and focus are released."""
    power_on_ns: int | None
    """Offset at which camera power comes on, None without power control."""
    power_off_ns: int | None
    """Offset at which camera power goes off, None without power control. When power
    stays on it is the next frame's power-on, a whole interval after this one's."""
    bulb: bool
    min_power_off_ns: int
    """The shortest time the power may be off (the run's ``min_power_off``)."""
    power_stays_on: bool
    """Power stays on from one frame's cycle to the next: the off time between them would
    be shorter than ``min_power_off``. Only a run's last frame (or a stop) switches it
    off; the scheduler leaves out the power-off between frames, and the timeline and the
    battery model, reading this plan's edges, count it on for the whole cycle."""

    @property
    def lead_ns(self) -> int:
        """How long before shutter-open the first edge comes (≥ 0)."""
        return -self.edges[0].offset_ns

    @property
    def span_ns(self) -> int:
        """From the first edge to the last: never more than the interval."""
        return self.edges[-1].offset_ns - self.edges[0].offset_ns

    def line_is_on(self, line: Line, offset_ns: int) -> bool:
        """Whether ``line`` is on at ``offset_ns`` within this frame's cycle."""
        state = False
        for edge in self.edges:
            if edge.offset_ns > offset_ns:
                break
            if edge.line is line:
                state = edge.on
        return state


def _say(ns: int) -> str:
    """A limit for people: whole milliseconds, rounded down so that it still fits."""
    return format_duration(ns - ns % NS_PER_MS)


def grid_period(interval_ns: int, clock_ppm: float) -> Fraction:
    """The grid's period in ns, ``interval·(1 + clock_ppm/10⁶)``, as an exact fraction."""
    # str() keeps the decimal the user typed: Fraction(18.1) would carry binary noise.
    return interval_ns * (1 + Fraction(str(clock_ppm)) / 1_000_000)


def _scaled(duration_ns: int, interval_ns: int) -> int:
    """``duration_ns`` compressed in proportion for intervals under a minute."""
    if interval_ns >= REFERENCE_INTERVAL_NS:
        return duration_ns
    return duration_ns * interval_ns // REFERENCE_INTERVAL_NS


def longest_exposure_ns(settings: Settings) -> int:
    """The longest bulb exposure a frame of ``settings`` has room for: the interval less
    the camera's wake-up and save with camera power, else less the focus lead."""
    interval = settings.interval_ns
    if settings.power:
        lead = _scaled(POWER_LEAD_NS, interval)
        return interval - lead - _scaled(SAVE_TIME_NS, interval)
    return interval - _scaled(settings.focus_lead_ns, interval)


def longest_hold_ns(settings: Settings) -> int:
    """The longest bulb the wired line holds for one frame of a run (auto exposure's,
    chosen frame by frame): :func:`longest_exposure_ns`, less the run's ``min_power_off``
    with camera power, so the frame's later power-off still leaves the camera off that
    long before the next frame wakes it."""
    longest = longest_exposure_ns(settings)
    return longest - settings.min_power_off_ns if settings.power else longest


def held_open(plan: Plan, hold_ns: int) -> Plan:
    """``plan`` with its shutter and focus held ``hold_ns`` from the shutter's opening:
    one frame's bulb timed on the wired line (auto exposure at night). The release is
    spun for, as a bulb's is, and camera power switched off each frame goes off no
    sooner than the save after it. ``hold_ns`` is at most :func:`longest_hold_ns` of
    the run's settings (auto exposure's longest setting is)."""
    release = max(1, hold_ns)
    power_off = plan.power_off_ns
    if power_off is not None and not plan.power_stays_on:
        power_off = max(power_off, release + _scaled(SAVE_TIME_NS, plan.interval_ns))

    def moved(edge: Edge) -> Edge:
        if edge.on:
            return edge
        # (A power-off edge is there only with power_off.)
        return replace(edge, offset_ns=power_off if edge.line is Line.POWER else release)

    edges = [moved(edge) for edge in plan.edges]
    edges.sort(key=lambda edge: edge.rank)
    return replace(plan, edges=tuple(edges), release_ns=release, power_off_ns=power_off, bulb=True)


def make_plan(settings: Settings) -> Plan:
    """Turn settings into a frame plan, or raise :class:`PlanError` giving the limit."""
    settings.validated()
    interval = settings.interval_ns
    focus_lead = _scaled(settings.focus_lead_ns, interval)
    bulb = settings.exposure_ns is not None
    release = settings.exposure_ns if bulb else max(1, _scaled(PULSE_NS, interval))
    assert release is not None

    edges: list[Edge] = []
    power_on = power_off = None
    power_stays_on = False
    if settings.power:
        if interval < MIN_POWER_INTERVAL_NS:
            raise PlanError(
                f"camera power control needs an interval of at least "
                f"{_say(MIN_POWER_INTERVAL_NS)} so the camera can wake;"
                f" {_say(interval)} is too short (turn power off or lengthen it)"
            )
        power_lead = _scaled(POWER_LEAD_NS, interval)
        if focus_lead > power_lead:
            raise PlanError(
                f"focus lead {_say(settings.focus_lead_ns)} must not be longer than"
                f" the camera-power lead {_say(POWER_LEAD_NS)}"
            )
        save = _scaled(SAVE_TIME_NS, interval)
        longest = longest_exposure_ns(settings)
        if release > longest:
            raise PlanError(
                f"exposure {_say(release)} does not fit a"
                f" {_say(interval)} interval with camera power: the longest is"
                f" {_say(longest)} ({_say(power_lead)} to wake the camera,"
                f" {_say(save)} to save the frame)"
            )
        power_on = -power_lead
        power_off = max(_scaled(POWER_OFF_NS, interval), release + save)
        # Shutters are apart by ⌊period⌋ or ⌈period⌉ ns: a negative clock trim brings the
        # next power-on closer than the interval says.
        next_power_on = math.floor(grid_period(interval, settings.clock_ppm)) + power_on
        if next_power_on - power_off < settings.min_power_off_ns:
            power_stays_on = True
            power_off = interval + power_on
        edges += [Edge(power_on, Line.POWER, True), Edge(power_off, Line.POWER, False)]
    else:
        longest = longest_exposure_ns(settings)
        if release > longest:
            raise PlanError(
                f"exposure {_say(release)} does not fit a"
                f" {_say(interval)} interval: the longest is"
                f" {_say(longest)} (after a {_say(focus_lead)} focus lead)"
            )
    focus_on = -focus_lead if focus_lead > 0 else None
    if focus_on is not None:
        edges += [Edge(focus_on, Line.FOCUS, True), Edge(release, Line.FOCUS, False)]
    edges += [Edge(0, Line.SHUTTER, True), Edge(release, Line.SHUTTER, False)]
    edges.sort(key=lambda edge: edge.rank)
    return Plan(
        interval_ns=interval,
        edges=tuple(edges),
        focus_on_ns=focus_on,
        release_ns=release,
        power_on_ns=power_on,
        power_off_ns=power_off,
        bulb=bulb,
        min_power_off_ns=settings.min_power_off_ns,
        power_stays_on=power_stays_on,
    )
