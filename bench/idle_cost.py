"""What lapse costs when nothing is happening: CPU, start-up and import time.

(a) CPU: a daemon on the simulated rig carrying a run with a 1-minute interval
    and no client connected, over ≥ 120 s (130 s by default). From and to:
    two readings of /proc/<pid>/stat utime + stime (clock ticks) and of every
    thread's /proc/<pid>/task/<tid>/schedstat (ns), taken by this process at
    the window's two ends. Target < 0.2 % of one core. Baseline, side by side:
    an idle ``python -c "import time; time.sleep(1e9)"``.
(b) Readiness: from just before this process spawns ``lapse daemon`` (its
    ``time.monotonic()``) to the first ``hello`` answered on the socket (the
    same clock, when the reply is read), ≥ 10 times, a fresh state folder
    each; median and p90; target 0.5 s. Baselines measured the same way,
    interleaved: ``python -c pass`` (spawn to exit) and a minimal asyncio
    unix-socket server (spawn to its first answer). Byte-code as in (c),
    after an untimed warm-up round.
(c) Import: what ``lapse daemon`` imports before it answers on the socket.
    ``lapse daemon`` runs under ``python -X importtime``; the imports counted
    are the lines it writes to stderr before its "ready on" log line (the
    daemon logs it just before its event loop starts answering clients; both
    go to the same stderr, in order). The figure is the sum of the top-level
    lines' cumulative times (interpreter start-up included: site, encodings);
    median of ≥ 10 runs, byte-code cached in a private ``PYTHONPYCACHEPREFIX``
    written by a warm-up run (as an installed lapse starts, whatever
    ``PYTHONDONTWRITEBYTECODE`` the environment says). Target
    < 50 ms. Baseline, measured the same way: the minimal asyncio server,
    up to its own "ready" line. Also shown: the median run's own-time split
    into lapse's modules, the standard library and third-party packages, and
    its costliest top-level imports.

Run from the repo root: ``.venv/bin/python bench/idle_cost.py [--seconds 130] [--json FILE]``.
"""

from __future__ import annotations

import re
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
    Bytecode,
    Processes,
    Report,
    Series,
    bench_parser,
    clock_ticks,
    daemon_env,
    lapse_command,
    print_shares,
    read_journal,
    run_benchmark,
    share,
    start_daemon,
    start_run,
    stop_daemon,
    temp_dir,
    usage,
    wait_for_hello,
)
from core.client import daemon_answers
from core.model.durations import format_duration

TITLE = "lapse idle-cost benchmark"
CPU_LIMIT_PERCENT = 0.2
READY_LIMIT_S = 0.5
IMPORT_LIMIT_MS = 50.0
MIN_SECONDS = 120.0
MIN_REPEATS = 10
PARTS = ("cpu", "ready", "import")

SLEEPER_CODE = "import time; time.sleep(1e9)"
"""The idle baseline: a Python process that does nothing at all."""

HELLO_SERVER_CODE = """\
import asyncio, json, sys

async def answer(reader, writer):
    while line := await reader.readline():
        request = json.loads(line)
        hello = {"pid": 0, "rig": "none", "simulated": True}
        reply = {"v": 2, "id": request.get("id"), "ok": True, "result": hello}
        writer.write((json.dumps(reply) + "\\n").encode())
        await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_unix_server(answer, path=sys.argv[1])
    print("ready on", sys.argv[1], file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""
"""The baseline: the least a Python unix-socket server must do to answer hello."""

READY_MARK = "ready on "
"""In both servers' stderr once they are about to answer: the daemon's log line, the
baseline's print."""


