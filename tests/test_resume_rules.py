"""Resume and the run's bookkeeping, on the real controller, journal and simulated rig
in fake time, with the boot id and both clocks injected.

- Resumed on the same boot, a run keeps its monotonic anchor, whatever the
  wall clock now says.
- Resumed on another boot, the monotonic clock has restarted: the grid is
  re-anchored through the wall clock, ``anchor = now_mono − (now_wall −
  anchor_wall)``, so frame k keeps its wall time. Without a boot id, every
  start counts as a new boot.
- Later lines for older frames (a camera's files or failures, after newer
  frames fired) leave the newest frame, the resume point and the counts right;
  a later line for the newest frame shows in the status's last frame.
- A run's first frame gets its whole lead; once the last shutter of a counted
  run has opened, the status names no next frame; a frame count that is not
  above the slots already begun, or out of range, is refused and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core import clock as clock_module
from core.clock import SystemClock, sleep_ns
from core.daemon.controller import DOWN_REASON, RunController
from core.daemon.journal_writer import open_run
from core.fake_clock import FakeClock
from core.journal import STOPPED_WHILE_DOWN, Journal
from core.model.camera import NO_CHOICE, CameraEvent, FileSaved, FrameFailed, Report
from core.model.durations import MINUTE_NS, NS_PER_S, wall_iso
from core.model.errors import SettingsError
from core.model.hardware import HardwareConfig
from core.model.marks import UNKNOWN_POWER
from core.model.protocol import (
    CameraStatus,
    EdgeEvent,
    FrameEvent,
    RunCamera,
    StateEvent,
    Status,
)
from core.model.records import FrameRecord
from core.model.settings import MAX_FRAMES, Settings
from hw.sim import make_sim_rig
from tests.fake_time import Published, script
from tests.journal_slots import each_slot
from tests.killed_runs import killed_run

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
    settings = SETTINGS.with_changes(frames=frames)
    return killed_run(
        journal, settings, anchor_ns=ANCHOR, anchor_wall_ns=ANCHOR_WALL, fired=fired, late_ns=2_000
    ).info.id


class Daemon:
    """The controller on a simulated rig; ``finish`` waits (in real time) for the run's end."""

    def __init__(self, journal: Journal, clock: FakeClock, camera: Any = None) -> None:
        self.rig = make_sim_rig(HardwareConfig())
        self.published = Published(clock)
        self.controller = RunController(self.rig, clock, journal, self.published, camera=camera)

    def finish(self) -> dict[str, Any]:
        self.published.wait_for_end()
        self.rig.close()
        return self.controller.status()


def resume(journal: Journal, clock: FakeClock) -> tuple[dict[str, Any], dict[str, Any]]:
    daemon = Daemon(journal, clock)
    resumed = daemon.controller.resume()
    assert resumed is not None and resumed.resumed
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
    assert resumed.anchor_ns == new_anchor
    (gap,) = (r for r in journal.read_frames(run_id) if r.status == "missed")
    assert (gap.frame, gap.last) == (4, 5), "the slots missed while down are one line"
    records = each_slot(journal, run_id)
    assert [r.frame for r in records] == list(range(10))
    for record in records[3:]:
        assert record.due_ns == new_anchor + record.frame * INTERVAL
        # Frame k's shutter stays at frame k's wall time: the grid did not move.
        assert record.wall == wall_iso(ANCHOR_WALL + record.frame * INTERVAL)
    # Frame 3's shutter was due just after the last durable line: a power cut right after
    # it could have taken its line and its mark, so it is unknown; 4 and 5 were missed.
    assert [(r.status, r.error) for r in records[3:6]] == [
        ("unknown", UNKNOWN_POWER),
        ("missed", DOWN_REASON),
        ("missed", DOWN_REASON),
    ]
    assert all(r.status == "ok" and r.fired_ns == r.due_ns for r in records[6:])
    assert journal.get_run(run_id).state == "finished"


