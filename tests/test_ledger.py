"""The run's bookkeeping, sans IO (core.model.ledger): reports in, lines and events out."""

from __future__ import annotations

from core.model.camera import CameraChanged, FileSaved, FrameFailed
from core.model.durations import NS_PER_S, wall_iso
from core.model.events import EdgeDone, Fault, FrameDone, SlotsSkipped
from core.model.ledger import RunLedger, resume_point
from core.model.plan import Line
from core.model.protocol import CameraEvent, Counts, EdgeEvent, FaultEvent, FrameEvent, MissedEvent
from core.model.records import AMEND_WINDOW, FrameRecord
from core.model.scheduler import Grid

ANCHOR = 1_000 * NS_PER_S
WALL = 1_750_000_000 * NS_PER_S
GRID = Grid(ANCHOR, NS_PER_S)


def fired(frame: int, late_ns: int = 5_000) -> FrameDone:
    due = GRID.due_ns(frame)
    return FrameDone(frame, due, due + late_ns, WALL + due - ANCHOR, "ok")


def ledger_after(frames: int) -> RunLedger:
    ledger = RunLedger("run-1", GRID)
    for frame in range(frames):
        ledger.take(fired(frame))
    return ledger


def test_a_fired_frame_is_one_line_and_one_event_with_the_counts() -> None:
    ledger = RunLedger("run-1", GRID)
    entries = ledger.take(fired(0, late_ns=48_000))
    (record,) = entries.records
    assert (record.frame, record.status, record.lateness_ns) == (0, "ok", 48_000)
    assert record.wall == wall_iso(WALL)
    assert entries.events == [FrameEvent("run-1", record, Counts(ok=1))]
    assert entries.status_changed, "the first slot reached: waiting becomes running"
    assert not ledger.take(fired(1)).status_changed
    assert ledger.last is not None and ledger.last.frame == 1


def test_slots_missed_are_dated_on_the_grid_and_counted() -> None:
    ledger = ledger_after(2)
    noticed = GRID.due_ns(5) + 300
    skipped = SlotsSkipped(2, 4, noticed, WALL + noticed - ANCHOR, "the daemon was not running")
    entries = ledger.take(skipped)
    (gap,) = entries.records  # the whole gap is one line
    assert (gap.frame, gap.last, gap.status, gap.fired_ns) == (2, 4, "missed", None)
    assert gap.slots == 3
    assert gap.due_ns == GRID.due_ns(2)
    assert gap.wall == wall_iso(WALL + GRID.due_ns(2) - ANCHOR)
    assert entries.events == [
        MissedEvent("run-1", 2, 4, "the daemon was not running", Counts(ok=2, missed=3))
    ]
    # The newest slot, dated on the grid, as status shows it and a resume goes on from it.
    assert ledger.last is not None
    assert (ledger.last.frame, ledger.last.last, ledger.last.due_ns) == (4, None, GRID.due_ns(4))
    assert ledger.last.wall == wall_iso(WALL + GRID.due_ns(4) - ANCHOR)


def test_a_file_after_its_frame_is_a_later_line_and_counts_its_bytes() -> None:
    ledger = ledger_after(3)
    entries = ledger.take(FileSaved(frame=1, file="frame-000001-DSC_0001.jpg", size=4_000_000))
    (line,) = entries.records
    assert (line.frame, line.file, line.status) == (1, "frame-000001-DSC_0001.jpg", "ok")
    assert entries.events == [FrameEvent("run-1", line, Counts(ok=3, files=1))]
    assert ledger.average_file_bytes == 4_000_000
    assert ledger.last is not None and ledger.last.frame == 2, "an older frame stays older"
    # The same news again (a repeated report) adds no line.
    assert ledger.take(FileSaved(frame=1, file="frame-000001-DSC_0001.jpg", size=0)).records == []


def test_news_before_its_frame_waits_for_the_frames_own_line() -> None:
    ledger = ledger_after(3)
    early = ledger.take(FileSaved(frame=3, file="frame-000003-DSC_0003.jpg", size=2_000))
    assert early.records == [] and early.events == []
    (record,) = ledger.take(fired(3)).records
    assert record.file == "frame-000003-DSC_0003.jpg"
    assert ledger.counts == Counts(ok=4, files=1)


def test_a_frame_the_camera_failed_moves_from_ok_to_its_status() -> None:
    ledger = ledger_after(4)
    entries = ledger.take(FrameFailed(frame=2, status="missed", message="camera busy"))
    (line,) = entries.records
    assert (line.status, line.fired_ns, line.error) == ("missed", None, "camera busy")
    assert ledger.counts == Counts(ok=3, missed=1)
    ledger.take(FrameFailed(frame=3, status="error", message="the shutter did not open"))
    assert ledger.counts == Counts(ok=2, missed=1, errors=1)
    # The newest frame's own status follows its later line.
    assert ledger.last is not None and ledger.last.status == "error"


