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

import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.clock import Clock
from core.daemon.engine import Engine, EngineExit, request_realtime_priority
from core.daemon.journal_writer import RunWriter, create_run, open_run
from core.daemon.outlook import Outlook
from core.journal import Journal, RunInfo
from core.model.camera import Camera
from core.model.durations import NS_PER_MS, format_duration
from core.model.errors import LapseError, SettingsError
from core.model.events import Fault, SlotsSkipped
from core.model.ledger import Dropped, Entries, RunLedger, resume_point
from core.model.plan import Plan, make_plan
from core.model.protocol import (
    Counts,
    Event,
    PlanEvent,
    RunPreview,
    RunStatus,
    StateEvent,
    Status,
    Subscribed,
)
from core.model.records import FrameRecord
from core.model.rig import Rig
from core.model.run_state import RunState, advance
from core.model.scheduler import Grid, Scheduler
from core.model.settings import Settings

START_MARGIN_NS = 100 * NS_PER_MS
"""Frame 0's leads begin this long after start at the earliest: the threads get going."""
DOWN_REASON = "the daemon was not running"
STOPPED_REASON = "stopped by the photographer"
MAX_UNWRITTEN = 20_000
"""Frame lines kept in memory while the journal cannot be written (a full disk): days of
frames at a long interval, a few MB; beyond it the oldest are given up, and said so."""
JOURNAL_RETRY_S = 5.0
"""While lines wait, the journal is tried again this often even when no frame fires."""


