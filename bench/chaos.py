"""The adversary's campaign: a ``lapse daemon`` on the simulated rig, attacked for a given time.

Each round starts a run (200 ms and 1 s intervals, alternating) with ``lapse
run``, attacks it for a while, stops it with ``lapse stop`` and checks the
run's journal against what really fired. The attacks, chosen at random with
``--seed``:

- **kill -9** at a random offset around a shutter's due time (4 in 10 within
  0.3 ms after it, 3 within ±5 ms, the rest anywhere in the interval), the
  daemon started again after up to 2 s;
- **SIGSTOP** for 0.3–4 s, then SIGCONT;
- **full disk**: the state folder is a 2 MB tmpfs (mounted when run as root),
  filled to the last byte for 1–6 s; one time in four the run is stopped
  while it is full;
- **fuzzed socket messages**: garbage bytes, invalid UTF-8, JSON nested
  100,000 deep, a 5 MB line, unknown commands, wrong types and values out of
  range;
- **fuzzed configs**: the daemon stopped and started on a garbled config file
  (it must refuse it in one line), then on a good one again;
- **many clients**: hundreds of idle connections and subscribers that never
  read, held for 2–8 s.

The ground truth is the simulated rig's edge log (``LAPSE_SIM_EDGE_LOG``,
``hw/sim.py``): one line per level change of a line, appended before the
output call returns, so it survives the daemon's ``kill -9`` (only a kill in
the microseconds between the pin's change and its line would lose an edge).
A SIGKILL takes effect when the kernel next interrupts the daemon's threads,
so a spinning timing thread may still fire a shutter after the kill was sent;
the edge log says so. Each shutter-on edge belongs to the slot whose due time
is nearest. Then, per slot:

- **frames fired**: slots with a shutter-on edge;
- **frames lost beyond outages**: a slot due before the stop with no edge,
  while the daemon was up, answering and not stopped. The daemon is out from
  ``OUTAGE_LEAD_NS`` before a kill, SIGSTOP or SIGTERM until it answers
  ``status`` with the run live again (or is continued), plus ``OUTAGE_GRACE_NS``;
- **frames logged wrongly**: an edge whose slot the journal says ``missed``
  or ``error``, or has no line for; an ``ok`` line with no edge (a line that
  says the slot's fate is not known is neither);
- **early fires**: an edge before its slot's due time;
- **bursts**: two shutter-on edges in one slot;
- **crashes**: a daemon that exited unasked, one that died with a traceback
  (on a garbled config too), a traceback in a daemon's log;
- **hangs**: a daemon that does not answer ``status`` within ``HANG_BOUND_S``
  (it is then killed and started again), or does not end within 15 s of a
  SIGTERM.

Also counted: stops ``lapse stop`` reported done while ``run.toml`` still
said ``active``, fires after a run was stopped, runs that ended or were not
resumed unasked, and bad input not refused in one line. Every non-zero figure
is shown with examples (the frame, the edge times, the journal line) and the
attack during or just after which it happened.

Everything lives in a temporary folder under /tmp; the tmpfs is unmounted and
every process ended when the campaign ends, fails or is interrupted.

**The uploads campaign** (``--uploads``; the campaign above is the default) attacks
``[upload]`` (README "Hooks and uploads", docs/architecture.md §14) instead. An SFTP
server (tests/sftp_server.py's, asyncssh on loopback, in a thread of this process) takes
the frames of a daemon on the simulated rig whose virtual USB camera (``[camera] trigger
= "usb"``) saves a file per frame; a thread here writes the camera's picture anew every
20 ms with random padding (same size, still a JPEG), so no two frames have the same bytes.
Each round chooses ``[upload] transfers`` (1–4) and ``limit_kbps`` (none, or 16–64 kB/s:
an 8 kB frame then takes 0.1–0.5 s), restarts the daemon on that config, starts a run
(500 ms, 750 ms or 1 s) and attacks it at random:

- **kill -9** of the daemon, anywhere, mid-transfer (the server's byte count moving),
  just after the server renamed a file, or just after the journal named a saved file;
  started again after up to 2 s, the run resumed;
- **SIGSTOP** of the daemon for 0.3–4 s, then SIGCONT;
- **kill -9 of the upload worker** (the daemon's child running ``core.sftp_worker``,
  found in /proc), anywhere, mid-transfer or just after a rename;
- **cut mid-file**: the server aborts the connection once a file passes a random byte
  (``drop_after_bytes``), once, or every file for 1–5 s;
- **server refusing** new connections for 1–20 s (not listening, or hanging up);
- **connections dropped**: every live one aborted.

Then the run is stopped, the server made well, and the queue must empty (``status``:
``upload.waiting`` 0) within 120 s; one its back-off holds (2 s doubling to 5 min, by
design) is given 6 min and shown. Then, for every frame the run's journal names a file
for:

- **frames missing on the server**: no ``sky/<run>/<name>``;
- **frames with different bytes**: there, but not the bytes on the Pi;
- **frames uploaded twice**: renamed onto its name more than once (the server's renames
  noted by path), or two ``sent`` lines in the outbox (every line it ever held: it is
  started afresh when big);

and also **.part files left** in the run's folder on the server, **outbox entries still
waiting** (``uploads.jsonl`` replayed), **crashes** and **hangs** as above, **queues not
drained**, **server files no frame names**, **processes left behind** (a worker or other
child of a daemon still running 10 s after its daemon died), and runs ended or not
resumed unasked. A finding shows the outbox's lines for the file, the daemons' log lines
naming it, the journal's line and the attacks from 2 s before its shutter to 5 s after;
it is put down to the latest attack begun by a second after the shutter.

Run from the repo root (as root for the full disk): ``.venv/bin/python bench/chaos.py
[--uploads] [--minutes 20 | --seconds S] [--seed N] [--json FILE]``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import posixpath
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    DaemonHandle,
    Processes,
    Report,
    bench_parser,
    daemon_env,
    lapse_command,
    proc_stat_fields,
    run_benchmark,
    start_daemon,
    start_run,
    temp_dir,
)
from core.journal import Journal
from core.model.durations import NS_PER_MS, NS_PER_S, format_duration
from core.model.errors import LapseError
from core.model.scheduler import Grid
from core.model.upload import LAST_BACKOFF_NS
from core.outbox import OUTBOX_FILE, read_outbox
from core.paths import resolve_paths
from hw.camera.sky import PICTURE_BYTES, PICTURE_NAME, steady_day_picture
from hw.select import VIRTUAL_CAMERA_FOLDER
from hw.sim import EDGE_LOG_ENV_VAR

TITLE = "lapse chaos campaign"
UPLOAD_TITLE = "lapse chaos campaign: uploads"

INTERVALS_NS = (200 * NS_PER_MS, NS_PER_S)
"""The runs' intervals, alternating round by round."""
ROUND_S = 40.0
"""How long one run is attacked before it is stopped and checked."""
TMPFS_SIZE = "2m"
HANG_BOUND_S = 10.0
"""A daemon that does not answer ``status`` within this is hung."""
EXIT_BOUND_S = 15.0
"""A daemon that does not end within this of a SIGTERM is hung."""
LIVE_BOUND_S = 30.0
"""A restarted daemon must show the run live again within this."""
OUTAGE_GRACE_NS = 100 * NS_PER_MS
"""After the daemon is back (or continued), slots due this much later must fire."""
OUTAGE_LEAD_NS = NS_PER_MS
"""A shutter due this little before a kill, SIGSTOP or SIGTERM may not have switched yet
(the edge comes tens of µs after its due time, more under load): the outage covers it."""
STOP_GUARD_NS = 20 * NS_PER_MS
"""Slots due this close to the stop are not judged lost: the stop may come first."""
ATTRIBUTION_NS = 2 * NS_PER_S
"""A finding up to this long after an attack ended is that attack's."""
EXAMPLES = 3
"""Examples shown per figure and attack."""

LOST = "frames lost beyond outages"
WRONG = "frames logged wrongly"
EARLY = "early fires"
BURST = "bursts"
CRASH = "crashes"
HANG = "hangs"
FIGURES = ("attacks tried", "frames fired", LOST, WRONG, EARLY, BURST, CRASH, HANG)
"""The campaign's figures, printed in this order; all but the first two should be 0."""
STOP_NOT_KEPT = "stops reported but not recorded"
AFTER_STOP = "fires after a stop"
ENDED_UNASKED = "runs ended or not resumed unasked"
BAD_INPUT = "bad input not refused in one line"
MORE_FIGURES = (STOP_NOT_KEPT, AFTER_STOP, ENDED_UNASKED, BAD_INPUT)
"""Further figures, also 0 when lapse keeps its promises."""
STEADY = "no attack (steady running)"
ENDED_STATES = ("stopped", "finished", "failed")
NOT_FIRED = (None, "missed", "error")
"""What a journal says of a slot that did not fire (None: no line). A slot whose fate the
journal says it does not know is not judged wrong either way."""


# -- the record of what happened ------------------------------------------------------------------
@dataclass
class Window:
    """A span on the monotonic clock: an attack, or an outage of the daemon."""

    kind: str
    """The attack (``"kill -9"``), or what put the daemon out."""
    start_ns: int
    end_ns: int | None
    """None while under way."""
    what: str = ""
    """The particulars: ``"-1.20 ms from frame 31"``."""


@dataclass
class Finding:
    """One instance of a figure, and the example that shows it."""

    figure: str
    at_ns: int
    text: str
    attack: Window | None = None
    """The attack under way, or ended just before (None: steady running)."""


