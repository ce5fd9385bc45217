"""A run's bookkeeping, sans IO: what the engine and the camera report goes in, the
journal lines to append and the events to send come out.

The ledger keeps the counts, the last frame, the fault to show and the files
saved. It decides what a camera's news about a frame means: a file for a
frame already journaled is a later line for it; news that comes before its
frame's own line (the camera thread can beat the journal thread) waits for
that line; news about a frame more than :data:`AMEND_WINDOW` slots old is
dropped, as the journal's readers rely on. It never touches a file, a socket
or a clock: :class:`~core.daemon.controller.RunController` feeds it on the
journal thread and carries out what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from core.model.camera import CameraChanged, FileSaved, FrameFailed
from core.model.clock_trust import wall_ns_of
from core.model.durations import NS_PER_S, format_approx, wall_iso
from core.model.events import EdgeDone, Fault, FrameDone, SlotsSkipped
from core.model.protocol import (
    CameraEvent,
    Counts,
    EdgeEvent,
    Event,
    FaultEvent,
    FrameEvent,
    MissedEvent,
)
from core.model.records import AMEND_WINDOW, FrameRecord
from core.model.scheduler import SlotGrid

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

CameraNews = FileSaved | FrameFailed
"""What the camera says about one frame after the engine fired it."""
Report = FrameDone | SlotsSkipped | EdgeDone | Fault | FileSaved | FrameFailed | CameraChanged
"""Everything the run's threads put on its queue for the ledger."""


