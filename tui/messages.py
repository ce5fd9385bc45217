"""Messages the daemon link's thread workers post to the app."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from core.model import protocol


class DaemonEvent(Message):
    """An event from the daemon (:data:`core.model.protocol.EVENTS`)."""

    def __init__(self, event: protocol.Event) -> None:
        super().__init__()
        self.event = event


class LinkChanged(Message):
    """The connection to the daemon came up (``hello``) or went down (``error``)."""

    def __init__(self, hello: protocol.HelloReply | None, error: str | None = None) -> None:
        super().__init__()
        self.hello = hello
        self.error = error


class CommandDone(Message):
    """A command sent to the daemon finished: its answer, or the daemon's refusal."""

    def __init__(self, cmd: str, result: Any = None, error: str | None = None) -> None:
        super().__init__()
        self.cmd = cmd
        self.result = result
        self.error = error