@dataclass
class Tally:
    """The campaign's counts, attacks and findings."""

    t0_ns: int
    attacks: Counter[str] = field(default_factory=Counter)
    fired: int = 0
    findings: list[Finding] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    """Every attack, in order (for attributing findings)."""
    noted: Counter[str] = field(default_factory=Counter)
    """Figures that are counts, not findings (the uploads campaign's frames saved)."""

    def rel(self, at_ns: int) -> str:
        """A monotonic time as seconds since the campaign began."""
        return f"t={(at_ns - self.t0_ns) / NS_PER_S:.3f}s"

    def find(self, figure: str, at_ns: int, text: str) -> None:
        self.findings.append(Finding(figure, at_ns, text, self.attack_at(at_ns)))

    def attack_at(self, at_ns: int) -> Window | None:
        """The latest attack under way at ``at_ns``, or ended just before it."""
        for window in reversed(self.windows):
            end = at_ns if window.end_ns is None else window.end_ns + ATTRIBUTION_NS
            if window.start_ns <= at_ns <= end:
                return window
        return None

    def count(self, figure: str) -> int:
        if figure == "attacks tried":
            return sum(self.attacks.values())
        if figure == "frames fired":
            return self.fired
        if figure in self.noted:
            return self.noted[figure]
        return sum(1 for finding in self.findings if finding.figure == figure)


# -- the edge log, the journal and the verdict -----------------------------------------------------
@dataclass(frozen=True)
class Edge:
    """A shutter-on edge from the simulated rig's edge log."""

    at_ns: int
    pid: int


def read_shutter_edges(path: Path) -> list[Edge]:
    """Every shutter-on edge in the edge log, in order."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return []
    edges = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] == "shutter" and parts[3] == "1":
            edges.append(Edge(int(parts[0]), int(parts[1])))
    return edges


def read_journal_lines(path: Path) -> tuple[dict[int, str], int]:
    """Each frame's last line in ``frames.jsonl`` as written, and the count of other lines."""
    lines: dict[int, str] = {}
    unreadable = 0
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return lines, 0
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            lines[int(record["frame"])] = line
        except (ValueError, KeyError, TypeError):
            unreadable += 1
    return lines, unreadable


def nearest_slot(grid: Grid, at_ns: int) -> int:
    """The slot whose due time is nearest to ``at_ns``."""
    later = grid.first_frame_due_at_or_after(at_ns)
    if later > 0 and at_ns - grid.due_ns(later - 1) < grid.due_ns(later) - at_ns:
        return later - 1
    return later


@dataclass
class RunUnderAttack:
    """One round's run and what the campaign knows about it."""

    run_id: str
    interval_ns: int
    started_ns: int
    """Just before ``lapse run`` was started."""
    outages: list[Window] = field(default_factory=list)
    stop_sent_ns: int | None = None
    """When the run was asked to stop, or was seen ended."""
    stopped_ns: int | None = None
    """When the stop was answered (or the run was seen ended): later edges fire after a stop."""

    def in_outage(self, at_ns: int) -> bool:
        return any(
            w.start_ns - OUTAGE_LEAD_NS <= at_ns <= (w.end_ns or at_ns) for w in self.outages
        )


def judge(
    run: RunUnderAttack, grid: Grid, edges: Sequence[Edge], journal: dict[int, str], tally: Tally
) -> None:
    """Compare the run's edges with its journal, slot by slot, and record the findings.

    ``edges`` are the shutter-on edges from the run's start to the next run's.
    """
    assert run.stop_sent_ns is not None and run.stopped_ns is not None
    by_slot: dict[int, list[Edge]] = {}
    for edge in edges:
        if edge.at_ns > run.stopped_ns:
            tally.find(
                AFTER_STOP,
                edge.at_ns,
                f"run {run.run_id}: shutter edge at {tally.rel(edge.at_ns)} (pid {edge.pid}),"
                f" {(edge.at_ns - run.stopped_ns) / NS_PER_MS:.1f} ms after the stop was answered",
            )
            continue
        by_slot.setdefault(nearest_slot(grid, edge.at_ns), []).append(edge)
    judged_until = run.stop_sent_ns - STOP_GUARD_NS
    last_judged = grid.first_frame_due_at_or_after(judged_until) - 1
    for frame in sorted(set(by_slot) | set(journal) | set(range(last_judged + 1))):
        due = grid.due_ns(frame)
        found = by_slot.get(frame, [])
        line = journal.get(frame)
        where = f"run {run.run_id} frame {frame} (due {tally.rel(due)})"
        shown = line if line is not None else "no line"
        times = ", ".join(
            f"{tally.rel(e.at_ns)} = due{(e.at_ns - due) / NS_PER_MS:+.3f} ms (pid {e.pid})"
            for e in found
        )
        if found:
            tally.fired += 1
            status = json.loads(line).get("status") if line is not None else None
            if status in NOT_FIRED:
                tally.find(WRONG, due, f"{where}: fired, edge at {times}; journal: {shown}")
            if any(e.at_ns < due for e in found):
                tally.find(EARLY, due, f"{where}: edge at {times}; journal: {shown}")
            if len(found) > 1:
                tally.find(BURST, due, f"{where}: {len(found)} edges at {times}; journal: {shown}")
            continue
        if line is not None and json.loads(line).get("status") == "ok":
            tally.find(WRONG, due, f"{where}: no shutter edge; journal: {shown}")
        elif frame <= last_judged and not run.in_outage(due):
            tally.find(LOST, due, f"{where}: no shutter edge, the daemon up; journal: {shown}")


# -- talking to the daemon ------------------------------------------------------------------------
def ask(socket_path: Path, command: str, bound: float) -> dict[str, Any] | None:
    """``command`` on a fresh connection: its answer (a refusal too), None if none in ``bound``.

    A connection refused (a full listen queue) or hung up on without an answer is tried
    again until ``bound``: only a daemon that gives no answer at all in that time is hung.
    """
    deadline = time.monotonic() + bound
    while (left := deadline - time.monotonic()) > 0:
        answer = ask_once(socket_path, command, left)
        if answer is not None:
            return answer
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return None


def ask_once(socket_path: Path, command: str, bound: float) -> dict[str, Any] | None:
    """One try of :func:`ask`."""
    deadline = time.monotonic() + bound
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(bound)
            conn.connect(str(socket_path))
            conn.sendall(json.dumps({"v": 2, "id": 1, "cmd": command}).encode() + b"\n")
            buffer = b""
            while True:
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    message = json.loads(line)
                    if isinstance(message, dict) and "ok" in message:
                        return message
                conn.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = conn.recv(1 << 16)
                if not chunk:
                    return None
                buffer += chunk
    except (OSError, ValueError):
        return None


def connect(socket_path: Path, bound: float) -> socket.socket | None:
    """A connection to the daemon, tried again while its listen queue is full, up to ``bound``."""
    deadline = time.monotonic() + bound
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(bound)
        try:
            conn.connect(str(socket_path))
            return conn
        except OSError:
            conn.close()
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)


