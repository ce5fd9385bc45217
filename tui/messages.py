"""Messages the daemon link's thread workers post to the app."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class DaemonEvent(Message):
    """An event from the daemon: ``state``, ``frame``, ``missed``, ``edge`` or ``fault``."""

    def __init__(self, name: str, data: dict[str, Any]) -> None:
        super().__init__()
        self.name = name
        self.data = data


class LinkChanged(Message):
    """The connection to the daemon came up (``hello``) or went down (``error``)."""

    def __init__(self, hello: dict[str, Any] | None, error: str | None = None) -> None:
        super().__init__()
        self.hello = hello
        self.error = error


class CommandDone(Message):
    """A command sent to the daemon finished: its result, or the daemon's refusal."""

    def __init__(self, cmd: str, result: Any = None, error: str | None = None) -> None:
        super().__init__()
        self.cmd = cmd
        self.result = result
        self.error = error
