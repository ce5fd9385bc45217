"""The user's commands run on the daemon's events (``[hooks]``, docs/architecture.md §14).

- Each event with a command has a thread of its own (``lapse-hook-<event>``) and a queue
  (:class:`~core.model.hooks.Waiting`): a hook runs one at a time, in the order of its
  events, and a slow ``frame_saved`` hook never holds back a ``run_ended`` one.
- A hook is an argument list started with ``posix_spawn`` in the ordinary scheduling
  class and a session of its own (:mod:`core.daemon.children`), told the facts in
  ``LAPSE_*`` variables. One still running after ``[hooks] timeout`` is ended, with
  whatever it started.
- :meth:`Hooks.hear` only queues: it is called where the daemon publishes its events
  (the journal thread, the socket loop), which must never wait for a hook. Drops are
  logged and published by the hook's own thread, once after each hook it runs.
- A failure or a timeout is logged and shown in the status (:class:`HooksStatus`); it
  never touches a run.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping

from core.daemon.children import run_bounded
from core.model.durations import NS_PER_S, format_duration
from core.model.hooks import Happening, HookEvent, HooksConfig, Waiting
from core.model.protocol import HooksStatus

log = logging.getLogger("lapse.hooks")


class Hooks:
    """The hooks' threads and queues.

    ``environ`` is the environment every hook starts from (the daemon's); ``changed`` is
    called when the status changes.
    """

    def __init__(
        self,
        config: HooksConfig,
        environ: Mapping[str, str],
        changed: Callable[[], None],
    ) -> None:
        self.config = config
        self.environ = dict(environ)
        self.changed = changed
        self._lock = threading.Condition()
        self._lanes = {event: Waiting(config.queue) for event in config.events}
        self._closing = False
        self._stop_read, self._stop_write = os.pipe()
        self._ran = 0
        self._failed = 0
        self._running = 0
        self._last_error: str | None = None
        self._threads: list[threading.Thread] = []

    @property
    def wanted(self) -> bool:
        """Any event has a command."""
        return bool(self._lanes)

    def start(self) -> None:
        """Start one thread per event with a command."""
        for event in self._lanes:
            thread = threading.Thread(
                target=self._work, args=(event,), name=f"lapse-hook-{event}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def hear(self, happening: Happening) -> None:
        """Queue ``happening`` for its hook, if it has one (never waits)."""
        lane = self._lanes.get(happening.event)
        if lane is None:
            return
        with self._lock:
            lane.put(happening)  # a drop is said by the hook's thread, after its hook
            self._lock.notify_all()

    def status(self) -> HooksStatus:
        """How the hooks keep up."""
        with self._lock:
            return HooksStatus(
                waiting=sum(len(lane) for lane in self._lanes.values()) + self._running,
                dropped=sum(lane.dropped for lane in self._lanes.values()),
                ran=self._ran,
                failed=self._failed,
                last_error=self._last_error,
            )

    def close(self, wait_s: float = 5.0) -> None:
        """Stop: a hook still running is ended; waiting events are not run."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._lock.notify_all()
        os.write(self._stop_write, b"x")
        for thread in self._threads:
            thread.join(wait_s)
        if not any(thread.is_alive() for thread in self._threads):
            os.close(self._stop_read)  # a hook still ending keeps watching it
            os.close(self._stop_write)

    # -- the threads ----------------------------------------------------------------------
    def _work(self, event: HookEvent) -> None:
        lane = self._lanes[event]
        told_drops = 0
        while True:
            with self._lock:
                while not self._closing and not len(lane):
                    self._lock.wait()
                if self._closing:
                    return
                happening = lane.take()
                self._running += 1
            assert happening is not None
            try:
                error = self._run(event, happening)
            except Exception as unexpected:  # a bug here must not end the hook's thread
                log.exception("hook %s", event)
                error = f"the hook could not run: {unexpected!r}"
            with self._lock:
                self._running -= 1
                self._ran += 1
                if error is not None:
                    self._failed += 1
                    self._last_error = f"{event}: {error}"
                drops, told_drops = lane.dropped - told_drops, lane.dropped
            if error is not None:
                log.warning("hook %s (run %s) failed: %s", event, happening.run, error)
            if drops:
                log.warning(
                    "hook %s fell behind: %d more waiting frames dropped, the oldest first"
                    " (%d so far)",
                    event,
                    drops,
                    told_drops,
                )
            if error is not None or drops:
                self.changed()

    def _run(self, event: HookEvent, happening: Happening) -> str | None:
        """Run the hook for ``happening``; why it failed, or None."""
        environ = {**self.environ, **happening.environ()}
        timeout_s = self.config.timeout_ns / NS_PER_S
        ended = run_bounded(self.config.command(event), environ, timeout_s, stop=self._stop_read)
        if self._closing:
            return None
        if ended.timed_out:
            limit = format_duration(self.config.timeout_ns)
            said = f": {ended.said}" if ended.said else ""
            return f"ran out of time ({limit}) and was ended{said}"
        if ended.code is None:
            return ended.said
        if ended.code != 0:
            said = f": {ended.said}" if ended.said else ""
            if ended.code < 0:
                return f"ended by signal {-ended.code}{said}"
            return f"exit status {ended.code}{said}"
        return None
