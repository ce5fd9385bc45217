"""What the engine reports, as frozen dataclasses handed off its timing thread.

The engine only ever *puts* these somewhere (a queue); journaling them and
sending them to clients happens on other threads, so the timing thread never
waits on a disk or a socket.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.model.plan import Line


@dataclass(frozen=True)
class FrameDone:
    """A slot the engine reached: fired (``ok``), reached too late (``missed``) or failed."""

    frame: int
    due_ns: int
    fired_ns: int | None
    wall_ns: int
    """Wall-clock ns when the shutter opened (or was due, for a missed frame)."""
    status: str
    error: str | None = None


@dataclass(frozen=True)
class SlotsSkipped:
    """Frames ``first``..``last`` were due before the engine could reach them."""

    first: int
    last: int
    noticed_ns: int
    """Monotonic ns when the engine noticed; with ``noticed_wall_ns`` it dates each slot."""
    noticed_wall_ns: int
    reason: str
    status: str = "missed"
    """How the slots are journaled: ``missed``; ``unknown`` when the daemon ended around
    their shutters (a resume reading the shutter marks); ``skipped`` outside the window."""


@dataclass(frozen=True)
class EdgeDone:
    """An output switched: what the TUI's timeline draws."""

    frame: int
    line: Line
    on: bool
    at_ns: int
    """Monotonic ns just after the output call returned (``rig.set_line``, or the camera's
    ``shutter`` in usb mode)."""


@dataclass(frozen=True)
class Fault:
    """Something went wrong that the photographer should see; the run goes on."""

    message: str
    frame: int | None = None


EngineEvent = FrameDone | SlotsSkipped | EdgeDone | Fault
