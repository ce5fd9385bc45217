"""What a ``lapse`` TUI costs: its CPU with the daemon's share, first paint, timing beside it.

Every lapse figure is printed next to a baseline measured side by side in the
same invocation. Programs run in a private tmux server (``tmux -L …``), each
in its own 80×24 session, so they draw to a real terminal, with an exact
environment (COLUMNS and LINES removed: they would override the size).

(1) CPU: a daemon on the simulated rig carrying ``lapse run --interval 1min``.
    Three windows of ``--cycles`` whole cycles (1 by default), each starting
    at the same phase of the run's grid, so each holds the same work: no TUI;
    one plain ``lapse`` TUI attached and left alone (after a 5 s warm-up);
    the TUI gone again. From and to: every thread's schedstat (ns on CPU) and
    utime + stime, read by this process at each window's two ends (its
    ``time.monotonic_ns()`` at the grid phase: the clock the daemon schedules on).
    The TUI's cost = the TUI's own CPU in its window + the daemon's extra CPU
    for that client (daemon CPU with the TUI minus the mean of the two windows
    without it). Baseline, over the TUI's window: a bare Textual app whose one
    ``Label`` shows the time, updated by ``set_interval(1, …)``.
    Target: TUI + daemon's share ≤ 2× the baseline (schedstat).
(2) First paint: from just before this process asks tmux for the new session
    (``time.monotonic()``) until the daemon's state is on the screen: the word
    ``running``, which only a status from a daemon carrying a run puts there
    (a TUI without one shows ``idle``), for ``lapse``; ``hello`` for the
    baseline, a bare Textual ``App`` with ``Static("hello")``. The screen is
    polled with ``tmux capture-pane`` every 5 ms; ≥ 10 runs each, interleaved;
    median and p90. Twice:
    - warm: one daemon already carrying a run; every program keeps its
      byte-code in a private ``PYTHONPYCACHEPREFIX`` written by warm-up runs;
    - cold: for every run a fresh daemon (started, carrying a run, untimed) and
      no byte-code cache for the TUI nor for the baseline
      (``PYTHONDONTWRITEBYTECODE=1`` and an empty ``PYTHONPYCACHEPREFIX``:
      everything, the standard library included, is compiled from source).
    Target, each: lapse ≤ 1.5× hello. For information: the floor (``printf
    hello`` in the same harness).
(3) Engine timing with two ``lapse`` TUIs attached: bench/timing.py's lapse
    measurement (due → the shutter-on edge event's ``at_ns``, after the output
    write returned) with two TUIs beside its two socket subscribers, idle and
    with 2 CPU hogs; in the same run, cyclictest at lapse's SCHED_FIFO 10 and
    the same measurement without the TUIs. Targets: timing.py's.

Run from the repo root: ``.venv/bin/python bench/tui_cost.py [--json FILE]``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    PYTHON,
    Bytecode,
    CpuShare,
    DaemonHandle,
    Processes,
    Report,
    Series,
    bench_parser,
    condition_context,
    daemon_env,
    lapse_command,
    median,
    parse_one_duration,
    print_shares,
    run_benchmark,
    share,
    start_daemon,
    start_run,
    stop_daemon,
    temp_dir,
    usage,
    wait_for_hello,
)
from bench.timing import (
    CYCLICTEST_FIFO,
    LAPSE,
    SPANS,
    Figures,
    bench_cyclictest,
    bench_lapse,
    cyclictest_argv,
    find_cyclictest,
    print_figures,
    timing_checks,
)
from core.client import Client
from core.model.durations import format_duration
from core.model.errors import LapseError
from core.model.scheduler import Grid

TITLE = "lapse TUI-cost benchmark"
CPU_FACTOR_LIMIT = 2.0
PAINT_FACTOR_LIMIT = 1.5
MIN_REPEATS = 10
WIDTH, HEIGHT = 80, 24
STATE_SEEN = "running"
"""On lapse's main screen only once a daemon's status says a run is going."""
CONNECTED_SEEN = "SIMULATED"
"""The banner the main screen shows once the daemon (on the simulated rig) said hello."""
HELLO_SEEN = "hello"
LABEL_SEEN = "tick "
STARTUP_TIMEOUT_S = 60.0
WINDOW_PHASE_NS = 500_000_000
"""Each CPU window starts this long after a frame's due time."""
PARTS = ("cpu", "paint", "timing")
WITH_TUIS = "lapse + 2 TUIs"

