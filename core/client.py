"""A blocking client of the daemon, for the command line, scripts and the TUI's worker.

It also starts a daemon when none answers (docs/architecture.md §1): the command to run is
given by the caller, so ``core`` does not need to know how lapse was installed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from core.model import protocol
from core.model.errors import DaemonUnavailable, LapseError, ProtocolError
from core.model.place import Place
from core.model.settings import Settings
from core.paths import Paths, socket_path_problem

DAEMON_START_S = 10.0
"""How long a daemon a client started has to answer before its log is shown instead."""


class DaemonRefused(LapseError):
    """The daemon answered a command with an error (its message is for the user)."""


class Client:
    """One connection to the daemon: requests and, after :meth:`subscribe`, events."""

    def __init__(self, socket_path: Path, timeout: float | None = 10.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._ids = itertools.count(1)
        self._events: deque[protocol.Event] = deque()

    def connect(self) -> Client:
        """Connect, or raise :class:`DaemonUnavailable`; a path that cannot be a socket
        raises :class:`LapseError` instead: no daemon could ever answer there, so none is
        started."""
        problem = socket_path_problem(self.socket_path)
        if problem is not None:
            raise LapseError(problem)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.socket_path))
        except OSError as error:
            sock.close()
            raise DaemonUnavailable(
                f"no lapse daemon answers on {self.socket_path} ({error.strerror or error})"
            ) from None
        self._sock = sock
        return self

    def close(self) -> None:
        """Hang up; the daemon and any run carry on."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def shutdown(self) -> None:
        """Wake a thread blocked reading from this connection (it sees a hang-up)."""
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Client:
        return self if self._sock is not None else self.connect()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, command: protocol.Command) -> Any:
        """Send a command and return its answer (``command.answer``); events that arrive
        meanwhile are kept for :meth:`events`. :class:`DaemonRefused` carries a refusal.

        The answer must come within :attr:`timeout` however many events arrive meanwhile;
        else :class:`DaemonUnavailable` says so (a daemon that hangs, or never answers)."""
        sock = self._require()
        request_id = next(self._ids)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        # Hung up already: what it said first (too many clients) is read below.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(protocol.encode_request(command, request_id))
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise self._no_answer()
            try:
                envelope = self._read(command.answer)
            except TimeoutError:
                raise self._no_answer() from None
            if envelope.event is not None:
                self._events.append(envelope.event)
                continue
            reply = envelope.reply
            if reply is not None and reply.id is None and reply.error is not None:
                # Said to the connection, not to a request: why the daemon hangs up.
                raise DaemonRefused(reply.error)
            if reply is None or reply.id != request_id:
                continue
            if reply.error is not None:
                raise DaemonRefused(reply.error)
            return reply.result

    def hello(self) -> protocol.HelloReply:
        """Who answers."""
        return self.request(protocol.Hello())

    def status(self) -> protocol.Status:
        """The daemon's status now."""
        return self.request(protocol.GetStatus())

    def subscribe(self) -> protocol.Subscribed:
        """Ask for events; returns the current status and the running run's plan."""
        return self.request(protocol.Subscribe())

    def start(
        self,
        settings: Settings,
        output: str | None = None,
        camera: protocol.RunCamera | None = None,
        at: str | None = None,
        place: Place | None = None,
    ) -> protocol.Status:
        """Start a run; the status once it is placed on the grid. ``output``: an absolute
        folder for the photos the camera downloads, instead of the run's folder;
        ``camera``: the trigger and shutter speed the run asks over the config's; ``at``:
        the wall time (ISO-8601 with its zone) of the first shutter; ``place``: where the
        rig stands, over the daemon's config, for a window by the sun."""
        return self.request(protocol.Start(settings, output, camera, at, place))

    def stop(self) -> protocol.Status:
        """Stop the run; returns once every output is released."""
        return self.request(protocol.Stop())

    def end_daemon(self) -> protocol.Status:
        """End the daemon; refused while a run is going. Returns before it has exited."""
        return self.request(protocol.EndDaemon())

    def resume(self, *, clock_ok: bool) -> protocol.Status:
        """Resume the run that waits for the clock: at once with ``clock_ok`` (the
        photographer says the clock is right), else only if the daemon trusts it now."""
        return self.request(protocol.Resume(clock_ok=clock_ok))

    def make(self, run: str, products: tuple[str, ...]) -> protocol.Status:
        """Have the daemon make a run's video, keogram or star trails (low priority)."""
        return self.request(protocol.Make(run, products))

    def handle(
        self, control: str, to: str, *, held_s: float = 0.1, bounce: int = 0
    ) -> protocol.Status:
        """Move a control of the simulated box as a hand would (``lapse sim``)."""
        return self.request(protocol.Handle(control, to, held_s, bounce))

    def events(self, timeout: float | None = None) -> Iterator[protocol.Event]:
        """Yield events until the daemon hangs up.

        With ``timeout``, a quiet spell of that many seconds raises ``TimeoutError``.
        """
        sock = self._require()
        sock.settimeout(timeout)
        while True:
            while self._events:
                yield self._events.popleft()
            envelope = self._read(None)
            if envelope.event is not None:
                yield envelope.event

    def _no_answer(self) -> DaemonUnavailable:
        return DaemonUnavailable(
            f"the daemon on {self.socket_path} did not answer within {self.timeout:g} s"
        )

    def _require(self) -> socket.socket:
        if self._sock is None:
            self.connect()
        assert self._sock is not None
        return self._sock

    def _read(self, answers: type | None) -> protocol.Envelope:
        sock = self._require()
        while b"\n" not in self._buffer:
            try:
                chunk = sock.recv(65536)
            # TimeoutError is an OSError: a quiet spell (events(timeout=…)) must reach
            # the caller as such, not as the hang-up the next clause reports.
            except TimeoutError:
                raise
            except OSError as error:
                raise DaemonUnavailable(f"the daemon hung up ({error})") from None
            if not chunk:
                raise DaemonUnavailable("the daemon hung up")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return protocol.decode(line, answers)
        except ProtocolError as error:
            raise DaemonUnavailable(f"the daemon sent something unreadable: {error}") from None


