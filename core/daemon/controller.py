"""The daemon's run controller: one run at a time, its timing thread and its journal.

Threads, each with one job:

- the **timing thread** runs the :class:`Engine`; it only ever puts reports on
  a queue, so it never waits on the disk, the socket or a client;
- the **journal thread** takes those reports in batches, hands each to the
  run's :class:`~core.model.ledger.RunLedger` (the bookkeeping, sans IO),
  appends the lines it returns (one fsync per batch) and publishes its events;
- with a USB camera, the **camera thread** (``hw.camera``) puts its own reports
  on the same queue: a frame's file, or that the camera failed a frame.

The run's state moves only through :func:`core.model.run_state.advance`; what
the controller keeps is the threads, the lock and which run is current.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.clock import Clock
from core.clock import Event as ClockEvent
from core.daemon.after import AfterWork, Job
from core.daemon.box import Box
from core.daemon.collector import freeze_survivors
from core.daemon.delivery import Delivery
from core.daemon.engine import Engine, EngineExit, outside_window, request_realtime_priority
from core.daemon.journal_writer import RunWriter, create_run, open_run
from core.daemon.marks import MarksFile, open_marks
from core.daemon.outlook import Outlook
from core.daemon.sky import refuse_without_place, run_grid, run_windows, uses_the_sun
from core.journal import FrameTally, Journal, RunInfo
from core.model.after import PRODUCTS
from core.model.camera import NO_CHOICE, Camera
from core.model.clock_trust import (
    ClockTrust,
    clock_trust,
    journal_wall_ns,
    waiting_line,
    wall_ns_of,
)
from core.model.durations import NS_PER_MS, NS_PER_S, format_duration
from core.model.errors import LapseError, SettingsError
from core.model.events import Fault
from core.model.exposure import RESUME_FRAMES
from core.model.ledger import (
    DamagedTail,
    Dropped,
    Entries,
    RunLedger,
    damaged_tail,
    newest_slot,
    resume_point,
)
from core.model.marks import Gap, gap_reports
from core.model.output import output_refusal
from core.model.paces import PacedGrid
from core.model.place import Place
from core.model.plan import Plan, make_plan
from core.model.protocol import (
    Counts,
    Event,
    FaultEvent,
    PlanEvent,
    RunCamera,
    RunPreview,
    RunStatus,
    StateEvent,
    Status,
    Subscribed,
)
from core.model.records import FrameRecord
from core.model.rig import Rig
from core.model.run_state import RunState, advance
from core.model.scheduler import Scheduler, SlotsOutside
from core.model.settings import MAX_DELAY_NS, Settings
from core.model.windows import SEARCH_NS, Windows

log = logging.getLogger("lapse.daemon")

START_MARGIN_NS = 100 * NS_PER_MS
"""Frame 0's leads begin this long after start at the earliest: the threads get going."""
DOWN_REASON = "the daemon was not running"
CLOCK_WAIT_REASON = "the daemon waited for a clock it could trust"
STOPPED_REASON = "stopped by the photographer"
NEW_RUN_REASON = "stopped when a new run was started"
"""The end of a run left active in the journal (its stop could not be recorded), recorded
when the photographer starts another."""
MAX_UNWRITTEN = 20_000
"""Frame lines kept in memory while the journal cannot be written (a full disk): days of
frames at a long interval, a few MB; beyond it the oldest are given up, and said so."""
JOURNAL_RETRY_S = 5.0
"""While lines wait, the journal is tried again this often even when no frame fires."""
CLOCK_RECHECK_S = 5.0
"""While a run waits for a clock it can trust, the clock is checked again this often."""
SUMMARY_EVERY_LINES = 1_000
SUMMARY_EVERY_S = 60.0
"""The journal thread saves the run's summary (``summary.json``) after this many lines or
this long, whichever comes first, and when the run ends: a daemon that starts or a
``lapse status`` reads it and only the lines after it."""
STOP_WAIT_S = 20.0
"""How long a stop waits for the journal thread to end the run (the camera fetching the
last files, bounded by its own calls, comes on top): a journal thread that hangs (a disk
that never answers) must not hang ``lapse stop`` with it, whose client waits 30 s."""


def _needs_ns(scheduler: Scheduler, settings: Settings, now_ns: int) -> int | None:
    """How long a counted run with a window or two paces still needs at ``now_ns``; None
    where frames left × interval says it (and for a run until stopped)."""
    if not (settings.windowed or settings.paced):
        return None
    last = scheduler.last_due_ns()
    return None if last is None else max(0, last - now_ns)


def _refuse_if_never_open(windows: Windows | None, anchor_ns: int) -> None:
    """Raise :class:`LapseError` for a window that does not open in the year ahead (the
    sun never gets below the angle asked for there, say): the run would never shoot."""
    if windows is not None and windows.span_at(anchor_ns) is None:
        days = SEARCH_NS // (86_400 * NS_PER_S)
        raise LapseError(
            f"the window ({windows.text}) does not open in the next {days} days at this"
            " place: nothing would fire"
        )


def unrecorded_end(state: RunState, error: OSError | str) -> str:
    """The one line that says a run's end could not be written to ``run.toml``."""
    why = error if isinstance(error, str) else error.strerror or str(error)
    if state is RunState.STOPPED:
        return (
            f"the run stopped and every output is off, but the stop could not be recorded"
            f" ({why}): a daemon started later would resume it; free some space in the"
            f" state directory and run `lapse stop` again"
        )
    return (
        f"the run ended ({state.value}) but that could not be recorded ({why}):"
        f" a daemon started later would resume it; free some space and run `lapse stop`"
    )


Publish = Callable[[Event], None]


@dataclass(frozen=True)
class _Ended:
    """Put on the queue by the timing thread when the engine returns."""

    state: RunState
    """How the run ended; INTERRUPTED when it stays active (the daemon shutting down)."""
    reason: str


@dataclass
class _ClockWait:
    """An interrupted run that waits for a clock it can trust before it resumes."""

    run_id: str
    why_not: str
    cancel: ClockEvent
    """Set when the waiting ends (resumed, stopped, the daemon shutting down)."""
    since_ns: int
    """When the waiting began (monotonic ns): slots due from then were missed for it."""


@dataclass(frozen=True)
class _LastRun:
    """The run that ended, as ``status`` keeps showing it until the next one."""

    status: RunStatus
    fault: str | None