def run_state(answer: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(state, run id) from a ``status`` answer."""
    if answer is None or not answer.get("ok"):
        return None, None
    result = answer["result"]
    run = result.get("run") or {}
    return result.get("state"), run.get("id")


def lapse(
    env: dict[str, str], *args: str, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run the ``lapse`` command line against the daemon of ``env``."""
    return subprocess.run(
        [*lapse_command(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_clear_line(output: str) -> bool:
    """True when ``output`` is one or two short lines and no traceback."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return (
        0 < len(lines) <= 2
        and all(len(line) <= 400 for line in lines)
        and "Traceback" not in output
    )


class Target:
    """The daemon under attack: started, killed and restarted, each life with its own log."""

    def __init__(self, processes: Processes, root: Path, tally: Tally) -> None:
        self.processes = processes
        self.root = root
        self.tally = tally
        self.env = daemon_env(root)
        self.env[EDGE_LOG_ENV_VAR] = str(root / "edges.log")
        self.paths = resolve_paths(self.env)
        """Its config file, state folder and socket, as the daemon reads them."""
        self.handle: DaemonHandle | None = None
        self.lives = 0
        self.stray_pids: set[int] = set()
        """Daemons a ``lapse`` command started itself while ours was down."""

    @property
    def pid(self) -> int:
        assert self.handle is not None
        return self.handle.pid

    def spawn(self) -> DaemonHandle:
        """Start a daemon with its own log; do not wait for it."""
        self.lives += 1
        self.handle = start_daemon(
            self.processes, self.root, self.env, log_name=f"daemon-{self.lives}.log"
        )
        return self.handle

    def start(self) -> None:
        """Start a daemon and wait until it answers."""
        handle = self.spawn()
        deadline = time.monotonic() + LIVE_BOUND_S
        while time.monotonic() < deadline:
            answer = ask(self.paths.socket, "hello", 1.0)
            if answer is not None and answer.get("ok"):
                pid = answer["result"].get("pid")
                if pid != handle.pid:
                    self.stray_pids.add(pid)
                return
            if handle.process.poll() is not None:
                break
            time.sleep(0.02)
        words = handle.last_words()
        self.ended(asked=False)
        raise RuntimeError(f"the daemon did not come up:\n{words}")

    def wait_live(self, run_id: str) -> int | None:
        """Wait until the daemon carries ``run_id`` live again; when (None: it does not)."""
        deadline = time.monotonic() + LIVE_BOUND_S
        while time.monotonic() < deadline:
            state, current = run_state(ask(self.paths.socket, "status", 2.0))
            if current == run_id and state in ("waiting", "running"):
                return time.monotonic_ns()
            if current == run_id and state in ENDED_STATES:
                return None
            time.sleep(0.02)
        return None

    def kill(self) -> int:
        """SIGKILL the daemon and reap it; when it was sent."""
        assert self.handle is not None
        at = time.monotonic_ns()
        os.kill(self.handle.pid, signal.SIGKILL)
        self.handle.process.wait()
        self.ended(asked=True)
        return at

    def terminate(self) -> tuple[int, bool]:
        """SIGTERM the daemon; (when, whether it ended within ``EXIT_BOUND_S``)."""
        assert self.handle is not None
        at = time.monotonic_ns()
        self.handle.process.send_signal(signal.SIGTERM)
        try:
            self.handle.process.wait(EXIT_BOUND_S)
            ended = True
        except subprocess.TimeoutExpired:
            os.kill(self.handle.pid, signal.SIGKILL)
            self.handle.process.wait()
            ended = False
        self.ended(asked=True)
        return at, ended

    def ended(self, asked: bool) -> None:
        """The current daemon is gone: look in its log for a traceback, close it."""
        handle, self.handle = self.handle, None
        if handle is None:
            return
        tail = handle.last_words(3).replace("\n", " | ")
        self.processes.stop(handle.process)  # already gone: only forgotten
        handle.log_file.close()
        if not self.said_tracebacks(handle, tail) and not asked:
            self.tally.find(
                CRASH,
                time.monotonic_ns(),
                f"daemon pid {handle.pid} exited unasked (status {handle.process.returncode}):"
                f" {tail}",
            )

    def said_tracebacks(self, handle: DaemonHandle, tail: str) -> bool:
        """Report a traceback in the gone daemon's log; whether there was one."""
        if "Traceback" not in handle.log_path.read_text(errors="replace"):
            return False
        self.tally.find(CRASH, time.monotonic_ns(), f"a traceback in {handle.log_name}: {tail}")
        return True

    def shut_down(self) -> None:
        """End every daemon of the campaign: continue a stopped one first, or SIGTERM waits."""
        if self.handle is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.handle.pid, signal.SIGCONT)
            with contextlib.suppress(OSError):
                self.terminate()
        for pid in self.stray_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)


# -- the tmpfs ------------------------------------------------------------------------------------
@contextlib.contextmanager
def small_tmpfs(path: Path) -> Iterator[str | None]:
    """Mount a ``TMPFS_SIZE`` tmpfs on ``path`` for the block; yields why not, or None when mounted.

    Unmounted on the way out, always (lazily if something still holds it).
    """
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        yield "not root: the state folder is not on a small tmpfs, no full-disk attack"
        return
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        yield f"mount failed ({done.stderr.strip()}): no full-disk attack"
        return
    try:
        yield None
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(folder: Path) -> Path:
    """Write a file in ``folder`` until the disk is full, to the last byte; its path."""
    filler = folder / "filler"
    chunk = b"\0" * (64 * 1024)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            os.write(fd, chunk)  # a short write near the end, then ENOSPC
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return filler


# -- fuzz -----------------------------------------------------------------------------------------
def socket_payloads(rng: random.Random) -> list[tuple[str, bytes]]:
    """Messages no daemon should act on: each a name and its bytes (a line, or not)."""
    wrong_values = [
        {"cmd": "update", "args": {"frames": -1}},
        {"cmd": "update", "args": {"frames": "ten"}},
        {"cmd": "update", "args": {"frames": 1.5}},
        {"cmd": "update", "args": {"frames": True}},
        {"cmd": "start", "args": {"settings": {"interval": "-1s"}}},
        {"cmd": "start", "args": {"settings": {"interval": "9" * 5000 + "s"}}},
        {"cmd": "start", "args": {"settings": {"interval": "١٠s"}}},
        {"cmd": "preview", "args": {"settings": {"interval": "0s", "frames": -5}}},
        {"cmd": "status", "args": {"extra": 1}},
        {"cmd": "stop", "args": {"now": "please"}},
        {"cmd": "hello", "v": 1},
        {"cmd": "launch-missiles"},
        {"cmd": None},
        {"id": [1, 2], "cmd": "status"},
    ]
    chosen = rng.choice(wrong_values)
    message = {"v": 2, "id": rng.randint(1, 10**6), **chosen}
    return [
        ("garbage bytes", bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096))) + b"\n"),
        ("invalid UTF-8", b'{"v":2,"id":1,"cmd":"\xff\xfe"}\n'),
        ("JSON 100,000 deep", b"[" * 100_000 + b"]" * 100_000 + b"\n"),
        ("a 5 MB line", b'{"v":2,"id":1,"cmd":"' + b"x" * 5_000_000 + b'"}\n'),
        ("NUL bytes", b"\0" * 1000 + b"\n"),
        ("no newline, then hang up", b'{"v":2,"id":1,"cmd":"stat'),
        ("not an object", b"[1, 2, 3]\n"),
        (f"wrong values: {json.dumps(chosen)[:60]}", json.dumps(message).encode() + b"\n"),
    ]


BAD_CONFIGS: tuple[tuple[str, Callable[[random.Random], bytes]], ...] = (
    ("random bytes", lambda rng: bytes(rng.randrange(256) for _ in range(rng.randint(1, 2000)))),
    ("TOML nested 10,000 deep", lambda rng: b"x = " + b"[" * 10_000 + b"]" * 10_000 + b"\n"),
    ("a duration of 5,000 digits", lambda rng: b'[run]\ninterval = "' + b"9" * 5000 + b's"\n'),
    ("non-ASCII digits", lambda rng: '[run]\ninterval = "١٠s"\n'.encode()),
    ("a pin out of range", lambda rng: b"[hardware]\nshutter_pin = 99\n"),
    ("an unknown key", lambda rng: b'[run]\nintervall = "10s"\n'),
    ("a wrong type", lambda rng: b'[run]\nframes = "many"\n'),
    ("a torn table", lambda rng: b'[run\ninterval = "10s"\n'),
    ("a 5 MB value", lambda rng: b'[run]\ninterval = "' + b"x" * 5_000_000 + b'"\n'),
    ("two pins the same", lambda rng: b"[hardware]\nshutter_pin = 20\nfocus_pin = 20\n"),
)
"""Config files a daemon must refuse in one line; each a name and a maker."""


