"""Uploads: lapse's throughput to an SFTP server against OpenSSH's ``sftp``, and the
engine's timing while frames upload.

The server is tests/sftp_server.py's :class:`SftpServer` (asyncssh, on 127.0.0.1, key
authentication, host key checked) in a child process of its own (``python -c``: it prints
its port and key paths and ends when its stdin closes). Not in a thread of this process:
there it would share this process's GIL with the in-process upload queue and its poller,
but not with ``sftp``, which would tilt the comparison against lapse; a server is another
machine's business anyway. Both uploaders reach the same server process, at nice 0; it
notes, as each connection ends, the client's version, the cipher and MAC negotiated, and
the SFTP write requests it sent (how many, their mean size): printed after each part.

(1) Throughput. ``--files`` files (200) of ``--size`` bytes (2 MB = 2,000,000 bytes from
    ``os.urandom``: frames do not compress) in a temporary folder, sent ``--rounds`` times
    (3) by each side, the sides' order rotating by one per round, each time into a fresh
    remote folder (and for lapse a fresh state folder):

    - **lapse ×2** (as it ships: ``[upload] transfers`` at its default, 2): an
      :class:`~core.daemon.uploads.Uploads` queue in this process, built as the daemon
      builds it (:class:`~core.daemon.outbox.Outbox` in the state folder,
      :class:`~core.clock.SystemClock`), its worker the real ``python -m
      core.sftp_worker`` (which lowers itself to nice 10, as in the daemon). Every file
      is handed over at once, one ``hear()`` (a ``frame_saved``) each. From:
      ``time.monotonic()`` just before the first ``hear()``. To: ``time.monotonic()``
      when this process's poll of ``status()``, every 5 ms (POLL_S), first sees ``sent``
      equal the file count. The queue is started just before the first ``hear()``, so
      the span holds the worker's start and its SSH login (both begin with the queue),
      each file's outbox lines (the ``put`` fsynced), its hidden ``.part`` name and the
      rename.
    - **lapse ×1** and **lapse ×4** (for information; ``--transfers``): the same with
      ``transfers = 1`` and ``4``.
    - **worker alone** (for information; ``--no-worker-alone`` leaves it out): the worker
      with no queue: spawned here, handed the jobs the queue would hand it, one at a time,
      the next as soon as it says the last was sent. From: just before it is spawned. To:
      its last ``sent`` line read. Against lapse ×1 it shows what the queue adds.
    - **sftp**: Debian's ``sftp -b BATCH`` (openssh-client): ``mkdir`` the folders, then
      one ``put LOCAL REMOTE`` per file into the same layout (``FOLDER/RUN/NAME``); its own
      defaults otherwise, no ssh config or agent. From: ``time.monotonic()`` just before
      ``sftp`` is spawned. To: ``time.monotonic()`` when its exit has been reaped.

    After each side's round every file must be on the server under its name with the same
    bytes, and nothing else in its folder (no ``.part`` left): any difference is a failure.
    MB/s = bytes / span (MB = 10⁶ bytes), per round; each side's figure is the median over
    its rounds. Also per side, summed over its rounds and as a share of their wall time:
    CPU of the uploader's processes (the worker, reaped when the queue closes; ``sftp``
    and the ``ssh`` it runs), of this process (lapse: the queue's thread and the poller)
    and of the server process, from ``getrusage`` and ``/proc/PID/stat``. For lapse and
    the worker: when the first file was seen sent and the MB/s of files 2…N (the first
    sent to the last), telling the fixed cost from the steady one; for ``sftp``: the
    median of ``--rounds`` runs of a batch of one ``pwd`` (connect, log in, leave).
    Target: lapse ×2's (as it ships) median MB/s ≥ 0.8 × sftp's median MB/s.

(2) Timing while uploading. A ``lapse daemon`` on the simulated rig, its config ``[camera]
    trigger = "usb"``: the daemon's virtual USB camera, the engine handing each shutter
    edge to the camera thread, which triggers over USB and downloads the file (a painted
    sky, about 8 kB). It carries a run of ``--frames`` (400) at ``--interval`` (50 ms,
    bench/timing.py's, at which its targets are stated), driven by bench/timing.py's
    ``daemon_run`` (two subscribed clients, ``lapse run``), ``--pairs`` (2) times each way,
    side by side in the order without, with, with, without:

    - **no upload**: that config alone;
    - **uploading**: the same plus ``[upload]`` to the server process, so the daemon's own
      queue sends each frame the camera saves; and beside it a second load, since those
      frames are small: an ``Uploads`` queue in this process (its own worker process,
      ``transfers = 1``) kept busy with 2 MB files like part (1)'s, 16 more handed over
      whenever fewer than 8 wait. It is sending (its first file is sent) before ``lapse
      run`` starts, and stops once the run has ended. Shown: its files sent and MB/s over
      the run, the daemon's files sent and their size, and the machine's busy share over
      the run (``/proc/stat``, all CPUs; shown for the runs without upload too). The server
      process runs on this machine too, as it would not on a rig: its CPU is part of the
      load. After the run the daemon's queue must empty, and every file its journal names
      (a frame's second file too; not one left on the camera's card) must be on the
      server with the same bytes, and nothing else: a difference is an error.

    The engine's lateness is bench/timing.py's (``edge_figures``): from the journal's
    ``due_ns`` to ``at_ns`` of the shutter-on ``edge`` event (the engine's ``EdgeDone``,
    stamped after the hand-over of the edge to the camera thread returned), both
    CLOCK_MONOTONIC in the daemon, over the frames whose edge the engine handed over; a
    frame with no such edge event is missed by the engine. Apart from that, the camera
    thread may drop a trigger it takes too late (over half the interval, at least 50 ms,
    old: the frame is ``missed``, "the camera was still busy with an earlier call"), and a
    frame fired may get no file; both are counted and shown, with how often the virtual
    camera's worker was started again (its card holds 26 pictures a process; the daemon
    starts a new one, and triggers wait meanwhile).

    Targets, for every uploading run, bench/timing.py's for its ``idle`` condition (no CPU
    hogs run here): never early; the engine misses no frame; p99 ≤ IDLE_P99_LIMIT_US;
    |drift| < IDLE_DRIFT_LIMIT_US (its target against cyclictest is not measured here:
    bench/timing.py measures it). The runs without upload are shown beside each. And the
    camera drops no more triggers over the uploading runs than over those without.

``--parts`` chooses (1) ``throughput`` and (2) ``timing``. Benchmarks are run by hand, not
in CI. Run from the repo root: ``.venv/bin/python bench/upload.py [--json FILE]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import select
import shutil
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
    DaemonHandle,
    Processes,
    Report,
    apt_install,
    bench_parser,
    clock_ticks,
    cpu_ticks,
    fmt,
    median,
    print_table,
    run_benchmark,
    temp_dir,
)
from bench.timing import (
    IDLE_DRIFT_LIMIT_US,
    IDLE_P99_LIMIT_US,
    LOADED_P99_LIMIT_US,
    Figures,
    daemon_run,
    edge_figures,
    print_figures,
)
from core.client import Client
from core.clock import SystemClock
from core.daemon.outbox import Outbox
from core.daemon.uploads import Uploads, UploadSetup
from core.model.durations import format_duration
from core.model.hooks import Happening, HookEvent
from core.model.protocol import UploadStatus
from core.model.upload import Parcel, UploadConfig, worker_login

TITLE = "lapse upload benchmark"
RATIO_TARGET = 0.8
"""lapse ×1's median MB/s over sftp's, at least."""
WORKER = [PYTHON, "-m", "core.sftp_worker"]
"""The upload worker, as the daemon starts it."""
POLL_S = 0.005
"""How often the queue's ``status()`` is read while a round goes."""
WORKER_WAIT_S = 120.0
"""The longest the worker alone may take over one file."""
RUN = "bench"
"""The run name the files of part (1) are heard under: their remote folder is FOLDER/RUN."""
LOAD_LOW, LOAD_BATCH = 8, 16
"""Part (2)'s second load: when fewer than LOW of its files wait, BATCH more are heard."""
DRAIN_S = 120.0
"""After an uploading run, the longest wait for the daemon's queue to empty."""
CAMERA_CONFIG = '[camera]\ntrigger = "usb"\n'
CARD_FULL = "the virtual camera's card is full"
"""The daemon's log line when it starts the virtual camera's worker again."""

