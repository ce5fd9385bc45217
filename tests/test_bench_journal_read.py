"""The benchmarks count slots, not journal lines: a gap is one range line (``last``)."""

from __future__ import annotations

import json
from pathlib import Path

from bench._common import read_journal


def test_a_range_line_counts_as_each_of_its_slots(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    lines = [
        {"frame": 0, "status": "ok", "error": None},
        {"frame": 1, "last": 3, "status": "missed", "error": "the daemon was not running"},
        {"frame": 4, "status": "ok", "error": None},
        {"frame": 4, "status": "error", "error": "camera failed"},  # a later line wins
    ]
    (run / "frames.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    records = read_journal(tmp_path, "r")
    assert [(r["frame"], r["status"]) for r in records] == [
        (0, "ok"),
        (1, "missed"),
        (2, "missed"),
        (3, "missed"),
        (4, "error"),
    ]
    assert read_journal(tmp_path, "none") == []
