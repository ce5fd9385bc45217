"""What a ``lapse`` TUI costs: idle CPU, first paint, and the engine's timing with TUIs attached.

Every lapse figure is printed next to a baseline measured side by side in the
same invocation. TUIs run in a private tmux server (``tmux -L …``), each in
its own 80×24 session, so they draw to a real terminal; COLUMNS and LINES are
removed from their environment (they would override the terminal's size).

(1) Idle CPU: a daemon on the simulated rig carrying ``lapse run --interval
    1min``, one plain ``lapse`` TUI attached and left alone; side by side, a
    bare Textual app whose one ``Label`` shows the time, updated by
    ``set_interval(1, …)``. After a warm-up (5 s), utime + stime from
    /proc/<pid>/stat (and schedstat) of both over ``--seconds`` (60).
    The window is the full one: at a 1-minute interval the TUI wakes for
    each change it shows, about four times a second while the LED flashes
    and the cursor crosses the active part (focus, then shutter: the plan's
    span, ~7 s of each minute) and about once a second otherwise (the texts
    count seconds); both phases are in the figure.
    Target: TUI ≤ 2× the baseline, judged on schedstat (exact ns; utime +
    stime count whole ticks, sampled).
(2) First paint: from ``tmux new-session`` (which execs the program) until the
    program's text is on the tmux screen — ``VALUE`` (a rotary switch's
    title) for ``lapse``, ``hello`` for a bare Textual ``App`` with
    ``Static("hello")`` — polling ``tmux capture-pane`` every 5 ms; ≥ 10 runs
    each, interleaved; median and p90. ``lapse`` attaches to a daemon that is
    already running (the daemon's start-up is not counted). Target: lapse ≤
    1.5× hello. For information: ``lapse`` starting its own daemon, the time
    until the TUI shows it is connected (the ``SIMULATED`` banner), and the
    floor (``printf hello`` in the same harness). Every program under tmux
    keeps its byte-code in a temporary ``PYTHONPYCACHEPREFIX`` (written by the
    warm-up runs), so ``PYTHONDONTWRITEBYTECODE=1`` in the environment does not
    make lapse's editable modules compile at every start while Textual's come
    precompiled; ``--no-bytecode-cache`` measures as the environment says.
(3) Engine timing with two ``lapse`` TUIs attached: ``bench/timing.py``'s lapse
    measurement (``lapse run --interval 50ms --frames 400``, lateness =
    ``fired_ns − due_ns`` from the journal) with two TUIs as the daemon's only
    clients, idle and with 2 CPU hogs. Baselines in the same run: cyclictest
    (when installed) and timing.py's own measurement (the same daemon with two
    plain socket subscribers, no TUI). A bare Textual app updating a Label at
    10 Hz runs beside both lapse measurements: the TUIs' CPU is printed next
    to it. Targets: those of timing.py.

Run from the repo root: ``/work/venv/bin/python bench/tui_cost.py [--seconds 60] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    PYTHON,
    DaemonHandle,
    Processes,
    clock_ticks,
    cpu_ticks,
    daemon_env,
    exit_on_signals,
    exit_status,
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
    wait_for_hello,
    write_report,
)
from bench.timing import (
    CONDITIONS,
    Figures,
    bench_cyclictest,
    bench_lapse,
    condition_context,
    cyclictest_argv,
    find_cyclictest,
    package_version,
    print_table,
    read_journal,
    start_run,
    targets,
    tenth_drift_ns,
)
from core.client import Client
from core.durations import format_duration, parse_duration
from core.errors import DurationError, LapseError
from core.plan import make_plan
from core.settings import Settings

CPU_FACTOR_LIMIT = 2.0
PAINT_FACTOR_LIMIT = 1.5
MIN_SECONDS = 60.0
MIN_REPEATS = 10
MIN_FRAMES = 400
WIDTH, HEIGHT = 80, 24
TUI_SEEN = "VALUE"
"""On lapse's main screen once it is drawn: the title of the first rotary switch."""
TUI_CONNECTED = "SIMULATED"
"""The banner the main screen shows once the daemon (on the simulated rig) said hello."""
HELLO_SEEN = "hello"
LABEL_SEEN = "tick "
STARTUP_TIMEOUT_S = 60.0
TUI_METHOD = "lapse + 2 TUIs"
SUBSCRIBERS_METHOD = "lapse + 2 socket clients"

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

BYTECODE_CACHE: list[Path | None] = [None]
"""Where programs under tmux keep their byte-code (``PYTHONPYCACHEPREFIX``); None: as the
environment says. Set once by :func:`main`: with ``PYTHONDONTWRITEBYTECODE=1`` in the
environment, lapse's own modules (an editable install) would be compiled from source at
every start while Textual's come precompiled from its wheel, which is not how an installed
lapse starts."""