LAPSE = f"lapse ×{UploadConfig().transfers}"
"""lapse as it ships: ``[upload] transfers`` left at its default."""
WORKER_ALONE, SFTP = "worker alone", "sftp"
NO_UPLOAD, UPLOADING = "no upload", "uploading"
METHOD = "lapse usb"
SPANS = {
    METHOD: "due_ns (journal) → shutter-on edge event at_ns (after the hand-over to the"
    " camera thread returned)"
}

SERVER_CODE = """\
import json, sys
from pathlib import Path
import tests.sftp_server as sftp_server

log = open(sys.argv[3], "a", buffering=1)
writes = {}  # id(connection) -> [SFTP write requests, bytes]

class Noted(sftp_server._Connection):
    # Notes, as each connection ends, what it negotiated and the writes it sent.
    def connection_lost(self, exc):
        super().connection_lost(exc)
        conn = self._conn
        if conn is not None:
            count, size = writes.pop(id(conn), (0, 0))
            log.write(json.dumps({
                "client": conn.get_extra_info("client_version"),
                "cipher": conn.get_extra_info("recv_cipher"),
                "mac": conn.get_extra_info("recv_mac"),
                "writes": count,
                "bytes": size,
            }) + "\\n")

original_write = sftp_server._Session.write

async def write(self, file_obj, offset, data):
    counted = writes.setdefault(id(self.connection), [0, 0])
    counted[0] += 1
    counted[1] += len(data)
    return await original_write(self, file_obj, offset, data)

sftp_server._Connection = Noted
sftp_server._Session.write = write
server = sftp_server.SftpServer(Path(sys.argv[1]), Path(sys.argv[2])).start()
print(json.dumps({
    "host": server.host, "port": server.port, "user": server.user,
    "key": str(server.client_key_path), "known_hosts": str(server.known_hosts_path),
}), flush=True)
sys.stdin.read()
server.close()
"""
"""The SFTP server's process: argv home, keys folder, log file; ends when stdin closes.
It notes each connection's cipher and the SFTP write requests it sent (their count and
bytes), as the connection ends."""


