"""The daemon's socket server on its own: a real unix socket, a stand-in controller.

The server never touches the hardware: it reads lines, asks the controller and
writes the answers, and fans events out to subscribers. So the controller here
is a small stand-in that answers from fixed values, or fails on demand; the
clients are raw asyncio connections on the test's own loop (and the real
:class:`~core.client.Client` on a thread), and every wait is bounded.

- The socket is born 0660, replaces a stale one, and is gone once closed.
- An event is encoded once and reaches every subscriber, and only them; a
  subscriber that stops reading is dropped rather than waited for.
- Whatever a command raises, the client gets one line and the connection goes on;
  a line too long to frame is answered, then the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import os
import socket
import stat
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core.client import Client, DaemonRefused
from core.daemon import server as server_module
from core.daemon.server import Server
from core.model import protocol
from core.model.errors import LapseError
from core.model.place import Place
from core.model.plan import make_plan
from core.model.planner import RunOutlook
from core.model.protocol import (
    BatteryStatus,
    CameraEvent,
    Counts,
    EndDaemon,
    FaultEvent,
    GetStatus,
    Hello,
    HelloReply,
    PlanEvent,
    Preview,
    Reply,
    RunCamera,
    RunPreview,
    RunStatus,
    Start,
    Status,
    Stop,
    Subscribe,
    Subscribed,
    Update,
)
from core.model.run_state import RunState
from core.model.settings import Settings

WAIT_S = 10.0
"""Real seconds any read waits before the test fails: a guard against a hang, never a
measure of speed."""

SETTINGS = Settings(interval_ns=10**10, frames=240)
RUN = RunStatus(
    id="20270115-075800",
    settings=SETTINGS,
    folder="/runs/20270115-075800",
    photos="/runs/20270115-075800",
    anchor_ns=5 * 10**9,
    counts=Counts(),
    last_frame=None,
)
IDLE = Status(
    state=RunState.IDLE,
    now_ns=10**9,
    rig="simulated",
    simulated=True,
    outputs={"power": 0.0, "focus": 0.0, "shutter": 0.0, "led": 0.0},
    notice="no GPIO on this machine",
)
WAITING = dataclasses.replace(IDLE, state=RunState.WAITING, run=RUN)
STOPPED = dataclasses.replace(IDLE, state=RunState.STOPPED, run=RUN)
PLAN = PlanEvent(run=RUN.id, plan=make_plan(SETTINGS))
PREVIEW = RunPreview(
    battery=BatteryStatus(source="model", percent=80.0),
    outlook=RunOutlook(
        warnings=(),
        notes=(),
        frames_left=240,
        needs_ns=2_400 * 10**9,
        battery_lasts_ns=None,
        battery_short=False,
        frames_fit=None,
        disk_short=False,
    ),
)


class StandInController:
    """What the server asks of the RunController, answered from the values above.

    ``fails[name]`` makes that command raise; ``hold[name]`` makes it wait (on its
    thread) until the test releases it, so the test can look in meanwhile.
    """

    def __init__(self) -> None:
        self.rig = SimpleNamespace(description="simulated", simulated=True)
        self.notice = IDLE.notice
        self.calls: list[tuple[Any, ...]] = []
        self.fails: dict[str, BaseException] = {}
        self.hold: dict[str, Held] = {}
        self.now = IDLE
        """What ``status`` answers."""

    def _called(self, name: str, *args: Any) -> None:
        self.calls.append((name, *args))
        held = self.hold.get(name)
        if held is not None:
            held.entered.set()
            if not held.released.wait(WAIT_S):
                raise AssertionError(f"{name} was never released: the server stopped serving")
        if name in self.fails:
            raise self.fails[name]

    def status(self) -> Status:
        self._called("status")
        return self.now

    def subscribed(self) -> Subscribed:
        self._called("subscribed")
        return Subscribed(WAITING, PLAN)

    def start(
        self,
        settings: Settings,
        output: str | None = None,
        camera: RunCamera | None = None,
        at: str | None = None,
        place: Place | None = None,
    ) -> Status:
        self._called("start", settings, output, camera, at, place)
        return WAITING

    def stop(self) -> Status:
        self._called("stop")
        return STOPPED

    def update(self, frames: int) -> Status:
        self._called("update", frames)
        return WAITING

    def preview(self, settings: Settings) -> RunPreview:
        self._called("preview", settings)
        return PREVIEW


@dataclasses.dataclass
class Held:
    """A command kept waiting on the controller's side (on the server's worker thread)."""

    entered: threading.Event = dataclasses.field(default_factory=threading.Event)
    released: threading.Event = dataclasses.field(default_factory=threading.Event)


class Connection:
    """One raw client: writes lines, reads lines, with bounded waits."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._ids = 0

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def line(self) -> bytes:
        line = await asyncio.wait_for(self.reader.readline(), WAIT_S)
        assert line, "the server hung up"
        return line

    async def ask(self, command: protocol.Command) -> Reply:
        """Send ``command`` and read the next line as its reply."""
        self._ids += 1
        await self.send(protocol.encode_request(command, self._ids))
        reply = protocol.decode(await self.line(), command.answer).reply
        assert reply is not None and reply.id == self._ids
        return reply

    async def reply(self, answers: type | None = None) -> Reply:
        reply = protocol.decode(await self.line(), answers).reply
        assert reply is not None, "an event where a reply was due"
        return reply

    async def event(self) -> protocol.Event:
        event = protocol.decode(await self.line()).event
        assert event is not None, "a reply where an event was due"
        return event

    async def lines_until_hung_up(self, wait_s: float = WAIT_S) -> list[bytes]:
        """Every line still to come, once the server has hung up."""
        lines = []
        while line := await asyncio.wait_for(self.reader.readline(), wait_s):
            lines.append(line)
        return lines

    def close(self) -> None:
        self.writer.close()