# -- tmux: real terminals ----------------------------------------------------------------------
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

    For processes that are not our children (a tmux pane's program, a daemon a
    TUI started): the command-line check keeps a recycled pid safe.
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
        self.pycache = BYTECODE_CACHE[0]
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

    def start(
        self,
        session: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        expect: str | None = None,
    ) -> int:
        """Run ``argv`` in a new 80×24 session with ``env`` added; returns the program's pid.

        The shell tmux starts execs ``env``, which execs the program: the pane's
        pid is the program's own.
        """
        if not self._up:
            self._up = True
            self._run(
                "new-session",
                "-d",
                "-s",
                "hold",
                "-x",
                str(WIDTH),
                "-y",
                str(HEIGHT),
                "exec sleep 2147483647",
            )
            self._run("set-option", "-g", "exit-empty", "off")
        unset, extra = list(_DROPPED_ENV), dict(env or {})
        if self.pycache is not None:
            unset.append("PYTHONDONTWRITEBYTECODE")
            extra.setdefault("PYTHONPYCACHEPREFIX", str(self.pycache))
        words = ["exec", "env", *(f"-u{name}" for name in unset)]
        words += [f"{key}={value}" for key, value in extra.items()]
        shell = " ".join(shlex.quote(word) for word in [*words, *argv])
        out = self._run(
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            str(WIDTH),
            "-y",
            str(HEIGHT),
            "-P",
            "-F",
            "#{pane_pid}",
            shell,
        )
        pid = int(out.strip())
        self.panes[session] = (pid, expect or Path(argv[-1]).name)
        return pid

    def capture(self, session: str) -> str:
        """What the session's screen shows now (empty when it is gone)."""
        return self._run("capture-pane", "-p", "-t", f"={session}:", check=False)

    def size(self, session: str) -> str:
        """The session's window size, ``80x24``."""
        return self._run(
            "display-message", "-p", "-t", f"={session}:", "#{window_width}x#{window_height}"
        ).strip()

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


def tui_env(handle_env: Mapping[str, str]) -> dict[str, str]:
    """The variables a ``lapse`` TUI needs to find its daemon (and the simulated rig)."""
    keys = ("LAPSE_STATE_DIR", "LAPSE_SOCKET", "LAPSE_CONFIG", "LAPSE_HW", "PYTHONPATH")
    return {key: handle_env[key] for key in keys if key in handle_env}


# -- CPU of a process --------------------------------------------------------------------------
@dataclass
class Usage:
    """A reading of one process's counters."""

    ticks: int
    """utime + stime, every thread (those gone included), in clock ticks."""
    threads_ns: dict[str, int]
    """On-CPU ns per live thread (schedstat), keyed ``tid name``."""
    switches: int
    """Context switches (voluntary + involuntary) summed over the live threads."""
    written: int
    """Bytes the process has written (``wchar``: the terminal, and the socket's few)."""


def usage(pid: int) -> Usage:
    """Read ``pid``'s CPU counters now."""
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
                threads[f"{tid} {'main' if int(tid) == pid else name}"] = on_cpu
    written = 0
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/io", encoding="ascii") as io:
        for line in io:
            if line.startswith("wchar:"):
                written = int(line.split()[1])
    return Usage(ticks=cpu_ticks(pid), threads_ns=threads, switches=switches, written=written)


@dataclass
class CpuShare:
    """One process's CPU over a window."""

    name: str
    seconds: float
    ticks: int
    percent: float
    """utime + stime as % of one core."""
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
    """A table of CPU shares, then each process's threads."""
    print(
        f"{indent}{'process':<42} {'ticks':>6} {'% core':>8} {'(schedstat)':>11}"
        f" {'switches/s':>10} {'written B/s':>11}"
    )
    for item in shares:
        print(
            f"{indent}{item.name:<42} {item.ticks:>6} {item.percent:>8.3f}"
            f" {item.schedstat_percent:>11.3f} {item.switches_per_s:>10.1f}"
            f" {item.written_per_s:>11.0f}"
        )
    for item in shares:
        busy = sorted(item.threads_ns.items(), key=lambda pair: -pair[1])
        shown = ", ".join(f"{name} {ns / 1e6:.0f} ms" for name, ns in busy[:4] if ns > 0)
        print(f"{indent}  {item.name} threads: {shown or 'none measurable'}")


