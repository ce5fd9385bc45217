"""systemd's notify protocol and watchdog: ready when the daemon can fire, fed only while
the timing thread and the socket loop both make progress (core/daemon/watchdog.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.clock import SystemClock, sleep_ns
from core.daemon.controller import RunController
from core.daemon.engine import Engine
from core.daemon.watchdog import GRACE_NS, LoopBeat, SystemdNotifier, Watchdog, grace_for
from core.fake_clock import FakeClock
from core.journal import Journal
from core.model.durations import HOUR_NS, NS_PER_MS, NS_PER_S
from core.model.plan import Line, make_plan
from core.model.scheduler import Grid, Scheduler
from core.model.settings import Settings
from tests.conftest import Lapse
from tests.fake_time import REAL_GUARD_S, script
from tests.rigs import RecordingRig

LISTEN_S = 20.0
"""Real seconds the daemon has to say something: a guard against a hang, not a speed."""


class Listener:
    """systemd's side: a datagram socket collecting what the daemon says."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(LISTEN_S)
        self.said: list[str] = []

    def next(self) -> str:
        message = self.sock.recv(4096).decode()
        self.said.append(message)
        return message

    def until(self, wanted: str) -> None:
        """Read until a message starting with ``wanted``; fail after LISTEN_S seconds."""
        deadline = time.monotonic() + LISTEN_S
        while not self.next().startswith(wanted):
            assert time.monotonic() < deadline, f"no {wanted} in {self.said[-5:]}"

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    # A short folder of its own: a unix socket's path is limited to about 107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="lapse-notify-"))
    made = Listener(folder / "notify")
    yield made
    made.close()
    made.path.unlink(missing_ok=True)
    folder.rmdir()


class SentNotifier(SystemdNotifier):
    """The real notifier's choices, with what it would send kept here."""

    def __init__(self) -> None:
        super().__init__(address="", watchdog_ns=20 * NS_PER_S)
        object.__setattr__(self, "sent", [])

    def send(self, state: str) -> None:
        self.sent.append(state)  # type: ignore[attr-defined]


