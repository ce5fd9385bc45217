"""bench/chaos.py: its verdict, slot by slot, and a short campaign that cleans up after itself;
the uploads campaign's pieces, and a short one of it."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.chaos import (
    AFTER_STOP,
    BURST,
    EARLY,
    FIGURES,
    LOST,
    MORE_FIGURES,
    OUTAGE_LEAD_NS,
    SAVED,
    STOP_GUARD_NS,
    UPLOAD_FIGURES,
    UPLOAD_INFO,
    UPLOAD_MORE,
    WRONG,
    Edge,
    OutboxHistory,
    Painter,
    RunUnderAttack,
    Tally,
    Window,
    first_difference,
    judge,
    read_journal_lines,
    read_shutter_edges,
)
from core.model.durations import NS_PER_MS
from core.model.scheduler import Grid

REPO_ROOT = Path(__file__).resolve().parent.parent
INTERVAL_NS = 200 * NS_PER_MS
GRID = Grid(anchor_ns=10_000 * NS_PER_MS, interval_ns=INTERVAL_NS)


def line(frame: int, status: str) -> str:
    """A frames.jsonl line as the daemon writes it."""
    due = GRID.due_ns(frame)
    fired = due + 3000 if status == "ok" else None
    return json.dumps(
        {"frame": frame, "due_ns": due, "fired_ns": fired, "status": status, "error": None}
    )


def verdict(
    edges: list[int], journal: dict[int, str], outages: list[tuple[int, int]], stop_ns: int
) -> Tally:
    """The findings for a run with shutter-on edges at ``edges`` (ns), stopped at ``stop_ns``."""
    tally = Tally(t0_ns=0)
    run = RunUnderAttack("run", INTERVAL_NS, started_ns=GRID.anchor_ns - 100 * NS_PER_MS)
    run.outages = [Window("kill -9", start, end) for start, end in outages]
    run.stop_sent_ns, run.stopped_ns = stop_ns, stop_ns + 5 * NS_PER_MS
    judge(run, GRID, [Edge(at, 1) for at in edges], journal, tally)
    return tally


def figures(tally: Tally) -> dict[str, list[int]]:
    """Each figure's findings, as the frames (or edge times) they name."""
    found: dict[str, list[int]] = {}
    for finding in tally.findings:
        number = re.search(r"frame (\d+)", finding.text)
        found.setdefault(finding.figure, []).append(int(number[1]) if number else -1)
    return found


def test_a_run_that_kept_every_promise_has_nothing_to_report() -> None:
    edges = [GRID.due_ns(k) + 20_000 for k in range(5)]
    tally = verdict(edges, {k: line(k, "ok") for k in range(5)}, [], GRID.due_ns(5) - NS_PER_MS)
    assert tally.findings == []
    assert tally.fired == 5


def test_a_fired_frame_logged_missed_or_not_at_all_is_logged_wrongly() -> None:
    edges = [GRID.due_ns(k) + 20_000 for k in range(4)]
    journal = {0: line(0, "ok"), 1: line(1, "missed"), 3: line(3, "ok")}
    tally = verdict(edges, journal, [], GRID.due_ns(4) - NS_PER_MS)
    assert figures(tally) == {WRONG: [1, 2]}
    assert tally.fired == 4


def test_a_line_that_does_not_say_missed_or_error_is_not_judged_wrong_for_an_edge() -> None:
    edges = [GRID.due_ns(0) + 20_000]
    unknown = line(0, "ok").replace('"ok"', '"unknown"')
    tally = verdict(edges, {0: unknown}, [], GRID.due_ns(1) - NS_PER_MS)
    assert tally.findings == []


def test_an_ok_line_without_an_edge_is_logged_wrongly_not_lost() -> None:
    edges = [GRID.due_ns(0) + 20_000]
    journal = {0: line(0, "ok"), 1: line(1, "ok")}
    tally = verdict(edges, journal, [], GRID.due_ns(2) - NS_PER_MS)
    assert figures(tally) == {WRONG: [1]}


def test_an_edge_before_its_due_time_is_early_and_two_in_a_slot_a_burst() -> None:
    edges = [GRID.due_ns(0) - 1000, GRID.due_ns(1) + 10_000, GRID.due_ns(1) + 60 * NS_PER_MS]
    journal = {0: line(0, "ok"), 1: line(1, "ok")}
    tally = verdict(edges, journal, [], GRID.due_ns(2) - NS_PER_MS)
    assert figures(tally) == {EARLY: [0], BURST: [1]}
    assert tally.fired == 2


def test_a_slot_with_no_edge_is_lost_unless_the_daemon_was_out() -> None:
    edges = [GRID.due_ns(0) + 20_000, GRID.due_ns(4) + 20_000]
    journal = {k: line(k, "missed") for k in (1, 2, 3)} | {0: line(0, "ok"), 4: line(4, "ok")}
    out = (GRID.due_ns(1) - NS_PER_MS, GRID.due_ns(2) + NS_PER_MS)  # slots 1 and 2
    tally = verdict(edges, journal, [out], GRID.due_ns(5) - NS_PER_MS)
    assert figures(tally) == {LOST: [3]}


def test_a_shutter_due_just_before_a_kill_is_in_the_outage_one_well_before_is_lost() -> None:
    edges = [GRID.due_ns(0) + 20_000]
    journal = {0: line(0, "ok"), 1: line(1, "missed"), 2: line(2, "missed")}
    kill = GRID.due_ns(2) + OUTAGE_LEAD_NS // 2  # slot 2 may not have switched yet
    tally = verdict(edges, journal, [(kill, GRID.due_ns(3))], GRID.due_ns(3) - NS_PER_MS)
    assert figures(tally) == {LOST: [1]}


