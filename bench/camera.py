"""The USB camera path: trigger latency against the GPIO path, throughput against bare gphoto2.

Everything runs in this one process (but libgphoto2 for lapse, which is in its camera
worker process as in the daemon) on libgphoto2's own virtual camera (the
``gphoto2`` wheel's vusb driver, docs/architecture.md §10), with the daemon's side built as
the daemon builds it: :class:`RunController` + the simulated rig (gpiozero
mock pins) + :class:`SystemClock` + a :class:`Journal`, and for USB the real
camera thread (:class:`UsbCamera`). As ``lapse daemon`` does (as root), the
process asks for SCHED_FIFO 1 before any thread starts, and the timing thread
raises itself to SCHED_FIFO 10 (``--no-rt`` leaves everything SCHED_OTHER).

Two facts about the virtual camera shape the method:

- it dates each capture's FILE_ADDED event 100 ms after the trigger, but hands
  it out at once to a ``wait_for_event`` whose timeout reaches that date (it
  "skips ahead" by the timeout);
- its store is "full" after 26 captures in one session, so every run or
  segment below opens a fresh session (≤ 25 captures each), untimed.

(1) Due time → hardware call returned, per frame (µs: p50/p90/p99/max), two paths in
    the same invocation, in alternating runs of ≤ 25 frames (gpio, usb, usb,
    gpio, …), at each ``--interval`` and in each condition (idle; loaded =
    two CPU-bound processes, started at SCHED_OTHER as any other program):

    - **gpio**: camera trigger ``off``; the engine switches the shutter line.
      From: the frame's ``due_ns`` (journal). To: ``time.monotonic_ns()``
      when the rig's ``set_line(SHUTTER, on=True)`` returned (a thin wrapper
      around the GpioRig stamps it).
    - **usb**: camera trigger ``usb``; the engine hands the edge to the camera
      thread, which calls the session's ``trigger()`` on its bounded-call I/O
      thread; as in the daemon, the session is a camera worker process
      (``hw/camera/worker.py``) that calls ``trigger_capture``. From: the
      frame's ``due_ns``. To: ``time.monotonic_ns()`` in this process when
      ``trigger()`` returned (a thin wrapper around the session ``open_session``
      returns stamps it): the worker has answered that the camera took it.

    Both stamps are "the moment the hardware call returned", on the clock
    the engine schedules on (``SystemClock.now_ns`` is ``time.monotonic_ns``).
    A frame with no stamp (skipped, dropped as stale, failed) is ``lost``: it
    is left out of the percentiles and fails the verdict. ``handoff`` = stamp
    − the engine's ``fired_ns`` (taken just before it calls the rig or the
    camera). Targets, per interval and condition: usb p99 − gpio p99 ≤ 1 ms;
    no frame lost on either path. Also
    shown: how many usb frames got a file in the journal, and how long after
    the last frame's due time the run ended (the camera fetches the last files).

    The two default intervals ask different questions. At 150 ms the previous
    frame's file (100 ms) is in before the next trigger: the camera thread is
    idle in its queue. At 80 ms every trigger comes while the thread is still
    looking for the previous frame's file, as with a real camera whose files
    take longer than the interval leaves (docs/architecture.md §10: 0.1–1.5 s).

(2) Capture-and-download throughput (frames/s), closed loop, sides alternating
    in rotating order per round, twice: with lapse's 947-byte sample JPEG in
    the virtual camera's folder, and with a 25 MB JPEG (24 megapixels of
    noise at quality 95, made with Pillow), so that the download and the
    fsync of a real camera's file size are in the figure:

    - **bare**: plain python-gphoto2 in this thread: ``trigger_capture()``;
      ``wait_for_event(T)`` until ``GP_EVENT_FILE_ADDED`` (TIMEOUT and other
      events are skipped); ``file_get``; bytes written to ``name.part``,
      fsynced, renamed, and the folder fsynced: the same durable save as
      lapse's ``save_file`` (lapse also checks free space; that is its own).
    - **lapse**: a :class:`UsbCamera` (trigger ``usb``; ``prepare`` at a 1 s
      interval, so its stale-trigger limit, interval/2, is never reached in a
      closed loop) with ``begin_run`` on a fresh folder, driven as the engine
      drives it (``shutter(k, True)``, ``shutter(k, False)``), each frame as
      soon as the previous frame's ``FileSaved`` has arrived.

    Each session takes 1 untimed warm-up frame, then ≤ 24 timed ones; frames/s
    = timed frames / their summed time, from ``time.perf_counter()`` before
    the first timed trigger to after the last timed file is saved (bare: its
    ``save_file`` returned; lapse: its ``FileSaved`` event taken from the
    queue), summed over the sessions. The target's baseline uses T = lapse's
    ``FILE_EVENT_MS`` (50 ms), its looks when no file is owed; while one is owed
    lapse looks for up to ``OWED_LOOK_MS`` (500 ms, never past half the room
    before the next trigger), so on the virtual camera it may skip ahead further;
    ``--also-bare`` adds baselines at other T for information (default 0 and
    10: T = 0 is a busy loop that sees each file exactly when it is dated,
    never early).
    Target, for each file size: median lapse frames/s ≥ 0.9 × the baseline's median.

This is a shared, noisy machine: read medians and percentiles, and run it
twice. Run from the repo root:
``.venv/bin/python bench/camera.py [--short] [--json FILE]``.
"""

