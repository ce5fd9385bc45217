"""Shutter timing: lapse's daemon against cyclictest and a naive sleep loop.

One invocation measures, at one interval (50 ms by default) for N frames
(400 by default), in two conditions — idle, and with two CPU-bound processes
running — three ways of hitting a periodic deadline:

(a) ``cyclictest`` (Debian's rt-tests) at the same period: the reference for
    what this kernel gives a thread that sleeps to absolute deadlines. It
    measures per-wake-up latency only; it has no notion of drift.
(b) a naive loop in a subprocess, ``t = monotonic(); shoot(); sleep(I)``, as
    Pi time-lapse scripts do: each shot's lateness against the ideal grid
    t0 + k·I grows, and that growth is the drift.
(c) lapse's daemon on the simulated rig with two clients subscribed, running
    ``lapse run --interval I --frames N``: lateness is ``fired_ns − due_ns``
    from the run's journal.

Then it checks the targets: lapse never early; idle p99 ≤ 2× cyclictest's p99
and ≤ 250 µs; idle drift < 20 µs; loaded p99 < 1 ms.

Run from the repo root: ``/work/venv/bin/python bench/timing.py [--install] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    HOG_CODE,
    PYTHON,
    DaemonHandle,
    Processes,
    cpu_hogs,
    exit_on_signals,
    exit_status,
    fmt,
    host_info,
    host_line,
    lapse_command,
    median,
    percentile,
    print_targets,
    start_daemon,
    stop_daemon,
    target_records,
    temp_dir,
    thread_policies,
    wait_for_hello,
    write_report,
)
from core.client import Client
from core.durations import format_duration, parse_duration
from core.errors import DurationError

ENDED_STATES = ("finished", "stopped", "failed", "interrupted")
CONDITIONS = ("idle", "loaded")
RT_PRIORITY = 80
"""cyclictest's SCHED_FIFO priority with ``--rt`` (the rt-tests documentation's usual choice)."""

# Targets from the issue.
IDLE_P99_LIMIT_US = 250.0
IDLE_P99_CYCLICTEST_FACTOR = 2.0
IDLE_DRIFT_LIMIT_US = 20.0
LOADED_P99_LIMIT_US = 1000.0

NAIVE_CODE = """\
import json, sys, time
interval_s = int(sys.argv[1]) / 1e9
frames = int(sys.argv[2])
shots = []
pin = [0]

def shoot():
    pin[0] ^= 1  # where a script would pulse a GPIO line

for _ in range(frames):
    t = time.monotonic_ns()
    shoot()
    shots.append(t)
    time.sleep(interval_s)
