"""The daemon's run controller: one run at a time, its timing thread and its journal.

Threads, each with one job:

- the **timing thread** runs the :class:`Engine`; it only ever puts events on
  a queue, so it never waits on the disk, the socket or a client;
- the **journal thread** takes those events, appends frame records (one fsync
  per batch), keeps the counts for ``status`` and hands encoded events to
  ``publish`` (the server's, which sends them to subscribers);
- with a USB camera, the **camera thread** (``hw.camera``) puts its own events
  on the same queue: a frame's file, or that the camera failed a frame, which
  the journal thread appends as a later line for that frame.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from core.clock import Clock, wall_iso
from core.daemon.engine import Engine, EngineExit, request_realtime_priority
from core.daemon.journal_writer import RunWriter, create_run, open_run
from core.daemon.outlook import Outlook
from core.journal import Journal, RunInfo
from core.model import protocol
from core.model.camera import Camera, CameraChanged, FileSaved, FrameFailed
from core.model.durations import NS_PER_MS, format_duration
from core.model.errors import LapseError, SettingsError
from core.model.events import EdgeDone, Fault, FrameDone, SlotsSkipped
from core.model.plan import Plan, make_plan
from core.model.records import AMEND_WINDOW, FrameRecord
from core.model.rig import Rig
from core.model.scheduler import Grid, Scheduler
from core.model.settings import Settings

START_MARGIN_NS = 100 * NS_PER_MS
"""Frame 0's leads begin this long after start at the earliest: the threads get going."""
DOWN_REASON = "the daemon was not running"

Publish = Callable[[bytes], None]


@dataclass(frozen=True)
class _Ended:
    """Put on the queue by the timing thread when the engine returns."""

    state: str | None
    """The run's final state, or None when it stays active (daemon shutting down)."""
    reason: str


@dataclass
class _Counts:
    ok: int = 0
    missed: int = 0
    error: int = 0
    last: FrameRecord | None = None
    fault: str | None = None
    camera_fault: bool = False
    """The fault shown is the camera's, so the camera's "back again" clears it."""
    files: int = 0
    file_bytes: int = 0
    """Files downloaded and their bytes: the planner's size of a frame."""

    @property
    def average_file_bytes(self) -> float | None:
        return self.file_bytes / self.files if self.files else None


