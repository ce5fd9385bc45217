"""What lapse costs when nothing is happening: CPU, start-up and import time.

(a) CPU: a daemon on the simulated rig carrying a run with a 1-minute interval
    and no client connected, over ≥ 120 s (130 s by default), from
    /proc/<pid>/stat utime + stime; target < 0.2 % of one core. Baseline, side
    by side: an idle ``python -c "import time; time.sleep(1e9)"``.
(b) Readiness: from exec of ``lapse daemon`` to its socket answering ``hello``,
    ≥ 10 times (a fresh state folder each); median and p90; target 0.5 s.
    Baselines measured the same way, interleaved: ``python -c pass`` (exec to
    exit) and a minimal asyncio unix-socket server (exec to its first answer).
(c) Import: ``python -X importtime -c 'import core'``: the cumulative time of
    the top-level ``core`` line, and of everything ``import core.daemon,
    core.controller, core.client`` loads; median of ≥ 10 runs; target < 50 ms.
    Baseline: ``import asyncio`` measured the same way.

Run from the repo root: ``/work/venv/bin/python bench/idle_cost.py [--seconds 130] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    PYTHON,
    REPO_ROOT,
    Processes,
    clock_ticks,
    cpu_ticks,
    daemon_env,
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
from core.client import daemon_answers
from core.durations import format_duration, parse_duration
from core.errors import DurationError

CPU_LIMIT_PERCENT = 0.2
READY_LIMIT_S = 0.5
IMPORT_LIMIT_MS = 50.0
MIN_SECONDS = 120.0
MIN_REPEATS = 10

SLEEPER_CODE = "import time; time.sleep(1e9)"
"""The idle baseline: a Python process that does nothing at all."""

HELLO_SERVER_CODE = """\
import asyncio, json, sys

async def answer(reader, writer):
    while line := await reader.readline():
        request = json.loads(line)
        reply = {"v": 1, "id": request.get("id"), "ok": True, "result": {"pid": 0}}
        writer.write((json.dumps(reply) + "\\n").encode())
        await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_unix_server(answer, path=sys.argv[1])
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""
"""The readiness baseline: the least a Python unix-socket server must do to answer hello."""

MARK = "@@lapse-bench-mark@@"
"""Written to stderr just before the measured import: lines after it are the import's."""


# -- (a) CPU while idle ------------------------------------------------------------------------
@dataclass
class CpuFigures:
    """CPU used over one measured window."""

    seconds: float
    daemon_ticks: int
    baseline_ticks: int
    ticks_per_second: int
    daemon_percent: float
    baseline_percent: float
    daemon_schedstat_percent: float = 0.0
    """The same from the threads' schedstat (ns resolution, threads alive at both ends)."""
    baseline_schedstat_percent: float = 0.0
    daemon_thread_ns: dict[str, int] = field(default_factory=dict)
    """CPU ns per daemon thread over the window (from /proc/<pid>/task/<tid>/schedstat)."""
    frames_in_window: int = 0
    run: str = ""


def thread_cpu_ns(pid: int) -> dict[str, int]:
    """Nanoseconds on CPU per thread (schedstat's first field), keyed by a readable label.

    The main thread runs the asyncio server; the one at SCHED_FIFO is lapse's
    timing thread (when the system allowed it real-time priority).
    """
    policies = {tid: policy for tid, policy, _ in thread_policies(pid)}
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            with contextlib.suppress(OSError, ValueError):
                with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as file:
                    on_cpu = int(file.read().split()[0])
                policy = policies.get(int(tid), "?")
                if int(tid) == pid:
                    role = "main: asyncio server"
                elif policy == "SCHED_FIFO":
                    role = "timing thread"
                else:
                    role = "other"
                found[f"tid {tid} {role}, {policy}"] = on_cpu
    return found


