"""Hooks as plain logic: which of the daemon's events a user's command hears, what it is
told, and the bounded queue its events wait in (docs/architecture.md §14).

- A hook is an argument list (no shell) run on one of :class:`HookEvent`'s events, with
  the facts in ``LAPSE_*`` environment variables (:meth:`Happening.environ`).
- :class:`Happenings` turns the events the daemon publishes to its clients into the
  hooks' events: a frame's file saved (once per file, however often the frame is told
  again), a run started (not a run resumed after a restart), a run ended, a fault.
- A hook's queue that falls behind is bounded (:class:`Waiting`): once full, the oldest
  waiting ``frame_saved`` is dropped and counted; other events are never dropped.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from enum import StrEnum

from core.model.camera_policy import saved_on_the_pi
from core.model.durations import NS_PER_S
from core.model.fields import Argv, Duration, Kind, Span, Table, Whole
from core.model.protocol import Event, FaultEvent, FrameEvent, HooksStatus, StateEvent


class HookEvent(StrEnum):
    """What a hook runs on."""

    FRAME_SAVED = "frame_saved"
    """A frame's file is saved on the Pi (downloaded from the camera)."""
    RUN_STARTED = "run_started"
    RUN_ENDED = "run_ended"
    """Finished, stopped or failed: ``LAPSE_STATUS`` says which."""
    RENDER_DONE = "render_done"
    """A video, keogram or star-trail image is made (``LAPSE_FILE``)."""
    FAULT = "fault"
    """Something went wrong that the photographer should see (``LAPSE_STATUS``)."""


HOOK_VARIABLES = ("LAPSE_EVENT", "LAPSE_RUN", "LAPSE_FRAME", "LAPSE_FILE", "LAPSE_STATUS")
"""What lapse tells a hook in its environment (README "Hooks"); lapse itself reads none."""
MIN_TIMEOUT_NS = NS_PER_S
MAX_TIMEOUT_NS = 3600 * NS_PER_S
MAX_QUEUE = 100_000
SEEN_FRAMES = 4096
"""How many recent frames' files :class:`Happenings` remembers having told, so a frame
told again with the same file (its brightness measured later) is not a second
``frame_saved``; a second file for a frame (the camera saved two) is one of its own."""


@dataclass(frozen=True)
class HooksConfig:
    """The ``[hooks]`` table: a command per event (empty: none), the time each may take,
    and how many ``frame_saved`` events may wait."""

    frame_saved: tuple[str, ...] = ()
    run_started: tuple[str, ...] = ()
    run_ended: tuple[str, ...] = ()
    render_done: tuple[str, ...] = ()
    fault: tuple[str, ...] = ()
    timeout_ns: int = 30 * NS_PER_S
    """A hook still running after this is ended (its whole process group)."""
    queue: int = 100
    """``frame_saved`` events waiting at most; the oldest is dropped for a new one."""

    def command(self, event: HookEvent) -> tuple[str, ...]:
        """The command run on ``event``; empty when none is set."""
        return getattr(self, str(event))

    @property
    def events(self) -> tuple[HookEvent, ...]:
        """The events a command is set for."""
        return tuple(event for event in HookEvent if self.command(event))


_EXAMPLE = '["/home/pi/bin/copy-frame", "--fast"]'
HOOKS = Table(
    "hooks",
    (
        *(Argv(str(event), example=_EXAMPLE) for event in HookEvent),
        Duration(
            "timeout", attr="timeout_ns", range=Span(Kind.DURATION, MIN_TIMEOUT_NS, MAX_TIMEOUT_NS)
        ),
        Whole("queue", range=Span(Kind.WHOLE, 1, MAX_QUEUE), what="a number of events"),
    ),
)
"""The ``[hooks]`` table: one field a :class:`HooksConfig` field."""


