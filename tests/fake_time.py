"""Helpers for tests that run the daemon's side in fake time (core.fake_clock)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from core.clock import sleep_ns
from core.daemon.controller import RunController
from core.daemon.outlook import Outlook
from core.fake_clock import FakeClock
from core.journal import Journal
from core.model import protocol
from core.model.hardware import HardwareConfig
from core.model.place import Place
from core.model.records import FrameRecord
from core.model.run_state import RunState
from core.model.settings import Settings
from hw.sim import make_sim_rig
from tests.journal_slots import each_slot

E = TypeVar("E")

REAL_GUARD_S = 60.0
"""Real seconds a test waits for fake-time work to end: a guard against a hang, never a
measure of speed (the work takes no real time to speak of)."""


def script(clock: FakeClock, steps: Callable[[], None], *, guard_s: float = REAL_GUARD_S) -> None:
    """Run ``steps`` (a test scripting a run or a camera) on a thread taking part in
    ``clock``'s time.

    Fake time stands still while a thread taking part works: a camera thread that loops
    without ever waiting would hold it still for ever, and a test waiting on the clock
    with it. So the steps run on a thread of their own, and a hang is a failure here
    rather than a test that never ends. What the steps raise is raised again. Steps
    that do much real work (hundreds of frames through libgphoto2 and the disk) give a
    longer ``guard_s``.
    """
    raised: list[BaseException] = []

    def run() -> None:
        try:
            with clock.taking_part():
                steps()
        except BaseException as error:
            raised.append(error)

    thread = threading.Thread(target=run, name="test-script", daemon=True)
    thread.start()
    thread.join(guard_s)
    assert not thread.is_alive(), "the steps never finished: fake time stood still"
    if raised:
        raise raised[0]


class Published:
    """A controller's ``publish``: keeps every event as a client would read it (encoded to
    a line and decoded again), and notes when the run first reached one of ``ends``
    (later states repeat it, with the camera's news)."""

    def __init__(
        self,
        clock: FakeClock,
        ends: Iterable[RunState] = (RunState.FINISHED, RunState.STOPPED),
    ) -> None:
        self.clock = clock
        self.ends = frozenset(ends)
        self.events: list[protocol.Event] = []
        self.ended_ns: int | None = None
        """The clock's time when the run first ended."""
        self._ended = threading.Event()

    def __call__(self, event: protocol.Event) -> None:
        decoded = protocol.decode(protocol.encode_event(event)).event
        assert decoded == event, "an event did not survive the wire"
        self.events.append(decoded)
        ended = isinstance(decoded, protocol.StateEvent) and decoded.status.state in self.ends
        if ended and self.ended_ns is None:
            self.ended_ns = self.clock.now_ns()
            self._ended.set()

    def wait_for_end(self) -> None:
        """Return once the run has ended; fail after :data:`REAL_GUARD_S` real seconds."""
        assert self._ended.wait(REAL_GUARD_S), "the run did not end by itself"

    def clear(self) -> None:
        """Forget the run's end, to wait for the next run's."""
        self.ended_ns = None
        self._ended.clear()

    def of(self, kind: type[E]) -> list[E]:
        """Every event of class ``kind`` (``protocol.EdgeEvent``, ``protocol.CameraEvent``…)."""
        return [event for event in self.events if isinstance(event, kind)]


class Daemon:
    """The daemon's side in this process, in fake time: controller, simulated rig, journal,
    and the events it publishes."""

    def __init__(
        self,
        state_dir: Path,
        clock: FakeClock,
        *,
        camera: Any = None,
        outlook: Outlook | None = None,
        published: Published | None = None,
        place: Place | None = None,
    ) -> None:
        self.clock = clock
        self.rig = make_sim_rig(HardwareConfig())
        self.journal = Journal(state_dir)
        self.published = published or Published(clock)
        self.controller = RunController(
            self.rig,
            clock,
            self.journal,
            self.published,
            camera=camera,
            outlook=outlook,
            place=place,
        )

    def states(self) -> list[RunState]:
        """The states published, each once however often it was repeated in a row."""
        states: list[RunState] = []
        for event in self.published.of(protocol.StateEvent):
            if not states or states[-1] is not event.status.state:
                states.append(event.status.state)
        return states

    def start(self, settings: Settings, **options: Any) -> protocol.Status:
        """Start a run (``options``: the start's others, as ``at``); time waits for this
        thread until the start has returned."""
        with self.clock.taking_part():
            return self.controller.start(settings, **options)

    def close(self) -> None:
        if self.controller.status().state.live:
            self.controller.shutdown()
        self.rig.close()


def run_with_restarts(
    state_dir: Path,
    clock: FakeClock,
    settings: Settings,
    place: Place | None,
    lasts_ns: int,
    kills: Iterable[int] = (),
) -> tuple[list[FrameRecord], list[protocol.EdgeEvent]]:
    """Start a run of ``settings`` at ``place`` now and stop it ``lasts_ns`` later; at each
    of ``kills`` (ns from the start) the daemon is stopped as a kill leaves the run (active
    in the journal) and a new one resumes it at once. Every slot of the journal
    (:func:`~tests.journal_slots.each_slot`), and every edge switched."""
    edges: list[protocol.EdgeEvent] = []
    daemons: list[Daemon] = []

    def steps() -> None:
        # One thread takes part throughout: between its steps fake time would run on.
        daemon = Daemon(state_dir, clock)
        daemons.append(daemon)
        status = daemon.controller.start(settings, place=place)
        assert status.run is not None
        run_id, started = status.run.id, clock.now_ns()
        for after in kills:
            sleep_ns(clock, started + after - clock.now_ns())
            daemon.controller.shutdown()
            edges.extend(daemon.published.of(protocol.EdgeEvent))
            daemon.close()
            assert daemon.journal.get_run(run_id).state == "active", "left as a kill leaves it"
            daemon = Daemon(state_dir, clock)
            daemons.append(daemon)
            resumed = daemon.controller.resume()
            assert resumed is not None and resumed.id == run_id
        sleep_ns(clock, started + lasts_ns - clock.now_ns())
        daemon.controller.stop()
        edges.extend(daemon.published.of(protocol.EdgeEvent))
        daemon.close()

    script(clock, steps)
    journal = daemons[-1].journal
    (run,) = journal.list_runs()
    return each_slot(journal, run.id), edges
