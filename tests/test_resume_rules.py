"""Resume and the run's bookkeeping, on the real controller, journal and simulated rig
in fake time, with the boot id and both clocks injected.

- Resumed on the same boot, a run keeps its monotonic anchor, whatever the
  wall clock now says.
- Resumed on another boot, the monotonic clock has restarted: the grid is
  re-anchored through the wall clock, ``anchor = now_mono − (now_wall −
  anchor_wall)``, so frame k keeps its wall time.
- Later lines for older frames (a camera's files or failures, after newer
  frames fired) leave the newest frame, the resume point and the counts right.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core import protocol
from core.camera import CameraEvent, FileSaved, FrameFailed, Report
from core.clock import wall_iso
from core.config import HardwareConfig
from core.controller import DOWN_REASON, RunController
from core.durations import MINUTE_NS, NS_PER_S
from core.fake_clock import FakeClock
from core.journal import FrameRecord, Journal
from core.settings import Settings
from hw.sim import make_sim_rig

INTERVAL = MINUTE_NS
SETTINGS = Settings(interval_ns=INTERVAL, frames=10)
ANCHOR = 7_000 * NS_PER_S
"""Frame 0's monotonic time on the boot that started the run."""
ANCHOR_WALL = 1_800_000_000 * NS_PER_S
"""Frame 0's wall time."""


# Run ids come from local time: pin the zone (tests/conftest.py) so they can be asserted.
pytestmark = pytest.mark.usefixtures("utc")


def interrupted_run(journal: Journal, fired: int, frames: int = 10) -> str:
    """What a daemon killed mid-run leaves: an active run with frames 0..fired−1 on record."""
    with journal.create_run(
        settings=SETTINGS.with_changes(frames=frames),
        anchor_ns=ANCHOR,
        anchor_wall_ns=ANCHOR_WALL,
        boot_id="boot-A",
        created_wall_ns=ANCHOR_WALL - 5 * NS_PER_S,
        rig="simulated",
    ) as writer:
        writer.append(
            [
                FrameRecord(
                    frame=k,
                    due_ns=ANCHOR + k * INTERVAL,
                    fired_ns=ANCHOR + k * INTERVAL + 2_000,
                    wall=wall_iso(ANCHOR_WALL + k * INTERVAL + 2_000),
                    status="ok",
                )
                for k in range(fired)
            ]
        )
        return writer.info.id


class Daemon:
    """The controller on a simulated rig; ``finish`` waits (in real time) for the run's end."""

    def __init__(self, journal: Journal, clock: FakeClock, camera: Any = None) -> None:
        self.rig = make_sim_rig(HardwareConfig())
        self.published: list[dict[str, Any]] = []
        self._ended = threading.Event()
        self.controller = RunController(self.rig, clock, journal, self._publish, camera=camera)

    def _publish(self, message: bytes) -> None:
        decoded = protocol.decode(message)
        self.published.append(decoded)
        if decoded.get("event") == "state" and decoded["data"]["state"] in ("finished", "stopped"):
            self._ended.set()

    def finish(self) -> dict[str, Any]:
        assert self._ended.wait(30), "the run did not end"
        self.rig.close()
        return self.controller.status()


def resume(journal: Journal, clock: FakeClock) -> tuple[dict[str, Any], dict[str, Any]]:
    daemon = Daemon(journal, clock)
    resumed = daemon.controller.resume()
    assert resumed is not None and resumed["resumed"]
    return resumed, daemon.finish()