HELLO_CODE = """\
from textual.app import App, ComposeResult
from textual.widgets import Static


class Hello(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("hello")


Hello().run()
"""
"""The first-paint baseline: the least Textual app that shows something."""

LABEL_CODE = """\
import sys
from datetime import datetime

from textual.app import App, ComposeResult
from textual.widgets import Label

PERIOD_S = float(sys.argv[1])


def now() -> str:
    return "tick " + datetime.now().strftime("%H:%M:%S.%f")[:-5]


class Ticker(App[None]):
    def compose(self) -> ComposeResult:
        yield Label(now())

    def on_mount(self) -> None:
        self.set_interval(PERIOD_S, self.update_label)

    def update_label(self) -> None:
        self.query_one(Label).update(now())


Ticker().run()
"""
"""The CPU baseline: a bare Textual app writing the time into one Label every PERIOD_S."""

FLOOR_COMMAND = ["sh", "-c", "printf hello; exec sleep 600"]
"""The paint harness's floor: tmux starts a shell that prints the text at once."""

_DROPPED_ENV = ("COLUMNS", "LINES", "TMUX", "TMUX_PANE")
"""Never passed to a program under tmux: COLUMNS/LINES override the terminal's size."""


# -- tmux: real terminals ------------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            return file.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def pid_cmdline(pid: int) -> str:
    """The command line of ``pid`` (arguments joined by spaces), or "" when it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def end_pid(pid: int, expect: str, timeout: float = 5.0) -> None:
    """SIGTERM ``pid`` (SIGKILL after ``timeout``), only while its command line holds ``expect``.

    For processes that are not our children (a tmux pane's program): the
    command-line check keeps a recycled pid safe.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not pid_alive(pid) or expect not in pid_cmdline(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)


class Tmux:
    """A private tmux server (``tmux -L``): one detached session per program, each 80×24.

    The server is killed (and any program still alive after that is ended) by
    :meth:`kill`, which also runs at exit. A holder session keeps the server up
    between programs, so no measurement pays for starting the server.
    """

    def __init__(self, label: str) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed (apt-get install tmux)")
        self.name = f"lapse-bench-{label}-{os.getpid()}"
        self.env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        self.panes: dict[str, tuple[int, str]] = {}
        """Session → (pid of its program, a word of its command line)."""
        self._up = False
        atexit.register(self.kill)

    def _run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.name, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, session: str, argv: Sequence[str], env: Mapping[str, str], expect: str) -> int:
        """Run ``argv`` in a new 80×24 session with exactly ``env``; the program's pid.

        The shell tmux starts execs ``env -i``, which execs the program: the
        pane's pid is the program's own.
        """
        if not self._up:
            self._up = True
            size = ["-x", str(WIDTH), "-y", str(HEIGHT)]
            self._run("new-session", "-d", "-s", "hold", *size, "exec sleep 2147483647")
            self._run("set-option", "-g", "exit-empty", "off")
        variables = [f"{k}={v}" for k, v in env.items() if k not in _DROPPED_ENV]
        shell = " ".join(shlex.quote(word) for word in ["exec", "env", "-i", *variables, *argv])
        size = ["-x", str(WIDTH), "-y", str(HEIGHT)]
        out = self._run("new-session", "-d", "-s", session, *size, "-P", "-F", "#{pane_pid}", shell)
        pid = int(out.strip())
        self.panes[session] = (pid, expect)
        return pid

    def capture(self, session: str) -> str:
        """What the session's screen shows now (empty when it is gone)."""
        return self._run("capture-pane", "-p", "-t", f"={session}:", check=False)

    def close(self, session: str) -> None:
        """Kill the session (its program gets SIGHUP) and wait until the program is gone."""
        pid, expect = self.panes.pop(session, (0, ""))
        self._run("kill-session", "-t", f"={session}", check=False)
        if pid:
            deadline = time.monotonic() + 5
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.005)
            end_pid(pid, expect)

    def kill(self) -> None:
        """Kill the server and make sure every program it ran has ended."""
        if self._up:
            self._up = False
            with contextlib.suppress(Exception):
                self._run("kill-server", check=False)
        for pid, expect in list(self.panes.values()):
            with contextlib.suppress(Exception):
                end_pid(pid, expect)
        self.panes.clear()