print(json.dumps(shots))
"""
"""The naive loop of Pi time-lapse scripts: sleep the interval after each shot."""


@dataclass
class Figures:
    """One method in one condition: lateness statistics in µs."""

    condition: str
    method: str
    n: int
    p50_us: float
    p99_us: float
    max_us: float
    drift_us: float | None = None
    early: int | None = None
    missed: int | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_ns(
        cls, condition: str, method: str, lateness_ns: Sequence[int], **kwargs: Any
    ) -> Figures:
        """Figures from per-frame lateness in ns."""
        values = [value / 1000 for value in lateness_ns]
        return cls(
            condition=condition,
            method=method,
            n=len(values),
            p50_us=percentile(values, 50),
            p99_us=percentile(values, 99),
            max_us=max(values) if values else math.nan,
            **kwargs,
        )


# -- (a) cyclictest ----------------------------------------------------------------------------
CYCLICTEST_DIRS = ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/sbin", "/bin")


def find_cyclictest() -> str | None:
    """The path of ``cyclictest``, looked up on PATH and the usual system folders."""
    found = shutil.which("cyclictest")
    if found:
        return found
    return shutil.which("cyclictest", path=os.pathsep.join(CYCLICTEST_DIRS))


def install_cyclictest() -> str | None:
    """``apt-get install -y rt-tests``, after ``apt-get update`` if the first try fails."""
    if shutil.which("apt-get") is None:
        print("  apt-get is not available; install rt-tests by hand.")
        return None
    install = ["apt-get", "install", "-y", "rt-tests"]
    for attempt in (install, ["apt-get", "update"], install):
        print(f"  running: {' '.join(attempt)}", flush=True)
        done = subprocess.run(attempt, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-2:])
            print(f"  {' '.join(attempt[:2])} failed (status {done.returncode}): {tail}")
        elif attempt is install:
            return find_cyclictest()
    return None


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


def cyclictest_argv(path: str, interval_ns: int, frames: int, rt: bool) -> list[str]:
    """One thread, the same period, mlockall, and per-sample output (``-v``).

    rt-tests 2.x defaults to SCHED_FIFO even with ``-p0`` ("defaulting realtime
    priority to 2"), so the policy is always named: ``other`` at priority 0, or
    ``fifo`` at :data:`RT_PRIORITY` with ``--rt``.
    """
    priority, policy = (RT_PRIORITY, "fifo") if rt else (0, "other")
    return [
        path,
        "-t1",
        f"-i{interval_ns // 1000}",
        "-d0",
        f"-l{frames}",
        "-m",
        f"-p{priority}",
        f"--policy={policy}",
        "-q",
        "-v",
    ]


def bench_cyclictest(
    processes: Processes, condition: str, argv: list[str], frames: int, interval_ns: int
) -> Figures:
    """Run cyclictest and take every sample's latency from its ``-v`` output."""
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
    said = [*out.splitlines(), *err.splitlines()]
    notes = [line.strip() for line in said if line.strip() and not _SAMPLE.match(line)]
    notes = [note for note in notes if not note.startswith(("Max CPUs", "Online CPUs"))]
    return Figures.from_ns(
        condition,
        "cyclictest",
        [us * 1000 for us in samples],
        note="per-wake-up latency to absolute deadlines; no drift concept",
        extra={"said": notes[:4]} if notes else {},
    )


# -- (b) the naive loop ------------------------------------------------------------------------
def bench_naive(processes: Processes, condition: str, interval_ns: int, frames: int) -> Figures:
    """The sleep-after-shot loop in a fresh interpreter; lateness against t0 + k·I."""
    child = processes.spawn(
        [PYTHON, "-c", NAIVE_CODE, str(interval_ns), str(frames)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = child.communicate(timeout=frames * interval_ns / 1e9 * 2 + 60)
    finally:
        processes.stop(child)
    if child.returncode != 0:
        raise RuntimeError(f"the naive loop failed: {err.strip()}")
    shots: list[int] = json.loads(out)
    t0 = shots[0]
    lateness = [shot - (t0 + k * interval_ns) for k, shot in enumerate(shots)]
    return Figures.from_ns(
        condition,
        "naive sleep loop",
        lateness,
        drift_us=(lateness[-1] - lateness[0]) / 1000,
        early=sum(1 for value in lateness if value < 0),
        missed=0,
        note="lateness against t0 + k·I grows by the loop's overhead each shot",
    )


# -- (c) lapse ---------------------------------------------------------------------------------
class Subscriber(threading.Thread):
    """A client that subscribes and reads every event until the run ends."""

    def __init__(self, socket_path: Path, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.client = Client(socket_path, timeout=10.0)
        self.subscribed = threading.Event()
        self.ended = threading.Event()
        self.stopping = threading.Event()
        self.events = 0
        self.frames = 0
        self.shutter_on: dict[int, int] = {}
        """Frame → ``at_ns`` of its shutter-on edge event (after the output was switched)."""
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
                    for message in self.client.events(timeout=1.0):
                        if self._take(message["event"], message.get("data") or {}):
                            return
                except TimeoutError:
                    continue
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.subscribed.set()
            self.ended.set()
            self.client.close()

    def _take(self, name: str, data: dict[str, Any]) -> bool:
        """Count one event; True once the run has ended."""
        self.events += 1
        if name == "frame":
            self.frames += 1
        elif name == "edge" and data.get("line") == "shutter" and data.get("on"):
            self.shutter_on[int(data["frame"])] = int(data["at_ns"])
        elif name == "state":
            state, run = data.get("state"), data.get("run")
            if state == "running" and run is not None:
                self.run_id = run
            elif self.run_id is not None and run == self.run_id and state in ENDED_STATES:
                self.final_state = state
                return True
        return False


def start_run(
    processes: Processes, handle: DaemonHandle, interval_ns: int, frames: int
) -> tuple[str, str]:
    """``lapse run --interval I --frames N`` against the daemon; returns (run id, its line)."""
    argv = [
        *lapse_command(),
        "run",
        "--interval",
        format_duration(interval_ns),
        "--frames",
        str(frames),
    ]
    child = processes.spawn(
        argv, env=handle.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = child.communicate(timeout=60)
    finally:
        processes.stop(child)
    if child.returncode != 0:
        raise RuntimeError(f"`lapse run` failed (status {child.returncode}): {err.strip()}")
    match = re.search(r"Run (\S+) started", out)
    if match is None:
        raise RuntimeError(f"`lapse run` said something unexpected: {out.strip()}")
    return match[1], out.strip().splitlines()[0]


def read_journal(state_dir: Path, run_id: str) -> list[dict[str, Any]]:
    """The run's frame records, in frame order."""
    path = state_dir / "runs" / run_id / "frames.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(records, key=lambda record: record["frame"])


def tenth_drift_ns(lateness: Sequence[int]) -> float:
    """Median lateness of the last tenth minus the median of the first tenth."""
    if not lateness:
        return math.nan
    tenth = max(1, len(lateness) // 10)
    return median(lateness[-tenth:]) - median(lateness[:tenth])


def bench_lapse(
    processes: Processes, condition: str, interval_ns: int, frames: int, keep: bool
) -> list[Figures]:
    """A daemon on the simulated rig, two subscribers, one run; figures from the journal."""
    with temp_dir("lapse-bench-", keep) as root:
        handle = start_daemon(processes, root)
        subscribers: list[Subscriber] = []
        try:
            wait_for_hello(handle)
            subscribers = [Subscriber(handle.socket, f"subscriber-{i}") for i in (1, 2)]
            for subscriber in subscribers:
                subscriber.start()
            for subscriber in subscribers:
                if not subscriber.subscribed.wait(15) or subscriber.error:
                    raise RuntimeError(f"{subscriber.name} could not subscribe: {subscriber.error}")
            run_id, started = start_run(processes, handle, interval_ns, frames)
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
        finally:
            for subscriber in subscribers:
                subscriber.stopping.set()
            status = stop_daemon(processes, handle)
            for subscriber in subscribers:
                subscriber.join(5)

    fired = [record for record in records if record.get("fired_ns") is not None]
    lateness = [record["fired_ns"] - record["due_ns"] for record in fired]
    missed = sum(1 for record in records if record["status"] == "missed")
    errors = sum(1 for record in records if record["status"] == "error")
    fifo = [
        f"tid {tid} {policy} {prio}" for tid, policy, prio in policies if policy != "SCHED_OTHER"
    ]
    extra = {
        "run": run_id,
        "journal_records": len(records),
        "errors": errors,
        "final_state": subscribers[0].final_state,
        "events_per_subscriber": [s.events for s in subscribers],
        "frame_events_per_subscriber": [s.frames for s in subscribers],
        "realtime_threads": fifo,
        "daemon_exit_status": status,
        "started": started,
        "kept": str(root) if keep else None,
    }
    journal = Figures.from_ns(
        condition,
        "lapse daemon",
        lateness,
        drift_us=tenth_drift_ns(lateness) / 1000,
        early=sum(1 for value in lateness if value < 0),
        missed=missed,
        note="fired_ns − due_ns from frames.jsonl",
        extra=extra,
    )
    # The edge event's at_ns is taken after the rig switched the shutter output: the
    # lateness of the output itself, as far as the daemon can see it.
    edges = subscribers[0].shutter_on
    edge_lateness = [edges[r["frame"]] - r["due_ns"] for r in fired if r["frame"] in edges]
    edge = Figures.from_ns(
        condition,
        "lapse (output switched)",
        edge_lateness,
        drift_us=tenth_drift_ns(edge_lateness) / 1000,
        early=sum(1 for value in edge_lateness if value < 0),
        missed=missed,
        note="shutter-on edge event at_ns − due_ns (after rig.set_line); informative",
    )
    return [journal, edge]


# -- report ------------------------------------------------------------------------------------
HEADER = ("condition", "method", "n", "p50 µs", "p99 µs", "max µs", "drift µs", "early", "missed")


def print_table(results: Sequence[Figures]) -> None:
    """The figures, one row per condition × method."""
    rows = [HEADER] + [
        (
            r.condition,
            r.method,
            str(r.n),
            fmt(r.p50_us),
            fmt(r.p99_us),
            fmt(r.max_us),
            fmt(r.drift_us),
            fmt(r.early),
            fmt(r.missed),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(width) if column < 2 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def find(results: Sequence[Figures], condition: str, method: str) -> Figures | None:
    """The figures of one method in one condition, if measured."""
    return next((r for r in results if r.condition == condition and r.method == method), None)


def ratios(results: Sequence[Figures]) -> dict[str, float | None]:
    """lapse p99 / cyclictest p99, per condition."""
    found: dict[str, float | None] = {}
    for condition in CONDITIONS:
        lapse = find(results, condition, "lapse daemon")
        reference = find(results, condition, "cyclictest")
        if lapse is None or reference is None or reference.p99_us <= 0:
            found[condition] = None
        else:
            found[condition] = lapse.p99_us / reference.p99_us
    return found


def targets(results: Sequence[Figures]) -> list[tuple[str, bool | None, str]]:
    """(target, passed or None when it could not be checked, the figures behind it)."""
    checks: list[tuple[str, bool | None, str]] = []
    idle = find(results, "idle", "lapse daemon")
    loaded = find(results, "loaded", "lapse daemon")
    reference = find(results, "idle", "cyclictest")
    for condition, lapse in (("idle", idle), ("loaded", loaded)):
        checks.append(
            (
                f"lapse never fires early ({condition})",
                None if lapse is None else lapse.early == 0,
                "not measured" if lapse is None else f"{lapse.early} early of {lapse.n}",
            )
        )
        # A skipped slot never enters the lateness figures, so count it on its own.
        checks.append(
            (
                f"lapse misses no frame ({condition})",
                None if lapse is None else lapse.missed == 0,
                "not measured" if lapse is None else f"{lapse.missed} missed of {lapse.n}",
            )
        )
    if idle is None or reference is None:
        why = "cyclictest not measured" if idle is not None else "not measured"
        checks.append((f"idle p99 ≤ {IDLE_P99_CYCLICTEST_FACTOR:g}× cyclictest p99", None, why))
    else:
        limit = IDLE_P99_CYCLICTEST_FACTOR * reference.p99_us
        checks.append(
            (
                f"idle p99 ≤ {IDLE_P99_CYCLICTEST_FACTOR:g}× cyclictest p99",
                idle.p99_us <= limit,
                f"{fmt(idle.p99_us)} µs vs {fmt(limit)} µs",
            )
        )
    checks.append(
        (
            f"idle p99 ≤ {IDLE_P99_LIMIT_US:g} µs",
            None if idle is None else idle.p99_us <= IDLE_P99_LIMIT_US,
            "not measured" if idle is None else f"{fmt(idle.p99_us)} µs",
        )
    )
    drift = None if idle is None else idle.drift_us
    checks.append(
        (
            f"idle |drift| < {IDLE_DRIFT_LIMIT_US:g} µs",
            None if drift is None or math.isnan(drift) else abs(drift) < IDLE_DRIFT_LIMIT_US,
            "not measured" if drift is None else f"{fmt(drift)} µs",
        )
    )
    checks.append(
        (
            f"loaded p99 < {LOADED_P99_LIMIT_US:g} µs",
            None if loaded is None else loaded.p99_us < LOADED_P99_LIMIT_US,
            "not measured" if loaded is None else f"{fmt(loaded.p99_us)} µs",
        )
    )
    return checks


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/timing.py", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--frames", type=int, default=400, help="frames per method (default 400)")
    parser.add_argument("--interval", default="50ms", help="the period (default 50ms)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--install",
        action="store_true",
        help="apt-get install -y rt-tests when cyclictest is missing",
    )
    parser.add_argument(
        "--rt", action="store_true", help=f"run cyclictest at SCHED_FIFO {RT_PRIORITY}, not 0"
    )
    parser.add_argument(
        "--conditions",
        default=",".join(CONDITIONS),
        help="which conditions to run, comma-separated (default idle,loaded)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the daemons' temp folders")
    args = parser.parse_args(argv)
    try:
        args.interval_ns = parse_duration(args.interval)
    except DurationError as error:
        parser.error(str(error))
    if args.frames < 20:
        parser.error("--frames must be at least 20 (drift compares tenths)")
    args.condition_list = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = set(args.condition_list) - set(CONDITIONS)
    if unknown or not args.condition_list:
        parser.error(f"--conditions takes {', '.join(CONDITIONS)}")
    return args


@contextlib.contextmanager
def condition_context(processes: Processes, condition: str) -> Iterator[str]:
    """Nothing for idle; two CPU hogs (killed on the way out, always) for loaded."""
    if condition == "loaded":
        with cpu_hogs(processes, 2) as hogs:
            pids = ", ".join(str(hog.pid) for hog in hogs)
            yield f"2 × `python -c '{HOG_CODE}'` running (pids {pids})"
    else:
        yield "nothing else running"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_signals()
    interval_ns, frames = args.interval_ns, args.frames
    processes = Processes()
    results: list[Figures] = []
    failures: list[str] = []
    print(f"lapse timing benchmark: interval {format_duration(interval_ns)}, {frames} frames")
    print(host_line())

    cyclictest = find_cyclictest()
    if cyclictest is None:
        print("note: cyclictest (Debian package rt-tests) is not installed.")
        if args.install:
            cyclictest = install_cyclictest()
            print(f"  {'installed: ' + cyclictest if cyclictest else 'still missing'}")
        else:
            print("  reported as missing; run with --install to apt-get install rt-tests.")
    ct_argv = cyclictest_argv(cyclictest, interval_ns, frames, args.rt) if cyclictest else None
    if ct_argv is not None:
        policy = f"SCHED_FIFO {RT_PRIORITY}" if args.rt else "SCHED_OTHER, priority 0"
        version = package_version("rt-tests") or "unknown version"
        print(f"cyclictest: rt-tests {version}; {' '.join(ct_argv)}")
        print(f"  mlockall (-m), {policy}; one thread; clock_nanosleep to absolute deadlines.")
        print("  cyclictest has no drift concept: it measures each wake-up against its deadline.")
    print()

    try:
        for condition in args.condition_list:
            with condition_context(processes, condition) as what:
                print(f"[{condition}] {what}")
                steps: list[tuple[str, Callable[[], Figures | list[Figures]]]] = []
                if ct_argv is not None:
                    steps.append(
                        (
                            "cyclictest",
                            partial(
                                bench_cyclictest, processes, condition, ct_argv, frames, interval_ns
                            ),
                        )
                    )
                steps.append(
                    (
                        "naive sleep loop",
                        partial(bench_naive, processes, condition, interval_ns, frames),
                    )
                )
                steps.append(
                    (
                        "lapse daemon",
                        partial(bench_lapse, processes, condition, interval_ns, frames, args.keep),
                    )
                )
                for name, step in steps:
                    began = time.monotonic()
                    print(f"  {name} …", end="", flush=True)
                    try:
                        outcome = step()
                    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as error:
                        print(f" failed: {error}")
                        failures.append(f"{condition} {name}: {error}")
                        continue
                    print(f" done in {time.monotonic() - began:.1f} s")
                    found = outcome if isinstance(outcome, list) else [outcome]
                    results.extend(found)
                    for figures in found:
                        extra = figures.extra
                        if "realtime_threads" in extra:
                            threads = extra["realtime_threads"] or ["none (all SCHED_OTHER)"]
                            print(f"    daemon real-time threads: {', '.join(threads)}")
                            if extra.get("kept"):
                                print(f"    kept {extra['kept']}")
                            print(
                                f"    events read per subscriber: {extra['events_per_subscriber']}"
                                f" (frame events {extra['frame_events_per_subscriber']});"
                                f" run {extra['final_state']}, errors {extra['errors']}"
                            )
                        if extra.get("said"):
                            print(f"    cyclictest said: {' | '.join(extra['said'])}")
    except KeyboardInterrupt:
        print("\ninterrupted: every process this benchmark started is being ended.")
        processes.stop_all()
        return 130
    finally:
        processes.stop_all()

    print()
    print_table(results)
    print()
    print("Lateness: how long after its deadline each wake-up / shot / shutter came.")
    print("drift: naive = last shot's offset from the grid minus the first's;")
    print("       lapse = median of the last tenth minus median of the first tenth.")
    print("'lapse (output switched)' uses the shutter edge event's at_ns (after the rig call).")
    print()
    found_ratios = ratios(results)
    for condition in CONDITIONS:
        ratio = found_ratios[condition]
        shown = "n/a (not measured)" if ratio is None else f"{ratio:.3g}"
        print(f"lapse p99 / cyclictest p99 ({condition}): {shown}")
    print()
    checks = targets(results)
    print("Targets:")
    print_targets(checks)
    for condition in CONDITIONS:
        lapse = find(results, condition, "lapse daemon")
        if lapse is not None and lapse.missed:
            print(
                f"  note  lapse missed {lapse.missed} frame(s) {condition}: a missed frame is"
                " not in the lateness figures above (not a target of the issue)"
            )
    for failure in failures:
        print(f"  ERROR {failure}")

    if args.json is not None:
        report = {
            "interval_ns": interval_ns,
            "frames": frames,
            "host": host_info(),
            "cyclictest": {
                "argv": ct_argv,
                "version": package_version("rt-tests") if ct_argv else None,
                "rt": args.rt,
            },
            "results": [asdict(r) for r in results],
            "ratios_p99_lapse_over_cyclictest": found_ratios,
            "targets": target_records(checks),
            "errors": failures,
        }
        write_report(args.json, report)
    return exit_status(checks, failures)


if __name__ == "__main__":
    sys.exit(main())
