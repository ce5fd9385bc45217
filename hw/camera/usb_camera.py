"""The USB camera: one thread owns it, every call is bounded, faults cost frames only.

:class:`UsbCamera` implements :class:`core.model.camera.Camera`. Its thread
(``lapse-camera``) takes jobs from a queue the timing thread only ever puts
on, so a camera that is slow, busy, hung or unplugged never delays a GPIO
edge or the socket. Between jobs it collects new files from the camera and
downloads them, one at a time so that a trigger never waits behind a queue
of downloads.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from core.clock import Clock, sleep_ns
from core.model.camera import (
    CameraChanged,
    CameraConfig,
    CameraEvent,
    FileSaved,
    FrameFailed,
    Report,
)
from core.model.durations import NS_PER_S, format_duration
from core.model.errors import CameraError
from core.model.protocol import CameraStatus
from core.model.settings import Settings
from hw.camera.base import CallError, Session
from hw.camera.bounded import BoundedCaller, Reply
from hw.camera.files import (
    DiskFull,
    FreeBytes,
    free_bytes,
    full_message,
    safe_file_name,
    save_file,
)
from hw.camera.speeds import speed_ns

log = logging.getLogger("lapse.camera")
T = TypeVar("T")

POLL_S = 0.2
"""How often a run's camera is asked for new files."""
OWED_POLL_S = 0.02
"""How often, while a frame's file has not shown up yet: files are wanted before the next frame."""
IDLE_S = 5.0
"""How often an idle daemon looks for a camera that is not connected, or reads its battery."""
RUN_BATTERY_S = 60.0
"""How often a run reads the camera's battery: just after a shutter, far from the next."""
BUSY_BACKOFF_S = (0.05, 0.1, 0.2, 0.4, 0.8)
"""Waits before each retry of a call the camera answered with "busy"."""
DISK_RETRY_S = 10.0
"""How often paused downloads look for free space again."""
FILE_EVENT_MS = 10
"""The longest one look for new files waits in libgphoto2 for the camera's first event."""
TRIGGER_GUARD_S = 0.003
"""A look for files ends at least this long before the next trigger is due."""
DOWNLOAD_TRIES = 3
"""A file the camera will not hand over (deleted, unreadable) is left on it after this many."""


@dataclass(frozen=True)
class _Shutter:
    frame: int
    on: bool
    queued: float


@dataclass(frozen=True)
class _Call:
    """Run ``action`` on the camera thread and hand its result to ``reply``."""

    action: Callable[[], Any]
    reply: Reply[Any]


class _Close:
    pass


