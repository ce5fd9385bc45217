"""Subscribers that never read cost bounded memory (docs/architecture.md §6).

The real Server on a real unix socket with the stand-in controller of
tests/test_server.py. Each subscriber's unsent events are bounded
(``MAX_CLIENT_BACKLOG``), and so are all of theirs together
(``MAX_TOTAL_BACKLOG``): past it the subscribers furthest behind are dropped
first, never waited for, and those who read lose nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.daemon import server as server_module
from core.model import protocol
from core.model.protocol import FaultEvent, Hello, Subscribe
from tests.test_server import Served, serving

PER_CLIENT = 256 * 1024
TOTAL = 1024 * 1024
EVENT = FaultEvent(message="x" * 16 * 1024)
SLEEPERS = 50


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serving(tmp_path / "lapse.sock") as served:
        yield served


def buffered(served: Served) -> int:
    """The bytes the server holds for its clients, unsent."""
    return sum(writer.transport.get_write_buffer_size() for writer in served.server._clients)


async def test_fifty_subscribers_that_never_read_are_each_dropped_and_memory_stays_bounded(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "MAX_CLIENT_BACKLOG", PER_CLIENT)
    monkeypatch.setattr(server_module, "MAX_TOTAL_BACKLOG", TOTAL)
    sleepers = [await served.connect() for _ in range(SLEEPERS)]
    for sleeper in sleepers:
        assert (await sleeper.ask(Subscribe())).ok
    awake = await served.connect()
    assert (await awake.ask(Subscribe())).ok
    message = len(protocol.encode_event(EVENT))
    published = 0
    most = 0
    # Far more than the kernel's socket buffers and every bound together.
    while len(served.server._subscribers) > 1:
        assert published < 2_000, "the sleepers were never dropped"
        served.server.publish(EVENT)
        published += 1
        assert await awake.event() == EVENT, "a reader loses nothing"
        most = max(most, buffered(served))
    assert most <= TOTAL + message, f"{most} bytes held for clients that do not read"
    # Each sleeper wakes to what was sent before it was dropped, then the hang-up.
    for sleeper in sleepers:
        received = await sleeper.lines_until_hung_up()
        assert len(received) < published
        assert all(protocol.decode(line).event == EVENT for line in received)
    assert len(served.server._subscribers) == 1
    served.server.publish(EVENT)
    assert await awake.event() == EVENT
    assert (await awake.ask(Hello())).ok


async def test_closing_ends_the_task_of_a_subscriber_that_never_reads(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A task still serving when the daemon's loop shuts down is cancelled there, and
    # Python 3.11 reports that as a traceback in the daemon's log.
    monkeypatch.setattr(server_module, "CLOSE_WAIT_S", 0.5)
    sleeper = await served.connect()
    assert (await sleeper.ask(Subscribe())).ok
    for _ in range(2_000):
        if buffered(served):
            break  # the kernel's buffers are full: the rest waits in the server
        served.server.publish(EVENT)
        await asyncio.sleep(0)
    assert buffered(served) > 0, "events wait unsent for the sleeper"
    await served.server.close()
    assert not served.server._serving, "every client's task ended with the close"
