"""The socket under load: idle connections cannot jam the daemon (docs/architecture.md §6).

The real Server on a real unix socket with the stand-in controller of
tests/test_server.py, and a real daemon with a thousand idle connections.

- Past the cap a newcomer takes the place of the idlest client that has not
  subscribed and has no command in hand; when there is none it gets one refusal
  line and is closed. Subscribers have a cap of their own, below it, so a request
  (``lapse stop``) always finds a place.
- A connection that says nothing and has not subscribed is closed after the idle
  timeout; a subscriber only listens and is never closed for its silence, nor is a
  client whose command takes its time. One that asks and never reads its answers is
  let go of entirely: its unread answers are thrown away with its descriptor.
- Running out of file descriptors on accept is logged once per spell, and the
  server keeps serving.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from core.client import Client, DaemonRefused
from core.daemon import server as server_module
from core.daemon.server import Server
from core.model import protocol
from core.model.protocol import FaultEvent, GetStatus, Hello, Stop, Subscribe
from core.model.settings import Settings
from tests.conftest import Lapse
from tests.test_server import (
    IDLE,
    STOPPED,
    WAIT_S,
    Held,
    Served,
    StandInController,
)

CAP = 6
SUBSCRIBER_CAP = 4


def refusal(line: bytes) -> str:
    reply = protocol.decode(line).reply
    assert reply is not None and reply.id is None and reply.error is not None
    return reply.error


@pytest.fixture
async def make_served(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    made: list[Served] = []

    async def make(**options: Any) -> Served:
        controller = StandInController()
        server = Server(controller, tmp_path / f"s{len(made)}.sock", **options)  # type: ignore[arg-type]
        await server.start()
        made.append(Served(server, controller))
        return made[-1]

    yield make
    for served in made:
        for connection in served.connections:
            connection.close()
        for held in served.controller.hold.values():
            held.released.set()
        await served.server.close()


def ask_in_a_thread(path: Path, command: protocol.Command) -> Any:
    """What the real client (as `lapse status` and `lapse stop` use it) gets for ``command``."""

    def talk() -> Any:
        with Client(path, timeout=WAIT_S).connect() as client:
            return client.request(command)

    return asyncio.to_thread(talk)


# -- the cap ---------------------------------------------------------------------------------
async def test_past_the_cap_status_and_stop_still_get_through(
    make_served: Callable[..., Any],
) -> None:
    served = await make_served(max_clients=CAP, max_subscribers=SUBSCRIBER_CAP)
    idle = [await served.connect() for _ in range(3 * CAP)]
    assert (await idle[-1].ask(Hello())).ok, "the newest is served"
    assert await ask_in_a_thread(served.path, GetStatus()) == IDLE
    assert await ask_in_a_thread(served.path, Stop()) == STOPPED
    # The oldest idle ones made room: each was told why, then hung up on.
    told = await idle[0].lines_until_hung_up()
    assert [refusal(line) for line in told] == [
        "closed to make room for another client; connect again"
    ]
    assert len(served.server._clients) <= CAP


async def test_subscribers_have_a_cap_below_the_clients_cap(
    make_served: Callable[..., Any],
) -> None:
    served = await make_served(max_clients=CAP, max_subscribers=SUBSCRIBER_CAP)
    subscribers = [await served.connect() for _ in range(SUBSCRIBER_CAP)]
    for subscriber in subscribers:
        assert (await subscriber.ask(Subscribe())).ok
    one_more = await served.connect()
    refused = await one_more.ask(Subscribe())
    assert refused.error == f"too many subscribers ({SUBSCRIBER_CAP}); close one"
    # Many newcomers later, every subscriber is still served.
    for _ in range(3 * CAP):
        assert (await (await served.connect()).ask(Hello())).ok
    assert await ask_in_a_thread(served.path, Stop()) == STOPPED
    event = FaultEvent(message="the journal's disk is full")
    served.server.publish(event)
    for subscriber in subscribers:
        assert await subscriber.event() == event


async def test_with_no_place_to_make_a_newcomer_is_refused_in_one_line(
    make_served: Callable[..., Any],
) -> None:
    served = await make_served(max_clients=3, max_subscribers=2)
    for _ in range(2):
        assert (await (await served.connect()).ask(Subscribe())).ok
    held = served.controller.hold["stop"] = Held()
    busy = await served.connect()
    await busy.send(protocol.encode_request(Stop(), 1))
    assert await asyncio.to_thread(held.entered.wait, WAIT_S)
    newcomer = await served.connect()
    told = await newcomer.lines_until_hung_up()
    assert [refusal(line) for line in told] == ["too many clients (3); close one"]
    held.released.set()
    assert (await busy.reply(Stop().answer)).ok, "a client with a command in hand keeps its place"


async def test_the_client_says_the_refusal(make_served: Callable[..., Any]) -> None:
    served = await make_served(max_clients=1, max_subscribers=1)
    assert (await (await served.connect()).ask(Subscribe())).ok
    with pytest.raises(DaemonRefused, match=r"^too many clients \(1\); close one$"):
        await ask_in_a_thread(served.path, GetStatus())


def test_the_cap_is_kept_below_the_file_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = {"soft": 1024}
    monkeypatch.setattr(
        server_module.resource, "getrlimit", lambda _which: (limits["soft"], 1 << 20)
    )
    assert server_module.fitted_cap(10_000) == 1024 - server_module.FDS_KEPT
    assert server_module.fitted_cap(100) == 100
    limits["soft"] = 64
    assert server_module.fitted_cap(10_000) == 32, "half the limit at least goes to the daemon"


# -- the idle timeout ------------------------------------------------------------------------
async def test_a_silent_connection_is_closed_after_the_idle_timeout(
    make_served: Callable[..., Any],
) -> None:
    served = await make_served(idle_timeout_s=0.05)
    silent = await served.connect()
    told = await silent.lines_until_hung_up()
    assert [refusal(line) for line in told] == ["closed: nothing said for 0.05s"]
    talker = await served.connect()
    assert (await talker.ask(Hello())).ok
    told = await talker.lines_until_hung_up()
    assert [refusal(line) for line in told] == ["closed: nothing said for 0.05s"]


async def test_a_subscriber_and_a_command_taking_its_time_are_never_timed_out(
    make_served: Callable[..., Any],
) -> None:
    served = await make_served(idle_timeout_s=0.05)
    listener = await served.connect()
    assert (await listener.ask(Subscribe())).ok
    held = served.controller.hold["stop"] = Held()
    stopper = await served.connect()
    await stopper.send(protocol.encode_request(Stop(), 1))
    assert await asyncio.to_thread(held.entered.wait, WAIT_S)
    await asyncio.sleep(0.5)  # ten idle timeouts
    held.released.set()
    assert (await stopper.reply(Stop().answer)).ok
    event = FaultEvent(message="frame 12 missed: the engine was late", frame=12)
    served.server.publish(event)
    assert await listener.event() == event


# -- out of file descriptors -----------------------------------------------------------------
async def test_running_out_of_descriptors_is_logged_once_per_spell_and_serving_goes_on(
    make_served: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    served = await make_served()
    monkeypatch.setattr(asyncio.constants, "ACCEPT_RETRY_DELAY", 0.01)
    (listener,) = served.server._server.sockets
    listener_fd = listener.fileno()
    spell = {"left": 0}
    accept = socket.socket.accept

    def scarce_accept(sock: socket.socket) -> Any:
        if sock.fileno() == listener_fd and spell["left"] > 0:
            spell["left"] -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return accept(sock)

    monkeypatch.setattr(socket.socket, "accept", scarce_accept)
    with caplog.at_level(logging.INFO):
        for _ in range(2):
            spell["left"] = 250  # several of asyncio's retries
            assert await ask_in_a_thread(served.path, GetStatus()) == IDLE
            assert spell["left"] == 0
    said = [record.getMessage() for record in caplog.records]
    out = [line for line in said if "out of file descriptors" in line]
    back = [line for line in said if "accepting clients again" in line]
    assert len(out) == 2 and len(back) == 2, said
    assert out[0].startswith("out of file descriptors (Too many open files)")
    assert not [r for r in caplog.records if r.name == "asyncio"], "asyncio's own lines flood"


# -- a real daemon ---------------------------------------------------------------------------
SYSTEMD_FILE_LIMIT = 1024
"""The soft limit on open files systemd gives a service unless told otherwise."""


def test_more_idle_connections_than_files_allowed_do_not_keep_lapse_stop_out(lapse: Lapse) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # The daemon inherits the limit it starts with; this process needs its own back.
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, SYSTEMD_FILE_LIMIT), hard))
    try:
        lapse.start_daemon()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    with lapse.client() as client:
        client.start(Settings.from_dict({"interval": "1s"}))
    idle: list[socket.socket] = []
    try:
        for _ in range(1100):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(str(lapse.socket))
            idle.append(sock)
        status = lapse.cli("status")
        assert status.returncode == 0, status.stderr
        stopped = lapse.cli("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert "every output is released" in stopped.stdout
    finally:
        for sock in idle:
            sock.close()
    assert lapse.client().status().state == "stopped"


async def test_a_client_that_asks_and_never_reads_is_let_go_of_entirely(
    make_served: Callable[..., Any],
) -> None:
    served = await make_served(idle_timeout_s=0.05)
    glutton = await served.connect()
    assert (await glutton.ask(Hello())).ok
    (writer,) = served.server._clients
    # Far more answers than the kernel's buffers and the transport's together hold.
    await glutton.send(protocol.encode_request(GetStatus(), 2) * 4_000)
    transport_socket = writer.transport.get_extra_info("socket")
    for _ in range(int(WAIT_S / 0.01)):
        if transport_socket.fileno() == -1:
            break
        await asyncio.sleep(0.01)
    assert transport_socket.fileno() == -1, "its unread answers keep the descriptor open"
    assert served.server._clients == {}
