"""The battery model: what a run costs and how long the battery lasts (DESIGN §4–5).

Until a battery reader exists this is the estimate lapse shows, and it stays
the fallback after: the capacity from config, the Pi's own draw, and the opto
and LED currents for the time each is on — the hardware inspiration's
"LED-seconds per exposure" accounting.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from core.durations import NS_PER_S
from core.led import led_changes
from core.plan import Plan

NS_PER_HOUR = 3600 * NS_PER_S


@dataclass(frozen=True)
class BatteryModel:
    """The figures the estimate is made from."""

    capacity_mah: float = 10_000.0
    """The battery's usable charge (a common 10 Ah power bank)."""
    pi_ma: float = 400.0
    """The Pi's own draw, screen included (a Pi 3 B+ with a small SPI screen)."""
    opto_ma: float = 10.0
    """Current through one opto-isolator's LED while its line is on."""
    led_ma: float = 15.0
    """The status LED's current at full brightness."""

    def charge_per_cycle_mah(self, plan: Plan) -> float:
        """Charge one frame's cycle takes: the Pi for the interval, optos and LED while on."""
        line_on_ns = 0
        state: dict[str, int] = {}
        for edge in plan.edges:
            if edge.on:
                state[edge.line.value] = edge.offset_ns
            elif edge.line.value in state:
                line_on_ns += edge.offset_ns - state.pop(edge.line.value)
        led_ns = 0.0
        changes = led_changes(plan)
        for (offset, level), (following, _) in itertools.pairwise(changes):
            led_ns += level * (following - offset)
        charge_ns = self.pi_ma * plan.interval_ns + self.opto_ma * line_on_ns
        charge_ns += self.led_ma * led_ns
        return charge_ns / NS_PER_HOUR

    def average_ma(self, plan: Plan) -> float:
        """The average current over a cycle (computed once per plan: screens ask often)."""
        cached = _AVERAGES.get((self, plan))
        if cached is None:
            cached = self.charge_per_cycle_mah(plan) * NS_PER_HOUR / plan.interval_ns
            if len(_AVERAGES) > 32:
                _AVERAGES.clear()
            _AVERAGES[(self, plan)] = cached
        return cached

    def estimate(self, plan: Plan, *, running_ns: int, frames_left: int | None) -> BatteryEstimate:
        """The battery after ``running_ns`` of this plan, full at the start.

        ``frames_left`` is None for a run until stopped.
        """
        average = self.average_ma(plan)
        used = average * running_ns / NS_PER_HOUR
        left = max(0.0, self.capacity_mah - used)
        lasts_ns = int(left / average * NS_PER_HOUR) if average > 0 else None
        needs_ns = None if frames_left is None else frames_left * plan.interval_ns
        return BatteryEstimate(
            percent=100.0 * left / self.capacity_mah,
            lasts_ns=lasts_ns,
            needs_ns=needs_ns,
            average_ma=average,
            source="model",
        )


_AVERAGES: dict[tuple[BatteryModel, Plan], float] = {}


@dataclass(frozen=True)
class BatteryEstimate:
    """What a battery reader or the model says."""

    percent: float
    lasts_ns: int | None
    """How long the battery lasts at this draw (None: unknown)."""
    needs_ns: int | None
    """How long the run still needs (None: until stopped)."""
    average_ma: float
    source: str
    """``model`` for the estimate; a reader's name otherwise."""

    @property
    def outlasts_battery(self) -> bool:
        """True when the run needs longer than the battery lasts (or runs until stopped)."""
        if self.lasts_ns is None:
            return False
        return self.needs_ns is None or self.needs_ns > self.lasts_ns
