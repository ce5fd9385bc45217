"""The camera path end to end: when each frame's file arrives, lapse against gphoto2's loops.

On libgphoto2's own virtual camera (the ``gphoto2`` wheel's vusb port driver and the
PTP camera behind it, serving the JPEGs of one folder), four methods each take
``--batches`` batches of ``--frames`` frames (25: the virtual card keeps 26 pictures a
process, so every batch starts a fresh process) at each ``--intervals``:

- **lapse usb**: a fresh ``lapse daemon`` per batch (``LAPSE_HW=sim``, ``[camera]
  trigger = "usb"``) and ``lapse run --interval I --frames N --wait``; the camera
  thread triggers over USB, through its camera worker process, and downloads.
- **lapse gpio**: the same with ``trigger = "gpio"``: the simulated shutter line
  fires on the grid and reaches the virtual camera; USB only downloads.
- **lapse usb auto**, **lapse gpio auto** (with ``--auto-exposure``): each of the two
  with ``[exposure] mode = "auto"``: every saved frame is measured and the next one's
  shutter speed and ISO set over USB (the simulated sky's picture is painted as bright
  as they make it, so the exposure settles over the first frames); how many settings
  changed is printed for each.
- **gphoto2 --interval**: Debian's ``gphoto2`` command line, ``--capture-image-and-download
  --interval S --frames N``, its own loop (whole seconds only: intervals that are not
  are skipped for it).
- **spawn loop**: ``gphoto2 --capture-image-and-download`` spawned for each frame, then
  ``sleep(I)``, as Pi time-lapse scripts do.

The command line reaches the wheel's virtual camera because it is pointed at the
wheel's libraries: ``LD_LIBRARY_PATH`` to its libgphoto2 folder, ``IOLIBS`` to its vusb
folder, ``CAMLIBS`` to its camlibs folder, ``VCAMERADIR`` to the folder of JPEGs.

Every figure is a file's arrival against the method's grid. Arrival: ``time.monotonic_ns()``
when one watcher thread, for every method, reads the inotify event that the file was
closed after writing or renamed into its folder (``IN_CLOSE_WRITE``, ``IN_MOVED_TO``;
lapse writes ``….part`` and renames). Grid: k·I, placed where it fits the batch's files
best (the median of arrival − k·I). Deviation: arrival − grid, per frame; p50/p99/max of
its absolute value, pooled over the batches; drift: the median over batches of (the
median deviation of a batch's last tenth − that of its first tenth, as bench/timing.py
computes drift); missed: frames of a batch with no file. CPU per run: user + system
time of the method's processes over the batch (lapse: the daemon and its camera
workers, from just before ``lapse run`` to the run's end, not the daemon's start-up
nor the client; gphoto2: the whole process; spawn loop: every child).

Then the camera gone: the daemon's camera side (bench/camera_away.py: the controller,
engine, simulated rig, camera thread, journal and camera worker of a daemon, in one
process) runs 1 s frames (``--gone-run``), side by side with the same run whose camera
is unplugged for ``--gone`` (60 s) in its middle (every camera call answers "gone" and
every open fails, as with no camera on the USB port); each one's CPU (the process and
its camera workers, ``/proc``) over the same window of its run.

Targets: lapse's drift and p99 no worse than the gphoto2 loop's, with auto exposure on
too; lapse's CPU per frame below both gphoto2 methods'; no file missed by lapse; the
daemon's CPU with the camera gone no more than with it present.

Run from the repo root: ``.venv/bin/python bench/camera_e2e.py [--install]``.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    PYTHON,
    REPO_ROOT,
    Processes,
    Report,
    apt_install,
    bench_parser,
    clock_ticks,
    daemon_env,
    drift_ns,
    fmt,
    lapse_command,
    median,
    ordinary_scheduling,
    parse_durations,
    percentile,
    print_table,
    proc_stat_fields,
    read_journal,
    run_benchmark,
    start_daemon,
    stop_daemon,
    temp_dir,
    wait_for_hello,
)
from bench.camera_away import AWAY_FLAG
from core.atomic import write_atomic
from core.model.durations import NS_PER_S, format_duration
from hw.camera.sky import PICTURE_NAME, steady_day_picture
from hw.camera.virtual import use_virtual_camera, wheel_folder

TITLE = "lapse camera end-to-end benchmark"
METHODS = ("lapse usb", "lapse gpio", "gphoto2 --interval", "spawn loop")
AUTO_METHODS = ("lapse usb auto", "lapse gpio auto")
LAPSE_METHODS = ("lapse usb", "lapse gpio", *AUTO_METHODS)
LAPSE_NAME = re.compile(r"frame-(\d+)-.*\.jpg$", re.IGNORECASE)
"""A frame file as lapse names it: its frame number first."""
BATCH_FRAMES = 25
"""The virtual card keeps 26 pictures a process; 25 leaves one to spare."""
BATCHES = 5
INTERVALS = "1s,2s"
GONE_RUN_S = 150
GONE_S = 60


# -- the watcher -------------------------------------------------------------------------------
IN_CLOSE_WRITE = 0x08
IN_MOVED_TO = 0x80
_EVENT = struct.Struct("iIII")


class Watcher:
    """One thread stamping every new file in the folders it watches (inotify)."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._folders: dict[int, Path] = {}
        self.arrivals: dict[Path, int] = {}
        """Each file's path → ``time.monotonic_ns()`` when its event was read."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="watcher", daemon=True)
        self._thread.start()

    def watch(self, folder: Path) -> None:
        mask = IN_CLOSE_WRITE | IN_MOVED_TO
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), mask)
        if wd < 0:
            raise OSError(ctypes.get_errno(), f"cannot watch {folder}")
        with self._lock:
            self._folders[wd] = folder

    def files(self, folder: Path, suffixes: tuple[str, ...] = (".jpg", ".JPG")) -> list[int]:
        """The arrival stamps of ``folder``'s files, in order of arrival."""
        with self._lock:
            return sorted(
                at
                for path, at in self.arrivals.items()
                if path.parent == folder and path.name.endswith(suffixes)
            )

    def frame_files(self, folder: Path) -> list[tuple[int, int]]:
        """(frame, arrival stamp) of each of ``folder``'s files named by lapse
        (``frame-000022-…``), in order of arrival."""
        found = []
        with self._lock:
            for path, at in self.arrivals.items():
                named = LAPSE_NAME.match(path.name)
                if path.parent == folder and named is not None:
                    found.append((int(named.group(1)), at))
        return sorted(found, key=lambda pair: pair[1])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        os.close(self._fd)

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.2)
            if not ready:
                continue
            now = time.monotonic_ns()
            with contextlib.suppress(BlockingIOError):
                data = os.read(self._fd, 65536)
                self._take(data, now)

    def _take(self, data: bytes, now: int) -> None:
        offset = 0
        while offset < len(data):
            wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size
            name = data[offset : offset + length].rstrip(b"\0").decode(errors="replace")
            offset += length
            with self._lock:
                folder = self._folders.get(wd)
                if folder is not None and not name.endswith(".part"):
                    self.arrivals.setdefault(folder / name, now)