def daemon_answers(socket_path: Path, timeout: float = 2.0) -> protocol.HelloReply | None:
    """The daemon's ``hello``, or None when nothing answers."""
    try:
        with Client(socket_path, timeout=timeout).connect() as client:
            return client.hello()
    except (DaemonUnavailable, TimeoutError, OSError):
        return None


def ensure_daemon(
    paths: Paths,
    command: Sequence[str],
    *,
    sleep: Callable[[float], None] | None = None,
) -> protocol.HelloReply:
    """Return the running daemon's ``hello``, starting ``command`` in the background first
    if none answers. Raises :class:`DaemonUnavailable` with the daemon's last words if it
    does not come up.
    """
    hello = daemon_answers(paths.socket)
    if hello is not None:
        return hello
    pause = sleep or time.sleep
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    with open(paths.daemon_log, "ab") as log:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives this terminal and its SSH session
            env=os.environ.copy(),
        )
    deadline = time.monotonic() + DAEMON_START_S
    while time.monotonic() < deadline:
        hello = daemon_answers(paths.socket, timeout=1.0)
        if hello is not None:
            return hello
        if process.poll() is not None:
            break
        pause(0.02)
    raise DaemonUnavailable(f"the lapse daemon did not start; {last_words(paths.daemon_log)}")


def last_words(log: Path, lines: int = 3) -> str:
    """The end of the daemon's log, to explain why it did not start."""
    try:
        tail = log.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return f"see {log}"
    return " | ".join(tail) if tail else f"see {log}"


def as_json(data: Any) -> str:
    """Stable JSON for ``--json`` output: the contract's structures as on the wire."""
    return json.dumps(protocol.to_wire(data), indent=2, sort_keys=True)