from __future__ import annotations

import bisect
import io
import math
import os
import queue
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    Processes,
    Report,
    bench_parser,
    condition_context,
    fmt,
    median,
    parse_durations,
    percentile,
    print_table,
    run_benchmark,
    temp_dir,
)
from core.clock import SystemClock
from core.daemon.controller import RunController
from core.daemon.engine import SUPPORT_PRIORITY, TIMING_PRIORITY, request_realtime_priority
from core.journal import Journal
from core.model import protocol
from core.model.camera import CameraConfig, CameraEvent, FileSaved, FrameFailed
from core.model.durations import NS_PER_MS, NS_PER_S, format_duration
from core.model.errors import LapseError
from core.model.hardware import HardwareConfig
from core.model.plan import Line
from core.model.records import FrameRecord
from core.model.settings import Settings
from hw.camera.base import CallError, Session
from hw.camera.files import save_file
from hw.camera.usb_camera import FILE_EVENT_MS, UsbCamera
from hw.camera.virtual import SAMPLE_JPEG, SAMPLE_NAME, use_virtual_camera
from hw.camera.worker import CameraWorker, WorkerSession
from hw.gpio_rig import GpioRig
from hw.sim import make_sim_rig

TITLE = "lapse camera benchmark"
PATHS = ("gpio", "usb")

# Targets from the issue.
P99_MARGIN_US = 1000.0
THROUGHPUT_RATIO = 0.9

THROUGHPUT_INTERVAL_NS = 1 * NS_PER_S
"""The interval lapse's camera is prepared with for (2): its stale limit is half of it."""
SESSION_FILES = 26
"""The virtual camera's store is "full" after 26 captures in one session (its capture
counter runs from 98 to 150 in steps of 2); a new session starts it afresh."""
WARM_UP_FRAMES = 1
"""Untimed frames at the start of each throughput session, on both sides."""
FRAME_WAIT_S = 5.0
CALL_BOUND_S = 10.0
"""The camera calls' bound, ``camera.call_timeout``'s default."""
"""The longest one frame of a throughput round may take before the round is abandoned."""


# -- stamping wrappers ------------------------------------------------------------------------
class StampingRig:
    """The simulated GpioRig, stamping when every ``set_line(SHUTTER, True)`` returned."""

    def __init__(self, inner: GpioRig) -> None:
        self.inner = inner
        self.description = inner.description
        self.simulated = inner.simulated
        self.stamps: list[int] = []

    def set_line(self, line: Line, on: bool) -> None:
        self.inner.set_line(line, on)
        if on and line is Line.SHUTTER:
            self.stamps.append(time.monotonic_ns())

    def set_led(self, level: float) -> None:
        self.inner.set_led(level)

    def outputs(self) -> dict[str, float]:
        return self.inner.outputs()

    def release(self) -> None:
        self.inner.release()

    def close(self) -> None:
        self.inner.close()


class StampingSession:
    """A :class:`Session` passing through to gphoto2, stamping when ``trigger()`` returned."""

    def __init__(self, inner: Session, stamps: list[int], closed: threading.Event) -> None:
        self._inner: Session | None = inner
        self.model = inner.model
        self.stamps = stamps
        self._closed = closed

    @property
    def inner(self) -> Session:
        if self._inner is None:
            raise CallError("gone", "the session is closed")
        return self._inner

    def trigger(self) -> None:
        self.inner.trigger()
        self.stamps.append(time.monotonic_ns())

    def battery(self) -> str | None:
        return self.inner.battery()

    def shutter_speeds(self) -> list[str]:
        return self.inner.shutter_speeds()

    def set_shutter_speed(self, value: str) -> None:
        self.inner.set_shutter_speed(value)

    def usb_bulb(self) -> str | None:
        return self.inner.usb_bulb()

    def prepare_bulb(self) -> None:
        self.inner.prepare_bulb()

    def bulb(self, open_: bool) -> None:
        self.inner.bulb(open_)

    def keep_on_card(self) -> None:
        self.inner.keep_on_card()

    def new_files(self, timeout_ms: int) -> list[tuple[str, str]]:
        return self.inner.new_files(timeout_ms)

    def download(self, folder: str, name: str) -> bytes:
        return self.inner.download(folder, name)

    def delete(self, folder: str, name: str) -> None:
        self.inner.delete(folder, name)

    def close(self) -> None:
        """Close, and let go of the gphoto2 camera object before saying so.

        The virtual camera starts afresh (an empty store) only for a session
        opened once the previous camera object is gone, and the camera thread's
        I/O thread may hold on to this wrapper a little longer.
        """
        inner, self._inner = self._inner, None
        try:
            if inner is not None:
                inner.close()
                if isinstance(inner, WorkerSession):
                    inner.worker.stop()  # its process, and with it the virtual card's count
        finally:
            del inner
            self._closed.set()


