"""The status LED, derived from the plan and the time, never stored (docs/architecture.md §3).

Off when idle; during focus it flashes ``FOCUS_FLASHES`` times, each flash
brighter than the last; steady full while the shutter is open; a dim slow
blink while only the camera is powered. The same function drives gpiozero's
``PWMLED`` and the glyph the TUI draws.

A box with its own controls (``[inputs]``) also says, between a run's phases and with no
run, what a photographer without a screen needs to know (:class:`BoxSignal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from core.model.durations import NS_PER_MS, NS_PER_S
from core.model.plan import Plan

if TYPE_CHECKING:
    from core.model.protocol import Status

FOCUS_FLASHES = 4
POWER_BLINK_PERIOD_NS = 2 * NS_PER_S
POWER_BLINK_ON_NS = 250 * NS_PER_MS
POWER_BLINK_LEVEL = 0.1


def led_level(plan: Plan, offset_ns: int) -> float:
    """Brightness 0..1 at ``offset_ns`` from shutter-open within one frame's cycle."""
    if 0 <= offset_ns < plan.release_ns:
        return 1.0
    focus_on = plan.focus_on_ns
    if focus_on is not None and focus_on <= offset_ns < 0:
        # Flash i occupies the i-th equal part of the focus lead and is lit for
        # its first half, at (i+1)/FOCUS_FLASHES: the climb announces the shot.
        lead = -focus_on
        position = (offset_ns - focus_on) * FOCUS_FLASHES
        flash, within = divmod(position, lead)
        return (flash + 1) / FOCUS_FLASHES if 2 * within < lead else 0.0
    power_on, power_off = plan.power_on_ns, plan.power_off_ns
    if power_on is not None and power_off is not None and power_on <= offset_ns < power_off:
        since = (offset_ns - power_on) % POWER_BLINK_PERIOD_NS
        return POWER_BLINK_LEVEL if since < POWER_BLINK_ON_NS else 0.0
    return 0.0


def led_changes(plan: Plan) -> tuple[tuple[int, float], ...]:
    """Every (offset, level) at which :func:`led_level` changes within one cycle.

    The first entry is at the cycle's first edge; the last returns the LED to
    its idle level. Consecutive entries always differ in level.
    """
    candidates: set[int] = {edge.offset_ns for edge in plan.edges}
    if plan.focus_on_ns is not None:
        lead = -plan.focus_on_ns
        for half in range(2 * FOCUS_FLASHES):
            candidates.add(plan.focus_on_ns - (-half * lead // (2 * FOCUS_FLASHES)))
    if plan.power_on_ns is not None and plan.power_off_ns is not None:
        start = plan.power_on_ns
        while start < plan.power_off_ns:
            candidates.add(start)
            candidates.add(start + POWER_BLINK_ON_NS)
            start += POWER_BLINK_PERIOD_NS
    first, last = plan.edges[0].offset_ns, plan.edges[-1].offset_ns
    changes: list[tuple[int, float]] = []
    level = 0.0
    for offset in sorted(c for c in candidates if first <= c <= last):
        new = led_level(plan, offset)
        if new != level:
            changes.append((offset, new))
            level = new
    return tuple(changes)


# -- the box's own signals ----------------------------------------------------------------
class BoxSignal(StrEnum):
    """What the LED says for a box with its own controls (``[inputs]``), between a run's
    phases and with no run at all; the worst that holds wins, in this order."""

    FAULT = "fault"
    """Something needs the photographer: the camera lost, the disk full, the clock not set."""
    TURNED = "turned"
    """A switch was turned during the run: the run goes on, the switches are the next run's."""
    ARMED = "armed"
    """No run, and the switches are on a position: a press starts a run."""
    DARK = "dark"
    """Nothing to say (a switch between positions, or a run going as it was set)."""


@dataclass(frozen=True)
class Blinks:
    """A signal's pattern: ``flashes`` of ``level`` lit for ``on_ns`` with ``off_ns`` between,
    then dark until ``period_ns`` has passed since the first began."""

    flashes: int
    on_ns: int
    off_ns: int
    period_ns: int
    level: float


BOX_BLINKS: dict[BoxSignal, Blinks] = {
    # Fast and full: unlike any phase (the focus flashes climb, the shutter holds steady).
    BoxSignal.FAULT: Blinks(5, 100 * NS_PER_MS, 100 * NS_PER_MS, 2 * NS_PER_S, 1.0),
    # Two half-bright blinks: the run is fine, the switches say something else.
    BoxSignal.TURNED: Blinks(2, 120 * NS_PER_MS, 180 * NS_PER_MS, 2 * NS_PER_S, 0.5),
    # A dim heartbeat: alive and ready, using next to nothing.
    BoxSignal.ARMED: Blinks(1, 150 * NS_PER_MS, 0, 3 * NS_PER_S, 0.2),
}
"""Each signal's pattern (README "The LED"); DARK has none."""


def signal_level(signal: BoxSignal, at_ns: int) -> float:
    """The LED's brightness for ``signal`` at ``at_ns`` (any steady clock: patterns repeat)."""
    blinks = BOX_BLINKS.get(signal)
    if blinks is None:
        return 0.0
    within = at_ns % blinks.period_ns
    flash, into = divmod(within, blinks.on_ns + blinks.off_ns)
    return blinks.level if flash < blinks.flashes and into < blinks.on_ns else 0.0


def next_signal_change(signal: BoxSignal, at_ns: int) -> int | None:
    """The first time after ``at_ns`` that :func:`signal_level` changes; None for DARK."""
    blinks = BOX_BLINKS.get(signal)
    if blinks is None:
        return None
    start = at_ns - at_ns % blinks.period_ns
    step = blinks.on_ns + blinks.off_ns
    edges = [
        start + flash * step + half for flash in range(blinks.flashes) for half in (0, blinks.on_ns)
    ]
    edges.append(start + blinks.period_ns)
    return min(edge for edge in edges if edge > at_ns)


def box_signal(*, fault: str | None, running: bool, turned: bool, armed: bool) -> BoxSignal:
    """Which signal the LED gives: a ``fault`` (one line, or None) before a switch
    ``turned`` during a run, before ``armed`` (idle, the switches on a position)."""
    if fault is not None:
        return BoxSignal.FAULT
    if running:
        return BoxSignal.TURNED if turned else BoxSignal.DARK
    return BoxSignal.ARMED if armed else BoxSignal.DARK


def box_fault(status: Status) -> str | None:
    """What the LED's fault signal is for in ``status``, in a few words; None when all is
    well: the run's fault, the camera's, a disk without room, a clock not to be trusted."""
    camera, disk = status.camera, status.disk
    if status.clock_wait is not None:
        return f"clock: {status.clock_wait}"
    if camera is not None and camera.fault is not None:
        return f"camera: {camera.fault}"
    if disk is not None and disk.free_bytes is not None and disk.free_bytes <= disk.reserve_bytes:
        return "disk: full"
    return status.fault
