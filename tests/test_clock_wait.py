"""After a reboot the daemon waits for a clock it can trust before it resumes a run, on the
real controller, journal and simulated rig in fake time (the clock's boot id, wall time
and "synchronised" injected).

- Journaled on boot A and resumed on boot B with the wall clock a year behind the
  journal's last frame, the run is not resumed: the status says it waits for the clock
  and why, nothing fires, no slot is journaled. Once the clock is set (network time),
  the daemon sees it within a few seconds and resumes on the grid, the slots lost
  journaled once, as missed.
- A wall clock ahead of the journal that the system says is not synchronised waits too.
- The photographer's word resumes on the present clock: ahead of the journal, through it
  (the slots lost journaled as missed); behind it, one interval after now, with nothing
  journaled as missed.
- While it waits, a stop records the run as stopped and the waiting ends; a start is
  refused; ``resume`` without the word resumes only a clock that is trusted now.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.clock import sleep_ns
from core.daemon.controller import CLOCK_RECHECK_S, CLOCK_WAIT_REASON, DOWN_REASON
from core.fake_clock import FakeClock
from core.journal import Journal
from core.model import protocol
from core.model.clock_trust import BEHIND, UNSYNCHRONISED
from core.model.durations import MINUTE_NS, NS_PER_S, wall_iso
from core.model.errors import LapseError
from core.model.marks import UNKNOWN_POWER
from core.model.protocol import EdgeEvent, MissedEvent, StateEvent, Status
from core.model.run_state import RunState
from core.model.settings import Settings
from tests.fake_time import Daemon, script
from tests.journal_slots import each_slot
from tests.killed_runs import killed_run
from tui.cli import status_lines
from tui.view import build_view

INTERVAL = MINUTE_NS
FRAMES = 20
ANCHOR = 7_000 * NS_PER_S
"""Frame 0's monotonic time on boot A."""
ANCHOR_WALL = 1_800_000_000 * NS_PER_S
"""Frame 0's wall time: 2027-01-15 08:00:00 UTC."""
YEAR = 365 * 86_400 * NS_PER_S
RECHECK_NS = round(CLOCK_RECHECK_S * NS_PER_S)

pytestmark = pytest.mark.usefixtures("utc")


def journaled_on_boot_a(journal: Journal, fired: int = 3) -> str:
    """What a Pi that lost power mid-run leaves: an active run, frames 0..fired−1 fired."""
    settings = Settings(interval_ns=INTERVAL, frames=FRAMES)
    run = killed_run(journal, settings, anchor_ns=ANCHOR, anchor_wall_ns=ANCHOR_WALL, fired=fired)
    return run.info.id


def booted_b(tmp_path: Path, wall_ns: int, *, synced: bool | None = True) -> Daemon:
    """A daemon on boot B: the monotonic clock restarted, the wall clock at ``wall_ns``."""
    clock = FakeClock(start_ns=40 * NS_PER_S, wall_start_ns=wall_ns)
    clock.boot = "boot-B"
    clock.synced = synced
    return Daemon(tmp_path, clock)


def in_fake_time(daemon: Daemon, steps: Callable[[], None]) -> None:
    """Run ``steps`` taking part in the daemon's time; afterwards nothing is left waiting."""
    try:
        script(daemon.clock, steps)
    except BaseException:
        daemon.controller.shutdown()
        daemon.rig.close()
        raise


def waits_for_the_clock(daemon: Daemon, run_id: str) -> Status:
    """Resume, let a few minutes of rechecks pass, and check that nothing was resumed."""
    assert daemon.controller.resume() is None
    # Past a recheck: the daemon has looked at the clock again and waits once more.
    sleep_ns(daemon.clock, 10 * MINUTE_NS + NS_PER_S)
    status = daemon.controller.status()
    assert status.state is RunState.INTERRUPTED
    assert status.run is not None and status.run.id == run_id
    assert status.run.next_due_ns is None, "no next shutter is promised"
    assert daemon.published.of(EdgeEvent) == [], "nothing fired"
    assert daemon.journal.frame_counts(run_id) == {
        "ok": 3,
        "missed": 0,
        "error": 0,
        "unknown": 0,
        "skipped": 0,
    }
    return status


