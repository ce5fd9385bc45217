"""A frame that fired is never journaled "missed" (docs/architecture.md §7, the marks).

The journal thread appends and fsyncs a frame's line after its shutter; a daemon killed
in between leaves a slot whose line never reached the disk. The timing thread marks each
frame in ``runs/<id>/shutter.marks`` (armed before its first step, fired right after the
shutter's output call, or not fired), so the next daemon journals the slot as what it
was: ``ok`` with its time, ``unknown``, or ``missed``.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from core.clock import SPIN_NS
from core.daemon.controller import DOWN_REASON
from core.daemon.engine import ARM_LEAD_NS, LATE_LIMIT_NS, REACHED_LATE, Engine, EngineExit
from core.daemon.journal_writer import RunWriter
from core.daemon.marks import MARKS_FILE, RING_BYTES, MarksFile
from core.fake_clock import FakeClock
from core.journal import Journal, LinkRefused
from core.model.durations import MINUTE_NS, NS_PER_MS, NS_PER_S, wall_iso
from core.model.events import EdgeDone, Fault, FrameDone, SlotsSkipped
from core.model.marks import (
    JOURNAL_LAG_NS,
    MARK_SLOTS,
    UNKNOWN_ARMED,
    UNKNOWN_POWER,
    Gap,
    Mark,
    MarkKind,
    gap_reports,
)
from core.model.plan import Line, make_plan
from core.model.protocol import Counts, EdgeEvent
from core.model.records import FrameRecord
from core.model.run_state import RunState
from core.model.scheduler import Grid, Scheduler
from core.model.settings import Settings
from tests import fake_time, statuses
from tests.conftest import Lapse
from tests.fake_time import script
from tests.journal_slots import each_slot
from tests.killed_runs import killed_run
from tests.rigs import RecordingRig
from tui import cli

EVERY_SECOND = Settings(interval_ns=NS_PER_S, frames=20)
ANCHOR = 7_000 * NS_PER_S
ANCHOR_WALL = 1_800_000_000 * NS_PER_S
LOST_FROM = 3
"""The daemon dies before the batch holding this frame's line is written."""


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Callable[[FakeClock], fake_time.Daemon]]:
    daemons: list[fake_time.Daemon] = []

    def make(clock: FakeClock) -> fake_time.Daemon:
        daemons.append(fake_time.Daemon(tmp_path / "state", clock))
        return daemons[-1]

    yield make
    for daemon in daemons:
        daemon.close()


def lose_lines_from(monkeypatch: pytest.MonkeyPatch, frame: int) -> None:
    """From ``frame`` on, appended lines never reach the disk: what a ``kill -9`` between
    the shutter and the journal's write leaves, made certain."""
    append = RunWriter.append

    def append_until(writer: RunWriter, records: Sequence[FrameRecord]) -> None:
        append(writer, [record for record in records if record.frame < frame])

    monkeypatch.setattr(RunWriter, "append", append_until)
    # Nor does a summary of the counts: the daemon that is killed saves none at its end.
    monkeypatch.setattr(RunWriter, "save_summary", lambda writer, tally: None)


def test_a_frame_whose_line_never_reached_the_disk_resumes_ok_never_missed(
    monkeypatch: pytest.MonkeyPatch, made: Callable[[FakeClock], fake_time.Daemon]
) -> None:
    clock = FakeClock()
    first = made(clock)
    lose_lines_from(monkeypatch, LOST_FROM)
    fired: list[int] = []

    def die_after_the_shutter() -> None:
        started = first.controller.start(EVERY_SECOND)
        assert started.run is not None
        # Killed a few ms after frame 3's shutter edge, before its line was written.
        clock.wait_until(started.run.anchor_ns + LOST_FROM * NS_PER_S + 5 * NS_PER_MS)
        fired.extend(
            event.frame
            for event in first.published.of(fake_time.protocol.EdgeEvent)
            if event.line == "shutter" and event.on
        )
        first.controller.shutdown()

    script(clock, die_after_the_shutter)
    assert fired == [0, 1, 2, 3], "frame 3's shutter edge was reported"
    monkeypatch.undo()
    run_id = first.journal.latest_run().id
    assert [r.frame for r in first.journal.read_frames(run_id)] == [0, 1, 2]

    clock.advance(3 * NS_PER_S)  # down for a few slots
    second = made(clock)
    with clock.taking_part():
        assert second.controller.resume() is not None
    second.controller.shutdown()
    records = {r.frame: r for r in each_slot(second.journal, run_id)}
    assert records[3].status == "ok", f"frame 3 fired, yet it reads {records[3]}"
    assert records[3].fired_ns == records[3].due_ns
    # Frame 4's shutter was most of a second away: never armed, so known missed.
    assert [(records[k].status, records[k].error) for k in (4, 5, 6)] == [
        ("missed", DOWN_REASON)
    ] * 3


