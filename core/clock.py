"""Clocks: the monotonic nanosecond time everything is scheduled on.

``SystemClock`` sleeps until shortly before a deadline and then spins, so a
shutter lands within microseconds; ``FakeClock`` jumps straight to each
deadline, so a 30-day run takes a second of test time. Nothing else in
``core`` calls ``time``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

SPIN_NS = 2_000_000
"""How long before a precise deadline the sleep ends and the spin begins.

Longer than a wake-up is late on a loaded Pi (about 1 ms at p99) and short
enough that one spin per frame costs nothing at long intervals.
"""


class Clock(Protocol):
    """Time for the engine: monotonic ns for scheduling, wall ns for display."""

    def now_ns(self) -> int:
        """Monotonic time in nanoseconds."""
        ...

    def wall_ns(self) -> int:
        """Wall-clock time in nanoseconds since the epoch (display and re-anchoring)."""
        ...

    def boot_id(self) -> str:
        """Identifies this boot: monotonic times are comparable only within one."""
        ...

    def wait_until(
        self, deadline_ns: int, cancel: threading.Event | None = None, *, precise: bool = False
    ) -> bool:
        """Return at ``deadline_ns`` or later, never earlier; False if ``cancel`` was set.

        ``precise`` asks for the last stretch to be spun rather than slept.
        """
        ...


Sleep = Callable[[threading.Event, float], bool]
"""Wait on an event for up to a number of seconds; True if it was set (``threading.Event.wait``)."""


class SystemClock:
    """The machine's monotonic clock.

    A precise wait sleeps until ``spin_ns`` before its deadline and then spins
    on the clock, because a sleeping thread wakes up to a millisecond late on a
    loaded Pi while a spinning one sees the deadline within a clock read. The
    time source and the sleep are parameters so that a test can check this
    mechanism on simulated time, not with a stopwatch.
    """

    def __init__(
        self,
        spin_ns: int = SPIN_NS,
        *,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        sleep: Sleep = threading.Event.wait,
    ) -> None:
        self.spin_ns = spin_ns
        self._monotonic_ns = monotonic_ns
        self._sleep = sleep
        self._boot_id: str | None = None

    def now_ns(self) -> int:
        return self._monotonic_ns()

    def wall_ns(self) -> int:
        return time.time_ns()

    def boot_id(self) -> str:
        if self._boot_id is None:
            try:
                with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as file:
                    self._boot_id = file.read().strip()
            except OSError:
                # Without a boot id, assume a new boot: re-anchoring through
                # the wall clock is always safe, trusting a stale one is not.
                self._boot_id = f"unknown-{time.time_ns()}"
        return self._boot_id

    def wait_until(
        self, deadline_ns: int, cancel: threading.Event | None = None, *, precise: bool = False
    ) -> bool:
        event = cancel if cancel is not None else threading.Event()
        now_ns, sleep = self._monotonic_ns, self._sleep
        wake_at = deadline_ns - (self.spin_ns if precise else 0)
        while True:
            # A sleep may end early (a signal, a coarse timer): sleep again until wake_at.
            now = now_ns()
            if now >= wake_at:
                break
            if sleep(event, (wake_at - now) / 1e9):
                return False
        if event.is_set():
            return False
        while now_ns() < deadline_ns:
            pass
        return True


class FakeClock:
    """A clock that jumps to each deadline: long runs in no time.

    ``advance`` lets a fake device take time (a camera busy for 2 minutes).
    """

    def __init__(self, start_ns: int = 1_000_000_000_000, wall_start_ns: int | None = None) -> None:
        self._now = start_ns
        wall = 1_800_000_000 * 10**9 if wall_start_ns is None else wall_start_ns
        self._wall_offset = wall - start_ns
        self._lock = threading.Lock()
        self.boot = "fake-boot"

    def now_ns(self) -> int:
        return self._now

    def wall_ns(self) -> int:
        return self._now + self._wall_offset

    def boot_id(self) -> str:
        return self.boot

    def advance(self, ns: int) -> None:
        """Move time forward by ``ns`` (never back)."""
        with self._lock:
            self._now += max(0, ns)

    def wait_until(
        self, deadline_ns: int, cancel: threading.Event | None = None, *, precise: bool = False
    ) -> bool:
        if cancel is not None and cancel.is_set():
            return False
        with self._lock:
            self._now = max(self._now, deadline_ns)
        return True


def wall_iso(wall_ns: int) -> str:
    """ISO-8601 with the local zone, to the microsecond: for journals and display."""
    seconds, rest = divmod(wall_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC).astimezone().replace(microsecond=rest // 1000)
    return moment.isoformat(timespec="microseconds")