def test_a_clock_a_year_behind_waits_then_resumes_on_the_grid_once_it_is_set(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path)
    run_id = journaled_on_boot_a(journal)
    daemon = booted_b(tmp_path, ANCHOR_WALL - YEAR, synced=False)
    clock = daemon.clock
    anchor: list[int] = []

    def steps() -> None:
        status = waits_for_the_clock(daemon, run_id)
        assert status.clock_wait == f"{BEHIND} (2027-01-15 08:02:00)"
        assert any(
            e.status.clock_wait == status.clock_wait for e in daemon.published.of(StateEvent)
        )
        # Network time sets the clock: frame 0 was 14.5 intervals ago, so boot B came
        # at frame 4.5, ten minutes before.
        clock.set_wall(ANCHOR_WALL + 14 * INTERVAL + INTERVAL // 2)
        clock.synced = True
        anchor.append(clock.now_ns() - (clock.wall_ns() - ANCHOR_WALL))
        sleep_ns(clock, RECHECK_NS)
        resumed = daemon.controller.status()
        assert resumed.state is RunState.RUNNING and resumed.clock_wait is None
        assert resumed.run is not None and resumed.run.resumed

    in_fake_time(daemon, steps)
    daemon.published.wait_for_end()
    daemon.close()
    records = each_slot(journal, run_id)
    assert [r.frame for r in records] == list(range(FRAMES)), "every slot journaled once"
    # The reboot may have taken frame 3's line with it (JOURNAL_LAG_NS): unknown, not missed.
    assert (records[3].status, records[3].error) == ("unknown", UNKNOWN_POWER)
    # Frame 4 was missed while the Pi was off; 5–14 while the daemon was back and waited
    # for a clock it could trust: each said as what it was, each range one line.
    assert [(r.status, r.error) for r in records[4:15]] == [("missed", DOWN_REASON)] + [
        ("missed", CLOCK_WAIT_REASON)
    ] * 10
    missed = daemon.published.of(MissedEvent)
    assert [(m.first, m.last) for m in missed] == [(4, 4), (5, 14)]
    for record in records[3:]:
        assert record.due_ns == anchor[0] + record.frame * INTERVAL, "on the grid"
        assert record.wall == wall_iso(ANCHOR_WALL + record.frame * INTERVAL)
    assert all(r.status == "ok" and r.fired_ns == r.due_ns for r in records[15:])
    assert journal.get_run(run_id).state == "finished"


def test_a_clock_ahead_that_the_system_calls_unsynchronised_waits_for_the_photographers_word(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path)
    run_id = journaled_on_boot_a(journal)
    # Frame 0 was 10.5 intervals ago by this clock, but nothing vouches for it.
    daemon = booted_b(tmp_path, ANCHOR_WALL + 10 * INTERVAL + INTERVAL // 2, synced=False)
    clock = daemon.clock

    def steps() -> None:
        status = waits_for_the_clock(daemon, run_id)
        assert status.clock_wait == UNSYNCHRONISED
        # Ten minutes of waiting later, the photographer says the clock is right.
        resumed = daemon.controller.resume_waiting(clock_ok=True)
        assert resumed.state is RunState.RUNNING and resumed.clock_wait is None
        # On the present clock: frame 21 would be due 0.5 intervals on; the run has 20.
        assert resumed.run is not None and resumed.run.next_frame is None
        sleep_ns(clock, RECHECK_NS)

    in_fake_time(daemon, steps)
    daemon.published.wait_for_end()
    daemon.close()
    records = each_slot(journal, run_id)
    assert [r.frame for r in records] == list(range(FRAMES))
    assert [r.status for r in records[3:]] == ["unknown"] + ["missed"] * (FRAMES - 4)
    assert journal.get_run(run_id).state == "finished"


def test_the_photographers_word_on_a_clock_behind_the_journal_goes_on_one_interval_from_now(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path)
    run_id = journaled_on_boot_a(journal)
    daemon = booted_b(tmp_path, ANCHOR_WALL - YEAR)
    clock = daemon.clock
    resumed_at: list[int] = []

    def steps() -> None:
        waits_for_the_clock(daemon, run_id)
        resumed_at.append(clock.now_ns())
        assert daemon.controller.resume_waiting(clock_ok=True).state is RunState.RUNNING
        sleep_ns(clock, NS_PER_S)
        resumed = daemon.controller.status()
        assert resumed.run is not None and resumed.run.next_frame == 3
        assert resumed.run.next_due_ns == resumed_at[0] + INTERVAL

    in_fake_time(daemon, steps)
    daemon.published.wait_for_end()
    daemon.close()
    records = each_slot(journal, run_id)
    assert [r.frame for r in records] == list(range(FRAMES))
    assert all(r.status == "ok" for r in records), "nothing journaled as missed"
    assert records[3].due_ns == resumed_at[0] + INTERVAL


def test_a_stop_while_waiting_for_the_clock_records_the_run_stopped(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    run_id = journaled_on_boot_a(journal)
    daemon = booted_b(tmp_path, ANCHOR_WALL - YEAR)
    clock = daemon.clock

    def steps() -> None:
        waits_for_the_clock(daemon, run_id)
        with pytest.raises(LapseError, match="waits for the clock"):
            daemon.controller.start(Settings(interval_ns=INTERVAL))
        with pytest.raises(LapseError, match=BEHIND):
            daemon.controller.resume_waiting(clock_ok=False)
        stopped = daemon.controller.stop()
        assert stopped.state is RunState.STOPPED and stopped.clock_wait is None
        # The clock is set later: the stopped run stays stopped.
        clock.set_wall(ANCHOR_WALL + 10 * INTERVAL)
        sleep_ns(clock, 3 * RECHECK_NS)
        assert daemon.controller.status().state is RunState.STOPPED

    in_fake_time(daemon, steps)
    daemon.close()
    assert journal.get_run(run_id).state == "stopped"
    assert len(journal.read_frames(run_id)) == 3
    assert daemon.published.of(EdgeEvent) == []


def test_resume_without_the_word_resumes_a_clock_trusted_now(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    run_id = journaled_on_boot_a(journal)
    daemon = booted_b(tmp_path, ANCHOR_WALL + 2 * INTERVAL + INTERVAL // 2, synced=False)
    clock = daemon.clock

    def steps() -> None:
        waits_for_the_clock(daemon, run_id)
        with pytest.raises(LapseError, match=UNSYNCHRONISED):
            daemon.controller.resume_waiting(clock_ok=False)
        clock.synced = True
        assert daemon.controller.resume_waiting(clock_ok=False).state is RunState.RUNNING
        with pytest.raises(LapseError, match="no run waits for the clock"):
            daemon.controller.resume_waiting(clock_ok=True)
        daemon.controller.stop()

    in_fake_time(daemon, steps)
    daemon.close()
    assert journal.get_run(run_id).state == "stopped"


def test_the_main_screen_and_lapse_status_say_the_run_waits_for_the_clock(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    run_id = journaled_on_boot_a(journal)
    daemon = booted_b(tmp_path, ANCHOR_WALL + 10 * INTERVAL, synced=False)
    shown: list[Status] = []
    in_fake_time(daemon, lambda: shown.append(waits_for_the_clock(daemon, run_id)))
    daemon.controller.shutdown()
    daemon.close()
    status = protocol.decode(protocol.encode_event(StateEvent(shown[0]))).event.status
    line = f"waiting for the clock: {UNSYNCHRONISED}"
    view = build_view(status, status.now_ns, Settings(interval_ns=INTERVAL))
    assert (view.state, view.frame_text, view.next_text) == ("interrupted", line, "")
    assert f"  {line}" in status_lines(status)