# -- the server ----------------------------------------------------------------------------------
@dataclass
class Server:
    """The SFTP server in its child process, and how to reach it."""

    process: subprocess.Popen[Any]
    home: Path
    host: str
    port: int
    user: str
    key: str
    known_hosts: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_s(self) -> float:
        """The server process's user + system CPU so far, in seconds."""
        return cpu_ticks(self.pid) / clock_ticks()

    def config(self, folder: str, transfers: int = 1) -> UploadConfig:
        """An ``[upload]`` table that reaches this server, into ``folder``."""
        return UploadConfig(
            host=self.host,
            port=self.port,
            user=self.user,
            key=self.key,
            known_hosts=self.known_hosts,
            folder=folder,
            transfers=transfers,
        )

    def toml(self, folder: str) -> str:
        """The same as the daemon's ``[upload]`` table."""
        return (
            "[upload]\n"
            f'host = "{self.host}"\nport = {self.port}\nuser = "{self.user}"\n'
            f'key = "{self.key}"\nknown_hosts = "{self.known_hosts}"\nfolder = "{folder}"\n'
        )

    def connections(self) -> dict[str, dict[str, int]]:
        """Per ``client version: cipher MAC``, as the server noted each connection's end:
        connections, SFTP write requests, bytes written."""
        found: dict[str, dict[str, int]] = {}
        try:
            lines = self.log.read_text().splitlines()
        except OSError:
            return found
        for line in lines:
            entry = json.loads(line)
            key = f"{entry['client']}: {entry['cipher']} {entry['mac']}"
            seen = found.setdefault(key, {"connections": 0, "writes": 0, "bytes": 0})
            seen["connections"] += 1
            seen["writes"] += entry["writes"]
            seen["bytes"] += entry["bytes"]
        return found


def print_connections(found: dict[str, dict[str, int]]) -> None:
    """What the server saw, per client and cipher."""
    for what, seen in found.items():
        writes = seen["writes"]
        mean = f", {seen['bytes'] / writes / 1024:.0f} KiB each" if writes else ""
        print(
            f"  server saw {what}: {seen['connections']} connections,"
            f" {writes} SFTP write requests{mean}"
        )


def start_server(processes: Processes, root: Path) -> Server:
    """Start the SFTP server process with its files under ``root``; wait for its address."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    root.mkdir(parents=True, exist_ok=True)
    log = root / "server-connections.jsonl"
    process = processes.spawn(
        [PYTHON, "-c", SERVER_CODE, str(root / "home"), str(root / "keys"), str(log)],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the SFTP server process ended (status {process.wait(5)})")
    found = json.loads(line)
    return Server(process=process, home=root / "home", log=log, **found)


def stop_server(processes: Processes, server: Server) -> None:
    """Close its stdin (it closes and ends), then make sure it has."""
    if server.process.stdin is not None:
        server.process.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.process.wait(10)
    processes.stop(server.process)


# -- pure helpers --------------------------------------------------------------------------------
def mb_per_s(size: int, seconds: float) -> float:
    """Throughput in MB/s (10⁶ bytes); NaN for no time."""
    return size / seconds / 1e6 if seconds > 0 else float("nan")


def sftp_batch(files: Sequence[Path], folder: str, run: str = RUN) -> str:
    """``sftp -b``'s batch: make ``folder/run``, then one ``put`` per file into it.

    ``mkdir`` is prefixed with ``-`` so that a folder already there is no error."""
    lines = [f"-mkdir {folder}", f"-mkdir {folder}/{run}"]
    lines += [f"put {file} {folder}/{run}/{file.name}" for file in files]
    return "\n".join(lines) + "\n"


def sftp_argv(sftp: str, batch: Path, server: Server, verbose: bool = False) -> list[str]:
    """``sftp`` in batch mode against ``server`` and nothing of this machine's ssh setup."""
    argv = [sftp, "-b", str(batch), "-F", "/dev/null", "-i", server.key]
    argv += ["-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={server.known_hosts}"]
    argv += ["-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes"]
    argv += ["-o", "BatchMode=yes", "-P", str(server.port)]
    if verbose:
        argv.append("-v")
    return [*argv, f"{server.user}@{server.host}"]


def compare_folder(local: Sequence[Path], remote: Path) -> list[str]:
    """What differs between the ``local`` files and the folder ``remote`` on the server:
    a file missing or not the same bytes, or anything else there (a ``.part`` left)."""
    problems: list[str] = []
    try:
        there = {entry.name for entry in remote.iterdir()}
    except OSError as error:
        return [f"{remote}: {error.strerror or error}"]
    for file in local:
        target = remote / file.name
        if file.name not in there:
            problems.append(f"{file.name} missing")
        elif target.read_bytes() != file.read_bytes():
            problems.append(f"{file.name} differs ({target.stat().st_size} bytes)")
    extra = sorted(there - {file.name for file in local})
    problems += [f"{name} should not be there" for name in extra]
    return problems


def saved_files(journal: Path) -> list[str]:
    """Every file a run's journal names, in order, each once: a frame's second file too
    (the last line of a frame names only its last file; each is uploaded), but not one
    left on the camera's card (``card:…``)."""
    found: dict[str, None] = {}
    for line in journal.read_text().splitlines():
        if line.strip():
            name = json.loads(line).get("file")
            if name and not name.startswith("card:"):
                found[name] = None
    return list(found)


def busy_share(before: Sequence[int], after: Sequence[int]) -> float:
    """The machine's busy share (% of all CPUs) between two readings of /proc/stat's
    ``cpu`` line (user nice system idle iowait irq softirq steal …)."""
    deltas = [b - a for a, b in zip(before, after, strict=False)]
    total = sum(deltas[:8])
    idle = deltas[3] + deltas[4]
    return (total - idle) / total * 100 if total > 0 else float("nan")


def cpu_line() -> list[int]:
    """/proc/stat's ``cpu`` line, as numbers."""
    with open("/proc/stat", encoding="ascii") as file:
        return [int(value) for value in file.readline().split()[1:]]


