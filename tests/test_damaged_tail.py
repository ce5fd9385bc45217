"""A damaged journal is said, never silent (docs/architecture.md §7).

A resumed run checks the journal's last line against the run's grid and the clock:
a frame whose shutter is not due yet, a due time that is not that frame's, a wall time
ahead of the clock. Anything inconsistent is the run's fault in ``status``, a line of
``lapse log`` naming the run, and the run resumes on the grid from now, the slots in
between journaled as what they were.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.daemon.controller import DOWN_REASON
from core.fake_clock import FakeClock
from core.model.durations import NS_PER_S, wall_iso
from core.model.ledger import WALL_SLACK_NS, DamagedTail, damaged_tail
from core.model.protocol import FaultEvent
from core.model.records import FrameRecord
from core.model.scheduler import Grid
from core.model.settings import Settings
from tests import fake_time
from tests.fake_time import script
from tests.journal_slots import each_slot
from tui import cli

EVERY_SECOND = Settings(interval_ns=NS_PER_S, frames=0)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def daemons(state: Path) -> Iterator[list[fake_time.Daemon]]:
    made: list[fake_time.Daemon] = []
    yield made
    for daemon in made:
        daemon.close()


def run_ten_frames_then_corrupt(state: Path, clock: FakeClock, made: list) -> tuple[str, int]:
    """Frames 0–9 fire, the daemon goes, and the last line's frame number is damaged to 300.
    Returns the run and its anchor."""
    first = fake_time.Daemon(state, clock)
    made.append(first)
    anchor: list[int] = []

    def ten_frames() -> None:
        started = first.controller.start(EVERY_SECOND)
        assert started.run is not None
        anchor.append(started.run.anchor_ns)
        clock.wait_until(started.run.anchor_ns + 9 * NS_PER_S + NS_PER_S // 2)
        first.controller.shutdown()

    script(clock, ten_frames)
    info = first.journal.latest_run()
    lines = info.frames_path.read_bytes().splitlines()
    last = json.loads(lines[-1])
    assert last["frame"] == 9
    last["frame"] = 300
    lines[-1] = json.dumps(last, separators=(",", ":")).encode()
    info.frames_path.write_bytes(b"\n".join(lines) + b"\n")
    return info.id, anchor[0]


def test_a_frame_number_damaged_to_300_is_said_and_the_run_resumes_on_the_grid_from_now(
    state: Path,
    daemons: list[fake_time.Daemon],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    run_id, anchor = run_ten_frames_then_corrupt(state, clock, daemons)
    clock.advance(3 * NS_PER_S)  # down until frame 12's slot is near: frames 10–12 pass
    second = fake_time.Daemon(state, clock)
    daemons.append(second)
    seen: list = []

    def resume_and_run_a_few_frames() -> None:
        seen.append(second.controller.resume())
        seen.append(second.controller.status())
        clock.wait_until(anchor + 15 * NS_PER_S + NS_PER_S // 2)
        second.controller.shutdown()

    script(clock, resume_and_run_a_few_frames)
    resumed, status = seen
    assert resumed is not None
    assert status.fault is not None and "frame 300" in status.fault, status
    assert resumed.next_frame == 13 and resumed.next_due_ns == anchor + 13 * NS_PER_S
    faults = second.published.of(FaultEvent)
    assert any("frame 300" in fault.message for fault in faults), "clients are told"
    records = {r.frame: r for r in each_slot(second.journal, run_id)}
    assert [(records[k].status, records[k].error) for k in (10, 11, 12)] == [
        ("missed", DOWN_REASON)
    ] * 3
    assert all(records[k].status == "ok" for k in (13, 14, 15))
    assert records[13].fired_ns == anchor + 13 * NS_PER_S, "on the run's grid"

    monkeypatch.setenv("LAPSE_STATE_DIR", str(state))
    monkeypatch.setenv("LAPSE_SOCKET", str(state.parent / "no.sock"))
    assert cli.main(["log"]) == 0
    listed = capsys.readouterr().out
    said = [line for line in listed.splitlines() if run_id in line and "frame 300" in line]
    assert said, listed
    assert cli.main(["log", run_id]) == 0
    assert "frame 300" in capsys.readouterr().out


# -- the check itself -----------------------------------------------------------------------
GRID = Grid(1_000 * NS_PER_S, NS_PER_S)
WALL_AT_ANCHOR = 1_800_000_000 * NS_PER_S


def line(frame: int, due_ns: int | None = None, wall_late_ns: int = 0) -> FrameRecord:
    due = GRID.due_ns(frame) if due_ns is None else due_ns
    wall = WALL_AT_ANCHOR + (due - GRID.anchor_ns) + wall_late_ns
    return FrameRecord(frame=frame, due_ns=due, fired_ns=due, wall=wall_iso(wall), status="ok")


def check(record: FrameRecord, *, now_frame: float, same_boot: bool = True) -> DamagedTail | None:
    now = GRID.anchor_ns + int(now_frame * NS_PER_S)
    return damaged_tail(
        record, GRID, same_boot=same_boot, now_ns=now, wall_ns=WALL_AT_ANCHOR + now - GRID.anchor_ns
    )


def test_a_sound_tail_fits() -> None:
    assert check(line(9), now_frame=12.5) is None
    # A lead step that failed reports its frame up to an interval before its shutter.
    assert check(line(13), now_frame=12.5) is None
    # After a reboot the grid is re-anchored: the old boot's due times are not its own.
    assert check(line(9, due_ns=123), now_frame=12.5, same_boot=False) is None


def test_a_due_time_off_the_grid_is_damage_and_the_run_goes_on_from_the_next_slot_due() -> None:
    damage = check(line(9, due_ns=GRID.due_ns(9) + 5), now_frame=12.5)
    assert damage is not None and "not that frame's" in damage.what
    assert (damage.placed, damage.next_frame) == (None, 13)


def test_a_wall_time_ahead_of_the_clock_is_said() -> None:
    damage = check(line(9, wall_late_ns=60 * NS_PER_S), now_frame=12.5)
    assert damage is not None and "ahead of the clock" in damage.what
    assert (damage.placed, damage.next_frame) == (9, 10), "its due time still places it"
    assert check(line(9, wall_late_ns=WALL_SLACK_NS), now_frame=9.0) is None


def test_after_a_reboot_a_frame_far_in_the_future_is_damage() -> None:
    damage = check(line(300, due_ns=5), now_frame=12.5, same_boot=False)
    assert damage is not None and "frame 300 is not due for" in damage.what
    assert (damage.placed, damage.next_frame) == (None, 13)
    said = damage.said("20261130-012503")
    assert said.startswith("run 20261130-012503: the journal's last line does not fit the run")
    assert said.endswith("at frame 13, the next due")
