"""Nothing delays the timing thread (docs/architecture.md §1): the mechanisms, never the speed.

- The daemon shortens the interpreter's GIL switch interval well inside the final spin
  (``SPIN_NS``): a thread holding the GIL when the timing thread wakes for a shutter is
  made to give it up before the shutter is due.
- Fan-out costs one encoding per event, however many subscribers, and one pass over
  them per batch of events; none of it runs on the timing thread: the engine only puts
  reports on the run's queue.
- Work that can wait (a client's command, a journal batch) does not start while a
  shutter is about to open; it starts once the shutter has, and once the camera has
  taken the frame (its file saved), within a bound.
- The timing thread never takes the controller's lock, which status and commands hold.

The figures (frames missed at 10 ms under client loads) are bench/timing.py's.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.clock import SPIN_NS, sleep_ns
from core.daemon import process
from core.daemon.engine import GIL_SWITCH_INTERVAL_S
from core.daemon.server import Server
from core.fake_clock import FakeClock
from core.model import protocol
from core.model.durations import NS_PER_MS, NS_PER_S
from core.model.errors import LapseError
from core.model.events import Fault
from core.model.hardware import HardwareConfig
from core.model.protocol import EdgeEvent, FaultEvent, FrameEvent, GetStatus, Subscribe
from core.model.settings import Settings
from core.paths import Paths
from hw.sim import make_sim_rig
from tests.fake_time import Daemon, Published, script
from tests.test_controller import StandInCamera
from tests.test_server import Served, StandInController, serving

FRAMES = 40
FAST = Settings(interval_ns=10 * NS_PER_MS, frames=FRAMES)
SUBSCRIBERS = 5


@pytest.fixture
def gil_and_collector() -> Iterator[None]:
    """The interpreter's switch interval and collector are given back as they were."""
    before = sys.getswitchinterval()
    try:
        yield
    finally:
        sys.setswitchinterval(before)
        gc.unfreeze()


def paths_in(folder: Path) -> Paths:
    return Paths(folder / "config.toml", folder / "state", folder / "lapse.sock")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    clock = FakeClock()
    made = Daemon(tmp_path / "state", clock, published=ThreadNoting(clock))
    yield made
    made.close()


class ThreadNoting(Published):
    """The controller's ``publish``, noting which thread called it and when."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.threads: set[str] = set()
        self.at: list[tuple[int, protocol.Event]] = []

    def __call__(self, event: protocol.Event) -> None:
        self.threads.add(threading.current_thread().name)
        self.at.append((self.clock.now_ns(), event))
        super().__call__(event)


class NotingLock:
    """A lock that notes the name of every thread that takes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.takers: set[str] = set()

    def acquire(self, *args: Any) -> bool:
        self.takers.add(threading.current_thread().name)
        return self._lock.acquire(*args)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# -- the GIL ---------------------------------------------------------------------------------
def test_the_switch_interval_is_well_inside_the_final_spin() -> None:
    # A thread holding the GIL is asked to give it up once another has waited one
    # switch interval: a quarter of the spin leaves room for the rest of the handover.
    assert GIL_SWITCH_INTERVAL_S * 1e9 <= SPIN_NS / 4


def test_the_daemon_sets_the_switch_interval_before_it_starts_a_thread(
    tmp_path: Path, gil_and_collector: None
) -> None:
    sys.setswitchinterval(0.005)  # the interpreter's default
    seen: list[float] = []

    def make_rig() -> Any:
        # Called before the server, the run or the watchdog start any thread.
        seen.append(sys.getswitchinterval())
        raise LapseError("seen enough")

    with pytest.raises(LapseError, match="seen enough"):
        process.run_daemon(make_rig, FakeClock(), paths_in(tmp_path))
    assert seen == [pytest.approx(GIL_SWITCH_INTERVAL_S)]


def test_what_the_daemon_built_before_serving_is_out_of_full_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gil_and_collector: None
) -> None:
    gc.unfreeze()
    frozen: list[int] = []

    async def serve(*args: object) -> None:
        frozen.append(gc.get_freeze_count())

    monkeypatch.setattr(process, "_serve", serve)
    rig = make_sim_rig(HardwareConfig())
    process.run_daemon(lambda: (rig, None), FakeClock(), paths_in(tmp_path))
    assert frozen and frozen[0] > 0
    # Frozen objects are out of every generation the collector walks.
    assert not any(found is rig for found in gc.get_objects())


# -- fan-out ---------------------------------------------------------------------------------
@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serving(tmp_path / "lapse.sock") as served:
        yield served


