"""Runs that shoot only inside a window, on the real controller, journal and simulated rig
in fake time (the sun's times from astral at Greenwich, local time UTC).

- ``between = "sunset..sunrise"`` for 48 simulated hours fires only between astral's
  sunset and the next sunrise, every frame on its grid; every other slot is journaled
  skipped (never missed), and nothing is switched outside a window.
- Stopped as a kill leaves it (the run left active) inside a window and outside one, and
  resumed at once each time, the run journals every slot as the run that was never
  stopped did.
- Status says when the window closes and opens; a window by the sun with no place, and a
  window that never opens there, are refused before anything moves.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from astral.sun import sunrise, sunset

from core.clock import sleep_ns
from core.daemon.controller import DOWN_REASON
from core.daemon.outlook import Outlook
from core.fake_clock import FakeClock
from core.model.battery import BatteryModel
from core.model.durations import HOUR_NS, MINUTE_NS, NS_PER_S, format_approx
from core.model.errors import LapseError
from core.model.plan import Line
from core.model.protocol import EdgeEvent, StateEvent
from core.model.records import FrameRecord
from core.model.run_state import RunState
from core.model.settings import Settings
from core.model.windows import When
from tests.fake_time import Daemon, run_with_restarts, script
from tests.journal_slots import each_slot
from tests.skies import GREENWICH, GREENWICH_OBSERVER, ns_of
from tui.cli import status_lines
from tui.screens.log import run_row

pytestmark = pytest.mark.usefixtures("utc")

START_WALL = int(datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp()) * NS_PER_S
START_MONO = 5_000 * NS_PER_S
INTERVAL = 10 * MINUTE_NS
HOURS = 48
SETTINGS = Settings(interval_ns=INTERVAL, between="sunset..sunrise", power=True)


def nights() -> list[tuple[int, int]]:
    """Astral's sunset to the next sunrise, asked directly, for the days of the run."""
    spans = []
    for offset in range(-1, 4):
        day = date(2026, 12, 1) + timedelta(days=offset)
        spans.append(
            (
                ns_of(sunset(GREENWICH_OBSERVER, day, UTC)),
                ns_of(sunrise(GREENWICH_OBSERVER, day + timedelta(days=1), UTC)),
            )
        )
    return spans


def at_night(wall_ns: int) -> bool:
    return any(opens <= wall_ns < closes for opens, closes in nights())


def wall_of(mono_ns: int) -> int:
    return START_WALL + (mono_ns - START_MONO)


def run_with_kills(tmp_path: Path, kills: list[int]) -> tuple[list[FrameRecord], list[EdgeEvent]]:
    """The 48 h run from noon, killed at each of ``kills`` (ns from the start)."""
    clock = FakeClock(start_ns=START_MONO, wall_start_ns=START_WALL)
    return run_with_restarts(tmp_path, clock, SETTINGS, GREENWICH, HOURS * HOUR_NS, kills)


def test_a_night_window_fires_only_between_sunset_and_sunrise_on_its_grid(
    tmp_path: Path,
) -> None:
    slots, edges = run_with_kills(tmp_path, [])
    assert [slot.frame for slot in slots] == list(range(len(slots))), "every slot, once"
    assert len(slots) == HOURS * HOUR_NS // INTERVAL, "to the stop, and none beyond"
    fired = [slot for slot in slots if slot.status == "ok"]
    assert len(fired) > 100
    anchor = slots[0].due_ns
    for slot in slots:
        assert slot.due_ns == anchor + slot.frame * INTERVAL, "on the grid"
        inside = at_night(wall_of(slot.due_ns))
        assert slot.status == ("ok" if inside else "skipped"), slot
        if slot.status == "ok":
            assert slot.fired_ns == slot.due_ns
    skipped_lines = [s for s in slots if s.status == "skipped"]
    assert all(s.error == "outside the run's window" for s in skipped_lines)
    # Nothing is switched by day but a night's last power-off; the shutter only at night.
    shutters = [e for e in edges if e.line == Line.SHUTTER and e.on]
    assert len(shutters) == len(fired)
    assert all(at_night(wall_of(e.at_ns)) for e in shutters)
    power = [e for e in edges if e.line == Line.POWER]
    assert len([e for e in power if e.on]) == len(fired)
    assert all(at_night(wall_of(e.at_ns) + 14 * NS_PER_S) for e in power if e.on)
    offs = [e for e in power if not e.on]
    assert len(offs) == len(fired) and all(at_night(wall_of(e.at_ns)) for e in offs)