class SessionOpener:
    """``open_session`` for :class:`UsbCamera`, wrapping each session; knows when it closed."""

    def __init__(self) -> None:
        self.stamps: list[int] = []
        self.closed = threading.Event()
        self.opened = 0

    def __call__(self) -> Session:
        # As the daemon opens it: libgphoto2 in a camera worker process (its environment,
        # the virtual camera's, set by use_virtual_camera before).
        # A worker of its own for every session: only a new process empties the card.
        worker = CameraWorker()
        try:
            session = WorkerSession(worker, CALL_BOUND_S)
        except BaseException:
            worker.stop()
            raise
        self.opened += 1
        self.closed.clear()
        return StampingSession(session, self.stamps, self.closed)


def close_camera(camera: UsbCamera, opener: SessionOpener, timeout_s: float = 5.0) -> None:
    """Close the camera thread and wait for its session to have let go of the camera."""
    camera.close()
    if opener.opened and not opener.closed.wait(timeout_s):
        raise RuntimeError(f"the camera session did not close within {timeout_s:g}s")


# -- (1) due → hardware call -------------------------------------------------------------------
@dataclass
class Block:
    """One run of one path: per-frame lateness of the hardware call, in ns."""

    path: str
    frames: int
    lateness_ns: list[int]
    handoff_ns: list[int]
    lost: int
    """Frames with no hardware call stamped (skipped, dropped or failed)."""
    statuses: dict[str, int]
    not_ok: list[str]
    """Each frame whose record is not ``ok``: its number, status and the journal's reason."""
    files: int
    """Frames whose journal record names a downloaded file (usb only)."""
    end_s: float
    """From the last frame's due time to the run's end (its last files fetched)."""


@dataclass
class Latency:
    """One path at one interval in one condition, all its runs pooled (µs)."""

    interval_ns: int
    condition: str
    path: str
    n: int
    p50_us: float
    p90_us: float
    p99_us: float
    max_us: float
    lost: int
    handoff_p50_us: float
    handoff_p99_us: float
    run_p99_us: list[float] = field(default_factory=list)
    files: int = 0
    end_s: float = math.nan
    """Median over the runs of :attr:`Block.end_s`."""

    @property
    def case(self) -> str:
        return f"{format_duration(self.interval_ns)} {self.condition}"

    @classmethod
    def pooled(
        cls, interval_ns: int, condition: str, path: str, blocks: Sequence[Block]
    ) -> Latency:
        values = [v / 1000 for b in blocks for v in b.lateness_ns]
        handoff = [v / 1000 for b in blocks for v in b.handoff_ns]
        return cls(
            interval_ns=interval_ns,
            condition=condition,
            path=path,
            n=len(values),
            p50_us=percentile(values, 50),
            p90_us=percentile(values, 90),
            p99_us=percentile(values, 99),
            max_us=max(values) if values else math.nan,
            lost=sum(b.lost for b in blocks),
            handoff_p50_us=percentile(handoff, 50),
            handoff_p99_us=percentile(handoff, 99),
            run_p99_us=[percentile([v / 1000 for v in b.lateness_ns], 99) for b in blocks],
            files=sum(b.files for b in blocks),
            end_s=median([b.end_s for b in blocks]),
        )


def match_stamps(
    records: Sequence[FrameRecord], stamps: Sequence[int], interval_ns: int
) -> tuple[list[int], list[int], int]:
    """(lateness, handoff, lost): each fired frame's first stamp in [due, due + interval)."""
    ordered = sorted(stamps)
    lateness: list[int] = []
    handoff: list[int] = []
    lost = 0
    for record in records:
        at = bisect.bisect_left(ordered, record.due_ns)
        if (
            record.status != "ok"
            or record.fired_ns is None
            or at == len(ordered)
            or ordered[at] >= record.due_ns + interval_ns
        ):
            lost += record.slots
            continue
        lateness.append(ordered[at] - record.due_ns)
        handoff.append(ordered[at] - record.fired_ns)
    return lateness, handoff, lost


def _slots_named(record: FrameRecord) -> str:
    """``frame 7``, or ``frames 7–12`` for a gap the journal logged as one range."""
    return (
        f"frame {record.frame}" if record.last is None else f"frames {record.frame}–{record.last}"
    )