# -- what systemd's environment says ------------------------------------------------
def test_the_notifier_reads_systemds_environment() -> None:
    assert SystemdNotifier.from_environ({}, 7) is None
    plain = SystemdNotifier.from_environ({"NOTIFY_SOCKET": "/run/systemd/notify"}, 7)
    assert plain == SystemdNotifier("/run/systemd/notify", None)
    abstract = SystemdNotifier.from_environ(
        {"NOTIFY_SOCKET": "@/org/systemd/notify", "WATCHDOG_USEC": "30000000"}, 7
    )
    assert abstract == SystemdNotifier("\0/org/systemd/notify", 30 * NS_PER_S)
    # The timeout is for the process systemd named, never a child that inherited it.
    child = SystemdNotifier.from_environ(
        {"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "8"}, 7
    )
    assert child is not None and child.watchdog_ns is None
    for garbage in ("", "0", "-5", "1e6", "३०"):
        made = SystemdNotifier.from_environ({"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": garbage}, 7)
        assert made is not None and made.watchdog_ns is None, garbage


def test_a_short_timeout_shortens_the_grace() -> None:
    assert grace_for(SystemdNotifier("/n", 60 * NS_PER_S)) == GRACE_NS
    assert grace_for(SystemdNotifier("/n", 2 * NS_PER_S)) == NS_PER_S


def test_a_message_reaches_the_socket(listener: Listener) -> None:
    SystemdNotifier(str(listener.path), None).send("READY=1\nSTATUS=ready")
    assert listener.next() == "READY=1\nSTATUS=ready"


def test_a_socket_that_is_gone_is_logged_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lapse.daemon"):
        SystemdNotifier(str(tmp_path / "nobody"), None).send("WATCHDOG=1")
    assert "could not tell systemd WATCHDOG=1" in caplog.text


# -- feeding only while every part keeps up -------------------------------------------------
def test_the_watchdog_is_fed_only_while_every_probe_keeps_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    notifier = SentNotifier()
    stuck: dict[str, str | None] = {"loop": None, "timing": None}
    watchdog = Watchdog(
        clock,
        notifier,
        [lambda now: stuck["loop"], lambda now: stuck["timing"]],
        period_ns=NS_PER_S,
    )
    assert watchdog.tick() is None
    stuck["timing"] = "the timing thread has been busy with one step for 12.0s"
    with caplog.at_level(logging.ERROR, logger="lapse.daemon"):
        for _ in range(3):
            assert watchdog.tick() == stuck["timing"]
    assert caplog.text.count("not feeding systemd's watchdog") == 1, "said once a spell"
    stuck["timing"] = None
    assert watchdog.tick() is None
    assert notifier.sent == ["WATCHDOG=1", "WATCHDOG=1"]  # type: ignore[attr-defined]


# -- the timing thread's probe ----------------------------------------------------------------
class HangingRig(RecordingRig):
    """A rig whose shutter call hangs for a minute of the clock's time (a stuck driver)."""

    def set_line(self, line: Line, on: bool) -> None:
        super().set_line(line, on)
        if line is Line.SHUTTER and on:
            sleep_ns(self.clock, 60 * NS_PER_S)


def test_a_timing_thread_waiting_for_a_far_deadline_keeps_up_and_a_hung_step_does_not() -> None:
    clock = FakeClock()
    rig = HangingRig(clock)
    settings = Settings(interval_ns=HOUR_NS, frames=2)
    anchor = clock.now_ns() + 10 * NS_PER_S
    grid = Grid(anchor, settings.interval_ns)
    engine = Engine(rig, clock, Scheduler(make_plan(settings), grid, frames=2), lambda e: None)
    grace = 2 * NS_PER_S
    seen: list[str | None] = []

    def steps() -> None:
        clock.start_thread(engine.run, "lapse-timing")
        clock.wait_until(anchor - NS_PER_S, clock.event())  # waiting for frame 0's steps
        seen.append(engine.stalled(clock.now_ns(), grace))
        clock.wait_until(anchor + 2 * NS_PER_S, clock.event())  # in the hung shutter call
        seen.append(engine.stalled(clock.now_ns(), grace))
        clock.wait_until(anchor + 3 * NS_PER_S, clock.event())
        seen.append(engine.stalled(clock.now_ns(), grace))
        clock.wait_until(anchor + 30 * 60 * NS_PER_S, clock.event())  # back, an hour to wait
        seen.append(engine.stalled(clock.now_ns(), grace))
        engine.cancel.set()

    script(clock, steps)
    assert seen == [
        None,
        None,  # busy exactly the grace: not yet behind
        "the timing thread has been busy with one step for 3.0s",
        None,
    ]


def test_a_timing_thread_that_oversleeps_its_deadline_is_behind() -> None:
    engine = Engine(RecordingRig(FakeClock()), FakeClock(), Scheduler(
        make_plan(Settings(interval_ns=NS_PER_S)), Grid(0, NS_PER_S)), lambda e: None
    )  # fmt: skip
    engine._waiting_until = 5 * NS_PER_S
    assert engine.stalled(6 * NS_PER_S, 2 * NS_PER_S) is None
    assert engine.stalled(8 * NS_PER_S, 2 * NS_PER_S) == (
        "the timing thread has not woken 3.0s after its deadline"
    )


# -- the socket loop's probe -------------------------------------------------------------------
def test_a_blocked_socket_loop_stops_beating_and_beats_again_once_free() -> None:
    clock = SystemClock()
    beat = LoopBeat(clock, beat_ns=20 * NS_PER_MS)
    grace = 100 * NS_PER_MS
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        loop.call_soon_threadsafe(beat.start, loop)
        blocker = threading.Event()
        assert poll(lambda: beat.stalled(clock.now_ns(), grace) is None and beat.last_ns > 0)
        loop.call_soon_threadsafe(blocker.wait, REAL_GUARD_S)  # the loop is stuck in a call
        assert poll(lambda: beat.stalled(clock.now_ns(), grace) is not None)
        assert "the socket loop has not run for" in (beat.stalled(clock.now_ns(), grace) or "")
        blocker.set()
        assert poll(lambda: beat.stalled(clock.now_ns(), grace) is None)
    finally:
        loop.call_soon_threadsafe(beat.stop)
        loop.call_soon_threadsafe(loop.stop)
        runner.join(REAL_GUARD_S)
        loop.close()


def poll(condition, guard_s: float = REAL_GUARD_S) -> bool:  # type: ignore[no-untyped-def]
    """True once ``condition()`` holds; False after ``guard_s`` real seconds."""
    deadline = time.monotonic() + guard_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


# -- the daemon under systemd --------------------------------------------------------------------
def test_the_daemon_says_ready_feeds_the_watchdog_and_says_stopping(
    lapse: Lapse, listener: Listener
) -> None:
    lapse.env.update(NOTIFY_SOCKET=str(listener.path), WATCHDOG_USEC="400000")
    daemon = lapse.start_daemon()
    listener.until("READY=1")
    assert "ready on" in listener.said[-1], "the status line says what is ready"
    assert lapse.cli("run", "--interval", "100ms").returncode == 0
    for _ in range(3):
        listener.until("WATCHDOG=1")  # fed while a run goes, every 200 ms
    daemon.send_signal(signal.SIGTERM)
    listener.until("STOPPING=1")
    assert daemon.wait(REAL_GUARD_S) == 0
    assert os.path.exists(listener.path)


def test_a_run_whose_timing_thread_hangs_stops_the_feeding(tmp_path: Path) -> None:
    # The controller's probe, as the daemon wires it: fed while the run keeps up, not fed
    # while its timing thread is stuck in a rig call, fed again once it is back.
    clock = FakeClock()
    rig = HangingRig(clock)
    controller = RunController(rig, clock, Journal(tmp_path), lambda event: None)
    notifier = SentNotifier()
    grace = 5 * NS_PER_S
    watchdog = Watchdog(
        clock, notifier, [lambda now: controller.timing_stalled(now, grace)], period_ns=NS_PER_S
    )
    fed: list[str | None] = []

    def steps() -> None:
        fed.append(watchdog.tick())  # no run: nothing to be stuck
        status = controller.start(Settings(interval_ns=HOUR_NS))
        assert status.run is not None
        anchor = status.run.anchor_ns
        for at in (anchor - NS_PER_S, anchor + 4 * NS_PER_S, anchor + 10 * NS_PER_S):
            clock.wait_until(at, clock.event())
            fed.append(watchdog.tick())
        clock.wait_until(anchor + 2 * 60 * NS_PER_S, clock.event())  # the call came back
        fed.append(watchdog.tick())
        controller.stop()

    script(clock, steps)
    assert fed == [
        None,
        None,
        None,
        "the timing thread has been busy with one step for 10.0s",
        None,
    ]
    assert notifier.sent == ["WATCHDOG=1"] * 4  # type: ignore[attr-defined]
