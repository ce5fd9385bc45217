"""Telling systemd the daemon is ready, and alive only while it truly makes progress.

Under ``Type=notify`` with ``WatchdogSec=``, systemd restarts a daemon that
stops sending ``WATCHDOG=1``. A daemon that holds its socket while its timing
thread or its socket loop is stuck would otherwise look alive for ever. So the
watchdog is fed only while every probe says its part keeps up: the socket
loop's heartbeat (:class:`LoopBeat`) and the run's timing thread
(:meth:`core.daemon.engine.Engine.stalled`). The restarted daemon resumes the
run on its grid (docs/architecture.md §9).

Nothing here runs outside systemd: with no ``NOTIFY_SOCKET`` there is no
:class:`SystemdNotifier` and no watchdog.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from core.clock import Clock
from core.model.durations import NS_PER_S

log = logging.getLogger("lapse.daemon")

Probe = Callable[[int], str | None]
"""Given the monotonic time now, why a part of the daemon looks stuck, or None."""

GRACE_NS = 10 * NS_PER_S
"""How far behind a part may fall before the watchdog is no longer fed."""
BEAT_NS = NS_PER_S
"""How often the socket loop beats."""


@dataclass(frozen=True)
class SystemdNotifier:
    """Sends ``sd_notify`` messages to the socket systemd named."""

    address: str | bytes
    """A path, or an abstract socket name (``@…`` in the environment, a NUL byte here)."""
    watchdog_ns: int | None
    """The watchdog's timeout when systemd set one for this process; None otherwise."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], pid: int) -> SystemdNotifier | None:
        """The notifier systemd's environment describes for process ``pid``, or None."""
        where = environ.get("NOTIFY_SOCKET", "")
        if not where:
            return None
        address: str | bytes = "\0" + where[1:] if where.startswith("@") else where
        watchdog_ns: int | None = None
        usec = environ.get("WATCHDOG_USEC", "")
        # WATCHDOG_PID names the process the timeout is for: never a child's.
        for_us = environ.get("WATCHDOG_PID", str(pid)) == str(pid)
        if usec.isascii() and usec.isdigit() and int(usec) > 0 and for_us:
            watchdog_ns = int(usec) * 1000
        return cls(address, watchdog_ns)

    def send(self, state: str) -> None:
        """Send ``state`` (``READY=1``, ``WATCHDOG=1``…); a failure is logged, never raised."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto(state.encode(), self.address)
            except OSError as error:
                log.warning("could not tell systemd %s: %s", state.split("\n")[0], error)


class LoopBeat:
    """The socket loop's heartbeat: a callback the loop runs every :data:`BEAT_NS`."""

    def __init__(self, clock: Clock, beat_ns: int = BEAT_NS) -> None:
        self.clock = clock
        self.beat_ns = beat_ns
        self.last_ns = clock.now_ns()
        """When the loop last ran the beat."""
        self._handle: asyncio.TimerHandle | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Begin beating on ``loop`` (called on the loop)."""
        self._beat(loop)

    def stop(self) -> None:
        """Stop beating."""
        if self._handle is not None:
            self._handle.cancel()

    def _beat(self, loop: asyncio.AbstractEventLoop) -> None:
        self.last_ns = self.clock.now_ns()
        self._handle = loop.call_later(self.beat_ns / NS_PER_S, self._beat, loop)

    def stalled(self, now_ns: int, grace_ns: int = GRACE_NS) -> str | None:
        """Why the loop looks stuck at ``now_ns``, or None while it beats."""
        silent = now_ns - self.last_ns
        if silent > self.beat_ns + grace_ns:
            return f"the socket loop has not run for {silent / 1e9:.1f}s"
        return None


class Watchdog:
    """Feeds systemd's watchdog while every probe says its part keeps up."""

    def __init__(
        self,
        clock: Clock,
        notifier: SystemdNotifier,
        probes: Sequence[Probe],
        period_ns: int,
    ) -> None:
        self.clock = clock
        self.notifier = notifier
        self.probes = tuple(probes)
        self.period_ns = period_ns
        self.stuck: str | None = None
        """Why the last tick did not feed; None when it did."""
        self._stop = clock.event()

    def tick(self) -> str | None:
        """Feed the watchdog if every part keeps up; else say why not (logged once a spell)."""
        now = self.clock.now_ns()
        stuck = next((reason for probe in self.probes if (reason := probe(now))), None)
        if stuck is None:
            self.notifier.send("WATCHDOG=1")
        elif stuck != self.stuck:
            log.error("not feeding systemd's watchdog: %s", stuck)
        self.stuck = stuck
        return stuck

    def start(self) -> None:
        """Tick every ``period_ns`` on a thread of its own until :meth:`stop`."""
        self.clock.start_thread(self._run, "lapse-watchdog")

    def stop(self) -> None:
        """Stop ticking."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self.clock.wait_until(self.clock.now_ns() + self.period_ns, self._stop, precise=False)


def grace_for(notifier: SystemdNotifier) -> int:
    """How far behind a part may fall: :data:`GRACE_NS`, or less under a short timeout, so
    that a stuck part is noticed before systemd's own timeout runs out."""
    assert notifier.watchdog_ns is not None
    return min(GRACE_NS, notifier.watchdog_ns // 2)


def watchdog_for(
    clock: Clock, environ: Mapping[str, str], probes: Sequence[Callable[[int, int], str | None]]
) -> tuple[SystemdNotifier | None, Watchdog | None]:
    """The notifier systemd asked for, and a watchdog when it set a timeout (else None).

    Each probe is called with the time now and the grace (:func:`grace_for`).
    """
    notifier = SystemdNotifier.from_environ(environ, os.getpid())
    if notifier is None or notifier.watchdog_ns is None:
        return notifier, None
    grace = grace_for(notifier)
    bound = [lambda now, probe=probe: probe(now, grace) for probe in probes]
    # Fed twice per timeout, as sd_watchdog_enabled(3) advises.
    return notifier, Watchdog(clock, notifier, bound, notifier.watchdog_ns // 2)