class RunWatcher:
    """The controller's ``publish``: notes when the run has ended."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.ended_ns = 0

    def __call__(self, event: protocol.Event) -> None:
        # A state with no run is the camera's news before the run begins.
        status = event.status if isinstance(event, protocol.StateEvent) else None
        if status is not None and status.run is not None and not status.state.live:
            self.ended_ns = time.monotonic_ns()
            self.ended.set()


def run_block(root: Path, name: str, path: str, frames: int, interval_ns: int) -> Block:
    """One in-process run of ``frames`` frames on ``path`` (gpio or usb); stamps matched."""
    rig = StampingRig(make_sim_rig(HardwareConfig()))
    opener = SessionOpener()
    camera: UsbCamera | None = None
    clock = SystemClock()
    try:
        if path == "usb":
            camera = UsbCamera(CameraConfig(trigger="usb"), opener, clock=clock, virtual=True)
        journal = Journal(root / name)
        watcher = RunWatcher()
        controller = RunController(rig, clock, journal, watcher, camera=camera)
        status = controller.start(Settings(interval_ns=interval_ns, frames=frames))
        assert status.run is not None
        run_id = status.run.id
        if not watcher.ended.wait(frames * interval_ns / NS_PER_S + 60):
            raise RuntimeError(f"the {path} run did not end in time")
        records = journal.read_frames(run_id)
    finally:
        try:
            if camera is not None:
                close_camera(camera, opener)
        finally:
            rig.close()
    stamps = rig.stamps if path == "gpio" else opener.stamps
    lateness, handoff, lost = match_stamps(records, stamps, interval_ns)
    statuses: dict[str, int] = {}
    for record in records:
        statuses[record.status] = statuses.get(record.status, 0) + record.slots
    return Block(
        path=path,
        frames=sum(record.slots for record in records),
        lateness_ns=lateness,
        handoff_ns=handoff,
        lost=lost,
        statuses=statuses,
        not_ok=[f"{_slots_named(r)} {r.status}: {r.error}" for r in records if r.status != "ok"],
        files=sum(1 for record in records if record.file),
        end_s=(watcher.ended_ns - max(r.due_ns for r in records)) / NS_PER_S,
    )


def block_order(pairs: int) -> list[str]:
    """gpio, usb, usb, gpio, gpio, usb, …: each path goes first as often as the other."""
    order: list[str] = []
    for index in range(pairs):
        order += list(PATHS) if index % 2 == 0 else list(reversed(PATHS))
    return order


def split_frames(frames: int, most: int) -> list[int]:
    """``frames`` spread evenly over as few parts as hold at most ``most`` each."""
    count = -(-frames // most)
    return [frames // count + (1 if i < frames % count else 0) for i in range(count)]


def bench_latency(
    root: Path, condition: str, frames: int, interval_ns: int, block_frames: int
) -> list[Latency]:
    """Both paths at one interval in one condition, alternating runs; pooled per path."""
    done: dict[str, list[Block]] = {path: [] for path in PATHS}
    sizes = split_frames(frames, block_frames)
    shown: list[str] = []
    case = f"{format_duration(interval_ns)}-{condition}"
    for index, path in enumerate(block_order(len(sizes))):
        size = sizes[len(done[path])]
        block = run_block(root, f"{case}-{index:02d}-{path}", path, size, interval_ns)
        done[path].append(block)
        p99 = percentile([v / 1000 for v in block.lateness_ns], 99)
        text = f"{path} p99 {fmt(p99):>8} µs"
        if block.lost:
            text += f" (lost {block.lost}: {'; '.join(block.not_ok) or block.statuses})"
        shown.append(text)
        if len(shown) == len(PATHS):
            number = len(done[path])
            print(
                f"      runs {number:2}/{len(sizes)} ({size} frames): {' · '.join(shown)}",
                flush=True,
            )
            shown = []
    return [Latency.pooled(interval_ns, condition, path, done[path]) for path in PATHS]


# -- (2) throughput ----------------------------------------------------------------------------
LARGE_BYTES = 25_000_000
"""The large file: 25 MB, a 24-megapixel camera's JPEG at high quality."""


@dataclass(frozen=True)
class Payload:
    """The one file the virtual camera serves for every capture of a throughput phase."""

    name: str
    file_name: str
    data: bytes


def large_jpeg(at_least: int = LARGE_BYTES) -> bytes:
    """A real JPEG of at least ``at_least`` bytes: 3:2 random noise at quality 95 (Pillow).

    Noise does not compress, so its size is known from a small probe; the full
    image is enlarged until it is big enough.
    """
    from PIL import Image

    def encode(width: int) -> bytes:
        height = width * 2 // 3
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=95)
        return out.getvalue()

    per_pixel = len(encode(600)) / (600 * 400)
    width = math.ceil(math.sqrt(at_least / per_pixel * 3 / 2))
    data = encode(width)
    # One correction from the full image's own bytes per pixel, then grow until enough.
    width = math.ceil(width * math.sqrt(at_least * 1.002 / len(data)))
    while len(data := encode(width)) < at_least:
        width = math.ceil(width * 1.005)
    return data