def journal_frames(state_dir: Path, run_id: str) -> list[dict[str, Any]]:
    """The run's frame records so far."""
    path = state_dir / "runs" / run_id / "frames.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def bench_cpu(processes: Processes, seconds: float, interval_ns: int, keep: bool) -> CpuFigures:
    """A daemon carrying a run with no client, next to an idle Python; CPU over ``seconds``."""
    with temp_dir("lapse-idle-", keep) as root:
        handle = start_daemon(processes, root)
        sleeper = processes.spawn([PYTHON, "-c", SLEEPER_CODE])
        try:
            wait_for_hello(handle)
            argv = [*lapse_command(), "run", "--interval", format_duration(interval_ns)]
            argv += ["--frames", "0"]
            started = subprocess.run(
                argv, env=handle.env, capture_output=True, text=True, timeout=60, check=False
            )
            if started.returncode != 0:
                raise RuntimeError(f"`lapse run` failed: {started.stderr.strip()}")
            match = re.search(r"Run (\S+) started", started.stdout)
            run_id = match[1] if match else ""
            print(f"    {started.stdout.strip().splitlines()[0]}")
            time.sleep(1.0)  # the CLI has hung up; the daemon settles
            if daemon_answers(handle.socket) is None:
                raise RuntimeError(f"the daemon stopped answering:\n{handle.last_words()}")
            frames_before = len(journal_frames(handle.state_dir, run_id))
            threads_before = thread_cpu_ns(handle.pid)
            sleeper_before = sum(thread_cpu_ns(sleeper.pid).values())
            wall0 = time.monotonic()
            daemon0, sleeper0 = cpu_ticks(handle.pid), cpu_ticks(sleeper.pid)
            progress_at = wall0
            while (now := time.monotonic()) < wall0 + seconds:
                time.sleep(min(1.0, wall0 + seconds - now))
                if time.monotonic() - progress_at >= 30:
                    progress_at = time.monotonic()
                    print(f"    … {progress_at - wall0:.0f} s of {seconds:.0f} s", flush=True)
            daemon1, sleeper1 = cpu_ticks(handle.pid), cpu_ticks(sleeper.pid)
            wall = time.monotonic() - wall0
            threads_after = thread_cpu_ns(handle.pid)
            sleeper_after = sum(thread_cpu_ns(sleeper.pid).values())
            frames_after = len(journal_frames(handle.state_dir, run_id))
        finally:
            processes.stop(sleeper)
            stop_daemon(processes, handle)
    tick = clock_ticks()
    per_thread = {
        name: after - threads_before.get(name, 0) for name, after in threads_after.items()
    }
    return CpuFigures(
        seconds=wall,
        daemon_ticks=daemon1 - daemon0,
        baseline_ticks=sleeper1 - sleeper0,
        ticks_per_second=tick,
        daemon_percent=(daemon1 - daemon0) / tick / wall * 100,
        baseline_percent=(sleeper1 - sleeper0) / tick / wall * 100,
        daemon_schedstat_percent=sum(per_thread.values()) / 1e9 / wall * 100,
        baseline_schedstat_percent=(sleeper_after - sleeper_before) / 1e9 / wall * 100,
        daemon_thread_ns=per_thread,
        frames_in_window=frames_after - frames_before,
        run=run_id,
    )


# -- (b) readiness -----------------------------------------------------------------------------
@dataclass
class Timings:
    """Repeated timings of one thing, in seconds."""

    name: str
    samples: list[float]

    @property
    def median(self) -> float:
        return median(self.samples)

    @property
    def p90(self) -> float:
        return percentile(self.samples, 90)


