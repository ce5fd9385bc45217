"""Shutter timing: how late lapse's shutter output switches, against baselines doing the same.

Every figure is a lateness per frame: from the moment a shot was due to the
moment its output write had returned, both on CLOCK_MONOTONIC. Each method
runs at one interval (50 ms by default) for N frames (400 by default), in
two conditions (idle; loaded = two CPU-bound processes), side by side in one
invocation:

- **lapse**: ``lapse daemon`` on the simulated rig (gpiozero ``MockFactory``
  pins) with two clients subscribed, running ``lapse run --interval I
  --frames N``. From: the frame's ``due_ns`` (journal; the grid's
  ``anchor + floor(k·period)``). To: ``at_ns`` of the shutter-on ``edge``
  event (the engine's ``EdgeDone``, stamped with ``SystemClock.now_ns()``
  after ``rig.set_line`` returned).
- **lapse: told to switch** (for information): from ``due_ns`` to the
  journal's ``fired_ns``, stamped just before the output call.
- **careful loop**, at SCHED_OTHER and at lapse's SCHED_FIFO 10: Python that
  sleeps to absolute deadlines ``anchor + k·I`` (never waking early) and then
  switches a gpiozero ``DigitalOutputDevice`` on a ``MockFactory`` pin, the
  simulated rig's own kind of write. From: ``anchor + k·I``. To:
  ``time.monotonic_ns()`` after ``on()`` returned.
- **naive loop**: Python that sleeps the interval after each shot (``on();
  off(); sleep(I)``), as Pi time-lapse scripts do. From: ``t0 + k·I`` (t0 read
  before the first shot). To: ``time.monotonic_ns()`` after ``on()`` returned.
- **cyclictest** (rt-tests), at lapse's SCHED_FIFO 10 and at SCHED_OTHER:
  the kernel's floor for a thread that sleeps to absolute deadlines. From: its
  absolute deadline (``clock_nanosleep(TIMER_ABSTIME)``). To: its
  ``clock_gettime(CLOCK_MONOTONIC)`` after the wake-up. It has no output to
  write, so it is the floor, not a peer. Run with ``--default-system`` (it
  leaves ``/dev/cpu_dma_latency`` alone, as lapse does) and no ``mlockall``
  (lapse locks no memory).

Drift, for every method: median lateness of the last tenth of the run minus
that of the first tenth. A frame lapse did not fire (``missed``, ``error``),
or fired with no shutter edge event, counts against it.

Then the final spin's cost: ``SystemClock`` spins the last ``SPIN_NS`` before
a precise deadline. lapse's engine runs in this process on the simulated rig
at 10 ms, 50 ms and 1 s, once with the spin and once with ``spin_ns=0``, on
a timing thread at SCHED_FIFO 10 as in the daemon. Its CPU is
``time.thread_time_ns()`` (CLOCK_THREAD_CPUTIME_ID) read on the timing thread
just before ``Engine.run()`` and just after it returns; the spin's cost is the
difference, per frame and as a share of one core.

Targets: lapse never early; 0 frames missed; idle p99 ≤ 2× cyclictest's p99 at
the policy of lapse's timing thread, and ≤ 250 µs; idle |drift| < 20 µs;
loaded p99 < 1 ms.

With ``--auto-exposure``, **lapse, auto exposure** runs too, after lapse in each
condition, on the same targets: the same daemon and span, its config ``[camera] trigger
= "gpio"`` and ``[exposure] mode = "auto"``, so the simulated rig's virtual camera takes
each frame as the shutter line opens and the camera thread downloads it, measures it
and sets the next exposure over USB, all beside the timing thread. A frame counts as
missed when its shutter did not open; the camera's files (and the frames without
one, the camera's business) are printed beside.

Then lapse under client loads (``--loads``, each a fresh ``lapse daemon`` on the
simulated rig, ``--load-frames`` frames, 2,000 by default), beside the two measuring
subscribers above; the clients are one child process of their own:

- **a**: 10 ms, 20 subscribers that read every event;
- **b**: 10 ms, 500 subscribers that read the answer to ``subscribe`` and never again;
- **c**: 100 ms, 100 reading subscribers and 10 connections asking ``status`` again as
  soon as they have the answer.

Each prints its missed count and, for every frame missed, the reason the journal gives
(its ``status`` and ``error``); a frame absent from the journal, or ok with no
shutter-on edge event, is missed too. Its lateness is the same span as lapse's above:
from the journal's ``due_ns`` to the shutter-on ``edge`` event's ``at_ns``. Target: 0
missed under each load (the issue's figure is 0 in 100,000 frames for a, 17 minutes:
``--load-frames 100000``).

Beside each load runs the machine's floor (with cyclictest): ``cyclictest -S``, a thread
pinned to each CPU at SCHED_FIFO 11, one above the timing thread, waking at the load's
interval. Each of its wake-ups more than 1 ms late is a stall no thread on that CPU could
have avoided; the load prints how many there were, the longest, and how many of lapse's
misses came within 50 ms of one. It wakes no more often than the load: a floor woken
every 1 ms stalled lapse's timing thread itself (60 misses in 100,000 under load a
against 16 beside the 10 ms floor), so it was no longer a bystander.

``--parts`` chooses among the methods, the spin's cost and the loads (all by default).

``--loopback IN_PIN`` (on a Pi, with the shutter output wired to IN_PIN)
measures instead from ``due_ns`` to the physical edge, stamped by the kernel
(see bench/loopback.py), for a ``lapse daemon`` on real GPIO.

Run from the repo root: ``.venv/bin/python bench/timing.py [--install] [--json FILE]``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    PYTHON,
    DaemonHandle,
    Processes,
    Report,
    apt_install,
    bench_parser,
    condition_context,
    daemon_env,
    drift_ns,
    fmt,
    ordinary_scheduling,
    parse_choices,
    parse_durations,
    percentile,
    print_table,
    read_journal,
    run_benchmark,
    start_daemon,
    start_run,
    stop_daemon,
    temp_dir,
    thread_policies,
    wait_for_hello,
)
from bench.loopback import (
    Fired,
    LoopbackFigures,
    fired_from_engine,
    loopback_checks,
    measure_loopback,
)
from core.client import Client
from core.clock import SPIN_NS, SystemClock
from core.daemon.engine import LATE_LIMIT_NS, TIMING_PRIORITY, Engine, request_realtime_priority
from core.model import protocol
from core.model.durations import NS_PER_MS, NS_PER_S, format_duration
from core.model.hardware import HardwareConfig
from core.model.plan import make_plan
from core.model.scheduler import Grid, Scheduler
from core.model.settings import Settings
from hw.sim import make_sim_rig

TITLE = "lapse timing benchmark"

# Targets.
IDLE_P99_LIMIT_US = 250.0
IDLE_P99_CYCLICTEST_FACTOR = 2.0
IDLE_DRIFT_LIMIT_US = 20.0
LOADED_P99_LIMIT_US = 1000.0

LAPSE = "lapse"
LAPSE_TOLD = "lapse: told to switch"
LAPSE_AUTO = "lapse, auto exposure"
AUTO_CONFIG = '[camera]\ntrigger = "gpio"\n\n[exposure]\nmode = "auto"\n'
"""The daemon's config for :data:`LAPSE_AUTO`: the simulated rig's virtual camera on the
wired line, each frame downloaded, measured and the next one's exposure set over USB."""
CYCLICTEST_FIFO = f"cyclictest FIFO {TIMING_PRIORITY}"
CYCLICTEST_OTHER = "cyclictest default"
CAREFUL_FIFO = f"careful loop FIFO {TIMING_PRIORITY}"
CAREFUL_OTHER = "careful loop default"
NAIVE = "naive loop default"

