"""The engine on the simulated rig: real gpiozero devices on ``MockFactory`` pins, in fake time.

A mock pin records a state only when its level changes, and its first state
is its level as an input (low: the pins float). So the history a pin should
show is derived from the plan: 0, then every level the engine drives it to,
with repeats dropped (see test_hw_gpio_rig.py). A pin's timestamps are real
time, so times are checked on the engine's ``EdgeDone`` events, which carry
the fake clock's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import pytest
from gpiozero import OutputDevice

from core.daemon.engine import Engine, EngineExit
from core.fake_clock import FakeClock
from core.model.durations import MINUTE_NS, NS_PER_MS, NS_PER_S
from core.model.events import EdgeDone, EngineEvent, Fault, FrameDone
from core.model.hardware import HardwareConfig
from core.model.led import led_changes, led_level
from core.model.plan import Edge, Line, make_plan
from core.model.scheduler import LED_GUARD_NS, Grid, Scheduler, Step
from core.model.settings import Settings
from hw.gpio_rig import LED, GpioRig
from hw.sim import make_sim_rig

OUTPUTS: tuple[str, ...] = (Line.POWER, Line.FOCUS, Line.SHUTTER, LED)

PLANS = [
    pytest.param(Settings(interval_ns=MINUTE_NS, power=True), id="1min-powered"),
    pytest.param(Settings(interval_ns=10 * NS_PER_S, power=True), id="10s-powered"),
    pytest.param(Settings(interval_ns=NS_PER_S), id="1s"),
    # Focus flashes so short that the last dark gap falls inside the LED guard.
    pytest.param(Settings(interval_ns=100 * NS_PER_MS), id="100ms"),
    pytest.param(Settings(interval_ns=NS_PER_S, focus_lead_ns=0), id="1s-no-focus"),
    pytest.param(Settings(interval_ns=30 * NS_PER_S, exposure_ns=20 * NS_PER_S), id="bulb-20s"),
    pytest.param(
        Settings(interval_ns=MINUTE_NS, power=True, exposure_ns=30 * NS_PER_S),
        id="bulb-30s-powered",
    ),
]


class Bench:
    """One plan run by the engine on a fresh simulated rig under a fake clock.

    The rig's ``release`` and ``set_led`` are wrapped (they still drive the
    pins) so that :attr:`log` shows, in order, each release with what the rig
    and the pins read right after it, and each LED change with its fake time.
    """

    def __init__(self, settings: Settings, *, frames: int = 1, active_high: bool = True) -> None:
        self.hardware = HardwareConfig(active_high=active_high)
        self.rig: GpioRig = make_sim_rig(self.hardware)
        self.clock = FakeClock()
        self.plan = make_plan(settings)
        # The first edge a second after start: nothing is reached late.
        anchor = self.clock.now_ns() + self.plan.lead_ns + NS_PER_S
        self.grid = Grid(anchor, settings.interval_ns)
        self.scheduler = Scheduler(self.plan, self.grid, frames=frames)
        self.events: list[EngineEvent] = []
        self.log: list[tuple] = []
        self.on_event: Callable[[EngineEvent], None] | None = None
        self.engine = Engine(self.rig, self.clock, self.scheduler, self._emit)
        self._real_release, self._real_set_led = self.rig.release, self.rig.set_led
        self.rig.release = self._release  # type: ignore[method-assign]
        self.rig.set_led = self._set_led  # type: ignore[method-assign]

    @property
    def pins(self) -> dict[str, int]:
        hardware = self.hardware
        return {
            Line.POWER: hardware.power_pin,
            Line.FOCUS: hardware.focus_pin,
            Line.SHUTTER: hardware.shutter_pin,
            LED: hardware.led_pin,
        }

    def run(self) -> EngineExit:
        return self.engine.run()

    def history(self, output: str) -> list[float]:
        """Every state the output's pin recorded (the first is its input level)."""
        return [state.state for state in self.rig.pin_factory.pin(self.pins[output]).states]

    def levels(self) -> dict[str, float]:
        """What each pin is driven to now."""
        return {name: self.rig.pin_factory.pin(pin).state for name, pin in self.pins.items()}

    def inactive_levels(self) -> dict[str, float]:
        return {name: pin_level(0.0, self.hardware.active_high) for name in self.pins}

    def edges_done(self) -> list[EdgeDone]:
        return [event for event in self.events if isinstance(event, EdgeDone)]

    def frames_done(self) -> list[FrameDone]:
        return [event for event in self.events if isinstance(event, FrameDone)]

    def releases(self) -> list[tuple]:
        return [entry for entry in self.log if entry[0] == "release"]

    def led_calls(self) -> list[tuple[int, float]]:
        return [(entry[1], entry[2]) for entry in self.log if entry[0] == "led"]

    def _emit(self, event: EngineEvent) -> None:
        self.events.append(event)
        self.log.append(("event", event))
        if self.on_event is not None:
            self.on_event(event)

    def _release(self) -> None:
        self._real_release()
        self.log.append(("release", self.rig.outputs(), self.levels()))

    def _set_led(self, level: float) -> None:
        self._real_set_led(level)
        self.log.append(("led", self.clock.now_ns(), level))