def time_until_hello(
    processes: Processes, argv: Sequence[str], socket: Path, env: dict[str, str]
) -> float:
    """Seconds from exec of ``argv`` to ``socket`` answering ``hello``; the process is ended."""
    began = time.monotonic()
    child = processes.spawn(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if socket.exists() and daemon_answers(socket, timeout=1.0) is not None:
                return time.monotonic() - began
            if child.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited (status {child.returncode}) before answering")
            if time.monotonic() - began > 30:
                raise RuntimeError(f"{argv[0]} did not answer within 30 s")
            time.sleep(0.001)
    finally:
        processes.stop(child)


def time_until_exit(processes: Processes, argv: Sequence[str]) -> float:
    """Seconds from exec of ``argv`` to its exit."""
    began = time.monotonic()
    child = processes.spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        child.wait(30)
        return time.monotonic() - began
    finally:
        processes.stop(child)


def bench_readiness(processes: Processes, repeats: int) -> list[Timings]:
    """``lapse daemon`` to hello, interleaved with the two baselines."""
    daemon = Timings("lapse daemon: exec → hello answered", [])
    server = Timings("baseline: minimal asyncio server: exec → hello answered", [])
    bare = Timings("baseline: python -c pass: exec → exit", [])
    for index in range(repeats):
        with temp_dir("lapse-ready-") as root:
            env = daemon_env(root)
            daemon.samples.append(
                time_until_hello(processes, [*lapse_command(), "daemon"], root / "s.sock", env)
            )
        with temp_dir("lapse-ready-") as root:
            sock = root / "s.sock"
            server.samples.append(
                time_until_hello(processes, [PYTHON, "-c", HELLO_SERVER_CODE, str(sock)], sock, env)
            )
        bare.samples.append(time_until_exit(processes, [PYTHON, "-c", "pass"]))
        print(
            f"    {index + 1:2}/{repeats}: lapse {daemon.samples[-1] * 1000:6.1f} ms,"
            f" server {server.samples[-1] * 1000:6.1f} ms, pass {bare.samples[-1] * 1000:6.1f} ms",
            flush=True,
        )
    return [daemon, server, bare]


# -- (c) import time ---------------------------------------------------------------------------
_IMPORT_LINE = re.compile(r"^import time:\s*(\d+)\s*\|\s*(\d+)\s*\|(\s*)(\S+)\s*$")


@dataclass
class ImportRun:
    """One ``-X importtime`` run: what the measured statement imported."""

    top_level_us: dict[str, int]
    """Cumulative µs of each module the statement itself imported (not nested)."""
    dependencies_us: dict[str, int]
    """Cumulative µs of each module outside ``core`` that a ``core`` module imported first."""

    @property
    def total_us(self) -> int:
        return sum(self.top_level_us.values())


def import_run(statement: str) -> ImportRun:
    """Run ``statement`` under ``-X importtime`` in a fresh interpreter and parse its lines."""
    code = f"import sys; sys.stderr.write({MARK!r} + '\\n'); {statement}"
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`{statement}` failed: {done.stderr.strip().splitlines()[-1:]}")
    lines = done.stderr.splitlines()
    lines = lines[lines.index(MARK) + 1 :] if MARK in lines else lines
    parsed = [match.groups() for match in map(_IMPORT_LINE.match, lines) if match]
    # Lines come children first; a module the statement imported itself is the least
    # indented (one space after the bar, then two per level of nesting).
    outermost = min((len(indent) for _, _, indent, _ in parsed), default=0)
    top: dict[str, int] = {}
    dependencies: dict[str, int] = {}
    pending: list[tuple[int, str, int]] = []  # (indent, name, cumulative) awaiting a parent
    for _, cumulative_us, indent, name in parsed:
        depth, cumulative = len(indent), int(cumulative_us)
        children = [child for child in pending if child[0] > depth]
        pending = [child for child in pending if child[0] <= depth]
        if name == "core" or name.startswith("core."):
            for _, child, child_us in children:
                if child != "core" and not child.startswith("core."):
                    dependencies[child] = child_us
        pending.append((depth, name, cumulative))
        if depth == outermost:
            top[name] = cumulative
    return ImportRun(top_level_us=top, dependencies_us=dependencies)


@dataclass
class ImportFigures:
    """Median over repeated runs of one import statement."""

    statement: str
    samples_ms: list[float]
    what: str
    heaviest: list[tuple[str, float]] = field(default_factory=list)
    """From the median run: the costliest modules outside ``core`` that ``core`` imports (ms)."""

    @property
    def median_ms(self) -> float:
        return median(self.samples_ms)


def bench_imports(repeats: int) -> list[ImportFigures]:
    """``import core``, the daemon's full set, and ``import asyncio``, interleaved."""
    specs: list[tuple[str, str, Callable[[ImportRun], int]]] = [
        ("import core", "cumulative of the top-level `core` line", _core_line),
        (
            "import core.daemon, core.controller, core.client",
            "sum of the statement's top-level lines",
            lambda run: run.total_us,
        ),
        ("import asyncio", "baseline: sum of the statement's top-level lines", _total),
    ]
    for statement, _, _ in specs:
        import_run(statement)  # warm-up: byte-code caches written, files in the page cache
    runs: dict[str, list[ImportRun]] = {statement: [] for statement, _, _ in specs}
    for _ in range(repeats):
        for statement, _, _ in specs:
            runs[statement].append(import_run(statement))
    figures: list[ImportFigures] = []
    for statement, what, measure in specs:
        samples = [measure(run) / 1000 for run in runs[statement]]
        middle = sorted(runs[statement], key=measure)[len(samples) // 2]
        heaviest = sorted(middle.dependencies_us.items(), key=lambda item: -item[1])[:5]
        figures.append(
            ImportFigures(
                statement=statement,
                samples_ms=samples,
                what=what,
                heaviest=[(name, us / 1000) for name, us in heaviest],
            )
        )
    return figures


def _core_line(run: ImportRun) -> int:
    if "core" not in run.top_level_us:
        raise RuntimeError("no top-level `core` line in the -X importtime output")
    return run.top_level_us["core"]


def _total(run: ImportRun) -> int:
    return run.total_us


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/idle_cost.py", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument(
        "--seconds", type=float, default=130.0, help="CPU measuring window (default 130, ≥ 120)"
    )
    parser.add_argument(
        "--repeats", type=int, default=10, help="readiness and import runs (default 10, ≥ 10)"
    )
    parser.add_argument("--interval", default="1min", help="the idle run's interval (1min)")
    parser.add_argument(
        "--parts", default="cpu,ready,import", help="which parts to run (default all three)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the CPU daemon's temp folder")
    parser.add_argument(
        "--short",
        action="store_true",
        help="allow --seconds < 120 and --repeats < 10 (trying the script out; not a result)",
    )
    args = parser.parse_args(argv)
    try:
        args.interval_ns = parse_duration(args.interval)
    except DurationError as error:
        parser.error(str(error))
    if not args.short and (args.seconds < MIN_SECONDS or args.repeats < MIN_REPEATS):
        parser.error(f"--seconds must be ≥ {MIN_SECONDS:g} and --repeats ≥ {MIN_REPEATS}")
    args.part_list = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not args.part_list or set(args.part_list) - {"cpu", "ready", "import"}:
        parser.error("--parts takes cpu, ready, import")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_signals()
    processes = Processes()
    checks: list[tuple[str, bool | None, str]] = []
    report: dict[str, Any] = {"host": host_info()}
    print("lapse idle-cost benchmark")
    print(host_line())
    try:
        if "cpu" in args.part_list:
            interval = format_duration(args.interval_ns)
            print(
                f"\n(a) CPU: daemon (simulated rig) carrying a run every {interval}, no client;"
                f" {args.seconds:g} s window"
            )
            cpu = bench_cpu(processes, args.seconds, args.interval_ns, args.keep)
            report["cpu"] = asdict(cpu)
            print(f"    frames fired in the window: {cpu.frames_in_window} (run {cpu.run})")
            print(f"    {'process':<36} {'ticks':>6} {'% of one core':>14} {'(schedstat)':>12}")
            print(
                f"    {'lapse daemon':<36} {cpu.daemon_ticks:>6} {cpu.daemon_percent:>14.3f}"
                f" {cpu.daemon_schedstat_percent:>12.4f}"
            )
            print(
                f"    {'baseline: python time.sleep(1e9)':<36} {cpu.baseline_ticks:>6}"
                f" {cpu.baseline_percent:>14.3f} {cpu.baseline_schedstat_percent:>12.4f}"
            )
            print(
                f"    ({cpu.ticks_per_second} ticks/s over {cpu.seconds:.1f} s: one tick is"
                f" {100 / cpu.ticks_per_second / cpu.seconds:.4f} % of one core)"
            )
            print("    daemon threads, CPU over the window (schedstat):")
            for name, ns in sorted(cpu.daemon_thread_ns.items(), key=lambda item: -item[1]):
                share = ns / 1e9 / cpu.seconds * 100
                print(f"      {name:<44} {ns / 1e6:9.1f} ms  {share:7.4f} %")
            checks.append(
                (
                    f"(a) idle daemon CPU < {CPU_LIMIT_PERCENT:g} % of one core",
                    cpu.daemon_percent < CPU_LIMIT_PERCENT,
                    f"{cpu.daemon_percent:.3f} % (baseline {cpu.baseline_percent:.3f} %)",
                )
            )

        if "ready" in args.part_list:
            print(f"\n(b) readiness: exec → socket answers hello, {args.repeats} times each")
            timings = bench_readiness(processes, args.repeats)
            report["readiness"] = [
                {"name": t.name, "samples_s": t.samples, "median_s": t.median, "p90_s": t.p90}
                for t in timings
            ]
            print(f"    {'':<58} {'median':>8} {'p90':>8}")
            for timing in timings:
                print(
                    f"    {timing.name:<58} {timing.median * 1000:6.1f}ms"
                    f" {timing.p90 * 1000:6.1f}ms"
                )
            daemon = timings[0]
            checks.append(
                (
                    f"(b) daemon ready (median) ≤ {READY_LIMIT_S:g} s",
                    daemon.median <= READY_LIMIT_S,
                    f"median {daemon.median * 1000:.0f} ms, p90 {daemon.p90 * 1000:.0f} ms",
                )
            )

        if "import" in args.part_list:
            print(f"\n(c) import time: python -X importtime, median of {args.repeats} runs")
            imports = bench_imports(args.repeats)
            report["imports"] = [
                {**asdict(figures), "median_ms": figures.median_ms} for figures in imports
            ]
            for figures in imports:
                heaviest = ", ".join(f"{name} {ms:.1f}" for name, ms in figures.heaviest)
                print(f"    {figures.statement:<50} {figures.median_ms:7.2f} ms  ({figures.what})")
                if heaviest:
                    print(f"      outside core, imported by core (cumulative ms): {heaviest}")
            # The target is `import core`; the daemon's full set (asyncio alone is ~34 ms)
            # is printed above for information and counts toward readiness in (b).
            for figures in imports[:1]:
                checks.append(
                    (
                        f"(c) `{figures.statement}` < {IMPORT_LIMIT_MS:g} ms",
                        figures.median_ms < IMPORT_LIMIT_MS,
                        f"median {fmt(figures.median_ms, 2)} ms",
                    )
                )
    except KeyboardInterrupt:
        print("\ninterrupted: every process this benchmark started is being ended.")
        processes.stop_all()
        return 130
    finally:
        processes.stop_all()

    print("\nTargets:")
    print_targets(checks)
    report["targets"] = target_records(checks)
    write_report(args.json, report)
    return exit_status(checks)


if __name__ == "__main__":
    sys.exit(main())
