"""The engine's timing promises, each checked by its mechanism rather than a stopwatch.

- A lead step (power, focus) that stalls past the shutter's due time costs
  that frame, logged ``missed`` with its reason; the shutter never opens off
  the grid, and the next frame is on it.
- A slot's wall time is the slot's: a shutter slow to switch is stamped when
  it was told to, and a missed slot at its due time, not when it was given up.
- No event is handed to the journal and socket threads in the quiet window
  just before a shutter: it waits until the shutter has opened.
- The last stretch before a precise deadline is spun, not slept: the shutter
  never opens early and is not at the mercy of a late wake-up; a stop is
  honoured even when no sleep is left before the deadline.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from core.clock import SPIN_NS, SystemClock
from core.daemon.engine import (
    LATE_LIMIT_NS,
    NOT_REACHED,
    QUIET_NS,
    REACHED_LATE,
    WOKE_LATE,
    Engine,
    EngineExit,
)
from core.fake_clock import FakeClock
from core.model.durations import MINUTE_NS, NS_PER_MS, NS_PER_S
from core.model.events import EdgeDone, EngineEvent, FrameDone, SlotsSkipped
from core.model.hardware import HardwareConfig
from core.model.plan import Line, make_plan
from core.model.scheduler import Grid, Scheduler
from core.model.settings import Settings
from hw.gpio_rig import GpioRig
from hw.sim import make_sim_rig

# -- a lead step that stalls ---------------------------------------------------------


class StallingRig:
    """The simulated rig (gpiozero mock pins), with one switching of ``line`` that takes
    until ``stall_until(due)``: a driver or relay that hangs, which mock pins cannot do."""

    def __init__(self, clock: FakeClock, line: Line, on_call: int, until_ns: int) -> None:
        self.sim: GpioRig = make_sim_rig(HardwareConfig())
        self.clock = clock
        self.line = line
        self.on_call = on_call
        self.until_ns = until_ns
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.sim, name)

    def set_line(self, line: Line, on: bool) -> None:
        self.sim.set_line(line, on)
        if line is self.line and on:
            self.calls += 1
            if self.calls == self.on_call:
                self.clock.advance(self.until_ns - self.clock.now_ns())

    def shutter_openings(self) -> int:
        pin = self.sim.pin_factory.pin(HardwareConfig().shutter_pin)
        return sum(1 for _, level in pin.states if level)


def run_with_stall(line: Line, stall_past_due_ns: int) -> tuple[Grid, StallingRig, list]:
    """Six frames of a 10 s powered run; frame 2's ``line`` step stalls until its
    shutter's due time plus ``stall_past_due_ns``."""
    clock = FakeClock()
    settings = Settings(interval_ns=10 * NS_PER_S, power=True, frames=6)
    plan = make_plan(settings)
    grid = Grid(clock.now_ns() + plan.lead_ns + NS_PER_S, settings.interval_ns)
    rig = StallingRig(clock, line, on_call=3, until_ns=grid.due_ns(2) + stall_past_due_ns)
    events: list[EngineEvent] = []
    engine = Engine(rig, clock, Scheduler(plan, grid, frames=6), events.append)  # type: ignore[arg-type]
    assert engine.run() is EngineExit.COMPLETE
    rig.sim.close()
    return grid, rig, events


