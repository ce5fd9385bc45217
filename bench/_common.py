"""Shared helpers for the benchmarks: child processes, a lapse daemon, statistics.

Benchmarks are run on purpose, never in CI. Every process a benchmark starts
goes through :class:`Processes`, which ends it (SIGTERM, then SIGKILL) when the
benchmark finishes, fails, or is interrupted with Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from core.client import daemon_answers  # noqa: E402 - needs the repo root on sys.path

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
        return self.root / "daemon.log"

    def last_words(self, lines: int = 10) -> str:
        """The end of the daemon's log, to explain a failure."""
        self.log_file.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no daemon log)"
        return "\n".join(text.strip().splitlines()[-lines:])


def daemon_env(root: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a daemon (and its clients) living in ``root``, on the simulated rig."""
    env = dict(os.environ if base is None else base)
    env.update(
        LAPSE_STATE_DIR=str(root / "state"),
        LAPSE_SOCKET=str(root / "s.sock"),
        LAPSE_CONFIG=str(root / "config.toml"),  # absent: the defaults
        LAPSE_HW="sim",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    )
    if len(env["LAPSE_SOCKET"]) >= 100:
        raise RuntimeError(f"socket path too long for AF_UNIX: {env['LAPSE_SOCKET']}")
    return env


def start_daemon(processes: Processes, root: Path) -> DaemonHandle:
    """Start ``lapse daemon`` in ``root`` (state dir, socket, log) without waiting for it."""
    env = daemon_env(root)
    log_file = open(root / "daemon.log", "wb")  # noqa: SIM115 - closed by stop_daemon
    process = processes.spawn(
        [*lapse_command(), "daemon"], env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    return DaemonHandle(process=process, root=root, env=env, log_file=log_file)


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


# -- statistics --------------------------------------------------------------------------------
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


def verdict(passed: bool | None) -> str:
    """PASS, FAIL, or SKIP when a check could not be made."""
    if passed is None:
        return "SKIP"
    return "PASS" if passed else "FAIL"


Check = tuple[str, bool | None, str]
"""A target: its name, passed (None when it could not be checked), the figures behind it."""


def host_info() -> dict[str, Any]:
    """The machine the figures were measured on, for the JSON report."""
    return {
        "node": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "uid": os.getuid(),
    }


def host_line() -> str:
    """The machine the figures were measured on, for the printed header."""
    return (
        f"host: {platform.node()} · {platform.system()} {platform.release()} · "
        f"{os.cpu_count()} CPUs · Python {platform.python_version()} · uid {os.getuid()}"
    )


def print_targets(checks: Sequence[Check]) -> None:
    """One PASS/FAIL/SKIP line per target."""
    for name, passed, detail in checks:
        print(f"  {verdict(passed):4}  {name}: {detail}")


def target_records(checks: Sequence[Check]) -> list[dict[str, str]]:
    """The targets as the JSON report holds them."""
    return [{"target": n, "result": verdict(p), "detail": d} for n, p, d in checks]


def write_report(path: Path | None, report: Mapping[str, Any]) -> None:
    """Write the JSON report when ``--json`` asked for one."""
    if path is not None:
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"\nfigures written to {path}")


def exit_status(checks: Sequence[Check], failures: Sequence[str] = ()) -> int:
    """1 when a target failed or a measurement went wrong, else 0."""
    return 1 if failures or any(passed is False for _, passed, _ in checks) else 0


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
