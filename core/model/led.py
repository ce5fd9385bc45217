"""The status LED, derived from the plan and the time, never stored (docs/architecture.md §3).

Off when idle; during focus it flashes ``FOCUS_FLASHES`` times, each flash
brighter than the last; steady full while the shutter is open; a dim slow
blink while only the camera is powered. The same function drives gpiozero's
``PWMLED`` and the glyph the TUI draws.
"""

from __future__ import annotations

from core.model.durations import NS_PER_MS, NS_PER_S
from core.model.plan import Plan

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