def test_without_a_boot_id_every_start_counts_as_a_new_boot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No /proc/sys/kernel/random/boot_id (a container, an odd kernel): a daemon cannot tell
    # a restart from a reboot, so it must take each start for a reboot and re-anchor
    # through the wall clock. Trusting a stale monotonic anchor would move the grid.
    def no_boot_id(*args: object, **kwargs: object) -> Any:
        raise FileNotFoundError("/proc/sys/kernel/random/boot_id")

    monkeypatch.setattr(clock_module, "open", no_boot_id, raising=False)
    clock = SystemClock()
    first = clock.boot_id()
    assert first == clock.boot_id(), "one daemon keeps its id"
    assert SystemClock().boot_id() != first, "the next daemon's start is another boot"


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
    assert resumed.anchor_ns == ANCHOR
    records = each_slot(journal, run_id)
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

    def prepare(
        self,
        settings: Settings,
        choice: RunCamera = NO_CHOICE,
        measured: Sequence[tuple[str, float]] = (),
    ) -> None:
        self.prepared_with = choice
        self.measured_before = list(measured)

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

    def status(self) -> CameraStatus:
        return CameraStatus(trigger="gpio", connected=True)

    def quiet_left_ns(self, now_ns: int) -> int:
        return 0

    def line_hold_ns(self) -> int | None:
        return None

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
    run_id = daemon.controller.start(Settings(interval_ns=NS_PER_S, frames=12)).run.id
    status = daemon.finish()
    records = journal.read_frames(run_id)
    assert [r.frame for r in records] == list(range(12))
    assert records[7].file == "frame-000007-DSC_0007.jpg" and records[7].status == "ok"
    assert (records[8].status, records[8].error) == ("error", "the camera lost frame 8")
    counts = journal.frame_counts(run_id)
    assert counts == {"ok": 11, "missed": 0, "error": 1, "unknown": 0, "skipped": 0}
    assert (status.run.counts.ok, status.run.counts.missed, status.run.counts.errors) == (11, 0, 1)
    assert status.run.last_frame.frame == 11, "the newest frame, not the last line's"
    assert journal.last_frame(run_id).frame == 11
    # Every frame event a client saw carries counts that agree with the journal at the end.
    frames_seen = daemon.published.of(FrameEvent)
    assert (frames_seen[-1].counts.ok, frames_seen[-1].counts.errors) == (11, 1)
    assert frames_seen[-1].counts.files == 3
    assert records[9].file == "frame-000009-DSC_0009.jpg"


def resumed_on_a_camera(journal: Journal, *, fired: int) -> LateCamera:
    """Resume the journal's killed run (``fired`` frames) on the boot that wrote it, 20 s
    before its next frame, with a camera; the run then ends. The camera, to look at."""
    now = ANCHOR + fired * INTERVAL - 20 * NS_PER_S
    clock = FakeClock(start_ns=now, wall_start_ns=ANCHOR_WALL + (now - ANCHOR))
    clock.boot = "boot-A"
    camera = LateCamera(news_after=99, news=[], last_news=[])
    daemon = Daemon(journal, clock, camera=camera)
    assert daemon.controller.resume() is not None
    daemon.finish()
    return camera


