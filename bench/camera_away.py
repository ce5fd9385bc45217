"""A daemon's camera side with a camera that can be unplugged on cue, for bench/camera_e2e.py.

libgphoto2's virtual camera cannot be unplugged. Here the real libgphoto2 session on
it runs in a real camera worker (``WorkerOpener``), wrapped so that while the file
named by :data:`AWAY_FLAG` exists every call answers ``gone`` and every open fails
with the message of a camera that no USB port answers for: what an unplugged camera
gives. Everything around it is the daemon's own: the ``RunController`` and engine
on the simulated rig, the camera thread (``UsbCamera``), the journal, the real clock.

``python bench/camera_away.py ROOT FRAMES`` runs one 1 s run of FRAMES in ROOT,
prints ``started`` once the run is going, and at its end one JSON line: the count of
frames by status and their errors.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.clock import SystemClock
from core.daemon.controller import RunController
from core.journal import Journal
from core.model.camera import CameraConfig
from core.model.durations import NS_PER_S
from core.model.hardware import HardwareConfig
from core.model.protocol import Event, StateEvent
from core.model.run_state import RunState
from core.model.settings import Settings
from hw.camera.base import CallError, Session
from hw.camera.usb_camera import UsbCamera
from hw.camera.virtual import use_virtual_camera
from hw.camera.worker import WorkerOpener
from hw.sim import make_sim_rig

AWAY_FLAG = "LAPSE_BENCH_CAMERA_AWAY"
"""The path of a file whose presence unplugs the camera."""
FACTORY = "bench.camera_away:open_session_unless_away"


def away() -> bool:
    return Path(os.environ[AWAY_FLAG]).exists()


class Unpluggable:
    """The real session, answering ``gone`` while the camera is away."""

    def __init__(self, inner: Session) -> None:
        self.inner = inner
        self.model = inner.model

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any) -> Any:
            if away():
                raise CallError("gone", "the camera stopped answering (unplugged)")
            return method(*args)

        return call

    def close(self) -> None:
        self.inner.close()


def open_session_unless_away() -> Session:
    """Run in the camera worker: the virtual camera, unless it is away."""
    from hw.camera.session import NO_CAMERA, open_session

    if away():
        raise CallError("gone", NO_CAMERA)
    return Unpluggable(open_session())


def main(argv: list[str]) -> int:
    root, frames = Path(argv[0]), int(argv[1])
    use_virtual_camera(root / "virtual-camera")
    clock = SystemClock()
    rig = make_sim_rig(HardwareConfig())
    opener = WorkerOpener(10.0, factory=FACTORY, virtual=True)
    camera = UsbCamera(CameraConfig(trigger="usb"), opener, clock=clock, virtual=True)
    journal = Journal(root / "state")
    ended = threading.Event()

    def publish(event: Event) -> None:
        if isinstance(event, StateEvent) and event.status.state is RunState.FINISHED:
            ended.set()

    controller = RunController(rig, clock, journal, publish, camera=camera)
    try:
        status = controller.start(Settings(interval_ns=NS_PER_S, frames=frames))
        print("started", flush=True)
        ended.wait(frames + 120)
        assert status.run is not None
        counts: dict[str, int] = {}
        errors: set[str] = set()
        for record in journal.read_frames(status.run.id):
            counts[record.status] = counts.get(record.status, 0) + 1
            if record.error:
                errors.add(record.error)
        print(json.dumps({"statuses": counts, "errors": sorted(errors)}), flush=True)
    finally:
        camera.close()
        rig.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
