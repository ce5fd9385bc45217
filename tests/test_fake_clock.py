"""The fake clock's promise: time moves only when every thread taking part waits.

Every other fake-time test leans on this, so it is checked on its own, with
threads that really run: a busy thread holds time still however long it
works for real, a hand-over wakes the next thread before time can move,
and time jumps straight to the earliest deadline.
"""

from __future__ import annotations

import queue
import threading
import time

import pytest

from core.clock import sleep_ns
from core.fake_clock import FakeClock
from core.model.durations import NS_PER_MS, NS_PER_S

REAL_GUARD_S = 30.0
"""How long a test waits in real time for threads that should finish at once: a guard
against a hang, never a measure of speed."""


def test_a_lone_thread_jumps_straight_to_its_deadline() -> None:
    clock = FakeClock(start_ns=0)
    assert clock.wait_until(5 * NS_PER_S)
    assert clock.now_ns() == 5 * NS_PER_S
    assert clock.wait_until(NS_PER_S), "a deadline already passed returns at once"
    assert clock.now_ns() == 5 * NS_PER_S, "time never goes back"
    assert clock.wall_ns() - clock.now_ns() == 1_800_000_000 * NS_PER_S


def test_advance_never_moves_time_back() -> None:
    clock = FakeClock(start_ns=100)
    clock.advance(-50)
    assert clock.now_ns() == 100
    clock.advance(50)
    assert clock.now_ns() == 150


def test_time_stands_still_while_a_thread_taking_part_works() -> None:
    clock = FakeClock(start_ns=0)
    working = threading.Event()
    done = threading.Event()
    seen: list[int] = []

    def worker() -> None:
        working.set()
        time.sleep(0.2)  # real work, however long: no fake time passes
        seen.append(clock.now_ns())
        done.set()

    waiter_woke: list[int] = []

    def waiter() -> None:
        assert working.wait(REAL_GUARD_S)
        clock.wait_until(NS_PER_MS)  # wants time to move; must wait for the worker
        waiter_woke.append(clock.now_ns())

    clock.start_thread(worker, "worker")
    thread = clock.start_thread(waiter, "waiter")
    thread.join(REAL_GUARD_S)
    assert done.is_set() and seen == [0], "time moved while the worker was busy"
    assert waiter_woke == [NS_PER_MS]


def test_a_thread_outside_the_clock_waits_for_the_threads_taking_part() -> None:
    # A test's own thread waiting on the clock moves time only once every thread taking
    # part waits too: it must not jump while the clock's own threads are busy.
    clock = FakeClock(start_ns=0)
    working, go = threading.Event(), threading.Event()
    seen: list[int] = []

    def worker() -> None:
        working.set()
        assert go.wait(REAL_GUARD_S)  # busy outside the clock, as far as it can tell
        seen.append(clock.now_ns())

    clock.start_thread(worker, "worker")
    assert working.wait(REAL_GUARD_S)
    woke: list[int] = []
    outsider = threading.Thread(
        target=lambda: (clock.wait_until(NS_PER_S), woke.append(clock.now_ns())), daemon=True
    )
    outsider.start()
    # Let the worker go once the outsider waits on the clock (or, wrongly, has jumped).
    guard = time.monotonic() + REAL_GUARD_S
    while not woke and not clock._waiters:
        assert time.monotonic() < guard, "the outsider never waited"
        time.sleep(0.001)
    go.set()
    outsider.join(REAL_GUARD_S)
    assert seen == [0], "time moved while the worker was busy"
    assert woke == [NS_PER_S]


def test_time_jumps_to_the_earliest_deadline_among_the_waiters() -> None:
    clock = FakeClock(start_ns=0)
    woke: list[tuple[str, int]] = []
    lock = threading.Lock()

    def sleeper(name: str, seconds: int) -> None:
        clock.wait_until(seconds * NS_PER_S)
        with lock:
            woke.append((name, clock.now_ns()))

    # Taking part while starting them: else the first one could wait alone and have
    # time jump to its deadline before the others exist.
    with clock.taking_part():
        threads = [
            clock.start_thread(lambda n=name, s=seconds: sleeper(n, s), name)
            for name, seconds in (("c", 30), ("a", 1), ("b", 7))
        ]
    for thread in threads:
        thread.join(REAL_GUARD_S)
    assert sorted(woke, key=lambda item: item[1]) == [
        ("a", NS_PER_S),
        ("b", 7 * NS_PER_S),
        ("c", 30 * NS_PER_S),
    ]


def test_a_put_hands_the_next_thread_over_before_time_can_move() -> None:
    # A ping-pong of 200 hand-overs, each side with a far deadline it never reaches:
    # if a woken thread were not counted busy at once, the clock would jump to the
    # deadline in the gap and a get would time out.
    clock = FakeClock(start_ns=0)
    ping, pong = clock.queue(), clock.queue()
    timeouts: list[str] = []

    def side(name: str, inbox, outbox, first: bool) -> None:  # type: ignore[no-untyped-def]
        if first:
            outbox.put(0)
        for _ in range(200):
            try:
                value = inbox.get(timeout=60)
            except queue.Empty:
                timeouts.append(name)
                return
            outbox.put(value + 1)

    with clock.taking_part():
        a = clock.start_thread(lambda: side("a", ping, pong, True), "a")
        b = clock.start_thread(lambda: side("b", pong, ping, False), "b")
    a.join(REAL_GUARD_S)
    b.join(REAL_GUARD_S)
    assert timeouts == []
    assert clock.now_ns() == 0, "no fake time passed: nobody ever waited for a deadline"


