"""An ``update`` that comes after a counted run has taken its last frame is refused,
never acknowledged for nothing (docs/architecture.md §6); one that comes before the
last shutter still extends the run.

The real RunController, journal and engine on the simulated rig, in fake time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.fake_clock import FakeClock
from core.model.durations import NS_PER_MS, NS_PER_S
from core.model.errors import LapseError
from core.model.settings import Settings
from tests.fake_time import Daemon, script
from tests.test_controller import StandInCamera

THREE_FRAMES = Settings(interval_ns=NS_PER_S, frames=3)


def last_frame_said(run_id: str) -> str:
    return f"^run {run_id} has taken its last frame; start a new run$"


class UpdatingCamera(StandInCamera):
    """A camera that lets a client's ``update`` in at the moment the run's engine is
    done and its journal not yet closed: as the camera is told the run is over."""

    def __init__(self) -> None:
        super().__init__()
        self.update: Callable[[], Any] | None = None
        self.outcome: list[object] = []

    def end_run(self) -> None:
        super().end_run()
        if self.update is not None:
            try:
                self.outcome.append(self.update())
            except LapseError as refused:
                self.outcome.append(refused)


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    made: list[Daemon] = []

    def make(clock: FakeClock, **options: Any) -> Daemon:
        made.append(Daemon(tmp_path / "state", clock, **options))
        return made[-1]

    yield make
    for daemon in made:
        daemon.close()


def test_an_update_once_the_engine_is_done_is_refused_and_the_run_ends_as_counted(
    make_daemon: Callable[..., Daemon],
) -> None:
    camera = UpdatingCamera()
    daemon = make_daemon(FakeClock(), camera=camera)
    camera.update = lambda: daemon.controller.update(10)
    run_id = daemon.start(THREE_FRAMES).run.id
    daemon.published.wait_for_end()
    (outcome,) = camera.outcome
    assert isinstance(outcome, LapseError), f"acknowledged for nothing: {outcome!r}"
    assert str(outcome) == f"run {run_id} has taken its last frame; start a new run"
    run = daemon.journal.get_run(run_id)
    assert run.state == "finished" and run.settings.frames == 3
    assert len(daemon.journal.read_frames(run_id)) == 3


def test_an_update_just_after_the_last_shutter_is_refused(
    make_daemon: Callable[..., Daemon],
) -> None:
    clock = FakeClock()
    daemon = make_daemon(clock)
    controller = daemon.controller
    refusals: list[str] = []

    def steps() -> None:
        started = controller.start(THREE_FRAMES)
        assert started.run is not None
        # A few milliseconds after frame 2's shutter: the last slot has been begun.
        clock.wait_until(started.run.anchor_ns + 2 * NS_PER_S + 3 * NS_PER_MS)
        with pytest.raises(LapseError, match=last_frame_said(started.run.id)) as refused:
            controller.update(10)
        refusals.append(str(refused.value))

    script(clock, steps)
    daemon.published.wait_for_end()
    assert len(refusals) == 1
    (run,) = daemon.journal.list_runs()
    assert run.state == "finished" and run.settings.frames == 3
    assert len(daemon.journal.read_frames(run.id)) == 3


def test_an_update_before_the_last_slot_extends_the_run(
    make_daemon: Callable[..., Daemon],
) -> None:
    clock = FakeClock()
    daemon = make_daemon(clock)
    controller = daemon.controller

    def steps() -> None:
        started = controller.start(THREE_FRAMES.with_changes(interval_ns=10 * NS_PER_S))
        assert started.run is not None
        # Between frame 1's shutter and frame 2's leads: two slots begun, one to come.
        clock.wait_until(started.run.anchor_ns + 15 * NS_PER_S)
        updated = controller.update(5)
        assert updated.run is not None and updated.run.settings.frames == 5

    script(clock, steps)
    daemon.published.wait_for_end()
    (run,) = daemon.journal.list_runs()
    assert run.state == "finished" and run.settings.frames == 5
    assert [frame.frame for frame in daemon.journal.read_frames(run.id)] == [0, 1, 2, 3, 4]


def test_an_update_in_the_last_interval_before_its_shutter_extends_the_run(
    make_daemon: Callable[..., Daemon],
) -> None:
    clock = FakeClock()
    daemon = make_daemon(clock)
    controller = daemon.controller

    def steps() -> None:
        started = controller.start(THREE_FRAMES)
        assert started.run is not None
        # Frame 2, the last, is the engine's already (its focus leads by 4 s), but its
        # shutter is half a second away: the engine reads the count again after it.
        clock.wait_until(started.run.anchor_ns + NS_PER_S + NS_PER_S // 2)
        updated = controller.update(4)
        assert updated.run is not None and updated.run.settings.frames == 4

    script(clock, steps)
    daemon.published.wait_for_end()
    (run,) = daemon.journal.list_runs()
    assert run.state == "finished" and run.settings.frames == 4
    assert [frame.frame for frame in daemon.journal.read_frames(run.id)] == [0, 1, 2, 3]