class _ActiveRun:
    """A run in progress and the two threads that carry it."""

    def __init__(
        self,
        controller: RunController,
        info: RunInfo,
        writer: RunWriter,
        plan: Plan,
        scheduler: Scheduler,
        counts: _Counts,
        resumed: bool,
    ) -> None:
        self.controller = controller
        self.info = info
        self.writer = writer
        self.plan = plan
        self.scheduler = scheduler
        self.counts = counts
        self.resumed = resumed
        clock = controller.clock
        self.events = clock.queue()
        self.cancel = clock.event()
        self.cancel_means: str | None = "stopped"
        self.engine = Engine(
            controller.rig,
            controller.clock,
            scheduler,
            self.events.put,
            self.cancel,
            camera=controller.camera,
        )
        # Recent frames' records, and camera news that came before its frame's record
        # (the camera thread can fail a frame before the engine has reported it).
        self._recent: dict[int, FrameRecord] = {}
        self._early: dict[int, list[FileSaved | FrameFailed]] = {}
        self.ended = clock.event()
        """Set once the run has ended and its journal is closed (waited on by stop). The
        clock's: the run ends on the clock's time (the camera fetching the last files), so
        a fake clock must see stop waiting, or it would hold time still for ever."""

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
            self.events.put(_Ended("failed", f"engine failed: {error!r}"))
            return
        if result is EngineExit.COMPLETE:
            frames = self.scheduler.frames
            self.events.put(_Ended("finished", f"all {frames} frames done"))
        elif self.cancel_means is None:
            self.events.put(_Ended(None, "daemon shut down; the run resumes when it starts"))
        else:
            self.events.put(_Ended(self.cancel_means, "stopped by the photographer"))

    # -- journal thread -----------------------------------------------------
    def _journal(self) -> None:
        publish = self.controller.publish
        ended: _Ended | None = None
        while ended is None:
            batch = [self.events.get()]
            while True:
                try:
                    batch.append(self.events.get_nowait())
                except queue.Empty:
                    break
            if any(isinstance(item, _Ended) for item in batch):
                ended = next(item for item in batch if isinstance(item, _Ended))
                batch = [item for item in batch if not isinstance(item, _Ended)]
                batch += self._last_camera_events()
            self._write(batch, publish)
        self._end(ended)

    def _last_camera_events(self) -> list[Any]:
        """Let the camera fetch the last frames' files (bounded), and take its news."""
        camera = self.controller.camera
        if camera is None:
            return []
        camera.end_run()
        items: list[Any] = []
        while True:
            try:
                items.append(self.events.get_nowait())
            except queue.Empty:
                return items

    def _write(self, batch: list[Any], publish: Publish) -> None:
        records: list[FrameRecord] = []
        messages: list[bytes] = []
        for item in batch:
            messages += self._absorb(item, records)
        if records:
            try:
                self.writer.append(records)
            except OSError as error:
                self.counts.fault = f"could not write the journal: {error}"
                messages.append(protocol.event("fault", {"message": self.counts.fault}))
        for message in messages:
            publish(message)

    def _absorb(self, item: Any, records: list[FrameRecord]) -> list[bytes]:
        counts = self.counts
        if isinstance(item, FrameDone):
            record = FrameRecord(
                frame=item.frame,
                due_ns=item.due_ns,
                fired_ns=item.fired_ns,
                wall=wall_iso(item.wall_ns),
                status=item.status,
                error=item.error,
            )
            self._remember(record)
            for news in self._early.pop(record.frame, ()):
                self._count_file(news)
                record = self._amended(record, news)
            records.append(record)
            self._count(record)
            return [protocol.event("frame", self._frame_data(record))]
        if isinstance(item, FileSaved | FrameFailed):
            return self._camera_news(item, records)
        if isinstance(item, CameraChanged):
            if item.fault:
                counts.fault, counts.camera_fault = item.message, True
            elif counts.camera_fault:
                counts.fault, counts.camera_fault = None, False
            # A fresh state too: the camera's part of it (connected, model) changed.
            return [
                protocol.event("camera", {"message": item.message, "fault": item.fault}),
                protocol.event("state", self.controller.status()),
            ]
        if isinstance(item, SlotsSkipped):
            grid = self.scheduler.grid
            for frame in range(item.first, item.last + 1):
                due = grid.due_ns(frame)
                record = FrameRecord(
                    frame=frame,
                    due_ns=due,
                    fired_ns=None,
                    wall=wall_iso(item.noticed_wall_ns - (item.noticed_ns - due)),
                    status="missed",
                    error=item.reason,
                )
                records.append(record)
                self._count(record)
            data = {"first": item.first, "last": item.last, "reason": item.reason}
            return [protocol.event("missed", {**data, **self._progress()})]
        if isinstance(item, EdgeDone):
            data = {
                "frame": item.frame,
                "line": item.line.value,
                "on": item.on,
                "at_ns": item.at_ns,
            }
            return [protocol.event("edge", data)]
        if isinstance(item, Fault):
            counts.fault = item.message
            return [protocol.event("fault", {"message": item.message, "frame": item.frame})]
        return []

    def _count(self, record: FrameRecord) -> None:
        counts = self.counts
        setattr(counts, record.status, getattr(counts, record.status) + 1)
        counts.last = record

    def _remember(self, record: FrameRecord) -> None:
        self._recent[record.frame] = record
        for old in [frame for frame in self._recent if frame <= record.frame - AMEND_WINDOW]:
            del self._recent[old]
        for old in [frame for frame in self._early if frame <= record.frame - AMEND_WINDOW]:
            del self._early[old]

    def _camera_news(
        self, news: FileSaved | FrameFailed, records: list[FrameRecord]
    ) -> list[bytes]:
        """A later line for a frame: the file the camera saved, or that it failed the frame."""
        record = self._recent.get(news.frame)
        if record is None:
            newest = max(self._recent, default=news.frame)
            if news.frame > newest - AMEND_WINDOW:
                self._early.setdefault(news.frame, []).append(news)
            return []  # else too old to complete (the journal's AMEND_WINDOW)
        amended = self._amended(record, news)
        if amended == record:
            return []
        counts = self.counts
        self._count_file(news)
        setattr(counts, record.status, getattr(counts, record.status) - 1)
        setattr(counts, amended.status, getattr(counts, amended.status) + 1)
        if counts.last is not None and counts.last.frame == amended.frame:
            counts.last = amended
        self._recent[amended.frame] = amended
        records.append(amended)
        return [protocol.event("frame", self._frame_data(amended))]

    def _count_file(self, news: FileSaved | FrameFailed) -> None:
        """Files downloaded and their bytes, whether the news came before its frame or after."""
        if isinstance(news, FileSaved) and news.size > 0:
            self.counts.files += 1
            self.counts.file_bytes += news.size

    @staticmethod
    def _amended(record: FrameRecord, news: FileSaved | FrameFailed) -> FrameRecord:
        if isinstance(news, FileSaved):
            return replace(record, file=news.file)
        if news.status == "missed":
            return replace(record, status="missed", fired_ns=None, error=news.message)
        return replace(record, status="error", error=news.message)

    def _progress(self) -> dict[str, Any]:
        counts = self.counts
        return {
            "run": self.info.id,
            "frames": self.scheduler.frames,
            "ok": counts.ok,
            "missed": counts.missed,
            "errors": counts.error,
            "files": counts.files,
        }

    def _frame_data(self, record: FrameRecord) -> dict[str, Any]:
        return {**record.to_dict(), **self._progress()}

    def _end(self, ended: _Ended) -> None:
        if ended.state is not None:
            try:
                self.writer.finish(ended.state, ended.reason, self.controller.clock.wall_ns())
            except OSError as error:
                self.counts.fault = f"could not record the end of the run: {error}"
        self.writer.close()
        self.controller._run_ended(self, ended)
        self.ended.set()

    # -- status --------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        now = self.controller.clock.now_ns()
        scheduler = self.scheduler
        # The next shutter on the grid: the engine may already be in that frame's leads,
        # so the scheduler's next frame would be one too far.
        next_frame: int | None = scheduler.grid.first_frame_due_at_or_after(now)
        if scheduler.frames and next_frame is not None and next_frame >= scheduler.frames:
            next_frame = None
        return {
            "state": "running",
            "resumed": self.resumed,
            **self._progress(),
            "settings": self.info.settings.to_dict(),
            "plan": plan_summary(self.plan),
            "anchor_ns": scheduler.grid.anchor_ns,
            "interval_ns": self.info.settings.interval_ns,
            "clock_ppm": self.info.settings.clock_ppm,
            "now_ns": now,
            "next_frame": next_frame,
            "next_due_ns": None if next_frame is None else scheduler.grid.due_ns(next_frame),
            "last_frame": None if self.counts.last is None else self.counts.last.to_dict(),
            "fault": self.counts.fault,
            "started": self.info.created,
        }

    def outlook(self, outlook: Outlook) -> dict[str, Any]:
        """Battery, disk and whether they last the rest of this run."""
        counts = self.counts
        return outlook.report(
            self.info.settings,
            self.plan,
            frames_done=counts.ok + counts.missed + counts.error,
            running_ns=max(0, self.controller.clock.now_ns() - self.scheduler.grid.anchor_ns),
            average_file_bytes=counts.average_file_bytes,
        )


