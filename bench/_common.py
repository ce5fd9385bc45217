"""Shared helpers for the benchmarks: child processes, a lapse daemon, statistics,
CPU readings, and the one way to parse common arguments and end a report.

Benchmarks are run on purpose, never in CI. Every process a benchmark starts
goes through :class:`Processes`, which ends it (SIGTERM, then SIGKILL) when the
benchmark finishes, fails, or is interrupted with Ctrl-C or SIGTERM. Every
benchmark's ``main`` is :func:`run_benchmark` around its own body: it parses
``--json`` and ``--keep`` (and ``--conditions`` where asked) the same way, and
ends with the same "Targets:" list, error lines, JSON file and exit status.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# These need the repo root on sys.path.
from core.client import daemon_answers  # noqa: E402
from core.model.durations import format_duration, parse_duration  # noqa: E402
from core.model.errors import DurationError  # noqa: E402

PYTHON = sys.executable
"""The interpreter every Python child runs under: the same one as the benchmark."""

HOG_CODE = "while True: pass"
"""A CPU-bound process: one of these keeps one core busy."""


def lapse_command() -> list[str]:
    """How to run the ``lapse`` command: the venv's script, else ``python -m tui.cli``."""
    script = Path(PYTHON).parent / "lapse"
    if script.exists():
        return [str(script)]
    return [PYTHON, "-m", "tui.cli"]