# -- (1) idle CPU ------------------------------------------------------------------------------
@dataclass
class IdleFigures:
    """(1): the TUI and the baseline over one window."""

    tui: CpuShare
    baseline: CpuShare
    frames_in_window: int
    interval: str
    interval_s: float
    active_span_s: float
    run: str

    @property
    def ratio(self) -> float:
        return self.tui.percent / self.baseline.percent if self.baseline.percent else float("inf")

    @property
    def schedstat_ratio(self) -> float:
        base = self.baseline.schedstat_percent
        return self.tui.schedstat_percent / base if base else float("inf")


def run_status(handle: DaemonHandle) -> dict[str, Any]:
    """The daemon's ``status``."""
    with Client(handle.socket, timeout=10).connect() as client:
        status: dict[str, Any] = client.request("status")
    return status


def active_span_s(status: dict[str, Any]) -> float:
    """Seconds of each cycle the rig is doing something (the TUI's fast ticks), from the plan."""
    try:
        return make_plan(Settings.from_dict(status["settings"])).span_ns / 1e9
    except (KeyError, LapseError):
        return float("nan")


def journal_count(state_dir: Path, run_id: str) -> int:
    """How many frame records the run's journal holds so far."""
    path = state_dir / "runs" / run_id / "frames.jsonl"
    try:
        return sum(1 for line in path.read_text().splitlines() if line.strip())
    except OSError:
        return 0


def measure_window(
    pids: Mapping[str, int], seconds: float, progress_every: float = 30.0
) -> dict[str, CpuShare]:
    """Read every process's counters, sleep ``seconds``, read again."""
    before = {name: usage(pid) for name, pid in pids.items()}
    began = time.monotonic()
    said = began
    while (now := time.monotonic()) < began + seconds:
        time.sleep(min(1.0, began + seconds - now))
        if time.monotonic() - said >= progress_every:
            said = time.monotonic()
            print(f"    … {said - began:.0f} s of {seconds:.0f} s", flush=True)
    after = {name: usage(pid) for name, pid in pids.items()}
    wall = time.monotonic() - began
    for name, pid in pids.items():
        if not pid_alive(pid):
            raise RuntimeError(f"{name} (pid {pid}) ended during the window")
    return {name: share(name, before[name], after[name], wall) for name in pids}


def bench_idle(
    processes: Processes, seconds: float, warmup: float, interval_ns: int, keep: bool
) -> IdleFigures:
    """A daemon carrying a run, one idle TUI, and the 1 Hz Label app; CPU over ``seconds``."""
    with temp_dir("lapse-tui-", keep) as root, tmux_server("idle") as tmux:
        label = root / "label_app.py"
        label.write_text(LABEL_CODE)
        handle = start_daemon(processes, root)
        try:
            wait_for_hello(handle)
            argv = [*lapse_command(), "run", "--interval", format_duration(interval_ns)]
            started = subprocess.run(
                argv, env=handle.env, capture_output=True, text=True, timeout=60, check=False
            )
            if started.returncode != 0:
                raise RuntimeError(f"`lapse run` failed: {started.stderr.strip()}")
            print(f"    {started.stdout.strip().splitlines()[0]}")
            match = re.search(r"Run (\S+) started", started.stdout)
            run_id = match[1] if match else ""
            status = run_status(handle)
            tui = tmux.start("tui", lapse_command(), tui_env(handle.env), expect="lapse")
            base = tmux.start("label", [PYTHON, str(label), "1"], expect="label_app.py")
            wait_for_text(tmux, "tui", tui, TUI_CONNECTED)
            wait_for_text(tmux, "label", base, LABEL_SEEN)
            print(
                f"    lapse TUI pid {tui} and Label app pid {base} drawn in"
                f" {tmux.size('tui')} / {tmux.size('label')} terminals; warm-up {warmup:g} s"
            )
            time.sleep(warmup)
            frames_before = journal_count(handle.state_dir, run_id)
            shares = measure_window(
                {"lapse TUI (idle, attached)": tui, "baseline: Textual Label at 1 Hz": base},
                seconds,
            )
            frames_after = journal_count(handle.state_dir, run_id)
        finally:
            tmux.kill()
            stop_daemon(processes, handle)
    tui_share, base_share = shares.values()
    return IdleFigures(
        tui=tui_share,
        baseline=base_share,
        frames_in_window=frames_after - frames_before,
        interval=format_duration(interval_ns),
        interval_s=interval_ns / 1e9,
        active_span_s=active_span_s(status),
        run=run_id,
    )


# -- (2) first paint ---------------------------------------------------------------------------
@dataclass
class PaintTimings:
    """Repeated exec → text-on-screen timings of one program, in seconds."""

    name: str
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return median(self.samples)

    @property
    def p90(self) -> float:
        return percentile(self.samples, 90)


