"""libgphoto2 in a camera worker process: a hang or a crash costs frames, never the daemon.

Real parts: a real worker process (``python -m hw.camera.worker``) running
real libgphoto2 on the gphoto2 wheel's virtual camera; in the run tests, the
real RunController and engine on the simulated rig and the real camera
thread, on the real clock. Only the faults are made (tests/camera_worker_faults.py):
a trigger that sleeps for an hour, or a worker that dies of SIGSEGV.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.clock import SystemClock
from core.daemon.controller import RunController
from core.journal import Journal
from core.model.camera import CameraConfig
from core.model.durations import NS_PER_S
from core.model.hardware import HardwareConfig
from core.model.protocol import CameraEvent, EdgeEvent
from core.model.records import FrameRecord
from core.model.run_state import RunState
from core.model.settings import Settings
from hw.camera.base import CallError
from hw.camera.usb_camera import UsbCamera
from hw.camera.virtual import SAMPLE_JPEG
from hw.camera.worker import (
    VIRTUAL_CARD_PICTURES,
    CameraWorker,
    WorkerOpener,
    WorkerSession,
)
from hw.sim import make_sim_rig
from tests.camera_worker_faults import COUNT, FACTORY, FAULT
from tests.fake_time import Published


@pytest.fixture
def virtual(virtual_camera: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The virtual camera for workers started from this test, and the trigger count file."""
    count = tmp_path / "triggers"
    monkeypatch.setenv(COUNT, str(count))
    return count


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_one_look_waits_past_the_cameras_other_news_for_its_file(virtual: Path) -> None:
    # After a trigger the virtual camera sends other news first (as real bodies send
    # "capture complete" and settings changes): a look must not end at the first of them.
    session = WorkerSession(CameraWorker(), 5.0)
    try:
        for frame in range(4):
            session.trigger()
            files = session.new_files(2000)
            assert len(files) == 1, f"frame {frame}: {files}"
            session.delete(*files[0])
            assert session.new_files(50) == []  # an idle look between frames
    finally:
        session.close()
        session.worker.stop()


def test_a_worker_serves_the_camera_from_another_process(virtual: Path) -> None:
    session = WorkerSession(CameraWorker(), 5.0)
    try:
        assert session.pid != os.getpid() and session.alive
        assert session.model == "Nikon DSC D750"
        session.trigger()
        files: list[tuple[str, str]] = []
        for _ in range(50):
            files += session.new_files(100)
            if files:
                break
        assert len(files) == 1
        folder, name = files[0]
        assert session.download(folder, name) == SAMPLE_JPEG
        session.delete(folder, name)
        with pytest.raises(CallError):
            session.download(folder, name)  # it is no longer on the card
    finally:
        session.close()
    # The camera is let go of; the worker waits for the next session until it is stopped.
    assert session.worker.alive
    with pytest.raises(CallError):
        session.battery()
    session.worker.stop()
    assert gone(session.pid) and not session.alive


def first_trigger_with(
    fault: str, bound_s: float, monkeypatch: pytest.MonkeyPatch
) -> tuple[WorkerSession, CallError]:
    """A worker whose first trigger meets ``fault``; the session and what the call raised."""
    monkeypatch.setenv(FAULT, fault)
    session = WorkerSession(CameraWorker(FACTORY), bound_s)
    with pytest.raises(CallError) as raised:
        session.trigger()
    return session, raised.value


