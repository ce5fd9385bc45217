"""The TUI's connection to the daemon: the boundary the app is built around.

The app is given a link (``LapseApp(link, …)``), so a test can hand it one
that talks to a real daemon in a temporary folder. Every method here blocks:
the app calls them from thread workers, never from the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from core.client import Client, ensure_daemon
from core.model import protocol
from core.model.errors import DaemonUnavailable
from core.paths import Paths


class Link(Protocol):
    """What the app needs from the daemon."""

    def connect(self) -> protocol.HelloReply:
        """Make sure a daemon answers (starting one if need be); return its hello."""
        ...

    def events(self) -> Iterator[protocol.Event]:
        """Subscribe and yield events; the first is a state event with the status, then the
        running run's plan if there is one.

        Ends (or raises :class:`DaemonUnavailable`) when the daemon goes away.
        """
        ...

    def command(self, command: protocol.Command) -> Any:
        """Send one command on its own connection and return its answer."""
        ...

    def close(self) -> None:
        """Hang up, waking a thread blocked in :meth:`events`; callable from any thread."""
        ...


class SocketLink:
    """A link over the daemon's unix socket, starting a daemon when none answers."""

    def __init__(self, paths: Paths, daemon_command: Sequence[str] | None) -> None:
        self.paths = paths
        self.daemon_command = daemon_command
        """How to start a daemon; None never starts one (the kiosk's is systemd's)."""
        self._listening: Client | None = None
        self._closed = threading.Event()
        self._starting = threading.Lock()
        """Held while this link starts a daemon: one start at a time, waited for by all."""

    def connect(self) -> protocol.HelloReply:
        if self.daemon_command is None:
            with Client(self.paths.socket, timeout=5).connect() as client:
                return client.hello()
        with self._starting:
            return ensure_daemon(self.paths, self.daemon_command)

    def events(self) -> Iterator[protocol.Event]:
        if self._closed.is_set():
            return
        client = Client(self.paths.socket, timeout=10).connect()
        self._listening = client
        if self._closed.is_set():  # closed while connecting
            client.close()
            return
        try:
            subscribed = client.subscribe()
            yield protocol.StateEvent(subscribed.status)
            if subscribed.plan is not None:
                yield subscribed.plan
            yield from client.events(timeout=None)
        finally:
            self._listening = None
            client.close()

    def close(self) -> None:
        self._closed.set()
        client = self._listening
        if client is not None:
            client.shutdown()

    def command(self, command: protocol.Command) -> Any:
        try:
            client = Client(self.paths.socket, timeout=30).connect()
        except DaemonUnavailable:
            if self.daemon_command is None:
                raise
            # The daemon this link starts may still be coming up (start pressed as the
            # screen opened): the command waits for it, as the screen does, not refused.
            self.connect()
            client = Client(self.paths.socket, timeout=30).connect()
        with client:
            return client.request(command)


__all__ = ["DaemonUnavailable", "Link", "SocketLink"]
