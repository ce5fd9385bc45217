"""Every slot of a run's journal as a record of its own, for tests that check each slot
against the grid: a gap is one range line in ``frames.jsonl`` (a month down is one line),
which this spreads out again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.journal import Journal
from core.model.durations import wall_iso
from core.model.records import FrameRecord
from core.model.scheduler import Grid

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def each_slot(journal: Journal, run_id: str) -> list[FrameRecord]:
    """The run's records (:meth:`Journal.read_frames`), each range spread into its slots."""
    settings = journal.get_run(run_id).settings
    grid = Grid(0, settings.interval_ns, settings.clock_ppm)
    slots: list[FrameRecord] = []
    for record in journal.read_frames(run_id):
        if record.last is None:
            slots.append(record)
            continue
        wall_us = (datetime.fromisoformat(record.wall) - _EPOCH) // timedelta(microseconds=1)
        for frame in range(record.frame, record.last + 1):
            span = grid.due_ns(frame) - grid.due_ns(record.frame)
            slots.append(
                replace(
                    record,
                    frame=frame,
                    last=None,
                    due_ns=record.due_ns + span,
                    wall=wall_iso(wall_us * 1000 + span),
                )
            )
    return slots