def pin_level(value: float, active_high: bool) -> float:
    """The level a pin is driven to for an output value (0/1, or the LED's brightness)."""
    return value if active_high else 1 - value


def recorded(levels: Iterable[float]) -> list[float]:
    """What a mock pin's ``states`` show after it is driven through ``levels``."""
    history = [0.0]  # as an input, before construction
    for level in levels:
        if level != history[-1]:
            history.append(level)
    return history


def expected_history(values: Iterable[float], active_high: bool = True) -> list[float]:
    """A pin's history when the engine drives its output through ``values``.

    Construction and the start release drive it inactive first, the end
    release last.
    """
    return recorded(pin_level(value, active_high) for value in [0.0, 0.0, *values, 0.0])


def line_values(edges: Iterable[Edge], line: Line) -> list[float]:
    return [float(edge.on) for edge in edges if edge.line is line]


def led_values(steps: Iterable[Step]) -> list[float]:
    return [step.led for step in steps if step.led is not None]


def frame_steps(bench: Bench, frame: int, frames: int) -> list[Step]:
    """The steps of ``frame`` in a run of ``frames``: the plan's, but when power stays on
    from one frame to the next, every frame but the last leaves out its power-off and the
    LED going dark with it (the next frame's power-on falls on the same instant)."""
    steps = list(bench.scheduler.steps)
    plan = bench.plan
    if plan.power_stays_on and frame < frames - 1:
        steps = [step for step in steps if step.offset_ns != plan.power_off_ns]
    return steps


def frame_edges(bench: Bench, frame: int, frames: int) -> list[Edge]:
    return [step.edge for step in frame_steps(bench, frame, frames) if step.edge is not None]


def frame_values(bench: Bench, output: str, frames: int) -> list[float]:
    """Everything ``frames`` whole frames drive ``output`` to, in order."""
    values: list[float] = []
    for frame in range(frames):
        if output == LED:
            values += led_values(frame_steps(bench, frame, frames))
        else:
            values += line_values(frame_edges(bench, frame, frames), Line(output))
    return values


def assert_released(bench: Bench, entry: tuple) -> None:
    _, outputs, levels = entry
    assert outputs == dict.fromkeys(OUTPUTS, 0.0)
    assert levels == bench.inactive_levels()