@pytest.mark.parametrize("line", [Line.POWER, Line.FOCUS])
def test_a_lead_step_that_stalls_past_the_shutter_costs_that_frame_only(line: Line) -> None:
    grid, rig, events = run_with_stall(line, stall_past_due_ns=LATE_LIMIT_NS + 1)
    frames = {e.frame: e for e in events if isinstance(e, FrameDone)}
    assert sorted(frames) == list(range(6)), "every slot reported once"
    late = frames[2]
    assert (late.status, late.fired_ns, late.error) == ("missed", None, REACHED_LATE)
    for frame in (0, 1, 3, 4, 5):
        assert (frames[frame].status, frames[frame].fired_ns) == ("ok", grid.due_ns(frame))
    # The shutter never opened for frame 2, not even late: five openings, each on the grid.
    openings = [e for e in events if isinstance(e, EdgeDone) and e.line is Line.SHUTTER and e.on]
    assert [(e.frame, e.at_ns) for e in openings] == [
        (frame, grid.due_ns(frame)) for frame in (0, 1, 3, 4, 5)
    ]
    assert rig.shutter_openings() == 5, "the mock shutter pin went high five times"
    # The missed slot is logged at its own wall time, not at the moment it was given up.
    assert late.wall_ns == rig.clock.wall_ns() - rig.clock.now_ns() + grid.due_ns(2)


@pytest.mark.parametrize("late_ns", [1, 300_000, LATE_LIMIT_NS])
def test_a_shutter_reached_late_within_the_limit_opens_late_and_keeps_its_pulse(
    late_ns: int,
) -> None:
    grid, rig, events = run_with_stall(Line.FOCUS, stall_past_due_ns=late_ns)
    frames = {e.frame: e for e in events if isinstance(e, FrameDone)}
    assert all(frames[k].status == "ok" for k in range(6))
    assert frames[2].fired_ns == grid.due_ns(2) + late_ns  # its lateness, journaled
    assert frames[3].fired_ns == grid.due_ns(3)  # the grid goes on
    assert rig.shutter_openings() == 6
    shutter = {
        (e.frame, e.on): e.at_ns
        for e in events
        if isinstance(e, EdgeDone) and e.line is Line.SHUTTER
    }
    release_ns = make_plan(Settings(interval_ns=10 * NS_PER_S, power=True)).release_ns
    for frame in range(6):
        assert shutter[frame, False] - shutter[frame, True] == release_ns, "the whole pulse"


class ReleaseStallingRig(StallingRig):
    """:class:`StallingRig`, stalling in a shutter *release*: the frame's last step, so the
    engine comes to the next frame late."""

    def set_line(self, line: Line, on: bool) -> None:
        self.sim.set_line(line, on)
        if line is Line.SHUTTER and not on:
            self.calls += 1
            if self.calls == self.on_call:
                self.clock.advance(self.until_ns - self.clock.now_ns())


@pytest.mark.parametrize(
    ("late_ns", "status"), [(1, "ok"), (LATE_LIMIT_NS, "ok"), (LATE_LIMIT_NS + 1, "missed")]
)
def test_a_frame_the_engine_comes_to_late_opens_within_the_same_limit(
    late_ns: int, status: str
) -> None:
    clock = FakeClock()
    settings = Settings(interval_ns=100 * NS_PER_MS, frames=5)
    plan = make_plan(settings)
    grid = Grid(clock.now_ns() + plan.lead_ns + NS_PER_S, settings.interval_ns)
    # Frame 1's release stalls until frame 2's shutter is ``late_ns`` overdue.
    rig = ReleaseStallingRig(clock, Line.SHUTTER, on_call=2, until_ns=grid.due_ns(2) + late_ns)
    events: list[EngineEvent] = []
    engine = Engine(rig, clock, Scheduler(plan, grid, frames=5), events.append)  # type: ignore[arg-type]
    assert engine.run() is EngineExit.COMPLETE
    rig.sim.close()
    done = {e.frame: e for e in events if isinstance(e, FrameDone)}
    skipped = [e for e in events if isinstance(e, SlotsSkipped)]
    if status == "ok":
        assert done[2].status == "ok" and done[2].fired_ns == grid.due_ns(2) + late_ns
        assert not skipped
    else:
        assert 2 not in done
        assert [(e.first, e.last, e.reason) for e in skipped] == [(2, 2, NOT_REACHED)]
    assert [done[k].fired_ns for k in (0, 1, 3, 4)] == [grid.due_ns(k) for k in (0, 1, 3, 4)]


