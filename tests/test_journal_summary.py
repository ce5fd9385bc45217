"""A journal of millions of lines costs what its last lines cost: the daemon keeps a
summary (``summary.json``: the counts as of a byte offset of ``frames.jsonl``), and a
resume or a count reads it and only the lines after it. A summary that does not fit the
file is said in one line and the whole file is counted instead. These check the
mechanism (how many lines are read), never a time; ``bench/journal.py`` times it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from core.daemon import controller as controller_module
from core.daemon.journal_writer import open_run
from core.fake_clock import FakeClock
from core.journal import SUMMARY_FILE, FrameTally, Journal
from core.model.records import AMEND_WINDOW, merge_frames, parse_frame_line
from core.model.settings import Settings
from tests.fake_time import Daemon, script
from tests.journal_lines import (
    ANCHOR,
    ANCHOR_WALL,
    INTERVAL,
    amended_journal,
    count_lines_read,
    fired,
    new_run,
    write_lines_fast,
)

LINES = 1_000_000

pytestmark = pytest.mark.usefixtures("utc")


@pytest.fixture
def lines_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    return count_lines_read(monkeypatch)


def summarised_journal(state_dir: Path) -> str:
    """A run of LINES ok frames with the summary the daemon keeps of it."""
    journal = Journal(state_dir)
    run_id = new_run(journal)
    with open_run(journal, run_id) as writer:
        write_lines_fast(writer.info.frames_path, LINES)
        # The window a later line may complete, counted as the daemon counts it.
        tally = FrameTally(
            counts={"ok": LINES - AMEND_WINDOW, "missed": 0, "error": 0, "unknown": 0, "skipped": 0}
        )
        for frame in range(LINES - AMEND_WINDOW, LINES):
            tally.add(fired(frame))
        tally.offset = writer.info.frames_path.stat().st_size
        assert writer.save_summary(tally)
    return run_id


def test_a_resume_of_a_million_line_journal_reads_no_more_than_its_tail(
    tmp_path: Path, lines_read: list[int]
) -> None:
    run_id = summarised_journal(tmp_path)
    now = ANCHOR + (LINES - 1) * INTERVAL + INTERVAL // 4  # just after the newest frame
    clock = FakeClock(start_ns=now, wall_start_ns=ANCHOR_WALL + (now - ANCHOR))
    clock.boot = "boot-A"
    daemon = Daemon(tmp_path, clock)
    try:
        with clock.taking_part():
            resumed = daemon.controller.resume()
            daemon.controller.shutdown()
    finally:
        daemon.rig.close()
    assert resumed is not None
    assert lines_read[0] <= AMEND_WINDOW, f"{lines_read[0]:,} lines were read to resume"
    assert resumed.counts.ok == LINES
    assert resumed.last_frame is not None and resumed.last_frame.frame == LINES - 1
    assert resumed.next_frame == LINES, "the run goes on after its newest frame"

    lines_read[0] = 0
    assert Journal(tmp_path).frame_counts(run_id) == {
        "ok": LINES,
        "missed": 0,
        "error": 0,
        "unknown": 0,
        "skipped": 0,
    }
    assert lines_read[0] <= AMEND_WINDOW, "lapse status and lapse log read the summary too"


def line_ends(path: Path) -> list[int]:
    data = path.read_bytes()
    return [0] + [at + 1 for at, byte in enumerate(data) if byte == ord("\n")]


def test_a_summary_at_any_line_gives_the_counts_of_the_whole_file(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    run_id = amended_journal(journal)
    frames = journal.runs_dir / run_id / "frames.jsonl"
    records = [parse_frame_line(line) for line in frames.read_bytes().splitlines()]
    whole: dict[str, int] = {"ok": 0, "missed": 0, "error": 0, "unknown": 0, "skipped": 0}
    for record in merge_frames(records):
        whole[record.status] += record.slots
    assert whole == {"ok": 8, "missed": 4, "error": 2, "unknown": 0, "skipped": 0}, (
        "the journal is what the test means"
    )
    newest = journal.last_frame(run_id)
    for count, offset in enumerate(line_ends(frames)):
        # The summary a daemon would have saved after `count` lines.
        tally = FrameTally()
        for record in records[:count]:
            tally.add(record)
        tally.offset = offset
        (frames.parent / SUMMARY_FILE).write_text(tally.to_json())
        read = journal.tally(run_id)
        assert read.counts == whole, f"a summary after {count} lines"
        assert read.newest == newest and read.offset == frames.stat().st_size


@pytest.mark.parametrize(
    "damage",
    [
        "past the end",
        "mid-line",
        "not json",
        "negative count",
        "unknown status",
        "a link",
    ],
)
def test_a_summary_that_does_not_fit_is_said_and_the_whole_file_counted(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture, lines_read: list[int]
) -> None:
    journal = Journal(tmp_path)
    run_id = amended_journal(journal)
    folder = journal.runs_dir / run_id
    size = (folder / "frames.jsonl").stat().st_size
    good = json.loads(journal.tally(run_id).to_json())
    summary = folder / SUMMARY_FILE
    if damage == "past the end":
        summary.write_text(json.dumps(good | {"offset": size + 10}))
    elif damage == "mid-line":
        summary.write_text(json.dumps(good | {"offset": size - 3}))
    elif damage == "not json":
        summary.write_bytes(b"\x00" * 40)
    elif damage == "negative count":
        summary.write_text(json.dumps(good | {"counts": {"ok": -1}, "offset": 0}))
    elif damage == "unknown status":
        summary.write_text(json.dumps(good | {"counts": {"late": 1}, "offset": 0}))
    else:
        (folder / "elsewhere.json").write_text(json.dumps(good | {"counts": {"ok": 99}}))
        summary.symlink_to(folder / "elsewhere.json")
    lines_read[0] = 0
    with caplog.at_level(logging.WARNING, logger="lapse.journal"):
        counts = journal.frame_counts(run_id)
    assert counts == {"ok": 8, "missed": 4, "error": 2, "unknown": 0, "skipped": 0}
    assert lines_read[0] == 15, "the whole file, once"
    (said,) = [record.getMessage() for record in caplog.records]
    assert said.startswith(f"run {run_id}: summary.json does not fit (")
    assert said.endswith("); counting its whole journal") and "\n" not in said


def test_the_daemon_keeps_the_summary_as_the_run_goes_and_at_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(controller_module, "SUMMARY_EVERY_LINES", 10)
    clock = FakeClock()
    daemon = Daemon(tmp_path, clock)
    summary: list[dict[str, object]] = []

    def steps() -> None:
        started = daemon.controller.start(Settings(interval_ns=INTERVAL, frames=25))
        assert started.run is not None
        folder = daemon.journal.runs_dir / started.run.id
        clock.wait_until(started.run.anchor_ns + 12 * INTERVAL + INTERVAL // 2)
        summary.append(json.loads((folder / SUMMARY_FILE).read_text()))

    try:
        script(clock, steps)
        daemon.published.wait_for_end()
    finally:
        daemon.rig.close()
    (during,) = summary
    assert during["counts"] == {"ok": 10, "missed": 0, "error": 0, "unknown": 0, "skipped": 0}, (
        "saved after 10 lines"
    )
    run_id = daemon.controller.status().run.id  # type: ignore[union-attr]
    folder = daemon.journal.runs_dir / run_id
    at_end = FrameTally.from_json((folder / SUMMARY_FILE).read_bytes())
    assert at_end.offset == (folder / "frames.jsonl").stat().st_size, "saved at the end"
    assert at_end.counts == {"ok": 25, "missed": 0, "error": 0, "unknown": 0, "skipped": 0}
