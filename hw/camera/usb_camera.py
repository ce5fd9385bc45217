"""The USB camera: one thread owns it, every call is bounded, faults cost frames only.

:class:`UsbCamera` implements :class:`core.model.camera.Camera`. Its thread
(``lapse-camera``) takes jobs from a queue the timing thread only ever puts
on, so a camera that is slow, busy, hung or unplugged never delays a GPIO
edge or the socket. Between jobs it collects new files from the camera and
downloads them, one at a time so that a trigger never waits behind a queue
of downloads. What to do at each step (the shutter's route, a trigger too
late to fire, the frame a file belongs to, retries, a full disk) it asks
:mod:`core.model.camera_policy`.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from core.brightness import file_brightness
from core.clock import Clock, sleep_ns
from core.model import camera_policy as policy
from core.model.camera import (
    NO_CHOICE,
    CameraChanged,
    CameraConfig,
    CameraEvent,
    FileSaved,
    FrameFailed,
    Report,
    Trigger,
)
from core.model.durations import NS_PER_MS, NS_PER_S
from core.model.errors import CameraError
from core.model.exposure import AutoExposure, ExposureConfig, Ladder, NoLadder, Setting
from core.model.plan import longest_hold_ns
from core.model.protocol import CameraStatus, RunCamera
from core.model.settings import Settings
from hw.camera.base import CallError, Session
from hw.camera.bounded import BoundedCaller, Reply
from hw.camera.files import DiskFull, FreeBytes, free_bytes, safe_file_name, save_file

log = logging.getLogger("lapse.camera")
T = TypeVar("T")

POLL_S = 0.2
"""How often a run's camera is asked for new files."""
OWED_POLL_S = 0.02
"""How often, while a frame's file has not shown up yet: files are wanted before the next frame."""
IDLE_S = 5.0
"""How often an idle daemon looks for a camera that is not connected, or reads its battery."""
RUN_BATTERY_NS = 60 * NS_PER_S
"""How often a run reads the camera's battery: just after a shutter, far from the next."""
FILE_EVENT_MS = 50
"""The longest look for new files when none is owed (between runs, or every frame's
file is in): jobs for the camera thread wait for a look to end."""
OWED_LOOK_MS = 500
"""The longest look while a frame's file is owed.

libgphoto2 waits for the camera's news in a blocking read that returns the moment an
event comes, so a long look costs nothing and sees the file at once; many short ones
cost a round trip to the camera worker each. (libgphoto2's virtual camera gives each
event to the first look whose timeout reaches the event's due time, 100 ms after the
trigger for a file: a look long enough gets it at once, every frame alike, where 50 ms
looks got it 50 or 100 ms after the trigger, depending on where a look happened to end.)
Jobs for the thread wait for a look to end (at most about twice its timeout), and no
look runs into the next shutter edge (:data:`TRIGGER_GUARD_NS`)."""
TRIGGER_GUARD_NS = 3 * NS_PER_MS
"""A look for files ends at least this long before the next shutter edge is due."""
BULB_SLICE_NS = NS_PER_S
"""While the camera thread holds a bulb open it takes its jobs at least this often."""
EXPOSURE_GUARD_NS = 300 * NS_PER_MS
"""Auto exposure changes the camera's settings only while the next shutter edge is at
least this far off: never in the moments around a shutter (a real camera takes up to
a few tenths of a second to apply a setting)."""
FRAME_QUIET_NS = 20 * NS_PER_MS
"""From a shutter's opening until its file is saved, work in the daemon that can wait
(a journal batch, a client's answer) waits, for at most this long
(:meth:`UsbCamera.quiet_left_ns`). The camera thread's trigger, look, download and save
each need the GIL between their calls into the camera worker; the journal batch that
came with the shutter took it just then (on the virtual camera the trigger reached the
worker 0.89 ms after the shutter, median, and 0.68 ms with this wait). A real camera's
file takes longer than this to come: there only the trigger is kept clear."""
QUIET_LOOK_NS = NS_PER_MS
"""Work that waits for a frame to be taken looks again this often: the frame's file
is usually saved well before :data:`FRAME_QUIET_NS` is up."""
USED_KEPT = 64
"""Frames whose setting is remembered until their file comes (a file later than this
many frames is not measured)."""


