"""The run's states and the one table of moves between them (core.model.run_state)."""

from __future__ import annotations

import pytest

from core.model.run_state import (
    ACTIVE,
    ENDED,
    JOURNAL_STATES,
    LIVE,
    TRANSITIONS,
    BadTransition,
    RunState,
    advance,
)

S = RunState


def test_every_state_has_its_moves_and_each_lands_on_a_state() -> None:
    assert set(TRANSITIONS) == set(RunState)
    for targets in TRANSITIONS.values():
        assert targets <= set(RunState)


@pytest.mark.parametrize(
    "path",
    [
        [S.IDLE, S.STARTING, S.WAITING, S.RUNNING, S.FINISHED],
        [S.IDLE, S.STARTING, S.WAITING, S.RUNNING, S.STOPPED, S.STARTING],
        [S.IDLE, S.STARTING, S.WAITING, S.STOPPED],  # stopped before its first slot
        [S.IDLE, S.STARTING, S.IDLE],  # the camera refused the start
        [S.FINISHED, S.STARTING, S.FINISHED],  # refused after a run: its end still shows
        [S.RUNNING, S.FAILED, S.STARTING],
        [S.RUNNING, S.INTERRUPTED],  # the daemon shut down
        [S.IDLE, S.INTERRUPTED, S.RUNNING],  # a new daemon resumes it
        [S.IDLE, S.INTERRUPTED, S.WAITING, S.RUNNING],  # …before its first slot
        [S.IDLE, S.INTERRUPTED, S.STOPPED],  # `lapse stop` while no daemon ran
    ],
)
def test_the_ways_a_run_goes_are_allowed(path: list[RunState]) -> None:
    state = path[0]
    for new in path[1:]:
        state = advance(state, new)
    assert state is path[-1]


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.IDLE, S.RUNNING),  # a run never runs without being started or resumed
        (S.RUNNING, S.WAITING),  # never back before the first slot
        (S.RUNNING, S.STARTING),  # a second start while one goes
        (S.WAITING, S.STARTING),
        (S.STARTING, S.RUNNING),  # the grid is placed first
        (S.FINISHED, S.STOPPED),  # an ended run ends once
        (S.STOPPED, S.RUNNING),  # …and is never resumed
        (S.FAILED, S.INTERRUPTED),
        (S.IDLE, S.IDLE),
    ],
)
def test_a_move_the_table_does_not_allow_is_a_bug_named_as_such(
    current: RunState, new: RunState
) -> None:
    with pytest.raises(BadTransition, match=f"from {current} to {new}"):
        advance(current, new)


def test_live_and_ended_split_the_states() -> None:
    assert {S.STARTING, S.WAITING, S.RUNNING} == LIVE
    assert {S.FINISHED, S.STOPPED, S.FAILED} == ENDED
    assert all(state.live for state in LIVE) and not any(state.live for state in ENDED)
    assert not S.IDLE.live and not S.INTERRUPTED.live and not S.INTERRUPTED.ended
    # An ended run has nowhere to go but the next start: it is never resumed.
    assert all(TRANSITIONS[state] == {S.STARTING} for state in ENDED)


def test_the_journal_records_a_run_active_until_it_has_ended() -> None:
    assert [state.journal_word for state in (S.WAITING, S.RUNNING, S.INTERRUPTED)] == [ACTIVE] * 3
    assert [state.journal_word for state in (S.FINISHED, S.STOPPED, S.FAILED)] == [
        "finished",
        "stopped",
        "failed",
    ]
    assert JOURNAL_STATES == ("active", "finished", "stopped", "failed")