@dataclass
class PaintFigures:
    """(2): every series, and how finely the screen was polled."""

    series: dict[str, PaintTimings]
    poll_ms: float
    """The requested sleep between two captures."""
    capture_ms: float
    """What one ``tmux capture-pane`` took (median): the rest of the polling period."""


class PaintClock:
    """Times exec → text on a tmux screen, polling ``capture-pane``."""

    def __init__(self, tmux: Tmux, poll_s: float) -> None:
        self.tmux = tmux
        self.poll_s = poll_s
        self.capture_s: list[float] = []
        self._count = 0

    def time(
        self,
        argv: Sequence[str],
        marks: Sequence[str],
        env: Mapping[str, str] | None = None,
        expect: str | None = None,
    ) -> list[float]:
        """Seconds from starting ``argv`` until each of ``marks`` is on its screen.

        A time is taken when the capture that first shows the mark returns, so
        it is late by at most one polling period. The program is ended after.
        """
        self._count += 1
        session = f"p{self._count}"
        found: list[float | None] = [None] * len(marks)
        began = time.monotonic()
        pid = self.tmux.start(session, argv, env, expect)
        try:
            while any(value is None for value in found):
                asked = time.monotonic()
                screen = self.tmux.capture(session)
                now = time.monotonic()
                self.capture_s.append(now - asked)
                for index, mark in enumerate(marks):
                    if found[index] is None and mark in screen:
                        found[index] = now - began
                if now - began > STARTUP_TIMEOUT_S:
                    raise RuntimeError(f"{argv[-1]} showed no {marks} in {STARTUP_TIMEOUT_S:g} s")
                if not pid_alive(pid) and any(value is None for value in found):
                    raise RuntimeError(f"{argv[-1]} exited before showing {marks}")
                time.sleep(self.poll_s)
        finally:
            self.tmux.close(session)
        return [value for value in found if value is not None]


def end_own_daemon(state_dir: Path) -> int | None:
    """End the daemon a TUI started for itself (pid from its lock file); returns the pid."""
    try:
        pid = int((state_dir / "daemon.lock").read_text().strip())
    except (OSError, ValueError):
        return None
    end_pid(pid, "daemon", timeout=10)
    return pid


def bench_paint(processes: Processes, repeats: int, poll_s: float, keep: bool) -> PaintFigures:
    """Interleaved runs of hello, lapse (daemon running), lapse (own daemon), the floor."""
    names = {
        "hello": "baseline: Textual App + Static('hello')",
        "lapse": "lapse (daemon already running)",
        "own": "lapse starting its own daemon (info)",
        "lapse-link": "  … until it shows the daemon's banner (info)",
        "own-link": "  … own daemon: until the banner (info)",
        "floor": "floor: tmux + sh printf hello (info)",
    }
    series = {key: PaintTimings(name) for key, name in names.items()}
    own_roots: list[Path] = []
    with temp_dir("lapse-paint-", keep) as root, tmux_server("paint") as tmux:
        hello = root / "hello_app.py"
        hello.write_text(HELLO_CODE)
        handle = start_daemon(processes, root)
        clock = PaintClock(tmux, poll_s)
        env = tui_env(handle.env)

        def own_daemon_run(index: int) -> list[float]:
            own = root / f"own{index}"
            own.mkdir()
            own_roots.append(own)
            try:
                return clock.time(
                    lapse_command(),
                    [TUI_SEEN, TUI_CONNECTED],
                    tui_env(daemon_env(own)),
                    expect="lapse",
                )
            finally:
                end_own_daemon(own / "state")

        runs = {
            "hello": lambda index: clock.time([PYTHON, str(hello)], [HELLO_SEEN]),
            "lapse": lambda index: clock.time(
                lapse_command(), [TUI_SEEN, TUI_CONNECTED], env, expect="lapse"
            ),
            "own": own_daemon_run,
            "floor": lambda index: clock.time(FLOOR_COMMAND, [HELLO_SEEN], expect="sleep"),
        }
        try:
            wait_for_hello(handle)
            for key, run in runs.items():  # warm-up: byte-code and page caches
                run(-1 - list(runs).index(key))
            clock.capture_s.clear()
            for index in range(repeats):
                # Rotate the order so that no program always follows the same one.
                order = list(runs)[index % 4 :] + list(runs)[: index % 4]
                for key in order:
                    times = runs[key](index)
                    series[key].samples.append(times[0])
                    if len(times) > 1:
                        series[f"{key}-link"].samples.append(times[1])
                    time.sleep(0.2)  # the ended program's exit is over before the next starts
                last = {key: series[key].samples[-1] * 1000 for key in runs}
                print(
                    f"    {index + 1:2}/{repeats}: hello {last['hello']:6.1f} ms,"
                    f" lapse {last['lapse']:6.1f} ms, own daemon {last['own']:6.1f} ms,"
                    f" floor {last['floor']:5.1f} ms",
                    flush=True,
                )
        finally:
            tmux.kill()
            for own in own_roots:
                end_own_daemon(own / "state")
            stop_daemon(processes, handle)
    ordered = ["hello", "lapse", "lapse-link", "own", "own-link", "floor"]
    return PaintFigures(
        series={key: series[key] for key in ordered},
        poll_ms=poll_s * 1000,
        capture_ms=median(clock.capture_s) * 1000,
    )