def serve(folder: Path, payload: Payload) -> None:
    """Make ``payload`` the only file in the virtual camera's folder.

    The virtual camera lists its folder when a session opens, so the next
    session hands out this file for every capture.
    """
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    (folder / payload.file_name).write_bytes(payload.data)


@dataclass(frozen=True)
class Side:
    """One side of the throughput comparison: lapse, or the bare loop at one timeout."""

    name: str
    timeout_ms: int | None
    """The bare loop's ``wait_for_event`` timeout; None for lapse."""


@dataclass
class Round:
    """One throughput round of one side: timed frames and the seconds they took."""

    round: int
    side: str
    payload: str
    frames: int
    seconds: float
    sessions: int

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else math.nan


def segments(frames: int) -> list[int]:
    """Timed frames per session; each session also takes :data:`WARM_UP_FRAMES` untimed."""
    return split_frames(frames, SESSION_FILES - WARM_UP_FRAMES - 1)  # one capture to spare


def check_saved(folder: Path, expected: int, size: int, side: str) -> None:
    """Every frame (warm-ups included) is a whole file of ``size`` bytes in ``folder``."""
    saved = [p for p in folder.iterdir() if p.name.startswith("frame-")]
    whole = [p for p in saved if p.suffix == ".jpg" and p.stat().st_size == size]
    if len(whole) != expected or len(saved) != expected:
        raise RuntimeError(f"{side} left {len(whole)} whole files of {len(saved)}, not {expected}")


def time_session(one: Callable[[int], None], first: int, timed: int) -> tuple[int, float]:
    """Warm-up frames, then ``timed`` frames on the clock; (next frame number, seconds)."""
    k = first
    for _ in range(WARM_UP_FRAMES):
        one(k)
        k += 1
    began = time.perf_counter()
    for _ in range(timed):
        one(k)
        k += 1
    return k, time.perf_counter() - began


def bare_frame(gp: Any, camera: Any, folder: Path, k: int, timeout_ms: int) -> None:
    """One frame the bare way: trigger, wait for FILE_ADDED, download, save durably."""
    camera.trigger_capture()
    deadline = time.monotonic() + FRAME_WAIT_S
    while True:
        kind, data = camera.wait_for_event(timeout_ms)
        if kind == gp.GP_EVENT_FILE_ADDED:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"bare loop: no file for frame {k}")
    file = camera.file_get(data.folder, data.name, gp.GP_FILE_TYPE_NORMAL)
    payload = bytes(memoryview(file.get_data_and_size()))
    stem, _, extension = data.name.rpartition(".")
    # The same write as lapse's (.part, fsync, rename, fsync the folder): only the
    # camera handling differs between the two sides.
    save_file(folder, f"frame-{k:06d}-{stem}.{extension.lower()}", payload, reserve_bytes=0)


def bare_session(
    gp: Any, folder: Path, first: int, timed: int, timeout_ms: int
) -> tuple[int, float]:
    """One gphoto2 session (open and close untimed); (next frame number, seconds timed).

    The camera object dies on return: the virtual camera starts afresh (its
    store empty) only once the previous session's object is gone.
    """
    camera = gp.Camera()
    camera.init()
    try:
        return time_session(
            partial(bare_frame, gp, camera, folder, timeout_ms=timeout_ms), first, timed
        )
    finally:
        camera.exit()


def bare_round(side: Side, number: int, folder: Path, frames: int, payload: Payload) -> Round:
    """Plain python-gphoto2, one session per segment."""
    import gphoto2 as gp  # after use_virtual_camera

    assert side.timeout_ms is not None
    folder.mkdir(parents=True)
    k, seconds = 0, 0.0
    parts = segments(frames)
    for timed in parts:
        k, took = bare_session(gp, folder, k, timed, side.timeout_ms)
        seconds += took
    check_saved(folder, k, len(payload.data), side.name)
    return Round(number, side.name, payload.name, frames, seconds, len(parts))


def lapse_frame(camera: UsbCamera, events: queue.SimpleQueue[CameraEvent], k: int) -> None:
    """One frame as the engine gives it (shutter on, then off); back once its file is saved."""
    camera.shutter(k, True)
    camera.shutter(k, False)
    deadline = time.monotonic() + FRAME_WAIT_S
    while True:
        try:
            event = events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError(f"lapse: no file for frame {k}") from None
        if isinstance(event, FileSaved) and event.frame == k:
            return
        if isinstance(event, FrameFailed) and event.frame == k:
            raise RuntimeError(f"lapse failed frame {k}: {event.message}")