def test_after_a_reboot_the_grid_is_re_anchored_through_the_wall_clock(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    run_id = interrupted_run(journal, fired=3)
    # A new boot: the monotonic clock restarted near zero; 5.5 minutes of wall time
    # have passed since frame 0, so frames 3, 4 and 5 went by while the Pi was down.
    clock = FakeClock(
        start_ns=40 * NS_PER_S, wall_start_ns=ANCHOR_WALL + 5 * INTERVAL + INTERVAL // 2
    )
    clock.boot = "boot-B"
    new_anchor = clock.now_ns() - (clock.wall_ns() - ANCHOR_WALL)
    resumed, _ = resume(journal, clock)
    assert resumed["anchor_ns"] == new_anchor
    records = journal.read_frames(run_id)
    assert [r.frame for r in records] == list(range(10))
    for record in records[3:]:
        assert record.due_ns == new_anchor + record.frame * INTERVAL
        # Frame k's shutter stays at frame k's wall time: the grid did not move.
        assert record.wall == wall_iso(ANCHOR_WALL + record.frame * INTERVAL)
    assert [(r.status, r.error) for r in records[3:6]] == [("missed", DOWN_REASON)] * 3
    assert all(r.status == "ok" and r.fired_ns == r.due_ns for r in records[6:])
    assert journal.get_run(run_id).state == "finished"


@pytest.mark.parametrize("wall_error_ns", [0, 3_600 * NS_PER_S, -86_400 * NS_PER_S])
def test_on_the_same_boot_the_monotonic_anchor_stands_whatever_the_wall_clock_says(
    tmp_path: Path, wall_error_ns: int
) -> None:
    journal = Journal(tmp_path)
    run_id = interrupted_run(journal, fired=3)
    # The same boot, 5.5 minutes on; the wall clock may have been set wrong meanwhile.
    now = ANCHOR + 5 * INTERVAL + INTERVAL // 2
    clock = FakeClock(start_ns=now, wall_start_ns=ANCHOR_WALL + (now - ANCHOR) + wall_error_ns)
    clock.boot = "boot-A"
    resumed, _ = resume(journal, clock)
    assert resumed["anchor_ns"] == ANCHOR
    records = journal.read_frames(run_id)
    assert [r.due_ns for r in records] == [ANCHOR + k * INTERVAL for k in range(10)]
    assert [r.status for r in records] == ["ok"] * 3 + ["missed"] * 3 + ["ok"] * 4


class LateCamera:
    """A camera whose news about frames 7 and 8 comes only after frame 10 fired.

    The real camera thread does this when files come slowly (tests/test_camera_*.py
    drive it on libgphoto2's virtual camera); here the order is fixed so the
    bookkeeping can be checked exactly.
    """

    trigger = "gpio"
    drives_shutter_line = True

    def __init__(
        self, news_after: int, news: list[CameraEvent], last_news: list[CameraEvent]
    ) -> None:
        self.news_after = news_after
        self.news = news
        self.last_news = last_news
        """Handed over as the run ends, when the camera takes in the last files."""
        self.report: Report | None = None

    def prepare(self, settings: Settings) -> None:
        pass

    def begin_run(self, folder: Path, report: Report) -> None:
        self.report = report

    def shutter(self, frame: int, on: bool) -> None:
        if on and frame == self.news_after and self.report is not None:
            for event in self.news:
                self.report(event)

    def end_run(self) -> None:
        if self.report is not None:
            for event in self.last_news:
                self.report(event)
        self.report = None

    def status(self) -> dict[str, Any]:
        return {"connected": True}

    def watch(self, changed: Callable[[], None]) -> None:
        pass

    def close(self) -> None:
        pass


def test_later_lines_for_older_frames_keep_the_newest_frame_and_the_counts(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path)
    camera = LateCamera(
        news_after=10,
        news=[
            FileSaved(frame=7, file="frame-000007-DSC_0007.jpg", size=1000),
            FrameFailed(frame=8, status="error", message="the camera lost frame 8"),
            FileSaved(frame=10, file="frame-000010-DSC_0010.jpg", size=3000),
        ],
        last_news=[FileSaved(frame=9, file="frame-000009-DSC_0009.jpg", size=2000)],
    )
    clock = FakeClock()
    daemon = Daemon(journal, clock, camera=camera)
    run_id = daemon.controller.start(Settings(interval_ns=NS_PER_S, frames=12))["run"]
    status = daemon.finish()
    records = journal.read_frames(run_id)
    assert [r.frame for r in records] == list(range(12))
    assert records[7].file == "frame-000007-DSC_0007.jpg" and records[7].status == "ok"
    assert (records[8].status, records[8].error) == ("error", "the camera lost frame 8")
    counts = journal.frame_counts(run_id)
    assert counts == {"ok": 11, "missed": 0, "error": 1}
    assert (status["ok"], status["missed"], status["errors"]) == (11, 0, 1)
    assert status["last_frame"]["frame"] == 11, "the newest frame, not the last line's"
    assert journal.last_frame(run_id).frame == 11
    # Every frame event a client saw carries counts that agree with the journal at the end.
    frames_seen = [m["data"] for m in daemon.published if m.get("event") == "frame"]
    assert (frames_seen[-1]["ok"], frames_seen[-1]["errors"]) == (11, 1)
    assert frames_seen[-1]["files"] == 3
    assert records[9].file == "frame-000009-DSC_0009.jpg"


def test_a_run_resumed_after_late_lines_continues_after_the_newest_frame(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    run_id = interrupted_run(journal, fired=11, frames=14)
    with journal.open_run(run_id) as writer:
        # The camera's news for frames 7 and 8 came after frame 10 fired; then the daemon died.
        older = {record.frame: record for record in journal.read_frames(run_id)}
        writer.append(
            [
                replace(older[7], file="frame-000007-DSC_0007.jpg"),
                replace(older[8], status="error", error="the camera lost frame 8"),
            ]
        )
    assert journal.last_frame(run_id).frame == 10
    # Resumed on the same boot, 20 s before frame 11 is due: nothing was lost while down.
    now = ANCHOR + 11 * INTERVAL - 20 * NS_PER_S
    clock = FakeClock(start_ns=now, wall_start_ns=ANCHOR_WALL + (now - ANCHOR))
    clock.boot = "boot-A"
    daemon = Daemon(journal, clock)
    lines_before = len(journal.scan_frames(run_id).records)
    assert daemon.controller.resume() is not None
    status = daemon.finish()
    records = journal.read_frames(run_id)
    assert [r.frame for r in records] == list(range(14)), "no frame taken twice, none lost"
    new_lines = journal.scan_frames(run_id).records[lines_before:]
    assert [r.frame for r in new_lines] == [11, 12, 13], "resumed after the newest frame"
    assert [r.status for r in records[11:]] == ["ok"] * 3
    assert records[7].file == "frame-000007-DSC_0007.jpg"
    assert (status["ok"], status["missed"], status["errors"]) == (13, 0, 1)
    assert journal.frame_counts(run_id) == {"ok": 13, "missed": 0, "error": 1}