class OversleepingClock(FakeClock):
    """A fake clock on which the wait for one deadline ends ``late_ns`` after it: the
    machine stalled the timing thread in its spin (a hypervisor, a hung interrupt)."""

    def __init__(self) -> None:
        super().__init__()
        self.oversleep: dict[int, int] = {}

    def wait_until(self, deadline_ns: int, cancel: object = None, *, precise: bool = False) -> bool:
        woke = super().wait_until(deadline_ns, cancel, precise=precise)  # type: ignore[arg-type]
        if woke and deadline_ns in self.oversleep:
            self.advance(self.oversleep.pop(deadline_ns))
        return woke


@pytest.mark.parametrize(
    ("late_ns", "status"), [(LATE_LIMIT_NS, "ok"), (LATE_LIMIT_NS + 1, "missed")]
)
def test_a_shutter_whose_own_wait_ends_late_opens_only_within_the_limit(
    late_ns: int, status: str
) -> None:
    clock = OversleepingClock()
    plan = make_plan(Settings(interval_ns=10 * NS_PER_MS))
    grid = Grid(clock.now_ns() + NS_PER_S, plan.interval_ns)
    clock.oversleep[grid.due_ns(1)] = late_ns
    rig = make_sim_rig(HardwareConfig())
    events: list[EngineEvent] = []
    engine = Engine(rig, clock, Scheduler(plan, grid, frames=3), events.append)
    assert engine.run() is EngineExit.COMPLETE
    frames = {e.frame: e for e in events if isinstance(e, FrameDone)}
    assert [frames[k].status for k in range(3)] == ["ok", status, "ok"]
    openings = [
        e.frame for e in events if isinstance(e, EdgeDone) and e.line is Line.SHUTTER and e.on
    ]
    if status == "ok":
        assert frames[1].fired_ns == grid.due_ns(1) + late_ns
        assert openings == [0, 1, 2]
    else:
        assert (frames[1].fired_ns, frames[1].error) == (None, WOKE_LATE)
        assert openings == [0, 2], "never opened later than the limit"
    pin = rig.pin_factory.pin(HardwareConfig().shutter_pin)
    assert sum(1 for _, level in pin.states if level) == len(openings)
    rig.close()


def test_a_stall_that_ends_exactly_at_the_due_time_still_fires() -> None:
    grid, rig, events = run_with_stall(Line.FOCUS, stall_past_due_ns=0)
    frames = {e.frame: e for e in events if isinstance(e, FrameDone)}
    assert all(frames[k].status == "ok" for k in range(6))
    assert frames[2].fired_ns == grid.due_ns(2)
    assert rig.shutter_openings() == 6


def test_a_shutter_slow_to_switch_is_stamped_when_it_was_told_to() -> None:
    # Frame 2's shutter output takes 300 ms to switch (a driver that hangs): the journal's
    # fired_ns and wall both say when the output was told to switch, the slot's time.
    grid, rig, events = run_with_stall(Line.SHUTTER, stall_past_due_ns=300 * NS_PER_MS)
    frames = {e.frame: e for e in events if isinstance(e, FrameDone)}
    wall_offset = rig.clock.wall_ns() - rig.clock.now_ns()
    for frame in range(6):
        assert frames[frame].status == "ok"
        assert frames[frame].fired_ns == grid.due_ns(frame)
        assert frames[frame].wall_ns == grid.due_ns(frame) + wall_offset, frame