def test_slots_at_the_stop_are_not_judged_lost_and_an_edge_after_it_is_reported() -> None:
    stop = GRID.due_ns(3) + STOP_GUARD_NS // 2  # slot 3 is due just before the stop
    edges = [GRID.due_ns(k) + 20_000 for k in range(3)] + [stop + 50 * NS_PER_MS]
    tally = verdict(edges, {k: line(k, "ok") for k in range(3)}, [], stop)
    assert figures(tally) == {AFTER_STOP: [-1]}


def test_the_edge_log_and_the_journal_are_read_as_the_daemon_writes_them(tmp_path: Path) -> None:
    edges = tmp_path / "edges.log"
    edges.write_text("100 7 focus 1\n200 7 shutter 1\n300 7 shutter 0\n400 8 shutter 1\n")
    assert read_shutter_edges(edges) == [Edge(200, 7), Edge(400, 8)]
    frames = tmp_path / "frames.jsonl"
    frames.write_text(line(0, "ok") + "\n" + '{"frame": 1, "st' + "\n" + line(0, "missed") + "\n")
    assert read_journal_lines(frames) == ({0: line(0, "missed")}, 1)


@pytest.mark.slow
def test_a_short_campaign_prints_every_figure_and_leaves_nothing_behind() -> None:
    done = subprocess.run(
        [sys.executable, "bench/chaos.py", "--seconds", "6", "--seed", "3"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: a figure is not 0
    assert "Traceback" not in done.stderr, done.stderr
    assert "round 1: run " in out, out
    for figure in FIGURES + MORE_FIGURES:
        assert re.search(rf"^  {re.escape(figure)} +\d+$", out, re.MULTILINE), (figure, out)
    folder = re.search(r"^folder: (\S+)$", out, re.MULTILINE)
    assert folder is not None, out
    assert not Path(folder[1]).exists()
    assert folder[1] not in Path("/proc/mounts").read_text()
    assert not processes_mentioning(folder[1])


def test_the_painted_pictures_are_jpegs_of_one_size_and_never_twice_the_same(
    tmp_path: Path,
) -> None:
    from PIL import Image

    painter = Painter(tmp_path, seed=1)
    pictures = [painter.picture() for _ in range(50)]
    assert {len(picture) for picture in pictures} == {8192}
    assert len(set(pictures)) == 50
    with Image.open(io.BytesIO(pictures[0])) as image:
        assert image.format == "JPEG" and image.size == (160, 120)


def test_the_outbox_history_keeps_what_a_fresh_start_wiped_and_tells_a_file_sent_twice(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "uploads.jsonl"
    put = '{"put": %d, "file": "/p/a.jpg", "remote": "sky/r/a.jpg"}\n'
    sent = '{"sent": %d, "size": 3, "sha256": "abcdef0123456789", "at": "x"}\n'
    outbox.write_text(put % 1 + sent % 1 + '{"put": 2, "file": "/p/b.jpg", "remote": "sky/r/b.jpg')
    history = OutboxHistory(outbox)
    history.read()
    outbox.write_text('{"next": 2}\n' + put % 2 + sent % 2)  # started afresh, then again
    history.read()
    assert history.sent_of("sky/r/a.jpg") == [1, 2]
    assert history.sent_of("sky/r/b.jpg") == []
    assert history.said_of("sky/r/a.jpg") == (
        '{"put": 1}; {"sent": 1, "size": 3, "sha256": "abcdef012345", "at": "x"}; '
        '{"put": 2}; {"sent": 2, "size": 3, "sha256": "abcdef012345", "at": "x"}'
    )
    assert history.said_of("sky/r/c.jpg") == "no line at all"


def test_the_first_difference_is_where_the_bytes_part_or_the_shorter_ends() -> None:
    assert first_difference(b"abcdef", b"abXdef") == 2
    assert first_difference(b"abc", b"abcdef") == 3


@pytest.mark.slow
def test_a_short_uploads_campaign_judges_its_frames_and_leaves_nothing_behind() -> None:
    done = subprocess.run(
        [sys.executable, "bench/chaos.py", "--uploads", "--seconds", "8", "--seed", "3"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = done.stdout
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: a figure is not 0
    assert "Traceback" not in done.stderr, done.stderr
    assert "round 1: run " in out, out
    assert "the campaign could not go on" not in out, out
    for figure in UPLOAD_FIGURES + UPLOAD_MORE + UPLOAD_INFO:
        assert re.search(rf"^  {re.escape(figure)} +\d+$", out, re.MULTILINE), (figure, out)
    for figure in UPLOAD_FIGURES[2:] + UPLOAD_MORE:  # the verdict: each one a target of 0
        assert re.search(rf"^  (PASS|FAIL)  0 {re.escape(figure)}: \d+$", out, re.MULTILINE), (
            figure,
            out,
        )
    saved = re.search(rf"^  {SAVED} +(\d+)$", out, re.MULTILINE)
    assert saved is not None and int(saved[1]) > 0, out  # frames were saved and judged
    assert (done.returncode == 1) == ("  FAIL  " in out), out
    folder = re.search(r"^folder: (\S+)$", out, re.MULTILINE)
    assert folder is not None, out
    assert not Path(folder[1]).exists()
    assert not processes_mentioning(folder[1])


def processes_mentioning(text: str) -> list[int]:
    """Processes whose environment or command line names ``text`` (the campaign's daemons)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        for name in ("environ", "cmdline"):
            try:
                if text.encode() in Path(f"/proc/{entry}/{name}").read_bytes():
                    found.append(int(entry))
                    break
            except OSError:
                continue
    return found