@contextlib.contextmanager
def tmux_server(label: str) -> Iterator[Tmux]:
    """A :class:`Tmux` killed at the end of the block, however it ends."""
    server = Tmux(label)
    try:
        yield server
    finally:
        server.kill()


def wait_for_text(
    tmux: Tmux, session: str, pid: int, text: str, timeout: float = STARTUP_TIMEOUT_S
) -> None:
    """Poll the session's screen until ``text`` is on it; raise if the program dies first."""
    deadline = time.monotonic() + timeout
    while text not in tmux.capture(session):
        if not pid_alive(pid):
            raise RuntimeError(f"{session} exited before showing {text!r}")
        if time.monotonic() > deadline:
            screen = " | ".join(line for line in tmux.capture(session).splitlines() if line.strip())
            raise RuntimeError(f"{session} did not show {text!r} within {timeout:g} s: {screen}")
        time.sleep(0.05)


def lapse_env(handle: DaemonHandle, bytecode: Bytecode) -> dict[str, str]:
    """The environment of a ``lapse`` TUI that finds the daemon of ``handle``."""
    return bytecode.apply(handle.env)


# -- (1) CPU: the TUI and the daemon's share -----------------------------------------------------
@dataclass
class CpuFigures:
    """(1): the three windows, and what the TUI costs with the daemon's share."""

    interval: str
    cycles: int
    daemon_without: list[CpuShare]
    """The daemon in the two windows without a TUI."""
    daemon_with: CpuShare
    tui: CpuShare
    baseline: CpuShare

    @property
    def daemon_extra_percent(self) -> float:
        """Daemon CPU with the TUI minus the mean without it, % of one core (schedstat)."""
        without = sum(item.schedstat_percent for item in self.daemon_without) / 2
        return self.daemon_with.schedstat_percent - without

    @property
    def total_percent(self) -> float:
        return self.tui.schedstat_percent + self.daemon_extra_percent

    @property
    def ratio(self) -> float:
        base = self.baseline.schedstat_percent
        return self.total_percent / base if base else float("inf")


def run_anchor_ns(handle: DaemonHandle) -> int:
    """Where the daemon's run is anchored on the grid."""
    with Client(handle.socket, timeout=10).connect() as client:
        run = client.status().run
    if run is None:
        raise RuntimeError("the daemon carries no run")
    return run.anchor_ns


def next_window_start(grid: Grid, not_before_ns: int) -> int:
    """The first grid phase (a due time + :data:`WINDOW_PHASE_NS`) at or after ``not_before_ns``."""
    frame = grid.first_frame_due_at_or_after(not_before_ns - WINDOW_PHASE_NS)
    return grid.due_ns(frame) + WINDOW_PHASE_NS


def measure_window(
    pids: Mapping[str, int], grid: Grid, cycles: int, not_before_ns: int
) -> dict[str, CpuShare]:
    """Every process's CPU over ``cycles`` whole cycles from the next grid phase.

    The readings are taken at the window's two ends on CLOCK_MONOTONIC, the
    clock the daemon's grid is on.
    """
    start = next_window_start(grid, not_before_ns)
    time.sleep(max(0.0, (start - time.monotonic_ns()) / 1e9))
    before = {name: usage(pid) for name, pid in pids.items()}
    began = time.monotonic_ns()
    end = start + cycles * grid.interval_ns
    while (now := time.monotonic_ns()) < end:
        time.sleep(min(1.0, (end - now) / 1e9))
    after = {name: usage(pid) for name, pid in pids.items()}
    seconds = (time.monotonic_ns() - began) / 1e9
    for name, pid in pids.items():
        if not pid_alive(pid):
            raise RuntimeError(f"{name} (pid {pid}) ended during the window")
    return {name: share(name, before[name], after[name], seconds) for name in pids}


