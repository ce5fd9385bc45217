"""libgphoto2 in a process of its own: a call that hangs or crashes costs the worker only.

libgphoto2 calls cannot be interrupted, and a fault inside the library (a
camera firmware that confuses its PTP driver) can take its whole process
down. So the daemon never loads it: the camera lives in a camera worker
(:class:`CameraWorker`), a child process (``python -m hw.camera.worker``)
that opens the camera and answers one call at a time over a socket pair.

:class:`WorkerSession` is the daemon's side of one open camera; it implements
:class:`hw.camera.base.Session`, so the camera thread cannot tell it from an
in-process session, and :class:`WorkerOpener` is the camera thread's
``open_session``. Every call waits at most its bound; a worker that overruns
it is killed (``SIGKILL``: libgphoto2 gets no say) and the call fails as
``hung``; a worker that dies fails the call as ``failed``. Either way the
session is over, and the camera thread opens a new one, in a new worker,
before the next frame. A camera that is merely away keeps its worker: it is
looked for again there, for the price of a libgphoto2 call, not of a new
Python. Nothing here touches a GPIO line, so the grid never waits on a worker.

A fresh worker is also a fresh libgphoto2: the virtual camera of the
simulated rig counts its captures per process and reports its card full
after 26, so on the simulated rig a full card is emptied by starting the
worker again (:attr:`WorkerSession.virtual`), from a spare started ahead
(:attr:`WorkerOpener.spare`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from hw.camera.base import CallError, Session

SESSION_FACTORY = "hw.camera.session:open_session"
"""What a worker calls to open its camera (``module:function``, returning a Session)."""
START_BOUND_S = 30.0
"""How long a new worker may take to import libgphoto2 and open the camera."""
CLOSE_BOUND_S = 2.0
"""How long a worker is given to let go of the camera before it is killed."""
VIRTUAL_CARD_PICTURES = 26
"""Pictures libgphoto2's virtual camera takes in one process: the 27th trigger returns
and no file comes, and every later one fails ("Unspecified error"). Deleting files does
not turn its counter back (measured with the gphoto2 wheel's libgphoto2 2.5.x)."""
VIRTUAL_CARD_FULL = (
    f"the virtual camera's card is full ({VIRTUAL_CARD_PICTURES} pictures a process);"
    " starting its worker again empties it"
)
_LENGTH = struct.Struct("!I")
MAX_MESSAGE = 1 << 31
"""The largest reply taken from a worker (a RAW file is tens of MB)."""

_CALLS = frozenset(
    {
        "battery",
        "shutter_speeds",
        "set_shutter_speed",
        "isos",
        "set_iso",
        "exposure",
        "usb_bulb",
        "prepare_bulb",
        "bulb",
        "keep_on_card",
        "trigger",
        "new_files",
        "download",
        "delete",
    }
)
"""The :class:`Session` methods a worker answers."""


class CameraWorker:
    """One camera worker process, and the daemon's end of its socket.

    It outlives a camera that cannot be opened (a camera that is away is looked for
    again in the same process, at the cost of one libgphoto2 call, not of a new
    Python), and ends when a call overruns its bound, when it dies, or on :meth:`stop`.
    """

    def __init__(self, factory: str = SESSION_FACTORY) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        argv = [sys.executable, "-m", "hw.camera.worker"]
        argv += [str(theirs.fileno()), str(os.getpid()), factory]
        try:
            self._process = subprocess.Popen(
                argv,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError as error:
            ours.close()
            raise CallError("failed", f"could not start the camera worker: {error}") from None
        finally:
            theirs.close()
        self._socket: socket.socket | None = ours
        self.pid = self._process.pid
        self.pictures = 0
        """Pictures taken in this process, over all its sessions: the virtual card's count
        is libgphoto2's, which lives as long as the process."""

    @property
    def alive(self) -> bool:
        """Whether the worker process is still there to answer."""
        return self._socket is not None and self._process.poll() is None

    def ask(self, method: str, args: tuple[Any, ...], bound_s: float) -> Any:
        """``method(*args)`` in the worker, within ``bound_s``; :class:`CallError` if it
        fails there, overruns (the worker is killed: ``hung``) or the worker dies."""
        sock = self._socket
        if sock is None:
            raise CallError("gone", "the camera worker has ended; the camera is opened again")
        deadline = time.monotonic() + bound_s
        try:
            _send(sock, (method, args))
            reply = _receive(sock, deadline)
        except TimeoutError:
            self.stop(grace_s=0.0)  # stuck in libgphoto2: it would not hear the socket close
            raise CallError(
                "hung",
                f"the camera did not answer within {bound_s:g}s; its worker was stopped"
                " and the camera is opened again",
            ) from None
        except (OSError, EOFError, pickle.UnpicklingError):
            self.stop()
            raise CallError("failed", self._death()) from None
        if reply[0] == "ok":
            return reply[1]
        _, kind, message = reply
        raise CallError(kind, message)

    def stop(self, grace_s: float = CLOSE_BOUND_S) -> None:
        """Close the socket and make sure the worker is gone, reaped: a healthy worker
        lets go of the camera and exits within ``grace_s``, else it is killed."""
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()
        process = self._process
        if process.poll() is None:
            # The socket's end tells a healthy worker to exit; a stuck one does not hear it.
            try:
                process.wait(grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _death(self) -> str:
        code = self._process.poll()
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                return f"the camera's worker died ({signal.Signals(-code).name} in libgphoto2)"
        return f"the camera's worker ended unexpectedly (exit status {code})"


class WorkerSession:
    """One open camera in a camera worker (see :class:`hw.camera.base.Session`)."""

    def __init__(self, worker: CameraWorker, call_bound_s: float, *, virtual: bool = False) -> None:
        """Open the camera in ``worker``; :class:`CallError` if it cannot be opened. The
        worker stays the caller's: one whose camera is merely away is still running."""
        self.worker = worker
        self.call_bound_s = call_bound_s
        self.virtual = virtual
        """Whether the worker serves libgphoto2's virtual camera (the simulated rig)."""
        self._open = False
        self.model = str(self._ask("open", (), START_BOUND_S + call_bound_s))
        self._open = True

    # -- Session ----------------------------------------------------------------------
    def battery(self) -> str | None:
        return self._call("battery")

    def shutter_speeds(self) -> list[str]:
        return self._call("shutter_speeds")

    def set_shutter_speed(self, value: str) -> None:
        self._call("set_shutter_speed", value)

    def isos(self) -> list[str]:
        return self._call("isos")

    def set_iso(self, value: str) -> None:
        self._call("set_iso", value)

    def exposure(self) -> tuple[str | None, str | None]:
        shutter, iso = self._call("exposure")
        return shutter, iso

    def usb_bulb(self) -> str | None:
        return self._call("usb_bulb")

    def prepare_bulb(self) -> None:
        self._call("prepare_bulb")

    def bulb(self, open_: bool) -> None:
        self._call("bulb", open_)

    def keep_on_card(self) -> None:
        self._call("keep_on_card")

    def trigger(self) -> None:
        if self.virtual and self.worker.pictures >= VIRTUAL_CARD_PICTURES:
            # Said before libgphoto2 takes a picture it will not keep, or fails unclearly;
            # the card is emptied only by a new process, so this worker is done.
            self.worker.stop()
            raise CallError("full", VIRTUAL_CARD_FULL)
        self._call("trigger")
        self.worker.pictures += 1

    def new_files(self, timeout_ms: int) -> list[tuple[str, str]]:
        # libgphoto2 may wait up to about twice the timeout for events that do not come.
        return self._call("new_files", timeout_ms, extra_s=2 * timeout_ms / 1000)

    def download(self, folder: str, name: str) -> bytes:
        return self._call("download", folder, name)

    def delete(self, folder: str, name: str) -> None:
        self._call("delete", folder, name)

    def close(self) -> None:
        """Let the camera go; the worker stays for the next session (killed if it hangs)."""
        if self._open and self.worker.alive:
            with contextlib.suppress(CallError):
                self.worker.ask("close", (), CLOSE_BOUND_S)
        self._open = False

    @property
    def pid(self) -> int:
        """The process id of this session's worker."""
        return self.worker.pid

    @property
    def alive(self) -> bool:
        """Whether this session's worker is still there to answer."""
        return self.worker.alive

    # -- the wire ---------------------------------------------------------------------
    def _call(self, method: str, *args: Any, extra_s: float = 0.0) -> Any:
        return self._ask(method, args, self.call_bound_s + extra_s)

    def _ask(self, method: str, args: tuple[Any, ...], bound_s: float) -> Any:
        if method != "open" and not self._open:
            raise CallError("gone", "this camera session is closed; the camera is opened again")
        try:
            return self.worker.ask(method, args, bound_s)
        except CallError as error:
            if error.kind in ("gone", "hung", "failed"):
                # libgphoto2 has given this camera up (or the worker is gone): the camera
                # thread opens a new session, in this worker while it lives.
                self._open = False
            raise


class WorkerOpener:
    """``open_session`` for :class:`hw.camera.usb_camera.UsbCamera`: each call opens the
    camera in the current worker, starting one when there is none or it has ended."""

    def __init__(
        self, call_bound_s: float, *, factory: str = SESSION_FACTORY, virtual: bool = False
    ) -> None:
        self.call_bound_s = call_bound_s
        self.factory = factory
        self.virtual = virtual
        self.worker: CameraWorker | None = None
        self.spare: CameraWorker | None = None
        """On the simulated rig, the next worker, started ahead. The virtual card fills
        every 26 pictures and only a new process empties it: opening the camera in a
        process already started takes about 40 ms here, where starting Python and
        libgphoto2 first took 400-480 ms, and at 500 ms that cost the next frame."""

    def __call__(self) -> WorkerSession:
        if self.worker is None or not self.worker.alive:
            self.worker = self._take_spare() or CameraWorker(self.factory)
        session = WorkerSession(self.worker, self.call_bound_s, virtual=self.virtual)
        if self.virtual and (self.spare is None or not self.spare.alive):
            self.spare = CameraWorker(self.factory)
        return session

    def _take_spare(self) -> CameraWorker | None:
        spare, self.spare = self.spare, None
        if spare is not None and not spare.alive:
            spare.stop()  # reaped; a new one is started in its place
            return None
        return spare

    def close(self) -> None:
        """End the workers (the daemon is closing its camera)."""
        for worker in (self.worker, self.spare):
            if worker is not None:
                worker.stop()


# -- the wire format: a length, then a pickle (both ends are lapse's own) ---------------------
def _send(sock: socket.socket, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LENGTH.pack(len(data)) + data)


def _receive(sock: socket.socket, deadline: float | None) -> Any:
    (length,) = _LENGTH.unpack(_read(sock, _LENGTH.size, deadline))
    if length > MAX_MESSAGE:
        raise EOFError("message too long")
    return pickle.loads(_read(sock, length, deadline))


def _read(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    chunks, left = [], size
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([sock], [], [], remaining)[0]:
                raise TimeoutError
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# -- the worker ------------------------------------------------------------------------------
def serve(sock: socket.socket, open_session: Callable[[], Session]) -> None:
    """Answer calls on ``sock`` until it closes: ``open`` opens the camera (letting go of
    one already open), ``close`` lets it go, the others are :class:`Session` calls."""
    session: Session | None = None
    while True:
        try:
            method, args = _receive(sock, None)
        except (EOFError, OSError):
            break
        try:
            if method in ("open", "close") and session is not None:
                session, closing = None, session
                closing.close()
            if method == "open":
                session = open_session()
                reply: tuple[Any, ...] = ("ok", session.model)
            elif method == "close":
                reply = ("ok", None)
            elif session is None or method not in _CALLS:
                reply = ("error", "gone", "no camera is open in this worker")
            else:
                reply = ("ok", getattr(session, method)(*args))
        except CallError as error:
            reply = ("error", error.kind, str(error))
        except Exception as error:  # any surprise is one failed call, told to the daemon
            reply = ("error", "failed", f"the camera failed: {error!r}")
        try:
            _send(sock, reply)
        except OSError:
            break  # the daemon has gone: let go of the camera and end
    if session is not None:
        session.close()


def _factory(spec: str) -> Callable[[], Session]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _die_with_the_daemon(daemon: int) -> None:
    """Be killed when the daemon is (kill -9 too), so no orphan keeps the camera's USB."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != daemon:
        os._exit(0)  # it died before the request was in place


def main(argv: list[str]) -> int:
    """``python -m hw.camera.worker FD DAEMON_PID [FACTORY]``: serve the socket inherited
    as ``FD`` for the daemon ``DAEMON_PID``."""
    _die_with_the_daemon(int(argv[1]))
    # The daemon's threads run at real-time priority and children inherit it; USB
    # transfers need none, and must never compete with the timing thread.
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    with contextlib.suppress(OSError):
        os.nice(5)
    # The daemon stops its workers itself: a Ctrl+C meant for it must not kill one mid-call.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=int(argv[0]))
    serve(sock, _factory(argv[2] if len(argv) > 2 else SESSION_FACTORY))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
