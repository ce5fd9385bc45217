"""The daemon's protocol: JSON lines over a unix socket, versioned (DESIGN §7).

A client sends ``{"v": 1, "id": 7, "cmd": "status", "args": {}}``; the daemon
answers ``{"v": 1, "id": 7, "ok": true, "result": {…}}`` or ``{"v": 1, "id":
7, "ok": false, "error": "…"}``, and pushes ``{"v": 1, "event": "frame",
"data": {…}}`` to subscribers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core.model.errors import ProtocolError

PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 64 * 1024

COMMANDS: dict[str, str] = {
    "hello": "who is there: the daemon's pid, protocol and rig",
    "status": "the run's state, counts, the next shutter, the last frame and any fault",
    "start": "start a run: args.settings is a table of settings (interval, power, frames, …)",
    "stop": "stop the run and release every output",
    "update": "change a running run: args.frames (the other settings need a new run)",
    "subscribe": "receive events: state, frame, missed, edge, fault",
}
EVENTS = ("state", "frame", "missed", "edge", "fault")


@dataclass(frozen=True)
class Request:
    """One command from a client."""

    cmd: str
    id: int | str | None = None
    args: dict[str, Any] = field(default_factory=dict)


def encode(message: dict[str, Any]) -> bytes:
    """One JSON line, with the protocol version."""
    return (json.dumps({"v": PROTOCOL_VERSION, **message}, separators=(",", ":")) + "\n").encode()


def request(cmd: str, request_id: int | str | None = None, **args: Any) -> bytes:
    """Encode a command."""
    return encode({"id": request_id, "cmd": cmd, "args": args})


def reply(request_id: int | str | None, result: Any) -> bytes:
    """Encode a successful answer."""
    return encode({"id": request_id, "ok": True, "result": result})


def error_reply(request_id: int | str | None, message: str) -> bytes:
    """Encode a refusal; the connection and the run go on."""
    return encode({"id": request_id, "ok": False, "error": message})


def event(name: str, data: dict[str, Any]) -> bytes:
    """Encode an event pushed to subscribers."""
    return encode({"event": name, "data": data})


def decode(line: bytes) -> dict[str, Any]:
    """Parse one line into a JSON object carrying our protocol version."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("not a JSON message; send one JSON object per line") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    version = message.get("v")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"protocol version {version!r} is not spoken here; use {PROTOCOL_VERSION}"
        )
    return message


def decode_request(line: bytes) -> Request:
    """Parse a client's command, or raise :class:`ProtocolError` saying what is wrong."""
    message = decode(line)
    request_id = message.get("id")
    if request_id is not None and (
        isinstance(request_id, bool) or not isinstance(request_id, int | str)
    ):
        raise ProtocolError("id must be a number or a string")
    cmd = message.get("cmd")
    if not isinstance(cmd, str) or cmd not in COMMANDS:
        raise ProtocolError(f"unknown command {cmd!r}; commands are {', '.join(COMMANDS)}")
    args = message.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError("args must be a JSON object")
    return Request(cmd=cmd, id=request_id, args=args)


def request_id_of(line: bytes) -> int | str | None:
    """The id of a message that failed to decode, if one can be read, for the error reply."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(message, dict):
        found = message.get("id")
        if isinstance(found, int | str) and not isinstance(found, bool):
            return found
    return None