def test_killed_inside_and_outside_the_window_the_run_journals_the_same_slots(
    tmp_path: Path,
) -> None:
    whole, _ = run_with_kills(tmp_path / "whole", [])
    # 20:05 is inside the first night, 12:05 the next day outside it.
    killed, _ = run_with_kills(
        tmp_path / "killed", [8 * HOUR_NS + 5 * MINUTE_NS, 24 * HOUR_NS + 5 * MINUTE_NS]
    )
    assert [(s.frame, s.status, s.due_ns - whole[0].due_ns) for s in killed] == [
        (s.frame, s.status, s.due_ns - whole[0].due_ns) for s in whole
    ]


def test_status_says_when_the_window_opens_and_closes(tmp_path: Path) -> None:
    clock = FakeClock(start_ns=START_MONO, wall_start_ns=START_WALL)
    daemon = Daemon(tmp_path, clock)
    said: list[list[str]] = []
    first_sunset, first_sunrise = nights()[1]

    def steps() -> None:
        daemon.controller.start(SETTINGS, place=GREENWICH)
        sleep_ns(clock, HOUR_NS)  # 13:00: closed
        said.append(status_lines(daemon.controller.status()))
        sleep_ns(clock, 7 * HOUR_NS)  # 20:00: open
        status = daemon.controller.status()
        said.append(status_lines(status))
        assert status.run is not None
        assert wall_of(status.run.window_closes_ns or 0) == first_sunrise
        daemon.controller.stop()

    script(clock, steps)
    daemon.close()
    # Clients heard of the window opening as it did: a state that says when it closes.
    opened = [
        event.status.run
        for event in daemon.published.of(StateEvent)
        if event.status.run is not None and event.status.run.window_closes_ns is not None
    ]
    assert opened and wall_of(opened[0].window_closes_ns or 0) == first_sunrise
    opens_in = first_sunset - (START_WALL + HOUR_NS)
    assert any(
        line.startswith("  window: sunset..sunrise, closed; opens in ")
        and format_approx(opens_in) in line
        for line in said[0]
    ), said[0]
    assert any(
        line.startswith("  window: sunset..sunrise, open; closes in ") for line in said[1]
    ), said[1]
    # The next shutter said while closed is the first one inside the window.
    next_line = next(line for line in said[0] if line.startswith("  next shutter: frame"))
    assert next_line.startswith("  next shutter: frame 24 ")


def test_a_counted_run_counts_its_frames_inside_the_window(tmp_path: Path) -> None:
    clock = FakeClock(start_ns=START_MONO, wall_start_ns=START_WALL)
    daemon = Daemon(tmp_path, clock)
    settings = Settings(interval_ns=INTERVAL, between="sunset..sunrise", frames=30)

    def steps() -> None:
        daemon.controller.start(settings, place=GREENWICH)
        sleep_ns(clock, 12 * HOUR_NS)

    script(clock, steps)
    daemon.close()
    (run,) = daemon.journal.list_runs()
    slots = each_slot(daemon.journal, run.id)
    assert [s.status for s in slots] == ["skipped"] * 24 + ["ok"] * 30
    assert run.state == "finished"
    # The log's list says the slots outside apart from those missed.
    _, said = run_row(run, daemon.journal.frame_counts(run.id))
    assert said == "finished\n30 ok, 0 missed, 24 outside"