# -- (3) engine timing with TUIs attached --------------------------------------------------------
@dataclass
class TimingRun:
    """(3), one condition: the engine's figures and the CPU of the TUIs beside them."""

    figures: list[Figures]
    tui_cpu: list[CpuShare]
    baseline_cpu: list[CpuShare]
    """The 10 Hz Label app beside the lapse measurements (subscribers run, then TUIs run)."""
    tuis_followed: list[bool]
    """Per TUI: its screen said ``finished`` once the run ended."""


def bench_tuis(
    processes: Processes,
    tmux: Tmux,
    label_pid: int,
    condition: str,
    interval_ns: int,
    frames: int,
    keep: bool,
) -> tuple[Figures, list[CpuShare], CpuShare, list[bool]]:
    """A daemon whose only clients are two TUIs, one run; figures from the journal."""
    with temp_dir("lapse-tuit-", keep) as root:
        handle = start_daemon(processes, root)
        sessions = ("tui1", "tui2")
        try:
            wait_for_hello(handle)
            pids = [tmux.start(s, lapse_command(), tui_env(handle.env), "lapse") for s in sessions]
            for session, pid in zip(sessions, pids, strict=True):
                wait_for_text(tmux, session, pid, TUI_CONNECTED)
            time.sleep(1.0)  # both settled: no run, so nothing on their screens moves
            watched = {f"lapse TUI {i + 1} (pid {pid})": pid for i, pid in enumerate(pids)}
            watched["baseline: Textual Label at 10 Hz"] = label_pid
            before = {name: usage(pid) for name, pid in watched.items()}
            began = time.monotonic()
            run_id, _ = start_run(processes, handle, interval_ns, frames)
            deadline = began + frames * interval_ns / 1e9 + 30
            asked = began
            state = "running"
            while journal_count(handle.state_dir, run_id) < frames and time.monotonic() < deadline:
                time.sleep(0.25)
                if time.monotonic() - asked >= 2:
                    asked = time.monotonic()
                    state = run_status(handle).get("state", "?")
                    if state != "running":
                        break
            after = {name: usage(pid) for name, pid in watched.items()}
            wall = time.monotonic() - began
            for name, pid in watched.items():
                if not pid_alive(pid):
                    raise RuntimeError(f"{name} ended during the run")
            if journal_count(handle.state_dir, run_id) < frames:
                raise RuntimeError(f"the run did not complete (state {state})")
            time.sleep(1.0)  # the TUIs draw the end of the run
            followed = ["finished" in tmux.capture(session) for session in sessions]
            records = read_journal(handle.state_dir, run_id)
        finally:
            for session in sessions:
                tmux.close(session)
            stop_daemon(processes, handle)
    shares = [share(name, before[name], after[name], wall) for name in watched]
    fired = [record for record in records if record.get("fired_ns") is not None]
    lateness = [record["fired_ns"] - record["due_ns"] for record in fired]
    figures = Figures.from_ns(
        condition,
        TUI_METHOD,
        lateness,
        drift_us=tenth_drift_ns(lateness) / 1000,
        early=sum(1 for value in lateness if value < 0),
        missed=sum(1 for record in records if record["status"] == "missed"),
        note="fired_ns − due_ns from frames.jsonl; the daemon's clients: two lapse TUIs",
        extra={"run": run_id, "errors": sum(1 for r in records if r["status"] == "error")},
    )
    return figures, shares[:-1], shares[-1], followed


