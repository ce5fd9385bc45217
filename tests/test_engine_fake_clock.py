"""The engine in fake time: a month of frames in seconds, exactly on the grid."""

import itertools
import random

from core.daemon.engine import Engine, EngineExit
from core.fake_clock import FakeClock
from core.model.durations import MINUTE_NS, NS_PER_S, parse_duration
from core.model.events import EdgeDone, Fault, FrameDone, SlotsSkipped
from core.model.plan import Line, make_plan
from core.model.scheduler import Grid, Scheduler
from core.model.settings import Settings
from tests.rigs import RecordingRig


def run_engine(settings: Settings, rig: RecordingRig, clock: FakeClock, anchor: int, **kw):
    plan = make_plan(settings)
    grid = Grid(anchor, settings.interval_ns, settings.clock_ppm)
    events: list = []
    engine = Engine(rig, clock, Scheduler(plan, grid, frames=settings.frames, **kw), events.append)
    return engine.run(), events, grid


def test_thirty_days_at_one_minute_fire_exactly_on_the_grid() -> None:
    clock = FakeClock()
    rig = RecordingRig(clock)
    anchor = clock.now_ns() + 10 * NS_PER_S
    settings = Settings(interval_ns=MINUTE_NS, frames=43_200, power=True)
    result, events, _ = run_engine(settings, rig, clock, anchor)
    assert result is EngineExit.COMPLETE
    frames = [e for e in events if isinstance(e, FrameDone)]
    assert len(frames) == 43_200
    assert [f.frame for f in frames] == list(range(43_200))
    assert all(f.status == "ok" for f in frames)
    assert all(f.fired_ns == f.due_ns == anchor + f.frame * MINUTE_NS for f in frames)
    assert rig.openings() == [anchor + k * MINUTE_NS for k in range(43_200)]
    assert rig.calls[-1][1] == "release", "outputs released at the end"


def test_clock_trim_stretches_the_grid_by_exactly_that() -> None:
    clock = FakeClock()
    rig = RecordingRig(clock)
    anchor = clock.now_ns() + 10 * NS_PER_S
    settings = Settings(interval_ns=MINUTE_NS, frames=43_200, clock_ppm=18.0)
    run_engine(settings, rig, clock, anchor)
    openings = rig.openings()
    # 18 ppm of a minute is 1.08 ms: exact integers, no accumulated rounding.
    assert openings[1] - openings[0] == MINUTE_NS + 1_080_000
    assert all(t == anchor + k * (MINUTE_NS + 1_080_000) for k, t in enumerate(openings))
    assert openings[-1] - openings[0] == 43_199 * MINUTE_NS * (1_000_018) // 1_000_000


def test_fractional_trim_is_exact_without_float_noise() -> None:
    grid = Grid(0, MINUTE_NS, 18.1)
    assert grid.due_ns(1_000_000) == 1_000_000 * MINUTE_NS * 10_000_181 // 10_000_000


def test_busy_camera_slots_are_missed_never_early_never_crowded() -> None:
    clock = FakeClock()
    chooser = random.Random(7)
    interval = 10 * NS_PER_S

    def busy(_now: int) -> int:
        # Mostly quick, sometimes busy past the next slot or two.
        roll = chooser.random()
        if roll < 0.7:
            return 200_000_000
        return chooser.randrange(interval, 3 * interval)

    rig = RecordingRig(clock, busy=busy)
    anchor = clock.now_ns() + NS_PER_S
    settings = Settings(interval_ns=interval, frames=2_000)
    result, events, grid = run_engine(settings, rig, clock, anchor)
    assert result is EngineExit.COMPLETE
    records = {e.frame: e for e in events if isinstance(e, FrameDone)}
    skipped = [e for e in events if isinstance(e, SlotsSkipped)]
    missed = {k for e in skipped for k in range(e.first, e.last + 1)}
    missed |= {k for k, r in records.items() if r.status == "missed"}
    fired = sorted(k for k, r in records.items() if r.status == "ok")
    assert missed, "the busy camera cost some slots"
    assert sorted(missed | set(fired)) == list(range(2_000)), "every slot is accounted for once"
    assert not missed & set(fired)
    openings = rig.openings()
    assert len(openings) == len(fired)
    for frame in fired:
        assert records[frame].fired_ns >= grid.due_ns(frame), "never early"
    gaps = [b - a for a, b in itertools.pairwise(openings)]
    assert min(gaps) >= interval, "no two frames closer than the interval"
    assert all(t in {grid.due_ns(k) for k in fired} for t in openings), "only on the grid"


def test_rig_fault_costs_a_frame_not_the_run() -> None:
    clock = FakeClock()
    failures = iter([True, False, False] * 10)

    def fail_on(line: Line, on: bool) -> bool:
        return line is Line.SHUTTER and on and next(failures)

    rig = RecordingRig(clock, fail_on=fail_on)
    settings = Settings(interval_ns=parse_duration("1s"), frames=6)
    result, events, _ = run_engine(settings, rig, clock, clock.now_ns() + NS_PER_S)
    assert result is EngineExit.COMPLETE
    statuses = [e.status for e in events if isinstance(e, FrameDone)]
    assert statuses == ["error", "ok", "ok", "error", "ok", "ok"]
    assert any(isinstance(e, Fault) and "shutter output failed" in e.message for e in events)
    # After each fault the rig was released before anything else happened.
    fault_times = [t for t, what, on in rig.calls if what == "release"]
    assert len(fault_times) >= 2 + 2


def test_cancel_stops_between_steps_and_releases() -> None:
    clock = FakeClock()
    rig = RecordingRig(clock)
    plan = make_plan(Settings(interval_ns=MINUTE_NS))
    events: list = []
    engine = Engine(
        rig, clock, Scheduler(plan, Grid(clock.now_ns() + MINUTE_NS, MINUTE_NS)), events.append
    )

    def stop_after_three(event) -> None:
        events.append(event)
        if sum(isinstance(e, FrameDone) for e in events) == 3:
            engine.cancel.set()

    engine.emit = stop_after_three
    assert engine.run() is EngineExit.CANCELLED
    assert rig.calls[-1][1] == "release"
    assert sum(isinstance(e, FrameDone) for e in events) == 3


def test_resume_after_downtime_logs_the_gap_and_keeps_the_grid() -> None:
    clock = FakeClock()
    rig = RecordingRig(clock)
    interval = NS_PER_S
    anchor = clock.now_ns()
    clock.advance(5 * interval + interval // 2)  # down for frames 0..5 (next_frame=0)
    plan = make_plan(Settings(interval_ns=interval, frames=10))
    events: list = []
    scheduler = Scheduler(plan, Grid(anchor, interval), frames=10, next_frame=0)
    Engine(rig, clock, scheduler, events.append).run()
    skipped = [e for e in events if isinstance(e, SlotsSkipped)]
    assert [(s.first, s.last) for s in skipped] == [(0, 5)]
    done = [e.frame for e in events if isinstance(e, FrameDone)]
    assert done == [6, 7, 8, 9]
    assert rig.openings() == [anchor + k * interval for k in (6, 7, 8, 9)]
    edges = [e for e in events if isinstance(e, EdgeDone) and e.frame == 6]
    assert next((e.line, e.on) for e in edges) == (Line.FOCUS, True)
