"""In the stretch before a shutter the GIL changes hands quickly (core/daemon/engine.py).

A thread that takes the GIL from the timing thread keeps it for the switch interval
once the timing thread asks for it back; just before a shutter that must be short.
The engine runs here on the simulated rig in fake time; the rig notes the process's
switch interval at every switch.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from core.daemon.engine import GIL_SWITCH_INTERVAL_S, SHUTTER_SWITCH_INTERVAL_S, Engine
from core.fake_clock import FakeClock
from core.model.durations import NS_PER_MS, NS_PER_S
from core.model.hardware import HardwareConfig
from core.model.plan import Line, make_plan
from core.model.scheduler import Grid, Scheduler
from core.model.settings import Settings
from hw.sim import make_sim_rig


class NotingRig:
    """The simulated rig, noting (line, on, switch interval) at every switch."""

    def __init__(self) -> None:
        self.rig = make_sim_rig(HardwareConfig())
        self.switches: list[tuple[Line, bool, int]] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.rig, name)

    def set_line(self, line: Line, on: bool) -> None:
        # In whole microseconds: CPython keeps the interval as such.
        self.switches.append((line, on, round(sys.getswitchinterval() * 1e6)))
        self.rig.set_line(line, on)


@pytest.fixture
def daemon_switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.usefixtures("daemon_switch_interval")
@pytest.mark.parametrize(
    ("interval_ns", "quick_lines"),
    [
        # The focus 0.67 ms before the shutter: inside the stretch (QUIET_NS, 10 ms).
        (10 * NS_PER_MS, (Line.FOCUS, Line.SHUTTER)),
        # The focus 67 ms before: outside it.
        (NS_PER_S, (Line.SHUTTER,)),
    ],
)
def test_the_gil_changes_hands_quickly_in_the_stretch_until_the_shutter_opened(
    interval_ns: int, quick_lines: tuple[Line, ...]
) -> None:
    clock = FakeClock()
    plan = make_plan(Settings(interval_ns=interval_ns))
    rig = NotingRig()
    scheduler = Scheduler(plan, Grid(clock.now_ns() + NS_PER_S, interval_ns), frames=3)
    Engine(rig, clock, scheduler, lambda event: None).run()  # type: ignore[arg-type]
    quick, usual = round(SHUTTER_SWITCH_INTERVAL_S * 1e6), round(GIL_SWITCH_INTERVAL_S * 1e6)
    on = {(line, True): quick for line in quick_lines}
    expected = [(line, level, on.get((line, level), usual)) for line, level, _ in rig.switches]
    assert rig.switches == expected
    assert [(line, level) for line, level, _ in rig.switches][:2] == [
        (Line.FOCUS, True),
        (Line.SHUTTER, True),
    ]
    assert round(sys.getswitchinterval() * 1e6) == usual