async def test_each_event_is_encoded_once_however_many_subscribers(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribers = [await served.connect() for _ in range(SUBSCRIBERS)]
    for subscriber in subscribers:
        assert (await subscriber.ask(Subscribe())).ok
    encoded: list[protocol.Event] = []
    encode = protocol.encode_event

    def counting(event: protocol.Event) -> bytes:
        encoded.append(event)
        return encode(event)

    monkeypatch.setattr(protocol, "encode_event", counting)
    events = [FaultEvent(message=f"fault {n}") for n in range(3)]
    for event in events:
        served.server.publish(event)
    for subscriber in subscribers:
        assert [await subscriber.event() for _ in events] == events
    assert encoded == events


async def test_events_published_together_cost_one_pass_over_the_subscribers(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribers = [await served.connect() for _ in range(SUBSCRIBERS)]
    for subscriber in subscribers:
        assert (await subscriber.ask(Subscribe())).ok
    server = served.server
    passes: list[bytes] = []
    broadcast = server._broadcast

    def counting(message: bytes) -> None:
        passes.append(message)
        broadcast(message)

    monkeypatch.setattr(server, "_broadcast", counting)
    events = [FaultEvent(message=f"fault {n}") for n in range(3)]
    for event in events:  # a journal batch's events, before the loop runs again
        server.publish(event)
    for subscriber in subscribers:
        assert [await subscriber.event() for _ in events] == events
    assert passes == [b"".join(protocol.encode_event(event) for event in events)]


def test_events_are_published_from_the_journal_thread_never_the_timing_thread(
    daemon: Daemon,
) -> None:
    published = daemon.published
    assert isinstance(published, ThreadNoting)
    daemon.start(FAST)
    published.wait_for_end()
    assert len(published.of(FrameEvent)) == FRAMES
    assert published.of(EdgeEvent)
    assert "lapse-journal" in published.threads
    assert "lapse-timing" not in published.threads


# -- the controller's lock -------------------------------------------------------------------
def test_the_timing_thread_never_takes_the_controllers_lock(daemon: Daemon) -> None:
    lock = NotingLock()
    daemon.controller._lock = lock  # type: ignore[assignment]
    run_id = daemon.start(FAST).run.id
    daemon.published.wait_for_end()
    frames = daemon.journal.read_frames(run_id)
    assert [frame.status for frame in frames] == ["ok"] * FRAMES
    # On time in fake time: every shutter opened at the instant it was due.
    assert all(frame.fired_ns == frame.due_ns for frame in frames)
    assert "lapse-journal" in lock.takers  # the lock was watched
    assert "lapse-timing" not in lock.takers


# -- work that can wait waits for the shutter ------------------------------------------------
def test_a_report_that_comes_just_before_a_shutter_is_taken_once_it_has_opened(
    daemon: Daemon,
) -> None:
    published = daemon.published
    assert isinstance(published, ThreadNoting)
    status = daemon.start(FAST)
    shutter = status.run.anchor_ns + 3 * FAST.interval_ns
    came_at = shutter - SPIN_NS  # the timing thread is awake for this shutter now
    run = daemon.controller._run

    def report_then() -> None:  # as the camera thread reports, at any moment
        sleep_ns(daemon.clock, came_at - daemon.clock.now_ns())
        run.events.put(Fault(message="news just before a shutter"))

    script(daemon.clock, report_then)
    published.wait_for_end()
    (taken_at,) = [at for at, event in published.at if isinstance(event, FaultEvent)]
    assert taken_at >= shutter, f"taken {(shutter - taken_at) / 1e6:g} ms before the shutter"
    frames = daemon.journal.read_frames(status.run.id)
    assert [frame.status for frame in frames] == ["ok"] * FRAMES


TAKES_NS = 5 * NS_PER_MS
"""How long the stand-in camera below takes to have each frame after its shutter."""


class CameraTakingAMoment(StandInCamera):
    """A camera that has each frame :data:`TAKES_NS` after its shutter opened, and asks
    work that can wait to wait until then, a millisecond at a time, as the USB camera
    does while it triggers, downloads and saves."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.opened_at: int | None = None

    def shutter(self, frame: int, on: bool) -> None:
        if on:
            self.opened_at = self.clock.now_ns()
        super().shutter(frame, on)

    def quiet_left_ns(self, now_ns: int) -> int:
        if self.opened_at is None:
            return 0
        return max(0, min(self.opened_at + TAKES_NS - now_ns, NS_PER_MS))


def test_a_journal_batch_waits_while_the_camera_takes_the_frame(tmp_path: Path) -> None:
    clock = FakeClock()
    published = ThreadNoting(clock)
    daemon = Daemon(
        tmp_path / "state", clock, camera=CameraTakingAMoment(clock), published=published
    )
    try:
        run_id = daemon.start(Settings(interval_ns=NS_PER_S, frames=3)).run.id
        published.wait_for_end()
        fired = {frame.frame: frame.fired_ns for frame in daemon.journal.read_frames(run_id)}
        taken = [(at, event.record) for at, event in published.at if isinstance(event, FrameEvent)]
        assert [record.frame for _, record in taken] == [0, 1, 2]
        for at, record in taken:
            assert record.fired_ns is not None and record.fired_ns == fired[record.frame]
            assert at >= record.fired_ns + TAKES_NS, f"frame {record.frame} taken too early"
    finally:
        daemon.close()


async def test_a_command_waits_while_a_shutter_wants_the_gil(tmp_path: Path) -> None:
    controller = StandInController()
    left = [SPIN_NS, SPIN_NS // 2, 0]  # the shutter draws near, then has opened

    def hold_off() -> int:
        controller.calls.append(("hold_off", left[0]))
        return left.pop(0)

    server = Server(controller, tmp_path / "lapse.sock", hold_off=hold_off)  # type: ignore[arg-type]
    await server.start()
    served = Served(server, controller)  # type: ignore[arg-type]
    try:
        client = await served.connect()
        assert (await client.ask(GetStatus())).ok
    finally:
        for connection in served.connections:
            connection.close()
        await server.close()
    assert controller.calls == [
        ("hold_off", SPIN_NS),
        ("hold_off", SPIN_NS // 2),
        ("hold_off", 0),
        ("status",),
    ]