def test_no_event_is_handed_over_in_the_quiet_window_before_a_shutter() -> None:
    # Handing an event over wakes the journal and socket threads; in the last QUIET_NS
    # before a shutter they would take the GIL the timing thread needs. At 100 ms the
    # focus edge comes 6.7 ms before each shutter: its event waits until the shutter.
    clock = FakeClock()
    settings = Settings(interval_ns=100 * NS_PER_MS, frames=3)
    plan = make_plan(settings)
    assert 0 < plan.lead_ns < QUIET_NS
    grid = Grid(clock.now_ns() + NS_PER_S, settings.interval_ns)
    handed: list[tuple[int, EngineEvent]] = []
    rig = make_sim_rig(HardwareConfig())
    engine = Engine(
        rig,
        clock,
        Scheduler(plan, grid, frames=3),
        lambda event: handed.append((clock.now_ns(), event)),
    )
    assert engine.run() is EngineExit.COMPLETE
    rig.close()
    for frame in range(3):
        due = grid.due_ns(frame)
        inside = [event for at, event in handed if due - QUIET_NS < at < due]
        assert inside == [], f"handed over in the quiet window before frame {frame}: {inside}"
    focus_on = [
        (at, event.at_ns)
        for at, event in handed
        if isinstance(event, EdgeDone) and event.line is Line.FOCUS and event.on
    ]
    assert [handed_at for handed_at, _ in focus_on] == [grid.due_ns(k) for k in range(3)]
    assert [done_at for _, done_at in focus_on] == [
        grid.due_ns(k) + plan.edges[0].offset_ns for k in range(3)
    ], "the event still carries the time the focus line switched"


# -- the spin before a precise deadline ----------------------------------------------


@dataclass
class SimulatedTime:
    """A monotonic clock that moves only when read or slept on.

    Each read costs ``read_ns`` (a spin's polling step); each sleep ends
    ``wake_late_ns`` after the time asked for, like a kernel wake-up on a
    loaded machine; or, ``cut_short``, halfway there (a signal).
    """

    now: int = 10**12
    read_ns: int = 1_000
    wake_late_ns: int = 1_500_000
    cut_short: bool = False
    reads: int = 0
    sleeps: list[tuple[int, int]] = field(default_factory=list)
    """(when the sleep began, when it was asked to end)."""

    def monotonic_ns(self) -> int:
        self.now += self.read_ns
        self.reads += 1
        return self.now

    def sleep(self, event: threading.Event, seconds: float) -> bool:
        asked_end = self.now + round(seconds * 1e9)
        self.sleeps.append((self.now, asked_end))
        if self.cut_short:
            self.now += (asked_end - self.now) // 2
        else:
            self.now = asked_end + self.wake_late_ns
        return event.is_set()


def simulated_clock(**time_settings: Any) -> tuple[SystemClock, SimulatedTime]:
    sim = SimulatedTime(**time_settings)
    return SystemClock(monotonic_ns=sim.monotonic_ns, sleep=sim.sleep), sim


def test_a_precise_wait_sleeps_to_the_spin_window_then_spins_to_the_deadline() -> None:
    clock, sim = simulated_clock()
    deadline = sim.now + 50 * NS_PER_MS
    assert clock.wait_until(deadline, precise=True)
    # The sleep was asked to end where the spin begins, not at the deadline ...
    assert sim.sleeps[-1][1] == deadline - SPIN_NS
    reads_after_sleep = sim.reads
    # ... woke 1.5 ms late, still inside the window, and the spin took it from there:
    # the wait ended on the first clock read at or after the deadline.
    assert deadline <= sim.now < deadline + sim.read_ns, "never early, and not a wake-up late"
    assert reads_after_sleep > (SPIN_NS - sim.wake_late_ns) // sim.read_ns // 2, "it spun"


def test_an_ordinary_wait_only_sleeps() -> None:
    clock, sim = simulated_clock()
    deadline = sim.now + 50 * NS_PER_MS
    assert clock.wait_until(deadline, precise=False)
    assert sim.sleeps[-1][1] == deadline
    assert sim.now >= deadline + sim.wake_late_ns, "no spin: the wake-up's lateness shows"
    assert sim.reads <= 4


def test_a_sleep_cut_short_is_slept_again_never_early() -> None:
    clock, sim = simulated_clock(cut_short=True)
    deadline = sim.now + 50 * NS_PER_MS
    assert clock.wait_until(deadline, precise=False)
    assert len(sim.sleeps) > 1
    assert sim.now >= deadline


