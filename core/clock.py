"""Clocks: the monotonic nanosecond time everything is scheduled on.

``SystemClock`` sleeps until shortly before a deadline and then spins, so a
shutter lands within microseconds. :class:`core.fake_clock.FakeClock` moves
time only when every thread that takes part waits, so a 30-day run takes a
second of test time and a camera that hangs for 30 s takes none.

Threads that wait on time (the timing thread, the journal thread, the
camera's threads) get their events, queues and threads from their clock:
on the system clock these are the standard library's, on the fake clock
they tell it when a thread waits and when it is woken. Nothing else in
``hw.camera`` or in the daemon's part of ``core`` calls ``time``; the one
exception in ``core`` is the client (``core.client``), which waits in real
time for a daemon process it has just started.

A thread that takes part in a :class:`core.fake_clock.FakeClock` must wait
only through the clock: a wait the clock cannot see (a ``threading.Event``,
a ``join``) counts as work, and holds fake time still until it ends.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.model.durations import NS_PER_S
from core.model.scheduler import SPIN_NS


class Event(Protocol):
    """What a clock's :meth:`Clock.event` gives: the part of ``threading.Event`` lapse uses."""

    def set(self) -> None:
        """Wake every thread waiting on the event, and every later one at once."""
        ...

    def is_set(self) -> bool:
        """Whether :meth:`set` was called."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until set or ``timeout`` seconds on the clock passed; whether it is set."""
        ...


class Queue(Protocol):
    """What a clock's :meth:`Clock.queue` gives: the part of ``queue.SimpleQueue`` lapse uses."""

    def put(self, item: Any) -> None:
        """Add ``item``; never blocks."""
        ...

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """The oldest item; :class:`queue.Empty` after ``timeout`` seconds on the clock."""
        ...

    def get_nowait(self) -> Any:
        """The oldest item, or :class:`queue.Empty` at once."""
        ...


class Clock(Protocol):
    """Time for the engine and the threads around it: monotonic ns for scheduling,
    wall ns for display, and the primitives their threads wait with."""

    def now_ns(self) -> int:
        """Monotonic time in nanoseconds."""
        ...

    def wall_ns(self) -> int:
        """Wall-clock time in nanoseconds since the epoch (display and re-anchoring)."""
        ...

    def boot_id(self) -> str:
        """Identifies this boot: monotonic times are comparable only within one."""
        ...

    def synchronised(self) -> bool | None:
        """Whether the system says its wall clock is set from a time source (network
        time); None when it cannot tell."""
        ...

    def wait_until(
        self, deadline_ns: int, cancel: Event | None = None, *, precise: bool = False
    ) -> bool:
        """Return at ``deadline_ns`` or later, never earlier; False if ``cancel`` was set.

        ``precise`` asks for the last stretch to be spun rather than slept.
        """
        ...

    def event(self) -> Event:
        """A new event whose waits are measured on this clock."""
        ...

    def queue(self) -> Queue:
        """A new unbounded queue whose waits are measured on this clock."""
        ...

    def start_thread(self, target: Callable[[], object], name: str) -> threading.Thread:
        """Start ``target`` on a new daemon thread that takes part in this clock's time."""
        ...


def sleep_ns(clock: Clock, duration_ns: int) -> None:
    """Let ``duration_ns`` pass on ``clock`` (a retry's back-off, a camera that takes time)."""
    clock.wait_until(clock.now_ns() + duration_ns)


Sleep = Callable[[Event, float], bool]
"""Wait on an event for up to a number of seconds; True if it was set."""