@dataclass(frozen=True)
class Happening:
    """One event as the hooks and the uploads hear it."""

    event: HookEvent
    run: str = ""
    """The run's id (its folder's name); empty for a fault outside a run."""
    frame: int | None = None
    """The frame's slot (0-based), for ``frame_saved``."""
    file: str = ""
    """The file saved or made: relative to the run's photo folder for ``frame_saved``
    (the daemon makes it absolute), absolute for ``render_done``."""
    status: str = ""
    """How a run ended (``finished``, ``stopped``, ``failed``), or the fault's words."""

    def environ(self) -> dict[str, str]:
        """The facts as the hook's environment: ``LAPSE_EVENT``, ``LAPSE_RUN``,
        ``LAPSE_FRAME``, ``LAPSE_FILE``, ``LAPSE_STATUS`` (each empty when it does not
        apply)."""
        frame = "" if self.frame is None else str(self.frame)
        values = (str(self.event), self.run, frame, self.file, self.status)
        return dict(zip(HOOK_VARIABLES, values, strict=True))


class Happenings:
    """Turns the daemon's published events into :class:`Happening`\\ s, remembering just
    enough: the run last seen going, the runs whose end was told, the frames whose file
    was told."""

    def __init__(self, going: str | None = None) -> None:
        """``going``: the run a restarted daemon resumes: already started, so not told
        again."""
        self._going = going
        self._ended: str | None = None
        self._saved: OrderedDict[tuple[str, int, str], None] = OrderedDict()

    def of(self, event: Event) -> list[Happening]:
        """What ``event`` means to the hooks: nothing, or one happening."""
        if isinstance(event, FrameEvent):
            record = event.record
            key = (event.run, record.frame, record.file)
            if not saved_on_the_pi(record.file) or key in self._saved:
                return []
            self._saved[key] = None
            if len(self._saved) > SEEN_FRAMES:
                self._saved.popitem(last=False)
            return [Happening(HookEvent.FRAME_SAVED, event.run, record.frame, record.file, "ok")]
        if isinstance(event, FaultEvent):
            run = self._going or ""
            return [Happening(HookEvent.FAULT, run, event.frame, status=event.message)]
        if isinstance(event, StateEvent):
            return self._state(event)
        return []

    def _state(self, event: StateEvent) -> list[Happening]:
        status = event.status
        run = status.run
        if run is None:
            return []
        if status.state.live and run.id != self._going:
            self._going = run.id
            return [Happening(HookEvent.RUN_STARTED, run.id, status=str(status.state))]
        if status.state.ended and run.id != self._ended:
            self._ended = run.id
            if self._going == run.id:
                self._going = None
            return [Happening(HookEvent.RUN_ENDED, run.id, status=str(status.state))]
        return []


class Waiting:
    """One hook's waiting events, bounded: once ``limit`` wait, a new event pushes out the
    oldest waiting ``frame_saved`` (counted in :attr:`dropped`); when none waits, the new
    event waits beyond the limit (only ``frame_saved`` is ever dropped)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.dropped = 0
        self._items: deque[Happening] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, happening: Happening) -> Happening | None:
        """Queue ``happening``; the one dropped for it, if any."""
        dropped = None
        if len(self._items) >= self.limit:
            for index, waiting in enumerate(self._items):
                if waiting.event is HookEvent.FRAME_SAVED:
                    dropped = waiting
                    del self._items[index]
                    self.dropped += 1
                    break
        self._items.append(happening)
        return dropped

    def take(self) -> Happening | None:
        """The oldest waiting event, or None."""
        return self._items.popleft() if self._items else None


def hooks_line(status: HooksStatus) -> str:
    """The hooks in one line, for ``lapse status`` and the screens: ``hooks: 120 ran, 2
    waiting, 3 frames dropped (queue full), 1 failed; last: frame_saved: exit status 1``."""
    parts = [f"{status.ran} ran"]
    if status.waiting:
        parts.append(f"{status.waiting} waiting")
    if status.dropped:
        parts.append(f"{status.dropped} frames dropped (queue full)")
    if status.failed:
        parts.append(f"{status.failed} failed; last: {status.last_error}")
    return "hooks: " + ", ".join(parts)