def bench_cpu(
    processes: Processes, interval_ns: int, cycles: int, warmup_s: float, keep: bool
) -> CpuFigures:
    """No TUI, one TUI, no TUI again: same run, same grid phase, same work; the Label beside."""
    with temp_dir("lapse-tui-", keep) as root, tmux_server("cpu") as tmux:
        bytecode = Bytecode(root / "pyc")
        label = root / "label_app.py"
        label.write_text(LABEL_CODE)
        handle = start_daemon(processes, root, bytecode.apply(daemon_env(root)))
        try:
            wait_for_hello(handle)
            _, line = start_run(handle.env, interval_ns)
            print(f"    {line}")
            grid = Grid(run_anchor_ns(handle), interval_ns)
            base_env = bytecode.apply(tmux.env)
            base = tmux.start("label", [PYTHON, str(label), "1"], base_env, "label_app.py")
            wait_for_text(tmux, "label", base, LABEL_SEEN)
            daemon_only = {"lapse daemon (no TUI)": handle.pid}
            print("    window 1: no TUI …", flush=True)
            first = measure_window(daemon_only, grid, cycles, time.monotonic_ns())
            tui = tmux.start("tui", lapse_command(), lapse_env(handle, bytecode), "lapse")
            wait_for_text(tmux, "tui", tui, STATE_SEEN)
            time.sleep(warmup_s)
            print("    window 2: one lapse TUI attached …", flush=True)
            pids = {
                "lapse daemon (TUI attached)": handle.pid,
                "lapse TUI (idle, attached)": tui,
                "baseline: Textual Label at 1 Hz": base,
            }
            second = measure_window(pids, grid, cycles, time.monotonic_ns())
            tmux.close("tui")
            print("    window 3: the TUI gone …", flush=True)
            time.sleep(1.0)  # the daemon has seen the client go
            third = measure_window(daemon_only, grid, cycles, time.monotonic_ns())
        finally:
            tmux.kill()
            stop_daemon(processes, handle)
    (without_1,), (without_2,) = first.values(), third.values()
    return CpuFigures(
        interval=format_duration(interval_ns),
        cycles=cycles,
        daemon_without=[without_1, replace(without_2, name="lapse daemon (TUI gone)")],
        daemon_with=second["lapse daemon (TUI attached)"],
        tui=second["lapse TUI (idle, attached)"],
        baseline=second["baseline: Textual Label at 1 Hz"],
    )


def report_cpu(report: Report, cpu: CpuFigures) -> None:
    """Print (1) and add its target."""
    print_shares(
        [cpu.daemon_without[0], cpu.daemon_with, cpu.daemon_without[1], cpu.tui, cpu.baseline]
    )
    print(
        f"    Each window: {cpu.cycles} × {cpu.interval} from {WINDOW_PHASE_NS / 1e9:g} s after a"
        " due time; readings (schedstat ns, utime + stime ticks) at its two ends."
    )
    without = sum(d.schedstat_percent for d in cpu.daemon_without) / 2
    print(
        f"    daemon's share of the TUI: {cpu.daemon_with.schedstat_percent:.4f} % with it −"
        f" {without:.4f} % without"
        f" (mean of windows 1 and 3) = {cpu.daemon_extra_percent:.4f} % of one core"
    )
    print(
        f"    TUI {cpu.tui.schedstat_percent:.4f} % + daemon's share"
        f" {cpu.daemon_extra_percent:.4f} % = {cpu.total_percent:.4f} % vs baseline"
        f" {cpu.baseline.schedstat_percent:.4f} %: {cpu.ratio:.2f}×"
    )
    report.check(
        f"(1) idle TUI + the daemon's share ≤ {CPU_FACTOR_LIMIT:g}× the 1 Hz Label app",
        cpu.ratio <= CPU_FACTOR_LIMIT,
        f"{cpu.total_percent:.3f} % vs {cpu.baseline.schedstat_percent:.3f} % of one core ="
        f" {cpu.ratio:.2f}× (TUI {cpu.tui.schedstat_percent:.3f} % + daemon"
        f" {cpu.daemon_extra_percent:.3f} %)",
    )