def unrecorded_end(state: RunState, error: OSError) -> str:
    """The one line that says a run's end could not be written to ``run.toml``."""
    why = error.strerror or str(error)
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
    ) -> None:
        self.controller = controller
        self.writer = writer
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
        )
        self.unwritten: deque[FrameRecord] = deque()
        """Lines the journal could not take yet (a full disk), oldest first."""
        self.dropped: Dropped | None = None
        """Lines given up since the journal last took every line."""
        self.end_unrecorded: str | None = None
        """Why the run's end could not be written to ``run.toml``: it stays active there."""
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
            camera.begin_run(self.info.path, self.events.put)
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
                ended = next(item for item in batch if isinstance(item, _Ended))
                batch = [item for item in batch if not isinstance(item, _Ended)]
                batch += self._last_camera_reports()
            self._write(batch)
        self._end(ended)

    def _wait_for_the_shutter(self) -> None:
        """Let a shutter that is about to open have the GIL first (``Engine.quiet_left_ns``)."""
        clock = self.controller.clock
        now = clock.now_ns()
        left = self.engine.quiet_left_ns(now)
        if left:
            clock.wait_until(now + left)

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
        self._publish(entries)

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
        self.unwritten.clear()
        dropped, self.dropped = self.dropped, None
        return self.ledger.journal_written(dropped)

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
        self.writer.close()
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
            next_frame = scheduler.grid.first_frame_due_at_or_after(now_ns)
            if scheduler.frames and next_frame >= scheduler.frames:
                next_frame = None
        return RunStatus(
            id=self.info.id,
            settings=self.info.settings,
            anchor_ns=scheduler.grid.anchor_ns,
            counts=self.ledger.counts,
            last_frame=self.ledger.last,
            resumed=self.resumed,
            next_frame=next_frame,
            next_due_ns=None if next_frame is None else scheduler.grid.due_ns(next_frame),
        )

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
    ) -> None:
        self.rig = rig
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

    # -- commands --------------------------------------------------------------
    def start(self, settings: Settings) -> Status:
        """Start a new run now (after its delay); raise :class:`LapseError` if one is going."""
        plan = make_plan(settings)
        with self._lock:
            self._refuse_if_live()
            before = self._state
            self._move(RunState.STARTING)
        self._publish_state()
        try:
            # Outside the lock: the camera may take a few bounded calls to answer,
            # and status must not wait for it. STARTING keeps a second start out.
            if self.camera is not None:
                self.camera.prepare(settings)
            with self._lock:
                now = self.clock.now_ns()
                anchor = now + max(settings.delay_ns, plan.lead_ns) + START_MARGIN_NS
                anchor_wall = self.clock.wall_ns() + (anchor - now)
                writer = create_run(
                    self.journal,
                    settings=settings,
                    anchor_ns=anchor,
                    anchor_wall_ns=anchor_wall,
                    boot_id=self.clock.boot_id(),
                    created_wall_ns=self.clock.wall_ns(),
                    rig=self.rig.description,
                )
                grid = Grid(anchor, settings.interval_ns, settings.clock_ppm)
                scheduler = Scheduler(plan, grid, frames=settings.frames)
                ledger = RunLedger(writer.info.id, grid)
                run = _ActiveRun(self, writer, plan, scheduler, ledger, resumed=False)
                self._place(run, RunState.WAITING)
        except BaseException:
            with self._lock:
                if self._state is RunState.STARTING:
                    self._move(before)
            self._publish_state()
            raise
        self._publish_state()
        return self.status()

    def resume(self) -> RunStatus | None:
        """Resume the journal's active run, if any, on its original grid."""
        info = self.journal.active_run()
        if info is None:
            return None
        camera_fault: str | None = None
        if self.camera is not None:
            # Outside the lock: the camera thread reports to clients through status().
            try:
                self.camera.prepare(info.settings)
            except LapseError as error:
                # The run resumes all the same: the camera costs frames, not the run.
                camera_fault = f"camera: {error}"
        with self._lock:
            self._refuse_if_live()
            if self._state is RunState.IDLE:
                self._move(RunState.INTERRUPTED)  # as the last daemon left it
            plan = make_plan(info.settings)
            counts, last = self._journaled_counts(info)
            point = resume_point(
                anchor_ns=info.anchor_ns,
                anchor_wall_ns=info.anchor_wall_ns,
                run_boot_id=info.boot_id,
                boot_id=self.clock.boot_id(),
                now_ns=self.clock.now_ns(),
                wall_ns=self.clock.wall_ns(),
                last=last,
            )
            grid = Grid(point.anchor_ns, info.settings.interval_ns, info.settings.clock_ppm)
            scheduler = Scheduler(
                plan, grid, frames=info.settings.frames, next_frame=point.next_frame
            )
            ledger = RunLedger(info.id, grid, counts=counts, last=last)
            if camera_fault is not None:
                ledger.camera_fault_at_start(camera_fault)
            writer = open_run(self.journal, info.id)
            run = _ActiveRun(self, writer, plan, scheduler, ledger, resumed=True)
            # Slots lost while down are logged with their true reason before the engine starts.
            gap = scheduler.skip_past(self.clock.now_ns())
            if gap is not None:
                run.events.put(
                    SlotsSkipped(
                        first=gap.first,
                        last=gap.last,
                        noticed_ns=self.clock.now_ns(),
                        noticed_wall_ns=self.clock.wall_ns(),
                        reason=DOWN_REASON,
                    )
                )
            self._place(run, RunState.WAITING if last is None else RunState.RUNNING)
        self._publish_state()
        return run.status(self.clock.now_ns(), live=True)

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
        run.ended.wait()
        if run.end_unrecorded is not None:
            raise LapseError(run.end_unrecorded)
        return self.status()

    def shutdown(self, timeout: float = 10.0) -> None:
        """End the daemon's part: outputs released, journal flushed, the run left resumable."""
        with self._lock:
            run = self._run
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
                scheduler.frames - 1
            ):
                # Past the last shutter the engine may have found the run complete and be
                # ending it: a count changed now could be acknowledged and never taken.
                # Before it, the engine has the last frame's steps to go and reads the
                # count again after them.
                raise LapseError(f"run {run.info.id} has taken its last frame; start a new run")
            if 0 < frames <= run.scheduler.next_frame:
                raise SettingsError(
                    f"frames must be 0 (until stopped) or more than the"
                    f" {run.scheduler.next_frame} slots already begun, got {frames}"
                )
            run.scheduler.frames = settings.frames
            run.writer.update_settings(settings)
        self._publish_state()
        return self.status()

    def preview(self, settings: Settings) -> RunPreview:
        """Whether the battery and the disk would last a run of ``settings`` started now."""
        if self.outlook is None:
            raise LapseError("this daemon watches neither battery nor disk")
        return self.outlook.preview(settings, make_plan(settings))

    def subscribed(self) -> Subscribed:
        """The answer to ``subscribe``: the status, and the plan of the run going."""
        with self._lock:
            run = self._run
        return Subscribed(self.status(), None if run is None else run.plan_event())

    def status(self) -> Status:
        """The snapshot clients show: state, counts, next shutter, last frame, fault."""
        now = self.clock.now_ns()
        with self._lock:
            state, run, last = self._state, self._run, self._last
        camera = None if self.camera is None else self.camera.status()
        if run is not None:
            run_status: RunStatus | None = run.status(now, live=state.live)
            fault = run.ledger.fault
        elif last is not None and state is not RunState.STARTING:
            run_status, fault = last.status, last.fault  # until the next run is placed
        else:
            run_status, fault = None, None
        status = Status(
            state=state,
            now_ns=now,
            rig=self.rig.description,
            simulated=self.rig.simulated,
            outputs=self.rig.outputs(),
            notice=self.notice,
            run=run_status,
            fault=fault,
            camera=camera,
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
        )

    def quiet_left_ns(self) -> int:
        """How long work that can wait (a client's command) should wait now: 0, or until
        the shutter about to open has (``Engine.quiet_left_ns``)."""
        run = self._run  # one reference, read without the lock: asked before every answer
        return 0 if run is None else run.engine.quiet_left_ns(self.clock.now_ns())

    def timing_stalled(self, now_ns: int, grace_ns: int) -> str | None:
        """Why the run's timing thread looks stuck at ``now_ns``; None while it keeps up
        or when no run is going (for the watchdog)."""
        with self._lock:
            run = self._run
        return None if run is None else run.engine.stalled(now_ns, grace_ns)

    # -- internals -----------------------------------------------------------------
    def _journaled_counts(self, info: RunInfo) -> tuple[Counts, FrameRecord | None]:
        """A run's counts and newest frame as its journal has them."""
        counts = self.journal.frame_counts(info.id)
        return (
            Counts(ok=counts["ok"], missed=counts["missed"], errors=counts["error"]),
            self.journal.last_frame(info.id),
        )

    def _journaled_status(self, info: RunInfo) -> RunStatus:
        """A run that is not going, as its journal has it."""
        counts, last = self._journaled_counts(info)
        return RunStatus(
            id=info.id,
            settings=info.settings,
            anchor_ns=info.anchor_ns,
            counts=counts,
            last_frame=last,
        )

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
        self._move(RunState.STOPPED)
        return writer.info

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
            if self._run is run:
                self._run = None
            self._last = _LastRun(run.status(now, live=False), run.ledger.fault)
            self._move(state)
        self._publish_state()

    def _publish_state(self) -> None:
        self.publish(StateEvent(self.status()))