@pytest.mark.parametrize("frames", [1, 3])
@pytest.mark.parametrize("settings", PLANS)
def test_each_pin_goes_through_exactly_the_plans_edges(settings: Settings, frames: int) -> None:
    bench = Bench(settings, frames=frames)
    assert bench.run() is EngineExit.COMPLETE
    plan, grid = bench.plan, bench.grid

    for line in Line:
        assert bench.history(line) == expected_history(frame_values(bench, line, frames)), line
    assert bench.history(Line.SHUTTER) == [0, *[1, 0] * frames]
    powered = plan.power_on_ns is not None
    if plan.power_stays_on:
        assert bench.history(Line.POWER) == [0, 1, 0], "on from the first frame to the last"
    else:
        assert bench.history(Line.POWER) == ([0, *[1, 0] * frames] if powered else [0])

    assert frame_edges(bench, frames - 1, frames) == sorted(plan.edges, key=lambda e: e.rank)
    assert [(e.frame, e.line, e.on, e.at_ns) for e in bench.edges_done()] == [
        (k, edge.line, edge.on, grid.due_ns(k) + edge.offset_ns)
        for k in range(frames)
        for edge in frame_edges(bench, k, frames)
    ]
    assert [(f.frame, f.status, f.fired_ns) for f in bench.frames_done()] == [
        (k, "ok", grid.due_ns(k)) for k in range(frames)
    ]
    assert not any(isinstance(event, Fault) for event in bench.events)
    releases = bench.releases()
    assert len(releases) == 2, "released at start and at the end"
    for entry in releases:
        assert_released(bench, entry)
    assert bench.log[0][0] == "release", "released before anything else"
    assert bench.rig.outputs() == dict.fromkeys(OUTPUTS, 0.0)


@pytest.mark.parametrize("settings", PLANS)
def test_the_led_pin_follows_the_brightness_function(settings: Settings) -> None:
    bench = Bench(settings)
    bench.run()
    plan, due = bench.plan, bench.grid.due_ns(0)
    steps = bench.scheduler.steps
    led_steps = [(step.offset_ns, step.led) for step in steps if step.led is not None]

    # The scheduler keeps every change of the brightness function but those in the guard.
    changes = led_changes(plan)
    assert all(level == led_level(plan, offset) for offset, level in changes)
    dropped = [change for change in changes if change not in led_steps]
    assert [change for change in changes if change not in dropped] == led_steps
    assert all(-LED_GUARD_NS < offset < 0 for offset, _ in dropped)

    # The engine set exactly those levels at exactly those fake times…
    assert [(at - due, level) for at, level in bench.led_calls()] == led_steps
    assert all(level == led_level(plan, at - due) for at, level in bench.led_calls())
    # …and the PWM pin went through them.
    assert bench.history(LED) == expected_history(led_values(bench.scheduler.steps))
    assert max(bench.history(LED)) == 1.0, "full on while the shutter is open"
    assert bench.levels()[LED] == 0.0


def test_the_led_guard_keeps_the_led_lit_into_a_short_exposure() -> None:
    """At 100 ms the last dark gap of the focus flashes is under 1 ms before the shutter."""
    bench = Bench(Settings(interval_ns=100 * NS_PER_MS))
    bench.run()
    assert bench.history(LED) == [0, 0.25, 0, 0.5, 0, 0.75, 0, 1.0, 0]


@pytest.mark.parametrize("interval_ns", [100 * NS_PER_MS, MINUTE_NS])
def test_no_focus_lead_never_presses_focus(interval_ns: int) -> None:
    # focus_lead = "0s" is for a camera that must not focus (manual focus, or an AF that
    # hunts in the dark): the focus line stays released, even while the shutter is open.
    bench = Bench(Settings(interval_ns=interval_ns, focus_lead_ns=0), frames=3)
    assert bench.run() is EngineExit.COMPLETE
    assert bench.history(Line.FOCUS) == [0]
    assert bench.history(Line.SHUTTER) == [0, *[1, 0] * 3]
    assert not [e for e in bench.edges_done() if e.line is Line.FOCUS]


@pytest.mark.parametrize("settings", PLANS)
def test_active_low_inverts_every_pin(settings: Settings) -> None:
    high, low = Bench(settings, frames=2), Bench(settings, frames=2, active_high=False)
    high.run()
    low.run()
    for output in OUTPUTS:
        # Both start with the input level 0; from construction on, every level is inverted.
        inverted = [0.0] + [1 - state for state in high.history(output)]
        assert low.history(output) == inverted, output
        assert low.history(output) == expected_history(
            frame_values(low, output, 2), active_high=False
        )
    assert low.edges_done() == high.edges_done()
    assert low.frames_done() == high.frames_done()
    assert low.levels() == dict.fromkeys(OUTPUTS, 1.0)
    for entry in low.releases():
        assert_released(low, entry)