# -- (2) first paint -----------------------------------------------------------------------------
class PaintClock:
    """Times new tmux session → text on its screen, polling ``capture-pane``."""

    def __init__(self, tmux: Tmux, poll_s: float) -> None:
        self.tmux = tmux
        self.poll_s = poll_s
        self.capture_s: list[float] = []
        self._count = 0

    def time(self, argv: Sequence[str], mark: str, env: Mapping[str, str], expect: str) -> float:
        """Seconds from asking tmux for the session until ``mark`` is on its screen.

        A time is taken when the capture that first shows the mark returns, so
        it is late by at most one polling period. The program is ended after.
        """
        self._count += 1
        session = f"p{self._count}"
        began = time.monotonic()
        pid = self.tmux.start(session, argv, env, expect)
        try:
            while True:
                asked = time.monotonic()
                screen = self.tmux.capture(session)
                now = time.monotonic()
                self.capture_s.append(now - asked)
                if mark in screen:
                    return now - began
                if now - began > STARTUP_TIMEOUT_S:
                    raise RuntimeError(f"{argv[-1]} showed no {mark!r} in {STARTUP_TIMEOUT_S:g} s")
                if not pid_alive(pid):
                    raise RuntimeError(f"{argv[-1]} exited before showing {mark!r}")
                time.sleep(self.poll_s)
        finally:
            self.tmux.close(session)


@dataclass
class PaintFigures:
    """(2): every series, and how finely the screen was polled."""

    series: dict[str, Series]
    poll_ms: float
    capture_ms: float
    """What one ``tmux capture-pane`` took (median): the rest of the polling period."""


@contextlib.contextmanager
def daemon_with_run(processes: Processes, root: Path, bytecode: Bytecode) -> Iterator[DaemonHandle]:
    """A fresh daemon in ``root`` carrying a run every minute, past its first shutter.

    Until the first shutter the screen says ``waiting``: the block starts once
    the daemon's status would make any TUI say ``running``.
    """
    root.mkdir(exist_ok=True)
    handle = start_daemon(processes, root, bytecode.apply(daemon_env(root)))
    try:
        wait_for_hello(handle)
        start_run(handle.env, 60 * 10**9)
        first_shutter_ns = run_anchor_ns(handle)
        time.sleep(max(0.0, (first_shutter_ns - time.monotonic_ns()) / 1e9) + 0.2)
        yield handle
    finally:
        stop_daemon(processes, handle)


def bench_paint(processes: Processes, repeats: int, poll_s: float, keep: bool) -> PaintFigures:
    """Interleaved runs: warm hello and lapse, cold hello and lapse (a fresh daemon each), floor."""
    names = {
        "hello": "warm: baseline Textual App + Static('hello')",
        "lapse": f"warm: lapse until {STATE_SEEN!r} (daemon running)",
        "cold-hello": "cold: baseline, no byte-code cache",
        "cold-lapse": f"cold: lapse until {STATE_SEEN!r}, fresh daemon, no cache",
        "floor": "floor: tmux + sh printf hello (info)",
    }
    series = {key: Series(name) for key, name in names.items()}
    with temp_dir("lapse-paint-", keep) as root, tmux_server("paint") as tmux:
        hello = root / "hello_app.py"
        hello.write_text(HELLO_CODE)
        warm = Bytecode(root / "pyc-warm")
        empty = root / "pyc-empty"
        empty.mkdir()
        cold = Bytecode(empty, write=False)
        clock = PaintClock(tmux, poll_s)
        with daemon_with_run(processes, root / "warm", warm) as handle:

            def cold_lapse() -> float:
                # A fresh daemon (its start and the run's are not timed), a cold TUI.
                with (
                    temp_dir("lapse-cold-") as fresh,
                    daemon_with_run(processes, fresh, warm) as own,
                ):
                    return clock.time(lapse_command(), STATE_SEEN, lapse_env(own, cold), "lapse")

            runs = {
                "hello": lambda: clock.time(
                    [PYTHON, str(hello)], HELLO_SEEN, warm.apply(tmux.env), "hello_app"
                ),
                "lapse": lambda: clock.time(
                    lapse_command(), STATE_SEEN, lapse_env(handle, warm), "lapse"
                ),
                "cold-hello": lambda: clock.time(
                    [PYTHON, str(hello)], HELLO_SEEN, cold.apply(tmux.env), "hello_app"
                ),
                "cold-lapse": cold_lapse,
                "floor": lambda: clock.time(FLOOR_COMMAND, HELLO_SEEN, tmux.env, "sleep"),
            }
            for key in ("hello", "lapse", "hello", "lapse"):  # warm-up: the warm caches
                runs[key]()
            clock.capture_s.clear()
            for index in range(repeats):
                # Rotate the order so that no program always follows the same one.
                turn = index % len(runs)
                for key in [*list(runs)[turn:], *list(runs)[:turn]]:
                    series[key].samples.append(runs[key]())
                    time.sleep(0.2)  # the ended program's exit is over before the next starts
                shown = ", ".join(f"{key} {series[key].samples[-1] * 1000:.0f}" for key in runs)
                print(f"    {index + 1:2}/{repeats} (ms): {shown}", flush=True)
    return PaintFigures(series, poll_s * 1000, median(clock.capture_s) * 1000)