def _event_wait(event: Event, seconds: float) -> bool:
    return event.wait(seconds)


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
        sleep: Sleep = _event_wait,
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

    def synchronised(self) -> bool | None:
        kernel = kernel_clock_synchronised()
        if kernel is not True and clock_chip_agrees(self.wall_ns()):
            return True
        return kernel

    def wait_until(
        self, deadline_ns: int, cancel: Event | None = None, *, precise: bool = False
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

    def event(self) -> threading.Event:
        return threading.Event()

    def queue(self) -> queue.SimpleQueue[Any]:
        return queue.SimpleQueue()

    def start_thread(self, target: Callable[[], object], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread


STA_UNSYNC = 0x0040
"""``adjtimex`` status bit: the kernel's clock is not synchronised (``<sys/timex.h>``)."""
MAX_SYNCED_ERROR_US = 16_000_000
"""A clock whose maximum error reached 16 s (the kernel's ``NTP_PHASE_LIMIT``) has lost
its synchronisation, as systemd counts it (``timedatectl``'s "System clock synchronized")."""


RTC_CLASS = Path("/sys/class/rtc")
"""Where the kernel lists clock chips (``rtc0``…), each with its time in ``since_epoch``."""
CHIP_AGREES_NS = 2 * NS_PER_S
"""A clock chip within this of the wall clock keeps the same time (it counts whole seconds)."""


def clock_chip_agrees(wall_ns: int, rtc_class: Path | None = None) -> bool:
    """True when a clock chip (a battery-backed RTC) reads the same time as the wall clock.

    The kernel calls a clock unsynchronised until network time disciplines it, even
    when a clock chip set it at boot: a Pi in the field with a chip and no network would
    then wait for the clock after every power cut, and its run would never resume by
    itself. A chip that agrees with the wall clock is the clock lapse trusts offline; one
    whose battery died reads a time long past, which the journal's check still refuses.
    A clock set by hand, or by fake-hwclock (no chip), finds no chip to agree with it.
    """
    try:
        chips = list((rtc_class or RTC_CLASS).iterdir())
    except OSError:
        return False
    for chip in chips:
        try:
            seconds = int((chip / "since_epoch").read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            continue
        if abs(seconds * NS_PER_S - wall_ns) <= CHIP_AGREES_NS:
            return True
    return False


FREQ_SCALE = 65_536
"""``struct timex``'s ``freq`` is parts per million with a 16-bit fraction."""


@dataclass(frozen=True)
class KernelClock:
    """What ``adjtimex`` says of the kernel's clock (read only)."""

    synchronised: bool
    """A time daemon disciplines it (see :func:`kernel_clock_synchronised`)."""
    freq_ppm: float
    """How fast the kernel runs the clock beyond its crystal, in parts per million: the
    time daemon's correction, so the crystal's own error is its negative. It stays until
    the next boot even when the time source is gone."""
    maxerror_us: int
    """The kernel's bound on the clock's error, in µs."""


def read_kernel_clock() -> KernelClock | None:
    """The kernel's word on its clock: ``adjtimex`` read-only (``modes`` 0, no privilege
    needed), as ``timedatectl`` and ``chronyc tracking`` read it; None where it cannot
    be read."""
    import ctypes

    class Timex(ctypes.Structure):
        # The leading fields of ``struct timex`` (``long`` in both the 32- and 64-bit ABI
        # of the ``adjtimex`` symbol), and room for the rest, which lapse does not read.
        _fields_ = (
            ("modes", ctypes.c_uint),
            ("offset", ctypes.c_long),
            ("freq", ctypes.c_long),
            ("maxerror", ctypes.c_long),
            ("esterror", ctypes.c_long),
            ("status", ctypes.c_int),
            ("rest", ctypes.c_char * 512),
        )

    try:
        adjtimex = ctypes.CDLL(None, use_errno=True).adjtimex
    except (OSError, AttributeError):  # not Linux, or a libc without it
        return None
    timex = Timex()
    if adjtimex(ctypes.byref(timex)) == -1:
        return None
    return KernelClock(
        synchronised=not timex.status & STA_UNSYNC and timex.maxerror < MAX_SYNCED_ERROR_US,
        freq_ppm=timex.freq / FREQ_SCALE,
        maxerror_us=timex.maxerror,
    )


def kernel_clock_synchronised() -> bool | None:
    """Whether the kernel says a time daemon disciplines its wall clock; None where it
    cannot be read.

    The kernel keeps STA_UNSYNC set from boot until a time daemon (systemd-timesyncd on
    Raspberry Pi OS, chrony, ntpd) disciplines the clock, and sets it again when the clock
    is stepped by hand or the daemon stops. A clock chip or fake-hwclock restoring the time
    at boot leaves it set: they restore a time, they do not vouch for it. It is read here
    rather than systemd-timesyncd's ``/run/systemd/timesync/synchronized`` because every
    time daemon reports through it, while that file exists only under timesyncd.
    """
    kernel = read_kernel_clock()
    return None if kernel is None else kernel.synchronised
