"""The loopback benchmark's code path (bench/loopback.py) on gpiozero's mock pins.

On a Pi the shutter output is wired to an input and lgpio stamps each edge;
here gpiozero's ``MockConnectedPin`` drives a mock input pin from the shutter
pin, and lapse's own engine fires the frames on a real clock. The latency is
computed from the ticks the input's ``when_changed`` callback carries.
"""

from __future__ import annotations

import queue
import time

import pytest
from gpiozero.pins.mock import MockConnectedPin, MockFactory

from bench.loopback import (
    ClockMismatch,
    Fired,
    fired_from_engine,
    loopback_checks,
    match_edges,
    measure_loopback,
    ticks_to_monotonic_ns,
)
from core.clock import SystemClock
from core.daemon.engine import Engine
from core.model.durations import NS_PER_MS
from core.model.hardware import HardwareConfig
from core.model.plan import make_plan
from core.model.scheduler import Grid, Scheduler
from core.model.settings import Settings
from hw.gpio_rig import GpioRig

IN_PIN = 26
INTERVAL_NS = 40 * NS_PER_MS
FRAMES = 6


def mock_rig(wired: bool) -> tuple[MockFactory, GpioRig]:
    """The GPIO rig on mock pins; ``wired`` connects its shutter pin to ``IN_PIN``."""
    factory = MockFactory()
    if wired:
        shutter = HardwareConfig().shutter_pin
        factory.pin(shutter, pin_class=MockConnectedPin, input_pin=factory.pin(IN_PIN))
    # Plain mock pins cannot do PWM: the rig's LED falls back to on/off, as on NativeFactory.
    return factory, GpioRig(HardwareConfig(), factory, simulated=True)


def engine_drive(rig: GpioRig) -> list[Fired]:
    """Run lapse's engine for FRAMES frames on ``rig`` and report them as the daemon does."""
    settings = Settings(interval_ns=INTERVAL_NS, frames=FRAMES)
    plan = make_plan(settings)
    clock = SystemClock()
    grid = Grid(clock.now_ns() + plan.lead_ns + 20 * NS_PER_MS, INTERVAL_NS)
    events: queue.SimpleQueue[object] = queue.SimpleQueue()
    Engine(rig, clock, Scheduler(plan, grid, frames=FRAMES), events.put).run()
    return fired_from_engine(events)


def test_a_wired_input_measures_each_frame_from_the_callbacks_ticks() -> None:
    factory, rig = mock_rig(wired=True)
    ticks: list[float] = []
    fired: list[Fired] = []
    try:

        def drive() -> list[Fired]:
            # Record the probe's ticks beside it, to check the arithmetic against them.
            pin = factory.pin(IN_PIN)
            probe_callback = pin.when_changed

            def both(t: float, state: int) -> None:
                ticks.append(t)
                probe_callback(t, state)

            pin.when_changed = both
            fired.extend(engine_drive(rig))
            return fired

        figures = measure_loopback(factory, IN_PIN, drive, INTERVAL_NS, settle_s=0)
    finally:
        rig.close()
    assert figures.frames == FRAMES
    assert figures.no_edge == figures.stray_edges == 0
    # The engine runs on the real clock: a loaded machine may let it miss a slot, which
    # the figures count as not fired. What is checked is how each fired frame is measured.
    opened = [frame for frame in fired if frame.status == "ok"]
    assert len(opened) >= 2, f"too few frames fired to measure: {fired}"
    assert figures.not_fired == FRAMES - len(opened)
    assert len(ticks) == len(opened)  # one opening edge per frame, none for the releases
    expected = [round(t * 1e9) - f.due_ns for t, f in zip(ticks, opened, strict=True)]
    assert figures.due_to_edge_ns == expected
    assert all(value >= 0 for value in figures.due_to_edge_ns)
    # A MockConnectedPin drives its input before its own state, inside the write:
    # the edge comes before the write returns.
    assert all(value <= 0 for value in figures.write_to_edge_ns)
    reached, early, _ = loopback_checks([figures])
    assert reached[1] is (figures.not_fired == 0) and early[1] is True


def test_no_edge_at_the_input_fails_the_measurement() -> None:
    factory, rig = mock_rig(wired=False)
    try:
        figures = measure_loopback(
            factory, IN_PIN, lambda: engine_drive(rig), INTERVAL_NS, settle_s=0
        )
    finally:
        rig.close()
    # Every frame that fired (a loaded machine may miss one on the real clock) had no edge.
    assert figures.no_edge == FRAMES - figures.not_fired >= 2
    assert figures.due_to_edge_ns == []
    reached, early, p99 = loopback_checks([figures])
    assert reached[1] is False
    assert early[1] is None and p99[1] is None  # nothing to judge: not a pass


def test_an_edge_before_its_due_time_is_early() -> None:
    frame = Fired(frame=0, due_ns=1_000_000, written_ns=1_000_500, status="ok")
    figures = match_edges([frame], [999_000], interval_ns=INTERVAL_NS)
    assert figures.due_to_edge_ns == [-1000]
    assert loopback_checks([figures])[1][1] is False


def test_ticks_on_either_clock_land_on_the_monotonic_clock() -> None:
    monotonic, realtime = time.monotonic_ns(), time.time_ns()
    assert ticks_to_monotonic_ns((monotonic - 5000) / 1e9, monotonic, realtime) == pytest.approx(
        monotonic - 5000, abs=1000
    )
    moved = ticks_to_monotonic_ns((realtime - 5000) / 1e9, monotonic, realtime)
    assert moved == pytest.approx(monotonic - 5000, abs=1000)
    with pytest.raises(ClockMismatch):
        ticks_to_monotonic_ns(1.0, monotonic, realtime)
