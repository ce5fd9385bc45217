"""Journals made quickly for the tests of the journal's readers: a run, a million lines
written straight to its file, a run whose later lines complete recent frames, and a
count of the lines a forward read yields."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core import journal as journal_module
from core.daemon.journal_writer import create_run, open_run
from core.journal import Journal
from core.model.durations import NS_PER_S, wall_iso
from core.model.records import FrameRecord
from core.model.settings import Settings

INTERVAL = NS_PER_S
ANCHOR = 7_000 * NS_PER_S
ANCHOR_WALL = 1_800_000_000 * NS_PER_S


def new_run(
    journal: Journal, created_wall_ns: int = ANCHOR_WALL - 5 * NS_PER_S, state: str = "active"
) -> str:
    """A run at 1 s with no frame yet, created at ``created_wall_ns``; ended as ``state``
    unless that is active."""
    with create_run(
        journal,
        settings=Settings(interval_ns=INTERVAL),
        anchor_ns=ANCHOR,
        anchor_wall_ns=ANCHOR_WALL,
        boot_id="boot-A",
        created_wall_ns=created_wall_ns,
        rig="simulated",
    ) as writer:
        if state != "active":
            writer.finish(state, "ended for the test", created_wall_ns + NS_PER_S)
        return writer.info.id


def fired(frame: int) -> FrameRecord:
    due = ANCHOR + frame * INTERVAL
    return FrameRecord(
        frame=frame,
        due_ns=due,
        fired_ns=due + 2_000,
        wall=wall_iso(ANCHOR_WALL + frame * INTERVAL + 2_000),
        status="ok",
    )


def write_lines_fast(path: Path, count: int) -> None:
    """``count`` ok frames, written straight to the file (a million in a second or two)."""
    wall = wall_iso(ANCHOR_WALL)
    template = (
        '{"frame":%d,"due_ns":%d,"fired_ns":%d,"wall":"' + wall + '","status":"ok",'
        '"file":null,"error":null,"lateness_ns":2000}\n'
    )
    with path.open("ab") as file:
        for start in range(0, count, 100_000):
            chunk = range(start, min(count, start + 100_000))
            due = (ANCHOR + k * INTERVAL for k in chunk)
            lines = (template % ((d - ANCHOR) // INTERVAL, d, d + 2_000) for d in due)
            file.write("".join(lines).encode())


def count_lines_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many lines every forward read of a journal yields from now on, in one list."""
    read = [0]
    lines = journal_module._lines

    def counting(*args: object, **kwargs: object) -> Iterator[tuple[int, bytes, bool]]:
        for item in lines(*args, **kwargs):  # type: ignore[arg-type]
            read[0] += 1
            yield item

    monkeypatch.setattr(journal_module, "_lines", counting)
    return read


def amended_journal(journal: Journal) -> str:
    """A run whose later lines complete recent frames, with a gap between, as a daemon
    writes them: files saved, a frame the camera failed, a line for the newest frame."""
    run_id = new_run(journal)
    gap = FrameRecord(
        frame=6,
        due_ns=ANCHOR + 6 * INTERVAL,
        fired_ns=None,
        wall=wall_iso(ANCHOR_WALL + 6 * INTERVAL),
        status="missed",
        error="the daemon was not running",
        last=9,
    )
    lines = [fired(k) for k in range(6)] + [gap] + [fired(k) for k in range(10, 14)]
    lines += [
        FrameRecord(**{**fired(4).__dict__, "file": "frame-000004.jpg"}),
        FrameRecord(**{**fired(5).__dict__, "status": "error", "error": "camera failed"}),
        FrameRecord(**{**fired(13).__dict__, "file": "frame-000013.jpg"}),
        FrameRecord(**{**fired(12).__dict__, "status": "error", "error": "camera busy"}),
    ]
    with open_run(journal, run_id) as writer:
        for line in lines:
            writer.append([line])
    return run_id