def report_paint(report: Report, paint: PaintFigures) -> None:
    """Print (2) and add its targets."""
    print(
        f"    polling: a capture every {paint.poll_ms:g} ms + {paint.capture_ms:.1f} ms per"
        f" capture-pane ⇒ times are late by ≤ {paint.poll_ms + paint.capture_ms:.1f} ms"
    )
    print(f"    {'new tmux session → the text on its screen':<56} {'median':>8} {'p90':>8}")
    for timing in paint.series.values():
        print(f"    {timing.name:<56} {timing.median * 1000:6.1f}ms {timing.p90 * 1000:6.1f}ms")
    for label, hello_key, lapse_key in (
        ("warm", "hello", "lapse"),
        ("cold", "cold-hello", "cold-lapse"),
    ):
        hello, lapse = paint.series[hello_key], paint.series[lapse_key]
        ratio = lapse.median / hello.median
        report.check(
            f"(2) lapse first paint to the daemon's state ≤ {PAINT_FACTOR_LIMIT:g}× hello"
            f" ({label})",
            ratio <= PAINT_FACTOR_LIMIT,
            f"median {lapse.median * 1000:.0f} ms vs {hello.median * 1000:.0f} ms = {ratio:.2f}×",
        )


# -- (3) engine timing with two TUIs -------------------------------------------------------------
class TwoTuis:
    """Two ``lapse`` TUIs as more clients of timing.py's daemon; their CPU over the run."""

    def __init__(self, tmux: Tmux, root: Path) -> None:
        self.tmux = tmux
        self.bytecode = Bytecode(root / "pyc")
        self.sessions = ("tui1", "tui2")
        self.pids: list[int] = []
        self.before: dict[int, Any] = {}
        self.began = 0.0
        self.shares: list[CpuShare] = []
        self.followed: list[bool] = []

    def attach(self, handle: DaemonHandle) -> None:
        env = lapse_env(handle, self.bytecode)
        self.pids = [self.tmux.start(s, lapse_command(), env, "lapse") for s in self.sessions]
        for session, pid in zip(self.sessions, self.pids, strict=True):
            wait_for_text(self.tmux, session, pid, CONNECTED_SEEN)
        time.sleep(1.0)  # both settled
        self.before = {pid: usage(pid) for pid in self.pids}
        self.began = time.monotonic()

    def detach(self, handle: DaemonHandle) -> None:
        seconds = time.monotonic() - self.began
        self.shares = [
            share(f"lapse TUI {i + 1} (pid {pid})", self.before[pid], usage(pid), seconds)
            for i, pid in enumerate(self.pids)
        ]
        time.sleep(1.0)  # the TUIs draw the end of the run
        self.followed = ["finished" in self.tmux.capture(s) for s in self.sessions]
        for session in self.sessions:
            self.tmux.close(session)


def bench_timing(
    processes: Processes, report: Report, args: Any, cyclictest: str | None
) -> list[Figures]:
    """In each condition: cyclictest, lapse with its subscribers, lapse with two TUIs too."""
    results: list[Figures] = []
    for condition in args.conditions:
        with condition_context(processes, condition) as what, tmux_server("timing") as tmux:
            print(f"  [{condition}] {what}", flush=True)
            try:
                if cyclictest is not None:
                    argv = cyclictest_argv(cyclictest, args.interval, args.frames, fifo=True)
                    results.append(
                        bench_cyclictest(processes, condition, CYCLICTEST_FIFO, argv, args.interval)
                    )
                plain, _ = bench_lapse(processes, condition, args.interval, args.frames, args.keep)
                results.append(replace(plain, method="lapse, no TUI"))
                with temp_dir("lapse-tuis-", args.keep) as root:
                    tuis = TwoTuis(tmux, root)
                    with_tuis, _ = bench_lapse(
                        processes, condition, args.interval, args.frames, args.keep, more=tuis
                    )
                results.append(replace(with_tuis, method=WITH_TUIS))
            except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                report.fail(f"(3) {condition}: {error}")
                continue
            print_shares(tuis.shares)
            shown = ", ".join(
                f"TUI {i + 1} {'yes' if ok else 'NO'}" for i, ok in enumerate(tuis.followed)
            )
            print(f"    screens show the run 'finished' at the end: {shown}")
            report.check(
                f"(3) both TUIs alive and following the run ({condition})",
                all(tuis.followed),
                shown,
            )
    return results


