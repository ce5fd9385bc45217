"""The camera's power line is never off for less than ``min_power_off`` (docs/architecture.md §3).

At a minute and less one frame's power-off and the next frame's power-on fall on
the same instant: switched as planned, the line would blip off for microseconds
and the camera never really be off. Whenever the off time would be shorter than
the minimum, the plan keeps power on from one frame to the next, and the
scheduler, the timeline and the battery model all read it so.

The pure rule first (plan, scheduler, timeline, battery), then runs on
gpiozero ``MockFactory`` pins in fake time, read from the power pin's history.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import gpiozero.pins.mock
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.fake_clock import FakeClock
from core.model.battery import NS_PER_HOUR, BatteryModel
from core.model.durations import HOUR_NS, MINUTE_NS, NS_PER_MS, NS_PER_S, wall_iso
from core.model.errors import LapseError, PlanError, SettingsError
from core.model.hardware import HardwareConfig
from core.model.plan import Line, Plan, make_plan
from core.model.scheduler import FrameDue, Grid, RunComplete, Scheduler, SlotsMissed
from core.model.settings import Settings
from core.model.timeline import layout_cycle
from tests.fake_time import Daemon, script

S = NS_PER_S
DEFAULT_MIN_OFF_NS = S
"""The minimum a camera gets unless the run says otherwise."""
PINS = HardwareConfig()
"""The simulated rig's pins (tests.fake_time.Daemon builds it with the defaults)."""


def powered(interval_ns: int, **changes: object) -> Settings:
    return Settings(interval_ns=interval_ns, power=True).with_changes(**changes)


# --- the plan ------------------------------------------------------------------------------