@dataclasses.dataclass
class Served:
    """A started server on a socket in the test's folder, and the clients made to it."""

    server: Server
    controller: StandInController
    connections: list[Connection] = dataclasses.field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.server.socket_path

    async def connect(self) -> Connection:
        reader, writer = await asyncio.open_unix_connection(str(self.path))
        self.connections.append(Connection(reader, writer))
        return self.connections[-1]


@contextlib.asynccontextmanager
async def serving(socket_path: Path) -> AsyncIterator[Served]:
    """A Server with a stand-in controller, started on ``socket_path``; afterwards its
    clients are closed, every held command let go, and the server closed."""
    controller = StandInController()
    # The server asks only for what the stand-in has: it is a RunController to it.
    server = Server(  # type: ignore[arg-type]
        controller, socket_path, on_end=lambda: controller.calls.append(("ended",))
    )
    await server.start()
    served = Served(server, controller)
    try:
        yield served
    finally:
        for connection in served.connections:
            connection.close()
        for held in controller.hold.values():
            held.released.set()
        await server.close()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serving(tmp_path / "run" / "lapse.sock") as served:
        yield served


# -- the socket ------------------------------------------------------------------------------
async def test_the_socket_is_born_0660_and_the_umask_is_left_as_it_was(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    server = Server(StandInController(), tmp_path / "run" / "lapse.sock")  # type: ignore[arg-type]
    await server.start()
    try:
        mode = server.socket_path.stat().st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o660, "only the owner and the lapse group may connect"
        assert os.umask(umask) == umask, "the daemon's own files keep their modes"
    finally:
        await server.close()


async def test_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    # What a daemon that was killed leaves behind: a socket file nobody listens on.
    path = tmp_path / "lapse.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(str(path))
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_unix_connection(str(path))
    server = Server(StandInController(), path)  # type: ignore[arg-type]
    await server.start()
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
        connection = Connection(reader, writer)
        assert (await connection.ask(Hello())).ok
        connection.close()
    finally:
        await server.close()


async def test_a_file_that_is_not_a_socket_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "lapse.sock"
    path.write_text("the photographer's notes")
    server = Server(StandInController(), path)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="in use"):
        await server.start()
    assert path.read_text() == "the photographer's notes"


async def test_close_removes_the_socket_and_hangs_up_on_subscribers(served: Served) -> None:
    subscriber = await served.connect()
    assert (await subscriber.ask(Subscribe())).ok
    await served.server.close()
    assert not served.path.exists()
    assert await subscriber.lines_until_hung_up() == []
    with pytest.raises(OSError):
        await asyncio.open_unix_connection(str(served.path))


async def test_close_hangs_up_on_a_client_that_did_not_subscribe(served: Served) -> None:
    client = await served.connect()
    assert (await client.ask(Hello())).ok
    await served.server.close()
    assert await client.lines_until_hung_up(wait_s=1.0) == []


async def test_publishing_before_the_server_started_does_nothing(tmp_path: Path) -> None:
    server = Server(StandInController(), tmp_path / "lapse.sock")  # type: ignore[arg-type]
    server.publish(FaultEvent(message="the journal's disk is full"))
    assert not server.socket_path.exists()