@dataclass(frozen=True)
class _Shutter:
    frame: int
    on: bool
    queued_ns: int
    opening: int = 0
    """An opening's number, counted from the first (:attr:`UsbCamera._opened`); 0 for a
    closing."""


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
        exposure: ExposureConfig | None = None,
        free: FreeBytes = free_bytes,
        disk_retry_s: float = policy.DISK_RETRY_NS / NS_PER_S,
    ) -> None:
        if not config.enabled:
            raise ValueError("UsbCamera needs camera.trigger gpio or usb")
        self.config = config
        self.exposure = exposure or ExposureConfig()
        """The ``[exposure]`` table: whether runs set the exposure frame by frame."""
        self.trigger = config.trigger
        """The trigger of the run prepared last, else the config's."""
        self._choice = NO_CHOICE
        """What the run prepared last asked of the camera over the config."""
        self._open_session = open_session
        self._virtual = virtual
        self._free = free
        self._clock = clock
        self._calls = BoundedCaller(config.call_timeout_ns / NS_PER_S, clock)
        self._jobs = clock.queue()
        """_Shutter, _Call and _Close jobs, taken in order by the camera thread."""
        self._opened = 0
        """Shutter openings handed over so far (written by the timing thread only)."""
        self._quiet_until_ns = 0
        """Until when the last opening keeps work that can wait waiting (timing thread)."""
        self._in_hand = 0
        """The last opening the camera thread has taken up (camera thread only)."""
        self._settled = 0
        """The last opening whose frame is taken, its file saved or given up (camera
        thread only)."""
        # Everything below belongs to the camera thread, except _status (under _lock).
        self._session: Session | None = None
        self._prepared: Settings | None = None
        self._route = policy.ShutterRoute.plain(config.trigger)
        self._stale_ns = policy.UNPREPARED_STALE_NS
        self._folder: Path | None = None
        self._report: Report | None = None
        self._files = policy.FrameFiles(config.call_timeout_ns)
        self._waiting: deque[tuple[int | None, str, str]] = deque()
        """New files to take, in order: (their frame, the camera's folder, name)."""
        self._pause = policy.DownloadPause(round(disk_retry_s * NS_PER_S))
        self._tries = policy.DownloadTries()
        self._next_trigger_ns: int | None = None
        """When the next shutter is due (monotonic ns): the last one plus the interval."""
        self._close_due_ns: int | None = None
        """When the open shutter of a bulb the engine times is to close (the run's USB bulb,
        or auto exposure's held on the wired line); None while it is not open."""
        self._look_now = False
        self._deletes = True
        """Whether this camera deletes files from its card when asked."""
        self._auto: AutoExposure | None = None
        """The run's auto exposure, while it has one."""
        self._used: dict[int, Setting] = {}
        """The setting each frame was taken at, until its file is measured."""
        self._pending: Setting | None = None
        """The setting auto exposure chose, until it is set on the camera."""
        self._bulb_closes_ns: int | None = None
        """When the bulb exposure auto exposure opened is to close; None: none is open."""
        self._bulb_frame = 0
        """The frame that bulb exposure is of."""
        self._line_bulb = False
        """On the simulated rig, whether the wired line holds a bulb open on the virtual
        camera (its picture is taken as the line lets go)."""
        self._measured_before: tuple[tuple[str, float], ...] = ()
        """A resumed run's frames before its stop (exposure, brightness), for its auto
        exposure to go on from."""
        self._next_idle_ns = 0
        self._next_battery_ns = 0
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
            "exposure": None,
        }
        self._thread = clock.start_thread(self._loop, "lapse-camera")

    # -- the Camera protocol: any thread ----------------------------------------------
    @property
    def drives_shutter_line(self) -> bool:
        """Whether the engine should switch the GPIO shutter line too."""
        return self._route.drives_line

    def prepare(
        self,
        settings: Settings,
        choice: RunCamera = NO_CHOICE,
        measured: Sequence[tuple[str, float]] = (),
    ) -> None:
        """Get the camera ready for ``settings`` and what the run asks of it over the
        config (``choice``), auto exposure going on from a resumed run's ``measured``
        frames; :class:`CameraError` if it cannot be."""
        history = tuple(measured)
        self._on_thread(lambda: self._prepare(settings, choice, history), "getting ready")

    def begin_run(self, folder: Path, report: Report) -> None:
        """Files go into ``folder`` and events to ``report`` from now on.

        Queued, not awaited: the run's first shutter is already counting down,
        and the camera thread takes its jobs in order, so this comes first.
        """
        self._jobs.put(_Call(lambda: self._begin(folder, report), Reply(self._clock)))

    def shutter(self, frame: int, on: bool) -> None:
        """The engine's shutter edge: queued for the camera thread, never waits."""
        now_ns = self._clock.now_ns()
        opening = 0
        if on:
            # Only the timing thread writes these two; the deadline first, so a reader
            # that sees the new opening never pairs it with the last one's deadline.
            self._quiet_until_ns = now_ns + FRAME_QUIET_NS
            opening = self._opened = self._opened + 1
        self._jobs.put(_Shutter(frame, on, now_ns, opening))

    def line_hold_ns(self) -> int | None:
        """How long the wired line is to hold the next shutter open: auto exposure's bulb,
        with ``trigger = "gpio"``; None otherwise. Read on the timing thread as a frame
        is armed, without a lock: each is one reference, set by the camera thread."""
        auto, route = self._auto, self._route
        if auto is None or not route.drives_line:
            return None
        return auto.current.bulb_ns

    def quiet_left_ns(self, now_ns: int) -> int:
        """How long work that can wait should wait at ``now_ns`` before looking again: 0,
        or a moment while the frame whose shutter opened last is being taken (triggered,
        its file looked for, downloaded and saved), for at most :data:`FRAME_QUIET_NS`
        from its opening. Read from any thread, without a lock."""
        if self._settled >= self._opened:
            return 0
        return max(0, min(self._quiet_until_ns - now_ns, QUIET_LOOK_NS))

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
        # An opener that keeps a process for its sessions (the camera worker) ends it
        # on the I/O thread, behind the session's own close.
        end_opener = getattr(self._open_session, "close", None)
        if end_opener is not None:
            self._calls.submit(end_opener)
        self._calls.close()

    # -- the camera thread -----------------------------------------------------------
    def _on_thread(self, action: Callable[[], T], doing: str) -> T:
        reply: Reply[T] = Reply(self._clock)
        self._jobs.put(_Call(action, reply))
        bound = policy.job_bound_ns(self.config.call_timeout_ns) / NS_PER_S
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
                    self._in_hand = max(self._in_hand, job.opening)
                    self._shutter(job)
                else:
                    self._run_call(job)
            except Exception as error:  # a bug here must not end the camera thread
                log.exception("camera thread error")
                self._fault(f"camera thread error: {error!r}")
            if not (self._waiting or self._files.owing):
                self._settled = self._in_hand  # the frame is taken: nothing need wait for it
        self._drop_session()

    def _run_call(self, job: _Call) -> None:
        job.reply.run(job.action)

    def _wait_s(self) -> float | None:
        """How long to wait for a job before looking after the camera; None: until one comes."""
        if self._look_now or self._bulb_closes_ns is not None:
            return 0.0
        if self._report is not None:
            if self._session is None:
                # A run's camera that is away is looked for at each shutter (one try a
                # frame): until then there is nothing to do, and nothing to spin on.
                return None
            if self._files.still_owed(self._clock.now_ns()):
                # The wait inside libgphoto2 is the pause, when one fits before the trigger.
                return 0.0 if self._look_timeout_ms() > 0 else OWED_POLL_S
            if self._waiting and self._pause.until_ns:
                # Files wait for room on the disk: looked for again as the pause ends.
                left_ns = self._pause.until_ns - self._clock.now_ns()
                return max(0.0, min(POLL_S, left_ns / NS_PER_S))
            return POLL_S
        return max(0.0, min(IDLE_S, (self._next_idle_ns - self._clock.now_ns()) / NS_PER_S))

    def _look_timeout_ms(self) -> int:
        """How long a look for new files may wait in libgphoto2: never into the next edge.

        A call that finds nothing returns after up to about twice its timeout,
        and an edge that comes meanwhile waits for it: the USB path's lateness.
        """
        if self._report is None:
            return FILE_EVENT_MS
        edges = self._edges_ahead()
        if not edges:
            return 0  # the run's first trigger is not yet placed
        now_ns = self._clock.now_ns()
        longest = OWED_LOOK_MS if self._files.still_owed(now_ns) else FILE_EVENT_MS
        room_ns = min(edges) - now_ns - TRIGGER_GUARD_NS
        return max(0, min(longest, room_ns // (2 * NS_PER_MS)))

    def _edges_ahead(self) -> list[int]:
        """When the shutter's next edges are due: the next trigger, a USB bulb's closing
        (the engine's, or auto exposure's own)."""
        dues = (self._next_trigger_ns, self._close_due_ns, self._bulb_closes_ns)
        return [due for due in dues if due is not None]

    def _between_jobs(self) -> None:
        self._look_now = False
        self._close_bulb_in_time()
        now_ns = self._clock.now_ns()
        if self._report is None and now_ns >= self._next_idle_ns:
            # Idle: show a camera that was plugged in, and its battery.
            self._next_idle_ns = now_ns + round(IDLE_S * NS_PER_S)
            if self._session is None:
                self._connect_quietly()
            else:
                self._read_battery()
        self._report_overdue(self._files.overdue(now_ns))
        if self._session is None:
            return
        if self._battery_due and self._close_due_ns is None:
            self._battery_due = False
            self._read_battery()
        self._apply_pending_exposure()
        self._collect_files(self._look_timeout_ms())
        if self._waiting:
            self._download_next()
            self._look_now = bool(self._waiting) and not self._pause.holds(self._clock.now_ns())

    def _close_bulb_in_time(self) -> None:
        """Close auto exposure's bulb at its time. Slept toward it when no file waits to
        be downloaded, a slice at a time so jobs (a stop) are not kept waiting; otherwise
        the downloads go on, each bounded, and it closes after the one under way (a few
        hundredths of a stop on a bulb of seconds)."""
        closes_ns = self._bulb_closes_ns
        if closes_ns is None:
            return
        now_ns = self._clock.now_ns()
        downloading = bool(self._waiting) and not self._pause.holds(now_ns)
        if now_ns < closes_ns and not downloading:
            # (Never a busy wait: the loop comes straight back while a bulb is open.)
            sleep_ns(self._clock, min(closes_ns - now_ns, BULB_SLICE_NS))
        if self._clock.now_ns() >= closes_ns:
            self._close_bulb()

    def _close_bulb(self) -> None:
        """Release the shutter auto exposure's bulb holds open."""
        self._bulb_closes_ns = None
        session = self._session
        if session is None:
            return  # the camera went away with its shutter open: the frame has no file
        try:
            # The simulated body takes its picture as the bulb closes: a full virtual card
            # is emptied as for a trigger, the new session taking the picture the closing
            # painted.
            self._taking(lambda: self._call_retrying(session.bulb, False))
        except CallError as error:
            self._frame_failed(self._bulb_frame, "error", policy.shutter_failure(False, str(error)))

    # -- preparing and running --------------------------------------------------------
    def _prepare(
        self, settings: Settings, choice: RunCamera, measured: tuple[tuple[str, float], ...]
    ) -> None:
        # The run's own trigger and shutter speed, else the config's: a run that asks
        # nothing goes back to the config's, whatever the run before asked.
        self._choice = choice
        self.trigger = Trigger(choice.trigger) if choice.trigger else self.config.trigger
        self._set_status(trigger=self.trigger)
        if self._session is None:
            try:
                self._connect()
            except CallError as error:
                raise CameraError(str(error)) from None
        self._prepared = settings
        self._auto = None
        self._measured_before = measured
        try:
            self._apply_settings(settings, strict=True)
        except CallError as error:
            raise CameraError(str(error)) from None
        self._stale_ns = policy.stale_bound_ns(settings.interval_ns)
        self._files.pace(settings.interval_ns)

    def _apply_settings(self, settings: Settings, *, strict: bool) -> None:
        """Shutter speed, card and bulb route; ``strict`` refuses what cannot be done."""
        session = self._require_session()
        model = session.model
        # The run's own speed, else the config's ("" leaves the camera's as it is).
        asked = self._choice.shutter_speed
        speed = self.config.shutter_speed if asked is None else asked
        auto = self._wants_auto()
        if auto and strict:
            refusal = policy.auto_exposure_refusal(
                speed, settings.exposure_ns, by_run=asked is not None
            )
            if refusal is not None:
                raise CallError("unsupported", refusal.message)
        if speed and not auto:
            choices = self._call(session.shutter_speeds)
            interval_ns = settings.interval_ns if strict else None
            refusal = policy.shutter_speed_refusal(
                speed,
                choices,
                model=model,
                interval_ns=interval_ns,
                named="camera.shutter_speed" if asked is None else "the run's shutter speed",
            )
            if refusal is not None:
                raise CallError("unsupported", refusal.message)
            self._call(session.set_shutter_speed, speed)
            self._set_status(shutter_speed=speed)
        if not self.config.download:
            self._call(session.keep_on_card)
        # Until the camera has agreed to the new route, the run has the plain one.
        self._route = policy.ShutterRoute.plain(self.trigger)
        exposure_ns = settings.exposure_ns
        usb_bulb = policy.asks_for_usb_bulb(self.trigger, exposure_ns) and (
            self._call(session.usb_bulb) is not None
        )
        route = policy.shutter_route(
            self.trigger, exposure_ns, usb_bulb=usb_bulb, wired=self.config.wired, model=model
        )
        if isinstance(route, policy.Refusal):
            raise CallError("unsupported", route.message)
        if route.bulb_over_usb:
            self._call(session.prepare_bulb)
        self._route = route
        self._set_status(bulb=route.bulb)
        if auto:
            self._start_auto_exposure(session, settings)

    def _wants_auto(self) -> bool:
        """Whether the run prepared sets its exposure frame by frame."""
        chosen = self._choice.auto_exposure
        return self.exposure.auto if chosen is None else chosen

    def _start_auto_exposure(self, session: Session, settings: Settings) -> None:
        """Set the camera to auto exposure's setting: on preparing, the one on the ladder
        nearest the camera's own, or a resumed run's last measured frame's; on a camera's
        return, the one the run had reached."""
        config = self.exposure
        if self._auto is None:
            shutters, isos = self._call(session.shutter_speeds), self._call(session.isos)
            try:
                ladder = Ladder.of(
                    shutters,
                    isos,
                    longest_ns=self._longest_ns(settings),
                    iso_min=config.iso_min,
                    iso_max=config.iso_max,
                    speed_ns=policy.speed_ns,
                    bulb=self._bulb_speed(session, shutters),
                )
            except NoLadder as error:
                raise CallError("unsupported", str(error)) from None
            shutter, iso = self._call(session.exposure)
            start = policy.starting_setting(ladder, shutter, iso)
            self._auto = AutoExposure(ladder, config, start)
            before = [
                (setting, brightness)
                for text, brightness in self._measured_before
                if (setting := policy.setting_of(ladder, text)) is not None
            ]
            self._auto.resume(before)
            self._used.clear()
            self._pending = None
        self._set_exposure(session, self._auto.current)

    def _longest_ns(self, settings: Settings) -> int:
        """Auto exposure's longest exposure: the interval less the margin; on the wired
        line, which times its bulbs within the frame's plan, no longer than the plan has
        room for (:func:`~core.model.plan.longest_hold_ns`)."""
        longest = self.exposure.longest_ns(settings.interval_ns)
        if self.trigger == Trigger.GPIO:
            longest = min(longest, longest_hold_ns(settings))
        return longest

    def _bulb_speed(self, session: Session, shutters: list[str]) -> str | None:
        """The camera's Bulb speed when auto exposure may hold it open: over USB with a
        camera that can time a bulb so, or with ``trigger = "gpio"``, where the engine
        holds the wired line for the exposure (:meth:`line_hold_ns`)."""
        bulb = policy.bulb_speed(shutters)
        if bulb is None or self.trigger == Trigger.GPIO:
            return bulb
        if self._call(session.usb_bulb) is None:
            return None
        return bulb

    def _set_exposure(self, session: Session, setting: Setting) -> None:
        if setting.bulb_ns is not None:
            self._call(session.prepare_bulb)
        else:
            self._call(session.set_shutter_speed, setting.shutter)
        if setting.iso is not None:
            self._call(session.set_iso, setting.iso)
        self._set_status(shutter_speed=setting.shutter, exposure=setting.text)

    def _measured(self, frame: int, brightness: float | None) -> None:
        """Auto exposure takes in a saved frame's brightness; its choice waits for room."""
        auto = self._auto
        if auto is None or brightness is None:
            return  # no picture lapse can read in it: the next frame is measured
        used = self._used.pop(frame, None)
        if used is None:
            return
        chosen = auto.measure(brightness, used)
        if chosen is not None:
            self._pending = chosen

    def _apply_pending_exposure(self) -> None:
        """Set auto exposure's choice, when the next shutter edge is far enough off."""
        auto, chosen, session = self._auto, self._pending, self._session
        held_open = self._bulb_closes_ns is not None or self._close_due_ns is not None
        if auto is None or chosen is None or session is None or held_open:
            return  # (never while the shutter is held open)
        edges = self._edges_ahead()
        if edges and min(edges) - self._clock.now_ns() < EXPOSURE_GUARD_NS:
            return  # after the shutter: the frame's setting is the one it was shot at
        self._pending = None
        try:
            self._set_exposure(session, chosen)
        except CallError as error:
            if error.kind == "unsupported":
                self._fault(f"auto exposure stopped: {error}")
                self._auto = None
            return
        auto.current = chosen

    def _begin(self, folder: Path, report: Report) -> None:
        self._folder, self._report = folder, report
        self._next_trigger_ns = self._close_due_ns = self._bulb_closes_ns = None
        self._files.clear()
        self._waiting.clear()
        self._pause.clear()
        self._set_status(saved=0, waiting=0, paused=None)

    def _end(self) -> None:
        """Take in the last frames' files: those awaited no longer than a frame's file is
        (:func:`policy.file_wait_ns`), downloads within about two call bounds."""
        if self._bulb_closes_ns is not None:
            self._close_bulb()  # the run is over: its last exposure ends now
        if self._line_bulb:
            self._virtual_line(on=False)  # the stop let go of the line: as a body would
        deadline_ns = self._clock.now_ns() + 2 * self.config.call_timeout_ns
        while self._session is not None and self._clock.now_ns() < deadline_ns:
            if self._waiting:
                if self._pause.holds(self._clock.now_ns()):
                    break  # the disk is full: they stay on the camera
                self._download_next()
            elif self._files.still_owed(self._clock.now_ns()):
                # Looked for as every frame's file is, in short waits: a longer one made
                # the virtual camera hand the last file out before its time (it gives a
                # wait every event dated within it), 30 ms early at 1 s in camera_e2e.
                self._collect_files(FILE_EVENT_MS)
            else:
                break
        # What has not come by now will not be waited for: the run is over.
        self._report_overdue(self._files.give_up())
        self._report_left_on_card()
        self._report = None
        self._folder = None

    def _report_left_on_card(self) -> None:
        """The files seen but not downloaded (the camera hung, the disk was full) stay on
        the camera's card: each frame's line says where, so none is taken for lost."""
        report = self._report
        while self._waiting:
            frame, camera_folder, name = self._waiting.popleft()
            if report is not None and frame is not None:
                report(policy.kept_on_card(frame, camera_folder, name))
        self._set_status(waiting=0)

    def _report_overdue(self, frames: list[int]) -> None:
        """``frames`` fired and no file came for them in time: each is journaled so."""
        if not frames:
            return
        message = policy.no_file_message(self._files.give_up_ns)
        for frame in frames:
            self._frame_failed(frame, "error", message)

    def _shutter(self, job: _Shutter) -> None:
        if job.on:
            self._files.shutter(job.frame)
            self._look_now = True
            if self._auto is not None:
                self._used[job.frame] = self._auto.current
                self._used.pop(job.frame - USED_KEPT, None)
        self._place_edges(job)
        if self._close_due_ns is None and (job.on or self._route.bulb_over_usb):
            now_ns = self._clock.now_ns()
            if now_ns >= self._next_battery_ns:
                # Reading settings can take a real camera half a second: do it now, when
                # the next edge is a whole interval away (a USB bulb's once it closed).
                self._next_battery_ns = now_ns + RUN_BATTERY_NS
                self._battery_due = True
        if self._report is None:
            return
        age_ns = self._clock.now_ns() - job.queued_ns
        action = policy.edge_action(self._route, on=job.on, age_ns=age_ns, stale_ns=self._stale_ns)
        if action is policy.EdgeAction.NOTHING:
            if self._line_bulb and not job.on:
                self._virtual_line(on=False)
            return
        if action is policy.EdgeAction.MISSED:
            self._frame_failed(job.frame, "missed", policy.MISSED_MESSAGE)
            return
        if action is policy.EdgeAction.WATCH:
            # The opto line fired (or holds) the shutter: USB only fetches the files. The
            # file is owed even to a camera that is away, so a frame with none says so;
            # from the line's release when it holds a bulb.
            used = self._used.get(job.frame)
            bulb_ns = None if used is None else used.bulb_ns
            closes_ns = self._clock.now_ns()
            if bulb_ns is not None:
                closes_ns = self._close_due_ns = job.queued_ns + bulb_ns
            self._files.owe(job.frame, closes_ns)
            if (self._session is not None or self._connect_for_frame()) and self._virtual:
                self._virtual_line(on=True, bulb=bulb_ns is not None)
            return
        if self._session is None and not self._connect_for_frame():
            if job.on:
                self._frame_failed(job.frame, "error", self.status().fault or "no camera")
            return
        session = self._require_session()
        held = self._used.get(job.frame) if job.on else None
        try:
            if action is policy.EdgeAction.BULB:
                self._call_retrying(session.bulb, job.on)
            elif held is not None and held.bulb_ns is not None:
                # Auto exposure's bulb: held open here, closed by the camera thread at
                # its time (the engine's pulse is the trigger's, far shorter).
                self._call_retrying(session.bulb, True)
                self._bulb_closes_ns = self._clock.now_ns() + held.bulb_ns
                self._bulb_frame = job.frame
            else:
                self._trigger(session)
            if job.on:
                # Owed from the shutter's closing: a bulb's file comes after it.
                closes = (self._bulb_closes_ns, self._close_due_ns, self._clock.now_ns())
                self._files.owe(job.frame, next(due for due in closes if due is not None))
        except CallError as error:
            if error.kind == "full":
                self._fault(str(error))  # said once, with the fix; each frame says why
            self._frame_failed(job.frame, "error", policy.shutter_failure(job.on, str(error)))

    def _place_edges(self, job: _Shutter) -> None:
        """Note when the edges after ``job`` are due: the closing of a USB bulb it opened,
        and the next trigger. Looks for files end before them (:meth:`_look_timeout_ms`)."""
        settings = self._prepared
        self._close_due_ns = None
        if not job.on or settings is None:
            return
        self._next_trigger_ns = job.queued_ns + settings.interval_ns
        if self._route.bulb_over_usb and settings.exposure_ns is not None:
            self._close_due_ns = job.queued_ns + settings.exposure_ns

    def _trigger(self, session: Session) -> None:
        """Take a picture; on the simulated rig a full virtual card is emptied first."""
        self._taking(lambda: self._call_retrying(session.trigger))

    def _taking(self, take: Callable[[], None]) -> None:
        """Call ``take``, which takes a picture (a trigger, a bulb's closing); on the
        simulated rig, a full virtual card is emptied and the picture taken again."""
        try:
            take()
        except CallError as error:
            if error.kind != "full" or not self._virtual:
                raise
            # libgphoto2's virtual camera counts its captures per process and says its
            # card is full after 26, whatever is deleted. A new worker process is a
            # fresh library, and so an empty card.
            log.info("the virtual camera's card is full: starting its worker again")
            self._drop_session()
            self._connect()
            self._call_retrying(self._require_session().trigger)

    def _virtual_line(self, *, on: bool, bulb: bool = False) -> None:
        """On the simulated rig the shutter line is wired to the virtual camera: the
        opening the engine switched takes its picture, as an opto would on a real one;
        set to Bulb, the body opens with the line and takes its picture as it lets go.

        A camera that cannot take it has no file to give: the frame is journaled as
        having none once its wait is over, as with a real camera that ignored the line.
        """
        if not on:
            self._line_bulb = False
        with contextlib.suppress(CallError):
            session = self._require_session()
            if not on:
                self._taking(lambda: self._call_retrying(session.bulb, False))
            elif bulb:
                self._call(session.bulb, True)
                self._line_bulb = True
            else:
                self._trigger(session)

    # -- files --------------------------------------------------------------------------
    def _collect_files(self, timeout_ms: int = FILE_EVENT_MS) -> None:
        session = self._session
        if session is None:
            return
        try:
            added = self._call(session.new_files, timeout_ms)
        except CallError:
            return
        for folder, name in added:
            self._waiting.append((self._files.frame_for(name), folder, name))
        if added:
            self._set_status(waiting=len(self._waiting))

    def _download_next(self) -> None:
        if self._pause.holds(self._clock.now_ns()):
            return
        frame, camera_folder, name = self._waiting[0]
        report, folder = self._report, self._folder
        if report is None or folder is None or frame is None:
            self._waiting.popleft()  # not taken by a run of ours: leave it on the card
            self._set_status(waiting=len(self._waiting))
            return
        if not self.config.download:
            self._waiting.popleft()
            report(policy.kept_on_card(frame, camera_folder, name))
            self._set_status(waiting=len(self._waiting))
            return
        reserve = self.config.reserve_mb * 1_000_000
        try:
            # Look before the transfer too: a full disk should not cost a download.
            shortage = policy.short_of_room(self._free(folder), reserve)
            if shortage is not None:
                raise DiskFull(shortage)
            session = self._require_session()
            data = self._call_retrying(session.download, camera_folder, name)
            target = save_file(
                folder, safe_file_name(frame, name), data, reserve_bytes=reserve, free=self._free
            )
        except DiskFull as full:
            self._pause_downloads(str(full))
            return
        except CallError as error:
            # A camera that is away keeps its files for its return; others count as a try.
            if self._tries.failed(error.kind):
                self._waiting.popleft()
                self._set_status(waiting=len(self._waiting))
                self._emit(policy.left_on_camera(frame, str(error)))
            return
        except OSError as error:
            self._pause_downloads(policy.unwritable_message(str(folder), str(error.strerror)))
            return
        self._waiting.popleft()
        self._tries.succeeded()
        self._resume_downloads()
        with self._lock:
            self._status["saved"] += 1
            self._status["waiting"] = len(self._waiting)
        # Measured here, on the camera's thread, once the file is safe: never on the timing one.
        brightness = file_brightness(target)
        used = self._used.get(frame)
        report(
            FileSaved(
                frame=frame,
                file=target.name,
                size=len(data),
                brightness=brightness,
                exposure=None if used is None else used.text,
            )
        )
        self._delete_from_card(camera_folder, name, target, len(data))
        self._measured(frame, brightness)

    def _delete_from_card(self, camera_folder: str, name: str, saved: Path, size: int) -> None:
        """Delete a downloaded file from the camera once it is whole on disk, as
        ``gphoto2 --capture-image-and-download`` does, so the card never fills."""
        if self.config.keep_on_camera or not self._deletes:
            return
        try:
            if saved.stat().st_size != size:
                return  # not what was downloaded: the card keeps its copy
        except OSError:
            return
        session = self._session
        if session is None:
            return
        try:
            self._calls.call(session.delete, camera_folder, name)
        except CallError as error:
            # A file that will not go only stays on the card: the session is let go of
            # only when the camera itself is away, not for one file's sake.
            if error.kind in ("gone", "hung", "claimed"):
                self._lost(str(error))
            elif error.kind == "unsupported":
                self._deletes = False  # this camera will not delete: stop asking
            log.info("camera: %s stays on the card: %s", name, error)

    def _pause_downloads(self, message: str) -> None:
        news = self._pause.pause(self._clock.now_ns(), message)
        if news is not None:
            self._set_status(paused=message, downloads="paused")
            self._emit(news)

    def _resume_downloads(self) -> None:
        news = self._pause.resume()
        if news is not None:
            self._set_status(paused=None, downloads="on")
            self._emit(news)

    # -- the session ---------------------------------------------------------------------
    def _connect(self) -> None:
        """Open the camera; :class:`CallError` if it cannot be."""
        session = self._calls.call(self._open_session)
        self._session = session
        was_fault = self.status().fault
        if self._report is None:
            # Read before saying connected, so a status shows the camera with its battery.
            self._read_battery()
            if self._session is not session:
                raise CallError("gone", self.status().fault or "the camera went away")
            # Just read: the idle look must not read it again at once, as a run may start.
            self._next_idle_ns = self._clock.now_ns() + round(IDLE_S * NS_PER_S)
        else:
            # A frame of the run is waiting for this camera: the battery can wait for it.
            self._battery_due = True
        self._set_status(connected=True, model=session.model, fault=None)
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
            if policy.loses_camera(error.kind):
                self._lost(str(error))
            raise

    def _call_retrying(self, function: Callable[..., T], *args: Any) -> T:
        """:meth:`_call`, with "busy" answers retried after a growing wait."""
        answers = 0
        while True:
            try:
                return self._call(function, *args)
            except CallError as error:
                answers += 1
                wait_ns = policy.busy_retry_ns(error.kind, answers)
                if wait_ns is None:
                    raise
                log.info("camera busy; retrying in %gs", wait_ns / NS_PER_S)
                sleep_ns(self._clock, wait_ns)

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