# -- (a) CPU while idle --------------------------------------------------------------------------
def bench_cpu(processes: Processes, seconds: float, interval_ns: int, keep: bool) -> dict[str, Any]:
    """A daemon carrying a run with no client, next to an idle Python; CPU over ``seconds``."""
    with temp_dir("lapse-idle-", keep) as root:
        handle = start_daemon(processes, root)
        sleeper = processes.spawn([PYTHON, "-c", SLEEPER_CODE])
        try:
            wait_for_hello(handle)
            run_id, line = start_run(handle.env, interval_ns)
            print(f"    {line}")
            time.sleep(1.0)  # the CLI has hung up; the daemon settles
            if daemon_answers(handle.socket) is None:
                raise RuntimeError(f"the daemon stopped answering:\n{handle.last_words()}")
            frames_before = len(read_journal(handle.state_dir, run_id))
            pids = {"lapse daemon": handle.pid, "baseline: python time.sleep(1e9)": sleeper.pid}
            before = {name: usage(pid) for name, pid in pids.items()}
            began = time.monotonic()
            said = began
            while (now := time.monotonic()) < began + seconds:
                time.sleep(min(1.0, began + seconds - now))
                if time.monotonic() - said >= 30:
                    said = time.monotonic()
                    print(f"    … {said - began:.0f} s of {seconds:.0f} s", flush=True)
            after = {name: usage(pid) for name, pid in pids.items()}
            wall = time.monotonic() - began
            frames = len(read_journal(handle.state_dir, run_id)) - frames_before
        finally:
            processes.stop(sleeper)
            stop_daemon(processes, handle)
    shares = [share(name, before[name], after[name], wall) for name in pids]
    return {"shares": shares, "frames_in_window": frames, "run": run_id, "seconds": wall}


# -- (b) readiness -------------------------------------------------------------------------------
def time_until_hello(
    processes: Processes, argv: Sequence[str], socket: Path, env: dict[str, str]
) -> float:
    """Seconds from spawning ``argv`` to ``socket`` answering ``hello``; the process is ended."""
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


