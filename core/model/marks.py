"""Shutter marks: what the timing thread writes around each shutter, so that a daemon
killed before its journal caught up can be told from one that never fired.

The journal's line for a frame is appended and fsynced after the shutter, in
batches; a ``kill -9`` in between leaves a slot with no line. Before each frame
the timing thread writes an *armed* mark, right after the shutter's output call a
*fired* mark with its times, and when a frame it armed does not fire (reached late,
or the run cancelled) a *not fired* mark. A mark is one fixed-size ASCII record in
a ring of :data:`MARK_SLOTS`, at ``frame % MARK_SLOTS``, written in place without
an fsync: it survives a ``kill -9`` (the page cache keeps it), not always a power
cut. :func:`gap_reports` turns the marks of the slots a daemon was not there for
into the reports the ledger journals (docs/architecture.md §7).

The format and the decisions are here; the file is :mod:`core.daemon.marks`'s.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from core.model.events import FrameDone, SlotsSkipped
from core.model.scheduler import SlotGrid

MARK_SLOTS = 4096
"""Marks kept, one per frame in a ring: far more than the journal can lag behind."""
MARK_BYTES = 96
"""Every record's size: ``kind frame due fired wall`` padded with spaces, then a newline."""

UNKNOWN_ARMED = "the daemon ended around the shutter: it may have fired"
UNKNOWN_POWER = "the power went off around the shutter: it may have fired"
JOURNAL_LAG_NS = 10_000_000_000
"""How far a frame's durable line may lag its shutter: the journal writes each batch and
fsyncs it as soon as it is handed over, 10–100 ms on an SD card and a few seconds on one
that stalls; 10 s is that with a wide margin.

After a power cut the marks may be lost with the page cache. Lines are durable in slot
order, so if the slot after the last durable line fired, the cut came less than this lag
after its shutter, and every later shutter before the cut lies within this lag of it: the
slots due up to one interval plus this lag after the last durable line are ``unknown``;
later ones never fired. Too long a lag only turns an outage's first seconds unknown; too
short would log a fired frame missed."""


class MarkKind(enum.Enum):
    """What the timing thread knew of a frame when it wrote the mark."""

    ARMED = "a"
    """The frame's steps are about to begin: its shutter may open."""
    FIRED = "f"
    """The shutter's output call returned."""
    NOT_FIRED = "n"
    """The frame was armed and its shutter did not open (reached late, or cancelled)."""


@dataclass(frozen=True)
class Mark:
    """One frame's mark."""

    kind: MarkKind
    frame: int
    due_ns: int
    """Monotonic ns the shutter was due (on the boot that wrote the mark)."""
    fired_ns: int = 0
    """For a fired mark: monotonic ns the output was told to switch (as ``fired_ns``)."""
    wall_ns: int = 0
    """For a fired mark: wall-clock ns the shutter opened."""

    def encode(self) -> bytes:
        """The record, :data:`MARK_BYTES` ASCII bytes ending in a newline."""
        text = f"{self.kind.value} {self.frame} {self.due_ns} {self.fired_ns} {self.wall_ns}"
        return text.ljust(MARK_BYTES - 1).encode("ascii") + b"\n"

    @classmethod
    def decode(cls, record: bytes) -> Mark | None:
        """A record read back; None for one never written or torn."""
        if len(record) != MARK_BYTES or not record.endswith(b"\n"):
            return None
        try:
            kind, frame, due, fired, wall = record.decode("ascii").split()
            return cls(MarkKind(kind), int(frame), int(due), int(fired), int(wall))
        except ValueError:
            return None


def slot_offset(frame: int) -> int:
    """Where frame ``frame``'s mark lies in the ring file."""
    return (frame % MARK_SLOTS) * MARK_BYTES


def read_ring(data: bytes) -> dict[int, Mark]:
    """Every readable mark of a ring file's content, by frame."""
    marks: dict[int, Mark] = {}
    for offset in range(0, len(data) - MARK_BYTES + 1, MARK_BYTES):
        mark = Mark.decode(data[offset : offset + MARK_BYTES])
        if mark is not None and slot_offset(mark.frame) == offset:
            marks[mark.frame] = mark
    return marks