def test_a_call_that_hangs_gets_its_worker_killed(
    virtual: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, error = first_trigger_with("hang 1", 1.0, monkeypatch)
    assert error.kind == "hung"
    assert "did not answer within 1s" in str(error)
    assert gone(session.pid), "the hung worker was killed and reaped"
    with pytest.raises(CallError) as again:
        session.battery()
    assert again.value.kind == "gone"  # this session is over: the camera thread opens anew
    # A new worker opens the camera again and takes the next picture.
    fresh = WorkerSession(CameraWorker(FACTORY), 5.0)
    try:
        fresh.trigger()
        assert fresh.pid != session.pid
    finally:
        fresh.close()
        fresh.worker.stop()


def test_a_worker_that_crashes_fails_the_call_and_says_why(
    virtual: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, error = first_trigger_with("die 1", 5.0, monkeypatch)
    assert error.kind == "failed"
    assert "SIGSEGV" in str(error)
    assert gone(session.pid)


def test_the_virtual_cards_limit_is_said_as_a_full_card_and_a_new_worker_empties_it(
    virtual: Path,
) -> None:
    # The count is the process's: a session opened again in the same worker (a camera
    # that was away and came back) goes on from where the last one stopped.
    opener = WorkerOpener(5.0, virtual=True)
    first = opener()
    for _ in range(VIRTUAL_CARD_PICTURES - 6):
        first.trigger()
    first.close()
    session = opener()
    try:
        assert session.pid == first.pid
        for _ in range(6):
            session.trigger()
        with pytest.raises(CallError) as raised:
            session.trigger()
        assert raised.value.kind == "full"
    finally:
        session.close()
    # Its worker is done (only a new process empties the card); the next session has one,
    # started ahead while the last one served, and another is started ahead of it.
    assert gone(session.pid)
    spare = opener.spare
    assert spare is not None and spare.alive and spare.pid != session.pid
    fresh = opener()
    try:
        assert fresh.pid == spare.pid
        fresh.trigger()
        assert opener.spare is not None and opener.spare.pid not in (spare.pid, session.pid)
    finally:
        fresh.close()
        following = opener.spare.pid
        opener.close()
    assert gone(fresh.pid) and gone(following), "close ends the spare too"


def test_no_camera_answers_is_a_clean_refusal_from_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Real USB ports, where this machine has no camera.
    from hw.camera.virtual import use_real_cameras

    monkeypatch.delenv("VCAMERADIR", raising=False)
    monkeypatch.delenv("IOLIBS", raising=False)
    use_real_cameras()
    monkeypatch.setenv("IOLIBS", os.environ["IOLIBS"])
    opener = WorkerOpener(5.0)
    with pytest.raises(CallError) as raised:
        opener()
    assert raised.value.kind == "gone"
    assert "no camera answers over USB" in str(raised.value)
    # A camera that is away keeps its worker: the next look costs a libgphoto2 call in
    # the same process, not a new Python (once a frame, or every 5 s when idle).
    assert opener.worker is not None and opener.worker.alive
    first = opener.worker.pid
    with pytest.raises(CallError):
        opener()
    assert opener.worker.pid == first and opener.worker.alive
    opener.close()
    assert gone(first)


# -- whole runs on the real clock ---------------------------------------------------------
INTERVAL_NS = 1 * NS_PER_S


class RecordingOpener(WorkerOpener):
    """The daemon's opener, noting the worker of every session it opens."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opened: list[int] = []

    def __call__(self) -> WorkerSession:
        session = super().__call__()
        self.opened.append(session.pid)
        return session


class Rig:
    """The daemon's side in this process: controller, simulated rig, journal, and a USB
    camera whose libgphoto2 is in worker processes with the faulty trigger."""

    def __init__(self, tmp_path: Path) -> None:
        self.clock = SystemClock()
        self.sim = make_sim_rig(HardwareConfig())
        config = CameraConfig(trigger="usb", call_timeout_ns=1 * NS_PER_S)
        self.opened: list[int] = []

        self.opener = RecordingOpener(1.0, factory=FACTORY, virtual=True)
        self.opened = self.opener.opened
        self.camera = UsbCamera(config, self.opener, clock=self.clock, virtual=True)
        self.journal = Journal(tmp_path / "state")
        self.published = Published(self.clock, ends=(RunState.FINISHED,))  # type: ignore[arg-type]
        self.controller = RunController(
            self.sim, self.clock, self.journal, self.published, camera=self.camera
        )

    def run(self, frames: int) -> tuple[str, list[FrameRecord]]:
        status = self.controller.start(Settings(interval_ns=INTERVAL_NS, frames=frames))
        self.published.wait_for_end()
        assert status.run is not None
        return status.run.id, self.journal.read_frames(status.run.id)

    def close(self) -> None:
        self.camera.close()
        self.sim.close()
        # The camera's close ended its worker (on its I/O thread, after the session).
        deadline = time.monotonic() + 10
        while self.opener.worker is not None and self.opener.worker.alive:
            assert time.monotonic() < deadline, "the camera worker outlived its camera"
            time.sleep(0.01)


@pytest.fixture
def make_rig(
    tmp_path: Path, virtual: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], Rig]]:
    made: list[Rig] = []

    def make(fault: str) -> Rig:
        # Before the camera thread starts its first worker, which inherits it.
        monkeypatch.setenv(FAULT, fault)
        made.append(Rig(tmp_path))
        return made[-1]

    yield make
    for rig in made:
        rig.close()


def test_a_hung_libgphoto2_call_costs_frames_and_the_worker_not_the_run(
    make_rig: Callable[[str], Rig],
) -> None:
    rig = make_rig("hang 3")
    run_id, records = rig.run(8)
    assert [r.frame for r in records] == list(range(8))
    statuses = [r.status for r in records]
    assert statuses[:2] == ["ok", "ok"], records
    assert records[2].status == "error" and "did not answer within 1s" in (records[2].error or "")
    # The worker was killed and a new one opened the camera: the last frames have files.
    assert statuses[-3:] == ["ok"] * 3, records
    assert all(r.file for r in records[-3:])
    assert len(rig.opened) >= 2 and len(set(rig.opened)) == len(rig.opened)
    assert all(gone(pid) for pid in rig.opened[:-1])
    # The GPIO side never waited: a focus edge for every frame, and the run finished.
    focus_on = [e for e in rig.published.of(EdgeEvent) if e.line == "focus" and e.on]
    assert [e.frame for e in focus_on] == list(range(8))
    assert rig.journal.get_run(run_id).state == "finished"


def test_a_crash_inside_libgphoto2_costs_frames_never_the_daemon(
    make_rig: Callable[[str], Rig],
) -> None:
    rig = make_rig("die 3")
    run_id, records = rig.run(7)
    statuses = [r.status for r in records]
    assert statuses[:2] == ["ok", "ok"], records
    assert records[2].status == "error" and "SIGSEGV" in (records[2].error or "")
    assert statuses[-3:] == ["ok"] * 3, records
    assert len(rig.opened) >= 2
    news = " ".join(m.message for m in rig.published.of(CameraEvent))
    assert "the camera is back" in news
    assert rig.journal.get_run(run_id).state == "finished"
    assert rig.controller.status().fault is None