@pytest.mark.parametrize("active_high", [True, False])
def test_outputs_left_on_are_released_before_the_first_edge(active_high: bool) -> None:
    bench = Bench(Settings(interval_ns=MINUTE_NS, power=True), active_high=active_high)
    bench.rig.set_line(Line.SHUTTER, True)
    bench.rig.set_line(Line.FOCUS, True)
    bench.rig.set_led(0.5)
    bench.log.clear()
    assert bench.rig.outputs() == {"focus": 1.0, "shutter": 1.0, "power": 0.0, "led": 0.5}

    bench.run()
    first_release = bench.log[0]
    assert first_release[0] == "release", "the start release comes before any edge"
    assert_released(bench, first_release)
    for line in (Line.SHUTTER, Line.FOCUS):
        left_on = [0.0, 1.0, 0.0, *frame_values(bench, line, 1)]
        assert bench.history(line) == expected_history(left_on, active_high), line
    left_lit = [0.0, 0.5, 0.0, *frame_values(bench, LED, 1)]
    assert bench.history(LED) == expected_history(left_lit, active_high)
    assert [f.status for f in bench.frames_done()] == ["ok"]


def cancel_at_shutter_open(bench: Bench) -> None:
    def on_event(event: EngineEvent) -> None:
        if isinstance(event, EdgeDone) and event.line is Line.SHUTTER and event.on:
            bench.engine.cancel.set()

    bench.on_event = on_event


def cancel_once_the_shutter_lights_the_led(bench: Bench) -> None:
    set_led = bench.rig.set_led
    opening = bench.grid.due_ns(0)

    def set_led_then_cancel(level: float) -> None:
        set_led(level)
        # The last focus flash is full too: wait for the shutter's.
        if level == 1.0 and bench.clock.now_ns() >= opening:
            bench.engine.cancel.set()

    bench.rig.set_led = set_led_then_cancel  # type: ignore[method-assign]


@pytest.mark.parametrize("active_high", [True, False])
@pytest.mark.parametrize("cancel", [cancel_at_shutter_open, cancel_once_the_shutter_lights_the_led])
def test_a_stop_mid_frame_releases_every_output(
    cancel: Callable[[Bench], None], active_high: bool
) -> None:
    bench = Bench(Settings(interval_ns=MINUTE_NS, power=True), frames=3, active_high=active_high)
    cancel(bench)
    assert bench.run() is EngineExit.CANCELLED
    plan, due = bench.plan, bench.grid.due_ns(0)

    # Stopped with power, focus and shutter all on; nothing happened after the stop but the release.
    up_to_opening = [edge for edge in plan.edges if edge.offset_ns <= 0]
    assert [(e.line, e.on, e.at_ns) for e in bench.edges_done()] == [
        (edge.line, edge.on, due + edge.offset_ns) for edge in up_to_opening
    ]
    assert bench.log[-1][0] == "release"
    assert_released(bench, bench.log[-1])
    assert bench.levels() == bench.inactive_levels()
    assert bench.rig.outputs() == dict.fromkeys(OUTPUTS, 0.0)
    for line in Line:
        assert bench.history(line) == expected_history([1.0], active_high), line
    led_steps = [
        (step.offset_ns, step.led) for step in bench.scheduler.steps if step.led is not None
    ]
    led_set = [(at - due, level) for at, level in bench.led_calls()]
    assert led_set == led_steps[: len(led_set)], "the LED followed the plan up to the stop"
    led_before_stop = [level for _, level in led_set]
    assert bench.history(LED) == expected_history(led_before_stop, active_high)
    assert [(f.frame, f.status) for f in bench.frames_done()] == [(0, "ok")]


def fail_once(monkeypatch: pytest.MonkeyPatch, device: OutputDevice) -> None:
    """Make ``device.on()`` raise the first time: a fault real mock pins cannot produce."""
    real_on = device.on
    faults = iter([True])

    def on_failing_once() -> None:
        if next(faults, False):
            raise OSError("line driver fault")
        real_on()

    monkeypatch.setattr(device, "on", on_failing_once)