def test_a_cancelled_wait_returns_false_without_spinning() -> None:
    cancel = threading.Event()
    cancel.set()
    clock, sim = simulated_clock()
    assert not clock.wait_until(sim.now + 50 * NS_PER_MS, cancel, precise=True)
    assert sim.reads <= 2


@pytest.mark.parametrize("before_deadline_ns", [-1, 0, SPIN_NS // 2], ids=["past", "now", "spin"])
def test_a_cancel_is_honoured_when_no_sleep_is_left(before_deadline_ns: int) -> None:
    # A stop that came while the engine was held up, or in the spin window itself: the
    # wait says it was cancelled, so no shutter opens after the run was stopped.
    cancel = threading.Event()
    cancel.set()
    clock, sim = simulated_clock()
    deadline = sim.now + before_deadline_ns
    assert not clock.wait_until(deadline, cancel, precise=True)
    assert sim.sleeps == [], "no sleep was left in which to notice the stop"
    assert not clock.wait_until(deadline, cancel)


def test_the_real_clock_never_returns_before_a_precise_deadline() -> None:
    clock = SystemClock()
    for _ in range(20):
        deadline = time.monotonic_ns() + 3 * NS_PER_MS
        assert clock.wait_until(deadline, precise=True)
        assert time.monotonic_ns() >= deadline


class WaitLog:
    """A fake clock that remembers each wait the engine asks for."""

    def __init__(self) -> None:
        self.fake = FakeClock()
        self.waits: list[tuple[int, bool]] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.fake, name)

    def wait_until(
        self, deadline_ns: int, cancel: threading.Event | None = None, *, precise: bool = False
    ) -> bool:
        self.waits.append((deadline_ns, precise))
        return self.fake.wait_until(deadline_ns, cancel, precise=precise)


@pytest.mark.parametrize(
    "settings",
    [
        Settings(interval_ns=MINUTE_NS, power=True, frames=3),
        Settings(interval_ns=100 * NS_PER_MS, frames=3),  # LED steps crowd the spin window
        Settings(interval_ns=10 * NS_PER_MS, frames=3),  # focus comes 0.67 ms before it
        Settings(interval_ns=30 * NS_PER_S, exposure_ns=20 * NS_PER_S, frames=3),  # bulb
    ],
    ids=["1min-powered", "100ms", "10ms", "bulb-20s"],
)
def test_the_engine_spins_for_every_shutter_and_everything_just_before_it(
    settings: Settings,
) -> None:
    clock = WaitLog()
    plan = make_plan(settings)
    grid = Grid(clock.now_ns() + plan.lead_ns + NS_PER_S, settings.interval_ns)
    rig = make_sim_rig(HardwareConfig())
    engine = Engine(rig, clock, Scheduler(plan, grid, frames=3), lambda event: None)  # type: ignore[arg-type]
    engine.run()
    rig.close()
    precise_at = {at for at, precise in clock.waits if precise}
    shutter_times = set()
    for frame in range(3):
        due = grid.due_ns(frame)
        assert due in precise_at, f"frame {frame}'s shutter was slept to, not spun for"
        slept = [at for at, precise in clock.waits if due - SPIN_NS < at < due and not precise]
        assert not slept, f"a step in the spin window before frame {frame} was slept to"
        shutter_times.add(due)
        if plan.bulb:
            assert due + plan.release_ns in precise_at, "a bulb's release is spun for too"
            shutter_times.add(due + plan.release_ns)
    far = [
        precise
        for at, precise in clock.waits
        if all(abs(at - when) > SPIN_NS for when in shutter_times)
    ]
    assert not any(far), "steps far from a shutter sleep: no CPU spent spinning"
    assert far or settings.interval_ns < 100 * NS_PER_MS, "at 10 ms every step is near one"