# -- the campaign ---------------------------------------------------------------------------------
class Campaign:
    """The rounds and their attacks against one daemon; every finding goes to :attr:`tally`."""

    def __init__(
        self, processes: Processes, root: Path, seconds: float, rng: random.Random, disk: bool
    ) -> None:
        """``disk``: the state folder is on the small tmpfs, so the full-disk attack is on."""
        self.rng = rng
        self.tally = Tally(t0_ns=time.monotonic_ns())
        self.target = Target(processes, root, self.tally)
        self.edge_log = root / "edges.log"
        self.end_ns = self.tally.t0_ns + int(seconds * NS_PER_S)
        self.round_ns = int(min(ROUND_S, seconds) * NS_PER_S)
        self.run: RunUnderAttack | None = None
        self.grid: Grid | None = None
        self.attacks: list[tuple[str, Callable[[Window], None]]] = [
            ("kill -9", self.kill9),
            ("SIGSTOP", self.sigstop),
            ("fuzzed socket messages", self.fuzz_socket),
            ("fuzzed config", self.fuzz_config),
            ("many clients", self.many_clients),
        ]
        if disk:
            self.attacks.append(("full disk", self.full_disk))
        self.clients: list[socket.socket] = []

    # -- rounds ---------------------------------------------------------------------------------
    def play(self) -> None:
        """Rounds until the time is up (at least one); each run is judged just before the next
        starts, so an edge after its stop is seen."""
        self.target.start()
        rounds = 0
        while rounds == 0 or time.monotonic_ns() < self.end_ns - 2 * NS_PER_S:
            if self.run is not None:
                self.end_leftover()
                self.judge_run()
            self.play_round(INTERVALS_NS[rounds % len(INTERVALS_NS)], rounds + 1)
            rounds += 1
        time.sleep(0.5)  # an edge just after the last stop
        self.end_leftover()
        self.judge_run()

    def end_leftover(self) -> None:
        """Stop a run still live after its stop (one that came back): its edges count against it."""
        self.ensure_up()
        state, current = run_state(ask(self.target.paths.socket, "status", HANG_BOUND_S))
        if state in ("waiting", "running"):
            print(f"    run {current} is {state} after its stop: stopping it again", flush=True)
            lapse(self.target.env, "stop")

    def play_round(self, interval_ns: int, number: int) -> None:
        started = time.monotonic_ns()
        run_id, _ = start_run(self.target.env, interval_ns, 0)
        self.run = run = RunUnderAttack(run_id, interval_ns, started)
        info = Journal(self.target.paths.state_dir).get_run(run_id)
        self.grid = Grid(info.anchor_ns, info.settings.interval_ns, info.settings.clock_ppm)
        print(f"  round {number}: run {run_id} every {format_duration(interval_ns)}", flush=True)
        self.attack_until(run, min(self.end_ns, started + self.round_ns))

    def attack_until(self, run: RunUnderAttack, round_end_ns: int) -> None:
        """Attack ``run`` at random, 0.3–1.5 s apart, until the round's end (or until an
        attack stopped it); then stop it."""
        while run.stop_sent_ns is None and time.monotonic_ns() < round_end_ns - NS_PER_S:
            time.sleep(self.rng.uniform(0.3, 1.5))
            kind, attack = self.rng.choice(self.attacks)
            window = Window(kind, time.monotonic_ns(), None)
            self.tally.windows.append(window)
            self.tally.attacks[kind] += 1
            try:
                attack(window)
            finally:
                window.end_ns = time.monotonic_ns()
            print(f"    {self.tally.rel(window.start_ns)} {kind}: {window.what}", flush=True)
            self.watch()
        if run.stop_sent_ns is None:
            self.stop_run()

    def judge_run(self) -> None:
        """Judge the last run against the edge log, then remove its folder (the tmpfs is small)."""
        run, grid = self.run, self.grid
        assert run is not None and grid is not None
        folder = self.target.paths.state_dir / "runs" / run.run_id
        journal, unreadable = read_journal_lines(folder / "frames.jsonl")
        if unreadable:
            now = time.monotonic_ns()
            self.tally.find(WRONG, now, f"run {run.run_id}: {unreadable} lines are not frames")
        edges = [e for e in read_shutter_edges(self.edge_log) if e.at_ns >= run.started_ns]
        judge(run, grid, edges, journal, self.tally)
        shutil.rmtree(folder, ignore_errors=True)

    def stop_run(self) -> subprocess.CompletedProcess[str]:
        """``lapse stop`` the round's run: the round ends (the first stop's times are kept)."""
        run = self.run
        assert run is not None
        self.ensure_up()
        sent = time.monotonic_ns()
        try:
            done = lapse(self.target.env, "stop", timeout=HANG_BOUND_S + 30)
        except subprocess.TimeoutExpired:
            self.tally.find(HANG, sent, f"`lapse stop` had no answer in {HANG_BOUND_S + 30:g} s")
            self.target.kill()
            self.target.start()
            done = lapse(self.target.env, "stop")
        if run.stop_sent_ns is None:
            run.stop_sent_ns, run.stopped_ns = sent, time.monotonic_ns()
        said = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            print(f"    lapse stop: status {done.returncode}: {said}", flush=True)
        if not one_clear_line(said):
            self.tally.find(BAD_INPUT, sent, f"`lapse stop` said {said[:300]!r}")
        return done

    def ensure_up(self) -> None:
        """A daemon answering for the rest of the round (started again if needed)."""
        if self.target.handle is None:
            self.target.start()

    def watch(self) -> None:
        """After each attack: has the daemon crashed, does it hang, is the run still live?"""
        target, run = self.target, self.run
        assert run is not None
        if target.handle is not None and target.handle.process.poll() is not None:
            gone = time.monotonic_ns()
            target.ended(asked=False)
            self.come_back(gone, "the daemon exited unasked")
            return
        if target.handle is None:
            return
        began = time.monotonic_ns()
        answer = ask(target.paths.socket, "status", HANG_BOUND_S)
        if answer is None:
            self.tally.find(
                HANG, began, f"daemon pid {target.pid} answered no status in {HANG_BOUND_S:g} s"
            )
            target.kill()
            self.come_back(began, "a hang (killed)")
            return
        state, current = run_state(answer)
        if run.stop_sent_ns is None and current == run.run_id and state in ENDED_STATES:
            now = time.monotonic_ns()
            self.tally.find(ENDED_UNASKED, now, f"run {run.run_id} is {state} without a stop")
            run.stop_sent_ns = run.stopped_ns = now

    def come_back(self, since_ns: int, why: str) -> None:
        """Start the daemon again and wait for the run; the time between is an outage."""
        run = self.run
        assert run is not None
        self.target.start()
        live = self.target.wait_live(run.run_id)
        now = time.monotonic_ns()
        if live is None:
            self.tally.find(ENDED_UNASKED, now, f"run {run.run_id} was not resumed after {why}")
            run.outages.append(Window(why, since_ns, now))
            if run.stop_sent_ns is None:
                run.stop_sent_ns = run.stopped_ns = now
            return
        run.outages.append(Window(why, since_ns, live + OUTAGE_GRACE_NS))

    # -- attacks --------------------------------------------------------------------------------
    def kill9(self, window: Window) -> None:
        """kill -9 around a shutter's due time (mostly within 5 ms of it), then start it again."""
        run, grid = self.run, self.grid
        assert run is not None and grid is not None
        self.ensure_up()
        frame = grid.first_frame_due_at_or_after(time.monotonic_ns() + 300 * NS_PER_MS)
        near = self.rng.random()
        if near < 0.4:  # just after the edge, while the frame's line is on its way to the journal
            offset = self.rng.randint(0, 300_000)
        elif near < 0.7:
            offset = self.rng.randint(-5 * NS_PER_MS, 5 * NS_PER_MS)
        else:
            offset = self.rng.randint(-run.interval_ns // 2, run.interval_ns // 2)
        sleep_until(grid.due_ns(frame) + offset)
        killed = self.target.kill()
        down = self.rng.uniform(0.0, 2.0)
        window.what = (
            f"{offset / NS_PER_MS:+.2f} ms from frame {frame}'s due time, down {down:.1f} s"
        )
        time.sleep(down)
        self.come_back(killed, "kill -9")

    def sigstop(self, window: Window) -> None:
        """SIGSTOP the daemon for 0.3–4 s, then SIGCONT."""
        run = self.run
        assert run is not None
        self.ensure_up()
        pid, held = self.target.pid, self.rng.uniform(0.3, 4.0)
        window.what = f"{held:.1f} s"
        stopped = time.monotonic_ns()
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(held)
        finally:
            os.kill(pid, signal.SIGCONT)
        run.outages.append(Window("SIGSTOP", stopped, time.monotonic_ns() + OUTAGE_GRACE_NS))

    def full_disk(self, window: Window) -> None:
        """Fill the state folder's tmpfs for 1–6 s; one time in four, stop the run meanwhile."""
        run = self.run
        assert run is not None
        self.ensure_up()
        held, stop = self.rng.uniform(1.0, 6.0), self.rng.random() < 0.25
        window.what = f"{held:.1f} s" + (", the run stopped while full" if stop else "")
        filler = fill(self.target.paths.state_dir)
        try:
            time.sleep(held)
            if stop:
                self.stop_while_full(run)
        finally:
            filler.unlink()
        # A stop refused for want of room is given again, now that there is room.
        journal = Journal(self.target.paths.state_dir)
        if stop and self.target.handle and journal.get_run(run.run_id).state == "active":
            self.stop_run()

    def stop_while_full(self, run: RunUnderAttack) -> None:
        done = self.stop_run()
        try:
            state = Journal(self.target.paths.state_dir).get_run(run.run_id).state
        except LapseError as error:
            state = f"unreadable ({error})"
        if done.returncode == 0 and state != "stopped":
            self.tally.find(
                STOP_NOT_KEPT,
                run.stop_sent_ns or 0,
                f"run {run.run_id}: `lapse stop` exited 0 ({done.stdout.strip()}), run.toml"
                f" says {state}",
            )

    def fuzz_socket(self, window: Window) -> None:
        """Bad messages, each on its own connection: each gets one short refusal or nothing."""
        self.ensure_up()
        payloads = socket_payloads(self.rng)
        chosen = self.rng.sample(payloads, self.rng.randint(2, len(payloads)))
        window.what = "; ".join(name for name, _ in chosen)
        for name, payload in chosen:
            answer = send_raw(self.target.paths.socket, payload)
            if answer is not None and not is_refusal(answer):
                now = time.monotonic_ns()
                self.tally.find(BAD_INPUT, now, f"{name}: answered {answer[:200]!r}")

    def fuzz_config(self, window: Window) -> None:
        """Restart the daemon on a garbled config (it must refuse it), then on a good one."""
        run = self.run
        assert run is not None
        self.ensure_up()
        name, make = self.rng.choice(BAD_CONFIGS)
        window.what = name
        stopped, ended = self.target.terminate()
        if not ended:
            self.tally.find(HANG, stopped, f"no end within {EXIT_BOUND_S:g} s of SIGTERM")
        self.target.paths.config.write_bytes(make(self.rng))
        try:
            handle = self.target.spawn()
            if not refused(handle, self.target.paths.socket):
                now = time.monotonic_ns()
                self.tally.find(BAD_INPUT, now, f"a config with {name}: the daemon started")
                self.target.terminate()
            else:
                said = handle.log_path.read_text(errors="replace")
                self.target.ended(asked=True)  # a traceback is a crash
                if "Traceback" not in said and (
                    handle.process.returncode == 0 or not one_clear_line(said)
                ):
                    self.tally.find(
                        BAD_INPUT,
                        time.monotonic_ns(),
                        f"a config with {name}: status {handle.process.returncode},"
                        f" said {said.strip()[:300]!r}",
                    )
        finally:
            self.target.paths.config.unlink()
        self.come_back(stopped, "SIGTERM, then a garbled config")

    def many_clients(self, window: Window) -> None:
        """100–900 idle connections and 10–300 subscribers that never read, for 2–8 s."""
        self.ensure_up()
        idle, deaf = self.rng.randint(100, 900), self.rng.randint(10, 300)
        held = self.rng.uniform(2.0, 8.0)
        subscribe = json.dumps({"v": 2, "id": 1, "cmd": "subscribe"}).encode() + b"\n"
        refused = 0
        try:
            for index in range(idle + deaf):
                conn = connect(self.target.paths.socket, 1.0)
                if conn is None:
                    refused += 1
                    if refused > 20:
                        break
                    continue
                self.clients.append(conn)
                if index >= idle:
                    with contextlib.suppress(OSError):
                        conn.sendall(subscribe)
            window.what = f"{idle} idle, {deaf} never reading, {held:.1f} s ({refused} refused)"
            until = time.monotonic_ns() + int(held * NS_PER_S)
            while time.monotonic_ns() < until:
                began = time.monotonic_ns()
                if ask(self.target.paths.socket, "status", HANG_BOUND_S) is None:
                    self.tally.find(
                        HANG,
                        began,
                        f"no status in {HANG_BOUND_S:g} s with {len(self.clients)} clients",
                    )
                    break
                time.sleep(1.0)
        finally:
            self.close_clients()

    def close_clients(self) -> None:
        for conn in self.clients:
            with contextlib.suppress(OSError):
                conn.close()
        self.clients.clear()

    def shut_down(self) -> None:
        """Close every client and end every daemon (always, on any way out)."""
        self.close_clients()
        self.target.shut_down()


def refused(handle: DaemonHandle, socket_path: Path) -> bool:
    """Wait until the daemon of ``handle`` exits (True) or answers (False), up to a bound."""
    deadline = time.monotonic() + LIVE_BOUND_S
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            return True
        hello = ask_once(socket_path, "hello", 0.5)
        if hello is not None and hello.get("ok") and hello["result"].get("pid") == handle.pid:
            return False
        time.sleep(0.05)
    return handle.process.poll() is not None


def sleep_until(at_ns: int) -> None:
    """Sleep, then spin the last 2 ms, to ``at_ns`` on the monotonic clock."""
    while (left := at_ns - time.monotonic_ns()) > 2 * NS_PER_MS:
        time.sleep((left - 2 * NS_PER_MS) / NS_PER_S)
    while time.monotonic_ns() < at_ns:
        pass


def send_raw(socket_path: Path, payload: bytes) -> bytes | None:
    """Send ``payload`` on a fresh connection; the first line back, or None (hang-up, silence)."""
    conn = connect(socket_path, 5.0)
    if conn is None:
        return None
    try:
        with conn:
            conn.settimeout(5.0)
            with contextlib.suppress(OSError):
                conn.sendall(payload)
                conn.shutdown(socket.SHUT_WR)
            buffer = b""
            while b"\n" not in buffer and len(buffer) < 1 << 20:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                buffer += chunk
            return buffer.split(b"\n", 1)[0] if buffer else None
    except OSError:
        return None


def is_refusal(line: bytes) -> bool:
    """True for one short JSON refusal: ``{"ok": false, "error": "…"}`` under 400 characters."""
    try:
        message = json.loads(line)
    except ValueError:
        return False
    return (
        isinstance(message, dict)
        and message.get("ok") is False
        and isinstance(message.get("error"), str)
        and len(line) < 400
    )


# -- the uploads campaign -------------------------------------------------------------------------
UPLOAD_INTERVALS_NS = (500 * NS_PER_MS, 750 * NS_PER_MS, NS_PER_S)
"""The uploads campaign's runs' intervals, one chosen per round."""
UPLOAD_LIMITS_KBPS = (16, 32, 64)
"""``[upload] limit_kbps`` in half the rounds (the other half: no limit): a frame of 8 kB then
takes 0.1–0.5 s, so a cut or a kill lands mid-file."""
UPLOAD_FOLDER = "sky"
"""``[upload] folder``: frames go to ``sky/<run>/<name>`` on the server."""
DRAIN_BOUND_S = 120.0
"""After a round's run is stopped and the server is well again, the queue must be empty
within this."""
BACKOFF_BOUND_S = LAST_BACKOFF_NS / NS_PER_S + 60.0
"""A queue still waiting after ``DRAIN_BOUND_S`` may be in its back-off (up to 5 min after
failures in a row, by design): it is given this long in all before it is judged stuck."""
ORPHAN_BOUND_S = 10.0
"""A process of the campaign's daemons still alive this long after its daemon is gone is
left behind (an upload worker ends as soon as its stdin does)."""
SEEN_BOUND_NS = 3 * NS_PER_S
"""How long an attack waits for the moment it aims at (a transfer under way, a rename, a
frame saved) before it strikes anyway."""
PAINT_EVERY_S = 0.02
"""How often the virtual camera's picture is made anew (so that no two frames are alike)."""
FILE_LINE = (b'"file":"', b'"file": "')
"""How a frames.jsonl line that names a saved file starts its file."""

SAVED = "frames saved"
MISSING = "frames missing on the server"
DIFFERENT = "frames with different bytes"
TWICE = "frames uploaded twice"
PART_LEFT = ".part files left"
STILL_WAITING = "outbox entries still waiting"
UPLOAD_FIGURES = (
    "attacks tried",
    SAVED,
    MISSING,
    DIFFERENT,
    TWICE,
    PART_LEFT,
    STILL_WAITING,
    CRASH,
    HANG,
)
"""The uploads campaign's figures: all but the first two should be 0."""
NOT_DRAINED = "queues not drained"
STRAY = "server files no frame names"
LEFT_BEHIND = "processes left behind"
UPLOAD_MORE = (NOT_DRAINED, STRAY, LEFT_BEHIND, ENDED_UNASKED)
"""Further figures, also 0 when the uploads keep their promises."""
RENAMED = "files renamed on the server"
CUTS = "connections cut mid-file"
SLOW_DRAIN = f"drains past {DRAIN_BOUND_S:.0f} s (back-off)"
UPLOAD_INFO = (RENAMED, CUTS, SLOW_DRAIN)
"""Shown, not judged: what the server saw, and queues that emptied only after the bound
(their back-off, 2 s doubling to 5 min, held them: by design, shown with the log's line)."""


class ServerRenames:
    """Every rename the SFTP server did onto a final name: path (``sky/<run>/<name>``) →
    when, on the monotonic clock. From any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: dict[str, list[int]] = {}
        self.available = False
        """The server's session could be wrapped to note them (else: the outbox only)."""

    def note(self, path: str) -> None:
        with self._lock:
            self._times.setdefault(path.lstrip("/"), []).append(time.monotonic_ns())

    def of(self, path: str) -> list[int]:
        with self._lock:
            return list(self._times.get(path, []))

    def total(self) -> int:
        with self._lock:
            return sum(len(times) for times in self._times.values())


@contextlib.contextmanager
def sftp_server(root: Path) -> Iterator[tuple[Any, ServerRenames]]:
    """tests/sftp_server.py's :class:`SftpServer` in a thread of this process, each rename it
    does noted by path (its own counter is a total): yields it and the renames.

    In this process, not a child: the attacks reach its faults and counters directly, and
    a rename is seen the instant the server makes it (the kill "just after a rename").
    The campaign mostly sleeps, so the GIL it shares costs the server little; throughput
    is bench/upload.py's business, not this one's. The per-path note wraps the server's
    SFTP session class (``_Session``: not its public face, but tests/sftp_server.py is
    not to be changed for a benchmark); without it, twice is told from the outbox alone.
    """
    from tests import sftp_server as module

    renames = ServerRenames()
    base = getattr(module, "_Session", None)
    if base is not None and callable(getattr(base, "posix_rename", None)):

        class NotedSession(base):  # type: ignore[misc, valid-type]
            def rename(self, oldpath: bytes, newpath: bytes) -> None:
                super().rename(oldpath, newpath)
                renames.note(self._client_path(newpath))

            def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
                super().posix_rename(oldpath, newpath)
                renames.note(self._client_path(newpath))

        module._Session = NotedSession
        renames.available = True
    server = module.SftpServer(root / "server", root / "keys")
    try:
        server.start()
        yield server, renames
    finally:
        server.close()
        if base is not None:
            module._Session = base


class Painter:
    """Writes the virtual camera's picture anew every ``PAINT_EVERY_S``, its padding random,
    so no two frames have the same bytes and a mix-up or a resume at the wrong place shows.

    The simulated rig's camera serves the one picture in its folder, painted again only when
    the sky's brightness changes (hw/camera/sky.py): on a steady day every frame would be
    the same 8 kB. The picture keeps its size (the virtual camera notes it once) and stays
    a JPEG (only the comment segment's spaces change); it is swapped in whole, by rename.
    """

    def __init__(self, folder: Path, seed: int) -> None:
        self.folder = folder
        self.rng = random.Random(seed)
        self._base = steady_day_picture()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._paint, name="chaos-painter", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def picture(self) -> bytes:
        """The painted sky with random hex in place of its comment's spaces."""
        data = self._base
        length = int.from_bytes(data[4:6], "big") - 2  # the COM segment right after SOI
        noise = self.rng.randbytes(length // 2 + 1).hex()[:length].encode("ascii")
        return data[:6] + noise + data[6 + length :]

    def _paint(self) -> None:
        while not self._stop.wait(PAINT_EVERY_S):
            if not self.folder.is_dir():
                continue
            temporary = self.folder / ".chaos-paint.tmp"  # not *.jpg: the camera lists those
            with contextlib.suppress(OSError):
                temporary.write_bytes(self.picture())
                os.replace(temporary, self.folder / PICTURE_NAME)


@dataclass
class OutboxHistory:
    """Every line the outbox has held, by parcel, read again and again: the daemon starts
    it afresh (``{"next": N}``) once nothing waits and it is big, and the lines it had are
    still wanted (a remote sent twice). Parcel numbers never repeat."""

    path: Path
    puts: dict[int, str] = field(default_factory=dict)
    """Parcel → its remote."""
    lines: dict[int, list[str]] = field(default_factory=dict)
    """Parcel → its lines (put, sent, given up), as written."""
    sent: dict[int, str] = field(default_factory=dict)
    """Parcel → its ``sent`` line."""

    def read(self) -> None:
        try:
            raw = self.path.read_bytes()
        except OSError:
            return
        for line in raw.decode("utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
                key = next(k for k in ("put", "sent", "given_up") if k in entry)
                parcel = int(entry[key])
            except (ValueError, TypeError, StopIteration):
                continue
            seen = self.lines.setdefault(parcel, [])
            if line not in seen:
                seen.append(line)
            if key == "put":
                self.puts[parcel] = str(entry.get("remote"))
            elif key == "sent":
                self.sent[parcel] = line

    def parcels_of(self, remote: str) -> list[int]:
        return [parcel for parcel, there in self.puts.items() if there == remote]

    def sent_of(self, remote: str) -> list[int]:
        return [parcel for parcel in self.parcels_of(remote) if parcel in self.sent]

    def said_of(self, remote: str) -> str:
        """The outbox's lines about ``remote``, shortened (the remote and file left out)."""
        said = []
        for parcel in self.parcels_of(remote):
            for line in self.lines.get(parcel, []):
                entry = json.loads(line)
                entry.pop("file", None)
                entry.pop("remote", None)
                if "sha256" in entry:
                    entry["sha256"] = str(entry["sha256"])[:12]
                said.append(json.dumps(entry, ensure_ascii=False))
        return "; ".join(said) if said else "no line at all"


@dataclass
class Orphan:
    """A process of the campaign's daemons whose daemon is gone."""

    pid: int
    what: str
    seen_ns: int


def our_processes(marker: bytes) -> dict[int, tuple[int, str]]:
    """Live processes whose environment holds ``marker``: pid → (parent pid, command line)."""
    found: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if marker not in Path(f"/proc/{entry}/environ").read_bytes():
                continue
            fields = proc_stat_fields(int(entry))
            if fields[2] in ("Z", "X"):
                continue
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError):
            continue
        found[int(entry)] = (int(fields[3]), command.decode(errors="replace").strip())
    return found


def wait_for(seen: Callable[[], bool], bound_ns: int = SEEN_BOUND_NS) -> int | None:
    """Poll ``seen`` every 0.2 ms (letting the server's thread run) until it holds or
    ``bound_ns`` has passed; when it was seen to hold (None: it did not)."""
    deadline = time.monotonic_ns() + bound_ns
    while time.monotonic_ns() < deadline:
        if seen():
            return time.monotonic_ns()
        time.sleep(0.0002)
    return None


def struck(how: str, seen_ns: int | None, at_ns: int) -> str:
    """How long after the moment aimed at the blow fell, for the attack's particulars."""
    if how == "anywhere":
        return ""
    if seen_ns is None:
        return f" (not seen in {SEEN_BOUND_NS // NS_PER_S} s)"
    return f" ({(at_ns - seen_ns) / 1000:.0f} µs after it)"


def upload_config(server: Any, transfers: int, limit_kbps: int) -> str:
    """The daemon's config: the virtual USB camera, and every frame to ``server``."""
    return textwrap.dedent(
        f"""\
        [camera]
        trigger = "usb"

        [upload]
        host = "{server.host}"
        port = {server.port}
        user = "{server.user}"
        key = "{server.client_key_path}"
        known_hosts = "{server.known_hosts_path}"
        folder = "{UPLOAD_FOLDER}"
        frames = "every"
        renders = false
        transfers = {transfers}
        limit_kbps = {limit_kbps}
        """
    )


def first_difference(a: bytes, b: bytes) -> int:
    """The first offset where ``a`` and ``b`` differ (the shorter's length if one is a prefix)."""
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def tracebacks(text: str) -> list[str]:
    """Each traceback in a log, as one line: the line before it, its frames, its exception."""
    lines = text.splitlines()
    found = []
    for index, line in enumerate(lines):
        if "Traceback (most recent call last):" not in line:
            continue
        end = index + 1
        while end < len(lines) and lines[end].startswith((" ", "\t")):
            end += 1
        before = lines[index - 1].strip() if index else ""
        shown = " | ".join(part.strip() for part in lines[index : end + 1])
        found.append(f"(after: {before[:200]}) {shown}"[:2500])
    return found


class UploadTarget(Target):
    """The daemon under attack, each traceback in its logs a crash of its own, reported as
    soon as it is seen (after each attack, while the queue drains, when a daemon ends, at
    the end): a traceback a child writes after its daemon is gone is counted too."""

    def __init__(self, processes: Processes, root: Path, tally: Tally) -> None:
        super().__init__(processes, root, tally)
        self.seen: dict[Path, int] = {}
        """Each daemon's log, and how many of its tracebacks are reported."""

    def spawn(self) -> DaemonHandle:
        handle = super().spawn()
        self.seen[handle.log_path] = 0
        return handle

    def said_tracebacks(self, handle: DaemonHandle, tail: str) -> bool:
        """As :meth:`Target.said_tracebacks`, each traceback reported once, with its text."""
        return bool(self.new_tracebacks())

    def new_tracebacks(self) -> int:
        """Report every traceback in the daemons' logs not reported yet; how many."""
        count = 0
        for path, reported in self.seen.items():
            try:
                found = tracebacks(path.read_text(errors="replace"))
            except OSError:
                continue
            for number, text in enumerate(found[reported:], reported + 1):
                writer = (
                    "the upload worker"
                    if "sftp_worker" in text or "asyncssh" in text
                    else "the daemon or a child"
                )
                alive = self.handle is not None and self.handle.log_path == path
                self.tally.find(
                    CRASH,
                    time.monotonic_ns(),
                    f"traceback {number} in {path.name} (by {writer}; its daemon"
                    f" {'running' if alive else 'gone'}): {text}",
                )
                count += 1
            self.seen[path] = len(found)
        return count


class UploadCampaign(Campaign):
    """Rounds of a run on the virtual USB camera whose frames go to an SFTP server, the
    daemon, its upload worker and the server attacked; each round's frames are then looked
    for on the server (see the module's docstring)."""

    def __init__(
        self,
        processes: Processes,
        root: Path,
        seconds: float,
        rng: random.Random,
        server: Any,
        renames: ServerRenames,
    ) -> None:
        self.rng = rng
        self.tally = Tally(t0_ns=time.monotonic_ns())
        self.target: UploadTarget = UploadTarget(processes, root, self.tally)
        for name in ("VCAMERADIR", "IOLIBS"):  # the daemon chooses its camera from its config
            self.target.env.pop(name, None)
        self.root = root
        self.server = server
        self.renames = renames
        self.edge_log = root / "edges.log"
        self.end_ns = self.tally.t0_ns + int(seconds * NS_PER_S)
        self.round_ns = int(min(ROUND_S, seconds) * NS_PER_S)
        self.round_end_ns = self.end_ns
        self.run: RunUnderAttack | None = None
        self.grid: Grid | None = None
        self.clients: list[socket.socket] = []
        state = self.target.paths.state_dir
        self.history = OutboxHistory(state / OUTBOX_FILE)
        self.painter = Painter(state / VIRTUAL_CAMERA_FOLDER, rng.randrange(1 << 32))
        self.marker = f"LAPSE_STATE_DIR={state}\0".encode()
        self.orphans: dict[int, Orphan] = {}
        self.attacks = [
            ("kill -9", self.kill_daemon),
            ("SIGSTOP", self.sigstop),
            ("kill -9 of the upload worker", self.kill_worker),
            ("cut mid-file", self.cut_mid_file),
            ("server refusing", self.refusing),
            ("connections dropped", self.drop_all),
        ]

    # -- rounds ---------------------------------------------------------------------------------
    def play(self) -> None:
        """Rounds until the time is up (at least one), each judged once its queue is empty."""
        self.painter.start()
        rounds = 0
        while rounds == 0 or time.monotonic_ns() < self.end_ns - 2 * NS_PER_S:
            rounds += 1
            self.play_upload_round(rounds)

    def play_upload_round(self, number: int) -> None:
        transfers = self.rng.randint(1, 4)
        limit = 0 if self.rng.random() < 0.5 else self.rng.choice(UPLOAD_LIMITS_KBPS)
        interval_ns = self.rng.choice(UPLOAD_INTERVALS_NS)
        self.configure(transfers, limit)
        started = time.monotonic_ns()
        run_id, _ = start_run(self.target.env, interval_ns, 0)
        self.run = run = RunUnderAttack(run_id, interval_ns, started)
        limited = f"{limit} kB/s" if limit else "no limit"
        print(
            f"  round {number}: run {run_id} every {format_duration(interval_ns)},"
            f" {transfers} transfer(s) at a time, {limited}",
            flush=True,
        )
        self.round_end_ns = min(self.end_ns, started + self.round_ns)
        self.attack_until(run, self.round_end_ns)
        self.end_leftover()
        self.server_well()
        self.drain(run_id)
        self.judge_uploads(run_id)

    def configure(self, transfers: int, limit_kbps: int) -> None:
        """Write the round's config and (re)start the daemon on it."""
        self.target.paths.config.write_text(upload_config(self.server, transfers, limit_kbps))
        if self.target.handle is not None:
            stopped, ended = self.target.terminate()
            if not ended:
                self.tally.find(HANG, stopped, f"no end within {EXIT_BOUND_S:g} s of SIGTERM")
        self.target.start()

    def server_well(self) -> None:
        """The server accepts again and cuts nothing."""
        self.server.refuse(False)
        self.server.drop_after_bytes(None)

    def watch(self) -> None:
        super().watch()
        self.history.read()
        self.look_for_orphans()
        self.target.new_tracebacks()

    def drain(self, run_id: str) -> None:
        """Wait until the daemon's queue is empty: ``DRAIN_BOUND_S``, or up to
        ``BACKOFF_BOUND_S`` when its back-off holds it (shown); a queue not empty by then,
        or stopped, is a finding."""
        began = time.monotonic_ns()
        print(f"    {self.tally.rel(began)} draining the queue", flush=True)
        frames = self.target.paths.state_dir / "runs" / run_id / "frames.jsonl"
        empty_at: int | None = None
        """The journal's size when the queue was last seen empty: empty twice, the journal
        unchanged between (a file saved late is queued too), is drained."""
        while True:
            now = time.monotonic_ns()
            waited = (now - began) / NS_PER_S
            handle = self.target.handle
            if handle is not None and handle.process.poll() is not None:
                self.target.ended(asked=False)
            self.target.new_tracebacks()
            self.ensure_up()
            answer = ask(self.target.paths.socket, "status", HANG_BOUND_S)
            if answer is None:
                self.tally.find(
                    HANG, now, f"no status in {HANG_BOUND_S:g} s while the queue drained"
                )
                self.target.kill()
                continue
            upload = (answer.get("result") or {}).get("upload") or {}
            if upload.get("waiting") == 0:
                size = frames.stat().st_size if frames.exists() else 0
                if empty_at != size:
                    empty_at = size
                    time.sleep(0.5)
                    continue
                if waited > DRAIN_BOUND_S:
                    self.tally.find(
                        SLOW_DRAIN,
                        began,
                        f"run {run_id}: empty {waited:.0f} s after the server was well again;"
                        f" last back-off: {self.log_lines('trying again in', 1) or 'none'}",
                    )
                print(f"    queue empty after {waited:.1f} s ({upload.get('sent')} sent)")
                return
            empty_at = None
            stuck = upload.get("stopped") or waited > BACKOFF_BOUND_S
            if stuck:
                self.tally.find(
                    NOT_DRAINED,
                    began,
                    f"run {run_id}: {upload.get('waiting')} waiting {waited:.0f} s after the"
                    f" server was well again (stopped: {upload.get('stopped')}, last error:"
                    f" {upload.get('last_error')}); log: {self.log_lines('upload', 2)}",
                )
                return
            time.sleep(0.5)

    # -- the verdict ----------------------------------------------------------------------------
    def judge_uploads(self, run_id: str) -> None:
        """Every file the run's journal names on the server, once, with its bytes; no part
        left; nothing waiting in the outbox."""
        self.history.read()
        journal = Journal(self.target.paths.state_dir)
        info = journal.get_run(run_id)
        photos = info.photos_path
        lines, _ = read_journal_lines(info.path / "frames.jsonl")
        folder = self.server.home / UPLOAD_FOLDER / run_id
        names: set[str] = set()
        for record in journal.read_frames(run_id):
            if not record.file:
                continue
            self.tally.noted[SAVED] += 1
            name = posixpath.basename(record.file)
            names.add(name)
            remote = f"{UPLOAD_FOLDER}/{run_id}/{name}"
            line = lines.get(record.frame, "no line")
            self.judge_frame(record.frame, record.due_ns, photos / record.file, remote, line)
        try:
            there = sorted(folder.iterdir())
        except FileNotFoundError:
            there = []
        for path in there:
            remote = f"{UPLOAD_FOLDER}/{run_id}/{path.name}"
            size = path.stat().st_size
            if path.name.startswith(".") and path.name.endswith(".part"):
                self.tally.find(
                    PART_LEFT,
                    time.monotonic_ns(),
                    f"{remote} ({size} bytes) is still there with the queue empty",
                )
            elif path.name not in names:
                self.tally.find(
                    STRAY,
                    time.monotonic_ns(),
                    f"{remote} ({size} bytes): no frame of the journal names it;"
                    f" outbox: {self.history.said_of(remote)}",
                )
        try:
            replayed = read_outbox(self.target.paths.state_dir)
        except OSError as error:
            self.tally.find(STILL_WAITING, time.monotonic_ns(), f"the outbox: {error}")
            replayed = None
        for parcel in replayed.waiting if replayed is not None else []:
            self.tally.find(
                STILL_WAITING,
                time.monotonic_ns(),
                f"parcel {parcel.id} ({parcel.remote}) waits in {OUTBOX_FILE} after the drain;"
                f" outbox: {self.history.said_of(parcel.remote)}",
            )

    def judge_frame(self, frame: int, due_ns: int, local: Path, remote: str, line: str) -> None:
        """One frame the journal says was saved (``line``: its last line there)."""
        where = f"frame {frame} (due {self.tally.rel(due_ns)}) {remote}"
        attack = self.attack_near(due_ns)
        around = self.attacks_around(due_ns)
        server_copy = self.server.home / remote
        try:
            mine = local.read_bytes()
        except OSError as error:
            mine = None
            where += f" [the file on the Pi: {error.strerror or error}]"
        if not server_copy.exists():
            self.find(
                MISSING,
                due_ns,
                f"{where}: not on the server; outbox: {self.history.said_of(remote)};"
                f" log: {self.log_lines(remote, 3) or 'nothing'};"
                f" attacks around it: {around}; journal: {line}",
                attack,
            )
        elif mine is not None:
            theirs = server_copy.read_bytes()
            if theirs != mine:
                self.find(
                    DIFFERENT,
                    due_ns,
                    f"{where}: {len(theirs)} bytes on the server, {len(mine)} on the Pi, first"
                    f" difference at byte {first_difference(mine, theirs)}; outbox:"
                    f" {self.history.said_of(remote)}; attacks around it: {around}",
                    attack,
                )
        renamed = self.renames.of(remote)
        sent = self.history.sent_of(remote)
        if len(renamed) > 1 or len(sent) > 1:
            times = ", ".join(self.tally.rel(at) for at in renamed) or "not seen"
            self.find(
                TWICE,
                due_ns,
                f"{where}: renamed onto its name {len(renamed)} times (at {times}), {len(sent)}"
                f" 'sent' lines; outbox: {self.history.said_of(remote)}; attacks around it:"
                f" {around}",
                attack,
            )

    def find(self, figure: str, at_ns: int, text: str, attack: Window | None) -> None:
        self.tally.findings.append(Finding(figure, at_ns, text, attack))

    def attack_near(self, due_ns: int) -> Window | None:
        """The attack a frame's loss is put down to: the latest begun by a second after its
        shutter (the file is saved, queued and sent in that time, unless the queue is
        held) and not ended more than ``ATTRIBUTION_NS`` before it."""
        found = None
        for window in self.tally.windows:
            end = window.end_ns if window.end_ns is not None else due_ns
            if window.start_ns <= due_ns + NS_PER_S and end + ATTRIBUTION_NS >= due_ns:
                found = window
        return found

    def attacks_around(self, due_ns: int) -> str:
        """Every attack from 2 s before a frame's shutter to 5 s after, for the example."""
        shown = [
            f"{w.kind} at {self.tally.rel(w.start_ns)} ({w.what})"
            for w in self.tally.windows
            if w.start_ns <= due_ns + 5 * NS_PER_S and (w.end_ns or due_ns) >= due_ns - 2 * NS_PER_S
        ]
        return "; ".join(shown) or "none"

    def log_lines(self, text: str, last: int) -> str:
        """The last ``last`` lines of the daemons' logs (every life's) that hold ``text``."""
        found = []
        for number in range(1, self.target.lives + 1):
            path = self.root / f"daemon-{number}.log"
            with contextlib.suppress(OSError):
                for line in path.read_text(errors="replace").splitlines():
                    if text in line:
                        found.append(f"daemon-{number}.log: {line.strip()[:300]}")
        return " | ".join(found[-last:])

    # -- processes ------------------------------------------------------------------------------
    def workers(self) -> list[int]:
        """The daemon's upload workers (its children running ``core.sftp_worker``)."""
        if self.target.handle is None:
            return []
        daemon = self.target.pid
        return [
            pid
            for pid, (parent, command) in our_processes(self.marker).items()
            if parent == daemon and "core.sftp_worker" in command
        ]

    def look_for_orphans(self, final: bool = False) -> None:
        """Processes of the campaign's daemons whose daemon is gone: one still there
        ``ORPHAN_BOUND_S`` after it was first seen (at once, at the end) is left behind,
        reported and killed."""
        daemon = self.target.pid if self.target.handle is not None else None
        now = time.monotonic_ns()
        alive = our_processes(self.marker)
        for pid in [pid for pid in self.orphans if pid not in alive]:
            del self.orphans[pid]
        ours = {os.getpid(), *self.target.stray_pids}
        for pid, (parent, command) in alive.items():
            if pid == daemon or parent == daemon:
                continue
            if pid in ours or parent in ours:
                continue  # a `lapse` command of ours; a daemon one started (Target ends it)
            orphan = self.orphans.setdefault(pid, Orphan(pid, command, now))
            if final or now - orphan.seen_ns >= ORPHAN_BOUND_S * NS_PER_S:
                self.tally.find(
                    LEFT_BEHIND,
                    orphan.seen_ns,
                    f"pid {pid} (parent {parent}) `{command[:160]}` still running"
                    f" {(now - orphan.seen_ns) / NS_PER_S:.1f} s after it was first seen"
                    f" without its daemon{' (at the end)' if final else ''}",
                )
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                del self.orphans[pid]

    def shut_down(self) -> None:
        """End the daemon, the painter and anything the daemons left behind."""
        with contextlib.suppress(Exception):
            self.server.refuse(False)
        self.painter.stop()
        super().shut_down()
        deadline = time.monotonic() + 5.0
        while our_processes(self.marker) and time.monotonic() < deadline:
            time.sleep(0.1)  # workers end as their daemon does
        self.look_for_orphans(final=True)
        self.target.new_tracebacks()

    # -- attacks --------------------------------------------------------------------------------
    def left_in_round(self) -> float:
        return max(1.0, (self.round_end_ns - time.monotonic_ns()) / NS_PER_S)

    def aim(self, how: str) -> int | None:
        """Wait for the moment ``how`` names; when it was seen (None: not in ``SEEN_BOUND_NS``)."""
        run = self.run
        assert run is not None
        if how == "mid-transfer":
            written = self.server.bytes_written
            return wait_for(lambda: self.server.bytes_written != written)
        if how == "just after a rename":
            renamed = self.server.renames
            return wait_for(lambda: self.server.renames != renamed)
        if how == "just after a frame was saved":
            frames = self.target.paths.state_dir / "runs" / run.run_id / "frames.jsonl"
            with contextlib.suppress(OSError):
                size = frames.stat().st_size

                def saved() -> bool:
                    nonlocal size
                    now = frames.stat().st_size
                    if now == size:
                        return False
                    with frames.open("rb") as file:
                        file.seek(size)
                        added = file.read(now - size)
                    size = now
                    return any(mark in added for mark in FILE_LINE)

                return wait_for(saved)
            return None
        time.sleep(self.rng.uniform(0.0, run.interval_ns / NS_PER_S))
        return time.monotonic_ns()

    def kill_daemon(self, window: Window) -> None:
        """kill -9 the daemon (anywhere, mid-transfer, just after the server renamed a file,
        or just after the journal named a saved file), then start it again after up to 2 s."""
        self.ensure_up()
        how = self.rng.choice(
            ("anywhere", "mid-transfer", "just after a rename", "just after a frame was saved")
        )
        seen = self.aim(how)
        killed = self.target.kill()
        down = self.rng.uniform(0.0, 2.0)
        window.what = (
            f"{how}{struck(how, seen, killed)}, killed at {self.tally.rel(killed)},"
            f" down {down:.1f} s"
        )
        time.sleep(down)
        self.come_back(killed, "kill -9")

    def kill_worker(self, window: Window) -> None:
        """SIGKILL the daemon's upload worker (anywhere, mid-transfer or just after a rename)."""
        self.ensure_up()
        how = self.rng.choice(("anywhere", "mid-transfer", "just after a rename"))
        deadline = time.monotonic_ns() + SEEN_BOUND_NS
        while not (found := self.workers()) and time.monotonic_ns() < deadline:
            time.sleep(0.05)
        if not found:
            window.what = f"{how}: no upload worker running in 3 s"
            return
        seen = self.aim(how)
        killed = time.monotonic_ns()
        gone = []
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                gone.append(pid)
        pids = ", ".join(str(pid) for pid in found)
        window.what = (
            f"pid {pids}, {how}{struck(how, seen, killed)}, killed at {self.tally.rel(killed)}"
            + (f" (already gone: {gone})" if gone else "")
        )

    def cut_mid_file(self, window: Window) -> None:
        """The server cuts the connection once a file passes a random byte: once, or every
        file for 1–5 s."""
        self.ensure_up()
        at = self.rng.randrange(PICTURE_BYTES)
        drops = self.server.drops
        if self.rng.random() < 0.25:
            held = min(self.rng.uniform(1.0, 5.0), self.left_in_round())
            self.server.drop_after_bytes(at, repeat=True)
            try:
                time.sleep(held)
            finally:
                self.server.drop_after_bytes(None)
            cut = self.server.drops - drops
            window.what = f"every file after {at} bytes for {held:.1f} s ({cut} cut)"
            return
        self.server.drop_after_bytes(at)
        cut = wait_for(lambda: self.server.drops != drops, 5 * NS_PER_S)
        if not cut:
            self.server.drop_after_bytes(None)
        window.what = f"after {at} bytes" + ("" if cut else " (no file went in 5 s)")

    def refusing(self, window: Window) -> None:
        """The server turns connections away (not listening, or hanging up) for 1–20 s."""
        held = min(self.rng.uniform(1.0, 20.0), self.left_in_round())
        hangup = self.rng.random() < 0.5
        window.what = f"{held:.1f} s, {'hanging up' if hangup else 'not listening'}"
        self.server.refuse(True, hangup=hangup)
        try:
            time.sleep(held)
        finally:
            self.server.refuse(False)

    def drop_all(self, window: Window) -> None:
        """The server cuts every live connection."""
        window.what = f"{self.server.drop_connections()} cut"


def measure_uploads(processes: Processes, report: Report, args: Any) -> None:
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    with temp_dir("lapse-chaos-up-", args.keep) as root:
        print(f"folder: {root}")
        with sftp_server(root) as (server, renames):
            print(f"  an SFTP server on {server.host} port {server.port} (asyncssh, in a thread)")
            if not renames.available:
                print("  its renames are not noted by path: twice is told from the outbox")
            campaign = UploadCampaign(
                processes, root, seconds, random.Random(seed), server, renames
            )
            try:
                campaign.play()
            except (RuntimeError, OSError, LapseError, subprocess.SubprocessError) as error:
                report.fail(f"the campaign could not go on: {error}")
            finally:
                campaign.shut_down()
            campaign.tally.noted[RENAMED] = renames.total() if renames.available else server.renames
            campaign.tally.noted[CUTS] = server.drops
        elapsed = (time.monotonic_ns() - campaign.tally.t0_ns) / NS_PER_S
        print_figures(
            campaign.tally, elapsed, seed, report, UPLOAD_FIGURES, UPLOAD_MORE, UPLOAD_INFO
        )
        kept = "kept" if args.keep else "removed"
        print(f"cleaned up: no daemon or worker left, the SFTP server closed, {root} {kept}")


# -- the report -----------------------------------------------------------------------------------
def print_figures(
    tally: Tally,
    seconds: float,
    seed: int,
    report: Report,
    figures: tuple[str, ...] = FIGURES,
    more: tuple[str, ...] = MORE_FIGURES,
    info: tuple[str, ...] = (),
) -> None:
    """The figures, the attacks, and examples of every non-zero figure by attack.

    The first two of ``figures`` and every one of ``info`` are shown, not judged: the
    rest are targets of 0."""
    print(f"\nFigures ({seconds:.0f} s, seed {seed}):")
    for figure in figures + more + info:
        print(f"  {figure:<36} {tally.count(figure):>7}")
    tried = ", ".join(f"{kind} {n}" for kind, n in sorted(tally.attacks.items()))
    print(f"\nAttacks tried: {tried or 'none'}")
    for figure in figures[2:] + more + info:
        found = [f for f in tally.findings if f.figure == figure]
        if found:
            print(f"\n{figure}: {len(found)}")
        by_attack: dict[str, list[Finding]] = {}
        for finding in found:
            kind = finding.attack.kind if finding.attack is not None else STEADY
            by_attack.setdefault(kind, []).append(finding)
        for kind, items in sorted(by_attack.items(), key=lambda pair: -len(pair[1])):
            print(f"  during or just after {kind}: {len(items)}")
            for finding in items[:EXAMPLES]:
                attack = finding.attack
                during = "" if attack is None else f" [{tally.rel(attack.start_ns)}: {attack.what}]"
                print(f"    {finding.text}{during}")
        if figure not in info:
            count = tally.count(figure)
            report.check(f"0 {figure}", count == 0, str(count))
    report.data["seed"] = seed
    report.data["figures"] = {figure: tally.count(figure) for figure in figures + more + info}
    report.data["attacks"] = dict(tally.attacks)
    report.data["findings"] = [
        {
            "figure": f.figure,
            "at_s": (f.at_ns - tally.t0_ns) / NS_PER_S,
            "attack": None if f.attack is None else f"{f.attack.kind}: {f.attack.what}",
            "text": f.text,
        }
        for f in tally.findings
    ]


def raise_file_limit() -> None:
    """As many descriptors as allowed, up to 8192: the many-clients attack holds over a thousand."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def measure(processes: Processes, report: Report, args: Any) -> None:
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    raise_file_limit()
    with temp_dir("lapse-chaos-", args.keep) as root:
        print(f"folder: {root}")
        with small_tmpfs(root / "state") as why_not:
            if why_not is None:
                print(f"  the state folder is a {TMPFS_SIZE} tmpfs")
            else:
                print(f"  {why_not}")
            campaign = Campaign(processes, root, seconds, random.Random(seed), why_not is None)
            try:
                campaign.play()
            except (RuntimeError, OSError, LapseError, subprocess.SubprocessError) as error:
                report.fail(f"the campaign could not go on: {error}")
            finally:
                campaign.shut_down()
        elapsed = (time.monotonic_ns() - campaign.tally.t0_ns) / NS_PER_S
        print_figures(campaign.tally, elapsed, seed, report)
        print(f"cleaned up: no daemon left, {root / 'state'} unmounted, {root} removed")


def parse_args(argv: Sequence[str] | None) -> Any:
    parser = bench_parser("bench/chaos.py", __doc__)
    parser.add_argument("--minutes", type=float, default=20.0, help="how long (default 20)")
    parser.add_argument("--seconds", type=float, help="how long in seconds, instead of --minutes")
    parser.add_argument("--seed", type=int, help="the attacks' random seed (default: a new one)")
    parser.add_argument(
        "--uploads",
        action="store_true",
        help="the uploads campaign: frames to an SFTP server, attacked (default: the rig's)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.uploads:
        return run_benchmark(UPLOAD_TITLE, args, measure_uploads)
    return run_benchmark(TITLE, args, measure)


if __name__ == "__main__":
    sys.exit(main())