def lapse_session(folder: Path, first: int, timed: int) -> tuple[int, float]:
    """One camera thread and session (start, prepare, begin, end, close untimed);
    (next frame number, seconds timed)."""
    opener = SessionOpener()
    camera = UsbCamera(CameraConfig(trigger="usb"), opener, clock=SystemClock(), virtual=True)
    events: queue.SimpleQueue[CameraEvent] = queue.SimpleQueue()
    try:
        camera.prepare(Settings(interval_ns=THROUGHPUT_INTERVAL_NS))
        camera.begin_run(folder, events.put)
        done = time_session(partial(lapse_frame, camera, events), first, timed)
        camera.end_run()
        return done
    finally:
        close_camera(camera, opener)


def lapse_round(side: Side, number: int, folder: Path, frames: int, payload: Payload) -> Round:
    """lapse's camera thread, one per segment."""
    folder.mkdir(parents=True)
    k, seconds = 0, 0.0
    parts = segments(frames)
    for timed in parts:
        k, took = lapse_session(folder, k, timed)
        seconds += took
    check_saved(folder, k, len(payload.data), side.name)
    return Round(number, side.name, payload.name, frames, seconds, len(parts))


def bench_throughput(
    root: Path,
    camera_folder: Path,
    payload: Payload,
    sides: Sequence[Side],
    rounds: int,
    frames: int,
    report: Report,
) -> list[Round]:
    """Every side once per round, the camera serving ``payload``; the order rotates.

    Each round's files are deleted once checked: 25 MB frames add up.
    """
    serve(camera_folder, payload)
    results: list[Round] = []
    for number in range(1, rounds + 1):
        turn = (number - 1) % len(sides)
        shown: list[str] = []
        for side in [*sides[turn:], *sides[:turn]]:
            folder = (
                root / f"throughput-{len(payload.data)}-{number:02d}-{side.name.replace(' ', '-')}"
            )
            try:
                if side.timeout_ms is None:
                    result = lapse_round(side, number, folder, frames, payload)
                else:
                    result = bare_round(side, number, folder, frames, payload)
            except (RuntimeError, OSError, LapseError) as error:
                report.fail(f"throughput ({payload.name}) round {number} {side.name}: {error}")
                shown.append(f"{side.name} failed: {error}")
                continue
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            results.append(result)
            shown.append(f"{side.name} {result.fps:.2f}")
        print(f"    round {number} (frames/s): " + " · ".join(shown), flush=True)
    return results


def fps_of(results: Sequence[Round], side: str, payload: str) -> list[float]:
    """Frames per second of every round of one side with one payload, in round order."""
    return [r.fps for r in results if r.side == side and r.payload == payload]


# -- report --------------------------------------------------------------------------------------
HEADER = (
    "interval",
    "condition",
    "path",
    "n",
    "p50 µs",
    "p90 µs",
    "p99 µs",
    "max µs",
    "lost",
    "handoff p50/p99 µs",
    "files",
    "end s",
)


def print_latency_table(results: Sequence[Latency]) -> None:
    """One row per interval × condition × path."""
    rows = [
        (
            format_duration(r.interval_ns),
            r.condition,
            r.path,
            str(r.n),
            fmt(r.p50_us),
            fmt(r.p90_us),
            fmt(r.p99_us),
            fmt(r.max_us),
            str(r.lost),
            f"{fmt(r.handoff_p50_us)} / {fmt(r.handoff_p99_us)}",
            f"{r.files}/{r.n + r.lost}" if r.path == "usb" else "–",
            fmt(r.end_s, 2),
        )
        for r in results
    ]
    print_table(HEADER, rows, left=3)


def find(results: Sequence[Latency], case: str, path: str) -> Latency | None:
    """One path's pooled figures in one case (interval and condition), if measured."""
    return next((r for r in results if r.case == case and r.path == path), None)


def p99_difference(results: Sequence[Latency], case: str) -> float | None:
    """usb p99 − gpio p99 (µs) in one case, if both were measured."""
    usb, gpio = find(results, case, "usb"), find(results, case, "gpio")
    if usb is None or gpio is None or math.isnan(usb.p99_us) or math.isnan(gpio.p99_us):
        return None
    return usb.p99_us - gpio.p99_us


def latency_checks(report: Report, latency: Sequence[Latency], cases: Sequence[str]) -> None:
    """Per case: usb p99 within 1 ms of gpio's, and no frame lost on either path."""
    for case in cases:
        difference = p99_difference(latency, case)
        report.check(
            f"usb p99 − gpio p99 ≤ {P99_MARGIN_US / 1000:g} ms ({case})",
            None if difference is None else difference <= P99_MARGIN_US,
            "not measured" if difference is None else f"{fmt(difference)} µs",
        )
        for path in PATHS:
            found = find(latency, case, path)
            report.check(
                f"{path}: no frame lost ({case})",
                None if found is None else found.lost == 0,
                "not measured"
                if found is None
                else f"{found.lost} lost (skipped, stale or failed) of {found.n + found.lost}",
            )


