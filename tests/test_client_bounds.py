"""A client never waits for ever: a daemon that never answers a request (silent, or
chattering events the whole time) is said in one line within the client's timeout."""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.client import Client
from core.model import protocol
from core.model.errors import DaemonUnavailable

GUARD_S = 30.0
"""Real seconds the test waits for the client at most: a guard against a hang, never a
measure of speed."""


class NeverAnswers:
    """A unix socket server that takes a request and never answers it; with ``chatter`` it
    sends an event every few milliseconds meanwhile, as a busy daemon would."""

    def __init__(self, path: Path, *, chatter: bool) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.chatter = chatter
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.server.accept()
        with connection:
            connection.recv(65536)
            line = protocol.encode_event(protocol.FaultEvent(message="still here"))
            while not self.done.wait(0.005):
                if self.chatter:
                    try:
                        connection.sendall(line)
                    except OSError:
                        return

    def close(self) -> None:
        self.done.set()
        self.thread.join(GUARD_S)
        self.server.close()


@pytest.fixture
def socket_path() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="lapse-client-", dir="/tmp"))
    yield folder / "s.sock"
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()


@pytest.mark.parametrize("chatter", [False, True], ids=["silent", "chattering"])
def test_a_request_nobody_answers_is_said_in_one_line_within_the_timeout(
    socket_path: Path, chatter: bool
) -> None:
    server = NeverAnswers(socket_path, chatter=chatter)
    outcome: list[BaseException] = []

    def ask() -> None:
        try:
            with Client(socket_path, timeout=0.3).connect() as client:
                client.status()
        except BaseException as error:
            outcome.append(error)

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    asking.join(GUARD_S)
    try:
        assert not asking.is_alive(), "the client waited for ever"
    finally:
        server.close()
    (error,) = outcome
    assert isinstance(error, DaemonUnavailable)
    assert str(error) == f"the daemon on {socket_path} did not answer within 0.3 s"