class _ActiveRun:
    """A run in progress and the two threads that carry it."""

    def __init__(
        self,
        controller: RunController,
        writer: RunWriter,
        plan: Plan,
        scheduler: Scheduler,
        ledger: RunLedger,
        resumed: bool,
        marks: MarksFile | None = None,
        tally: FrameTally | None = None,
    ) -> None:
        self.controller = controller
        self.writer = writer
        self.marks = marks
        self.tally = tally or FrameTally()
        """The run's counts as of the journal's end, saved now and then as its summary."""
        self._unsaved_lines = 0
        self._saved_ns = controller.clock.now_ns()
        self.plan = plan
        self.scheduler = scheduler
        self.ledger = ledger
        self.resumed = resumed
        clock = controller.clock
        self.events = clock.queue()
        self.cancel = clock.event()
        self.cancel_means = RunState.STOPPED
        self.engine = Engine(
            controller.rig,
            controller.clock,
            scheduler,
            self.events.put,
            self.cancel,
            camera=controller.camera,
            marks=marks,
        )
        self.unwritten: deque[FrameRecord] = deque()
        """Lines the journal could not take yet (a full disk), oldest first."""
        self.dropped: Dropped | None = None
        """Lines given up since the journal last took every line."""
        self.end_unrecorded: str | None = None
        """Why the run's end could not be written to ``run.toml``: it stays active there."""
        self.end_report: _Ended | None = None
        """How the engine said the run ended, once the journal thread has taken it."""
        self.fetching_last_files = False
        """The journal thread waits for the camera to fetch the last frames' files: bounded
        by the camera's own calls, so a stop waits for it on top of its own bound."""
        self.ended = clock.event()
        """Set once the run has ended and its journal is closed (waited on by stop). The
        clock's: the run ends on the clock's time (the camera fetching the last files), so
        a fake clock must see stop waiting, or it would hold time still for ever."""

    @property
    def info(self) -> RunInfo:
        """The run as its ``run.toml`` says now."""
        return self.writer.info

    def start(self) -> None:
        camera = self.controller.camera
        if camera is not None:
            camera.begin_run(self.info.photos_path, self.events.put)
        clock = self.controller.clock
        clock.start_thread(self._journal, "lapse-journal")
        clock.start_thread(self._time, "lapse-timing")

    # -- timing thread ------------------------------------------------------
    def _time(self) -> None:
        request_realtime_priority()
        try:
            result = self.engine.run()
        except BaseException as error:  # a bug: the engine released the outputs on its way out
            self.events.put(Fault(message=f"the engine failed: {error!r}"))
            self.events.put(_Ended(RunState.FAILED, f"engine failed: {error!r}"))
            return
        if result is EngineExit.COMPLETE:
            frames = self.scheduler.frames
            self.events.put(_Ended(RunState.FINISHED, f"all {frames} frames done"))
        elif self.cancel_means is RunState.INTERRUPTED:
            self.events.put(
                _Ended(RunState.INTERRUPTED, "daemon shut down; the run resumes when it starts")
            )
        else:
            self.events.put(_Ended(self.cancel_means, STOPPED_REASON))

    # -- journal thread -----------------------------------------------------
    def _journal(self) -> None:
        try:
            self._end(self._journal_until_ended())
        except BaseException as error:  # a bug, or the memory ran out: said, never silent
            self._journal_died(error)

    def _journal_until_ended(self) -> _Ended:
        ended: _Ended | None = None
        while ended is None:
            try:
                # While lines wait for room, wake now and then to try again: at a long
                # interval the next frame may be hours away.
                batch = [self.events.get(timeout=JOURNAL_RETRY_S if self.unwritten else None)]
            except queue.Empty:
                batch = []
            self._wait_for_the_shutter()
            batch += self._waiting_reports()
            if any(isinstance(item, _Ended) for item in batch):
                ended = self.end_report = next(item for item in batch if isinstance(item, _Ended))
                batch = [item for item in batch if not isinstance(item, _Ended)]
                self.fetching_last_files = True
                batch += self._last_camera_reports()
                self.fetching_last_files = False
            self._write(batch)
        return ended

    def _journal_died(self, error: BaseException) -> None:
        """The journal thread's work failed: say so to every client, keep taking the reports
        (so they do not pile up) until the run ends, and still try to record its end."""
        message = (
            f"the journal stopped working ({error!r}): frames are no longer recorded;"
            " stop the run and start a new one"
        )
        log.error("%s", message, exc_info=error)
        self.fetching_last_files = False
        state = RunState.INTERRUPTED
        try:
            self.ledger.fault = message
            with contextlib.suppress(Exception):
                self.controller.publish(FaultEvent(message=message))
                self.controller._publish_state()
            ended = self.end_report or self._drain_until_ended()
            state = ended.state
            if state.ended:
                try:
                    self.writer.finish(state.value, ended.reason, self.controller.clock.wall_ns())
                except Exception as failed:
                    self.end_unrecorded = unrecorded_end(state, str(failed))
                    state = RunState.INTERRUPTED
            if self.end_unrecorded is not None:
                self.ledger.fault = self.end_unrecorded
        finally:
            with contextlib.suppress(Exception):
                self.writer.close()
            try:
                self.controller._run_ended(self, state)
            finally:
                self.ended.set()

    def _drain_until_ended(self) -> _Ended:
        """Take reports without keeping them until the engine says the run is over."""
        while True:
            item = self.events.get()
            if isinstance(item, _Ended):
                return item

    def _wait_for_the_shutter(self) -> None:
        """Let a shutter that is about to open, and the camera taking the frame it opened,
        have the GIL first (``Controller.quiet_left_ns``)."""
        clock = self.controller.clock
        while left := self.controller.quiet_left_ns():
            clock.wait_until(clock.now_ns() + left)

    def _last_camera_reports(self) -> list[Any]:
        """Let the camera fetch the last frames' files (bounded), and take its news."""
        camera = self.controller.camera
        if camera is None:
            return []
        camera.end_run()
        return self._waiting_reports()

    def _waiting_reports(self) -> list[Any]:
        """Every report on the queue now, without waiting for more."""
        items: list[Any] = []
        while True:
            try:
                items.append(self.events.get_nowait())
            except queue.Empty:
                return items

    def _write(self, batch: list[Any]) -> None:
        entries = Entries()
        for report in batch:
            entries.extend(self.ledger.take(report))
        self.unwritten.extend(entries.records)
        entries.extend(self._flush())
        for note in entries.notes:
            self._keep_note(note)
        self._publish(entries)

    def _keep_note(self, text: str) -> None:
        """A note for ``lapse log`` and the daemon's log: what no journal line can say."""
        log.warning("run %s: %s", self.info.id, text)
        try:
            self.writer.add_note(text, self.controller.clock.wall_ns())
        except OSError as error:
            log.warning("could not keep that note for `lapse log`: %s", error.strerror or error)

    def _publish(self, entries: Entries) -> None:
        for event in entries.events:
            self.controller.publish(event)
        if entries.status_changed:
            self.controller._slot_reached_or_camera_changed(self)

    def _flush(self) -> Entries:
        """Append every waiting line, in order; on failure keep them (the newest
        :data:`MAX_UNWRITTEN`) for the next batch or the quiet timer."""
        if not self.unwritten:
            return Entries()
        excess = len(self.unwritten) - MAX_UNWRITTEN
        if excess > 0:
            given_up = [self.unwritten.popleft() for _ in range(excess)]
            self._give_up(given_up, f"more than {MAX_UNWRITTEN:,} waited")
        try:
            self.writer.append(list(self.unwritten))
        except OSError as error:
            event = self.ledger.journal_failed(error, len(self.unwritten), self.dropped)
            return Entries(events=[event])
        self._tally(self.unwritten)
        self.unwritten.clear()
        dropped, self.dropped = self.dropped, None
        return self.ledger.journal_written(dropped)

    def _tally(self, written: deque[FrameRecord]) -> None:
        """Count lines just written, and save the summary when it is due."""
        for record in written:
            self.tally.add(record)
        self.tally.offset = self.writer.size
        self._unsaved_lines += len(written)
        now = self.controller.clock.now_ns()
        if (
            self._unsaved_lines >= SUMMARY_EVERY_LINES
            or now - self._saved_ns >= SUMMARY_EVERY_S * NS_PER_S
        ):
            self._save_summary()

    def _save_summary(self) -> None:
        if self._unsaved_lines and self.writer.save_summary(self.tally):
            self._unsaved_lines = 0
            self._saved_ns = self.controller.clock.now_ns()

    def _give_up(self, records: list[FrameRecord], why: str) -> Dropped:
        """Count ``records`` as lost for ``why``; returns every loss since the journal last
        took every line."""
        frames = [record.frame for record in records]
        loss = Dropped(len(records), min(frames), max(frames), why)
        self.dropped = loss if self.dropped is None else self.dropped.plus(loss)
        return self.dropped

    def _end(self, ended: _Ended) -> None:
        state = ended.state
        if state.ended:
            try:
                self.writer.finish(state.value, ended.reason, self.controller.clock.wall_ns())
            except OSError as error:
                # run.toml still says active: the run is interrupted, not ended, and the
                # next daemon would resume it. Said as it is, never as a stop.
                self.end_unrecorded = unrecorded_end(state, error)
                state = RunState.INTERRUPTED
        # Once more: recording the end may have made room (the space reserve).
        self._publish(self._flush())
        if self.unwritten:
            lost = self._give_up(list(self.unwritten), "the run ended before there was room")
            self.ledger.journal_lost(lost)
        if self.end_unrecorded is not None:
            self.ledger.fault = self.end_unrecorded  # what matters most: the run is not over
        self._save_summary()
        self.writer.close()
        if self.marks is not None:
            self.marks.close()  # the timing thread, its only writer, has ended
        self.controller._run_ended(self, state)
        self.ended.set()

    # -- status --------------------------------------------------------------
    def status(self, now_ns: int, *, live: bool) -> RunStatus:
        """The run as ``status`` shows it at ``now_ns``; the next shutter while ``live``."""
        scheduler = self.scheduler
        next_frame: int | None = None
        if live:
            # The next shutter on the grid: the engine may already be in that frame's leads,
            # so the scheduler's next frame would be one too far.
            next_frame = scheduler.next_slot_at_or_after(now_ns)
        return RunStatus(
            id=self.info.id,
            settings=self.info.settings,
            folder=str(self.info.path),
            photos=str(self.info.photos_path),
            anchor_ns=scheduler.grid.anchor_ns,
            counts=self.ledger.counts,
            last_frame=self.ledger.last,
            resumed=self.resumed,
            next_frame=next_frame,
            next_due_ns=None if next_frame is None else scheduler.grid.due_ns(next_frame),
            **self._window_fields(now_ns, live=live),
            **self._pace_fields(next_frame),
        )

    def _pace_fields(self, next_frame: int | None) -> dict[str, Any]:
        """What status says of a run with a night interval: the pace of its next shutter."""
        grid = self.scheduler.grid
        if not isinstance(grid, PacedGrid) or next_frame is None:
            return {}
        pace = grid.pace_of(next_frame)
        return {
            "pace": "night" if pace.night else "day",
            "pace_anchor_ns": pace.grid.anchor_ns,
            "pace_interval_ns": pace.grid.interval_ns,
        }

    def _window_fields(self, now_ns: int, *, live: bool) -> dict[str, Any]:
        """What status says of the run's window at ``now_ns``: its rules, and while the run
        goes, when it closes (open now) and when it opens next."""
        windows = self.scheduler.windows
        if windows is None:
            return {}
        fields: dict[str, Any] = {"window": windows.text}
        span = windows.span_at(now_ns) if live else None
        if span is not None and span[0] <= now_ns:
            fields["window_closes_ns"] = span[1]
            span = windows.span_at(span[1])
        if span is not None:
            fields["window_opens_ns"] = span[0]
        return fields

    def plan_event(self) -> PlanEvent:
        """The run's plan, for a client that draws its frames."""
        return PlanEvent(run=self.info.id, plan=self.plan)