def time_until_exit(processes: Processes, argv: Sequence[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``argv`` to its exit."""
    began = time.monotonic()
    child = processes.spawn(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        child.wait(30)
        return time.monotonic() - began
    finally:
        processes.stop(child)


def bench_readiness(processes: Processes, repeats: int, bytecode: Bytecode) -> list[Series]:
    """``lapse daemon`` to hello, interleaved with the two baselines (after a warm-up round)."""
    daemon = Series("lapse daemon: spawn → hello answered")
    server = Series("baseline: minimal asyncio server: spawn → hello answered")
    bare = Series("baseline: python -c pass: spawn → exit")
    for index in range(-1, repeats):  # -1: the warm-up that writes the byte-code caches
        with temp_dir("lapse-ready-") as root:
            env = bytecode.apply(daemon_env(root))
            lapse = time_until_hello(processes, [*lapse_command(), "daemon"], root / "s.sock", env)
        with temp_dir("lapse-ready-") as root:
            sock = root / "s.sock"
            argv = [PYTHON, "-c", HELLO_SERVER_CODE, str(sock)]
            minimal = time_until_hello(processes, argv, sock, env)
        nothing = time_until_exit(processes, [PYTHON, "-c", "pass"], env)
        if index < 0:
            continue
        daemon.samples.append(lapse)
        server.samples.append(minimal)
        bare.samples.append(nothing)
        print(
            f"    {index + 1:2}/{repeats}: lapse {daemon.samples[-1] * 1000:6.1f} ms,"
            f" server {server.samples[-1] * 1000:6.1f} ms, pass {bare.samples[-1] * 1000:6.1f} ms",
            flush=True,
        )
    return [daemon, server, bare]


# -- (c) what the daemon imports before it answers -----------------------------------------------
_IMPORT_LINE = re.compile(r"^import time:\s*(\d+)\s*\|\s*(\d+)\s*\|(\s*)(\S+)\s*$")


@dataclass
class ImportRun:
    """The ``-X importtime`` lines one server wrote before it was ready."""

    top_level_us: dict[str, int]
    """Cumulative µs of each module imported at the outermost level."""
    self_us: dict[str, int]
    """Own µs of every module imported, nested ones included."""

    @property
    def total_us(self) -> int:
        return sum(self.top_level_us.values())

    def by_origin_us(self) -> dict[str, int]:
        """Own time split into lapse's packages, the standard library and the rest."""
        found = {"lapse (core, hw, tui)": 0, "standard library": 0, "third-party": 0}
        for name, us in self.self_us.items():
            top = name.partition(".")[0]
            if top in ("core", "hw", "tui", "themes"):
                found["lapse (core, hw, tui)"] += us
            elif top in sys.stdlib_module_names or top.startswith("_"):
                found["standard library"] += us
            else:
                found["third-party"] += us
        return found


def parse_importtime(lines: Sequence[str]) -> ImportRun:
    """The import lines before :data:`READY_MARK`, as an :class:`ImportRun`."""
    parsed: list[tuple[str, ...]] = []
    for line in lines:
        if READY_MARK in line:
            break
        match = _IMPORT_LINE.match(line)
        if match:
            parsed.append(match.groups())
    # A module the program imported itself is the least indented (one space after the
    # bar, then two per level of nesting).
    outermost = min((len(indent) for _, _, indent, _ in parsed), default=0)
    return ImportRun(
        top_level_us={
            name: int(cum) for _, cum, indent, name in parsed if len(indent) == outermost
        },
        self_us={name: int(own) for own, _, _, name in parsed},
    )


def server_imports(
    processes: Processes, argv: Sequence[str], socket: Path, env: dict[str, str]
) -> ImportRun:
    """Run ``argv`` under ``-X importtime`` until it answers hello; its imports before ready."""
    child = processes.spawn(
        [PYTHON, "-X", "importtime", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Read as it comes: a full pipe would stall the server before it is ready.
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(child.stderr or ()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not (socket.exists() and daemon_answers(socket, timeout=1.0) is not None):
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} did not answer (status {child.poll()})")
            time.sleep(0.005)
    finally:
        processes.stop(child)
        reader.join(5)
    if not any(READY_MARK in line for line in lines):
        raise RuntimeError(f"{argv[0]} never wrote {READY_MARK!r}: {lines[-3:]}")
    return parse_importtime(lines)


def lapse_daemon_script() -> list[str]:
    """``lapse daemon`` as arguments to the interpreter (``-X importtime`` goes before)."""
    command = lapse_command()
    return [*(command[1:] if command[0] == PYTHON else command), "daemon"]


@dataclass
class ImportFigures:
    """Median over repeated runs of one server's imports before ready."""

    name: str
    samples_ms: list[float]
    by_origin_ms: dict[str, float] = field(default_factory=dict)
    heaviest: list[tuple[str, float]] = field(default_factory=list)
    """From the median run: the costliest top-level imports (cumulative ms)."""
    modules: int = 0

    @property
    def median_ms(self) -> float:
        return sorted(self.samples_ms)[len(self.samples_ms) // 2]


def bench_imports(processes: Processes, repeats: int, bytecode: Bytecode) -> list[ImportFigures]:
    """The daemon's imports before ready, and the minimal server's, interleaved."""
    runs: dict[str, list[ImportRun]] = {"lapse daemon": [], "baseline: minimal asyncio server": []}
    for index in range(-1, repeats):  # -1: the warm-up that writes the byte-code caches
        with temp_dir("lapse-import-") as root:
            env = bytecode.apply(daemon_env(root))
            daemon = server_imports(processes, lapse_daemon_script(), root / "s.sock", env)
        with temp_dir("lapse-import-") as root:
            sock = root / "s.sock"
            server = server_imports(processes, ["-c", HELLO_SERVER_CODE, str(sock)], sock, env)
        if index >= 0:
            runs["lapse daemon"].append(daemon)
            runs["baseline: minimal asyncio server"].append(server)
            print(
                f"    {index + 1:2}/{repeats}: lapse daemon {daemon.total_us / 1000:6.1f} ms,"
                f" minimal server {server.total_us / 1000:6.1f} ms",
                flush=True,
            )
    found: list[ImportFigures] = []
    for name, samples in runs.items():
        middle = sorted(samples, key=lambda run: run.total_us)[len(samples) // 2]
        heaviest = sorted(middle.top_level_us.items(), key=lambda item: -item[1])[:8]
        found.append(
            ImportFigures(
                name=name,
                samples_ms=[run.total_us / 1000 for run in samples],
                by_origin_ms={k: v / 1000 for k, v in middle.by_origin_us().items()},
                heaviest=[(module, us / 1000) for module, us in heaviest],
                modules=len(middle.self_us),
            )
        )
    return found


# -- the benchmark -------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> Any:
    parser = bench_parser("bench/idle_cost.py", __doc__, parts=PARTS, interval="1min")
    parser.add_argument(
        "--seconds", type=float, default=130.0, help="CPU measuring window (default 130, ≥ 120)"
    )
    parser.add_argument(
        "--repeats", type=int, default=10, help="readiness and import runs (default 10, ≥ 10)"
    )
    parser.add_argument(
        "--short",
        action="store_true",
        help="allow --seconds < 120 and --repeats < 10 (trying the script out; not a result)",
    )
    args = parser.parse_args(argv)
    if not args.short and (args.seconds < MIN_SECONDS or args.repeats < MIN_REPEATS):
        parser.error(f"--seconds must be ≥ {MIN_SECONDS:g} and --repeats ≥ {MIN_REPEATS}")
    return args


def measure_with_cache(processes: Processes, report: Report, args: Any) -> None:
    """:func:`measure`, every Python it starts keeping its byte-code in a private cache:
    warm once the warm-up rounds wrote it, whatever PYTHONDONTWRITEBYTECODE says."""
    with temp_dir("lapse-pyc-", args.keep) as cache:
        args.bytecode = Bytecode(cache)
        print(f"byte-code: every Python started caches it in {cache} (PYTHONPYCACHEPREFIX)")
        measure(processes, report, args)


def measure(processes: Processes, report: Report, args: Any) -> None:
    """The parts asked for, each printed as it ends, each with its target."""
    if "cpu" in args.parts:
        print(
            f"\n(a) CPU: daemon (simulated rig) carrying a run every"
            f" {format_duration(args.interval)}, no client; {args.seconds:g} s window"
        )
        cpu = bench_cpu(processes, args.seconds, args.interval, args.keep)
        daemon, baseline = cpu["shares"]
        print(f"    frames fired in the window: {cpu['frames_in_window']} (run {cpu['run']})")
        print_shares(cpu["shares"])
        print(
            "    From/to: utime + stime and schedstat read at the window's ends,"
            f" {cpu['seconds']:.1f} s apart; one tick is"
            f" {100 / clock_ticks() / cpu['seconds']:.4f} % of one core."
        )
        report.data["cpu"] = {**cpu, "shares": [asdict(item) for item in cpu["shares"]]}
        report.check(
            f"(a) idle daemon CPU < {CPU_LIMIT_PERCENT:g} % of one core",
            daemon.percent < CPU_LIMIT_PERCENT,
            f"{daemon.percent:.3f} % ({daemon.schedstat_percent:.4f} % by schedstat;"
            f" baseline {baseline.percent:.3f} %)",
        )

    if "ready" in args.parts:
        print(f"\n(b) readiness: spawn → socket answers hello, {args.repeats} times each")
        timings = bench_readiness(processes, args.repeats, args.bytecode)
        print(f"    {'':<58} {'median':>8} {'p90':>8}")
        for timing in timings:
            print(f"    {timing.name:<58} {timing.median * 1000:6.1f}ms {timing.p90 * 1000:6.1f}ms")
        report.data["readiness"] = [
            asdict(t) | {"median_s": t.median, "p90_s": t.p90} for t in timings
        ]
        daemon_ready = timings[0]
        report.check(
            f"(b) daemon ready (median) ≤ {READY_LIMIT_S:g} s",
            daemon_ready.median <= READY_LIMIT_S,
            f"median {daemon_ready.median * 1000:.0f} ms, p90 {daemon_ready.p90 * 1000:.0f} ms",
        )

    if "import" in args.parts:
        print(
            f"\n(c) imports before the server is ready (python -X importtime, up to its"
            f" {READY_MARK.strip()!r} line), median of {args.repeats} runs"
        )
        imports = bench_imports(processes, args.repeats, args.bytecode)
        for figures in imports:
            origin = ", ".join(f"{k} {v:.1f}" for k, v in figures.by_origin_ms.items())
            heaviest = ", ".join(f"{name} {ms:.1f}" for name, ms in figures.heaviest)
            print(f"    {figures.name:<34} {figures.median_ms:7.1f} ms, {figures.modules} modules")
            print(f"      own time by origin (ms): {origin}")
            print(f"      costliest top-level imports (cumulative ms): {heaviest}")
        print(
            "    Sum of the top-level lines' cumulative times, interpreter start-up included;"
            "\n    the median run's split and costliest imports are its own."
        )
        report.data["imports"] = [asdict(f) | {"median_ms": f.median_ms} for f in imports]
        daemon_imports = imports[0]
        report.check(
            f"(c) `lapse daemon` imports before it answers < {IMPORT_LIMIT_MS:g} ms",
            daemon_imports.median_ms < IMPORT_LIMIT_MS,
            f"median {daemon_imports.median_ms:.1f} ms (minimal asyncio server"
            f" {imports[1].median_ms:.1f} ms)",
        )


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(TITLE, parse_args(argv), measure_with_cache)


if __name__ == "__main__":
    sys.exit(main())