class Processes:
    """Starts child processes and guarantees that each one is ended.

    Each child gets its own session (and so its own process group), so Ctrl-C
    in the terminal reaches only the benchmark, which then ends its children
    in order; the group is signalled by the child's own id.
    """

    def __init__(self) -> None:
        self._children: list[subprocess.Popen[Any]] = []
        atexit.register(self.stop_all)

    def spawn(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` (keyword arguments go to :class:`subprocess.Popen`) and track it."""
        kwargs.setdefault("start_new_session", True)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        child: subprocess.Popen[Any] = subprocess.Popen(list(argv), **kwargs)
        self._children.append(child)
        return child

    def stop(
        self, child: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 10.0
    ) -> int | None:
        """Send ``sig`` to ``child`` (and its group), wait, then SIGKILL; returns its status."""
        if child.poll() is None:
            self._signal(child, sig)
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(child, signal.SIGKILL)
                child.wait()
        with contextlib.suppress(ValueError):
            self._children.remove(child)
        return child.returncode

    def stop_all(self) -> None:
        """End every child still tracked, the newest first."""
        for child in reversed(list(self._children)):
            with contextlib.suppress(Exception):
                self.stop(child)

    @staticmethod
    def _signal(child: subprocess.Popen[Any], sig: int) -> None:
        # Only a child that has not been reaped: its pid (and group id) is still ours.
        if child.poll() is not None:
            return
        try:
            if os.getpgid(child.pid) == child.pid:
                os.killpg(child.pid, sig)
            else:
                os.kill(child.pid, sig)
        except ProcessLookupError:
            pass


def exit_on_signals() -> None:
    """Turn SIGTERM and SIGHUP into ``KeyboardInterrupt`` so ``finally`` blocks run."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


@contextlib.contextmanager
def cpu_hogs(processes: Processes, count: int = 2) -> Iterator[list[subprocess.Popen[Any]]]:
    """Run ``count`` CPU-bound Python processes for the duration of the block."""
    hogs: list[subprocess.Popen[Any]] = []
    try:
        for _ in range(count):
            hogs.append(processes.spawn([PYTHON, "-c", HOG_CODE]))
        time.sleep(0.5)  # let them reach the busy loop
        for hog in hogs:
            if hog.poll() is not None:
                raise RuntimeError(f"a CPU hog exited at once (status {hog.returncode})")
        yield hogs
    finally:
        for hog in hogs:
            processes.stop(hog, signal.SIGKILL, timeout=5.0)


@contextlib.contextmanager
def temp_dir(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A fresh directory under /tmp (short, so a socket path in it stays < 100 chars)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


@dataclass
class DaemonHandle:
    """A ``lapse daemon`` started for a benchmark, and where it keeps things."""

    process: subprocess.Popen[Any]
    root: Path
    env: dict[str, str]
    log_file: IO[bytes]
    log_name: str = "daemon.log"
    """The daemon's output, in ``root``: one file per start when a benchmark restarts it."""

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def socket(self) -> Path:
        return Path(self.env["LAPSE_SOCKET"])

    @property
    def state_dir(self) -> Path:
        return Path(self.env["LAPSE_STATE_DIR"])

    @property
    def log_path(self) -> Path:
        return self.root / self.log_name

    def last_words(self, lines: int = 10) -> str:
        """The end of the daemon's log, to explain a failure."""
        self.log_file.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no daemon log)"
        return "\n".join(text.strip().splitlines()[-lines:])


def daemon_env(
    root: Path, base: Mapping[str, str] | None = None, hardware: str = "sim"
) -> dict[str, str]:
    """The environment for a daemon (and its clients) living in ``root``.

    ``hardware`` is ``LAPSE_HW``: the simulated rig unless a benchmark needs real
    GPIO (the loopback on a Pi). The config is ``root/config.toml``: absent, the defaults.
    """
    env = dict(os.environ if base is None else base)
    env.update(
        LAPSE_STATE_DIR=str(root / "state"),
        LAPSE_SOCKET=str(root / "s.sock"),
        LAPSE_CONFIG=str(root / "config.toml"),
        LAPSE_HW=hardware,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    )
    if len(env["LAPSE_SOCKET"]) >= 100:
        raise RuntimeError(f"socket path too long for AF_UNIX: {env['LAPSE_SOCKET']}")
    return env


def start_daemon(
    processes: Processes,
    root: Path,
    env: Mapping[str, str] | None = None,
    log_name: str = "daemon.log",
) -> DaemonHandle:
    """Start ``lapse daemon`` in ``root`` (state dir, socket, log) without waiting for it.

    ``env`` defaults to :func:`daemon_env` of ``root`` (the simulated rig); its
    output goes to ``root / log_name``.
    """
    env = dict(env) if env is not None else daemon_env(root)
    log_file = open(root / log_name, "wb")  # noqa: SIM115 - closed by stop_daemon
    process = processes.spawn(
        [*lapse_command(), "daemon"], env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    return DaemonHandle(process=process, root=root, env=env, log_file=log_file, log_name=log_name)


def wait_for_hello(handle: DaemonHandle, timeout: float = 15.0) -> dict[str, Any]:
    """Wait until the daemon answers ``hello``; raise with its last words if it does not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hello = daemon_answers(handle.socket, timeout=1.0)
        if hello is not None:
            return hello
        if handle.process.poll() is not None:
            break
        time.sleep(0.01)
    raise RuntimeError(f"the lapse daemon did not answer:\n{handle.last_words()}")


def stop_daemon(processes: Processes, handle: DaemonHandle) -> int | None:
    """SIGTERM the daemon (SIGKILL after 10 s) and close its log; returns its status."""
    try:
        return processes.stop(handle.process, signal.SIGTERM, timeout=10.0)
    finally:
        handle.log_file.close()


# -- byte-code -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bytecode:
    """Where a Python child keeps its byte-code: ``cache``, warm once a run wrote it, or
    (``write`` False, an empty ``cache``) nowhere at all: a cold start compiles everything.

    The environment may say ``PYTHONDONTWRITEBYTECODE=1``; lapse's own modules (an
    editable install) would then compile at every start while the packages come
    precompiled, which is neither how an installed lapse starts nor a cold start.
    """

    cache: Path
    write: bool = True

    def apply(self, env: Mapping[str, str]) -> dict[str, str]:
        """``env`` with ``PYTHONPYCACHEPREFIX`` (and ``PYTHONDONTWRITEBYTECODE``) set so."""
        found = {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}
        found["PYTHONPYCACHEPREFIX"] = str(self.cache)
        if not self.write:
            found["PYTHONDONTWRITEBYTECODE"] = "1"
        return found


# -- Debian packages a benchmark can install -----------------------------------------------
def apt_install(package: str, find: Callable[[], str | None]) -> str | None:
    """``apt-get install -y package``, after ``apt-get update`` if the first try fails;
    then what ``find`` finds (the installed command's path, or None)."""
    if shutil.which("apt-get") is None:
        print(f"  apt-get is not available; install {package} by hand.")
        return None
    install = ["apt-get", "install", "-y", package]
    for attempt in (install, ["apt-get", "update"], install):
        print(f"  running: {' '.join(attempt)}", flush=True)
        done = subprocess.run(attempt, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-2:])
            print(f"  {' '.join(attempt[:2])} failed (status {done.returncode}): {tail}")
        elif attempt is install:
            return find()
    return None


# -- a run through the command line, and its journal -----------------------------------------
def start_run(env: Mapping[str, str], interval_ns: int, frames: int = 0) -> tuple[str, str]:
    """``lapse run --interval I --frames N`` against the daemon of ``env``: (run id, its line).

    The command line is the way a user starts a run, so the benchmarks use it too.
    """
    argv = [*lapse_command(), "run", "--interval", format_duration(interval_ns)]
    argv += ["--frames", str(frames)]
    done = subprocess.run(
        argv, env=dict(env), capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"`lapse run` failed (status {done.returncode}): {done.stderr.strip()}")
    match = re.search(r"Run (\S+) started", done.stdout)
    if match is None:
        raise RuntimeError(f"`lapse run` said something unexpected: {done.stdout.strip()}")
    return match[1], done.stdout.strip().splitlines()[0]


def read_journal(state_dir: Path, run_id: str) -> list[dict[str, Any]]:
    """The run's frame records, one per slot (the last line of a frame counts), in order.

    A gap journaled as one range line (``last``) counts as each of its slots, so a
    benchmark's missed count is of slots, not lines. Empty while the run has written
    nothing yet.
    """
    path = state_dir / "runs" / run_id / "frames.jsonl"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    records: dict[int, dict[str, Any]] = {}
    for line in text.splitlines():
        if line.strip():
            record = json.loads(line)
            for frame in range(record["frame"], (record.get("last") or record["frame"]) + 1):
                records[frame] = {**record, "frame": frame}
    return [records[frame] for frame in sorted(records)]


# -- conditions ----------------------------------------------------------------------------------
CONDITIONS = ("idle", "loaded")
"""idle: nothing else running; loaded: two CPU-bound processes (the machine has two cores)."""


@contextlib.contextmanager
def ordinary_scheduling() -> Iterator[None]:
    """SCHED_OTHER for this thread for the block, then its policy back.

    A child process inherits the policy of the thread that starts it: a CPU hog
    started from a SCHED_FIFO thread would be a real-time busy loop that starves
    every thread below its priority.
    """
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    if policy == os.SCHED_OTHER:
        yield
        return
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    try:
        yield
    finally:
        os.sched_setscheduler(0, policy, param)


@contextlib.contextmanager
def condition_context(processes: Processes, condition: str) -> Iterator[str]:
    """Nothing for idle; two SCHED_OTHER CPU hogs (killed on the way out, always) for loaded.

    Yields one line saying what runs beside the measurement.
    """
    if condition != "loaded":
        yield "nothing else running"
        return
    with contextlib.ExitStack() as stack:
        with ordinary_scheduling():
            hogs = stack.enter_context(cpu_hogs(processes, 2))
        policies = {policy for hog in hogs for _, policy, _ in thread_policies(hog.pid)}
        if policies != {"SCHED_OTHER"}:
            raise RuntimeError(f"the CPU hogs run at {', '.join(sorted(policies))}")
        pids = ", ".join(str(hog.pid) for hog in hogs)
        yield f"2 × `python -c '{HOG_CODE}'` at SCHED_OTHER running (pids {pids})"


# -- statistics ----------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    """The 50th percentile; NaN for no values."""
    return percentile(values, 50)


def drift_ns(lateness: Sequence[float]) -> float:
    """The lateness trend over a run: median of its last tenth minus median of its first.

    Every method's drift is computed this way, so the figures compare; NaN for none.
    """
    if not lateness:
        return math.nan
    tenth = max(1, len(lateness) // 10)
    return median(lateness[-tenth:]) - median(lateness[:tenth])


@dataclass
class Series:
    """Repeated timings of one thing, in seconds."""

    name: str
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return median(self.samples)

    @property
    def p90(self) -> float:
        return percentile(self.samples, 90)


def fmt(value: float | int | None, digits: int = 1) -> str:
    """A figure for a table: ``–`` for none, NaN shown as ``nan``."""
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text  # no "-0.0"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> None:
    """Rows under a header, the first ``left`` columns left-aligned and the rest right."""
    table = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        cells = [
            cell.ljust(width) if column < left else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  " + "  ".join(cells).rstrip())
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


# -- CPU of a process ----------------------------------------------------------------------------
def clock_ticks() -> int:
    """Clock ticks per second for /proc/<pid>/stat's utime and stime."""
    return os.sysconf("SC_CLK_TCK")


def proc_stat_fields(pid: int, tid: int | None = None) -> list[str]:
    """Fields of /proc/<pid>/stat (or a thread's): index i holds proc(5)'s field i + 1.

    The command name may hold spaces and brackets, so split after its last ``)``.
    """
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    with open(path, encoding="ascii", errors="replace") as file:
        text = file.read()
    head, _, tail = text.rpartition(")")
    pid_field, _, comm = head.partition(" (")
    return [pid_field, comm, *tail.split()]


def cpu_ticks(pid: int) -> int:
    """utime + stime of a whole process (every thread), in clock ticks."""
    fields = proc_stat_fields(pid)
    return int(fields[13]) + int(fields[14])


SCHED_POLICIES = {0: "SCHED_OTHER", 1: "SCHED_FIFO", 2: "SCHED_RR", 3: "SCHED_BATCH", 5: "IDLE"}


def thread_policies(pid: int) -> list[tuple[int, str, int]]:
    """(tid, policy, rt priority) of every thread of ``pid``."""
    found: list[tuple[int, str, int]] = []
    with contextlib.suppress(OSError):
        for entry in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = proc_stat_fields(pid, int(entry))
                policy = int(fields[40])
                found.append((int(entry), SCHED_POLICIES.get(policy, str(policy)), int(fields[39])))
    return found


@dataclass
class Usage:
    """A reading of one process's counters."""

    ticks: int
    """utime + stime, every thread (those gone included), in clock ticks."""
    threads_ns: dict[str, int]
    """On-CPU ns per live thread (``/proc/<pid>/task/<tid>/schedstat``), keyed ``tid name``."""
    switches: int
    """Context switches (voluntary + involuntary) summed over the live threads."""
    written: int
    """Bytes the process has written (``wchar``: the terminal, the socket, files)."""


def usage(pid: int) -> Usage:
    """Read ``pid``'s CPU counters now (the main thread is named ``main``)."""
    policies = {tid: f"{policy} {priority}" for tid, policy, priority in thread_policies(pid)}
    threads: dict[str, int] = {}
    switches = 0
    with contextlib.suppress(OSError):
        for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            base = f"/proc/{pid}/task/{tid}"
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"{base}/schedstat", encoding="ascii") as file:
                    on_cpu = int(file.read().split()[0])
                with open(f"{base}/comm", encoding="utf-8", errors="replace") as file:
                    name = file.read().strip()
                with open(f"{base}/status", encoding="utf-8", errors="replace") as file:
                    for line in file:
                        if line.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")):
                            switches += int(line.split()[1])
                label = "main" if int(tid) == pid else name
                threads[f"{tid} {label} ({policies.get(int(tid), '?')})"] = on_cpu
    written = 0
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/io", encoding="ascii") as io:
        for line in io:
            if line.startswith("wchar:"):
                written = int(line.split()[1])
    return Usage(ticks=cpu_ticks(pid), threads_ns=threads, switches=switches, written=written)


@dataclass
class CpuShare:
    """One process's CPU over a window, as % of one core."""

    name: str
    seconds: float
    ticks: int
    percent: float
    """utime + stime as % of one core (whole ticks: coarse)."""
    schedstat_percent: float
    """The same from the threads' schedstat (ns resolution; threads alive at both ends)."""
    switches_per_s: float
    written_per_s: float
    threads_ns: dict[str, int] = field(default_factory=dict)


def share(name: str, before: Usage, after: Usage, seconds: float) -> CpuShare:
    """What the process used between two readings ``seconds`` apart."""
    threads = {
        key: ns - before.threads_ns[key]
        for key, ns in after.threads_ns.items()
        if key in before.threads_ns
    }
    return CpuShare(
        name=name,
        seconds=seconds,
        ticks=after.ticks - before.ticks,
        percent=(after.ticks - before.ticks) / clock_ticks() / seconds * 100,
        schedstat_percent=sum(threads.values()) / 1e9 / seconds * 100,
        switches_per_s=(after.switches - before.switches) / seconds,
        written_per_s=(after.written - before.written) / seconds,
        threads_ns=threads,
    )


def print_shares(shares: Sequence[CpuShare], indent: str = "    ") -> None:
    """A table of CPU shares, then each process's busiest threads."""
    print(
        f"{indent}{'process':<44} {'ticks':>6} {'% core':>8} {'(schedstat)':>11}"
        f" {'switches/s':>10} {'written B/s':>11}"
    )
    for item in shares:
        print(
            f"{indent}{item.name:<44} {item.ticks:>6} {item.percent:>8.3f}"
            f" {item.schedstat_percent:>11.3f} {item.switches_per_s:>10.1f}"
            f" {item.written_per_s:>11.0f}"
        )
    for item in shares:
        busy = sorted(item.threads_ns.items(), key=lambda pair: -pair[1])
        shown = ", ".join(f"{name} {ns / 1e6:.1f} ms" for name, ns in busy[:4] if ns > 0)
        print(f"{indent}  {item.name} threads: {shown or 'none measurable'}")


# -- the host ------------------------------------------------------------------------------------
def host_info() -> dict[str, Any]:
    """The machine the figures were measured on, for the JSON report."""
    return {
        "node": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "uid": os.getuid(),
        "load_average": os.getloadavg(),
    }


def host_line() -> str:
    """The machine the figures were measured on, and how busy it was, for the printed header."""
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"host: {platform.node()} · {platform.system()} {platform.release()} · "
        f"{os.cpu_count()} CPUs · Python {platform.python_version()} · uid {os.getuid()}"
        f" · load average {load}"
    )


# -- arguments and the report: one way for every benchmark --------------------------------------
Check = tuple[str, bool | None, str]
"""A target: its name, passed (None when it could not be checked), the figures behind it."""


def bench_parser(
    prog: str,
    doc: str | None,
    conditions: bool = False,
    parts: Sequence[str] = (),
    interval: str | None = None,
    frames: int | None = None,
    scope: str = "",
) -> argparse.ArgumentParser:
    """The argument parser every benchmark starts from: ``--json``, ``--keep``;
    with ``conditions``, ``--conditions idle,loaded``; with ``parts``, ``--parts``;
    with ``interval`` and ``frames``, the run's ``--interval`` and ``--frames`` (their
    help starts with ``scope``, the part they belong to)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=doc.split("\n\n")[0] if doc else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    if conditions:
        parser.add_argument(
            "--conditions",
            default=",".join(CONDITIONS),
            type=lambda text: parse_choices(text, CONDITIONS, "--conditions"),
            help="idle, loaded (two CPU hogs), or both (default idle,loaded)",
        )
    if parts:
        parser.add_argument(
            "--parts",
            default=",".join(parts),
            type=lambda text: parse_choices(text, parts, "--parts"),
            help=f"which parts to run, comma-separated (default {','.join(parts)})",
        )
    if interval is not None:
        parser.add_argument(
            "--interval",
            type=parse_one_duration,
            default=interval,
            help=f"{scope}the run's interval (default {interval})",
        )
    if frames is not None:
        parser.add_argument(
            "--frames", type=int, default=frames, help=f"{scope}frames (default {frames})"
        )
    return parser


def parse_choices(text: str, allowed: Sequence[str], flag: str) -> list[str]:
    """A comma-separated list of some of ``allowed``, in the order given (argparse ``type``)."""
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    if not chosen or set(chosen) - set(allowed):
        raise argparse.ArgumentTypeError(f"{flag} takes {', '.join(allowed)}, comma-separated")
    return chosen


def parse_durations(text: str) -> list[int]:
    """Comma-separated durations (``10ms,1s``) in ns (argparse ``type``)."""
    try:
        found = [parse_duration(item.strip()) for item in text.split(",") if item.strip()]
    except DurationError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not found:
        raise argparse.ArgumentTypeError("give at least one duration")
    return found


def parse_one_duration(text: str) -> int:
    """One duration in ns (argparse ``type``)."""
    found = parse_durations(text)
    if len(found) != 1:
        raise argparse.ArgumentTypeError("give one duration")
    return found[0]


def verdict(passed: bool | None) -> str:
    """PASS, FAIL, or SKIP when a check could not be made."""
    if passed is None:
        return "SKIP"
    return "PASS" if passed else "FAIL"


class Report:
    """What one benchmark found: its targets, its errors and the figures for ``--json``."""

    def __init__(self, title: str) -> None:
        self.checks: list[Check] = []
        self.failures: list[str] = []
        self.data: dict[str, Any] = {"benchmark": title, "argv": sys.argv, "host": host_info()}

    def check(self, name: str, passed: bool | None, detail: str) -> None:
        """One target: passed, failed, or None when it could not be checked."""
        self.checks.append((name, passed, detail))

    def fail(self, what: str) -> None:
        """A measurement that went wrong: printed at the end, and the exit status is 1."""
        self.failures.append(what)

    def finish(self, json_path: Path | None) -> int:
        """Print the targets and errors, write the JSON file if asked; the exit status."""
        print("\nTargets:")
        for name, passed, detail in self.checks:
            print(f"  {verdict(passed):4}  {name}: {detail}")
        for failure in self.failures:
            print(f"  ERROR {failure}")
        self.data["targets"] = [
            {"target": name, "result": verdict(passed), "detail": detail}
            for name, passed, detail in self.checks
        ]
        self.data["errors"] = self.failures
        if json_path is not None:
            json_path.write_text(json.dumps(self.data, indent=2, ensure_ascii=False) + "\n")
            print(f"\nfigures written to {json_path}")
        failed = self.failures or any(passed is False for _, passed, _ in self.checks)
        return 1 if failed else 0


def run_benchmark(
    title: str, args: argparse.Namespace, measure: Callable[[Processes, Report, Any], None]
) -> int:
    """Print the header, run ``measure``, end every child process, print the report
    (and write ``args.json`` when given).

    Ctrl-C, SIGTERM and SIGHUP end the children and exit 130; the figures
    measured so far are not reported.
    """
    exit_on_signals()
    processes = Processes()
    report = Report(title)
    print(title)
    print(host_line())
    try:
        measure(processes, report, args)
    except KeyboardInterrupt:
        print("\ninterrupted: every process this benchmark started is being ended.")
        return 130
    finally:
        processes.stop_all()
    return report.finish(args.json)