class RunController:
    """Starts, stops, resumes and reports the one run this daemon carries."""

    def __init__(
        self,
        rig: Rig,
        clock: Clock,
        journal: Journal,
        publish: Publish,
        *,
        notice: str | None = None,
        camera: Camera | None = None,
        outlook: Outlook | None = None,
        stop_wait_s: float = STOP_WAIT_S,
        place: Place | None = None,
        after: AfterWork | None = None,
        box: Box | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        self.rig = rig
        self.delivery = delivery
        """The hooks and the uploads (``[hooks]``, ``[upload]``); None when neither is set."""
        self.box = box
        """The box's own switches, button and LED signal (``[inputs]``); None without."""
        self.after = after
        """Makes ``[after]``'s video and images when a run ends; None when nothing is asked."""
        self.place = place
        """Where the rig stands (the config's ``[place]``), for windows by the sun."""
        self.stop_wait_s = stop_wait_s
        """How long a stop waits for the run's journal thread (:data:`STOP_WAIT_S`)."""
        self.camera = camera
        self.outlook = outlook
        if camera is not None:
            # Every client learns when the camera comes or goes, run or no run.
            camera.watch(self._publish_state)
        self.clock = clock
        self.journal = journal
        self.publish = publish
        self.notice = notice
        self._lock = threading.Lock()
        self._state = RunState.IDLE
        self._run: _ActiveRun | None = None
        self._last: _LastRun | None = None
        self._power_released_ns: int | None = None
        """When the last run that switched camera power released it (monotonic ns)."""
        self._clock_wait: _ClockWait | None = None
        self._hung: _ActiveRun | None = None
        """A run whose journal thread a stop gave up waiting for."""
        self._idle_fault: str | None = None
        """Shown while no run has been placed: a damaged run that could not be resumed."""

    # -- commands --------------------------------------------------------------
    def start(
        self,
        settings: Settings,
        output: str | None = None,
        camera: RunCamera = NO_CHOICE,
        at: str | None = None,
        place: Place | None = None,
    ) -> Status:
        """Start a new run now (after its delay); raise :class:`LapseError` if one is going.

        ``output``: an absolute folder for the run's photos instead of the run's own
        folder; refused unless a camera downloads them there. ``camera``: the trigger
        and shutter speed this run asks of the camera over the config's. ``at``: the
        wall time (ISO-8601 with its zone) the first shutter opens at, in place of a delay.
        ``place``: where the rig stands, over the config's, for a window by the sun.
        """
        place = place if place is not None else self.place
        make_plan(settings.at_night())
        # Refused before anything moves: the sun asked for with no place to compute it at.
        refuse_without_place(settings, place)
        plan = make_plan(settings)
        with self._lock:
            self._refuse_if_live()
            self._refuse_if_waiting_for_clock()
            self._end_uncarried()
            before = self._state
            self._move(RunState.STARTING)
        self._publish_state()
        try:
            # Outside the lock: the camera may take a few bounded calls to answer,
            # and status must not wait for it. STARTING keeps a second start out.
            if output is not None:
                self._refuse_output(output)
            if camera.chosen and self.camera is None:
                raise LapseError(
                    "this daemon has no camera to set: set [camera] trigger to"
                    ' "usb" or "gpio" in the config, then start the daemon again'
                )
            if self.camera is not None:
                self.camera.prepare(settings, camera)
            # Before the grid is anchored: it takes tens of milliseconds (core/daemon/collector.py).
            freeze_survivors()
            with self._lock:
                # One reading of each clock: the wall time asked for is the anchor's, exactly.
                now, wall = self.clock.now_ns(), self.clock.wall_ns()
                if at is None:
                    anchor = now + max(settings.delay_ns, plan.lead_ns) + START_MARGIN_NS
                    anchor = max(anchor, self._first_power_on_allowed(plan))
                else:
                    anchor = now + (wall_ns_of(at) - wall)
                    self._refuse_start_at(at, anchor, settings, plan, now)
                anchor_wall = wall + (anchor - now)
                scheduler = self._scheduler(settings, place, anchor, anchor_wall)
                _refuse_if_never_open(scheduler.windows, anchor)
                writer = create_run(
                    self.journal,
                    settings=settings,
                    anchor_ns=anchor,
                    anchor_wall_ns=anchor_wall,
                    boot_id=self.clock.boot_id(),
                    created_wall_ns=self.clock.wall_ns(),
                    rig=self.rig.description,
                    output=output,
                    camera=camera,
                    place=place if uses_the_sun(settings) else None,
                )
                ledger = RunLedger(writer.info.id, scheduler.grid)
                marks = open_marks(writer.info.path, writer.info.id)
                run = _ActiveRun(self, writer, plan, scheduler, ledger, False, marks)
                self._place(run, RunState.WAITING)
        except BaseException:
            with self._lock:
                if self._state is RunState.STARTING:
                    self._move(before)
            self._publish_state()
            raise
        self._publish_state()
        return self.status()

    def _scheduler(
        self,
        settings: Settings,
        place: Place | None,
        anchor_ns: int,
        anchor_wall_ns: int,
        next_frame: int = 0,
    ) -> Scheduler:
        """A run's scheduler on its grid from ``anchor_ns`` (the wall time
        ``anchor_wall_ns``): its windows and paces, the sun's at ``place``."""
        return Scheduler(
            make_plan(settings),
            run_grid(settings, place, anchor_ns=anchor_ns, anchor_wall_ns=anchor_wall_ns),
            frames=settings.frames,
            next_frame=next_frame,
            windows=run_windows(
                settings, place, anchor_ns=anchor_ns, anchor_wall_ns=anchor_wall_ns
            ),
            night_plan=make_plan(settings.at_night()) if settings.paced else None,
        )

    def _refuse_start_at(
        self, at: str, anchor: int, settings: Settings, plan: Plan, now: int
    ) -> None:
        """Raise :class:`LapseError` unless the first shutter can open at ``anchor``, the
        monotonic time of the wall time ``at`` (called with the lock held)."""
        if settings.delay_ns:
            raise LapseError("a start time and a delay cannot both be given: choose one")
        ready = now + plan.lead_ns + START_MARGIN_NS
        if anchor < ready:
            said = "has passed" if anchor <= now else "is too soon"
            raise LapseError(
                f"{at} {said}: the first shutter needs {format_duration(ready - now)} from the"
                " start (to power the camera and focus)"
            )
        if anchor - now > MAX_DELAY_NS:
            raise LapseError(f"{at} is more than {format_duration(MAX_DELAY_NS)} away")
        allowed = self._first_power_on_allowed(plan)
        if anchor < allowed:
            raise LapseError(
                f"{at} is too soon: the camera's power must stay off for"
                f" {format_duration(settings.min_power_off_ns)} after the last run's"
            )

    def _refuse_output(self, output: str) -> None:
        """Raise :class:`LapseError` unless the photos can go to ``output``: made if need
        be, and written to once, so a typo or a read-only stick is said before the run."""
        refusal = output_refusal(output)
        if refusal is not None:
            raise LapseError(refusal)
        camera = None if self.camera is None else self.camera.status()
        if camera is None:
            raise LapseError(
                "an output folder needs a USB camera to download the photos into it"
                " (set [camera] trigger in the config); without one they stay on its card"
            )
        if camera.downloads == "off":
            raise LapseError(
                "the camera keeps its photos on its card ([camera] download = false):"
                " an output folder would stay empty"
            )
        try:
            Path(output).mkdir(parents=True, exist_ok=True)
            probe, name = tempfile.mkstemp(prefix=".lapse-", dir=output)
            os.close(probe)
            os.unlink(name)
        except OSError as error:
            reason = error.strerror or str(error)
            raise LapseError(f"cannot save photos in {output}: {reason}") from None

    def resume(
        self, *, clock_ok: bool = False, waited_since_ns: int | None = None
    ) -> RunStatus | None:
        """Resume the journal's active run, if any, on its original grid.

        After a reboot on a wall clock that cannot be trusted, the run waits for the clock
        instead (:meth:`_waits_for_clock`) and None is returned, as for no run.
        ``clock_ok``: the clock was found trusted, or the photographer said it is right.
        A damaged run a daemon may have left active is never passed over in silence: it is
        logged and shown as the fault while no run goes.
        """
        info = self.journal.active_run()
        if info is None:
            self._refuse_damaged_run()
            return None
        if not clock_ok and self._waits_for_clock(info):
            return None
        camera_fault: str | None = None
        if self.camera is not None:
            # Outside the lock: the camera thread reports to clients through status().
            try:
                measured = self._measured_before(info)
                self.camera.prepare(info.settings, info.camera, measured)
            except LapseError as error:
                # The run resumes all the same: the camera costs frames, not the run.
                camera_fault = f"camera: {error}"
        freeze_survivors()
        with self._lock:
            self._refuse_if_live()
            if self._state is RunState.IDLE:
                self._move(RunState.INTERRUPTED)  # as the last daemon left it
            plan = make_plan(info.settings)
            # Opened first: the tally then counts the file as the writer left it (a torn
            # last line cut), up to the very byte the run goes on appending from.
            writer = open_run(self.journal, info.id)
            try:
                run, damage_said = self._resumed_run(
                    info, writer, plan, camera_fault, waited_since_ns
                )
            except BaseException:
                writer.close()
                raise
            self._place(run, RunState.WAITING if run.ledger.last is None else RunState.RUNNING)
        if damage_said is not None:
            self.publish(FaultEvent(message=damage_said))
        self._publish_state()
        return run.status(self.clock.now_ns(), live=True)

    def _measured_before(self, info: RunInfo) -> list[tuple[str, float]]:
        """The run's last measured frames (exposure, brightness), oldest first, for its auto
        exposure to go on from rather than settle again; none when they cannot be read
        (the run resumes all the same, and its exposure settles again)."""
        try:
            records = self.journal.last_frames(info.id, RESUME_FRAMES)
        except (OSError, LapseError) as error:
            log.warning("run %s: its last frames could not be read: %s", info.id, error)
            return []
        return [
            (record.exposure, record.brightness)
            for record in records
            if record.exposure is not None and record.brightness is not None
        ]

    def _resumed_run(
        self,
        info: RunInfo,
        writer: RunWriter,
        plan: Plan,
        camera_fault: str | None,
        waited_since_ns: int | None = None,
    ) -> tuple[_ActiveRun, str | None]:
        """The journal's active run ``info``, ready to go on, and what was said of a damaged
        journal tail (called with the lock held). ``waited_since_ns``: when this daemon
        began to wait for the clock, if it did (its slots are missed for that)."""
        tally = self.journal.tally(info.id)
        writer.save_summary(tally)  # the next start reads from here, not the whole file
        counts, last = self._journaled_counts(info, tally)
        same_boot = info.boot_id == self.clock.boot_id()
        point = resume_point(
            anchor_ns=info.anchor_ns,
            anchor_wall_ns=info.anchor_wall_ns,
            run_boot_id=info.boot_id,
            boot_id=self.clock.boot_id(),
            now_ns=self.clock.now_ns(),
            wall_ns=self.clock.wall_ns(),
            last=last,
        )
        # The run's own place: a config edited since must not move its windows.
        place = info.place or self.place
        grid = run_grid(
            info.settings, place, anchor_ns=point.anchor_ns, anchor_wall_ns=info.anchor_wall_ns
        )
        damage = None
        if last is not None:
            damage = damaged_tail(
                last,
                grid,
                same_boot=same_boot,
                now_ns=self.clock.now_ns(),
                wall_ns=self.clock.wall_ns(),
            )
        next_frame = point.next_frame if damage is None else damage.next_frame
        scheduler = self._scheduler(
            info.settings, place, point.anchor_ns, info.anchor_wall_ns, next_frame
        )
        ledger = RunLedger(info.id, scheduler.grid, counts=counts, last=last)
        if camera_fault is not None:
            ledger.camera_fault_at_start(camera_fault)
        damage_said = None if damage is None else self._say_damage(writer, ledger, damage)
        marks = open_marks(writer.info.path, info.id)
        try:
            run = _ActiveRun(self, writer, plan, scheduler, ledger, True, marks, tally)
            # Slots lost while down are logged as what they were before the engine starts:
            # outside the window, skipped; inside, what the marks say of the shutters the
            # last daemon was around, else missed.
            now, wall = self.clock.now_ns(), self.clock.wall_ns()
            known = {} if marks is None else marks.read()
            for passed in scheduler.pass_before(now):
                if isinstance(passed, SlotsOutside):
                    run.events.put(outside_window(passed.first, passed.last, now, wall))
                    continue
                waited_from = (
                    None
                    if waited_since_ns is None
                    else grid.first_frame_due_at_or_after(waited_since_ns)
                )
                gap = Gap(
                    first=passed.first,
                    last=passed.last,
                    rebooted=not same_boot,
                    noticed_ns=now,
                    noticed_wall_ns=wall,
                    waited_from=waited_from,
                )
                reports = gap_reports(
                    gap, known, grid, down_reason=DOWN_REASON, waiting_reason=CLOCK_WAIT_REASON
                )
                for report in reports:
                    run.events.put(report)
        except BaseException:
            if marks is not None:
                marks.close()
            raise
        return run, damage_said

    def resume_waiting(self, *, clock_ok: bool) -> Status:
        """Resume the run that waits for the clock: at once on the photographer's word that
        the clock is right (``clock_ok``), else only if the clock is trusted now."""
        with self._lock:
            wait = self._clock_wait
        info = self.journal.active_run()
        if wait is None or info is None or info.id != wait.run_id:
            raise LapseError(f"no run waits for the clock (the daemon is {self._state})")
        if not clock_ok:
            trust = self._clock_trust(info)
            if trust.why_not is not None:
                raise LapseError(
                    f"{waiting_line(trust.why_not)}; once `date` shows the right time,"
                    " `lapse resume --clock-ok` resumes the run on it"
                )
        why = "the photographer says the clock is right" if clock_ok else "the clock is trusted"
        self._resume_after_wait(wait, why)
        return self.status()

    def _refuse_damaged_run(self) -> None:
        damaged = self.journal.damaged_active_run()
        if damaged is None:
            return
        message = (
            f"run {damaged.id} cannot be resumed: its {damaged.problem}; mend it, or move"
            f" its folder out of {self.journal.runs_dir}, and start lapse again"
        )
        log.error("%s", message)
        self._idle_fault = message

    def end_interrupted(self, reason: str) -> RunInfo | None:
        """Record the journal's active run, if any, as stopped for ``reason`` instead of
        resuming it; returns the run as it ended, or None when there was none.

        Nothing fires: no output, no camera, no frame line. Status then shows the run
        stopped, with the frames it had.
        """
        info = self.journal.active_run()
        if info is None:
            return None
        with self._lock:
            self._refuse_if_live()
            self._move(RunState.INTERRUPTED)
            ended = self._record_stopped(info, reason)
        self._publish_state()
        return ended

    def stop(self) -> Status:
        """Stop the run; returns when every output is released and the stop is recorded.

        Raises :class:`LapseError` when the stop could not be recorded in ``run.toml`` (a
        full disk): the outputs are released all the same, and the run, still active in
        the journal, is left interrupted; a later stop records it.
        """
        with self._lock:
            run = self._run
            if run is None and self._state is RunState.STARTING:
                raise LapseError("a run is being started; stop it once it has started")
            if run is None and self._state is RunState.INTERRUPTED:
                self._refuse_if_journal_hangs()
                # A stop that could not be recorded left the run interrupted: record it now.
                info = self.journal.active_run()
                if info is None:
                    raise LapseError("no run is going")
                self._record_stopped(info, STOPPED_REASON)
            elif run is None:
                raise LapseError("no run is going")
        if run is None:
            self._publish_state()
            return self.status()
        run.cancel_means = RunState.STOPPED
        run.cancel.set()
        if not self._wait_for_end(run):
            raise LapseError(self._give_up_on(run))
        if run.end_unrecorded is not None:
            raise LapseError(run.end_unrecorded)
        return self.status()

    def _refuse_if_journal_hangs(self) -> None:
        """A run given up on still holds its journal: this daemon cannot record its stop."""
        hung = self._hung
        if hung is not None and not hung.ended.is_set():
            raise LapseError(
                f"run {hung.info.id}: its journal still does not answer (every output is off);"
                " end this daemon (`systemctl stop lapse-daemon` under systemd), then"
                " `lapse stop` records the stop without firing anything"
            )

    def _wait_for_end(self, run: _ActiveRun) -> bool:
        """Wait for ``run``'s journal thread to end it: at most :attr:`stop_wait_s` at a
        time, and only while the camera is still fetching the last files beyond that; False
        when the thread did not get there (it hangs)."""
        while not run.ended.wait(self.stop_wait_s):
            if not run.fetching_last_files:
                return False
        return True

    def _give_up_on(self, run: _ActiveRun) -> str:
        """``run``'s journal thread did not end it in time: release the outputs here, leave
        the run interrupted (active in its ``run.toml``), and return the line that says so."""
        message = (
            f"the run stopped and every output is off, but the stop could not be recorded:"
            f" the journal did not answer within {self.stop_wait_s:g} s; a daemon started"
            f" later would resume the run (the daemon's log says more)"
        )
        log.error("%s", message)
        try:
            self.rig.release()
        except Exception as error:  # said, and the stop still answers
            message += f"; the outputs could not be released: {error}"
        run.ledger.fault = message
        now = self.clock.now_ns()
        with self._lock:
            if self._run is run:
                self._run = None
                self._hung = run
                self._last = _LastRun(run.status(now, live=False), message)
                self._move(RunState.INTERRUPTED)
        self._publish_state()
        return message

    def shutdown(self, timeout: float = 10.0) -> None:
        """End the daemon's part: outputs released, journal flushed, the run left resumable."""
        with self._lock:
            run = self._run
            self._end_clock_wait()
        if run is not None:
            run.cancel_means = RunState.INTERRUPTED
            run.cancel.set()
            run.ended.wait(timeout)

    def update(self, frames: int) -> Status:
        """Change the running run's frame count; other changes need a new run."""
        with self._lock:
            run = self._run
            if run is None:
                raise LapseError("no run is going; settings are given with start")
            settings = run.info.settings.with_changes(frames=frames)
            scheduler = run.scheduler
            if scheduler.complete and self.clock.now_ns() >= scheduler.grid.due_ns(
                scheduler.next_frame - 1
            ):
                # Past the last shutter the engine may have found the run complete and be
                # ending it: a count changed now could be acknowledged and never taken.
                # Before it, the engine has the last frame's steps to go and reads the
                # count again after them.
                raise LapseError(f"run {run.info.id} has taken its last frame; start a new run")
            begun = run.scheduler.counted
            if 0 < frames <= begun:
                raise SettingsError(
                    f"frames must be 0 (until stopped) or more than the"
                    f" {begun} slots already begun, got {frames}"
                )
            run.scheduler.frames = settings.frames
            run.writer.update_settings(settings)
        self._publish_state()
        return self.status()

    def preview(self, settings: Settings) -> RunPreview:
        """Whether the battery and the disk would last a run of ``settings`` started now."""
        if self.outlook is None:
            raise LapseError("this daemon watches neither battery nor disk")
        plan = make_plan(settings)
        needs = None
        if settings.frames and (settings.windowed or settings.paced):
            now, wall = self.clock.now_ns(), self.clock.wall_ns()
            anchor = now + max(settings.delay_ns, plan.lead_ns) + START_MARGIN_NS
            try:
                scheduler = self._scheduler(settings, self.place, anchor, wall + anchor - now)
            except LapseError:
                scheduler = None  # the sun asked for and no place: no figure, as said at start
            needs = None if scheduler is None else _needs_ns(scheduler, settings, now)
        return self.outlook.preview(settings, plan, needs)

    def subscribed(self) -> Subscribed:
        """The answer to ``subscribe``: the status, and the plan of the run going."""
        with self._lock:
            run = self._run
        return Subscribed(self.status(), None if run is None else run.plan_event())

    def status(self) -> Status:
        """The snapshot clients show: state, counts, next shutter, last frame, fault."""
        now, wall = self.clock.now_ns(), self.clock.wall_ns()
        with self._lock:
            state, run, last, wait = self._state, self._run, self._last, self._clock_wait
        camera = None if self.camera is None else self.camera.status()
        if run is not None:
            run_status: RunStatus | None = run.status(now, live=state.live)
            fault = run.ledger.fault
        elif last is not None and state is not RunState.STARTING:
            run_status, fault = last.status, last.fault  # until the next run is placed
        else:
            run_status, fault = None, self._idle_fault
        hooks, upload = (None, None) if self.delivery is None else self.delivery.statuses()
        status = Status(
            state=state,
            now_ns=now,
            wall_ns=wall,
            rig=self.rig.description,
            simulated=self.rig.simulated,
            outputs=self.rig.outputs(),
            notice=self.notice,
            run=run_status,
            fault=fault,
            camera=camera,
            clock_wait=None if wait is None else wait.why_not,
            after=None if self.after is None else self.after.status(),
            hooks=hooks,
            upload=upload,
            panel=None
            if self.box is None
            else self.box.status(run.info.settings if run is not None and state.live else None),
        )
        if self.outlook is None:
            return status
        if run is None:
            return self.outlook.report(status, None, None)
        return self.outlook.report(
            status,
            run.plan,
            run.ledger.average_file_bytes,
            # The battery drains from the first frame's first lead (power on, focus).
            running_ns=max(0, now - (run.scheduler.grid.anchor_ns - run.plan.lead_ns)),
            needs_ns=_needs_ns(run.scheduler, run.info.settings, now),
        )

    def quiet_left_ns(self) -> int:
        """How long work that can wait (a client's command, a journal batch) should wait
        now before asking again: 0, or until the shutter about to open has
        (``Engine.quiet_left_ns``), or a moment while the camera takes the frame whose
        shutter just opened (``Camera.quiet_left_ns``)."""
        run = self._run  # one reference, read without the lock: asked before every answer
        if run is None:
            return 0
        now = self.clock.now_ns()
        left = run.engine.quiet_left_ns(now)
        camera = self.camera  # 0 from a camera the run hands no shutter to
        if camera is not None:
            left = max(left, camera.quiet_left_ns(now))
        return left

    def timing_stalled(self, now_ns: int, grace_ns: int) -> str | None:
        """Why the run's timing thread looks stuck at ``now_ns``; None while it keeps up
        or when no run is going (for the watchdog)."""
        with self._lock:
            run = self._run
        return None if run is None else run.engine.stalled(now_ns, grace_ns)

    # -- internals -----------------------------------------------------------------
    def _say_damage(self, writer: RunWriter, ledger: RunLedger, damage: DamagedTail) -> str:
        """Make a damaged journal tail the run's fault, a note for ``lapse log`` and a line
        in the daemon's log; returns the line."""
        said = damage.said(writer.info.id)
        ledger.fault = said
        log.warning("%s", said)
        try:
            writer.add_note(said, self.clock.wall_ns())
        except OSError as error:
            log.warning("could not keep that note for `lapse log`: %s", error.strerror or error)
        return said

    def _journaled_counts(
        self, info: RunInfo, tally: FrameTally | None = None
    ) -> tuple[Counts, FrameRecord | None]:
        """A run's counts and newest frame as its journal (or its ``tally``) has them."""
        tally = tally or self.journal.tally(info.id)
        counts = tally.counts
        last = tally.newest
        if last is not None:
            grid = run_grid(
                info.settings,
                info.place or self.place,
                anchor_ns=info.anchor_ns,
                anchor_wall_ns=info.anchor_wall_ns,
            )
            last = newest_slot(last, grid)
        return (
            Counts(
                ok=counts["ok"],
                missed=counts["missed"],
                errors=counts["error"],
                unknown=counts["unknown"],
                skipped=counts["skipped"],
            ),
            last,
        )

    def _journaled_status(self, info: RunInfo) -> RunStatus:
        """A run that is not going, as its journal has it."""
        counts, last = self._journaled_counts(info)
        return RunStatus(
            id=info.id,
            settings=info.settings,
            folder=str(info.path),
            photos=str(info.photos_path),
            anchor_ns=info.anchor_ns,
            counts=counts,
            last_frame=last,
        )

    def _first_power_on_allowed(self, plan: Plan) -> int:
        """The earliest anchor at which ``plan``'s first power-on keeps the camera off for its
        minimum since the last run released the power: a stop and a start at once would
        switch it off and on for a blip (called with the lock held)."""
        released = self._power_released_ns
        if released is None or plan.power_on_ns is None:
            return 0
        return released + plan.min_power_off_ns - plan.power_on_ns

    def _end_uncarried(self) -> None:
        """Record as stopped a run the journal still has active but no engine carries
        (its stop or end could not be recorded, or it could not be resumed), before
        another starts (called with the lock held).

        Two active runs would leave one for ever active: a daemon resumes only the
        newest. Raises :class:`LapseError` when it cannot be recorded; nothing starts then.
        """
        info = self.journal.active_run()
        if info is None:
            return
        self._refuse_if_journal_hangs()
        if self._state is RunState.IDLE:
            self._move(RunState.INTERRUPTED)
        elif self._state is not RunState.INTERRUPTED:
            raise LapseError(f"run {info.id} is still active in the journal; it must end first")
        self._record_stopped(info, NEW_RUN_REASON)

    def _record_stopped(self, info: RunInfo, reason: str) -> RunInfo:
        """Record the journal's active run ``info``, which no engine carries, as stopped for
        ``reason`` (called with the lock held, in state interrupted); returns it as ended.

        Raises :class:`LapseError` when ``run.toml`` cannot be written (a full disk)."""
        with open_run(self.journal, info.id) as writer:
            try:
                writer.finish(RunState.STOPPED.value, reason, self.clock.wall_ns())
            except OSError as error:
                raise LapseError(unrecorded_end(RunState.STOPPED, error)) from None
        self._last = _LastRun(self._journaled_status(writer.info), fault=None)
        self._end_clock_wait()
        self._move(RunState.STOPPED)
        return writer.info

    # -- waiting for the clock (docs/architecture.md §3) -------------------------------
    def _clock_trust(self, info: RunInfo) -> ClockTrust:
        """Whether the wall clock may carry ``info`` over to this boot."""
        return clock_trust(
            same_boot=info.boot_id == self.clock.boot_id(),
            journal_wall_ns=journal_wall_ns(self.journal.last_frame(info.id), info.created),
            wall_ns=self.clock.wall_ns(),
            synchronised=self.clock.synchronised(),
        )

    def _waits_for_clock(self, info: RunInfo) -> bool:
        """Whether ``info`` must wait for the clock before it resumes. If so it waits, in
        state interrupted with the reason in ``status``, and a thread of its own checks
        the clock every :data:`CLOCK_RECHECK_S` and resumes it once the clock is trusted."""
        trust = self._clock_trust(info)
        if trust.why_not is None:
            return False
        with self._lock:
            self._refuse_if_live()
            if self._clock_wait is not None:
                return True
            if self._state is RunState.IDLE:
                self._move(RunState.INTERRUPTED)  # as the last daemon left it
            self._last = _LastRun(self._journaled_status(info), fault=None)
            wait = self._clock_wait = _ClockWait(
                info.id, trust.why_not, self.clock.event(), self.clock.now_ns()
            )
        log.warning("run %s does not resume yet, %s", info.id, waiting_line(trust.why_not))
        self.clock.start_thread(lambda: self._watch_clock(wait), "lapse-clock")
        self._publish_state()
        return True

    def _watch_clock(self, wait: _ClockWait) -> None:
        """Check the clock while ``wait`` lasts; resume the run once the clock is trusted."""
        while not wait.cancel.wait(CLOCK_RECHECK_S):
            try:
                info = self.journal.active_run()
                trust = None if info is None or info.id != wait.run_id else self._clock_trust(info)
            except (LapseError, OSError) as error:
                log.error("run %s: the clock could not be checked: %s", wait.run_id, error)
                continue
            if trust is None:
                return  # the run is no longer active in the journal
            if trust.why_not is None:
                try:
                    self._resume_after_wait(wait, "the clock is trusted")
                except (LapseError, OSError) as error:
                    log.error("could not resume the interrupted run: %s", error)
                return
            if trust.why_not != wait.why_not:
                with self._lock:
                    wait.why_not = trust.why_not
                log.warning("run %s %s", wait.run_id, waiting_line(trust.why_not))
                self._publish_state()

    def _resume_after_wait(self, wait: _ClockWait, why: str) -> None:
        """End ``wait`` and resume its run on the clock as it is now, for ``why``."""
        with self._lock:
            if self._clock_wait is not wait:
                raise LapseError("no run waits for the clock")
            self._end_clock_wait()
        log.info("run %s: %s; resuming it", wait.run_id, why)
        resumed = self.resume(clock_ok=True, waited_since_ns=wait.since_ns)
        if resumed is not None:
            log.info("resumed run %s at frame %s", resumed.id, resumed.next_frame)

    def _end_clock_wait(self) -> None:
        """The run no longer waits for the clock (called with the lock held)."""
        if self._clock_wait is not None:
            self._clock_wait.cancel.set()
            self._clock_wait = None

    def _refuse_if_waiting_for_clock(self) -> None:
        wait = self._clock_wait
        if wait is not None:
            raise LapseError(
                f"run {wait.run_id} waits for the clock ({wait.why_not}); `lapse resume"
                " --clock-ok` resumes it on the clock as it is, `lapse stop` ends it"
            )

    def _move(self, state: RunState) -> None:
        """Change state through the table (called with the lock held)."""
        self._state = advance(self._state, state)

    def _place(self, run: _ActiveRun, state: RunState) -> None:
        """Make ``run`` the current one and start its threads (called with the lock held).

        Its plan goes out first, while the lock keeps every other state out: a client
        never sees a state naming a run whose plan it has not had (the camera thread
        publishes its news through status(), which waits for the lock)."""
        self.publish(run.plan_event())
        self._run = run
        self._move(state)
        run.start()

    def _refuse_if_live(self) -> None:
        if self._state is RunState.STARTING:
            raise LapseError("a run is being started; wait a moment and ask again")
        run = self._run
        if run is not None:
            every = format_duration(run.info.settings.interval_ns)
            raise LapseError(
                f"a run is already going (run {run.info.id}, every {every});"
                " stop it first with `lapse stop`"
            )

    def _slot_reached_or_camera_changed(self, run: _ActiveRun) -> None:
        with self._lock:
            if self._run is run and self._state is RunState.WAITING and run.ledger.last:
                self._move(RunState.RUNNING)
        self._publish_state()

    def _run_ended(self, run: _ActiveRun, state: RunState) -> None:
        now = self.clock.now_ns()
        with self._lock:
            if self._run is not run:
                return  # a stop gave up waiting for it and has said what became of it
            self._run = None
            self._last = _LastRun(run.status(now, live=False), run.ledger.fault)
            if run.plan.power_on_ns is not None:
                self._power_released_ns = now  # the engine released every output before
            self._move(state)
        if self.after is not None and state.ended:
            self.after.run_ended(run.info)
        self._publish_state()

    def make(self, run_id: str, products: tuple[str, ...]) -> Status:
        """Queue the making of a run's products in the after-run work; the status after."""
        if self.after is None:
            raise LapseError("this daemon makes no videos or images (it was started without)")
        unknown = [name for name in products if name not in PRODUCTS]
        if unknown or not products:
            raise LapseError(f"make takes {', '.join(PRODUCTS)}; got {', '.join(products)}")
        info = self.journal.get_run(run_id)  # an unknown run is refused in its words
        self.after.make(Job(info.id, tuple(products)))
        status = self.status()
        self.publish(StateEvent(status))
        return status

    def publish_state(self) -> None:
        """Tell every client the status now (the after-run work's progress moved on, the
        box's switches were turned)."""
        self._publish_state()

    def status_state(self) -> RunState:
        """The run's state now, without the rest of the status."""
        with self._lock:
            return self._state

    def handle(self, control: str, to: str, *, held_s: float, bounce: int) -> Status:
        """Move a control of the simulated box as a hand would; the status after."""
        box = self.box
        if box is None:
            raise LapseError(
                "this box has no switches or button: name their pins in [inputs]"
                " (README: Physical controls) and start the daemon again"
            )
        if not box.controls.simulated:
            raise LapseError("these are real switches and a real button: use them on the box")
        box.handle(control, to, held_s=held_s, bounce=bounce)
        return self.status()

    def active_info(self) -> RunInfo | None:
        """The run going now, as its journal describes it; None between runs."""
        with self._lock:
            run = self._run
        return None if run is None else run.info

    def _publish_state(self) -> None:
        status = self.status()
        if self.box is not None:
            self.box.hear(status)
        self.publish(StateEvent(status))