def children_cpu_s() -> float:
    """User + system CPU of this process's reaped children (and theirs), seconds."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu_s() -> float:
    """User + system CPU of this process, every thread, seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- part (1): throughput ------------------------------------------------------------------------
@dataclass
class Round:
    """One side's upload of every file, once."""

    side: str
    round: int
    seconds: float
    bytes: int
    mb_per_s: float
    uploader_cpu_s: float
    """The uploader's own processes: the worker (reaped when the queue closes), or
    ``sftp`` and the ``ssh`` it runs."""
    own_cpu_s: float
    """This process (lapse: the queue's thread and the poller)."""
    server_cpu_s: float
    problems: list[str] = field(default_factory=list)
    first_sent_s: float | None = None
    """lapse: when the first file was seen sent, from the first ``hear()``."""
    steady_mb_per_s: float | None = None
    """lapse: files 2…N over the time from the first sent to the last."""


@dataclass
class Timed:
    """What one side's upload took: its span, when files were seen sent, its CPU."""

    seconds: float = 0.0
    seen: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since the start, files sent) at each change seen."""
    uploader_cpu_s: float = 0.0
    own_cpu_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    def first_and_steady(self, per_file: int) -> tuple[float | None, float | None]:
        """When the first file was seen sent, and the MB/s of the files after it."""
        sent = [(at, count) for at, count in self.seen if count > 0]
        if not sent:
            return None, None
        (first_at, first), (last_at, last) = sent[0], sent[-1]
        steady = mb_per_s(per_file * (last - first), last_at - first_at) if last > first else None
        return first_at, steady


def make_files(folder: Path, count: int, size: int) -> list[Path]:
    """``count`` files of ``size`` random bytes, named as a camera names its frames."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for index in range(count):
        path = folder / f"frame-{index:06d}.jpg"
        path.write_bytes(os.urandom(size))
        files.append(path)
    return files


def lapse_round(
    server: Server, files: Sequence[Path], folder: str, state: Path, transfers: int
) -> Timed:
    """An ``Uploads`` queue, as the daemon's, sends ``files`` into ``folder``."""
    state.mkdir(parents=True)
    setup = UploadSetup(server.config(folder, transfers), WORKER, dict(os.environ), "nobody")
    uploads = Uploads(setup, Outbox(state), SystemClock(), lambda: None)
    uploads.start()
    timed = Timed()
    children, own = children_cpu_s(), own_cpu_s()
    total = sum(file.stat().st_size for file in files)
    began = time.monotonic()
    try:
        for frame, file in enumerate(files):
            uploads.hear(Happening(HookEvent.FRAME_SAVED, RUN, frame, str(file)))
        deadline = began + max(120.0, total / 2e6)
        while True:
            status = uploads.status()
            now = time.monotonic()
            if not timed.seen or status.sent != timed.seen[-1][1]:
                timed.seen.append((now - began, status.sent))
            if status.sent >= len(files):
                break
            if status.stopped or now > deadline:
                timed.problems.append(f"lapse stopped or timed out: {status}")
                break
            time.sleep(POLL_S)
        timed.seconds = now - began
    finally:
        uploads.close()
    timed.uploader_cpu_s = children_cpu_s() - children
    timed.own_cpu_s = own_cpu_s() - own
    return timed