def bench_timing(
    processes: Processes,
    condition: str,
    interval_ns: int,
    frames: int,
    ct_argv: list[str] | None,
    keep: bool,
) -> TimingRun:
    """cyclictest, timing.py's lapse measurement and lapse with two TUIs, in one condition."""
    figures: list[Figures] = []
    baseline_cpu: list[CpuShare] = []
    with temp_dir("lapse-label-", keep) as root, tmux_server(f"t{condition}") as tmux:
        label = root / "label_app.py"
        label.write_text(LABEL_CODE)
        label_pid = tmux.start("label", [PYTHON, str(label), "0.1"], expect="label_app.py")
        wait_for_text(tmux, "label", label_pid, LABEL_SEEN)
        if ct_argv is not None:
            print("  cyclictest …", end="", flush=True)
            began = time.monotonic()
            figures.append(bench_cyclictest(processes, condition, ct_argv, frames, interval_ns))
            print(f" done in {time.monotonic() - began:.1f} s")
        print(
            "  lapse daemon, 2 socket subscribers (timing.py's measurement) …", end="", flush=True
        )
        began = time.monotonic()
        before = usage(label_pid)
        journal, _edges = bench_lapse(processes, condition, interval_ns, frames, keep)
        wall = time.monotonic() - began
        baseline_cpu.append(
            share("baseline: Label at 10 Hz (subscribers run)", before, usage(label_pid), wall)
        )
        figures.append(replace(journal, method=SUBSCRIBERS_METHOD))
        print(f" done in {wall:.1f} s")
        print("  lapse daemon, 2 lapse TUIs attached …", end="", flush=True)
        began = time.monotonic()
        tui_figures, tui_cpu, label_cpu, followed = bench_tuis(
            processes, tmux, label_pid, condition, interval_ns, frames, keep
        )
        print(f" done in {time.monotonic() - began:.1f} s")
        figures.append(tui_figures)
        baseline_cpu.append(replace(label_cpu, name="baseline: Label at 10 Hz (TUIs run)"))
    return TimingRun(figures, tui_cpu, baseline_cpu, followed)


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/tui_cost.py", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="(1) CPU measuring window (default 60)"
    )
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="(1) seconds before the window (default 5)"
    )
    parser.add_argument(
        "--cpu-interval", default="1min", help="(1) the run's interval (default 1min)"
    )
    parser.add_argument(
        "--repeats", type=int, default=10, help="(2) runs of each program (default 10, ≥ 10)"
    )
    parser.add_argument(
        "--poll-ms", type=float, default=5.0, help="(2) sleep between two captures (default 5)"
    )
    parser.add_argument("--frames", type=int, default=400, help="(3) frames (default 400, ≥ 400)")
    parser.add_argument("--interval", default="50ms", help="(3) the run's interval (50ms)")
    parser.add_argument(
        "--conditions",
        default=",".join(CONDITIONS),
        help="(3) conditions, comma-separated (default idle,loaded)",
    )
    parser.add_argument(
        "--no-cyclictest", action="store_true", help="(3) skip cyclictest even if installed"
    )
    parser.add_argument(
        "--parts", default="cpu,paint,timing", help="which parts to run (default all three)"
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run the TUIs and baselines with the environment's byte-code settings as they are",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folders")
    parser.add_argument(
        "--short",
        action="store_true",
        help="allow smaller --seconds/--repeats/--frames (trying the script out; not a result)",
    )
    args = parser.parse_args(argv)
    try:
        args.interval_ns = parse_duration(args.interval)
        args.cpu_interval_ns = parse_duration(args.cpu_interval)
    except DurationError as error:
        parser.error(str(error))
    if not args.short and (
        args.seconds < MIN_SECONDS or args.repeats < MIN_REPEATS or args.frames < MIN_FRAMES
    ):
        parser.error(
            f"--seconds must be ≥ {MIN_SECONDS:g}, --repeats ≥ {MIN_REPEATS}"
            f" and --frames ≥ {MIN_FRAMES} (or --short)"
        )
    if args.frames < 20:
        parser.error("--frames must be at least 20 (drift compares tenths)")
    args.part_list = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not args.part_list or set(args.part_list) - {"cpu", "paint", "timing"}:
        parser.error("--parts takes cpu, paint, timing")
    args.condition_list = [c.strip() for c in args.conditions.split(",") if c.strip()]
    if not args.condition_list or set(args.condition_list) - set(CONDITIONS):
        parser.error(f"--conditions takes {', '.join(CONDITIONS)}")
    return args


def report_idle(idle: IdleFigures, checks: list[tuple[str, bool | None, str]]) -> None:
    """Print (1) and add its target."""
    print(
        f"    frames fired in the window: {idle.frames_in_window} (run {idle.run});"
        f" the rig's active span is {idle.active_span_s:.1f} s of each {idle.interval}"
    )
    print_shares([idle.tui, idle.baseline])
    print(
        f"    ratio TUI / baseline: {idle.ratio:.2f} (ticks), {idle.schedstat_ratio:.2f}"
        f" (schedstat); one tick is {100 / clock_ticks() / idle.tui.seconds:.4f} % of one core"
    )
    cycles = idle.tui.seconds / idle.interval_s
    print(
        f"    The window holds {cycles:.2f} cycles of the run: the TUI's wake-ups while the LED"
        " flashes\n    (the active span above, ~4 a second) are included, as are its ~1 a second"
        " otherwise."
    )
    print(
        "    The verdict uses schedstat (ns, exact); utime + stime count whole ticks and are"
        " sampled."
    )
    checks.append(
        (
            f"(1) idle TUI CPU ≤ {CPU_FACTOR_LIMIT:g}× the 1 Hz Label app",
            idle.schedstat_ratio <= CPU_FACTOR_LIMIT,
            f"{idle.tui.schedstat_percent:.3f} % vs {idle.baseline.schedstat_percent:.3f} %"
            f" of one core = {idle.schedstat_ratio:.2f}× (ticks: {idle.tui.percent:.3f} % vs"
            f" {idle.baseline.percent:.3f} % = {idle.ratio:.2f}×)",
        )
    )


def report_paint(paint: PaintFigures, checks: list[tuple[str, bool | None, str]]) -> None:
    """Print (2) and add its target."""
    print(
        f"    polling: a capture every {paint.poll_ms:g} ms sleep + {paint.capture_ms:.1f} ms"
        f" per capture-pane ⇒ times are late by ≤ {paint.poll_ms + paint.capture_ms:.1f} ms"
    )
    print(f"    {'exec → text on the screen':<50} {'median':>8} {'p90':>8} {'n':>3}")
    for timing in paint.series.values():
        print(
            f"    {timing.name:<50} {timing.median * 1000:6.1f}ms {timing.p90 * 1000:6.1f}ms"
            f" {len(timing.samples):>3}"
        )
    hello, lapse = paint.series["hello"], paint.series["lapse"]
    ratio = lapse.median / hello.median
    print(
        f"    ratio lapse / hello: {ratio:.2f} (median), {lapse.p90 / hello.p90:.2f} (p90)."
        " The daemon's own start-up is not in the 'daemon already running' line."
    )
    checks.append(
        (
            f"(2) lapse first paint (median) ≤ {PAINT_FACTOR_LIMIT:g}× hello world",
            ratio <= PAINT_FACTOR_LIMIT,
            f"{lapse.median * 1000:.0f} ms vs {hello.median * 1000:.0f} ms = {ratio:.2f}×",
        )
    )


def report_timing(
    runs: dict[str, TimingRun], interval_ns: int, checks: list[tuple[str, bool | None, str]]
) -> None:
    """Print (3)'s tables and add timing.py's targets for lapse with the TUIs."""
    results = [figures for run in runs.values() for figures in run.figures]
    print()
    print_table(results)
    print("  Lateness: fired_ns − due_ns (lapse) or per-wake-up latency (cyclictest).")
    print(
        "  drift: median of the last tenth minus median of the first tenth."
        f" '{SUBSCRIBERS_METHOD}' is timing.py's lapse measurement."
    )
    for condition, run in runs.items():
        tui = next(f for f in run.figures if f.method == TUI_METHOD)
        if tui.extra.get("errors"):
            print(f"  note  {condition}: {tui.extra['errors']} frame(s) with status error")
        print(f"\n  [{condition}] CPU over the run ({format_duration(interval_ns)} interval):")
        print_shares([*run.tui_cpu, *run.baseline_cpu], indent="    ")
        seen = ", ".join(
            f"TUI {i + 1} {'yes' if ok else 'NO'}" for i, ok in enumerate(run.tuis_followed)
        )
        print(f"    screens show the run 'finished' at the end: {seen}")
    # timing.py's targets, applied to the run with TUIs attached.
    renamed = [
        replace(f, method="lapse daemon") if f.method == TUI_METHOD else f
        for f in results
        if f.method != SUBSCRIBERS_METHOD
    ]
    for name, passed, detail in targets(renamed):
        checks.append((f"(3) 2 TUIs: {name}", passed, detail))
    for condition, run in runs.items():
        checks.append(
            (
                f"(3) both TUIs alive and following the run ({condition})",
                all(run.tuis_followed),
                ", ".join("finished shown" if ok else "not shown" for ok in run.tuis_followed),
            )
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_signals()
    processes = Processes()
    checks: list[tuple[str, bool | None, str]] = []
    failures: list[str] = []
    report: dict[str, Any] = {
        "argv": sys.argv,
        "host": host_info(),
    }
    import textual

    tmux_version = subprocess.run(
        ["tmux", "-V"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print("lapse TUI-cost benchmark")
    print(f"{host_line()} · textual {textual.__version__} · {tmux_version}")
    print(f"terminals: tmux sessions {WIDTH}×{HEIGHT}; COLUMNS/LINES removed from their env")
    stack = contextlib.ExitStack()
    if args.no_bytecode_cache:
        print(
            "byte-code: as the environment says"
            f" (PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})"
        )
    else:
        BYTECODE_CACHE[0] = stack.enter_context(temp_dir("lapse-pyc-", args.keep))
        print(
            f"byte-code: every program under tmux caches it in {BYTECODE_CACHE[0]}"
            " (PYTHONPYCACHEPREFIX; PYTHONDONTWRITEBYTECODE removed), as an installed lapse does"
        )
    report["bytecode_cache"] = None if BYTECODE_CACHE[0] is None else str(BYTECODE_CACHE[0])
    try:
        if "cpu" in args.part_list:
            interval = format_duration(args.cpu_interval_ns)
            print(
                f"\n(1) idle CPU: daemon (simulated rig) carrying a run every {interval}, one"
                f" idle `lapse` TUI;\n    baseline: bare Textual Label app at 1 Hz;"
                f" {args.warmup:g} s warm-up, {args.seconds:g} s window"
            )
            try:
                idle = bench_idle(
                    processes, args.seconds, args.warmup, args.cpu_interval_ns, args.keep
                )
            except (RuntimeError, OSError, subprocess.SubprocessError, LapseError) as error:
                print(f"    failed: {error}")
                failures.append(f"(1) {error}")
            else:
                report["idle_cpu"] = {
                    **asdict(idle),
                    "ratio_ticks": idle.ratio,
                    "ratio_schedstat": idle.schedstat_ratio,
                }
                report_idle(idle, checks)

        if "paint" in args.part_list:
            print(
                f"\n(2) first paint: exec → text on the tmux screen, {args.repeats} runs each,"
                " interleaved (after one warm-up run each)"
            )
            try:
                paint = bench_paint(processes, args.repeats, args.poll_ms / 1000, args.keep)
            except (RuntimeError, OSError, subprocess.SubprocessError, LapseError) as error:
                print(f"    failed: {error}")
                failures.append(f"(2) {error}")
            else:
                report["first_paint"] = {
                    "poll_ms": paint.poll_ms,
                    "capture_ms": paint.capture_ms,
                    "series": {
                        key: {
                            "name": t.name,
                            "samples_s": t.samples,
                            "median_s": t.median,
                            "p90_s": t.p90,
                        }
                        for key, t in paint.series.items()
                    },
                }
                report_paint(paint, checks)

        if "timing" in args.part_list:
            interval = format_duration(args.interval_ns)
            cyclictest = None if args.no_cyclictest else find_cyclictest()
            ct_argv = (
                cyclictest_argv(cyclictest, args.interval_ns, args.frames, rt=False)
                if cyclictest
                else None
            )
            print(
                f"\n(3) engine timing, `lapse run --interval {interval} --frames {args.frames}`,"
                " with two `lapse` TUIs attached"
            )
            if ct_argv is not None:
                version = package_version("rt-tests") or "unknown version"
                print(f"    cyclictest: rt-tests {version}; {' '.join(ct_argv)}")
            else:
                print("    cyclictest: not run (not installed, or --no-cyclictest)")
            runs: dict[str, TimingRun] = {}
            for condition in args.condition_list:
                with condition_context(processes, condition) as what:
                    print(f"[{condition}] {what}")
                    try:
                        runs[condition] = bench_timing(
                            processes, condition, args.interval_ns, args.frames, ct_argv, args.keep
                        )
                    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as error:
                        print(f" failed: {error}")
                        failures.append(f"(3) {condition}: {error}")
            if runs:
                report["timing"] = {condition: asdict(run) for condition, run in runs.items()}
                report_timing(runs, args.interval_ns, checks)
    except KeyboardInterrupt:
        print("\ninterrupted: every process this benchmark started is being ended.")
        processes.stop_all()
        return 130
    finally:
        processes.stop_all()
        stack.close()

    print("\nTargets:")
    print_targets(checks)
    for failure in failures:
        print(f"  ERROR {failure}")
    report["targets"] = target_records(checks)
    report["errors"] = failures
    write_report(args.json, report)
    return exit_status(checks, failures)


if __name__ == "__main__":
    sys.exit(main())