def parse_args(argv: Sequence[str] | None) -> Any:
    parser = bench_parser(
        "bench/tui_cost.py",
        __doc__,
        conditions=True,
        parts=PARTS,
        interval="50ms",
        frames=400,
        scope="(3) ",
    )
    parser.add_argument("--cycles", type=int, default=1, help="(1) run cycles per window (1)")
    parser.add_argument(
        "--cpu-interval", type=parse_one_duration, default="1min", help="(1) the run's interval"
    )
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="(1) seconds of the TUI before its window (5)"
    )
    parser.add_argument(
        "--repeats", type=int, default=10, help="(2) runs of each program (default 10, ≥ 10)"
    )
    parser.add_argument(
        "--poll-ms", type=float, default=5.0, help="(2) sleep between two captures (default 5)"
    )
    parser.add_argument(
        "--short", action="store_true", help="allow --repeats < 10 (trying the script out)"
    )
    args = parser.parse_args(argv)
    if args.repeats < MIN_REPEATS and not args.short:
        parser.error(f"--repeats must be ≥ {MIN_REPEATS} (or --short)")
    if args.frames < 20 or args.cycles < 1:
        parser.error("--frames must be at least 20 and --cycles at least 1")
    return args


def measure(processes: Processes, report: Report, args: Any) -> None:
    """The parts asked for, each printed as it ends."""
    import textual

    tmux_version = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=False)
    print(
        f"textual {textual.__version__} · {tmux_version.stdout.strip()}"
        f" · terminals {WIDTH}×{HEIGHT}"
    )
    if "cpu" in args.parts:
        print(
            f"\n(1) CPU: a daemon (simulated rig) carrying a run every"
            f" {format_duration(args.cpu_interval)}; windows of {args.cycles} cycle(s) without,"
            " with and again without one idle `lapse` TUI; baseline: a Textual Label app at 1 Hz"
        )
        try:
            cpu = bench_cpu(processes, args.cpu_interval, args.cycles, args.warmup, args.keep)
        except (RuntimeError, OSError, subprocess.SubprocessError, LapseError) as error:
            report.fail(f"(1) {error}")
        else:
            report.data["cpu"] = asdict(cpu) | {
                "daemon_extra_percent": cpu.daemon_extra_percent,
                "total_percent": cpu.total_percent,
                "ratio": cpu.ratio,
            }
            report_cpu(report, cpu)
    if "paint" in args.parts:
        print(
            f"\n(2) first paint: new tmux session → the text on its screen, {args.repeats} runs"
            " each, interleaved, after warm-up runs"
        )
        try:
            paint = bench_paint(processes, args.repeats, args.poll_ms / 1000, args.keep)
        except (RuntimeError, OSError, subprocess.SubprocessError, LapseError) as error:
            report.fail(f"(2) {error}")
        else:
            report.data["paint"] = asdict(paint)
            report_paint(report, paint)
    if "timing" in args.parts:
        print(
            f"\n(3) engine timing, `lapse run --interval {format_duration(args.interval)}"
            f" --frames {args.frames}`, with two `lapse` TUIs attached"
        )
        cyclictest = find_cyclictest()
        if cyclictest is None:
            report.fail("(3) cyclictest is not installed (bench/timing.py --install)")
        results = bench_timing(processes, report, args, cyclictest)
        print()
        print_figures(results, {**SPANS, "lapse, no TUI": SPANS[LAPSE], WITH_TUIS: SPANS[LAPSE]})
        report.data["timing"] = [asdict(r) for r in results]
        judged = [replace(r, method=LAPSE) if r.method == WITH_TUIS else r for r in results]
        judged = [r for r in judged if r.method != "lapse, no TUI"]
        timing_checks(report, judged, args.conditions, prefix="(3) 2 TUIs: ")


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(TITLE, parse_args(argv), measure)


if __name__ == "__main__":
    sys.exit(main())