def worker_round(processes: Processes, server: Server, files: Sequence[Path], folder: str) -> Timed:
    """The upload worker alone, no queue: spawned here, handed one file at a time (the
    next as soon as it says the last was sent), the jobs the queue would give it."""
    timed = Timed()
    children = children_cpu_s()
    config = server.config(folder)
    first = worker_login(config, config.user)
    began = time.monotonic()
    child = processes.spawn(
        WORKER, cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write(json.dumps(first) + "\n")
        for number, file in enumerate(files, 1):
            parcel = Parcel(number, str(file), f"{folder}/{RUN}/{file.name}")
            job = {"send": number, "file": parcel.file, "remote": parcel.remote}
            child.stdin.write(json.dumps({**job, "part": parcel.part, "again": False}) + "\n")
            child.stdin.flush()
            answer = {"connected": True}
            while answer.get("connected"):  # its login ahead, said once as it starts
                ready, _, _ = select.select([child.stdout], [], [], WORKER_WAIT_S)
                answer = json.loads(child.stdout.readline() or "{}") if ready else {}
            timed.seen.append((time.monotonic() - began, number))
            if answer.get("sent") != number:
                timed.problems.append(f"the worker said {answer}")
                break
        timed.seconds = time.monotonic() - began
        child.stdin.close()
        child.wait(10)
    finally:
        processes.stop(child)
    timed.uploader_cpu_s = children_cpu_s() - children
    return timed


def sftp_round(
    processes: Processes, sftp: str, server: Server, files: Sequence[Path], folder: str, work: Path
) -> Timed:
    """``sftp -b`` sends ``files`` into ``folder``."""
    batch = work / f"{folder}.batch"
    batch.write_text(sftp_batch(files, folder))
    argv = sftp_argv(sftp, batch, server)
    out = work / f"{folder}.out"
    timed = Timed()
    children = children_cpu_s()
    with open(out, "wb") as said:
        began = time.monotonic()
        child = processes.spawn(argv, stdout=said, stderr=subprocess.STDOUT)
        try:
            status = child.wait(max(120.0, len(files) * 5.0))
        finally:
            processes.stop(child)
        timed.seconds = time.monotonic() - began
    timed.uploader_cpu_s = children_cpu_s() - children
    if status != 0:
        tail = " | ".join(out.read_text(errors="replace").strip().splitlines()[-3:])
        timed.problems.append(f"sftp exited with status {status}: {tail}")
    return timed


def sftp_connect_s(processes: Processes, sftp: str, server: Server, work: Path) -> float:
    """One ``sftp -b`` whose batch is one ``pwd``: connect, log in, one request, leave."""
    batch = work / "connect.batch"
    batch.write_text("pwd\n")
    began = time.monotonic()
    child = processes.spawn(
        sftp_argv(sftp, batch, server), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        status = child.wait(60)
    finally:
        processes.stop(child)
    if status != 0:
        raise RuntimeError(f"sftp could not connect (status {status})")
    return time.monotonic() - began


def find_sftp() -> str | None:
    """OpenSSH's ``sftp`` (Debian's openssh-client)."""
    return shutil.which("sftp") or shutil.which("sftp", path="/usr/bin:/bin")


def package_version(name: str) -> str:
    """The installed Debian package's version."""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown version"


def measure_throughput(processes: Processes, report: Report, args: Any) -> None:
    sftp = find_sftp()
    if sftp is None:
        print("sftp (Debian's openssh-client) is missing; installing it")
        sftp = apt_install("openssh-client", find_sftp)
    more = sorted({1, args.transfers} - {UploadConfig().transfers})
    sides = [LAPSE] + [f"lapse ×{transfers}" for transfers in more]
    sides += ([WORKER_ALONE] if args.worker_alone else []) + ([SFTP] if sftp else [])
    rounds: list[Round] = []
    connects: list[float] = []
    with temp_dir("lapse-upload-", args.keep) as root:
        files = make_files(root / "files", args.files, args.size)
        total = sum(file.stat().st_size for file in files)
        server = start_server(processes, root / "server")
        try:
            print(
                f"\n(1) Throughput: {args.files} files × {args.size:,} bytes ="
                f" {total / 1e6:.0f} MB, {args.rounds} rounds; the SFTP server: pid"
                f" {server.pid}, 127.0.0.1:{server.port}"
            )
            if sftp is not None:
                print(f"  sftp: {sftp} (openssh-client {package_version('openssh-client')})")
                connects = [
                    sftp_connect_s(processes, sftp, server, root) for _ in range(args.rounds)
                ]
            for index in range(args.rounds):
                order = sides[index % len(sides) :] + sides[: index % len(sides)]
                for side in order:
                    folder = f"r{index + 1}-" + re.sub(r"[^a-z0-9]+", "", side)
                    server_before = server.cpu_s()
                    if side == SFTP:
                        assert sftp is not None
                        timed = sftp_round(processes, sftp, server, files, folder, root)
                    elif side == WORKER_ALONE:
                        timed = worker_round(processes, server, files, folder)
                    else:
                        transfers = int(side.rpartition("×")[2])
                        state = root / "state" / folder
                        timed = lapse_round(server, files, folder, state, transfers)
                    server_cpu = server.cpu_s() - server_before
                    problems = timed.problems + compare_folder(files, server.home / folder / RUN)
                    if not args.keep:
                        shutil.rmtree(server.home / folder, ignore_errors=True)
                    first, steady = timed.first_and_steady(args.size)
                    found = Round(
                        side=side,
                        round=index + 1,
                        seconds=timed.seconds,
                        bytes=total,
                        mb_per_s=mb_per_s(total, timed.seconds),
                        uploader_cpu_s=timed.uploader_cpu_s,
                        own_cpu_s=timed.own_cpu_s,
                        server_cpu_s=server_cpu,
                        problems=problems,
                        first_sent_s=first,
                        steady_mb_per_s=steady,
                    )
                    rounds.append(found)
                    said = f"; {len(problems)} problems: {problems[:3]}" if problems else ""
                    print(
                        f"  round {index + 1} {side:15} {timed.seconds:6.2f} s"
                        f" {found.mb_per_s:6.1f} MB/s{said}",
                        flush=True,
                    )
        finally:
            stop_server(processes, server)
        connections = server.connections()
    print_throughput(report, rounds, sides, connects, connections, args)


def print_throughput(
    report: Report,
    rounds: Sequence[Round],
    sides: Sequence[str],
    connects: Sequence[float],
    connections: dict[str, dict[str, int]],
    args: Any,
) -> None:
    count = max(r.round for r in rounds)
    header = ["side", *(f"round {n + 1}" for n in range(count)), "median MB/s"]
    header += ["uploader CPU", "this process CPU", "server CPU", "bad files"]
    rows = []
    medians: dict[str, float] = {}
    for side in sides:
        mine = [r for r in rounds if r.side == side]
        medians[side] = median([r.mb_per_s for r in mine])
        wall = sum(r.seconds for r in mine)

        def share(seconds: float, wall: float = wall) -> str:
            return f"{seconds:.1f} s {seconds / wall * 100:3.0f} %" if wall > 0 else "–"

        rows.append(
            [
                side,
                *(fmt(r.mb_per_s) for r in mine),
                fmt(medians[side]),
                share(sum(r.uploader_cpu_s for r in mine)),
                share(sum(r.own_cpu_s for r in mine)),
                share(sum(r.server_cpu_s for r in mine)),
                str(sum(len(r.problems) for r in mine)),
            ]
        )
    print(f"\n  MB/s per round (10⁶ bytes / s), {args.files} × {args.size:,} bytes:")
    print_table(header, rows)
    print(
        f"  lapse: time.monotonic() just before the first hear() → the {POLL_S * 1e3:g} ms poll"
        " of status() first seeing every file sent;\n  worker alone: just before spawning it"
        " → its last `sent` line read; sftp: just before spawning `sftp -b` → its exit"
        " reaped.\n  CPU: user + system summed over the side's rounds, and as % of those rounds'"
        " wall time (100 % = one core)."
    )
    for side in sides:
        mine = [r for r in rounds if r.side == side and r.first_sent_s is not None]
        if mine:
            steady = [r.steady_mb_per_s for r in mine if r.steady_mb_per_s is not None]
            print(
                f"  {side}: first file seen sent after"
                f" {fmt(median([r.first_sent_s or 0.0 for r in mine]), 2)} s (median);"
                f" files 2…N at {fmt(median(steady))} MB/s"
            )
    if connects:
        print(f"  sftp: connect, log in, `pwd`, leave: {fmt(median(connects), 2)} s (median)")
    print_connections(connections)
    report.data["throughput"] = {
        "files": args.files,
        "size": args.size,
        "rounds": [asdict(r) for r in rounds],
        "median_mb_per_s": medians,
        "sftp_connect_s": list(connects),
        "server_connections": connections,
    }
    bad = sum(len(r.problems) for r in rounds)
    report.check(
        "every file on the server whole, every round",
        bad == 0,
        f"{bad} problems in {len(rounds)} rounds"
        + "".join(f"; {r.side} r{r.round}: {r.problems[0]}" for r in rounds if r.problems),
    )
    lapse, sftp = medians.get(LAPSE), medians.get(SFTP)
    if lapse is None or sftp is None:
        report.check(f"{LAPSE} ≥ {RATIO_TARGET:g}× sftp", None, "sftp is not installed")
        return
    ratio = lapse / sftp
    others = "".join(
        f"; {side} {medians[side] / sftp:.2f}×" for side in sides if side not in (LAPSE, SFTP)
    )
    report.data["throughput"]["ratio"] = ratio
    report.check(
        f"{LAPSE} (as it ships) ≥ {RATIO_TARGET:g}× sftp (median MB/s)",
        ratio >= RATIO_TARGET,
        f"{fmt(lapse)} vs {fmt(sftp)} MB/s = {ratio:.2f}× (for information{others})",
    )


# -- part (2): timing while uploading ------------------------------------------------------------
class Busy:
    """Beside a run (bench/timing.py's ``MoreClients``): the machine's busy share from
    the run's start to its end."""

    def __init__(self) -> None:
        self.before: list[int] = []
        self.share = float("nan")
        self.seconds = 0.0
        self.restarts = 0
        """The virtual camera's worker started again (its card holds 26 pictures)."""
        self._began = 0.0

    def attach(self, handle: DaemonHandle) -> None:
        self.before, self._began = cpu_line(), time.monotonic()

    def close(self) -> None:
        """Whatever the run did, nothing of this is left running."""

    def detach(self, handle: DaemonHandle) -> None:
        self.share = busy_share(self.before, cpu_line())
        self.seconds = time.monotonic() - self._began
        handle.log_file.flush()
        with contextlib.suppress(OSError):
            self.restarts = handle.log_path.read_text(errors="replace").count(CARD_FULL)


class UploadLoad(Busy):
    """Beside an uploading run: a second queue kept busy with big files, and afterwards
    the daemon's own queue emptied and its frames checked on the server."""

    def __init__(self, server: Server, files: Sequence[Path], state: Path) -> None:
        super().__init__()
        self.server = server
        self.files = list(files)
        self.state = state
        self.uploads: Uploads | None = None
        self.stopping = threading.Event()
        self.feeder: threading.Thread | None = None
        self.heard = 0
        self.sent = 0
        self.mb_per_s = float("nan")
        self.daemon_upload: UploadStatus | None = None
        self.frame_files = 0
        self.frame_bytes = 0
        self.problems: list[str] = []
        self._sent_before = 0

    def attach(self, handle: DaemonHandle) -> None:
        self.state.mkdir(parents=True)
        setup = UploadSetup(self.server.config("load"), WORKER, dict(os.environ), "nobody")
        self.uploads = Uploads(setup, Outbox(self.state), SystemClock(), lambda: None)
        self.uploads.start()
        self.feeder = threading.Thread(target=self._feed, name="upload-load", daemon=True)
        self.feeder.start()
        deadline = time.monotonic() + 60
        while self.uploads.status().sent < 1:  # the load is under way
            if time.monotonic() > deadline:
                raise RuntimeError(f"the upload load did not start: {self.uploads.status()}")
            time.sleep(0.02)
        self._sent_before = self.uploads.status().sent
        super().attach(handle)

    def _feed(self) -> None:
        assert self.uploads is not None
        while not self.stopping.is_set():
            if self.uploads.status().waiting < LOAD_LOW:
                for _ in range(LOAD_BATCH):
                    file = self.files[self.heard % len(self.files)]
                    run = f"load-{self.heard // len(self.files) + 1}"
                    self.uploads.hear(Happening(HookEvent.FRAME_SAVED, run, 0, str(file)))
                    self.heard += 1
            self.stopping.wait(0.05)

    def detach(self, handle: DaemonHandle) -> None:
        assert self.uploads is not None
        self.sent = self.uploads.status().sent - self._sent_before
        super().detach(handle)
        size = self.files[0].stat().st_size
        self.mb_per_s = mb_per_s(self.sent * size, self.seconds)
        self.close()
        self._check_daemon(handle)

    def close(self) -> None:
        self.stopping.set()
        if self.feeder is not None:
            self.feeder.join(5)
        if self.uploads is not None:
            self.uploads.close()

    def _check_daemon(self, handle: DaemonHandle) -> None:
        """Wait for the daemon's queue to empty; its frames must be on the server, whole."""
        deadline = time.monotonic() + DRAIN_S
        with Client(handle.socket) as client:
            while True:
                status = client.status().upload
                if status is None:
                    self.problems.append("the daemon has no upload queue")
                    return
                if status.waiting == 0 or status.stopped or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        self.daemon_upload = status
        if status.waiting or status.stopped:
            self.problems.append(f"the daemon's queue did not empty: {status}")
        runs = [path for path in (handle.state_dir / "runs").iterdir() if path.is_dir()]
        if len(runs) != 1:
            self.problems.append(f"expected one run folder, found {len(runs)}")
            return
        run = runs[0]
        saved = [run / name for name in saved_files(run / "frames.jsonl")]
        self.frame_files = len(saved)
        self.frame_bytes = sum(path.stat().st_size for path in saved)
        if status.sent != len(saved):
            self.problems.append(f"{len(saved)} files saved but {status.sent} sent")
        self.problems += compare_folder(saved, self.server.home / "sky" / run.name)


@dataclass
class TimingRun:
    """One daemon run, with or without uploads."""

    case: str
    figures: Figures
    """The engine's lateness over the frames whose shutter edge it handed over."""
    files: int
    """Frames the camera saved (the journal's ``file``)."""
    camera_missed: int
    """Triggers the camera thread dropped as stale (handed over, then too old to fire)."""
    no_file: int
    """Frames fired whose file did not come."""
    restarts: int
    busy_percent: float
    load_sent: int = 0
    load_mb_per_s: float = float("nan")
    daemon_sent: int = 0
    frame_files: int = 0
    """Every file the journal names (a frame's second file too): each must be sent."""
    frame_bytes: int = 0
    problems: list[str] = field(default_factory=list)


def timing_run(
    processes: Processes, case: str, server: Server, files: Sequence[Path], work: Path, args: Any
) -> TimingRun:
    """One daemon run on the virtual USB camera, with or without uploads."""
    config = CAMERA_CONFIG
    more: Busy
    if case == UPLOADING:
        config += "\n" + server.toml("sky")
        more = UploadLoad(server, files, work)
    else:
        more = Busy()
    try:
        run = daemon_run(processes, args.interval, args.frames, args.keep, config=config, more=more)
    finally:
        more.close()
    edges = run.shutter_on
    figures = edge_figures(run, case, METHOD, lambda r: r["frame"] in edges)
    handed = [r for r in run.records if r["frame"] in edges]
    found = TimingRun(
        case=case,
        figures=figures,
        files=sum(1 for r in run.records if r.get("file")),
        camera_missed=sum(1 for r in handed if r["status"] == "missed"),
        no_file=sum(1 for r in handed if r["status"] == "error"),
        restarts=more.restarts,
        busy_percent=more.share,
    )
    if isinstance(more, UploadLoad):
        found.load_sent, found.load_mb_per_s = more.sent, more.mb_per_s
        found.daemon_sent = more.daemon_upload.sent if more.daemon_upload else 0
        found.frame_files, found.frame_bytes = more.frame_files, more.frame_bytes
        found.problems = more.problems
    return found


def measure_timing(processes: Processes, report: Report, args: Any) -> None:
    # The daemon picks its virtual camera itself on the simulated rig: none set here.
    for name in ("VCAMERADIR", "IOLIBS"):
        os.environ.pop(name, None)
    runs: list[TimingRun] = []
    with temp_dir("lapse-upload-t-", args.keep) as root:
        files = make_files(root / "files", min(args.files, 50), args.size)
        server = start_server(processes, root / "server")
        try:
            print(
                f"\n(2) Timing while uploading: {args.frames} frames at"
                f' {format_duration(args.interval)}, [camera] trigger = "usb" (the virtual'
                f" camera); the SFTP server: pid {server.pid}"
            )
            order = [NO_UPLOAD, UPLOADING, UPLOADING, NO_UPLOAD] * ((args.pairs + 1) // 2)
            for number, case in enumerate(order[: 2 * args.pairs], 1):
                print(f"  {case} …", end="", flush=True)
                began = time.monotonic()
                try:
                    work = root / f"load-state-{number}"
                    runs.append(timing_run(processes, case, server, files, work, args))
                except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as error:
                    print(f" failed: {error}")
                    report.fail(f"{case} run {number}: {error}")
                    continue
                threads = ", ".join(runs[-1].figures.extra["realtime_threads"]) or "none"
                print(
                    f" done in {time.monotonic() - began:.1f} s; the daemon's real-time"
                    f" threads: {threads}",
                    flush=True,
                )
        finally:
            stop_server(processes, server)
        connections = server.connections()
    print_timing(report, runs, connections, args)


def print_timing(
    report: Report,
    runs: Sequence[TimingRun],
    connections: dict[str, dict[str, int]],
    args: Any,
) -> None:
    print()
    print_figures([r.figures for r in runs], SPANS)
    print("  (missed here: frames whose shutter edge the engine did not hand over.)")
    print()
    header = ["run", "case", "files", "camera dropped", "no file", "camera restarts"]
    header += ["machine busy %", "load files", "load MB/s", "daemon sent", "frames kB", "problems"]
    rows = []
    for number, r in enumerate(runs, 1):
        up = r.case == UPLOADING
        rows.append(
            [
                str(number),
                r.case,
                str(r.files),
                str(r.camera_missed),
                str(r.no_file),
                str(r.restarts),
                fmt(r.busy_percent),
                str(r.load_sent) if up else "–",
                fmt(r.load_mb_per_s) if up else "–",
                f"{r.daemon_sent} of {r.frame_files}" if up else "–",
                fmt(r.frame_bytes / 1e3) if up else "–",
                str(len(r.problems)),
            ]
        )
    print_table(header, rows, left=2)
    print(
        "  files: frames the virtual camera saved (the journal's file); camera dropped: triggers"
        ' the camera thread\n  took too late to fire (the frame is `missed`: "the camera was'
        ' still busy with an earlier call"); no file: fired, no file came;\n  camera restarts:'
        " the virtual camera's worker started again (its card holds 26 pictures a process);\n"
        "  machine busy: /proc/stat, all CPUs, from the run's start to its end; load: the second"
        f" queue's {args.size / 1e6:g} MB files sent over the run;\n  daemon sent: its own"
        " queue's files sent, of every file the journal names (a frame's second file too),\n"
        "  each checked on the server after the run; frames kB: their size."
    )
    print_connections(connections)
    report.data["timing"] = {
        "interval_ns": args.interval,
        "frames": args.frames,
        "runs": [asdict(r) for r in runs],
    }
    for r in runs:
        for problem in r.problems[:5]:
            report.fail(f"{r.case}: {problem}")
    plain = [r for r in runs if r.case == NO_UPLOAD]
    busy = [r for r in runs if r.case == UPLOADING]
    if not busy:
        report.check("timing while uploading", None, "no uploading run was measured")
        return

    def beside(values: Sequence[str]) -> str:
        return f" (without upload: {', '.join(values) or 'not measured'})"

    p99s = beside([fmt(r.figures.p99_us) for r in plain])
    drifts = beside([fmt(r.figures.drift_us) for r in plain])
    misses = beside([str(r.figures.missed) for r in plain])
    for index, r in enumerate(busy, 1):
        f = r.figures
        name = f"uploading run {index}: "
        report.check(name + "never early", f.early == 0, f"{f.early} early of {f.n}")
        report.check(
            name + "the engine misses no frame",
            f.missed == 0,
            f"{f.missed} of {f.extra['journal_records']} with no shutter edge handed over"
            + "".join(f"; {line}" for line in f.extra["not_ok"][:3] if f.missed)
            + misses,
        )
        loaded = ""
        if f.p99_us > IDLE_P99_LIMIT_US:
            under = "under" if f.p99_us < LOADED_P99_LIMIT_US else "over"
            loaded = f"; {under} bench/timing.py's loaded limit, {LOADED_P99_LIMIT_US:g} µs"
        report.check(
            name + f"p99 ≤ {IDLE_P99_LIMIT_US:g} µs",
            f.p99_us <= IDLE_P99_LIMIT_US,
            f"{fmt(f.p99_us)} µs{p99s}{loaded}",
        )
        report.check(
            name + f"|drift| < {IDLE_DRIFT_LIMIT_US:g} µs",
            abs(f.drift_us) < IDLE_DRIFT_LIMIT_US,
            f"{fmt(f.drift_us)} µs{drifts}",
        )
    dropped, dropped_plain = (sum(r.camera_missed for r in rs) for rs in (busy, plain))
    report.check(
        "the camera drops no more triggers while uploading",
        None if not plain else dropped <= dropped_plain,
        f"{dropped} dropped in {len(busy)} uploading runs, {dropped_plain} in {len(plain)}"
        f" without (camera restarts: {sum(r.restarts for r in busy)} and"
        f" {sum(r.restarts for r in plain)})",
    )


# -- the benchmark -------------------------------------------------------------------------------
PARTS = ("throughput", "timing")


def measure(processes: Processes, report: Report, args: Any) -> None:
    if "throughput" in args.parts:
        measure_throughput(processes, report, args)
    if "timing" in args.parts:
        measure_timing(processes, report, args)


def parse_args(argv: Sequence[str] | None = None) -> Any:
    parser = bench_parser(
        "bench/upload.py",
        __doc__,
        parts=PARTS,
        interval="50ms",
        frames=400,
        scope="timing: ",
    )
    parser.add_argument("--files", type=int, default=200, help="files per round (default 200)")
    parser.add_argument(
        "--size", type=int, default=2_000_000, help="bytes per file (default 2000000)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (default 3)")
    parser.add_argument(
        "--transfers",
        type=int,
        default=4,
        choices=(1, 2, 3, 4),
        help="a lapse series' transfers beside the default's and 1's (default 4)",
    )
    parser.add_argument(
        "--no-worker-alone",
        dest="worker_alone",
        action="store_false",
        help="leave out the worker-alone series (for information)",
    )
    parser.add_argument(
        "--pairs", type=int, default=2, help="timing: runs with and without upload (default 2)"
    )
    args = parser.parse_args(argv)
    if args.files < 1 or args.size < 1 or args.rounds < 1 or args.pairs < 1:
        parser.error("--files, --size, --rounds and --pairs must be at least 1")
    if args.frames < 20:
        parser.error("--frames must be at least 20 (drift compares tenths)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(TITLE, parse_args(argv), measure)


if __name__ == "__main__":
    sys.exit(main())