@dataclass
class Entries:
    """What one report asks for: lines to append to the journal, events to send."""

    records: list[FrameRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    status_changed: bool = False
    """Something ``status`` shows beyond the counts changed (a slot was first reached, the
    camera came or went): clients need a fresh status."""
    notes: list[str] = field(default_factory=list)
    """What the journal's lines cannot say, for the run's notes (``lapse log``)."""

    def extend(self, other: Entries) -> None:
        """Add ``other``'s lines, events and notes after these."""
        self.records += other.records
        self.events += other.events
        self.notes += other.notes
        self.status_changed = self.status_changed or other.status_changed


@dataclass(frozen=True)
class Dropped:
    """Journal lines given up: too many waited for room on a full disk, or the run ended."""

    lines: int
    first: int
    """The lowest frame among them."""
    last: int
    """The highest frame among them."""
    why: str
    """Why, as the photographer reads it: ``"more than 20,000 waited"``."""

    def said(self) -> str:
        """The whole loss in one phrase."""
        frames = (
            f"frame {self.first}" if self.first == self.last else f"frames {self.first}–{self.last}"
        )
        lines = "1 frame line" if self.lines == 1 else f"{self.lines:,} frame lines"
        return f"{lines} ({frames}) {'was' if self.lines == 1 else 'were'} lost: {self.why}"

    def plus(self, more: Dropped) -> Dropped:
        """This loss and ``more``."""
        return Dropped(
            self.lines + more.lines,
            min(self.first, more.first),
            max(self.last, more.last),
            self.why if more.why == self.why else f"{self.why}, then {more.why}",
        )


@dataclass(frozen=True)
class Resume:
    """Where a resumed run starts from."""

    anchor_ns: int
    """Frame 0's shutter-open on this boot's monotonic clock."""
    next_frame: int
    """The first slot not yet in the journal."""


def resume_point(
    *,
    anchor_ns: int,
    anchor_wall_ns: int,
    run_boot_id: str,
    boot_id: str,
    now_ns: int,
    wall_ns: int,
    last: FrameRecord | None,
) -> Resume:
    """The grid a run resumes on: the same boot keeps its monotonic anchor; after a reboot
    the monotonic clock restarted, so the anchor is carried over through the wall clock.

    A wall clock behind the newest frame cannot tell how long the run was down (the
    photographer said it is right all the same: :mod:`core.model.clock_trust`): the run
    goes on as if no time had passed since that frame, its next frame one interval on."""
    if run_boot_id != boot_id:
        if last is not None:
            wall_ns = max(wall_ns, wall_ns_of(last.wall))
        anchor_ns = now_ns - (wall_ns - anchor_wall_ns)
    return Resume(anchor_ns, 0 if last is None else last.frame + 1)


WALL_SLACK_NS = NS_PER_S
"""A journaled wall time may lie this far ahead of the clock before it is called damaged:
the wall clock is slewed by network time, never by seconds on a sound system."""


@dataclass(frozen=True)
class DamagedTail:
    """The journal's last line does not fit the run's grid or the clock: damaged (or, for
    its wall time, the clock was set back)."""

    what: str
    """What is wrong, as the photographer reads it."""
    next_frame: int
    """Where the run resumes: after the slot the line's due time places it at, when that is
    sound; else the next slot due on the grid from now."""
    placed: int | None = None
    """The slot the line's due time places it at, when that is sound."""

    def said(self, run_id: str) -> str:
        """The one line that says it, naming the run."""
        head = f"run {run_id}: the journal's last line does not fit the run ({self.what});"
        if self.placed is not None:
            return f"{head} its due time is frame {self.placed}'s: the run goes on from there"
        return f"{head} the run goes on on its grid at frame {self.next_frame}, the next due"


def damaged_tail(
    last: FrameRecord,
    grid: SlotGrid,
    *,
    same_boot: bool,
    now_ns: int,
    wall_ns: int,
) -> DamagedTail | None:
    """Check the journal's newest line against ``grid`` (the one the run resumes on) and
    the clock; None when it fits.

    A line is written once its slot is reached: its frame's shutter was due by now (a lead
    step that failed reports a frame up to an interval early), its wall time is not ahead
    of the clock, and on the boot that wrote it its ``due_ns`` is its frame's on the grid
    (after a reboot the grid is re-anchored, so only the first two hold).
    """
    problems = []
    due = grid.due_ns(last.frame)
    if same_boot and last.due_ns != due:
        problems.append(f"frame {last.frame} with a due time that is not that frame's")
    if due - now_ns > grid.interval_ns:
        problems.append(f"frame {last.frame} is not due for {format_approx(due - now_ns)}")
    ahead = _wall_ns(last.wall) - wall_ns
    if ahead > WALL_SLACK_NS:
        problems.append(
            f"its wall time is {format_approx(ahead)} ahead of the clock: the line or the"
            " clock is wrong"
        )
    if not problems:
        return None
    what = "; ".join(problems)
    if same_boot:
        placed = grid.first_frame_due_at_or_after(last.due_ns)
        if grid.due_ns(placed) == last.due_ns and last.due_ns - now_ns <= grid.interval_ns:
            # The line's own slot is known: the slots after it are logged as they were.
            return DamagedTail(what, placed + 1, placed)
    return DamagedTail(what, grid.first_frame_due_at_or_after(now_ns))


def _wall_ns(wall: str) -> int:
    """A journaled wall time (checked ISO-8601 with its zone) in epoch ns."""
    moment = datetime.fromisoformat(wall)
    return int(moment.timestamp()) * NS_PER_S + moment.microsecond * 1000


class RunLedger:
    """One run's counts and recent frames; see the module's docstring."""

    def __init__(
        self,
        run_id: str,
        grid: SlotGrid,
        *,
        counts: Counts | None = None,
        last: FrameRecord | None = None,
    ) -> None:
        self.run_id = run_id
        self.grid = grid
        self.counts = counts or Counts()
        self.last = last
        """The newest slot's record."""
        self.fault: str | None = None
        """What went wrong that the photographer should see; None when all is well."""
        self.camera_fault = False
        """The fault shown is the camera's, so the camera's "back again" clears it."""
        self.file_bytes = 0
        """Bytes of the files saved: with ``counts.files``, the size of a frame."""
        self.late_news = 0
        """Camera news that came too late for its frame's line, each said in a note."""
        self._recent: dict[int, FrameRecord] = {}
        self._early: dict[int, list[CameraNews]] = {}
        self._journal_fault: str | None = None
        """The journal's fault, while its lines wait for room."""

    @property
    def average_file_bytes(self) -> float | None:
        """The average size of the files downloaded so far; None before the first."""
        return self.file_bytes / self.counts.files if self.counts.files else None

    def camera_fault_at_start(self, message: str) -> None:
        """The camera could not be readied for a resumed run: shown until it is back."""
        self.fault, self.camera_fault = message, True

    def take(self, report: Report) -> Entries:
        """Account for one report from the engine or the camera."""
        if isinstance(report, FrameDone):
            return self._frame_done(report)
        if isinstance(report, FileSaved | FrameFailed):
            return self._camera_news(report)
        if isinstance(report, SlotsSkipped):
            return self._slots_skipped(report)
        if isinstance(report, CameraChanged):
            if report.fault:
                self.fault, self.camera_fault = report.message, True
            elif self.camera_fault:
                self.fault, self.camera_fault = None, False
            return Entries(
                events=[CameraEvent(message=report.message, fault=report.fault)],
                status_changed=True,
            )
        if isinstance(report, EdgeDone):
            event = EdgeEvent(report.frame, report.line.value, report.on, report.at_ns)
            return Entries(events=[event])
        self.fault = report.message
        return Entries(events=[FaultEvent(message=report.message, frame=report.frame)])

    def journal_failed(
        self, error: OSError, waiting: int = 0, dropped: Dropped | None = None
    ) -> FaultEvent:
        """The journal could not be written: ``waiting`` lines wait in memory for room,
        ``dropped`` were given up. Shown as the fault until :meth:`journal_written`."""
        message = f"could not write the journal: {error}"
        if waiting:
            lines = "1 frame line waits" if waiting == 1 else f"{waiting:,} frame lines wait"
            message += f"; {lines} in memory, written when there is room"
        if dropped is not None:
            message += f"; {dropped.said()}"
        self.fault = self._journal_fault = message
        return FaultEvent(message=message)

    def journal_written(self, dropped: Dropped | None) -> Entries:
        """Every waiting line is written: the journal's fault is over, but what was
        ``dropped`` on the way is still said."""
        if self._journal_fault is None:
            return Entries()
        if self.fault == self._journal_fault:
            self.fault = (
                None if dropped is None else f"the journal is written again; {dropped.said()}"
            )
        self._journal_fault = None
        return Entries(status_changed=True)

    def journal_lost(self, lost: Dropped) -> None:
        """Lines still waiting when the run ended are lost: shown as the fault."""
        self.fault = self._journal_fault = f"the journal could not be written; {lost.said()}"

    # -- reports ----------------------------------------------------------------------------
    def _frame_done(self, done: FrameDone) -> Entries:
        # The run's first slot, or the first once a window has opened: status changes.
        first = self.last is None or self.last.status == "skipped"
        record = FrameRecord(
            frame=done.frame,
            due_ns=done.due_ns,
            fired_ns=done.fired_ns,
            wall=wall_iso(done.wall_ns),
            status=done.status,
            error=done.error,
        )
        self._remember(record)
        for news in self._early.pop(record.frame, ()):
            self._count_file(news)
            record = _amended(record, news)
        self._recent[record.frame] = record
        self._count(record, +1)
        self.last = record
        return Entries(
            records=[record],
            events=[FrameEvent(self.run_id, record, self.counts)],
            status_changed=first,
        )

    def _slots_skipped(self, skipped: SlotsSkipped) -> Entries:
        """Slots passed unfired: one line for the whole gap, however long (a month down at
        1 s is one line, not 2.6 million)."""
        first = self.last is None
        due = self.grid.due_ns(skipped.first)
        record = FrameRecord(
            frame=skipped.first,
            due_ns=due,
            fired_ns=None,
            wall=wall_iso(skipped.noticed_wall_ns - (skipped.noticed_ns - due)),
            status=skipped.status,
            error=skipped.reason,
            last=skipped.last if skipped.last > skipped.first else None,
        )
        self._count(record, +1)
        self.last = newest_slot(record, self.grid)
        self._forget_older_than(skipped.last)
        event: Event
        if skipped.status == "missed":
            event = MissedEvent(
                self.run_id, skipped.first, skipped.last, skipped.reason, self.counts
            )
        else:
            # Not missed (unknown after a crash, skipped outside the window): said as the
            # line it is.
            event = FrameEvent(self.run_id, record, self.counts)
        return Entries(records=[record], events=[event], status_changed=first)

    def _camera_news(self, news: CameraNews) -> Entries:
        """A later line for a frame: the file the camera saved, or that it failed the frame."""
        record = self._recent.get(news.frame)
        if record is None:
            newest = max(self._recent, default=news.frame)
            if news.frame > newest - AMEND_WINDOW:
                self._early.setdefault(news.frame, []).append(news)
                return Entries()
            return self._too_late(news, newest)
        amended = _amended(record, news)
        if amended == record:
            return Entries()
        self._count_file(news)
        self._count(record, -1)
        self._count(amended, +1)
        if self.last is not None and self.last.frame == amended.frame:
            self.last = amended
        self._recent[amended.frame] = amended
        return Entries(records=[amended], events=[FrameEvent(self.run_id, amended, self.counts)])

    def _too_late(self, news: CameraNews, newest: int) -> Entries:
        """News for a frame too far behind to complete its line (the journal's
        :data:`AMEND_WINDOW`): the file is counted and both are said in the run's notes, so
        a photographer finds what the frame's line does not name."""
        self.late_news += 1
        behind = f"{newest - news.frame:,} frames behind"
        if isinstance(news, FileSaved):
            self._count_file(news)
            note = (
                f"frame {news.frame}'s file {news.file} came {behind}, too late for its"
                " journal line, which names no file"
            )
        else:
            note = (
                f"frame {news.frame}: the camera said {news.status} ({news.message})"
                f" {behind}, too late for its journal line, which says it was taken"
            )
        return Entries(notes=[note], status_changed=isinstance(news, FileSaved))

    # -- counting ----------------------------------------------------------------------------
    def _count(self, record: FrameRecord, step: int) -> None:
        counts = self.counts
        step *= record.slots
        if record.status == "ok":
            counts = replace(counts, ok=counts.ok + step)
        elif record.status == "missed":
            counts = replace(counts, missed=counts.missed + step)
        elif record.status == "unknown":
            counts = replace(counts, unknown=counts.unknown + step)
        elif record.status == "skipped":
            counts = replace(counts, skipped=counts.skipped + step)
        else:
            counts = replace(counts, errors=counts.errors + step)
        self.counts = counts

    def _count_file(self, news: CameraNews) -> None:
        """Files downloaded and their bytes, whether the news came before its frame or after."""
        if isinstance(news, FileSaved) and news.size > 0:
            self.counts = replace(self.counts, files=self.counts.files + 1)
            self.file_bytes += news.size

    def _remember(self, record: FrameRecord) -> None:
        self._recent[record.frame] = record
        self._forget_older_than(record.frame)

    def _forget_older_than(self, newest: int) -> None:
        """Drop what waits on frames :data:`AMEND_WINDOW` or more slots below ``newest``:
        the journal's readers never expect a later line for them."""
        for old in [frame for frame in self._recent if frame <= newest - AMEND_WINDOW]:
            del self._recent[old]
        for old in [frame for frame in self._early if frame <= newest - AMEND_WINDOW]:
            del self._early[old]


def newest_slot(record: FrameRecord, grid: SlotGrid) -> FrameRecord:
    """The last slot of ``record`` as a line of its own: what status shows as the last frame
    and where a resumed run goes on. A range's line has only its first slot's times; the
    grid gives the rest (the span between two slots does not depend on the anchor, so a
    line written on another boot is read right too)."""
    if record.last is None:
        return record
    span = grid.due_ns(record.last) - grid.due_ns(record.frame)
    first_wall_us = (datetime.fromisoformat(record.wall) - _EPOCH) // timedelta(microseconds=1)
    return replace(
        record,
        frame=record.last,
        last=None,
        due_ns=record.due_ns + span,
        wall=wall_iso(first_wall_us * 1000 + span),
    )


def _amended(record: FrameRecord, news: CameraNews) -> FrameRecord:
    if isinstance(news, FileSaved):
        return replace(record, file=news.file, brightness=news.brightness, exposure=news.exposure)
    if news.status == "missed":
        return replace(record, status="missed", fired_ns=None, error=news.message)
    return replace(record, status="error", error=news.message)
