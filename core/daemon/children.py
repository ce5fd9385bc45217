"""The daemon's child processes: the work after a run, the hooks, the upload worker.

Every child is started with ``posix_spawn`` in the ordinary scheduling class, which it
has from its first instruction: the daemon's threads run at a real-time priority that a
forked child would inherit, and a hook or an upload must never compete with the timing
thread at that priority, even for a moment. Each child gets a session of its own, so
ending it ends whatever it started too.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TAIL_CHARS = 300
"""How much of a child's last words is kept to explain a failure."""


def spawn(
    argv: Sequence[str],
    environ: Mapping[str, str],
    *,
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
) -> int:
    """Start ``argv`` (an absolute program path, or one found on ``PATH``) in a session of
    its own, in the ordinary scheduling class; each of the three streams is the given
    file descriptor, ``/dev/null`` for stdin when None, the daemon's own for the others.
    Returns the pid; raises :class:`OSError` when it cannot start."""
    actions: list[tuple[int, ...]] = []
    null = None
    if stdin is None:
        null = os.open(os.devnull, os.O_RDONLY)
        stdin = null
    try:
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            if fd is not None:
                actions.append((os.POSIX_SPAWN_DUP2, fd, target))
        program = argv[0]
        if "/" not in program:
            found = shutil.which(program, path=environ.get("PATH", os.defpath))
            if found is None:
                raise FileNotFoundError(2, "No such file or directory", program)
            program = found
        return os.posix_spawn(
            program,
            list(argv),
            dict(environ),
            file_actions=actions,
            setsid=True,
            scheduler=(os.SCHED_OTHER, os.sched_param(0)),
        )
    finally:
        if null is not None:
            os.close(null)


def end_group(pid: int, grace_s: float = 2.0) -> None:
    """Ask ``pid``'s process group to end (SIGTERM), then make it (SIGKILL) after
    ``grace_s``; the child is reaped by its waiter."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            break
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@dataclass(frozen=True)
class Ended:
    """How a bounded child ended."""

    code: int | None
    """Its exit status (negative: the signal that ended it); None when it could not start
    or ran out of time."""
    said: str
    """The end of what it wrote (stdout and stderr), or why it could not start."""
    timed_out: bool = False


def run_bounded(
    argv: Sequence[str], environ: Mapping[str, str], timeout_s: float, *, stop: int | None = None
) -> Ended:
    """Run ``argv`` to its end, for ``timeout_s`` at most (then its whole group is ended);
    what it writes is read as it comes and only its end kept. ``stop``: a file descriptor
    that, once readable, ends the child at once (the daemon closing)."""
    read_end, write_end = os.pipe()
    try:
        pid = spawn(argv, environ, stdout=write_end, stderr=write_end)
    except OSError as error:
        os.close(read_end)
        return Ended(None, f"could not start {argv[0]}: {error.strerror or error}")
    finally:
        os.close(write_end)
    tail = b""
    deadline = time.monotonic() + timeout_s
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            watched = [read_end] if stop is None else [read_end, stop]
            ready, _, _ = select.select(watched, [], [], left)
            if stop is not None and stop in ready:
                timed_out = True
                break
            if read_end in ready:
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break  # every writer closed: it has ended, or closed its output
                tail = (tail + chunk)[-TAIL_CHARS * 4 :]
    finally:
        os.close(read_end)
    while not timed_out:
        # Its output closed; it may still be running (it closed stdout): give it the rest.
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            return Ended(os.waitstatus_to_exitcode(wait_status), _said(tail))
        if time.monotonic() >= deadline:
            timed_out = True
        else:
            time.sleep(0.01)
    end_group(pid)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return Ended(None, _said(tail), timed_out=True)


def _said(tail: bytes) -> str:
    text = tail.decode("utf-8", errors="replace").strip()
    last = text.splitlines()[-1] if text else ""
    return last[-TAIL_CHARS:]