# -- the engine writes the marks around each shutter ---------------------------------------
class MarksInMemory:
    """The marks protocol over the rig's own call list: one order for marks and edges."""

    def __init__(self, rig: RecordingRig, fail: bool = False) -> None:
        self.rig = rig
        self.fail = fail
        self.marks: list[Mark] = []

    def write(self, mark: Mark) -> None:
        if self.fail:
            raise OSError(5, "Input/output error")
        self.marks.append(mark)
        self.rig.calls.append((self.rig.clock.now_ns(), "mark", mark))


def engine_with_marks(
    settings: Settings, fail: bool = False, **rig: object
) -> tuple[Engine, RecordingRig, MarksInMemory]:
    clock = FakeClock()
    recording = RecordingRig(clock, **rig)  # type: ignore[arg-type]
    marks = MarksInMemory(recording, fail)
    grid = Grid(clock.now_ns() + 20 * NS_PER_S, settings.interval_ns)
    scheduler = Scheduler(make_plan(settings), grid, frames=settings.frames)

    def emit(event: object) -> None:
        recording.calls.append((clock.now_ns(), "emit", event))

    engine = Engine(recording, clock, scheduler, emit, marks=marks)
    return engine, recording, marks


def index_of(order: list[tuple[str, object]], wanted: Callable[[str, object], bool]) -> int:
    return next(i for i, (what, value) in enumerate(order) if wanted(what, value))


def test_each_shutter_is_armed_ahead_of_the_spin_and_marked_fired_before_its_edge_is_told() -> None:
    engine, rig, _ = engine_with_marks(Settings(interval_ns=MINUTE_NS, frames=5, power=True))
    assert engine.run() is EngineExit.COMPLETE
    order = [(what, value) for _, what, value in rig.calls]
    times = [at for at, _, _ in rig.calls]
    for frame in range(5):
        due = engine.scheduler.grid.due_ns(frame)
        armed = order.index(("mark", Mark(MarkKind.ARMED, frame, due)))
        assert times[armed] == due - ARM_LEAD_NS, "armed well ahead of the spin"
        assert ARM_LEAD_NS >= 10 * SPIN_NS
        opened = index_of(order, lambda what, value: what == "shutter" and value is True)
        order[opened] = ("shutter seen", True)
        fired = index_of(
            order,
            lambda what, value, k=frame: (
                what == "mark"
                and value.kind is MarkKind.FIRED  # type: ignore[attr-defined]
                and value.frame == k
            ),  # type: ignore[attr-defined]
        )
        told = index_of(
            order,
            lambda what, value, k=frame: (
                what == "emit"
                and isinstance(value, EdgeDone)
                and (value.frame, value.line, value.on) == (k, Line.SHUTTER, True)
            ),
        )
        done = index_of(
            order,
            lambda what, value, k=frame: (
                what == "emit" and isinstance(value, FrameDone) and value.frame == k
            ),
        )
        assert armed < opened < fired < told < done
        mark, report = order[fired][1], order[done][1]
        assert (mark.fired_ns, mark.wall_ns) == (report.fired_ns, report.wall_ns)  # type: ignore[attr-defined]