def print_throughput(
    report: Report, rounds: Sequence[Round], sides: Sequence[Side], payload: Payload
) -> None:
    """Per-round figures and medians of every side; lapse / each bare side; the target."""
    print(f"Throughput, {payload.name} (frames/s, per round; closed loop, timed frames only):")
    width = max(len(side.name) for side in sides)
    for side in sides:
        values = fps_of(rounds, side.name, payload.name)
        shown = "  ".join(f"{value:6.2f}" for value in values)
        print(f"  {side.name:{width}}  {shown}   median {fmt(median(values), 2)}")
    lapse = fps_of(rounds, "lapse", payload.name)
    for side in sides:
        bare = fps_of(rounds, side.name, payload.name)
        if side.timeout_ms is not None and bare and lapse:
            print(f"  lapse / {side.name} (medians): {median(lapse) / median(bare):.3f}")
    baseline = sides[0].name
    name = (
        f"lapse throughput ≥ {THROUGHPUT_RATIO:g}× the bare gphoto2 loop"
        f" ({baseline}, {payload.name})"
    )
    bare = fps_of(rounds, baseline, payload.name)
    if bare and lapse:
        ratio = median(lapse) / median(bare)
        detail = f"{ratio:.3f} (median {median(lapse):.2f} vs {median(bare):.2f} frames/s)"
        report.check(name, ratio >= THROUGHPUT_RATIO, detail)
    else:
        report.check(name, None, "not measured")


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> Any:
    parser = bench_parser("bench/camera.py", __doc__, conditions=True)
    parser.add_argument(
        "--frames", type=int, default=300, help="latency: frames per path and case (300)"
    )
    parser.add_argument(
        "--interval",
        type=parse_durations,
        default="150ms,80ms",
        help="latency: the interval(s), comma-separated (150ms,80ms)",
    )
    parser.add_argument(
        "--block-frames",
        type=int,
        default=SESSION_FILES - 1,
        help=f"latency: most frames per run (≤ {SESSION_FILES}, default {SESSION_FILES - 1})",
    )
    parser.add_argument("--rounds", type=int, default=5, help="throughput: rounds (5)")
    parser.add_argument(
        "--throughput-frames",
        type=int,
        default=200,
        help="throughput: timed frames per side and round, sample JPEG (200)",
    )
    parser.add_argument(
        "--large-frames",
        type=int,
        default=46,
        help="throughput: timed frames per side and round, 25 MB JPEG (46; 0 skips it)",
    )
    parser.add_argument(
        "--bare-timeout-ms",
        type=int,
        default=FILE_EVENT_MS,
        help="throughput: the target baseline's wait_for_event timeout"
        f" ({FILE_EVENT_MS}: lapse's FILE_EVENT_MS)",
    )
    parser.add_argument(
        "--also-bare",
        default="0,10",
        help="throughput: informative baselines at these timeouts, comma-separated (0,10;"
        " the target's own is not repeated); empty for none",
    )
    parser.add_argument(
        "--skip", choices=("latency", "throughput"), help="leave one of the two benchmarks out"
    )
    parser.add_argument(
        "--no-rt", action="store_true", help="do not ask for SCHED_FIFO (the daemon does)"
    )
    parser.add_argument(
        "--short",
        action="store_true",
        help="a quick smoke run: 50 frames at 150ms idle, 2 rounds of 30 (and 10 large) frames",
    )
    args = parser.parse_args(argv)
    if args.short:
        args.frames, args.interval, args.conditions = 50, [150 * NS_PER_MS], ["idle"]
        args.rounds, args.throughput_frames, args.large_frames = 2, 30, 10
    if args.frames < 20:
        parser.error("--frames must be at least 20")
    if not 1 <= args.block_frames <= SESSION_FILES:
        parser.error(f"--block-frames must be 1 to {SESSION_FILES} (the virtual camera's store)")
    if args.rounds < 1 or args.throughput_frames < 1 or args.bare_timeout_ms < 0:
        parser.error("--rounds, --throughput-frames and --bare-timeout-ms must be positive")
    try:
        also = [int(text) for text in args.also_bare.split(",") if text.strip()]
    except ValueError:
        parser.error("--also-bare takes whole milliseconds, comma-separated")
    if any(value < 0 for value in also):
        parser.error("--also-bare takes whole milliseconds ≥ 0")
    args.sides = [Side(f"bare T={args.bare_timeout_ms}ms", args.bare_timeout_ms)]
    args.sides += [
        Side(f"bare T={t}ms", t) for t in dict.fromkeys(also) if t != args.bare_timeout_ms
    ]
    args.sides.append(Side("lapse", None))
    return args