@pytest.mark.parametrize("active_high", [True, False])
def test_a_fault_in_the_rig_costs_one_frame_and_releases_everything(
    active_high: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(interval_ns=10 * NS_PER_S, power=True)
    bench = Bench(settings, frames=3, active_high=active_high)
    fail_once(monkeypatch, bench.rig.devices[Line.SHUTTER])
    at_fault: list[tuple] = []

    def on_event(event: EngineEvent) -> None:
        if isinstance(event, Fault):
            at_fault.append((bench.rig.outputs(), bench.levels()))

    bench.on_event = on_event
    assert bench.run() is EngineExit.COMPLETE
    plan, grid, steps = bench.plan, bench.grid, bench.scheduler.steps

    faults_seen = [event for event in bench.events if isinstance(event, Fault)]
    assert faults_seen == [Fault(message="shutter output failed: line driver fault", frame=0)]
    assert at_fault == [(dict.fromkeys(OUTPUTS, 0.0), bench.inactive_levels())]
    statuses = [(f.frame, f.status) for f in bench.frames_done()]
    assert statuses == [(0, "error"), (1, "ok"), (2, "ok")]
    assert bench.frames_done()[0].error == "shutter output failed: line driver fault"

    opening = next(edge for edge in plan.edges if edge.line is Line.SHUTTER and edge.on)
    before_fault = [edge for edge in plan.edges if edge.rank < opening.rank]
    assert [(e.frame, e.line, e.on, e.at_ns) for e in bench.edges_done()] == [
        (0, edge.line, edge.on, grid.due_ns(0) + edge.offset_ns) for edge in before_fault
    ] + [
        (k, edge.line, edge.on, grid.due_ns(k) + edge.offset_ns)
        for k in (1, 2)
        for edge in frame_edges(bench, k, 3)
    ]

    # Frame 0 got as far as the shutter, then the fault release; frames 1 and 2 are whole.
    releases = bench.releases()
    assert len(releases) == 3, "at start, after the fault, at the end"
    for entry in releases:
        assert_released(bench, entry)
    failing = next(index for index, step in enumerate(steps) if step.opens_shutter)
    for output in OUTPUTS:
        if output == LED:
            frame_0 = led_values(steps[:failing])
        else:
            frame_0 = line_values(before_fault, Line(output))
        values = [*frame_0, 0.0, *frame_values(bench, output, 2)]
        assert bench.history(output) == expected_history(values, active_high), output
    assert bench.rig.outputs() == dict.fromkeys(OUTPUTS, 0.0)


def test_a_shutter_that_failed_to_open_has_no_fired_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """fired_ns is when the shutter output was switched on (docs/architecture.md §7):
    here it never was."""
    bench = Bench(Settings(interval_ns=10 * NS_PER_S, power=True))
    fail_once(monkeypatch, bench.rig.devices[Line.SHUTTER])
    bench.run()
    (frame,) = bench.frames_done()
    assert frame.status == "error"
    assert bench.history(Line.SHUTTER) == [0], "the shutter never opened"
    assert frame.fired_ns is None, "the journal would show a shot taken on time"


def test_a_powered_minute_spelled_out() -> None:
    """The derivation is not vacuous: a powered frame on the default pins, spelled out."""
    bench = Bench(Settings(interval_ns=MINUTE_NS, power=True))
    bench.run()
    expected: dict[str, Sequence[float]] = {
        Line.POWER: [0, 1, 0],
        Line.FOCUS: [0, 1, 0],
        Line.SHUTTER: [0, 1, 0],
    }
    for line, history in expected.items():
        assert bench.history(line) == history
    # Five dim power blinks (every 2 s from −14 s) until focus at −4 s, four climbing flashes,
    # full from the shutter to its release at +3 s, then 21 blinks (+4 s … +44 s) to power-off.
    climb = [0.25, 0, 0.5, 0, 0.75, 0, 1.0, 0]
    assert bench.history(LED) == [0, *[0.1, 0] * 5, *climb, 1.0, 0, *[0.1, 0] * 21]