# -- CPU of a process and its camera workers ---------------------------------------------------
def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(proc_stat_fields(int(entry.name))[3]) == pid:
                    found.append(int(entry.name))
    return found


def tree_ticks(pid: int) -> int:
    """utime + stime of ``pid``, of its reaped children, and of its live children."""
    fields = proc_stat_fields(pid)
    total = sum(int(fields[i]) for i in (13, 14, 15, 16))
    for child in children_of(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            child_fields = proc_stat_fields(child)
            total += int(child_fields[13]) + int(child_fields[14])
    return total


# -- the methods -------------------------------------------------------------------------------
@dataclass
class Batch:
    method: str
    interval_ns: int
    frames: int
    arrivals_ns: list[int]
    cpu_s: float
    note: str = ""
    exposure_changes: int = 0
    """Frames whose auto exposure setting differs from the frame's before."""
    slots: list[int] | None = None
    """Each arrival's frame, when its file's name tells it (lapse's ``frame-000022-…``):
    a missed frame then shifts no later file off its slot. None: the files are the
    frames in order of arrival (gphoto2 names them by its own count)."""

    @property
    def missed(self) -> int:
        return max(0, self.frames - len(self.arrivals_ns))

    def deviations_ns(self) -> list[float]:
        """Each file's arrival − its slot on the batch's grid: k·interval, placed where it
        fits the files best (the median of arrival − k·interval), so no one late file
        (the first, say) shifts the others."""
        slots = self.slots if self.slots is not None else range(len(self.arrivals_ns))
        offsets = [at - k * self.interval_ns for k, at in zip(slots, self.arrivals_ns, strict=True)]
        if not offsets:
            return []
        phase = median(offsets)
        return [offset - phase for offset in offsets]


def sky_jpegs(folder: Path) -> Path:
    """The virtual camera's folder for the gphoto2 command line, serving the picture the
    daemon's simulated sky serves (hw/camera/sky.py): every method moves the same bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / PICTURE_NAME, steady_day_picture())
    return use_virtual_camera(folder)


def gphoto2_env(jpegs: Path) -> dict[str, str]:
    """The environment that points Debian's gphoto2 at the wheel's virtual camera."""
    wheel = wheel_folder()
    env = dict(os.environ)
    env.update(
        LD_LIBRARY_PATH=str(wheel),
        IOLIBS=str(wheel / "vusb"),
        CAMLIBS=str(wheel / "camlibs"),
        VCAMERADIR=str(jpegs),
    )
    return env


def find_gphoto2() -> str | None:
    return shutil.which("gphoto2")


def watched_folder(watcher: Watcher, root: Path, name: str) -> Path:
    """A new folder ``root/name`` for a method's files, watched from now on."""
    folder = root / name
    folder.mkdir()
    watcher.watch(folder)
    return folder


def run_to_end(processes: Processes, argv: list[str], env: dict[str, str]) -> tuple[int, float]:
    """Run ``argv`` to its end: its exit status and its user + system CPU seconds."""
    child = processes.spawn(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, rusage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    processes.stop(child)
    return child.returncode, rusage.ru_utime + rusage.ru_stime


def gphoto2_command(gphoto2: str, target: Path) -> list[str]:
    """``gphoto2 --capture-image-and-download`` saving to ``target`` (a %-pattern)."""
    return [gphoto2, "--capture-image-and-download", "--force-overwrite", "--filename", str(target)]


def gphoto2_interval_batch(
    processes: Processes, watcher: Watcher, root: Path, gphoto2: str, interval_ns: int, frames: int
) -> Batch:
    folder = watched_folder(watcher, root, "gphoto2-interval")
    argv = gphoto2_command(gphoto2, folder / "frame-%05n.%C")
    argv += ["--interval", str(interval_ns // NS_PER_S), "--frames", str(frames)]
    status, cpu = run_to_end(processes, argv, gphoto2_env(sky_jpegs(root / "jpegs")))
    time.sleep(0.2)  # the watcher reads the last events
    note = "" if status == 0 else f"exit {status}"
    files = watcher.files(folder)
    return Batch("gphoto2 --interval", interval_ns, frames, files, cpu, note)


def spawn_loop_batch(
    processes: Processes, watcher: Watcher, root: Path, gphoto2: str, interval_ns: int, frames: int
) -> Batch:
    folder = watched_folder(watcher, root, "spawn-loop")
    env = gphoto2_env(sky_jpegs(root / "jpegs"))
    cpu = 0.0
    failures = 0
    for k in range(frames):
        status, used = run_to_end(
            processes, gphoto2_command(gphoto2, folder / f"frame-{k:05d}.%C"), env
        )
        cpu += used
        failures += status != 0
        time.sleep(interval_ns / NS_PER_S)
    time.sleep(0.2)
    note = f"{failures} spawns failed" if failures else ""
    return Batch("spawn loop", interval_ns, frames, watcher.files(folder), cpu, note)


def lapse_batch(
    processes: Processes,
    watcher: Watcher,
    root: Path,
    method: str,
    interval_ns: int,
    frames: int,
) -> Batch:
    trigger = method.split()[1]
    config = f'[camera]\ntrigger = "{trigger}"\n'
    if method.endswith(" auto"):
        config += '[exposure]\nmode = "auto"\n'
    (root / "config.toml").write_text(config)
    handle = start_daemon(processes, root, daemon_env(root))
    try:
        wait_for_hello(handle)
        wait_connected(handle)
        before = tree_ticks(handle.pid)
        argv = [*lapse_command(), "run", "--interval", format_duration(interval_ns)]
        argv += ["--frames", str(frames), "--wait"]
        timeout = frames * interval_ns / NS_PER_S + 90
        # The run's folder appears when the run starts: watch the runs folder's new child.
        runs = handle.state_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        known = set(runs.iterdir())
        client = processes.spawn(
            argv, env=handle.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        folder = wait_for_new_folder(runs, known)
        watcher.watch(folder)
        _out, err = client.communicate(timeout=timeout)
        after = tree_ticks(handle.pid)
        time.sleep(0.2)
        records = read_journal(handle.state_dir, folder.name)
        bad = [
            f"{r['frame']} {r['status']}: {r.get('error')}"
            for r in records
            if r["status"] != "ok" or not r.get("file")
        ]
        note = "; ".join(bad[:3]) + (f" (+{len(bad) - 3})" if len(bad) > 3 else "")
        if client.returncode != 0:
            note = f"lapse run exit {client.returncode}: {err.strip()[-200:]} {note}"
        cpu = (after - before) / clock_ticks()
        settings = [r.get("exposure") for r in records]
        changes = sum(a != b for a, b in itertools.pairwise(settings))
        found = watcher.frame_files(folder)
        files = [at for _, at in found]
        slots = [frame for frame, _ in found]
        return Batch(
            method, interval_ns, frames, files, cpu, note, exposure_changes=changes, slots=slots
        )
    finally:
        stop_daemon(processes, handle)


def wait_connected(handle: Any, timeout: float = 20.0) -> None:
    """Wait for the daemon's camera to be open (its status says connected)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = subprocess.run(
            [*lapse_command(), "status", "--json"],
            env=handle.env,
            capture_output=True,
            text=True,
            check=False,
        )
        with contextlib.suppress(ValueError, KeyError, TypeError):
            if json.loads(done.stdout)["camera"]["connected"]:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the daemon's camera did not connect:\n{handle.last_words()}")


def wait_for_new_folder(parent: Path, known: set[Path], timeout: float = 30.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [p for p in parent.iterdir() if p not in known and p.is_dir()]
        if new:
            return new[0]
        time.sleep(0.005)
    raise RuntimeError(f"no run folder appeared in {parent}")


# -- figures -----------------------------------------------------------------------------------
@dataclass
class Figures:
    method: str
    interval_ns: int
    batches: int
    frames: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    drift_ms: float
    missed: int
    cpu_s_per_frame: float
    exposure_changes: int = 0
    notes: list[str] = field(default_factory=list)
    arrivals_ns: list[list[int]] = field(default_factory=list)
    """Every batch's arrival stamps, for a second look at the figures."""


def pooled(batches: Sequence[Batch]) -> Figures:
    deviations = [abs(d) / 1e6 for b in batches for d in b.deviations_ns()]
    drifts = [drift_ns(b.deviations_ns()) / 1e6 for b in batches if b.arrivals_ns]
    frames = sum(b.frames for b in batches)
    return Figures(
        method=batches[0].method,
        interval_ns=batches[0].interval_ns,
        batches=len(batches),
        frames=frames,
        p50_ms=percentile(deviations, 50) if deviations else float("nan"),
        p99_ms=percentile(deviations, 99) if deviations else float("nan"),
        max_ms=max(deviations, default=float("nan")),
        drift_ms=median(drifts) if drifts else float("nan"),
        missed=sum(b.missed for b in batches),
        cpu_s_per_frame=sum(b.cpu_s for b in batches) / frames,
        exposure_changes=sum(b.exposure_changes for b in batches),
        notes=[b.note for b in batches if b.note],
        arrivals_ns=[b.arrivals_ns for b in batches],
    )


def method_order(round_number: int, methods: Sequence[str]) -> list[str]:
    """The methods in a rotating order, so none always runs first on a warmer machine."""
    shift = round_number % len(methods)
    return [*methods[shift:], *methods[:shift]]


def measure_e2e(processes: Processes, report: Report, args: Any) -> None:
    gphoto2 = find_gphoto2()
    if gphoto2 is None and args.install:
        gphoto2 = apt_install("gphoto2", find_gphoto2)
    methods = [m for m in METHODS if gphoto2 is not None or not m.startswith(("gphoto2", "spawn"))]
    if args.auto_exposure:
        methods += AUTO_METHODS
    if args.methods is not None:
        methods = [m for m in methods if m in args.methods]
    if gphoto2 is None:
        print("gphoto2 (Debian package gphoto2) is missing: --install installs it.")
        report.fail("gphoto2 is not installed: its loops are not measured")
    watcher = Watcher()
    results: list[Figures] = []
    try:
        for interval_ns in args.intervals:
            done: dict[str, list[Batch]] = {m: [] for m in methods}
            for number in range(args.batches):
                for method in method_order(number, methods):
                    if method == "gphoto2 --interval" and interval_ns % NS_PER_S:
                        continue
                    with temp_dir("lapse-e2e-", args.keep) as root:
                        print(
                            f"  {format_duration(interval_ns)} batch {number + 1} {method} …",
                            end="",
                            flush=True,
                        )
                        batch = run_method(
                            processes, watcher, root, method, gphoto2, interval_ns, args.frames
                        )
                        print(
                            f" {len(batch.arrivals_ns)} files, CPU {batch.cpu_s:.2f} s"
                            + (f" ({batch.note})" if batch.note else "")
                        )
                        done[method].append(batch)
            results += [pooled(batches) for batches in done.values() if batches]
    finally:
        watcher.close()
    print_e2e(results)
    report.data["e2e"] = [asdict(r) for r in results]
    e2e_checks(report, results)


def run_method(
    processes: Processes,
    watcher: Watcher,
    root: Path,
    method: str,
    gphoto2: str | None,
    interval_ns: int,
    frames: int,
) -> Batch:
    if method in LAPSE_METHODS:
        return lapse_batch(processes, watcher, root, method, interval_ns, frames)
    assert gphoto2 is not None
    if method == "gphoto2 --interval":
        return gphoto2_interval_batch(processes, watcher, root, gphoto2, interval_ns, frames)
    return spawn_loop_batch(processes, watcher, root, gphoto2, interval_ns, frames)


def print_e2e(results: Sequence[Figures]) -> None:
    header = (
        "interval",
        "method",
        "frames",
        "p50 ms",
        "p99 ms",
        "max ms",
        "drift ms",
        "missed",
        "CPU ms/frame",
    )
    rows = [
        (
            format_duration(r.interval_ns),
            r.method,
            str(r.frames),
            fmt(r.p50_ms, 2),
            fmt(r.p99_ms, 2),
            fmt(r.max_ms, 2),
            fmt(r.drift_ms, 2),
            str(r.missed),
            fmt(r.cpu_s_per_frame * 1000, 1),
        )
        for r in results
    ]
    print()
    print_table(header, rows, left=2)
    print(
        "  deviation: a file's arrival (inotify event read by one watcher thread,"
        " time.monotonic_ns()) − its slot k·interval + the batch's phase (median of"
        " arrival − k·interval);\n  p50/p99/max of its absolute value, pooled over the"
        " batches; drift: median over batches of (last tenth − first tenth of the"
        " deviations);\n  missed: frames with no file; CPU: user + system"
        " time over the batch (lapse: daemon + camera workers from `lapse run` to the"
        " run's end; gphoto2: its processes)."
    )
    for r in results:
        if r.method in AUTO_METHODS:
            print(
                f"  {r.method} at {format_duration(r.interval_ns)}: {r.exposure_changes}"
                f" setting changes in {r.frames} frames"
            )
        for note in r.notes:
            print(f"  note, {r.method} at {format_duration(r.interval_ns)}: {note}")


def e2e_checks(report: Report, results: Sequence[Figures]) -> None:
    for interval_ns in sorted({r.interval_ns for r in results}):
        at = {r.method: r for r in results if r.interval_ns == interval_ns}
        shown = format_duration(interval_ns)
        loop = at.get("gphoto2 --interval")
        for name in LAPSE_METHODS:
            lapse = at.get(name)
            if lapse is None:
                continue
            report.check(
                f"{name} at {shown}: no file missed",
                lapse.missed == 0,
                f"{lapse.missed} of {lapse.frames}",
            )
            if loop is not None:
                report.check(
                    f"{name} at {shown}: p99 and |drift| no worse than gphoto2 --interval",
                    lapse.p99_ms <= loop.p99_ms and abs(lapse.drift_ms) <= abs(loop.drift_ms),
                    f"p99 {lapse.p99_ms:.2f} vs {loop.p99_ms:.2f} ms, drift"
                    f" {lapse.drift_ms:.2f} vs {loop.drift_ms:.2f} ms",
                )
            others = [at[m] for m in ("gphoto2 --interval", "spawn loop") if m in at]
            if others:
                report.check(
                    f"{name} at {shown}: CPU per frame below both gphoto2 methods",
                    all(lapse.cpu_s_per_frame < o.cpu_s_per_frame for o in others),
                    ", ".join(f"{o.method} {o.cpu_s_per_frame * 1000:.1f}" for o in others)
                    + f" vs {lapse.cpu_s_per_frame * 1000:.1f} ms",
                )


# -- the camera gone ---------------------------------------------------------------------------
@dataclass
class GoneRun:
    gone: bool
    window_s: float
    cpu_s: float
    statuses: dict[str, int]
    errors: list[str]


def gone_run(processes: Processes, root: Path, gone: bool, run_s: int, gone_s: int) -> GoneRun:
    """One 1 s run of the daemon's camera side (bench/camera_away.py); with ``gone``, the
    camera unplugged for ``gone_s`` in the middle. Its CPU over that window."""
    flag = root / "away"
    env = daemon_env(root)  # the process is a daemon's side, living in root
    env[AWAY_FLAG] = str(flag)
    argv = [PYTHON, str(REPO_ROOT / "bench" / "camera_away.py"), str(root), str(run_s)]
    with ordinary_scheduling():
        child = processes.spawn(argv, env=env, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    if child.stdout.readline().strip() != "started":
        processes.stop(child)
        raise RuntimeError("the camera side did not start its run")
    time.sleep((run_s - gone_s) / 2)
    before, began = tree_ticks(child.pid), time.monotonic()
    if gone:
        flag.touch()
    time.sleep(gone_s)
    after, ended = tree_ticks(child.pid), time.monotonic()
    flag.unlink(missing_ok=True)
    out, _ = child.communicate(timeout=run_s + 180)
    found = json.loads(out.strip().splitlines()[-1])
    return GoneRun(
        gone, ended - began, (after - before) / clock_ticks(), found["statuses"], found["errors"]
    )


def measure_gone(processes: Processes, report: Report, args: Any) -> None:
    print(f"\nThe camera gone: 1 s runs of {args.gone_run} frames, side by side")
    found: list[GoneRun] = []
    for gone in (False, True):
        with temp_dir("lapse-gone-", args.keep) as root:
            label = f"camera gone for {args.gone} s" if gone else "camera present"
            print(f"  {label} …", end="", flush=True)
            found.append(gone_run(processes, root, gone, args.gone_run, args.gone))
            print(f" CPU {found[-1].cpu_s:.2f} s over {found[-1].window_s:.1f} s")
    rows = [
        (
            "camera gone" if g.gone else "camera present",
            fmt(g.window_s, 1),
            fmt(g.cpu_s, 2),
            fmt(g.cpu_s / g.window_s * 100, 2),
            ", ".join(f"{k} {v}" for k, v in sorted(g.statuses.items())),
        )
        for g in found
    ]
    print_table(("run", "window s", "CPU s", "% core", "frames"), rows, left=2)
    print(
        "  CPU: user + system time (/proc) of the process running the daemon's camera side"
        " (bench/camera_away.py: controller,\n  engine, simulated rig, camera thread, journal)"
        " and of its camera workers, over the same middle window of each run; in the gone\n"
        "  run, every camera call answers gone and every open fails (no camera answers) for"
        " that window."
    )
    for g in found:
        for error in g.errors[:3]:
            print(f"  {'gone' if g.gone else 'present'} run, frames not ok: {error}")
    report.data["gone"] = [asdict(g) for g in found]
    present, away = found
    report.check(
        "CPU with the camera gone is no more than with it present",
        away.cpu_s <= present.cpu_s,
        f"{away.cpu_s:.2f} s gone vs {present.cpu_s:.2f} s present over {away.window_s:.0f} s",
    )


def measure(processes: Processes, report: Report, args: Any) -> None:
    if "e2e" in args.parts:
        print(f"\nFiles against the grid: {args.batches} batches of {args.frames} frames")
        measure_e2e(processes, report, args)
    if "gone" in args.parts:
        measure_gone(processes, report, args)


def parse_args(argv: Sequence[str] | None) -> Any:
    parser = bench_parser("bench/camera_e2e.py", __doc__, parts=("e2e", "gone"))
    parser.add_argument(
        "--intervals",
        type=parse_durations,
        default=INTERVALS,
        help=f"intervals, comma-separated (default {INTERVALS})",
    )
    parser.add_argument(
        "--batches",
        type=int,
        default=BATCHES,
        help=f"batches per method and interval (default {BATCHES})",
    )
    parser.add_argument(
        "--frames",
        type=int,
        default=BATCH_FRAMES,
        help=f"frames per batch, at most 25 (default {BATCH_FRAMES})",
    )
    parser.add_argument(
        "--gone-run",
        type=int,
        default=GONE_RUN_S,
        help=f"frames of each 1 s run of the gone part (default {GONE_RUN_S})",
    )
    parser.add_argument(
        "--gone", type=int, default=GONE_S, help=f"seconds the camera is gone (default {GONE_S})"
    )
    parser.add_argument(
        "--install", action="store_true", help="apt-get install gphoto2 when it is missing"
    )
    parser.add_argument(
        "--auto-exposure",
        action="store_true",
        help="also run both lapse methods with [exposure] mode = auto",
    )
    parser.add_argument(
        "--methods",
        type=lambda text: [name.strip() for name in text.split(",")],
        help="only these methods, comma-separated, as printed: 'lapse usb,gphoto2 --interval'",
    )
    args = parser.parse_args(argv)
    known = {*METHODS, *AUTO_METHODS}
    unknown = [m for m in args.methods or () if m not in known]
    if unknown:
        parser.error(f"unknown method {unknown[0]!r}: one of {', '.join(sorted(known))}")
    if not 1 <= args.frames <= BATCH_FRAMES:
        parser.error(f"--frames must be 1 … {BATCH_FRAMES}: the virtual card keeps 26")
    if args.gone >= args.gone_run:
        parser.error("--gone must be shorter than --gone-run")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(TITLE, args, measure)


if __name__ == "__main__":
    raise SystemExit(main())