class UsbCamera:
    """A camera over USB, on its own thread (see :class:`core.model.camera.Camera`)."""

    def __init__(
        self,
        config: CameraConfig,
        open_session: Callable[[], Session],
        *,
        clock: Clock,
        virtual: bool = False,
        free: FreeBytes = free_bytes,
        disk_retry_s: float = DISK_RETRY_S,
        idle_s: float = IDLE_S,
    ) -> None:
        if not config.enabled:
            raise ValueError("UsbCamera needs camera.trigger gpio or usb")
        self.config = config
        self.trigger = config.trigger
        self._open_session = open_session
        self._free = free
        self._disk_retry_s = disk_retry_s
        self._idle_s = idle_s
        self._clock = clock
        self._calls = BoundedCaller(config.call_timeout_ns / NS_PER_S, clock)
        self._jobs = clock.queue()
        """_Shutter, _Call and _Close jobs, taken in order by the camera thread."""
        # Everything below belongs to the camera thread, except _status (under _lock).
        self._session: Session | None = None
        self._prepared: Settings | None = None
        self._bulb_over_usb = False
        self._drives_line = config.trigger == "gpio"
        self._stale_s = 5.0
        self._folder: Path | None = None
        self._report: Report | None = None
        self._frame: int | None = None
        self._waiting: deque[tuple[int | None, str, str]] = deque()
        self._owed: dict[int, float] = {}
        """Frames the camera took whose files have not shown up yet, and since when."""
        self._paused_until = 0.0
        self._failed_tries = 0
        self._next_trigger: float | None = None
        """When the next shutter is due (monotonic s): the last one plus the interval."""
        self._last_file: tuple[str, int] | None = None
        """The stem of the last new file and its frame: RAW + JPEG of one shot share both."""
        self._look_now = False
        self._next_idle = 0.0
        self._next_battery = 0.0
        self._battery_due = False
        self._lock = threading.Lock()
        self._watcher: Callable[[], None] | None = None
        self._status: dict[str, Any] = {
            "trigger": config.trigger,
            "virtual": virtual,
            "connected": False,
            "model": None,
            "battery": None,
            "fault": None,
            "downloads": "on" if config.download else "off",
            "paused": None,
            "saved": 0,
            "waiting": 0,
            "bulb": None,
            "shutter_speed": None,
        }
        self._thread = clock.start_thread(self._loop, "lapse-camera")

    # -- the Camera protocol: any thread ----------------------------------------------
    @property
    def drives_shutter_line(self) -> bool:
        """Whether the engine should switch the GPIO shutter line too."""
        return self._drives_line

    def prepare(self, settings: Settings) -> None:
        """Get the camera ready for ``settings``; :class:`CameraError` if it cannot be."""
        self._on_thread(lambda: self._prepare(settings), "getting ready")

    def begin_run(self, folder: Path, report: Report) -> None:
        """Files go into ``folder`` and events to ``report`` from now on.

        Queued, not awaited: the run's first shutter is already counting down,
        and the camera thread takes its jobs in order, so this comes first.
        """
        self._jobs.put(_Call(lambda: self._begin(folder, report), Reply(self._clock)))

    def shutter(self, frame: int, on: bool) -> None:
        """The engine's shutter edge: queued for the camera thread, never waits."""
        self._jobs.put(_Shutter(frame, on, self._now()))

    def end_run(self) -> None:
        """Collect and download what the last frames produced (bounded), then stop reporting."""
        with contextlib.suppress(CameraError):
            self._on_thread(self._end, "finishing the run")
        # Should the camera thread be stuck, stop reporting all the same.
        self._report = None
        self._folder = None

    def watch(self, changed: Callable[[], None]) -> None:
        """Call ``changed`` (on the camera thread; it must not block) when the status
        shows something new: connected, model, battery, a fault, paused downloads."""
        self._watcher = changed

    def status(self) -> CameraStatus:
        """What ``status`` shows of the camera: trigger, model, battery, fault, downloads."""
        with self._lock:
            return CameraStatus(**self._status)

    def close(self) -> None:
        """Let go of the camera; returns within about one call bound even if it hangs."""
        self._jobs.put(_Close())
        self._thread.join(self._calls.timeout_s + 1.0)
        self._calls.close()

    # -- the camera thread -----------------------------------------------------------
    def _now(self) -> float:
        """The clock's monotonic time in seconds: the camera's waits are seconds long."""
        return self._clock.now_ns() / NS_PER_S

    def _on_thread(self, action: Callable[[], T], doing: str) -> T:
        reply: Reply[T] = Reply(self._clock)
        self._jobs.put(_Call(action, reply))
        # Room for a few bounded calls and the busy retries: never forever.
        bound = 4 * self._calls.timeout_s + sum(BUSY_BACKOFF_S) + 5.0
        if not reply.wait(bound):
            raise CameraError(f"the camera thread did not finish {doing} within {bound:.0f}s")
        return reply.result()

    def _loop(self) -> None:
        self._connect_quietly()
        while True:
            try:
                job = self._jobs.get(timeout=self._wait_s())
            except queue.Empty:
                job = None
            if isinstance(job, _Close):
                break
            try:
                if job is None:
                    self._between_jobs()
                elif isinstance(job, _Shutter):
                    self._shutter(job)
                else:
                    self._run_call(job)
            except Exception as error:  # a bug here must not end the camera thread
                log.exception("camera thread error")
                self._fault(f"camera thread error: {error!r}")
        self._drop_session()

    def _run_call(self, job: _Call) -> None:
        job.reply.run(job.action)

    def _wait_s(self) -> float:
        if self._look_now:
            return 0.0
        if self._report is not None and self._session is not None:
            if self._still_owed():
                # The wait inside libgphoto2 is the pause, when one fits before the trigger.
                return 0.0 if self._look_timeout_ms() > 0 else OWED_POLL_S
            return POLL_S
        return max(0.0, min(self._idle_s, self._next_idle - self._now()))

    def _look_timeout_ms(self) -> int:
        """How long a look for new files may wait in libgphoto2: never into the next trigger.

        A call that finds nothing returns after up to about twice its timeout,
        and a trigger that comes meanwhile waits for it: the USB path's lateness.
        """
        if self._report is None:
            return FILE_EVENT_MS
        if self._next_trigger is None:
            return 0  # the run's first trigger is not yet placed
        room_s = self._next_trigger - self._now() - TRIGGER_GUARD_S
        return max(0, min(FILE_EVENT_MS, int(room_s * 1000 / 2)))

    def _between_jobs(self) -> None:
        self._look_now = False
        now = self._now()
        if self._report is None and now >= self._next_idle:
            # Idle: show a camera that was plugged in, and its battery.
            self._next_idle = now + self._idle_s
            if self._session is None:
                self._connect_quietly()
            else:
                self._read_battery()
        if self._session is None:
            return
        if self._battery_due:
            self._battery_due = False
            self._read_battery()
        self._collect_files(self._look_timeout_ms())
        if self._waiting:
            self._download_next()
            self._look_now = bool(self._waiting) and self._now() >= self._paused_until

    # -- preparing and running --------------------------------------------------------
    def _prepare(self, settings: Settings) -> None:
        if self._session is None:
            try:
                self._connect()
            except CallError as error:
                raise CameraError(str(error)) from None
        self._prepared = settings
        try:
            self._apply_settings(settings, strict=True)
        except CallError as error:
            raise CameraError(str(error)) from None
        self._stale_s = max(0.05, settings.interval_ns / NS_PER_S / 2)

    def _apply_settings(self, settings: Settings, *, strict: bool) -> None:
        """Shutter speed, card and bulb route; ``strict`` refuses what cannot be done."""
        session = self._require_session()
        model = session.model
        speed = self.config.shutter_speed
        if speed:
            choices = self._call(session.shutter_speeds)
            if speed not in choices:
                raise CallError(
                    "unsupported",
                    f'camera.shutter_speed "{speed}" is not one of this camera\'s ({model}):'
                    f" {', '.join(choices) or 'it offers none'}",
                )
            exposure = speed_ns(speed)
            if strict and exposure is not None and exposure >= settings.interval_ns:
                raise CallError(
                    "unsupported",
                    f"the camera's shutter speed {speed} does not fit in the interval"
                    f" ({format_duration(settings.interval_ns)}); choose a faster speed"
                    " or a longer interval",
                )
            self._call(session.set_shutter_speed, speed)
            self._set_status(shutter_speed=speed)
        if not self.config.download:
            self._call(session.keep_on_card)
        self._bulb_over_usb = False
        self._drives_line = self.trigger == "gpio"
        route: str | None = None
        if settings.exposure_ns is not None:
            route = "gpio"
            if self.trigger == "usb":
                if self._call(session.usb_bulb) is not None:
                    self._call(session.prepare_bulb)
                    self._bulb_over_usb, route = True, "usb"
                elif self.config.wired:
                    self._drives_line = True
                else:
                    raise CallError(
                        "unsupported",
                        f"this camera ({model}) cannot time a bulb exposure over USB: it has"
                        " no Bulb shutter speed to hold open. Wire the shutter line and set"
                        " camera.wired = true so lapse holds it on GPIO, or leave the exposure"
                        " to the camera (exposure = pulse)",
                    )
        self._set_status(bulb=route)

    def _begin(self, folder: Path, report: Report) -> None:
        self._folder, self._report = folder, report
        self._frame = None
        self._next_trigger = None
        self._last_file = None
        self._waiting.clear()
        self._owed.clear()
        self._paused_until = 0.0
        self._set_status(saved=0, waiting=0, paused=None)

    def _end(self) -> None:
        """Take in the last frames' files, within about two call bounds."""
        deadline = self._now() + 2 * self._calls.timeout_s
        while self._session is not None and self._now() < deadline:
            if self._waiting:
                if self._now() < self._paused_until:
                    break  # the disk is full: they stay on the camera
                self._download_next()
            elif self._still_owed():
                self._collect_files(timeout_ms=100)
            else:
                break
        self._report = None
        self._folder = None

    def _shutter(self, job: _Shutter) -> None:
        if job.on:
            self._frame = job.frame
            self._look_now = True
            if self._prepared is not None:
                self._next_trigger = job.queued + self._prepared.interval_ns / NS_PER_S
            now = self._now()
            if now >= self._next_battery:
                # Reading settings can take a real camera half a second: do it now,
                # when the next trigger is a whole interval away.
                self._next_battery = now + RUN_BATTERY_S
                self._battery_due = True
        if self._report is None:
            return
        if self._drives_line:
            # The opto line fired (or holds) the shutter: USB only fetches the files.
            if job.on and (self._session is not None or self._connect_for_frame()):
                self._owed[job.frame] = self._now()
            return
        if not job.on and not self._bulb_over_usb:
            return  # the camera timed the exposure itself
        if job.on and self._now() - job.queued > self._stale_s:
            self._frame_failed(
                job.frame, "missed", "the camera was still busy with an earlier call"
            )
            return
        if self._session is None and not self._connect_for_frame():
            if job.on:
                self._frame_failed(job.frame, "error", self.status().fault or "no camera")
            return
        session = self._require_session()
        try:
            if self._bulb_over_usb:
                self._call_retrying(session.bulb, job.on)
            else:
                self._call_retrying(session.trigger)
            if job.on:
                self._owed[job.frame] = self._now()
        except CallError as error:
            what = "the shutter did not open" if job.on else "the shutter did not close"
            self._frame_failed(job.frame, "error", f"{what}: {error}")

    # -- files --------------------------------------------------------------------------
    def _still_owed(self) -> bool:
        """Whether a recent frame's file is still to come; a file that never comes (a
        camera that saves to its card only) is given up on after two call bounds."""
        oldest = self._now() - 2 * self._calls.timeout_s
        for frame in [frame for frame, since in self._owed.items() if since < oldest]:
            del self._owed[frame]
        return bool(self._owed)

    def _collect_files(self, timeout_ms: int = FILE_EVENT_MS) -> None:
        session = self._session
        if session is None:
            return
        try:
            added = self._call(session.new_files, timeout_ms)
        except CallError:
            return
        for folder, name in added:
            self._waiting.append((self._frame_for(name), folder, name))
        if added:
            self._set_status(waiting=len(self._waiting))

    def _frame_for(self, name: str) -> int | None:
        """The frame a new file belongs to: the oldest frame still owed one, since a
        camera may hand over a shot's file after the next trigger; the frame of the
        file before when both share a stem (RAW + JPEG of one shot)."""
        stem = name.rpartition(".")[0] or name
        if self._last_file is not None and self._last_file[0] == stem:
            return self._last_file[1]
        frame = min(self._owed, key=self._owed.__getitem__) if self._owed else self._frame
        if frame is None:
            return None
        self._owed.pop(frame, None)
        self._last_file = (stem, frame)
        return frame

    def _download_next(self) -> None:
        if self._now() < self._paused_until:
            return
        frame, camera_folder, name = self._waiting[0]
        report, folder = self._report, self._folder
        if report is None or folder is None or frame is None:
            self._waiting.popleft()  # not taken by a run of ours: leave it on the card
            self._set_status(waiting=len(self._waiting))
            return
        if not self.config.download:
            self._waiting.popleft()
            shown = "".join(ch for ch in f"{camera_folder}/{name}" if ch.isprintable())
            report(FileSaved(frame=frame, file=f"card:{shown}", size=0))
            self._set_status(waiting=len(self._waiting))
            return
        reserve = self.config.reserve_mb * 1_000_000
        try:
            # Look before the transfer too: a full disk should not cost a download.
            available = self._free(folder)
            if available < reserve:
                raise DiskFull(full_message(available, reserve))
            session = self._require_session()
            data = self._call_retrying(session.download, camera_folder, name)
            target = save_file(
                folder, safe_file_name(frame, name), data, reserve_bytes=reserve, free=self._free
            )
        except DiskFull as full:
            self._pause(str(full))
            return
        except CallError as error:
            if error.kind in ("busy", "unsupported", "failed"):
                self._failed_tries += 1
                if self._failed_tries >= DOWNLOAD_TRIES:
                    self._failed_tries = 0
                    self._waiting.popleft()
                    self._set_status(waiting=len(self._waiting))
                    self._emit(
                        CameraChanged(
                            message=f"camera: frame {frame}'s file stays on the camera: {error}",
                            fault=True,
                        )
                    )
            return  # otherwise the camera is away: the file waits for its return
        except OSError as error:
            self._pause(f"downloads wait: could not write to {folder}: {error.strerror}")
            return
        self._waiting.popleft()
        self._failed_tries = 0
        self._resume_downloads()
        with self._lock:
            self._status["saved"] += 1
            self._status["waiting"] = len(self._waiting)
        report(FileSaved(frame=frame, file=target.name, size=len(data)))

    def _pause(self, message: str) -> None:
        self._paused_until = self._now() + self._disk_retry_s
        if self.status().paused != message:
            self._set_status(paused=message, downloads="paused")
            self._emit(CameraChanged(message=message, fault=True))

    def _resume_downloads(self) -> None:
        if self.status().paused is not None:
            self._set_status(paused=None, downloads="on")
            self._emit(CameraChanged(message="downloads resumed: the disk has room", fault=False))

    # -- the session ---------------------------------------------------------------------
    def _connect(self) -> None:
        """Open the camera; :class:`CallError` if it cannot be."""
        session = self._calls.call(self._open_session)
        self._session = session
        was_fault = self.status().fault
        self._set_status(connected=True, model=session.model, fault=None)
        self._read_battery()
        if self._prepared is not None:
            try:
                self._apply_settings(self._prepared, strict=False)
            except CallError as error:
                log.warning("camera settings not restored: %s", error)
        if was_fault is not None:
            self._emit(CameraChanged(message=f"the camera is back: {session.model}", fault=False))

    def _connect_quietly(self) -> None:
        try:
            self._connect()
        except CallError as error:
            self._set_status(connected=False, fault=str(error))

    def _connect_for_frame(self) -> bool:
        """One attempt per frame while the camera is away; says whether it is back."""
        try:
            self._connect()
        except CallError as error:
            self._fault(str(error))
            return False
        return True

    def _read_battery(self) -> None:
        session = self._session
        if session is None:
            return
        with contextlib.suppress(CallError):
            self._set_status(battery=self._call(session.battery))

    def _require_session(self) -> Session:
        session = self._session
        if session is None:
            raise CallError("gone", "no camera is connected")
        return session

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        """A bounded call; a camera that is gone, hung or failing is let go of."""
        try:
            return self._calls.call(function, *args)
        except CallError as error:
            if error.kind in ("gone", "hung", "failed", "claimed"):
                self._lost(str(error))
            raise

    def _call_retrying(self, function: Callable[..., T], *args: Any) -> T:
        """:meth:`_call`, with "busy" answers retried after a growing wait."""
        for wait in (*BUSY_BACKOFF_S, None):
            try:
                return self._call(function, *args)
            except CallError as error:
                if error.kind != "busy" or wait is None:
                    raise
                log.info("camera busy; retrying in %gs", wait)
                sleep_ns(self._clock, round(wait * NS_PER_S))
        raise AssertionError("unreachable")

    def _lost(self, message: str) -> None:
        self._drop_session()
        self._fault(message)

    def _drop_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            # Queued, not awaited: if the camera is stuck in a call, closing waits behind it.
            self._calls.submit(session.close)
            self._set_status(connected=False)

    def _fault(self, message: str) -> None:
        if self.status().fault != message:
            self._set_status(fault=message)
            log.warning("camera: %s", message)
            self._emit(CameraChanged(message=f"camera: {message}", fault=True))

    def _frame_failed(self, frame: int, status: str, message: str) -> None:
        self._emit(FrameFailed(frame=frame, status=status, message=message))

    def _emit(self, event: CameraEvent) -> None:
        report = self._report
        if report is not None:
            report(event)

    def _set_status(self, **changes: Any) -> None:
        with self._lock:
            shown = any(
                self._status.get(key) != value
                for key, value in changes.items()
                if key not in ("saved", "waiting")  # counts travel with each frame
            )
            self._status.update(changes)
        watcher = self._watcher
        if shown and watcher is not None:
            watcher()