# -- events --------------------------------------------------------------------------------
async def test_an_event_is_encoded_once_and_reaches_every_subscriber_and_no_one_else(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[protocol.Event] = []
    encode_event = protocol.encode_event

    def counting(event: protocol.Event) -> bytes:
        encoded.append(event)
        return encode_event(event)

    monkeypatch.setattr(protocol, "encode_event", counting)
    subscribers = [await served.connect() for _ in range(3)]
    for subscriber in subscribers:
        assert (await subscriber.ask(Subscribe())).result == Subscribed(WAITING, PLAN)
    bystander = await served.connect()
    assert (await bystander.ask(Hello())).ok
    event = CameraEvent(message="camera: downloads paused, the disk is full", fault=True)
    # Published from another thread, as the controller's journal thread does.
    await asyncio.to_thread(served.server.publish, event)
    for subscriber in subscribers:
        assert await subscriber.event() == event
    assert encoded == [event], "encoded once, however many subscribers"
    # The event was written to everyone it was for: the next line the bystander gets
    # is the answer to its next request.
    reply = await bystander.ask(GetStatus())
    assert reply.result == IDLE


async def test_a_subscriber_that_stops_reading_is_dropped_and_the_others_keep_receiving(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "MAX_CLIENT_BACKLOG", 64 * 1024)
    asleep = await served.connect()
    assert (await asleep.ask(Subscribe())).ok
    awake = await served.connect()
    assert (await awake.ask(Subscribe())).ok
    event = FaultEvent(message="x" * 16 * 1024)
    # Far more than the kernel's socket buffers and the backlog together.
    published = 400
    for _ in range(published):
        served.server.publish(event)
        assert await awake.event() == event
    # The sleeper wakes: it gets what was sent before it was dropped, then the hang-up.
    received = await asleep.lines_until_hung_up()
    assert 0 < len(received) < published
    assert all(protocol.decode(line).event == event for line in received)
    assert (await awake.ask(Hello())).ok


async def test_a_subscriber_that_hung_up_costs_the_others_nothing(served: Served) -> None:
    gone = await served.connect()
    assert (await gone.ask(Subscribe())).ok
    staying = await served.connect()
    assert (await staying.ask(Subscribe())).ok
    gone.close()
    event = FaultEvent(message="frame 12 missed: the engine was late", frame=12)
    for _ in range(3):
        served.server.publish(event)
        assert await staying.event() == event


# -- answers ---------------------------------------------------------------------------------
async def test_each_command_is_answered_by_its_controller_call(served: Served) -> None:
    # The real client, on a thread of its own: it blocks.
    def talk() -> list[Any]:
        with Client(served.path, timeout=WAIT_S).connect() as client:
            return [
                client.hello(),
                client.status(),
                client.subscribe(),
                client.start(SETTINGS),
                client.start(SETTINGS, "/media/usb/sunset", RunCamera(trigger="usb")),
                client.start(SETTINGS, place=Place(51.48, -0.01)),
                client.request(Update(frames=500)),
                client.request(Preview(SETTINGS)),
                client.stop(),
            ]

    answers = await asyncio.to_thread(talk)
    hello = HelloReply(pid=os.getpid(), rig="simulated", simulated=True, notice=IDLE.notice)
    assert answers == [
        hello, IDLE, Subscribed(WAITING, PLAN), WAITING, WAITING, WAITING, WAITING, PREVIEW,
        STOPPED,
    ]  # fmt: skip
    assert served.controller.calls == [
        ("status",),
        ("subscribed",),
        ("start", SETTINGS, None, RunCamera(), None, None),
        ("start", SETTINGS, "/media/usb/sunset", RunCamera(trigger="usb"), None, None),
        ("start", SETTINGS, None, RunCamera(), None, Place(51.48, -0.01)),
        ("update", 500),
        ("preview", SETTINGS),
        ("stop",),
    ]


async def test_end_is_answered_first_and_refused_while_a_run_is_live(served: Served) -> None:
    client = await served.connect()
    served.controller.now = WAITING
    refused = await client.ask(EndDaemon())
    assert refused.error == "a run is waiting: stop it first (`lapse stop`), then end the daemon"
    assert ("ended",) not in served.controller.calls, "nothing changed"
    served.controller.now = STOPPED
    answer = await client.ask(EndDaemon())
    # The answer is on its way before the daemon is told to end (ending hangs up on all).
    assert answer.ok and answer.result == STOPPED
    assert served.controller.calls[-1] == ("ended",)


@pytest.mark.parametrize("command", [Start(SETTINGS), Stop()], ids=["start", "stop"])
async def test_while_a_start_or_stop_takes_its_time_others_are_answered(
    served: Served, command: protocol.Command
) -> None:
    held = served.controller.hold[command.name] = Held()
    slow = await served.connect()
    await slow.send(protocol.encode_request(command, 1))
    assert await asyncio.to_thread(held.entered.wait, WAIT_S)
    other = await served.connect()
    assert (await other.ask(GetStatus())).result == IDLE
    held.released.set()
    reply = await slow.reply(command.answer)
    assert reply.ok and reply.id == 1


async def test_a_refusal_from_the_controller_is_passed_on_as_said(served: Served) -> None:
    said = "a run is already going (run 20270115-075800, every 10s); stop it first"
    served.controller.fails["start"] = LapseError(said)
    client = await served.connect()
    assert await client.ask(Start(SETTINGS)) == Reply(1, error=said)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/state/runs/x/run.toml"),
            "stop failed: No space left on device (/state/runs/x/run.toml)",
        ),
        (OSError(errno.EIO, "Input/output error"), "stop failed: Input/output error"),
        (OSError("the journal went away"), "stop failed: the journal went away"),
    ],
    ids=["with-file", "without-file", "without-errno"],
)
async def test_a_disk_error_says_which_command_failed_and_why(
    served: Served, error: OSError, said: str
) -> None:
    served.controller.fails["stop"] = error
    client = await served.connect()
    assert await client.ask(Stop()) == Reply(1, error=said)
    assert (await client.ask(Hello())).ok, "the connection goes on"