SPANS = {
    LAPSE: "due_ns (journal) → shutter-on edge event at_ns (after rig.set_line returned)",
    LAPSE_TOLD: "due_ns → journal fired_ns (just before the output call; information)",
    LAPSE_AUTO: "as lapse's, with the camera path at work beside the timing thread",
    CAREFUL_FIFO: "anchor + k·I → monotonic_ns() after MockFactory pin on() returned",
    CAREFUL_OTHER: "anchor + k·I → monotonic_ns() after MockFactory pin on() returned",
    NAIVE: "t0 + k·I → monotonic_ns() after MockFactory pin on() returned",
    CYCLICTEST_FIFO: "absolute deadline → clock_gettime after the wake-up (no output write)",
    CYCLICTEST_OTHER: "absolute deadline → clock_gettime after the wake-up (no output write)",
}
"""What each method's lateness is measured from and to."""

LOOP_CODE = """\
import json, os, sys, time
from gpiozero import DigitalOutputDevice
from gpiozero.pins.mock import MockFactory, MockPWMPin

interval_ns, frames, kind, priority = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                                       int(sys.argv[4]))
if priority:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
# The simulated rig's own kind of output: a gpiozero device on a MockFactory pin.
shutter = DigitalOutputDevice(21, initial_value=False,
                              pin_factory=MockFactory(pin_class=MockPWMPin))
due, done = [], []
if kind == "naive":
    t0 = time.monotonic_ns()
    for k in range(frames):
        due.append(t0 + k * interval_ns)
        shutter.on()
        done.append(time.monotonic_ns())
        shutter.off()
        time.sleep(interval_ns / 1e9)
else:
    anchor = time.monotonic_ns() + 100_000_000
    for k in range(frames):
        deadline = anchor + k * interval_ns
        while (left := deadline - time.monotonic_ns()) > 0:
            time.sleep(left / 1e9)
        shutter.on()
        done.append(time.monotonic_ns())
        shutter.off()
        due.append(deadline)
print(json.dumps([due, done]))
"""
"""The Python baselines: ``naive`` sleeps the interval after each shot, ``careful``
sleeps to absolute deadlines; both write the same kind of pin as lapse's simulated rig."""


@dataclass
class Figures:
    """One method in one condition: lateness statistics in µs."""

    condition: str
    method: str
    n: int
    p50_us: float
    p99_us: float
    max_us: float
    drift_us: float
    early: int
    missed: int
    """Frames the method did not fire, or fired with no record of the write."""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_ns(
        cls, condition: str, method: str, lateness_ns: Sequence[int], missed: int = 0, **extra: Any
    ) -> Figures:
        """Figures from per-frame lateness in ns, in frame order."""
        values = [value / 1000 for value in lateness_ns]
        return cls(
            condition=condition,
            method=method,
            n=len(values),
            p50_us=percentile(values, 50),
            p99_us=percentile(values, 99),
            max_us=max(values) if values else math.nan,
            drift_us=drift_ns(values),
            early=sum(1 for value in values if value < 0),
            missed=missed,
            extra=extra,
        )


# -- cyclictest ----------------------------------------------------------------------------------
CYCLICTEST_DIRS = ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/sbin", "/bin")


def find_cyclictest() -> str | None:
    """The path of ``cyclictest``, looked up on PATH and the usual system folders."""
    found = shutil.which("cyclictest")
    if found:
        return found
    return shutil.which("cyclictest", path=os.pathsep.join(CYCLICTEST_DIRS))


def install_cyclictest() -> str | None:
    """``apt-get install -y rt-tests`` (see :func:`bench._common.apt_install`)."""
    return apt_install("rt-tests", find_cyclictest)


def package_version(name: str) -> str | None:
    """The installed Debian package's version, if dpkg knows it."""
    with contextlib.suppress(OSError):
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True, check=False
        )
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return None


_SAMPLE = re.compile(r"^\s*(\d+):\s*(\d+):\s*(-?\d+)\s*$")


def cyclictest_argv(
    path: str, interval_ns: int, frames: int, fifo: bool, fifo_priority: int = TIMING_PRIORITY
) -> list[str]:
    """One thread at the period, per-sample output in ns, the policy always named.

    rt-tests 2.x defaults to SCHED_FIFO even with ``-p0``, so ``--policy`` is
    given: ``fifo`` at ``fifo_priority`` (lapse's :data:`TIMING_PRIORITY`), or
    ``other`` at 0. ``frames`` 0 runs until it is interrupted.
    """
    priority, policy = (fifo_priority, "fifo") if fifo else (0, "other")
    return [
        path,
        "-t1",
        f"-i{interval_ns // 1000}",
        "-d0",
        f"-l{frames}",
        f"-p{priority}",
        f"--policy={policy}",
        "--default-system",
        "-N",
        "-q",
        "-v",
    ]


def bench_cyclictest(
    processes: Processes, condition: str, method: str, argv: list[str], interval_ns: int
) -> Figures:
    """Run cyclictest and take every sample's latency (ns, ``-N``) from its ``-v`` output."""
    frames = int(next(arg for arg in argv if arg.startswith("-l"))[2:])
    child = processes.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = child.communicate(timeout=frames * interval_ns / 1e9 + 60)
    finally:
        processes.stop(child)
    samples = [int(match[3]) for match in map(_SAMPLE.match, out.splitlines()) if match]
    if child.returncode != 0 or not samples:
        raise RuntimeError(
            f"cyclictest failed (status {child.returncode}): {err.strip() or out[-300:]}"
        )
    return Figures.from_ns(condition, method, samples, missed=max(0, frames - len(samples)))