class ShutterMarks(Protocol):
    """Where the engine writes its marks: called on the timing thread, never blocks."""

    def write(self, mark: Mark) -> None:
        """Put ``mark`` in its slot; :class:`OSError` when it cannot."""


@dataclass(frozen=True)
class Gap:
    """Slots a resumed run was not there for, and what is known of them."""

    first: int
    last: int
    rebooted: bool
    """The run's boot is not this one: marks written without an fsync may be lost."""
    noticed_ns: int
    """Monotonic ns (this boot) when the gap was found; with ``noticed_wall_ns`` it dates
    each slot."""
    noticed_wall_ns: int
    waited_from: int | None = None
    """The first slot due after the daemon was back and waiting for a clock it could
    trust (its slots are missed for that, not for a daemon that was down); None: it
    did not wait."""


def gap_reports(
    gap: Gap,
    marks: Mapping[int, Mark],
    grid: SlotGrid,
    *,
    down_reason: str,
    waiting_reason: str = "",
) -> list[FrameDone | SlotsSkipped]:
    """What to journal for the slots ``gap.first``..``gap.last``, in order.

    A fired mark is an ``ok`` frame with its times; an armed one without fired is
    ``unknown``; a not-fired mark is ``missed`` for ``down_reason``. A slot without a mark
    is ``missed`` on the same boot (its armed mark would be there); after a reboot, when
    marks written without an fsync may be lost, it is ``unknown`` up to the last marked slot
    and while its shutter lies within :data:`JOURNAL_LAG_NS` of the gap's first slot's (the
    last durable line's plus one interval), ``missed`` beyond. Slots from
    ``gap.waited_from`` on, due while the daemon waited for the clock, are ``missed`` for
    ``waiting_reason``. Consecutive slots alike are one report, so a long outage costs
    one, not one per slot.
    """
    waited_from = gap.last + 1 if gap.waited_from is None else gap.waited_from

    def missed_for(frame: int) -> str:
        return waiting_reason if frame >= waited_from else down_reason

    looked_at = max((frame for frame in marks if gap.first <= frame <= gap.last), default=-1)
    power_bound = grid.due_ns(gap.first) + JOURNAL_LAG_NS
    if gap.rebooted:
        within = grid.first_frame_due_at_or_after(power_bound + 1) - 1
        looked_at = max(looked_at, min(within, gap.last))
    reports: list[FrameDone | SlotsSkipped] = []
    for frame in range(gap.first, looked_at + 1):
        mark = marks.get(frame)
        if mark is not None and mark.kind is MarkKind.FIRED:
            reports.append(
                FrameDone(
                    frame=frame,
                    due_ns=mark.due_ns,
                    fired_ns=mark.fired_ns,
                    wall_ns=mark.wall_ns,
                    status="ok",
                )
            )
        elif mark is not None and mark.kind is MarkKind.ARMED:
            _add_slot(reports, gap, frame, "unknown", UNKNOWN_ARMED)
        elif mark is None and gap.rebooted:
            _add_slot(reports, gap, frame, "unknown", UNKNOWN_POWER)
        else:
            _add_slot(reports, gap, frame, "missed", missed_for(frame))
    rest = max(gap.first, looked_at + 1)
    if rest <= gap.last and rest < waited_from:
        _add_slot(reports, gap, rest, "missed", down_reason, min(gap.last, waited_from - 1))
    if max(rest, waited_from) <= gap.last:
        _add_slot(reports, gap, max(rest, waited_from), "missed", waiting_reason, gap.last)
    return reports


def _add_slot(
    reports: list[FrameDone | SlotsSkipped],
    gap: Gap,
    first: int,
    status: str,
    reason: str,
    last: int | None = None,
) -> None:
    """Slots ``first``..``last`` (or ``first`` alone) are ``status``: the previous report
    grows when it says the same of the slot before."""
    last = first if last is None else last
    previous = reports[-1] if reports else None
    if (
        isinstance(previous, SlotsSkipped)
        and previous.last == first - 1
        and (previous.status, previous.reason) == (status, reason)
    ):
        reports[-1] = replace(previous, last=last)
        return
    reports.append(
        SlotsSkipped(
            first=first,
            last=last,
            noticed_ns=gap.noticed_ns,
            noticed_wall_ns=gap.noticed_wall_ns,
            reason=reason,
            status=status,
        )
    )
