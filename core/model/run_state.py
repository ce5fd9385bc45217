"""The states of a run and the one table of moves between them.

The daemon carries at most one run. Its state is the one word every client
shows (``lapse status``, the TUI's state line, a script's ``--json``) and the
one fact the controller acts on: whether a start is refused, whether ``stop``
has something to stop, whether the journal says ``active``. Every change of
state goes through :func:`advance`, so a move the table does not allow is a
bug caught where it happens, not a wrong word on a screen later.
"""

from __future__ import annotations

import enum


class RunState(enum.StrEnum):
    """Where the daemon's run is; the value is the word on the wire and on screens."""

    IDLE = "idle"
    """No run since the daemon started, and none to resume."""
    STARTING = "starting"
    """A start was accepted; the camera is getting ready and the grid is not yet placed."""
    WAITING = "waiting"
    """The grid is placed; the first slot (after any delay) is not yet reached."""
    RUNNING = "running"
    """Slots are being reached: shutters fire on the grid."""
    INTERRUPTED = "interrupted"
    """The daemon stopped with the run unfinished; the next daemon resumes it."""
    FINISHED = "finished"
    """Every slot of a run with a frame count was reached."""
    STOPPED = "stopped"
    """The photographer (or a script) stopped it."""
    FAILED = "failed"
    """The engine failed; the outputs were released."""

    @property
    def live(self) -> bool:
        """A run is being carried: a start is refused and ``stop`` has work to do."""
        return self in LIVE

    @property
    def ended(self) -> bool:
        """The run is over for good: it is never resumed."""
        return self in ENDED

    @property
    def journal_word(self) -> str:
        """How ``run.toml`` records it: ``active`` until the run has ended, then the state."""
        return self.value if self.ended else ACTIVE


ACTIVE = "active"
"""``run.toml``'s word for a run that has not ended: the one a starting daemon resumes."""

LIVE = frozenset({RunState.STARTING, RunState.WAITING, RunState.RUNNING})
ENDED = frozenset({RunState.FINISHED, RunState.STOPPED, RunState.FAILED})
JOURNAL_STATES: tuple[str, ...] = (ACTIVE, *(state.value for state in RunState if state.ended))
"""Every state ``run.toml`` can hold."""

_BEFORE = frozenset({RunState.IDLE, RunState.INTERRUPTED, *ENDED})
"""The resting states a start can come from, and go back to when it fails."""

TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    # At rest the daemon starts a run, or finds one its last life left active.
    RunState.IDLE: frozenset({RunState.STARTING, RunState.INTERRUPTED}),
    # An interrupted run resumes on its grid (waiting for its first slot, or running)
    # or is stopped without resuming (``lapse stop`` while no daemon ran).
    RunState.INTERRUPTED: frozenset(
        {RunState.STARTING, RunState.WAITING, RunState.RUNNING, RunState.STOPPED}
    ),
    **{state: frozenset({RunState.STARTING}) for state in ENDED},
    # The camera was readied and the grid placed; or it refused: back to where it was.
    RunState.STARTING: frozenset({RunState.WAITING, *_BEFORE}),
    RunState.WAITING: frozenset({RunState.RUNNING, RunState.INTERRUPTED, *ENDED}),
    RunState.RUNNING: frozenset({RunState.INTERRUPTED, *ENDED}),
}
"""From each state, the states it may move to. A live run moves forward or ends; an
ended one only gives way to the next start."""


class BadTransition(RuntimeError):
    """A move the table does not allow: a bug in the caller, never the photographer's doing."""


def advance(current: RunState, new: RunState) -> RunState:
    """``new``, after checking the table allows the move from ``current``."""
    if new not in TRANSITIONS[current]:
        raise BadTransition(f"a run cannot go from {current} to {new}")
    return new