def plan_summary(plan: Plan) -> dict[str, Any]:
    """The plan as plain data, so a client can draw the timeline without recomputing it."""
    return {
        "interval_ns": plan.interval_ns,
        "edges": [[edge.offset_ns, edge.line.value, edge.on] for edge in plan.edges],
        "lead_ns": plan.lead_ns,
        "release_ns": plan.release_ns,
        "bulb": plan.bulb,
    }


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
        self._run: _ActiveRun | None = None
        self._starting = False
        self._last: tuple[RunInfo, _Counts, str] | None = None

    # -- commands --------------------------------------------------------------
    def start(self, settings: Settings) -> dict[str, Any]:
        """Start a new run now (after its delay); raise :class:`LapseError` if one is going."""
        plan = make_plan(settings)
        with self._lock:
            self._refuse_if_running()
            self._starting = True
        try:
            # Outside the lock: the camera may take a few bounded calls to answer,
            # and status must not wait for it. _starting keeps a second start out.
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
                run = _ActiveRun(self, writer.info, writer, plan, scheduler, _Counts(), False)
                self._run = run
                run.start()
        finally:
            with self._lock:
                self._starting = False
        self._publish_state()
        return self.status()

    def resume(self) -> dict[str, Any] | None:
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
            self._refuse_if_running()
            plan = make_plan(info.settings)
            anchor = info.anchor_ns
            if info.boot_id != self.clock.boot_id():
                # A reboot restarted the monotonic clock: re-anchor through the wall clock.
                anchor = self.clock.now_ns() - (self.clock.wall_ns() - info.anchor_wall_ns)
            last = self.journal.last_frame(info.id)
            counts = _Counts(last=last)
            for status, count in self.journal.frame_counts(info.id).items():
                setattr(counts, status, count)
            grid = Grid(anchor, info.settings.interval_ns, info.settings.clock_ppm)
            scheduler = Scheduler(
                plan,
                grid,
                frames=info.settings.frames,
                next_frame=0 if last is None else last.frame + 1,
            )
            writer = open_run(self.journal, info.id)
            run = _ActiveRun(self, info, writer, plan, scheduler, counts, True)
            if camera_fault is not None:
                counts.fault, counts.camera_fault = camera_fault, True
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
            self._run = run
            run.start()
        self._publish_state()
        return run.status()

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
            self._refuse_if_running()
            with open_run(self.journal, info.id) as writer:
                writer.finish("stopped", reason, self.clock.wall_ns())
            counts = _Counts(last=self.journal.last_frame(info.id))
            for status, count in self.journal.frame_counts(info.id).items():
                setattr(counts, status, count)
            self._last = (writer.info, counts, "stopped")
        self._publish_state()
        return writer.info

    def stop(self) -> dict[str, Any]:
        """Stop the run; returns when every output is released and the journal closed."""
        with self._lock:
            run = self._run
            if run is None:
                raise LapseError("no run is going")
        run.cancel_means = "stopped"
        run.cancel.set()
        run.ended.wait()
        return self.status()

    def shutdown(self, timeout: float = 10.0) -> None:
        """End the daemon's part: outputs released, journal flushed, the run left resumable."""
        with self._lock:
            run = self._run
        if run is not None:
            run.cancel_means = None
            run.cancel.set()
            run.ended.wait(timeout)

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the running run's frame count; other changes need a new run."""
        with self._lock:
            run = self._run
            if run is None:
                raise LapseError("no run is going; settings are given with start")
            unknown = sorted(set(changes) - {"frames"})
            if unknown:
                raise SettingsError(
                    f"{', '.join(unknown)} cannot change during a run (the grid would move);"
                    " stop and start a new run. Only frames can change now"
                )
            if "frames" not in changes:
                raise SettingsError('update needs frames, e.g. {"frames": 500}')
            frames = changes["frames"]
            settings = run.info.settings.with_changes(frames=frames)
            if 0 < frames <= run.scheduler.next_frame:
                raise SettingsError(
                    f"frames must be 0 (until stopped) or more than the"
                    f" {run.scheduler.next_frame} slots already begun, got {frames}"
                )
            run.scheduler.frames = settings.frames
            run.info = run.writer.update_settings(settings)
        self._publish_state()
        return self.status()

    def status(self) -> dict[str, Any]:
        """The snapshot clients show: state, counts, next shutter, last frame, fault."""
        base = {
            "outputs": self.rig.outputs(),
            "rig": self.rig.description,
            "simulated": self.rig.simulated,
            "notice": self.notice,
            "camera": None if self.camera is None else self.camera.status(),
        }
        with self._lock:
            run, last = self._run, self._last
        if self.outlook is not None:
            if run is not None:
                base.update(run.outlook(self.outlook))
            else:
                base.update(
                    self.outlook.report(
                        None, None, frames_done=0, running_ns=0, average_file_bytes=None
                    )
                )
        if run is not None:
            return {**base, **run.status()}
        if last is None:
            return {**base, "state": "idle", "run": None, "now_ns": self.clock.now_ns()}
        info, counts, state = last
        return {
            **base,
            "state": state,
            "run": info.id,
            "frames": info.settings.frames,
            "ok": counts.ok,
            "missed": counts.missed,
            "errors": counts.error,
            "settings": info.settings.to_dict(),
            "last_frame": None if counts.last is None else counts.last.to_dict(),
            "fault": counts.fault,
            "now_ns": self.clock.now_ns(),
        }

    # -- internals -----------------------------------------------------------------
    def _refuse_if_running(self) -> None:
        if self._starting:
            raise LapseError("a run is being started; wait a moment and ask again")
        run = self._run
        if run is not None:
            every = format_duration(run.info.settings.interval_ns)
            raise LapseError(
                f"a run is already going (run {run.info.id}, every {every});"
                " stop it first with `lapse stop`"
            )

    def _run_ended(self, run: _ActiveRun, ended: _Ended) -> None:
        with self._lock:
            if self._run is run:
                self._run = None
            self._last = (run.info, run.counts, ended.state or "interrupted")
        self._publish_state()

    def _publish_state(self) -> None:
        self.publish(protocol.event("state", self.status()))