def test_a_resumed_run_asks_the_camera_for_what_it_asked_at_its_start(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    asked = RunCamera(trigger="usb", shutter_speed="1/125")
    run_id = killed_run(
        journal, SETTINGS.with_changes(frames=6), anchor_ns=ANCHOR,
        anchor_wall_ns=ANCHOR_WALL, fired=3, camera=asked,
    ).info.id  # fmt: skip
    assert journal.get_run(run_id).camera == asked, "run.toml keeps it"
    camera = resumed_on_a_camera(journal, fired=3)
    assert camera.prepared_with == asked


def test_a_resumed_run_hands_the_camera_its_measured_frames(tmp_path: Path) -> None:
    # Auto exposure goes on from the frames before the stop instead of settling again.
    journal = Journal(tmp_path)
    asked = RunCamera(trigger="usb", auto_exposure=True)
    writer = killed_run(
        journal, SETTINGS.with_changes(frames=9), anchor_ns=ANCHOR,
        anchor_wall_ns=ANCHOR_WALL, fired=4, camera=asked,
    )  # fmt: skip
    run_id = writer.info.id
    fired = journal.read_frames(run_id)
    measured = {0: ("1/125 ISO 100", 0.45), 1: ("1/100 ISO 100", 0.47), 3: ("1/80 ISO 100", 0.5)}
    with open_run(journal, run_id) as again:
        for frame, (exposure, brightness) in measured.items():
            again.append([replace(fired[frame], exposure=exposure, brightness=brightness)])
        # A RAW its camera kept the setting of, but no brightness: nothing to go on from.
        again.append([replace(fired[2], exposure="1/100 ISO 100")])
    camera = resumed_on_a_camera(journal, fired=4)
    assert camera.measured_before == [measured[0], measured[1], measured[3]]


def test_a_resumed_run_whose_last_frames_cannot_be_read_resumes_all_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Its exposure settles again; the run itself goes on, and the log says why.
    journal = Journal(tmp_path)
    run_id = killed_run(
        journal, SETTINGS.with_changes(frames=9), anchor_ns=ANCHOR,
        anchor_wall_ns=ANCHOR_WALL, fired=4, camera=RunCamera(auto_exposure=True),
    ).info.id  # fmt: skip

    def unreadable(run: str, slots: int) -> list[FrameRecord]:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(journal, "last_frames", unreadable)
    camera = resumed_on_a_camera(journal, fired=4)
    assert camera.measured_before == []
    assert f"run {run_id}: its last frames could not be read" in caplog.text


def test_a_run_resumed_after_late_lines_continues_after_the_newest_frame(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    run_id = interrupted_run(journal, fired=11, frames=14)
    with open_run(journal, run_id) as writer:
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
    assert (status.run.counts.ok, status.run.counts.missed, status.run.counts.errors) == (13, 0, 1)
    assert journal.frame_counts(run_id) == {
        "ok": 13,
        "missed": 0,
        "error": 1,
        "unknown": 0,
        "skipped": 0,
    }


@pytest.mark.parametrize(
    "news",
    [
        FileSaved(frame=3, file="frame-000003-DSC_0003.jpg", size=500),
        FrameFailed(frame=3, status="error", message="the camera lost frame 3"),
    ],
    ids=["file", "failed"],
)
def test_a_later_line_for_the_newest_frame_shows_in_the_status(
    tmp_path: Path, news: CameraEvent
) -> None:
    # The last frame's file (or its failure) comes as the run ends: the status's last
    # frame, which `lapse status` and the screens show, is the journal's last line for it.
    journal = Journal(tmp_path)
    camera = LateCamera(news_after=-1, news=[], last_news=[news])
    daemon = Daemon(journal, FakeClock(), camera=camera)
    run_id = daemon.controller.start(Settings(interval_ns=NS_PER_S, frames=4)).run.id
    status = daemon.finish()
    newest = journal.last_frame(run_id)
    assert newest is not None and newest.frame == 3
    assert status.run.last_frame == newest
    assert (newest.file, newest.status) == (
        (news.file, "ok") if isinstance(news, FileSaved) else (None, "error")
    )


# -- a run's start, status and changes -------------------------------------------------


def edges_of(daemon: Daemon, line: str, on: bool) -> dict[int, int]:
    """Frame → the clock's time at which ``line`` was switched ``on``, from the events."""
    return {
        edge.frame: edge.at_ns
        for edge in daemon.published.of(EdgeEvent)
        if edge.line == line and edge.on is on
    }


def test_the_first_frame_gets_its_whole_lead(tmp_path: Path) -> None:
    # Camera power comes on 14 s before every shutter of a powered minute, the first
    # one included: the first shutter waits for its lead, it never finds the camera asleep.
    journal = Journal(tmp_path)
    clock = FakeClock()
    daemon = Daemon(journal, clock)
    started = clock.now_ns()
    run_id = daemon.controller.start(Settings(interval_ns=MINUTE_NS, power=True, frames=2)).run.id
    daemon.finish()
    records = journal.read_frames(run_id)
    assert [r.status for r in records] == ["ok", "ok"]
    power_on = edges_of(daemon, "power", True)
    focus_on = edges_of(daemon, "focus", True)
    for record in records:
        assert power_on[record.frame] == record.due_ns - 14 * NS_PER_S
        assert focus_on[record.frame] == record.due_ns - 4 * NS_PER_S
    assert power_on[0] > started


def test_after_the_last_shutter_of_a_counted_run_no_next_frame_is_named(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    clock = FakeClock()
    daemon = Daemon(journal, clock)
    # This thread takes part in the clock's time, so it can look in at a moment of it.
    with clock.taking_part():
        started = daemon.controller.start(Settings(interval_ns=MINUTE_NS, power=True, frames=2))
        anchor = started.run.anchor_ns
        clock.wait_until(anchor + 10 * NS_PER_S)  # frame 0 fired; frame 1 is next
        between = daemon.controller.status()
        clock.wait_until(anchor + MINUTE_NS + 10 * NS_PER_S)  # frame 1 fired; power still on
        after_last = daemon.controller.status()
    daemon.finish()
    assert (between.run.next_frame, between.run.next_due_ns) == (1, anchor + MINUTE_NS)
    assert after_last.state == "running", "the last frame's power-off is still to come"
    assert (after_last.run.next_frame, after_last.run.next_due_ns) == (None, None)


@pytest.mark.parametrize(
    "frames", [3, 2, -1, MAX_FRAMES + 1], ids=["begun", "fewer", "-1", "max+1"]
)
def test_a_frame_count_that_cannot_be_is_refused_and_changes_nothing(
    tmp_path: Path, frames: int
) -> None:
    journal = Journal(tmp_path)
    clock = FakeClock()
    daemon = Daemon(journal, clock)
    with clock.taking_part():
        started = daemon.controller.start(Settings(interval_ns=MINUTE_NS, frames=10))
        run = journal.get_run(started.run.id)
        before = run.run_file.read_bytes()
        # Frames 0, 1 and 2 have begun: frame 2's shutter opened a second ago.
        clock.wait_until(started.run.anchor_ns + 2 * MINUTE_NS + NS_PER_S)
        with pytest.raises(SettingsError, match="frames must be"):
            daemon.controller.update(frames)
        assert run.run_file.read_bytes() == before
        assert daemon.controller.status().run.settings.frames == 10
        daemon.controller.update(4)  # one more than begun: allowed
    status = daemon.finish()
    assert (status.state, status.run.counts.ok) == ("finished", 4)
    assert journal.get_run(started.run.id).settings.frames == 4


class SlowToFinishCamera(LateCamera):
    """A camera that takes 2 s of the clock's time to take in the last files of a run."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(news_after=-1, news=[], last_news=[])
        self.clock = clock

    def end_run(self) -> None:
        sleep_ns(self.clock, 2 * NS_PER_S)
        super().end_run()


def test_a_stop_from_a_thread_taking_part_returns_once_the_run_has_ended(tmp_path: Path) -> None:
    # stop() waits for the run's threads to finish, and they finish on the clock's time (the
    # camera fetching the last files): the wait must be one the clock sees, or time stands
    # still for a thread taking part and the stop never returns.
    journal = Journal(tmp_path)
    clock = FakeClock()
    daemon = Daemon(journal, clock, camera=SlowToFinishCamera(clock))
    stopped: list[Status] = []
    stop_at: list[int] = []

    def steps() -> None:
        started = daemon.controller.start(Settings(interval_ns=NS_PER_S))
        clock.wait_until(started.run.anchor_ns + 2 * NS_PER_S + NS_PER_S // 2)
        stop_at.append(clock.now_ns())
        stopped.append(daemon.controller.stop())

    script(clock, steps)  # fails, rather than hangs, if stop() never returns
    (status,) = stopped
    assert (status.state, status.run.counts.ok) == ("stopped", 3)
    assert clock.now_ns() >= stop_at[0] + 2 * NS_PER_S, "the camera's last files were awaited"
    daemon.rig.close()


def test_an_interrupted_run_ended_instead_of_resumed_fires_nothing(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    run_id = interrupted_run(journal, fired=3)
    frames_file = journal.get_run(run_id).frames_path
    lines_before = frames_file.read_bytes()
    # Frames 3–5 were due while the daemon was down and frame 6 is 20 s away: a resume
    # would log three missed slots and fire frame 6.
    now = ANCHOR + 6 * INTERVAL - 20 * NS_PER_S
    clock = FakeClock(start_ns=now, wall_start_ns=ANCHOR_WALL + (now - ANCHOR))
    clock.boot = "boot-A"
    daemon = Daemon(journal, clock)
    ended = daemon.controller.end_interrupted(STOPPED_WHILE_DOWN)
    assert ended is not None and ended.id == run_id
    info = journal.get_run(run_id)
    assert (info.state, info.end_reason) == ("stopped", STOPPED_WHILE_DOWN)
    assert info.ended == wall_iso(clock.wall_ns())
    assert frames_file.read_bytes() == lines_before, "no frame line, not even a missed one"
    status = daemon.controller.status()
    assert status.state == "stopped" and status.run is not None
    assert (status.run.id, status.run.counts.ok, status.run.counts.missed) == (run_id, 3, 0)
    assert status.run.last_frame is not None and status.run.last_frame.frame == 2
    states = daemon.published.of(StateEvent)
    assert states[-1].status.state == "stopped", "clients are told"
    assert daemon.published.of(EdgeEvent) == [] and daemon.published.of(FrameEvent) == []
    hardware = HardwareConfig()
    for pin in (hardware.focus_pin, hardware.shutter_pin, hardware.power_pin, hardware.led_pin):
        levels = [state.state for state in daemon.rig.pin_factory.pin(pin).states]
        assert not any(levels), f"pin {pin} was driven to {levels}"
    # Ended for good: neither this daemon nor the next one takes it up again.
    assert daemon.controller.end_interrupted(STOPPED_WHILE_DOWN) is None
    assert daemon.controller.resume() is None
    daemon.rig.close()


def test_a_file_too_late_for_its_frames_line_is_counted_and_noted_for_lapse_log(
    tmp_path: Path,
) -> None:
    """The camera far behind: frame 0's file comes after frame 70 fired, past what a
    line may amend. The file is on disk; the journal's notes say whose it is."""
    journal = Journal(tmp_path)
    late = FileSaved(frame=0, file="frame-000000-DSC_0000.jpg", size=1000)
    camera = LateCamera(news_after=70, news=[late], last_news=[])
    daemon = Daemon(journal, FakeClock(), camera=camera)
    run_id = daemon.controller.start(Settings(interval_ns=NS_PER_S, frames=72)).run.id
    status = daemon.finish()
    assert journal.read_frames(run_id)[0].file is None
    assert status.run.counts.files == 1
    notes = [text for _, text in journal.notes(journal.get_run(run_id))]
    said = "frame 0's file frame-000000-DSC_0000.jpg came 69 frames behind"
    assert any(said in note for note in notes), notes