def test_news_older_than_the_amendment_window_is_counted_and_noted() -> None:
    ledger = ledger_after(AMEND_WINDOW + 1)
    # Frame 0 is AMEND_WINDOW slots behind the newest: too old to complete its line, but
    # its file is on disk: counted, and said where `lapse log` shows it.
    late = ledger.take(FileSaved(frame=0, file="late.jpg", size=10))
    assert late.records == []
    assert late.notes == [
        f"frame 0's file late.jpg came {AMEND_WINDOW} frames behind, too late for its"
        " journal line, which names no file"
    ]
    assert ledger.counts.files == 1 and ledger.late_news == 1
    failed = ledger.take(FrameFailed(frame=0, status="error", message="camera busy"))
    assert failed.records == [] and "the camera said error (camera busy)" in failed.notes[0]
    assert ledger.counts.ok == AMEND_WINDOW + 1, "the line still says ok; the note says why"
    assert ledger.take(FileSaved(frame=1, file="in-time.jpg", size=10)).records != []
    # Early news for a frame that never comes is forgotten once the window passes it.
    ledger.take(FileSaved(frame=AMEND_WINDOW + 1, file="orphan.jpg", size=10))
    for frame in range(AMEND_WINDOW + 2, 2 * AMEND_WINDOW + 3):
        ledger.take(fired(frame))
    assert ledger._early == {}


def test_the_cameras_return_clears_only_the_cameras_fault() -> None:
    ledger = ledger_after(1)
    entries = ledger.take(CameraChanged(message="camera: gone", fault=True))
    assert entries.events == [CameraEvent("camera: gone", True)] and entries.status_changed
    assert ledger.fault == "camera: gone"
    ledger.take(CameraChanged(message="the camera is back: Nikon", fault=False))
    assert ledger.fault is None
    ledger.take(Fault(message="the engine failed: boom"))
    ledger.take(CameraChanged(message="the camera is back: Nikon", fault=False))
    assert ledger.fault == "the engine failed: boom", "not the camera's to clear"


def test_an_edge_is_an_event_only_and_a_fault_is_shown() -> None:
    ledger = RunLedger("run-1", GRID)
    edge = ledger.take(EdgeDone(frame=0, line=Line.SHUTTER, on=True, at_ns=ANCHOR + 70_000))
    assert edge.records == [] and edge.events == [EdgeEvent(0, "shutter", True, ANCHOR + 70_000)]
    fault = ledger.take(Fault(message="could not switch focus", frame=3))
    assert fault.events == [FaultEvent("could not switch focus", 3)]
    assert ledger.journal_failed(OSError(28, "No space left on device")) == FaultEvent(
        "could not write the journal: [Errno 28] No space left on device"
    )


def test_a_resume_counts_on_from_the_journal() -> None:
    last = FrameRecord(frame=9, due_ns=GRID.due_ns(9), fired_ns=None, wall=wall_iso(WALL),
                       status="missed")  # fmt: skip
    ledger = RunLedger("run-1", GRID, counts=Counts(ok=8, missed=2), last=last)
    assert not ledger.take(fired(10)).status_changed, "already running"
    assert ledger.counts == Counts(ok=9, missed=2)


def test_a_resume_keeps_the_anchor_on_its_boot_and_carries_it_over_a_reboot() -> None:
    last = FrameRecord(frame=4, due_ns=GRID.due_ns(4), fired_ns=GRID.due_ns(4),
                       wall=wall_iso(WALL), status="ok")  # fmt: skip
    same = resume_point(anchor_ns=ANCHOR, anchor_wall_ns=WALL, run_boot_id="a", boot_id="a",
                        now_ns=5, wall_ns=0, last=last)  # fmt: skip
    assert (same.anchor_ns, same.next_frame) == (ANCHOR, 5)
    # After a reboot the monotonic clock starts again near zero: 30 s of wall time after
    # the anchor is 30 s after it on the new clock too.
    rebooted = resume_point(anchor_ns=ANCHOR, anchor_wall_ns=WALL, run_boot_id="a",
                            boot_id="b", now_ns=7 * NS_PER_S, wall_ns=WALL + 30 * NS_PER_S,
                            last=None)  # fmt: skip
    assert (rebooted.anchor_ns, rebooted.next_frame) == (7 * NS_PER_S - 30 * NS_PER_S, 0)