def test_a_queue_get_times_out_on_the_clock() -> None:
    clock = FakeClock(start_ns=0)
    box = clock.queue()
    with pytest.raises(queue.Empty):
        box.get(timeout=2.5)
    assert clock.now_ns() == 2_500_000_000
    with pytest.raises(queue.Empty):
        box.get_nowait()
    box.put("x")
    assert box.get(timeout=10) == "x"
    assert clock.now_ns() == 2_500_000_000


def test_an_event_wakes_its_waiter_and_times_out_on_the_clock() -> None:
    clock = FakeClock(start_ns=0)
    event = clock.event()
    assert not event.wait(3)
    assert clock.now_ns() == 3 * NS_PER_S
    setter = clock.start_thread(lambda: (sleep_ns(clock, NS_PER_S), event.set()), "setter")
    assert event.wait(100), "set at 4 s, before the 103 s timeout"
    setter.join(REAL_GUARD_S)
    assert clock.now_ns() == 4 * NS_PER_S


def test_a_cancel_ends_a_wait_early() -> None:
    clock = FakeClock(start_ns=0)
    cancel = clock.event()
    result: list[bool] = []

    def engine() -> None:
        result.append(clock.wait_until(3_600 * NS_PER_S, cancel))

    with clock.taking_part():
        thread = clock.start_thread(engine, "engine")
        stopper = clock.start_thread(lambda: (sleep_ns(clock, 10 * NS_PER_S), cancel.set()), "stop")
    thread.join(REAL_GUARD_S)
    stopper.join(REAL_GUARD_S)
    assert result == [False]
    assert clock.now_ns() == 10 * NS_PER_S


def test_a_cancel_from_a_thread_outside_the_clock_is_seen() -> None:
    clock = FakeClock(start_ns=0)
    cancel = threading.Event()  # set by a thread that cannot tell the clock
    blocker = threading.Event()
    result: list[bool] = []

    def engine() -> None:
        result.append(clock.wait_until(3_600 * NS_PER_S, cancel))

    # A thread of the clock's, busy outside it (a wait the clock cannot see is work to
    # it), keeps time from jumping to the engine's deadline meanwhile.
    busy = clock.start_thread(blocker.wait, "busy")
    thread = clock.start_thread(engine, "engine")
    # Set only once the engine waits: set before, it would be seen without any polling.
    guard = time.monotonic() + REAL_GUARD_S
    while not clock._waiters:
        assert time.monotonic() < guard, "the engine never waited"
        time.sleep(0.001)
    cancel.set()
    thread.join(REAL_GUARD_S)
    assert result == [False]
    blocker.set()
    busy.join(REAL_GUARD_S)


def test_a_thread_taking_part_holds_time_until_it_waits() -> None:
    clock = FakeClock(start_ns=0)
    ticks = clock.queue()

    def ticker() -> None:
        for _ in range(3):
            sleep_ns(clock, NS_PER_S)
            ticks.put(clock.now_ns())

    with clock.taking_part():
        clock.start_thread(ticker, "ticker")
        time.sleep(0.1)  # real time: the ticker may not move the clock meanwhile
        assert clock.now_ns() == 0
        assert [ticks.get(timeout=10) for _ in range(3)] == [NS_PER_S, 2 * NS_PER_S, 3 * NS_PER_S]
    with pytest.raises(RuntimeError), clock.taking_part(), clock.taking_part():
        pass


def test_a_cancel_event_of_another_fake_clock_is_still_seen() -> None:
    clock, other = FakeClock(start_ns=0), FakeClock(start_ns=0)
    cancel = other.event()  # its set() tells the other clock, not this one
    blocker = threading.Event()
    result: list[bool] = []
    waiting = threading.Event()

    def engine() -> None:
        waiting.set()
        result.append(clock.wait_until(3_600 * NS_PER_S, cancel))

    busy = clock.start_thread(blocker.wait, "busy")  # holds this clock's time still
    thread = clock.start_thread(engine, "engine")
    assert waiting.wait(REAL_GUARD_S)
    cancel.set()
    thread.join(REAL_GUARD_S)
    assert result == [False]
    blocker.set()
    busy.join(REAL_GUARD_S)


def test_a_thread_that_cannot_start_does_not_hold_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(start_ns=0)

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    with pytest.raises(RuntimeError):
        clock.start_thread(lambda: None, "never")
    monkeypatch.undo()
    waiter = clock.start_thread(lambda: clock.wait_until(NS_PER_S), "waiter")
    waiter.join(REAL_GUARD_S)
    assert clock.now_ns() == NS_PER_S, "time moved: nobody was counted busy for the failed start"
