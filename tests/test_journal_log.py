"""``lapse log RUN`` prints as it reads (a journal of millions of lines is never held in
memory), and ``--last N`` shows the newest N frames, read from the end of the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.journal import Journal
from core.model.records import AMEND_WINDOW, FrameRecord
from tests.journal_lines import amended_journal, count_lines_read, new_run, write_lines_fast
from tui import cli

LINES = 100_000

pytestmark = pytest.mark.usefixtures("utc")


@pytest.fixture
def lines_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    return count_lines_read(monkeypatch)


def environ(state_dir: Path) -> dict[str, str]:
    return {"LAPSE_STATE_DIR": str(state_dir), "LAPSE_SOCKET": str(state_dir / "s.sock")}


def long_run(state_dir: Path) -> str:
    journal = Journal(state_dir)
    run_id = new_run(journal)
    write_lines_fast(journal.runs_dir / run_id / "frames.jsonl", LINES)
    return run_id


def test_lapse_log_prints_a_long_journal_as_it_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines_read: list[int]
) -> None:
    run_id = long_run(tmp_path)
    read_at_print: list[int] = []
    # The module's own print, in front of the builtin one: notes how much was read by then.
    monkeypatch.setattr(
        cli, "print", lambda *a, **k: read_at_print.append(lines_read[0]), raising=False
    )
    assert cli.main(["log", run_id], environ=environ(tmp_path)) == 0
    assert len(read_at_print) == 2 + LINES, "a header (the run, its folder) and every frame"
    assert read_at_print[2] <= AMEND_WINDOW + 1, "the first frame is printed before the rest"
    assert lines_read[0] == LINES, "and the file is read once"


def test_the_stream_is_what_reading_the_whole_file_gives(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    run_id = amended_journal(journal)
    assert list(journal.frames(run_id)) == journal.read_frames(run_id)


def test_lapse_log_last_shows_the_newest_frames_read_from_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines_read: list[int]
) -> None:
    run_id = long_run(tmp_path)
    assert cli.main(["log", run_id, "--last", "3"], environ=environ(tmp_path)) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[1].startswith("  folder: ")
    assert [line.split()[1] for line in shown[2:]] == ["99997", "99998", "99999"]
    assert lines_read[0] == 0, "nothing read from the start of the file"

    assert cli.main(["log", run_id, "--last", "2", "--json"], environ=environ(tmp_path)) == 0
    frames = [
        FrameRecord.from_dict(json.loads(line)) for line in capsys.readouterr().out.splitlines()
    ]
    assert [record.frame for record in frames] == [99998, 99999]


def test_last_takes_each_frame_s_last_line_and_a_range_whole(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    run_id = amended_journal(journal)  # 0–5, a gap 6–9, 10–13, then later lines
    whole = journal.read_frames(run_id)
    by_slots = {r.frame: r for r in whole}
    assert journal.last_frames(run_id, 2) == [by_slots[12], by_slots[13]]
    assert by_slots[12].status == "error" and by_slots[13].file, "their last lines"
    assert journal.last_frames(run_id, 5) == [by_slots[6], *(by_slots[k] for k in (10, 11, 12, 13))]
    assert journal.last_frames(run_id, 1_000) == sorted(whole, key=lambda r: r.frame)


@pytest.mark.parametrize("value", ["0", "-3", "x", "١٠", "3.5"])
def test_a_bad_last_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    run_id = long_run(tmp_path)
    assert cli.main(["log", run_id, f"--last={value}"], environ=environ(tmp_path)) == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err.startswith("lapse: ") and said.err.count("\n") == 1
    assert "is not a number of frames to show: use a whole number from 1" in said.err


def test_last_without_a_run_says_it_needs_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["log", "--last", "5"], environ=environ(tmp_path)) == 2
    assert capsys.readouterr().err == "lapse: --last needs a run: `lapse log latest --last 20`\n"
