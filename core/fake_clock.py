"""A fake clock for tests and simulations: time moves only when everything waits.

The threads that take part in a daemon's time (the timing thread, the
journal thread, the camera's thread and its I/O thread) are started by the
clock, and wait only through it: :meth:`FakeClock.wait_until`, its events and
its queues. While any of them has work, time stands still, however long that
work takes for real; once all of them wait, time jumps to the earliest
deadline among the waiters (trio's autojump clock, for threads). So a run of
a month takes as long as its work, a camera call that hangs for 30 s costs
nothing, and the order of what happens depends on the times asked for, not
on how the machine schedules threads.

A thread that the clock did not start (a test's own thread) may wait on it
too; the clock never waits for such a thread to act, as if it were
infinitely slow. That is the whole of the old single-threaded fake clock:
waiting on it from a lone thread jumps straight to the deadline.

Waking is handed over under the clock's lock: whoever makes a waiter ready
(puts on its queue, sets its event, or moves time past its deadline) counts
it busy again before letting go, so time can never jump in the gap between
one thread waking another and that thread running.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from core.clock import Event

FOREIGN_EVENT_POLL_S = 0.01
"""How often a wait re-checks a cancel event the clock does not own (a ``threading.Event``
set by a thread that cannot tell the clock)."""


class _Waiter:
    __slots__ = ("deadline", "participant", "ready", "woken")

    def __init__(
        self, deadline: int | None, ready: Callable[[], bool] | None, participant: bool
    ) -> None:
        self.deadline = deadline
        self.ready = ready
        self.participant = participant
        self.woken = False


class FakeClock:
    """Monotonic and wall time that move only when every thread taking part waits.

    ``advance`` moves time by hand (a device that takes a while), ``set_wall`` sets the
    wall clock alone (as ``date`` or network time would); :attr:`boot` is the boot id
    the clock reports and :attr:`synced` what it says of the wall clock's source.
    """

    def __init__(self, start_ns: int = 1_000_000_000_000, wall_start_ns: int | None = None) -> None:
        self._now = start_ns
        wall = 1_800_000_000 * 10**9 if wall_start_ns is None else wall_start_ns
        self._wall_offset = wall - start_ns
        self._mutex = threading.Lock()
        self._changed = threading.Condition(self._mutex)
        self._busy = 0
        """Threads started by this clock that are not waiting on it."""
        self._waiters: list[_Waiter] = []
        self._participants: set[int] = set()
        """Thread ids of the threads this clock started."""
        self.boot = "fake-boot"
        self.synced: bool | None = True
        """What :meth:`synchronised` answers: a set clock unless a test says otherwise."""

    # -- time --------------------------------------------------------------------------
    def now_ns(self) -> int:
        return self._now

    def wall_ns(self) -> int:
        return self._now + self._wall_offset

    def boot_id(self) -> str:
        return self.boot

    def synchronised(self) -> bool | None:
        return self.synced

    def set_wall(self, wall_ns: int) -> None:
        """Set the wall clock to ``wall_ns`` (either way); the monotonic clock runs on."""
        with self._mutex:
            self._wall_offset = wall_ns - self._now

    def advance(self, ns: int) -> None:
        """Move time forward by ``ns`` (never back), waking whoever's deadline passed."""
        with self._mutex:
            self._now += max(0, ns)
            self._settle()

    def wait_until(
        self, deadline_ns: int, cancel: Event | None = None, *, precise: bool = False
    ) -> bool:
        if cancel is None:
            with self._mutex:
                self._block(deadline_ns, None)
            return True
        if cancel.is_set():
            return False
        with self._mutex:
            # Only this clock's own events wake a waiter when set; poll any other.
            ours = isinstance(cancel, _FakeEvent) and cancel._clock is self
            self._block(deadline_ns, cancel.is_set, poll=not ours)
        return not cancel.is_set()

    # -- what threads wait with --------------------------------------------------------
    def event(self) -> _FakeEvent:
        return _FakeEvent(self)

    def queue(self) -> _FakeQueue:
        return _FakeQueue(self)

    def start_thread(self, target: Callable[[], object], name: str) -> threading.Thread:
        with self._mutex:
            self._busy += 1  # counted from now: time must not jump before it first runs

        def run() -> None:
            me = threading.get_ident()
            with self._mutex:
                self._participants.add(me)
            try:
                target()
            finally:
                self._leave(me)

        thread = threading.Thread(target=run, name=name, daemon=True)
        try:
            thread.start()
        except BaseException:
            self._leave(None)  # it never ran: do not hold time for it
            raise
        return thread

    @contextlib.contextmanager
    def taking_part(self) -> Iterator[None]:
        """Count the calling thread (one this clock did not start) as taking part while
        inside: time waits for it as for the clock's own threads, so a test can start a
        run and script a camera without time racing ahead between its statements.

        Inside, wait only on this clock (its events, queues and ``wait_until``):
        time cannot move while a thread taking part waits on anything else.
        """
        me = threading.get_ident()
        with self._mutex:
            if me in self._participants:
                raise RuntimeError("this thread already takes part in the clock's time")
            self._participants.add(me)
            self._busy += 1
        try:
            yield
        finally:
            self._leave(me)

    def _leave(self, thread_id: int | None) -> None:
        """A thread stops taking part (it ended, or left ``taking_part``): time may move."""
        with self._mutex:
            if thread_id is not None:
                self._participants.discard(thread_id)
            self._busy -= 1
            self._settle()

    # -- the machinery, always under self._mutex---------------------------------------
    def _deadline_after(self, timeout_s: float | None) -> int | None:
        return None if timeout_s is None else self._now + max(0, round(timeout_s * 1e9))

    def _block(
        self, deadline: int | None, ready: Callable[[], bool] | None, *, poll: bool = False
    ) -> None:
        """Wait until ``ready()`` or time reaches ``deadline``; the caller holds the lock."""
        participant = threading.get_ident() in self._participants
        if ready is not None and ready():
            return
        if deadline is not None and not self._waiters and self._busy == int(participant):
            # The only thread that could act is this one: jump (a lone engine's every step).
            self._now = max(self._now, deadline)
            return
        waiter = _Waiter(deadline, ready, participant)
        if waiter.participant:
            self._busy -= 1
        self._waiters.append(waiter)
        self._settle()
        while not waiter.woken:
            self._changed.wait(FOREIGN_EVENT_POLL_S if poll else None)
            if poll and not waiter.woken:
                self._settle()

    def _settle(self) -> None:
        """Wake the waiters that are ready; while no thread of ours is busy, jump time."""
        self._wake_ready()
        while self._busy == 0:
            deadlines = [w.deadline for w in self._waiters if w.deadline is not None]
            if not deadlines:
                break
            self._now = max(self._now, min(deadlines))
            self._wake_ready()
        self._changed.notify_all()

    def _wake_ready(self) -> None:
        still: list[_Waiter] = []
        for waiter in self._waiters:
            due = waiter.deadline is not None and self._now >= waiter.deadline
            if due or (waiter.ready is not None and waiter.ready()):
                waiter.woken = True
                if waiter.participant:
                    self._busy += 1  # handed over now, before the waker lets go of the lock
            else:
                still.append(waiter)
        self._waiters = still


class _FakeEvent:
    """``threading.Event`` on a :class:`FakeClock`."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._flag = False

    def set(self) -> None:
        with self._clock._mutex:
            self._flag = True
            self._clock._settle()

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None = None) -> bool:
        clock = self._clock
        with clock._mutex:
            if not self._flag:
                clock._block(clock._deadline_after(timeout), self.is_set)
            return self._flag


class _FakeQueue:
    """``queue.SimpleQueue`` on a :class:`FakeClock`."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._items: deque[Any] = deque()

    def put(self, item: Any) -> None:
        with self._clock._mutex:
            self._items.append(item)
            self._clock._settle()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        clock = self._clock
        with clock._mutex:
            deadline = clock._deadline_after(timeout if block else 0)
            while not self._items:
                if deadline is not None and clock.now_ns() >= deadline:
                    raise queue.Empty
                clock._block(deadline, self._has_items)
            return self._items.popleft()

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def _has_items(self) -> bool:
        return bool(self._items)