async def test_a_bug_in_a_command_is_refused_logged_and_the_connection_goes_on(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    served.controller.fails["update"] = RuntimeError("the table is wrong")
    client = await served.connect()
    with caplog.at_level(logging.ERROR, logger="lapse.daemon"):
        reply = await client.ask(Update(frames=500))
    assert reply == Reply(1, error="update failed inside lapse: RuntimeError('the table is wrong')")
    (logged,) = caplog.records
    assert logged.getMessage() == "command update failed" and logged.exc_info is not None
    assert (await client.ask(GetStatus())).result == IDLE
    served.controller.fails["start"] = KeyError("camera")
    reply = await client.ask(Start(SETTINGS))
    assert reply.error == "start failed inside lapse: KeyError('camera')"
    assert (await client.ask(GetStatus())).result == IDLE


async def test_a_bad_request_is_refused_with_its_id(served: Served) -> None:
    client = await served.connect()
    await client.send(b'{"v": 2, "id": "tui-9", "cmd": "launch"}\n')
    reply = await client.reply()
    assert reply.id == "tui-9"
    assert reply.error == (
        "unknown command 'launch'; commands are hello, status, subscribe, start, stop,"
        " update, preview, resume, end, make, handle"
    )
    assert served.controller.calls == []


# -- lines ------------------------------------------------------------------------------------
def padded_request(size: int) -> bytes:
    """A hello request of exactly ``size`` bytes before its newline."""
    line = protocol.encode_request(Hello(), 1).rstrip(b"\n")
    return line + b" " * (size - len(line)) + b"\n"


async def test_a_line_longer_than_the_limit_is_answered_then_hung_up_on(served: Served) -> None:
    client = await served.connect()
    await client.send(padded_request(protocol.MAX_LINE_BYTES + 1))
    assert await client.reply() == Reply(None, error="message too long")
    assert await client.lines_until_hung_up() == []
    other = await served.connect()
    assert (await other.ask(Hello())).ok, "the server goes on"


async def test_a_line_of_the_limit_is_answered(served: Served) -> None:
    client = await served.connect()
    await client.send(padded_request(protocol.MAX_LINE_BYTES))
    reply = await client.reply(HelloReply)
    assert reply.ok and reply.id == 1


async def test_blank_lines_are_ignored(served: Served) -> None:
    client = await served.connect()
    await client.send(b"\n   \n\t\r\n")
    assert (await client.ask(GetStatus())).result == IDLE


async def test_requests_sent_together_are_answered_in_order(served: Served) -> None:
    client = await served.connect()
    lines = [
        protocol.encode_request(Hello(), 1),
        protocol.encode_request(Stop(), 2),
        b"status please\n",
        protocol.encode_request(Update(frames=500), "four"),
        protocol.encode_request(GetStatus(), 5),
    ]
    await client.send(b"".join(lines))
    replies = [await client.reply() for _ in lines]
    assert [reply.id for reply in replies] == [1, 2, None, "four", 5]
    assert [reply.ok for reply in replies] == [True, True, False, True, True]
    assert [call[0] for call in served.controller.calls] == ["stop", "update", "status"]


async def test_a_client_refused_by_the_daemon_hears_why(served: Served) -> None:
    served.controller.fails["stop"] = LapseError("no run is going")

    def stop() -> str:
        with Client(served.path, timeout=WAIT_S).connect() as client:
            try:
                client.stop()
            except DaemonRefused as refused:
                return str(refused)
        return "not refused"

    assert await asyncio.to_thread(stop) == "no run is going"