def test_a_window_by_the_sun_without_a_place_is_refused_before_anything_moves(
    tmp_path: Path,
) -> None:
    clock = FakeClock(start_ns=START_MONO, wall_start_ns=START_WALL)
    daemon = Daemon(tmp_path, clock)
    for settings in (SETTINGS, Settings(interval_ns=INTERVAL, when=When.NIGHT)):
        with pytest.raises(LapseError, match=r"needs to know where the rig stands: set \[place\]"):
            daemon.start(settings)
    assert daemon.controller.status().state is RunState.IDLE
    assert daemon.journal.list_runs() == []
    # A window by the clock needs no place.
    status = daemon.start(Settings(interval_ns=INTERVAL, between="20:00..06:00"))
    assert status.run is not None and status.run.window == "20:00..06:00"
    daemon.close()


def test_the_outlook_counts_the_days_a_night_only_run_waits_through(tmp_path: Path) -> None:
    clock = FakeClock(start_ns=START_MONO, wall_start_ns=START_WALL)
    outlook = Outlook(None, BatteryModel(), tmp_path, clock, reserve_bytes=0)
    daemon = Daemon(tmp_path, clock, outlook=outlook, place=GREENWICH)
    settings = Settings(interval_ns=INTERVAL, between="sunset..sunrise", frames=120, power=True)
    # The first night holds frames 24–118 (16:00 to 07:40); the second begins with frame
    # 168 (16:00), and its 25th is the last: not 120 intervals from noon.
    last_due = START_MONO + 14_100_000_000 + 192 * INTERVAL
    preview = daemon.controller.preview(settings)
    assert preview.outlook.needs_ns is not None
    assert abs(preview.outlook.needs_ns - (last_due - clock.now_ns())) < 2 * NS_PER_S
    statuses = []

    def steps() -> None:
        daemon.controller.start(settings)
        sleep_ns(clock, HOUR_NS)
        statuses.append(daemon.controller.status())
        daemon.controller.stop()

    script(clock, steps)
    daemon.close()
    (status,) = statuses
    assert status.outlook is not None
    assert status.outlook.needs_ns == last_due - status.now_ns


def test_down_across_a_windows_edge_the_slots_are_missed_inside_and_skipped_outside(
    tmp_path: Path,
) -> None:
    # The daemon is away from 05:00 to 12:00 on the second day: the night's last slots were
    # to fire (missed), the morning's were outside the window (skipped), each range said
    # once, and the run goes on on its grid at sunset.
    clock = FakeClock(start_ns=START_MONO, wall_start_ns=START_WALL)
    daemons: list[Daemon] = []

    def steps() -> None:
        first = Daemon(tmp_path, clock, place=GREENWICH)
        daemons.append(first)
        status = first.controller.start(SETTINGS)
        assert status.run is not None
        started = clock.now_ns()
        sleep_ns(clock, 17 * HOUR_NS)  # 05:00
        first.controller.shutdown()
        first.close()
        sleep_ns(clock, 7 * HOUR_NS)  # 12:00: a new daemon
        second = Daemon(tmp_path, clock, place=GREENWICH)
        daemons.append(second)
        assert second.controller.resume() is not None
        sleep_ns(clock, started + 30 * HOUR_NS - clock.now_ns())  # 18:00
        second.controller.stop()
        second.close()

    script(clock, steps)
    journal = daemons[-1].journal
    (run,) = journal.list_runs()
    slots = each_slot(journal, run.id)
    anchor = slots[0].due_ns
    assert [s.frame for s in slots] == list(range(len(slots)))
    down_from, down_to = START_MONO + 17 * HOUR_NS, START_MONO + 24 * HOUR_NS
    for slot in slots:
        assert slot.due_ns == anchor + slot.frame * INTERVAL
        inside = at_night(wall_of(slot.due_ns))
        if down_from < slot.due_ns < down_to:
            expected = "missed" if inside else "skipped"
        else:
            expected = "ok" if inside else "skipped"
        assert slot.status == expected, slot
    lines = journal.read_frames(run.id)
    missed = [line for line in lines if line.status == "missed"]
    assert len(missed) == 1 and missed[0].error == DOWN_REASON, "one line, said why"