def libgphoto2_version() -> str:
    """python-gphoto2's and libgphoto2's versions (imports gphoto2: after the virtual camera)."""
    import gphoto2 as gp

    library = gp.gp_library_version(gp.GP_VERSION_SHORT)
    return f"python-gphoto2 {gp.__version__}, libgphoto2 {library[0] if library else '?'}"


def measure(processes: Processes, report: Report, args: Any) -> None:
    """Latency in each condition and interval, then throughput with each file size."""
    intervals = ", ".join(format_duration(ns) for ns in args.interval)
    print(
        f"latency {args.frames} frames per path at {intervals} ({', '.join(args.conditions)};"
        f" alternating runs of ≤ {args.block_frames}); throughput {args.rounds} rounds ×"
        f" {args.throughput_frames} frames (sample) and × {args.large_frames} frames (25 MB)"
    )
    with temp_dir("lapse-camera-", args.keep) as root:
        # Before anything imports gphoto2: libgphoto2 reads these when it first lists ports.
        camera_folder = use_virtual_camera(root / "virtual-camera")
        print(f"virtual camera: {libgphoto2_version()}; its folder {camera_folder}")
        realtime = False if args.no_rt else request_realtime_priority(SUPPORT_PRIORITY)
        if realtime:
            print(
                f"scheduling: SCHED_FIFO {SUPPORT_PRIORITY} for every thread of this process"
                f" (as lapse daemon), the timing thread SCHED_FIFO {TIMING_PRIORITY}"
            )
        else:
            print("scheduling: SCHED_OTHER" + (" (--no-rt)" if args.no_rt else " (not allowed)"))
        report.data["settings"] = {
            key: value for key, value in vars(args).items() if key not in ("json", "sides")
        } | {"sides": [asdict(side) for side in args.sides], "realtime": realtime}
        print()
        if args.skip != "latency":
            sample = Payload(f"{len(SAMPLE_JPEG)}-byte sample", SAMPLE_NAME, SAMPLE_JPEG)
            serve(camera_folder, sample)
            latency, cases = measure_latency(processes, report, root, args)
            if latency:
                print("Due → hardware call returned (µs): gpio = set_line(shutter, on) returned −")
                print("due_ns; usb = session.trigger() returned − due_ns; handoff = that stamp −")
                print("fired_ns; files = frames whose record names a file; end s = median, last")
                print("due → run ended; lost = frames with no stamp (skipped, stale or failed).")
                print_latency_table(latency)
                for case in cases:
                    difference = p99_difference(latency, case)
                    shown = "n/a" if difference is None else f"{fmt(difference)} µs"
                    print(f"  p99 usb − gpio ({case}): {shown}")
                print()
            report.data["latency"] = [asdict(r) for r in latency]
            latency_checks(report, latency, cases)
        if args.skip != "throughput":
            payloads = [
                (
                    Payload(f"{len(SAMPLE_JPEG)}-byte sample", SAMPLE_NAME, SAMPLE_JPEG),
                    args.throughput_frames,
                )
            ]
            if args.large_frames:
                try:
                    data = large_jpeg()
                except RuntimeError as error:
                    report.fail(str(error))
                else:
                    payloads.append(
                        (
                            Payload(f"{len(data) / 1e6:.1f} MB JPEG", "large.jpg", data),
                            args.large_frames,
                        )
                    )
            report.data["throughput"] = []
            for payload, frames in payloads:
                print(
                    f"[2] capture-and-download throughput, closed loop, idle, {payload.name}:"
                    " bare python-gphoto2 (wait_for_event T) vs lapse's camera thread"
                )
                rounds = bench_throughput(
                    root, camera_folder, payload, args.sides, args.rounds, frames, report
                )
                print()
                print_throughput(report, rounds, args.sides, payload)
                print()
                report.data["throughput"] += [asdict(r) | {"fps": r.fps} for r in rounds]


def measure_latency(
    processes: Processes, report: Report, root: Path, args: Any
) -> tuple[list[Latency], list[str]]:
    """[1]: both paths at every interval in every condition."""
    print("[1] due → hardware call returned: gpio (set_line) vs usb (trigger_capture)")
    latency: list[Latency] = []
    cases: list[str] = []
    for condition in args.conditions:
        with condition_context(processes, condition) as what:
            print(f"  [{condition}] {what}", flush=True)
            for interval_ns in args.interval:
                case = f"{format_duration(interval_ns)} {condition}"
                cases.append(case)
                print(f"    interval {format_duration(interval_ns)}")
                try:
                    latency += bench_latency(
                        root, condition, args.frames, interval_ns, args.block_frames
                    )
                except (RuntimeError, OSError, LapseError) as error:
                    print(f"      failed: {error}")
                    report.fail(f"latency {case}: {error}")
    print()
    return latency, cases


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(TITLE, parse_args(argv), measure)


if __name__ == "__main__":
    sys.exit(main())
