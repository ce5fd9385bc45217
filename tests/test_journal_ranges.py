"""A gap is one line: a month down at 1 s resumes by writing a handful of lines, in
bounded memory, and every reader (the counts, status, ``lapse log``, the TUI's log
screen) shows the range as one row, never spread out."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from core.daemon.controller import DOWN_REASON
from core.fake_clock import FakeClock
from core.journal import Journal
from core.model.durations import NS_PER_S, wall_iso
from core.model.records import FrameRecord, parse_frame_line
from core.model.settings import Settings
from tests.fake_time import Daemon, script
from tests.killed_runs import killed_run
from tui import cli
from tui.screens.log import frame_cell

INTERVAL = NS_PER_S
ANCHOR = 7_000 * NS_PER_S
ANCHOR_WALL = 1_800_000_000 * NS_PER_S
DAY_NS = 86_400 * NS_PER_S
FIRED = 3
AFTER = 3
"""Frames fired after the resume, before the stop."""
PEAK_BYTES = 16 * 1024 * 1024
"""What a resume may allocate at most, whatever the gap: a mechanism check (a month of
slots one record each took 1.8 GB), not a measure of speed."""

pytestmark = pytest.mark.usefixtures("utc")


def interrupted_run(journal: Journal) -> str:
    """An active run at 1 s with frames 0..FIRED−1 on record, as a killed daemon leaves it."""
    settings = Settings(interval_ns=INTERVAL)
    return killed_run(
        journal, settings, anchor_ns=ANCHOR, anchor_wall_ns=ANCHOR_WALL, fired=FIRED, late_ns=2_000
    ).info.id


def resume_after(state_dir: Path, down_ns: int) -> tuple[str, Daemon, int]:
    """Resume the run ``down_ns`` after frame 0 on the same boot, let AFTER frames fire and
    stop it; returns the run, the daemon and the peak bytes allocated meanwhile."""
    journal = Journal(state_dir)
    run_id = interrupted_run(journal)
    clock = FakeClock(start_ns=ANCHOR + down_ns, wall_start_ns=ANCHOR_WALL + down_ns)
    clock.boot = "boot-A"
    daemon = Daemon(state_dir, clock)

    def steps() -> None:
        resumed = daemon.controller.resume()
        assert resumed is not None and resumed.next_due_ns is not None
        clock.wait_until(resumed.next_due_ns + (AFTER - 1) * INTERVAL + INTERVAL // 2)
        daemon.controller.stop()

    tracemalloc.start()
    try:
        script(clock, steps)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        daemon.rig.close()
    return run_id, daemon, peak


@pytest.mark.parametrize("days", [1, 30])
def test_a_long_outage_is_one_line_written_in_bounded_memory(tmp_path: Path, days: int) -> None:
    run_id, daemon, peak = resume_after(tmp_path, days * DAY_NS)
    lines = (tmp_path / "runs" / run_id / "frames.jsonl").read_bytes().splitlines()
    assert len(lines) == FIRED + 1 + AFTER, "the frames before, one line for the gap, after"
    assert peak < PEAK_BYTES, f"the resume allocated {peak:,} bytes"

    (gap,) = (r for r in daemon.journal.read_frames(run_id) if r.status == "missed")
    slots_down = days * DAY_NS // INTERVAL - FIRED
    assert (gap.frame, gap.slots, gap.error) == (FIRED, slots_down, DOWN_REASON)
    assert gap.due_ns == ANCHOR + FIRED * INTERVAL
    assert gap.wall == wall_iso(ANCHOR_WALL + FIRED * INTERVAL)

    status = daemon.controller.status()
    assert status.run is not None
    counts = status.run.counts
    assert (counts.ok, counts.missed) == (FIRED + AFTER, slots_down), "a range counts its slots"
    assert daemon.journal.frame_counts(run_id) == {
        "ok": FIRED + AFTER,
        "missed": slots_down,
        "error": 0,
        "unknown": 0,
        "skipped": 0,
    }
    assert status.run.last_frame is not None
    assert status.run.last_frame.frame == FIRED + slots_down + AFTER - 1


def test_a_resume_after_a_gap_goes_on_from_its_last_slot(tmp_path: Path) -> None:
    # A second outage right after the first: the journal's newest line is then a range,
    # and the run must go on after its last slot, not after its first.
    journal = Journal(tmp_path)
    run_id = interrupted_run(journal)
    per_day = DAY_NS // INTERVAL
    newest = []
    for day in (1, 2):
        now = ANCHOR + day * DAY_NS + INTERVAL // 2
        clock = FakeClock(start_ns=now, wall_start_ns=ANCHOR_WALL + (now - ANCHOR))
        clock.boot = "boot-A"
        daemon = Daemon(tmp_path, clock)
        try:
            with clock.taking_part():
                assert daemon.controller.resume() is not None
                daemon.controller.shutdown()  # before the next slot: the run stays active
        finally:
            daemon.rig.close()
        run = daemon.controller.status().run
        assert run is not None and run.last_frame is not None
        newest.append((run.last_frame.frame, run.last_frame.due_ns))
    assert newest == [
        (per_day, ANCHOR + per_day * INTERVAL),
        (2 * per_day, ANCHOR + 2 * per_day * INTERVAL),
    ], "the newest slot: the gap's last, dated on the grid"
    gaps = [(r.frame, r.last) for r in journal.read_frames(run_id) if r.status == "missed"]
    assert gaps == [(FIRED, per_day), (per_day + 1, 2 * per_day)]


def test_lapse_log_shows_a_range_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id, _, _ = resume_after(tmp_path, 30 * DAY_NS)
    env = {"LAPSE_STATE_DIR": str(tmp_path), "LAPSE_SOCKET": str(tmp_path / "s.sock")}
    assert cli.main(["log", run_id], environ=env) == 0
    shown = capsys.readouterr().out.splitlines()
    assert len(shown) == 2 + FIRED + 1 + AFTER, "a header (the run, its folder), then a line each"
    assert shown[2 + FIRED] == (f"frames 3–2,591,999  from 08:00:03.000000  missed: {DOWN_REASON}")
    assert cli.main(["log"], environ=env) == 0
    (listed,) = capsys.readouterr().out.splitlines()
    assert f"{FIRED + AFTER} ok, 2,591,997 missed" in listed.replace("2591997", "2,591,997")


def test_the_log_screen_shows_a_range_as_one_row() -> None:
    one = FrameRecord(frame=12, due_ns=0, fired_ns=None, wall=wall_iso(0), status="missed")
    gap = FrameRecord(
        frame=12, due_ns=0, fired_ns=None, wall=wall_iso(0), status="missed", last=2_600_011
    )
    assert frame_cell(one) == "12"
    assert frame_cell(gap) == "12–2,600,011"


def test_a_range_line_round_trips_and_an_old_line_reads_as_one_slot() -> None:
    gap = FrameRecord(frame=3, due_ns=10, fired_ns=None, wall=wall_iso(0), status="missed", last=9)
    line = gap.to_json()
    assert line.startswith('{"frame":3,"last":9,"due_ns":10,')
    assert parse_frame_line(line.encode()) == gap and gap.slots == 7
    one = parse_frame_line(line.replace('"last":9,', "").encode())
    assert (one.last, one.slots) == (None, 1)
    assert '"last"' not in one.to_json(), "a line of one slot is written as ever"


@pytest.mark.parametrize(
    ("status", "fired_ns", "last"),
    [("missed", None, 2), ("missed", None, True), ("ok", 5, 9), ("error", None, 9)],
)
def test_a_range_needs_a_last_from_frame_on_and_a_status_that_never_fired(
    status: str, fired_ns: int | None, last: object
) -> None:
    with pytest.raises(ValueError):
        FrameRecord(
            frame=3, due_ns=0, fired_ns=fired_ns, wall=wall_iso(0), status=status, last=last
        )