def test_an_armed_frame_whose_shutter_does_not_open_is_marked_not_fired() -> None:
    # Frame 1's focus, 20 ms before its shutter and so after it was armed, stalls past the
    # shutter's due time, beyond the limit: reached late, not fired.
    settings = Settings(interval_ns=NS_PER_S, frames=3, focus_lead_ns=20 * NS_PER_MS)
    engine, rig, marks = engine_with_marks(settings)
    set_line = rig.set_line
    due_1 = engine.scheduler.grid.due_ns(1)

    def stall_frame_1_focus(line: Line, on: bool) -> None:
        set_line(line, on)
        if line is Line.FOCUS and on and rig.clock.now_ns() < due_1 < rig.clock.now_ns() + NS_PER_S:
            rig.clock.advance(due_1 - rig.clock.now_ns() + LATE_LIMIT_NS + 1)

    rig.set_line = stall_frame_1_focus  # type: ignore[method-assign]
    assert engine.run() is EngineExit.COMPLETE
    kinds = [(m.frame, m.kind) for m in marks.marks]
    assert kinds == [
        (0, MarkKind.ARMED),
        (0, MarkKind.FIRED),
        (1, MarkKind.ARMED),
        (1, MarkKind.NOT_FIRED),
        (2, MarkKind.ARMED),
        (2, MarkKind.FIRED),
    ]
    done = {e.frame: e for _, what, e in rig.calls if what == "emit" and isinstance(e, FrameDone)}
    assert (done[1].status, done[1].error) == ("missed", REACHED_LATE)

    # Cancelled (a stop, the daemon shutting down) once frame 1 is armed.
    engine, rig, marks = engine_with_marks(Settings(interval_ns=MINUTE_NS, frames=3, power=True))
    write = marks.write

    def cancel_once_1_is_armed(mark: Mark) -> None:
        write(mark)
        if (mark.frame, mark.kind) == (1, MarkKind.ARMED):
            engine.cancel.set()

    marks.write = cancel_once_1_is_armed  # type: ignore[method-assign]
    assert engine.run() is EngineExit.CANCELLED
    assert [(m.frame, m.kind) for m in marks.marks] == [
        (0, MarkKind.ARMED),
        (0, MarkKind.FIRED),
        (1, MarkKind.ARMED),
        (1, MarkKind.NOT_FIRED),
    ]
    assert rig.openings() == [engine.scheduler.grid.due_ns(0)]


def test_a_daemon_cancelled_long_before_a_shutter_leaves_no_mark_for_it() -> None:
    engine, rig, marks = engine_with_marks(Settings(interval_ns=MINUTE_NS, frames=3, power=True))

    def cancel_after_frame_0(event: object) -> None:
        rig.calls.append((0, "emit", event))
        if isinstance(event, EdgeDone) and (event.frame, event.line) == (1, Line.POWER):
            engine.cancel.set()  # frame 1's power is on, its shutter 14 s away

    engine.emit = cancel_after_frame_0
    assert engine.run() is EngineExit.CANCELLED
    assert [m.frame for m in marks.marks] == [0, 0], "frame 1 was never armed: known missed"


def test_marks_that_cannot_be_written_are_said_once_and_cost_no_frame() -> None:
    engine, rig, _ = engine_with_marks(Settings(interval_ns=NS_PER_S, frames=5), fail=True)
    assert engine.run() is EngineExit.COMPLETE
    emitted = [e for _, what, e in rig.calls if what == "emit"]
    faults = [e for e in emitted if isinstance(e, Fault)]
    assert len(faults) == 1 and "could not write the shutter marks" in faults[0].message
    assert [e.status for e in emitted if isinstance(e, FrameDone)] == ["ok"] * 5


# -- a resume reads the marks ----------------------------------------------------------------
def crafted_run(journal: Journal, journaled: int, marks: list[Mark]) -> str:
    """An active run of 1 s frames with frames 0..journaled−1 on record and ``marks`` in its
    marks file: what a daemon killed mid-run leaves."""
    run = killed_run(
        journal,
        Settings(interval_ns=NS_PER_S, frames=100),
        anchor_ns=ANCHOR,
        anchor_wall_ns=ANCHOR_WALL,
        fired=journaled,
        late_ns=2_000,
    ).info
    ring = MarksFile.open(run.path, run.id)
    for mark in marks:
        ring.write(mark)
    ring.close()
    return run.id


KILLED_AFTER_FRAME_3 = [
    Mark(MarkKind.ARMED, 3, ANCHOR + 3 * NS_PER_S),
    Mark(
        MarkKind.FIRED,
        3,
        ANCHOR + 3 * NS_PER_S,
        ANCHOR + 3 * NS_PER_S + 7_000,
        ANCHOR_WALL + 3 * NS_PER_S + 7_000,
    ),
    Mark(MarkKind.ARMED, 4, ANCHOR + 4 * NS_PER_S),
    Mark(MarkKind.ARMED, 5, ANCHOR + 5 * NS_PER_S),
    Mark(MarkKind.NOT_FIRED, 5, ANCHOR + 5 * NS_PER_S),
]
"""Frame 3 fired, 4 was armed, 5 armed and stood down; the last line on record is frame 2."""


def resumed(clock: FakeClock, made: Callable[[FakeClock], fake_time.Daemon]) -> fake_time.Daemon:
    daemon = made(clock)
    with clock.taking_part():
        assert daemon.controller.resume() is not None
    daemon.controller.shutdown()
    return daemon