# -- the Python loops ----------------------------------------------------------------------------
def bench_loop(
    processes: Processes,
    condition: str,
    method: str,
    kind: str,
    priority: int,
    interval_ns: int,
    frames: int,
) -> Figures:
    """A naive or careful loop in a fresh interpreter at ``priority`` (0: SCHED_OTHER)."""
    child = processes.spawn(
        [PYTHON, "-c", LOOP_CODE, str(interval_ns), str(frames), kind, str(priority)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = child.communicate(timeout=frames * interval_ns / 1e9 * 2 + 60)
    finally:
        processes.stop(child)
    if child.returncode != 0:
        raise RuntimeError(f"the {kind} loop failed: {err.strip()}")
    due, done = json.loads(out)
    return Figures.from_ns(condition, method, [d - t for d, t in zip(done, due, strict=True)])


# -- lapse's daemon ------------------------------------------------------------------------------
class Subscriber(threading.Thread):
    """A client that subscribes and reads every event until the run ends."""

    def __init__(self, socket_path: Path, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.client = Client(socket_path, timeout=10.0)
        self.subscribed = threading.Event()
        self.ended = threading.Event()
        self.stopping = threading.Event()
        self.events = 0
        self.shutter_on: dict[int, int] = {}
        """Frame → ``at_ns`` of its shutter-on edge event (after the output write returned)."""
        self.run_id: str | None = None
        self.final_state: str | None = None
        self.error: str | None = None

    def run(self) -> None:
        try:
            self.client.connect()
            self.client.subscribe()
            self.subscribed.set()
            while not self.stopping.is_set():
                try:
                    for event in self.client.events(timeout=1.0):
                        if self._take(event):
                            return
                except TimeoutError:
                    continue
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.subscribed.set()
            self.ended.set()
            self.client.close()

    def _take(self, event: protocol.Event) -> bool:
        """Count one event; True once the run has ended."""
        self.events += 1
        if isinstance(event, protocol.EdgeEvent) and event.line == "shutter" and event.on:
            self.shutter_on[event.frame] = event.at_ns
        elif isinstance(event, protocol.StateEvent) and event.status.run is not None:
            state, run = event.status.state, event.status.run.id
            if state.live:
                self.run_id = run
            elif self.run_id is not None and run == self.run_id:
                self.final_state = state.value
                return True
        return False


@dataclass
class DaemonRun:
    """One run of a ``lapse daemon``: its journal and the edges a subscriber saw."""

    records: list[dict[str, Any]]
    shutter_on: dict[int, int]
    realtime_threads: list[str]
    events_per_subscriber: list[int]
    final_state: str | None

    def fired(self) -> list[Fired]:
        """Each frame: due, when its shutter-on write returned (None: no edge event), status."""
        return [
            Fired(r["frame"], r["due_ns"], self.shutter_on.get(r["frame"]), r["status"])
            for r in self.records
        ]


class MoreClients(Protocol):
    """Clients beside the two subscribers (the TUI benchmark's TUIs)."""

    def attach(self, handle: DaemonHandle) -> None:
        """Connect to the daemon of ``handle``; the run starts once this returns."""
        ...

    def detach(self, handle: DaemonHandle) -> None:
        """The run has ended: look, then hang up (the daemon is still up)."""
        ...


def daemon_run(
    processes: Processes,
    interval_ns: int,
    frames: int,
    keep: bool,
    hardware: str = "sim",
    more: MoreClients | None = None,
    config: str | None = None,
) -> DaemonRun:
    """A daemon with two subscribers (and ``more``), one ``lapse run``; its journal and edges.
    ``config``: the daemon's config.toml (none: the defaults)."""
    with temp_dir("lapse-bench-", keep) as root:
        if config is not None:
            (root / "config.toml").write_text(config)
        handle = start_daemon(processes, root, daemon_env(root, hardware=hardware))
        subscribers: list[Subscriber] = []
        try:
            wait_for_hello(handle)
            subscribers = [Subscriber(handle.socket, f"subscriber-{i}") for i in (1, 2)]
            for subscriber in subscribers:
                subscriber.start()
            for subscriber in subscribers:
                if not subscriber.subscribed.wait(15) or subscriber.error:
                    raise RuntimeError(f"{subscriber.name} could not subscribe: {subscriber.error}")
            if more is not None:
                more.attach(handle)
            run_id, _ = start_run(handle.env, interval_ns, frames)
            deadline = time.monotonic() + frames * interval_ns / 1e9 + 30
            time.sleep(min(1.0, frames * interval_ns / 2e9))
            policies = thread_policies(handle.pid)
            for subscriber in subscribers:
                subscriber.ended.wait(max(0.0, deadline - time.monotonic()))
            problems = [
                f"{s.name}: {s.error or 'the run did not end in time'}"
                for s in subscribers
                if s.final_state is None
            ]
            if problems:
                raise RuntimeError("; ".join(problems) + f"\n{handle.last_words()}")
            records = read_journal(handle.state_dir, run_id)
            if more is not None:
                more.detach(handle)
        finally:
            for subscriber in subscribers:
                subscriber.stopping.set()
            stop_daemon(processes, handle)
            for subscriber in subscribers:
                subscriber.join(5)
    return DaemonRun(
        records=records,
        shutter_on=subscribers[0].shutter_on,
        realtime_threads=[f"{p} {prio}" for _, p, prio in policies if p != "SCHED_OTHER"],
        events_per_subscriber=[s.events for s in subscribers],
        final_state=subscribers[0].final_state,
    )


def edge_figures(
    run: DaemonRun,
    condition: str,
    method: str,
    opened: Callable[[dict[str, Any]], bool],
    **more: Any,
) -> Figures:
    """``method``'s lateness in ``run``: for each frame whose shutter ``opened`` says
    opened (a journal record), due → its shutter-on edge event; the others are missed,
    as is an opened one with no edge event. ``more``: further figures to keep."""
    records = run.records
    shut = [r for r in records if opened(r)]
    edges = run.shutter_on
    written = [edges[r["frame"]] - r["due_ns"] for r in shut if r["frame"] in edges]
    extra = {
        "journal_records": len(records),
        "not_fired": len(records) - len(shut),
        "no_edge_event": len(shut) - len(written),
        "not_ok": [
            f"frame {r['frame']} {r['status']}: {r.get('error')}" for r in records if not opened(r)
        ],
        "realtime_threads": run.realtime_threads,
        "events_per_subscriber": run.events_per_subscriber,
        "final_state": run.final_state,
        **more,
    }
    return Figures.from_ns(condition, method, written, missed=len(records) - len(written), **extra)


def bench_lapse_auto(
    processes: Processes, condition: str, interval_ns: int, frames: int, keep: bool
) -> Figures:
    """lapse's lateness (due → write returned) with auto exposure on the wired line: the
    simulated rig's virtual camera takes each frame as its line opens, and the camera
    thread downloads, measures and sets the next exposure over USB. A frame counts as
    missed when its shutter did not open; one whose file did not come (the camera's
    business, not the grid's) is counted beside."""
    run = daemon_run(processes, interval_ns, frames, keep, config=AUTO_CONFIG)
    opened = [r for r in run.records if r.get("fired_ns") is not None]
    return edge_figures(
        run,
        condition,
        LAPSE_AUTO,
        lambda r: r.get("fired_ns") is not None,
        files=sum(1 for r in run.records if r.get("file")),
        no_file=[f"frame {r['frame']}: {r.get('error')}" for r in opened if not r.get("file")],
        exposures=len({r.get("exposure") for r in run.records if r.get("exposure")}),
    )


def bench_lapse(
    processes: Processes,
    condition: str,
    interval_ns: int,
    frames: int,
    keep: bool,
    more: MoreClients | None = None,
) -> list[Figures]:
    """lapse's lateness to the write returned (the target's) and to ``fired_ns`` (information)."""
    run = daemon_run(processes, interval_ns, frames, keep, more=more)
    not_fired = sum(1 for r in run.records if r["status"] != "ok")
    told = [r["fired_ns"] - r["due_ns"] for r in run.records if r.get("fired_ns") is not None]
    return [
        edge_figures(run, condition, LAPSE, lambda r: r["status"] == "ok"),
        Figures.from_ns(condition, LAPSE_TOLD, told, missed=not_fired),
    ]


# -- the spin's cost -----------------------------------------------------------------------------
SPIN_INTERVALS = "10ms,50ms,1s"


@dataclass
class SpinRun:
    """The engine on its timing thread for one run, with or without the final spin."""

    interval_ns: int
    spin_ns: int
    frames: int
    cpu_ns: int
    """The timing thread's CLOCK_THREAD_CPUTIME_ID across ``Engine.run()``."""
    realtime: bool
    lateness_ns: list[int]
    """due → shutter-on ``EdgeDone.at_ns`` per frame."""
    not_fired: int


def spin_run(interval_ns: int, frames: int, spin_ns: int) -> SpinRun:
    """lapse's engine on the simulated rig in this process, as the daemon runs it."""
    rig = make_sim_rig(HardwareConfig())
    settings = Settings(interval_ns=interval_ns, frames=frames)
    plan = make_plan(settings)
    clock = SystemClock(spin_ns)
    grid = Grid(clock.now_ns() + plan.lead_ns + 50 * NS_PER_MS, interval_ns)
    events: queue.SimpleQueue[object] = queue.SimpleQueue()
    engine = Engine(rig, clock, Scheduler(plan, grid, frames=frames), events.put)
    measured: dict[str, Any] = {}

    def timing_thread() -> None:
        measured["realtime"] = request_realtime_priority(TIMING_PRIORITY)
        began = time.thread_time_ns()
        engine.run()
        measured["cpu_ns"] = time.thread_time_ns() - began

    thread = threading.Thread(target=timing_thread, name="lapse-timing")
    try:
        thread.start()
        thread.join()
    finally:
        rig.close()
    fired = [frame.lateness_ns for frame in fired_from_engine(events)]
    lateness = [late for late in fired if late is not None]
    not_fired = len(fired) - len(lateness)
    return SpinRun(
        interval_ns, spin_ns, frames, measured["cpu_ns"], measured["realtime"], lateness, not_fired
    )


def bench_spin(intervals: Sequence[int], seconds: float) -> list[tuple[SpinRun, SpinRun]]:
    """At each interval, a run with the spin and one without, back to back."""
    pairs: list[tuple[SpinRun, SpinRun]] = []
    for interval_ns in intervals:
        frames = max(20, round(seconds * NS_PER_S / interval_ns))
        print(f"  {format_duration(interval_ns)} × {frames} frames …", end="", flush=True)
        began = time.monotonic()
        with_spin = spin_run(interval_ns, frames, SPIN_NS)
        without = spin_run(interval_ns, frames, 0)
        pairs.append((with_spin, without))
        print(f" done in {time.monotonic() - began:.1f} s")
    return pairs


def print_spin(pairs: Sequence[tuple[SpinRun, SpinRun]]) -> list[dict[str, Any]]:
    """The spin's CPU per frame and as a share of one core, and what it buys in lateness."""
    header = ("interval", "frames", "CPU/frame spin", "no spin", "spin costs", "% of a core")
    header += ("p99 µs spin", "no spin")
    rows, found = [], []
    for spin, plain in pairs:
        per_frame = (spin.cpu_ns - plain.cpu_ns) / spin.frames
        percent = per_frame / spin.interval_ns * 100
        p99 = percentile([v / 1000 for v in spin.lateness_ns], 99)
        p99_plain = percentile([v / 1000 for v in plain.lateness_ns], 99)
        rows.append(
            (
                format_duration(spin.interval_ns),
                str(spin.frames),
                f"{spin.cpu_ns / spin.frames / 1000:.0f} µs",
                f"{plain.cpu_ns / plain.frames / 1000:.0f} µs",
                f"{per_frame / 1000:.0f} µs",
                f"{percent:.2f}",
                fmt(p99),
                fmt(p99_plain),
            )
        )
        found.append(
            {
                "interval_ns": spin.interval_ns,
                "with_spin": asdict(spin) | {"lateness_ns": None},
                "without_spin": asdict(plain) | {"lateness_ns": None},
                "spin_cpu_ns_per_frame": per_frame,
                "spin_percent_of_one_core": percent,
                "p99_us_with_spin": p99,
                "p99_us_without_spin": p99_plain,
            }
        )
    print_table(header, rows)
    realtime = all(run.realtime for pair in pairs for run in pair)
    policy = f"SCHED_FIFO {TIMING_PRIORITY}" if realtime else "SCHED_OTHER"
    print(
        "  CPU: time.thread_time_ns() on the timing thread just before Engine.run() and just"
        f" after it returned;\n  the timing thread at {policy}. spin costs = (with − without)"
        " / frames; % of a core = that / interval.\n  p99: due → shutter-on EdgeDone.at_ns,"
        f" with the {SPIN_NS / 1e6:g} ms spin and without."
    )
    return found


# -- client loads --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Load:
    """A scenario: lapse fires at ``interval_ns`` while clients keep its socket busy."""

    name: str
    interval_ns: int
    readers: int
    """Subscribers that read every event."""
    silent: int
    """Subscribers that take the answer to ``subscribe`` and never read again."""
    pollers: int
    """Connections that ask ``status`` again as soon as they have the answer."""

    def describe(self) -> str:
        """One line: the interval and the clients."""
        clients = [
            f"{count} {kind}"
            for count, kind in (
                (self.readers, "reading subscribers"),
                (self.silent, "non-reading subscribers"),
                (self.pollers, "status pollers"),
            )
            if count
        ]
        return f"{self.name}: {format_duration(self.interval_ns)}, {' + '.join(clients)}"


LOADS = {
    "a": Load("a", 10 * NS_PER_MS, readers=20, silent=0, pollers=0),
    "b": Load("b", 10 * NS_PER_MS, readers=0, silent=500, pollers=0),
    "c": Load("c", 100 * NS_PER_MS, readers=100, silent=0, pollers=10),
}
"""The issue's client loads; each runs beside the two subscribers that measure."""
LOAD_FRAMES = 2000

LOAD_CODE = """\
import asyncio, json, signal, sys
from core.model import protocol

path, readers, silent, pollers = sys.argv[1], *map(int, sys.argv[2:5])
counts = {"events": 0, "polls": 0, "refusals": 0, "hung_up": 0}

async def connect():
    return await asyncio.open_unix_connection(path, limit=protocol.MAX_LINE_BYTES)

async def subscriber(reads):
    reader, writer = await connect()
    writer.write(protocol.encode_request(protocol.Subscribe(), 1))
    await reader.readline()
    if not reads:
        return writer  # never reads again: the daemon's backlog grows until it drops it
    async def read():
        while await reader.readline():
            counts["events"] += 1
        counts["hung_up"] += 1
    asyncio.ensure_future(read())
    return writer

async def poller():
    reader, writer = await connect()
    async def poll():
        while True:
            writer.write(protocol.encode_request(protocol.GetStatus(), 1))
            line = await reader.readline()
            if not line:
                counts["hung_up"] += 1
                return
            counts["polls" if b'"ok":true' in line else "refusals"] += 1
    asyncio.ensure_future(poll())
    return writer

async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    kept = [await subscriber(True) for _ in range(readers)]
    kept += [await subscriber(False) for _ in range(silent)]
    kept += [await poller() for _ in range(pollers)]
    print("ready", flush=True)
    await stop.wait()
    print(json.dumps(counts), flush=True)

asyncio.run(main())
"""
"""The clients of a load, all in one child process (its GIL is not the daemon's)."""


@dataclass
class Floor:
    """cyclictest's wake-ups beside a load's run: what the machine allowed at that moment."""

    samples: list[tuple[int, int, int]]
    """Each wake-up: (cyclictest's thread, one a CPU; its cycle; its lateness in ns, from
    its absolute deadline to its clock read)."""
    started_ns: int
    """``time.monotonic_ns()`` just before cyclictest was spawned (its wake-ups are every
    interval from shortly after)."""

    def late(self, limit_ns: int = LATE_LIMIT_NS) -> list[int]:
        """The cycles of the wake-ups later than ``limit_ns``, on any CPU."""
        return [cycle for _, cycle, ns in self.samples if ns > limit_ns]

    @property
    def max_ns(self) -> int:
        return max((ns for _, _, ns in self.samples), default=0)


FLOOR_PRIORITY = TIMING_PRIORITY + 1
"""Above the timing thread, whose spin before a shutter could otherwise hold it back on a
CPU: what delays it is the machine, never lapse."""


class FloorBeside:
    """cyclictest at the load's interval, one step above the timing thread, for the whole run.

    It is the floor under the same load at the same moment: one thread pinned to each
    CPU (``-S``), since a host that takes a virtual CPU away stalls only what runs on
    it. A wake-up more than :data:`LATE_LIMIT_NS` late is a stall no Python thread on
    that CPU could have avoided, so lapse's misses are read beside their count. It uses
    a few µs of CPU per interval.
    """

    def __init__(self, processes: Processes, cyclictest: str, interval_ns: int) -> None:
        self.processes = processes
        self.cyclictest = cyclictest
        self.interval_ns = interval_ns
        self.child: subprocess.Popen[bytes] | None = None
        self.output: Any = None
        self.started_ns = 0

    def start(self) -> None:
        # Unbounded loops: it is stopped with SIGINT once the run has ended. Its samples
        # go to a file, so a full pipe never holds its printing thread.
        argv = cyclictest_argv(self.cyclictest, self.interval_ns, 0, True, FLOOR_PRIORITY)
        argv = [arg for arg in argv if arg != "-t1"] + ["-S"]
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.started_ns = time.monotonic_ns()
        self.child = self.processes.spawn(argv, stdout=self.output, stderr=subprocess.DEVNULL)

    def stop(self) -> Floor:
        child, output = self.child, self.output
        if child is None or output is None:
            return Floor([], 0)
        child.send_signal(signal.SIGINT)
        try:
            child.wait(10)
        finally:
            self.processes.stop(child)
        output.seek(0)
        text = output.read().decode(errors="replace")
        output.close()
        samples = [
            (int(match[1]), int(match[2]), int(match[3]))
            for match in map(_SAMPLE.match, text.splitlines())
            if match
        ]
        return Floor(samples, self.started_ns)


class ClientLoad:
    """A load's clients, attached to a daemon for one run (:class:`MoreClients`)."""

    def __init__(self, processes: Processes, load: Load, floor: FloorBeside | None) -> None:
        self.processes = processes
        self.load = load
        self.floor = floor
        self.child: subprocess.Popen[str] | None = None
        self.counts: dict[str, int] = {}
        """What the clients did: events read, polls answered, refusals, hang-ups."""
        self.floor_seen: Floor | None = None

    def attach(self, handle: DaemonHandle) -> None:
        load = self.load
        argv = [PYTHON, "-c", LOAD_CODE, str(handle.socket)]
        argv += [str(load.readers), str(load.silent), str(load.pollers)]
        with ordinary_scheduling():
            self.child = self.processes.spawn(
                argv, env=handle.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        assert self.child.stdout is not None
        if self.child.stdout.readline().strip() != "ready":
            self.processes.stop(self.child)
            raise RuntimeError(f"the clients of load {load.name} did not connect: {self._err()}")
        if self.floor is not None:
            self.floor.start()

    def detach(self, handle: DaemonHandle) -> None:
        if self.floor is not None:
            self.floor_seen = self.floor.stop()
        child = self.child
        if child is None:
            return
        self.processes.stop(child)
        assert child.stdout is not None
        out = child.stdout.read().strip()
        self.counts = json.loads(out) if out.startswith("{") else {}

    def _err(self) -> str:
        assert self.child is not None and self.child.stderr is not None
        return self.child.stderr.read().strip()[-300:]


@dataclass
class LoadFigures:
    """One load: every frame's fate and lateness (due → shutter-on edge event)."""

    load: str
    interval_ns: int
    frames: int
    journal_records: int
    missed: int
    """Frames not fired (missed or error in the journal), or fired with no edge event."""
    reasons: dict[str, int]
    """Each missed frame's ``error`` in the journal, and how many frames had it."""
    p99_us: float
    max_us: float
    clients: dict[str, int]
    floor_wakes: int = 0
    """cyclictest's wake-ups beside the run (0: not measured)."""
    floor_late: int = 0
    """Of those, how many came more than :data:`LATE_LIMIT_NS` late."""
    floor_max_us: float = math.nan
    missed_near_floor_stall: int = 0
    """Frames missed within :data:`NEAR_NS` of a cyclictest wake-up more than
    :data:`LATE_LIMIT_NS` late."""


NEAR_NS = 50 * NS_PER_MS
"""How close a miss and a stall of the floor must be to count as the same moment: a few
intervals at 10 ms, which also covers cyclictest's start-up (its wake-ups are placed from
the stamp taken before it was spawned)."""


def misses_near_stalls(due_ns: Sequence[int], floor: Floor, interval_ns: int) -> int:
    """How many of the missed frames' ``due_ns`` lie within :data:`NEAR_NS` of a late wake."""
    stalls = [floor.started_ns + (cycle + 1) * interval_ns for cycle in floor.late()]
    return sum(1 for due in due_ns if any(abs(due - at) <= NEAR_NS for at in stalls))


def bench_load(
    processes: Processes, load: Load, frames: int, keep: bool, cyclictest: str | None
) -> LoadFigures:
    """A daemon, the two measuring subscribers and ``load``'s clients; one run of ``frames``.

    With ``cyclictest``, the floor runs beside it (:class:`FloorBeside`).
    """
    floor = FloorBeside(processes, cyclictest, load.interval_ns) if cyclictest else None
    clients = ClientLoad(processes, load, floor)
    run = daemon_run(processes, load.interval_ns, frames, keep, more=clients)
    fired = run.fired()
    reasons: dict[str, int] = {}
    for record in run.records:
        if record["status"] != "ok":
            why = f"{record['status']}: {record.get('error')}"
            reasons[why] = reasons.get(why, 0) + 1
    no_edge = sum(1 for f in fired if f.status == "ok" and f.written_ns is None)
    if no_edge:
        reasons["ok in the journal, no shutter edge event seen"] = no_edge
    lateness = [
        (f.written_ns - f.due_ns) / 1000 for f in fired if f.status == "ok" and f.written_ns
    ]
    seen = clients.floor_seen
    missed_due = [r["due_ns"] for r in run.records if r["status"] != "ok"]
    figures = LoadFigures(
        load=load.describe(),
        interval_ns=load.interval_ns,
        frames=frames,
        journal_records=len(run.records),
        missed=sum(reasons.values()) + max(0, frames - len(run.records)),
        reasons=reasons,
        p99_us=percentile(lateness, 99),
        max_us=max(lateness) if lateness else math.nan,
        clients=clients.counts,
    )
    if seen is not None and seen.samples:
        figures.floor_wakes = len(seen.samples)
        figures.floor_late = len(seen.late())
        figures.floor_max_us = seen.max_ns / 1000
        figures.missed_near_floor_stall = misses_near_stalls(missed_due, seen, load.interval_ns)
    return figures


def measure_loads(processes: Processes, report: Report, args: Any) -> None:
    """Each chosen load, one after the other; a frame missed under any is a failed target."""
    print(f"\nClient loads: {args.load_frames} frames each, beside two measuring subscribers")
    results: list[LoadFigures] = []
    cyclictest = find_cyclictest()
    if cyclictest is None and args.install:
        cyclictest = install_cyclictest()
    if cyclictest is None:
        print("  cyclictest (rt-tests) is missing: the floor beside each load is not measured.")
    for name in args.loads:
        load = LOADS[name]
        print(f"  {load.describe()} …", end="", flush=True)
        began = time.monotonic()
        try:
            results.append(bench_load(processes, load, args.load_frames, args.keep, cyclictest))
        except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as error:
            print(f" failed: {error}")
            report.fail(f"load {name}: {error}")
            continue
        print(f" done in {time.monotonic() - began:.1f} s")
    limit = format_duration(LATE_LIMIT_NS)
    header = (
        "load",
        "frames",
        "journal",
        "missed",
        "p99 µs",
        "max µs",
        "events read",
        "polls",
        f"floor > {limit}",
        "floor max µs",
        "missed near",
    )
    rows = [
        (
            r.load,
            str(r.frames),
            str(r.journal_records),
            str(r.missed),
            fmt(r.p99_us),
            fmt(r.max_us),
            str(r.clients.get("events", "–")),
            str(r.clients.get("polls", "–")),
            f"{r.floor_late} of {r.floor_wakes}" if r.floor_wakes else "–",
            fmt(r.floor_max_us),
            str(r.missed_near_floor_stall) if r.floor_wakes else "–",
        )
        for r in results
    ]
    print_table(header, rows, left=2)
    print(
        "  missed: journal records not ok (their error below), absent, or ok with no edge event;\n"
        "  p99/max: due_ns (journal) → shutter-on edge event at_ns, as for lapse above;\n"
        "  events read / polls: by the load's clients (not the measuring subscribers);\n"
        f"  floor: cyclictest -S (a thread pinned to each CPU) at SCHED_FIFO {FLOOR_PRIORITY} and"
        f" the load's interval, beside the run from its clients' start to the run's end;\n"
        f"  its wake-ups more than {limit} late, on any CPU"
        " (deadline → its clock read), and its max;\n"
        f"  missed near: lapse's misses within {format_duration(NEAR_NS)} of such a wake-up."
    )
    report.data["loads"] = [asdict(r) for r in results]
    for r in results:
        said = "; ".join(f"{count}× {why}" for why, count in r.reasons.items())
        report.check(
            f"no frame missed under load {r.load}",
            r.missed == 0,
            f"{r.missed} missed of {r.frames}" + (f": {said}" if said else ""),
        )


# -- report --------------------------------------------------------------------------------------
HEADER = ("condition", "method", "n", "p50 µs", "p99 µs", "max µs", "drift µs", "early", "missed")


def print_figures(results: Sequence[Figures], spans: Mapping[str, str] = SPANS) -> None:
    """The figures, one row per condition × method, then what each method measures."""
    rows = [
        (
            r.condition,
            r.method,
            str(r.n),
            fmt(r.p50_us),
            fmt(r.p99_us),
            fmt(r.max_us),
            fmt(r.drift_us),
            str(r.early),
            str(r.missed),
        )
        for r in results
    ]
    print_table(HEADER, rows, left=2)
    print("  From → to, per method (every stamp is CLOCK_MONOTONIC):")
    for method in dict.fromkeys(r.method for r in results):
        print(f"    {method}: {spans[method]}")
    print("  drift: median lateness of the last tenth of the run minus that of the first tenth.")
    print("  missed: not fired (missed/error) or no record of the write (no edge event).")


def find(results: Sequence[Figures], condition: str, method: str) -> Figures | None:
    """The figures of one method in one condition, if measured."""
    return next((r for r in results if r.condition == condition and r.method == method), None)


def same_policy_reference(lapse: Figures | None) -> str:
    """The cyclictest row at the policy the daemon's timing thread ran at."""
    threads = [] if lapse is None else lapse.extra.get("realtime_threads", [])
    return CYCLICTEST_FIFO if f"SCHED_FIFO {TIMING_PRIORITY}" in threads else CYCLICTEST_OTHER


def timing_checks(
    report: Report,
    results: Sequence[Figures],
    conditions: Sequence[str],
    prefix: str = "",
    method: str = LAPSE,
) -> None:
    """The timing targets for lapse's figures (due → write returned) as ``method``;
    ``prefix`` names the case."""

    def check(name: str, passed: bool | None, detail: str) -> None:
        report.check(prefix + name, passed, detail)

    for condition in conditions:
        lapse = find(results, condition, method)
        check(
            f"lapse never fires early ({condition})",
            None if lapse is None else lapse.early == 0,
            "not measured" if lapse is None else f"{lapse.early} early of {lapse.n}",
        )
        check(
            f"lapse misses no frame ({condition})",
            None if lapse is None else lapse.missed == 0,
            "not measured"
            if lapse is None
            else f"{lapse.extra['not_fired']} not fired, {lapse.extra['no_edge_event']} with no"
            f" edge event, of {lapse.extra['journal_records']}"
            + "".join(f"; {line}" for line in lapse.extra["not_ok"][:3]),
        )
    idle, loaded = find(results, "idle", method), find(results, "loaded", method)
    reference_name = same_policy_reference(idle)
    reference = find(results, "idle", reference_name)
    name = f"idle p99 ≤ {IDLE_P99_CYCLICTEST_FACTOR:g}× {reference_name} p99 (same policy)"
    if idle is None or reference is None:
        check(name, None, "not measured")
    else:
        limit = IDLE_P99_CYCLICTEST_FACTOR * reference.p99_us
        check(name, idle.p99_us <= limit, f"{fmt(idle.p99_us)} µs vs {fmt(limit)} µs")
    check(
        f"idle p99 ≤ {IDLE_P99_LIMIT_US:g} µs",
        None if idle is None else idle.p99_us <= IDLE_P99_LIMIT_US,
        "not measured" if idle is None else f"{fmt(idle.p99_us)} µs",
    )
    drift = math.nan if idle is None else idle.drift_us
    check(
        f"idle |drift| < {IDLE_DRIFT_LIMIT_US:g} µs",
        None if math.isnan(drift) else abs(drift) < IDLE_DRIFT_LIMIT_US,
        "not measured" if math.isnan(drift) else f"{fmt(drift)} µs",
    )
    check(
        f"loaded p99 < {LOADED_P99_LIMIT_US:g} µs",
        None if loaded is None else loaded.p99_us < LOADED_P99_LIMIT_US,
        "not measured" if loaded is None else f"{fmt(loaded.p99_us)} µs",
    )


# -- the benchmark -------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> Any:
    parser = bench_parser(
        "bench/timing.py",
        __doc__,
        conditions=True,
        parts=PARTS,
        interval="50ms",
        frames=400,
        scope="methods: ",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="apt-get install -y rt-tests if cyclictest is missing",
    )
    parser.add_argument(
        "--spin-intervals",
        type=lambda text: parse_durations(text) if text.strip() else [],
        default=SPIN_INTERVALS,
        help=f"intervals of the spin-cost runs (default {SPIN_INTERVALS}); empty: skip",
    )
    parser.add_argument(
        "--spin-seconds",
        type=float,
        default=10.0,
        help="each spin-cost run lasts about this long, at least 20 frames (default 10)",
    )
    parser.add_argument(
        "--loopback",
        type=int,
        metavar="IN_PIN",
        help="on a Pi: measure to the physical edge on IN_PIN, wired to the shutter output",
    )
    parser.add_argument(
        "--loads",
        type=lambda text: parse_choices(text, tuple(LOADS), "--loads"),
        default=",".join(LOADS),
        help="which client loads to run (default a,b,c; see the description)",
    )
    parser.add_argument(
        "--load-frames",
        type=int,
        default=LOAD_FRAMES,
        help=f"frames of each load's run (default {LOAD_FRAMES}; the target is 100000)",
    )
    parser.add_argument(
        "--auto-exposure",
        action="store_true",
        help="also run lapse with auto exposure on the wired line (the virtual camera)",
    )
    args = parser.parse_args(argv)
    if args.load_frames < 1:
        parser.error("--load-frames must be at least 1")
    if args.frames < 20:
        parser.error("--frames must be at least 20 (drift compares tenths)")
    return args


PARTS = ("methods", "spin", "loads")
"""methods: lapse and the baselines in each condition; spin: the final spin's cost;
loads: lapse under the client loads."""


def measure_methods(processes: Processes, report: Report, args: Any) -> None:
    """Every method in every condition."""
    interval_ns, frames = args.interval, args.frames
    print(f"interval {format_duration(interval_ns)}, {frames} frames per method")
    cyclictest = find_cyclictest()
    if cyclictest is None and args.install:
        cyclictest = install_cyclictest()
    if cyclictest is None:
        print("cyclictest (Debian package rt-tests) is missing: --install installs it.")
        report.fail("cyclictest is not installed: the reference is not measured")
    else:
        version = package_version("rt-tests") or "unknown version"
        shown = " ".join(cyclictest_argv(cyclictest, interval_ns, frames, True))
        print(f"cyclictest: rt-tests {version}; {shown}")
    steps: list[tuple[str, Callable[[str], Figures | list[Figures]]]] = []
    if cyclictest is not None:
        for method, fifo in ((CYCLICTEST_FIFO, True), (CYCLICTEST_OTHER, False)):
            argv = cyclictest_argv(cyclictest, interval_ns, frames, fifo)
            steps.append(
                (
                    method,
                    lambda c, m=method, a=argv: bench_cyclictest(processes, c, m, a, interval_ns),
                )
            )
    for method, kind, priority in (
        (CAREFUL_FIFO, "careful", TIMING_PRIORITY),
        (CAREFUL_OTHER, "careful", 0),
        (NAIVE, "naive", 0),
    ):
        steps.append(
            (
                method,
                lambda c, m=method, k=kind, p=priority: bench_loop(
                    processes, c, m, k, p, interval_ns, frames
                ),
            )
        )
    steps.append((LAPSE, lambda c: bench_lapse(processes, c, interval_ns, frames, args.keep)))
    if args.auto_exposure:
        steps.append(
            (
                LAPSE_AUTO,
                lambda c: bench_lapse_auto(processes, c, interval_ns, frames, args.keep),
            )
        )

    results: list[Figures] = []
    for condition in args.conditions:
        with condition_context(processes, condition) as what:
            print(f"\n[{condition}] {what}")
            for name, step in steps:
                began = time.monotonic()
                print(f"  {name} …", end="", flush=True)
                try:
                    found = step(condition)
                except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as error:
                    print(f" failed: {error}")
                    report.fail(f"{condition} {name}: {error}")
                    continue
                print(f" done in {time.monotonic() - began:.1f} s")
                results.extend(found if isinstance(found, list) else [found])
                if name == LAPSE:
                    extra = results[-2].extra
                    threads = ", ".join(extra["realtime_threads"]) or "none (all SCHED_OTHER)"
                    print(f"    daemon real-time threads: {threads}; run {extra['final_state']}")
                if name == LAPSE_AUTO:
                    extra = results[-1].extra
                    print(
                        f"    camera: {extra['files']} files of {extra['journal_records']} frames,"
                        f" {extra['exposures']} exposures; run {extra['final_state']}"
                        + "".join(f"; {line}" for line in extra["no_file"][:3])
                    )
    print()
    print_figures(results)
    for condition in args.conditions:
        lapse = find(results, condition, LAPSE)
        reference = find(results, condition, same_policy_reference(lapse))
        if lapse is not None and reference is not None and reference.p99_us > 0:
            print(
                f"  lapse p99 / {reference.method} p99 ({condition}):"
                f" {lapse.p99_us / reference.p99_us:.2f}"
            )
    report.data["interval_ns"], report.data["frames"] = interval_ns, frames
    report.data["results"] = [asdict(r) for r in results]
    timing_checks(report, results, args.conditions)
    if args.auto_exposure:
        timing_checks(report, results, args.conditions, "auto exposure: ", LAPSE_AUTO)


def measure_spin(report: Report, args: Any) -> None:
    """The final spin's cost at each of ``--spin-intervals`` (none: nothing)."""
    if args.spin_intervals:
        print(
            f"\nThe final spin's cost (SPIN_NS = {SPIN_NS / 1e6:g} ms):"
            " lapse's engine in this process, on the simulated rig"
        )
        try:
            pairs = bench_spin(args.spin_intervals, args.spin_seconds)
        except (RuntimeError, OSError) as error:
            report.fail(f"spin cost: {error}")
        else:
            report.data["spin"] = print_spin(pairs)


def measure_loopback_on_pi(processes: Processes, report: Report, args: Any) -> None:
    """Due time → the physical edge on ``--loopback IN_PIN``, for a daemon on real GPIO."""
    try:
        from gpiozero.pins.lgpio import LGPIOFactory
    except ImportError as error:
        report.fail(f"the loopback needs lgpio (sudo apt install python3-lgpio): {error}")
        return
    interval_ns, frames, in_pin = args.interval, args.frames, args.loopback
    shutter = HardwareConfig().shutter_pin
    print(
        f"loopback: shutter GPIO {shutter} wired to GPIO {in_pin}; interval"
        f" {format_duration(interval_ns)}, {frames} frames; a lapse daemon on real GPIO"
    )
    factory = LGPIOFactory()
    results: list[LoopbackFigures] = []
    try:
        for condition in args.conditions:
            with condition_context(processes, condition) as what:
                print(f"\n[{condition}] {what}", flush=True)

                def drive() -> list[Fired]:
                    return daemon_run(processes, interval_ns, frames, args.keep, "gpio").fired()

                try:
                    results.append(measure_loopback(factory, in_pin, drive, interval_ns, condition))
                except (RuntimeError, OSError) as error:
                    report.fail(f"loopback {condition}: {error}")
    finally:
        factory.close()
    header = ("condition", "from → to", "n", "p50 µs", "p99 µs", "max µs", "drift µs")
    rows = []
    for figures in results:
        for span, values in (
            ("due → edge (kernel stamp)", figures.due_to_edge_ns),
            ("due → write returned", figures.due_to_write_ns),
            ("write returned → edge", figures.write_to_edge_ns),
        ):
            stats = figures.stats_us(values)
            rows.append(
                (
                    figures.condition,
                    span,
                    str(len(values)),
                    *(fmt(stats[key]) for key in ("p50", "p99", "max", "drift")),
                )
            )
    print()
    print_table(header, rows, left=2)
    print(
        "  due: the journal's due_ns; write returned: the shutter-on edge event's at_ns;\n"
        "  edge: the input's when_changed ticks (the kernel's CLOCK_MONOTONIC line-event stamp)."
    )
    report.data["loopback"] = [asdict(figures) for figures in results]
    for name, passed, detail in loopback_checks(results):
        report.check(name, passed, detail)


def measure(processes: Processes, report: Report, args: Any) -> None:
    """The parts asked for (``--parts``); with ``--loopback``, the loopback only."""
    if args.loopback is not None:
        measure_loopback_on_pi(processes, report, args)
        return
    if "methods" in args.parts:
        measure_methods(processes, report, args)
    if "spin" in args.parts:
        measure_spin(report, args)
    if "loads" in args.parts:
        measure_loads(processes, report, args)


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(TITLE, parse_args(argv), measure)


if __name__ == "__main__":
    sys.exit(main())
