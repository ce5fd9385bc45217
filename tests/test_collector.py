"""The garbage collector is kept out of the stretch before each shutter (core/daemon/collector.py).

A collection holds the GIL for its whole length, whichever thread started it, so
one that starts between a frame's arming and its shutter can make the shutter miss
its slot. These tests use Python's real collector and watch it through
``gc.callbacks``; only the collector's timing is faked where a test needs a slow one.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from core.daemon.collector import (
    ROOM_FACTOR,
    ROOM_SLACK_NS,
    ShutterCollector,
    due_generation,
    freeze_survivors,
)
from core.daemon.engine import Engine, EngineExit
from core.fake_clock import FakeClock
from core.model.durations import NS_PER_MS, NS_PER_S
from core.model.events import EngineEvent, FrameDone
from core.model.hardware import HardwareConfig
from core.model.plan import Line, make_plan
from core.model.scheduler import Grid, Scheduler
from core.model.settings import Settings
from hw.sim import make_sim_rig


class Cycle:
    """A container in a reference cycle: only the collector can free it."""

    def __init__(self) -> None:
        self.me = self


def make_cycles(count: int) -> None:
    for _ in range(count):
        Cycle()


@pytest.fixture
def collections() -> Iterator[list[tuple[int, str]]]:
    """Every collection that starts while the test runs: (generation, thread name).

    The collector's state (on, thresholds) is put back as it was afterwards.
    """
    seen: list[tuple[int, str]] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append((info["generation"], threading.current_thread().name))

    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    gc.enable()
    gc.collect()
    gc.callbacks.append(watch)
    try:
        yield seen
    finally:
        gc.callbacks.remove(watch)
        gc.set_threshold(*thresholds)
        if not enabled:
            gc.disable()


@pytest.mark.parametrize(
    ("counts", "thresholds", "due"),
    [
        ((0, 0, 0), (700, 10, 10), None),
        ((700, 0, 0), (700, 10, 10), None),  # CPython collects once the count passes it
        ((701, 0, 0), (700, 10, 10), 0),
        ((701, 11, 0), (700, 10, 10), 1),
        ((701, 11, 11), (700, 10, 10), 2),
        ((701, 0, 11), (700, 10, 10), 2),
        ((5000, 50, 50), (0, 10, 10), None),  # gc.set_threshold(0): never
    ],
)
def test_the_due_generation_is_the_one_cpython_would_collect(
    counts: tuple[int, int, int], thresholds: tuple[int, int, int], due: int | None
) -> None:
    assert due_generation(counts, thresholds) == due


def test_no_automatic_collection_starts_before_the_shutter_until_it_has_opened(
    collections: list[tuple[int, str]],
) -> None:
    collector = ShutterCollector(FakeClock())
    threshold = gc.get_threshold()[0]
    # Nothing due yet: nothing collected, but the stretch before the shutter is held.
    assert collector.before_shutter(room_ns=0) is None
    assert not gc.isenabled()
    make_cycles(20 * threshold)
    assert collections == []  # twenty times the threshold, and no collection
    collector.after_shutter()
    assert gc.isenabled()
    make_cycles(2 * threshold)
    assert collections  # on again: the next allocations start one


def test_the_due_collection_runs_before_the_shutter_when_it_has_room(
    collections: list[tuple[int, str]],
) -> None:
    collector = ShutterCollector(FakeClock())
    gc.disable()  # until the collector has looked: an automatic one would come first
    make_cycles(2 * gc.get_threshold()[0])
    assert gc.get_count()[0] > gc.get_threshold()[0]
    collected = collector.before_shutter(room_ns=NS_PER_S)
    collector.after_shutter()
    gc.enable()
    assert collected == 0
    assert collections == [(0, threading.current_thread().name)]
    assert gc.get_count()[0] < gc.get_threshold()[0]


class SlowCollections:
    """Python's collector, timed on a fake clock that each generation moves by its own
    length (a loaded machine where the old generation is slow)."""

    def __init__(self, clock: FakeClock, lengths_ns: tuple[int, int, int]) -> None:
        self.clock = clock
        self.lengths_ns = lengths_ns
        self.ran: list[int] = []

    def __call__(self, generation: int) -> int:
        self.ran.append(generation)
        self.clock.advance(self.lengths_ns[generation])
        return gc.collect(generation)


def test_a_collection_without_room_waits_and_a_younger_one_that_fits_runs_instead(
    collections: list[tuple[int, str]],
) -> None:
    clock = FakeClock()
    slow = SlowCollections(clock, (NS_PER_MS // 10, NS_PER_MS, 9 * NS_PER_MS))
    collector = ShutterCollector(clock, collect=slow)
    collector.expected_ns = list(slow.lengths_ns)  # as timed by earlier collections
    gc.set_threshold(100, 1, 1)  # every young collection makes the old ones due
    gc.disable()
    make_cycles(300)
    gc.collect(1)
    gc.collect(1)  # the counts now say: collect all three
    make_cycles(300)
    assert due_generation(gc.get_count(), gc.get_threshold()) == 2
    # 6 ms before the stretch: room for the middle generation, not for the old one.
    room = 6 * NS_PER_MS
    assert room < ROOM_FACTOR * slow.lengths_ns[2] + ROOM_SLACK_NS
    assert collector.before_shutter(room) == 1
    collector.after_shutter()
    assert slow.ran == [1]
    # No room at all: nothing, not even the youngest.
    make_cycles(300)
    assert collector.before_shutter(room_ns=ROOM_SLACK_NS) is None
    collector.after_shutter()
    assert slow.ran == [1]


def test_a_collection_is_expected_to_last_as_long_as_the_last_one_did() -> None:
    clock = FakeClock()
    slow = SlowCollections(clock, (3 * NS_PER_MS, 3 * NS_PER_MS, 3 * NS_PER_MS))
    collector = ShutterCollector(clock, collect=slow)
    enabled = gc.isenabled()
    gc.disable()
    try:
        make_cycles(2 * gc.get_threshold()[0])
        generation = collector.before_shutter(room_ns=NS_PER_S)
        collector.after_shutter()
        assert generation is not None
        assert collector.expected_ns[generation] == 3 * NS_PER_MS
        # 6.4 ms is less than twice 3 ms and the slack: it no longer fits.
        make_cycles(2 * gc.get_threshold()[0])
        assert collector.before_shutter(room_ns=6_400_000) is None
        collector.after_shutter()
    finally:
        if enabled:
            gc.enable()


def test_two_engines_holding_at_once_leave_the_collector_on_after_both() -> None:
    enabled = gc.isenabled()
    gc.enable()
    try:
        first, second = ShutterCollector(FakeClock()), ShutterCollector(FakeClock())
        first.before_shutter(0)
        second.before_shutter(0)
        first.after_shutter()
        assert not gc.isenabled()  # the second still holds
        second.after_shutter()
        second.after_shutter()  # once more: changes nothing
        assert gc.isenabled()
    finally:
        if not enabled:
            gc.disable()


class GarbageRig:
    """The simulated rig, making reference cycles at every switch as a busy daemon's
    other threads do: without the collector held off, collections would start there."""

    def __init__(self, engine_of: list[Engine]) -> None:
        self.rig = make_sim_rig(HardwareConfig())
        self.engine_of = engine_of
        self.held_at_switch: list[bool] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.rig, name)

    def set_line(self, line: Line, on: bool) -> None:
        make_cycles(gc.get_threshold()[0] // 3)
        self.held_at_switch.append(self.engine_of[0].collector.held)
        self.rig.set_line(line, on)


def test_in_a_run_no_collection_starts_between_arming_and_shutter_but_the_engines_own(
    collections: list[tuple[int, str]],
) -> None:
    clock = FakeClock()
    plan = make_plan(Settings(interval_ns=10 * NS_PER_MS))
    grid = Grid(clock.now_ns() + NS_PER_S, plan.interval_ns)
    engine_of: list[Engine] = []
    rig = GarbageRig(engine_of)
    frames: list[FrameDone] = []
    held_at_start: list[tuple[bool, bool]] = []
    engine: Engine

    def emit(event: EngineEvent) -> None:
        if isinstance(event, FrameDone):
            frames.append(event)

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            held_at_start.append((engine.collector.held, pacing.is_set()))

    pacing = threading.Event()
    engine = Engine(rig, clock, Scheduler(plan, grid, frames=60), emit)  # type: ignore[arg-type]
    engine_of.append(engine)
    run_the_collection = engine.collector._collect

    def paced(generation: int) -> object:
        pacing.set()
        try:
            return run_the_collection(generation)
        finally:
            pacing.clear()

    engine.collector._collect = paced
    gc.callbacks.append(watch)
    try:
        assert engine.run() is EngineExit.COMPLETE
    finally:
        gc.callbacks.remove(watch)
    assert [frame.status for frame in frames] == ["ok"] * 60
    assert any(rig.held_at_switch)  # the focus switches inside the held stretch
    assert held_at_start, "the rig's garbage should have needed collections"
    # Every collection started outside the stretch, or was the engine's own, with room.
    assert all(not held or ours for held, ours in held_at_start), held_at_start
    assert gc.isenabled()


def test_freezing_the_survivors_reclaims_what_an_earlier_freeze_kept() -> None:
    collected: list[int] = []

    class Noted(Cycle):
        def __del__(self) -> None:
            collected.append(1)

    try:
        Noted()  # garbage, but in a cycle: only a collection frees it
        gc.freeze()  # as a daemon's first freeze would keep it
        assert collected == []
        freeze_survivors()
        assert collected == [1]
    finally:
        gc.unfreeze()
        gc.collect()