def test_on_the_same_boot_a_resume_journals_fired_unknown_and_missed_from_the_marks(
    tmp_path: Path, made: Callable[[FakeClock], fake_time.Daemon]
) -> None:
    journal = Journal(tmp_path / "state")
    # A mark from the ring's previous lap never speaks for a slot of this one.
    stale = Mark(MarkKind.FIRED, 6 - MARK_SLOTS + 2 * MARK_SLOTS, 1, 1, 1)
    run_id = crafted_run(journal, 3, [*KILLED_AFTER_FRAME_3, stale])
    clock = FakeClock(start_ns=ANCHOR + 8 * NS_PER_S + NS_PER_S // 2)
    clock.boot = "boot-A"
    daemon = resumed(clock, made)
    records = {r.frame: r for r in each_slot(journal, run_id)}
    assert (records[3].status, records[3].fired_ns) == ("ok", ANCHOR + 3 * NS_PER_S + 7_000)
    assert records[3].wall == wall_iso(ANCHOR_WALL + 3 * NS_PER_S + 7_000)
    assert (records[4].status, records[4].error) == ("unknown", UNKNOWN_ARMED)
    assert [(records[k].status, records[k].error) for k in (5, 6, 7, 8)] == [
        ("missed", DOWN_REASON)
    ] * 4
    counts = daemon.controller.status().run.counts
    assert (counts.ok, counts.unknown, counts.missed) == (4, 1, 4)
    assert journal.frame_counts(run_id)["unknown"] == 1


def test_after_a_reboot_slots_just_past_the_last_line_are_unknown_never_missed(
    tmp_path: Path, made: Callable[[FakeClock], fake_time.Daemon]
) -> None:
    journal = Journal(tmp_path / "state")
    run_id = crafted_run(journal, 3, [])  # the power cut took the marks with the page cache
    clock = FakeClock(start_ns=40 * NS_PER_S, wall_start_ns=ANCHOR_WALL + 60 * NS_PER_S + 1)
    clock.boot = "boot-B"
    resumed(clock, made)
    records = {r.frame: r for r in each_slot(journal, run_id)}
    lag_slots = JOURNAL_LAG_NS // NS_PER_S
    unknown = [k for k in range(3, 61) if records[k].status == "unknown"]
    assert unknown == list(range(3, 3 + lag_slots + 1))
    assert all(records[k].error == UNKNOWN_POWER for k in unknown)
    assert all(
        (records[k].status, records[k].error) == ("missed", DOWN_REASON)
        for k in range(4 + lag_slots, 61)
    )


def test_after_a_reboot_marks_that_reached_the_disk_still_count(
    tmp_path: Path, made: Callable[[FakeClock], fake_time.Daemon]
) -> None:
    journal = Journal(tmp_path / "state")
    run_id = crafted_run(journal, 3, KILLED_AFTER_FRAME_3)
    clock = FakeClock(start_ns=40 * NS_PER_S, wall_start_ns=ANCHOR_WALL + 60 * NS_PER_S + 1)
    clock.boot = "boot-B"
    resumed(clock, made)
    records = {r.frame: r for r in each_slot(journal, run_id)}
    # The old boot's times, as every line of that boot has them.
    assert (records[3].status, records[3].fired_ns) == ("ok", ANCHOR + 3 * NS_PER_S + 7_000)
    assert records[4].status == "unknown"
    assert (records[5].status, records[5].error) == ("missed", DOWN_REASON)
    assert records[6].status == "unknown", "unmarked, within the journal's lag: it may have fired"


def test_a_month_long_gap_is_a_few_reports_not_one_per_slot() -> None:
    grid = Grid(ANCHOR, NS_PER_S)
    month = 30 * 24 * 3600
    gap = Gap(first=3, last=month, rebooted=True, noticed_ns=0, noticed_wall_ns=ANCHOR_WALL)
    marks = {mark.frame: mark for mark in KILLED_AFTER_FRAME_3 if mark.kind is not MarkKind.ARMED}
    reports = gap_reports(gap, marks, grid, down_reason=DOWN_REASON)
    assert isinstance(reports[0], FrameDone) and reports[0].frame == 3
    spans = [(r.first, r.last, r.status) for r in reports[1:] if isinstance(r, SlotsSkipped)]
    assert spans == [
        (4, 4, "unknown"),
        (5, 5, "missed"),
        (6, 3 + JOURNAL_LAG_NS // NS_PER_S, "unknown"),
        (4 + JOURNAL_LAG_NS // NS_PER_S, month, "missed"),
    ]


def test_slots_due_while_the_daemon_waited_for_the_clock_say_so() -> None:
    grid = Grid(ANCHOR, NS_PER_S)
    lag = JOURNAL_LAG_NS // NS_PER_S
    waited = 40 + lag
    gap = Gap(
        first=3, last=100 + lag, rebooted=True, noticed_ns=0, noticed_wall_ns=ANCHOR_WALL,
        waited_from=waited,
    )  # fmt: skip
    marks = {mark.frame: mark for mark in KILLED_AFTER_FRAME_3 if mark.kind is not MarkKind.ARMED}
    reports = gap_reports(gap, marks, grid, down_reason=DOWN_REASON, waiting_reason="waited")
    spans = [(r.first, r.last, r.status, r.reason) for r in reports if isinstance(r, SlotsSkipped)]
    assert spans[-2:] == [
        (4 + lag, waited - 1, "missed", DOWN_REASON),
        (waited, 100 + lag, "missed", "waited"),
    ]
    # A wait from before the gap: every slot missed for it, but those that may have fired.
    early = replace(gap, waited_from=0)
    reports = gap_reports(early, marks, grid, down_reason=DOWN_REASON, waiting_reason="waited")
    assert {r.reason for r in reports if isinstance(r, SlotsSkipped) and r.status == "missed"} == {
        "waited"
    }


# -- a real daemon, killed on a shutter edge ---------------------------------------------------
def test_a_daemon_killed_on_a_shutter_edge_resumes_with_that_frame_ok(lapse: Lapse) -> None:
    """Whether the frame's line made it before the kill or only its mark did, it is ``ok``."""
    daemon = lapse.start_daemon()
    with lapse.client() as client:
        client.subscribe()
        client.start(Settings(interval_ns=200 * NS_PER_MS))
        for event in client.events(timeout=20):
            shutter_opened = isinstance(event, EdgeEvent) and event.line == "shutter" and event.on
            if shutter_opened and event.frame >= 2:
                daemon.send_signal(signal.SIGKILL)
                killed = event.frame
                break
    daemon.wait()
    run_id = lapse.journal.active_run().id
    lapse.start_daemon()
    lapse.wait_for(
        lambda: any(r.frame > killed + 3 for r in each_slot(lapse.journal, run_id)),
        what="frames after the restart",
    )
    assert lapse.cli("stop").returncode == 0
    records = {r.frame: r for r in each_slot(lapse.journal, run_id)}
    assert records[killed].status == "ok", records[killed]
    assert all(r.status != "missed" or r.fired_ns is None for r in records.values())


# -- unknown slots are counted where counts are shown ----------------------------------------
def test_unknown_slots_are_counted_in_status_only_when_there_are_some() -> None:
    status = statuses.running(ANCHOR, EVERY_SECOND)
    counted = replace(status, run=replace(status.run, counts=Counts(ok=7, missed=1, unknown=2)))
    assert "  frames: 7 ok of 20, 1 missed, 0 errors, 2 unknown" in cli.status_lines(counted)
    assert counted.run.counts.done == 10
    plain = replace(status, run=replace(status.run, counts=Counts(ok=7, missed=1)))
    assert "  frames: 7 ok of 20, 1 missed, 0 errors" in cli.status_lines(plain)
    ended = replace(counted, state=RunState.STOPPED)
    assert cli.status_lines(ended)[0].startswith(
        "lapse: run r stopped: 7 ok, 1 missed, 0 errors, 2 unknown"
    )


# -- the file ---------------------------------------------------------------------------------
def test_the_marks_file_has_its_blocks_from_the_start_and_is_never_a_link(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    marks = MarksFile.open(folder, "run")
    marks.write(Mark(MarkKind.ARMED, MARK_SLOTS + 5, 42))
    marks.close()
    path = folder / MARKS_FILE
    # Real blocks, not a sparse file: a mark never needs room on a full disk.
    assert path.stat().st_size == RING_BYTES and path.stat().st_blocks * 512 >= RING_BYTES
    again = MarksFile.open(folder, "run")
    assert again.read() == {MARK_SLOTS + 5: Mark(MarkKind.ARMED, MARK_SLOTS + 5, 42)}
    again.close()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"")
    path.unlink()
    path.symlink_to(elsewhere)
    with pytest.raises(LinkRefused, match=r"^run run: shutter\.marks "):
        MarksFile.open(folder, "run")
    assert elsewhere.read_bytes() == b"", "nothing written through the link"