def test_the_default_minimum_is_a_second() -> None:
    assert Settings(interval_ns=MINUTE_NS).min_power_off_ns == DEFAULT_MIN_OFF_NS
    assert Settings.from_dict({"interval": "1min"}).to_dict()["min_power_off"] == "1s"
    assert Settings.from_dict({"interval": "1min", "min_power_off": "5s"}).min_power_off_ns == 5 * S


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("50ms", "minimum power-off must be between 100ms and 1h, got 50ms"),
        ("2h", "minimum power-off must be between 100ms and 1h, got 2h"),
        ("soon", "not a duration"),
        (5, 'must be a duration in quotes, such as "10s"; got 5'),
    ],
)
def test_a_minimum_out_of_range_is_one_line(value: object, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as refused:
        Settings.from_dict({"interval": "1min", "min_power_off": value})
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("interval_ns", [10 * S, 30 * S, 59 * S, MINUTE_NS])
def test_at_a_minute_and_less_power_stays_on_for_the_whole_cycle(interval_ns: int) -> None:
    plan = make_plan(powered(interval_ns))
    assert plan.power_stays_on
    assert plan.power_on_ns is not None and plan.power_off_ns is not None
    assert plan.power_off_ns == plan.power_on_ns + interval_ns, "off where the next comes on"
    assert plan.span_ns == interval_ns
    start = plan.power_on_ns
    assert all(
        plan.line_is_on(Line.POWER, start + interval_ns * step // 100) for step in range(100)
    )


@pytest.mark.parametrize(
    ("interval_ns", "min_off_ns", "stays_on"),
    [
        (MINUTE_NS + S, S, False),  # off at +46 s, on again at +60 s: off exactly the minimum
        (MINUTE_NS + S - 1, S, True),
        (MINUTE_NS + S // 2, S, True),
        (MINUTE_NS + 4 * S, 5 * S, True),
        (MINUTE_NS + 5 * S, 5 * S, False),
        (HOUR_NS, S, False),
        (HOUR_NS, HOUR_NS, True),
    ],
)
def test_power_stays_on_exactly_when_it_would_be_off_for_less_than_the_minimum(
    interval_ns: int, min_off_ns: int, stays_on: bool
) -> None:
    plan = make_plan(powered(interval_ns, min_power_off_ns=min_off_ns))
    assert plan.power_stays_on is stays_on
    assert plan.power_on_ns == -14 * S
    assert plan.power_off_ns == (interval_ns - 14 * S if stays_on else 46 * S)


@pytest.mark.parametrize(("clock_ppm", "stays_on"), [(-1.0, True), (0.0, False), (1.0, False)])
def test_a_clock_trim_that_brings_the_next_frame_closer_keeps_power_on(
    clock_ppm: float, stays_on: bool
) -> None:
    # At 61 s the power is off for exactly the minimum; a slow-running trim of -1 ppm
    # shortens the grid's period by 61 µs, and so the off time.
    plan = make_plan(powered(MINUTE_NS + S, clock_ppm=clock_ppm))
    assert plan.power_stays_on is stays_on


def test_without_power_control_nothing_stays_on() -> None:
    plan = make_plan(Settings(interval_ns=10 * S))
    assert not plan.power_stays_on
    assert plan.power_on_ns is None and plan.power_off_ns is None


# --- the scheduler, in fake time ---------------------------------------------------------------


def hand_out(scheduler: Scheduler, *, until_frame: int | None = None) -> list[FrameDue]:
    """Every frame the scheduler hands out to an engine that reaches each step on time."""
    frames: list[FrameDue] = []
    now = scheduler.grid.anchor_ns + scheduler.plan.edges[0].offset_ns
    while until_frame is None or scheduler.next_frame <= until_frame:
        decision = scheduler.begin_next(now)
        if isinstance(decision, RunComplete):
            break
        assert not isinstance(decision, SlotsMissed), "an engine on time misses nothing"
        frames.append(decision)
        now = max(now, decision.due_ns + decision.steps[-1].offset_ns)
    return frames


def power_pin(frames: list[FrameDue]) -> list[tuple[int, bool]]:
    """The power line as a pin records it: (time, level) at each change, from off."""
    changes: list[tuple[int, bool]] = []
    level = False
    for frame in frames:
        for step in frame.steps:
            edge = step.edge
            if edge is not None and edge.line is Line.POWER and edge.on is not level:
                level = edge.on
                changes.append((frame.due_ns + step.offset_ns, level))
    return changes


def off_times(changes: list[tuple[int, bool]]) -> list[int]:
    """How long each off between two ons lasted."""
    return [
        on_at - off_at
        for (off_at, off), (on_at, on) in itertools.pairwise(changes)
        if not off and on
    ]


def scheduler_for(settings: Settings, frames: int) -> Scheduler:
    plan = make_plan(settings)
    grid = Grid(10 * HOUR_NS, settings.interval_ns, settings.clock_ppm)
    return Scheduler(plan, grid, frames=frames)


@pytest.mark.parametrize("interval_ns", [10 * S, 30 * S, MINUTE_NS])
def test_the_power_goes_on_once_and_off_once_in_a_run_at_a_minute_and_less(
    interval_ns: int,
) -> None:
    scheduler = scheduler_for(powered(interval_ns), frames=6)
    frames = hand_out(scheduler)
    assert [frame.frame for frame in frames] == list(range(6))
    plan = scheduler.plan
    assert plan.power_on_ns is not None and plan.power_off_ns is not None
    first, last = frames[0].due_ns, frames[-1].due_ns
    assert power_pin(frames) == [
        (first + plan.power_on_ns, True),
        (last + plan.power_off_ns, False),
    ]
    for frame in frames:
        assert [step.offset_ns for step in frame.steps if step.opens_shutter] == [0]


def test_a_run_until_stopped_never_switches_the_power_off_between_frames() -> None:
    scheduler = scheduler_for(powered(10 * S), frames=0)
    frames = hand_out(scheduler, until_frame=50)
    assert [level for _, level in power_pin(frames)] == [True]


def test_at_an_hour_the_power_goes_off_between_frames_as_before() -> None:
    scheduler = scheduler_for(powered(HOUR_NS), frames=3)
    frames = hand_out(scheduler)
    assert [level for _, level in power_pin(frames)] == [True, False] * 3
    assert off_times(power_pin(frames)) == [HOUR_NS - MINUTE_NS] * 2
    assert all(frame.steps == scheduler.steps for frame in frames)


def test_a_count_raised_after_the_last_frame_was_handed_out_wakes_the_camera_late() -> None:
    # Frame 1 was the last, handed out with its power-off; the count then grows (an
    # `update` before its shutter). Frame 2's power-on would fall on that power-off's
    # instant: it waits out the minimum instead, and the shutter still opens on the grid.
    scheduler = scheduler_for(powered(10 * S), frames=2)
    frames = hand_out(scheduler, until_frame=1)
    scheduler.frames = 4
    frames += hand_out(scheduler)
    assert [frame.frame for frame in frames] == [0, 1, 2, 3]
    changes = power_pin(frames)
    assert [level for _, level in changes] == [True, False, True, False]
    assert off_times(changes) == [DEFAULT_MIN_OFF_NS]
    for frame in frames:
        assert [step.offset_ns for step in frame.steps if step.opens_shutter] == [0]
        offsets = [step.offset_ns for step in frame.steps]
        assert offsets == sorted(offsets)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    interval_ns=st.integers(min_value=10 * S, max_value=3 * MINUTE_NS),
    min_off_ns=st.integers(min_value=100 * NS_PER_MS, max_value=HOUR_NS),
    clock_ppm=st.sampled_from([-500.0, -18.5, 0.0, 3.25, 500.0]),
    exposure_ns=st.none() | st.integers(min_value=NS_PER_MS, max_value=10 * S),
)
def test_the_power_is_never_off_for_less_than_the_minimum(
    interval_ns: int, min_off_ns: int, clock_ppm: float, exposure_ns: int | None
) -> None:
    try:
        run = powered(
            interval_ns, min_power_off_ns=min_off_ns, clock_ppm=clock_ppm, exposure_ns=exposure_ns
        )
        scheduler = scheduler_for(run, frames=5)
    except PlanError as refused:  # a bulb that cannot fit: the plan's refusal, tested elsewhere
        assert "does not fit" in str(refused)
        return
    frames = hand_out(scheduler)
    changes = power_pin(frames)
    assert len(frames) == 5
    assert all(off >= min_off_ns for off in off_times(changes))
    assert changes[-1][1] is False, "the run's last frame switches the power off"
    expected = [True, False] if scheduler.plan.power_stays_on else [True, False] * 5
    assert [level for _, level in changes] == expected


# --- the timeline and the battery -------------------------------------------------------------


def power_row(plan: Plan, width: int = 40) -> list[bool | None]:
    return layout_cycle(plan, width).line_states(Line.POWER)


@pytest.mark.parametrize("width", [30, 40, 66])
def test_the_timeline_draws_the_power_on_through_when_it_stays_on(width: int) -> None:
    # At 64 s a 5 s minimum keeps power on where the plan would have it off for 4 s,
    # a sixteenth of the cycle: the row shows no gap.
    stays = make_plan(powered(MINUTE_NS + 4 * S, min_power_off_ns=5 * S))
    assert power_row(stays, width) == [True] * width
    cycles = make_plan(powered(MINUTE_NS + 4 * S, min_power_off_ns=4 * S))
    assert False in power_row(cycles, width)


def test_the_timeline_still_draws_the_power_off_at_an_hour() -> None:
    row = power_row(make_plan(powered(HOUR_NS)))
    assert True in row and False in row and None in row, "on, off, then the idle break"


def opto_mah(plan: Plan) -> float:
    """What the opto-isolators alone cost over one cycle."""
    model = BatteryModel(pi_ma=0.0, opto_ma=10.0, led_ma=0.0)
    return model.charge_per_cycle_mah(plan)


@pytest.mark.parametrize(
    ("interval_ns", "min_off_ns", "power_on_ns"),
    [
        (10 * S, S, 10 * S),  # on for the whole cycle
        (MINUTE_NS + 4 * S, 5 * S, MINUTE_NS + 4 * S),
        (MINUTE_NS + 4 * S, 4 * S, MINUTE_NS),  # -14 s … +46 s
        (HOUR_NS, S, MINUTE_NS),
    ],
)
def test_the_battery_model_counts_the_power_kept_on(
    interval_ns: int, min_off_ns: int, power_on_ns: int
) -> None:
    plan = make_plan(powered(interval_ns, min_power_off_ns=min_off_ns))
    focus_on = plan.focus_on_ns
    assert focus_on is not None
    lines_on = power_on_ns + (plan.release_ns - focus_on) + plan.release_ns
    assert opto_mah(plan) == pytest.approx(10.0 * lines_on / NS_PER_HOUR, rel=1e-12)


# --- on the pins --------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock that the mock pins stamp their changes with, in whole nanoseconds."""
    clock = FakeClock()
    monkeypatch.setattr(gpiozero.pins.mock, "monotonic", clock.now_ns)
    return clock


@pytest.fixture
def daemon(tmp_path: Path, clock: FakeClock) -> Iterator[Daemon]:
    made = Daemon(tmp_path / "state", clock)
    yield made
    made.close()


def pin_history(daemon: Daemon, pin: int) -> list[tuple[int, float]]:
    """(ns since the change before, level) for each change the pin recorded."""
    states = daemon.rig.pin_factory.pin(pin).states
    return [(state.timestamp, float(state.state)) for state in states]


def offs_between_ons(history: list[tuple[int, float]]) -> list[int]:
    """How long the pin stayed low each time it went high again after being high."""
    return [
        since
        for index, (since, level) in enumerate(history)
        if level == 1.0 and index >= 2 and history[index - 1][1] == 0.0
    ]


def run_to_the_end(daemon: Daemon, settings: Settings) -> str:
    started = daemon.start(settings)
    assert started.run is not None
    daemon.published.wait_for_end()
    return started.run.id


def test_a_10s_run_keeps_the_camera_powered_from_the_first_frame_to_the_last(
    daemon: Daemon,
) -> None:
    run_id = run_to_the_end(daemon, powered(10 * S, frames=12))

    power = pin_history(daemon, PINS.power_pin)
    assert [off for off in offs_between_ons(power) if off < DEFAULT_MIN_OFF_NS] == []
    assert [level for _, level in power] == [0.0, 1.0, 0.0], "on once, off once"
    shutter = pin_history(daemon, PINS.shutter_pin)
    assert [level for _, level in shutter] == [0.0, *[1.0, 0.0] * 12]
    records = daemon.journal.read_frames(run_id)
    assert [(record.frame, record.status) for record in records] == [(k, "ok") for k in range(12)]


def test_an_hour_apart_the_camera_is_switched_off_between_frames(daemon: Daemon) -> None:
    run_id = run_to_the_end(daemon, powered(HOUR_NS, frames=3))

    power = pin_history(daemon, PINS.power_pin)
    assert [level for _, level in power] == [0.0, *[1.0, 0.0] * 3]
    assert offs_between_ons(power) == [HOUR_NS - MINUTE_NS] * 2
    records = daemon.journal.read_frames(run_id)
    assert [(record.frame, record.status) for record in records] == [(k, "ok") for k in range(3)]


def test_a_count_raised_in_the_last_interval_never_blips_the_power(
    daemon: Daemon, clock: FakeClock
) -> None:
    controller = daemon.controller

    def steps() -> None:
        started = controller.start(powered(10 * S, frames=3))
        assert started.run is not None
        # Frame 2, the last, is the engine's already with its power-off; its shutter is
        # a second away.
        clock.wait_until(started.run.anchor_ns + 19 * S)
        updated = controller.update(5)
        assert updated.run is not None and updated.run.settings.frames == 5

    script(clock, steps)
    daemon.published.wait_for_end()
    power = pin_history(daemon, PINS.power_pin)
    assert [off for off in offs_between_ons(power) if off < DEFAULT_MIN_OFF_NS] == []
    assert [level for _, level in power] == [0.0, 1.0, 0.0, 1.0, 0.0]
    (run,) = daemon.journal.list_runs()
    assert run.state == "finished"
    records = daemon.journal.read_frames(run.id)
    assert [record.frame for record in records] == [0, 1, 2, 3, 4]


def test_a_run_started_at_once_after_another_keeps_the_camera_off_for_the_minimum(
    daemon: Daemon,
) -> None:
    # The first run's power goes off at its end; a start at that instant would put the
    # second run's power-on (lead before its first shutter) within the minimum.
    settings = powered(10 * S, frames=2, min_power_off_ns=3 * S)
    run_to_the_end(daemon, settings)
    daemon.published.clear()
    second = run_to_the_end(daemon, settings)

    power = pin_history(daemon, PINS.power_pin)
    assert [level for _, level in power] == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert offs_between_ons(power) and min(offs_between_ons(power)) >= 3 * S
    records = daemon.journal.read_frames(second)
    assert [record.status for record in records] == ["ok", "ok"], "its shutters still on the grid"


def test_a_start_at_a_time_too_soon_after_the_last_runs_power_is_refused(
    daemon: Daemon, clock: FakeClock
) -> None:
    # A start at a chosen time cannot be moved later, as a plain start is: it is refused.
    settings = powered(10 * S, frames=2, min_power_off_ns=30 * S)
    run_to_the_end(daemon, settings)
    daemon.published.clear()
    soon = wall_iso(clock.wall_ns() + 10 * S)
    with pytest.raises(LapseError, match="the camera's power must stay off for 30s"):
        daemon.start(settings, at=soon)
    later = daemon.start(settings, at=wall_iso(clock.wall_ns() + 60 * S))
    assert later.run is not None
