"""Two paces: a minute by day, ten minutes by night, on the real controller, journal and
simulated rig in fake time (the sun's times from astral at Greenwich, local time UTC).

The crossings are astral's own civil dusk and dawn (the sun 6° down), asked directly:
- by day every frame is on the run's grid; from dusk every frame is on a grid anchored
  at dusk, ten minutes apart; from dawn on one anchored at dawn, a minute apart; no slot
  is missed and no two shutters come closer than the frame before needs;
- the camera's power, on from frame to frame at a minute, is switched off before the
  night's first frame;
- killed at night and by day and resumed at once, the run journals the same slots;
- status says the pace.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from astral.sun import dawn, dusk
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import sleep_ns
from core.daemon.sky import room_between
from core.fake_clock import FakeClock
from core.model.durations import HOUR_NS, MINUTE_NS, NS_PER_S
from core.model.errors import LapseError
from core.model.paces import PacedGrid
from core.model.plan import Line, make_plan
from core.model.scheduler import Grid
from core.model.settings import Settings
from core.model.windows import When, Windows, sun_window
from tests.fake_time import Daemon, run_with_restarts, script
from tests.skies import GREENWICH, GREENWICH_OBSERVER, ClockworkSky, ns_of
from tui.cli import status_lines

pytestmark = pytest.mark.usefixtures("utc")

START_WALL = int(datetime(2026, 12, 1, 14, tzinfo=UTC).timestamp()) * NS_PER_S
START_MONO = 5_000 * NS_PER_S
LASTS = 20 * HOUR_NS
"""From 14:00 to 10:00 the next morning: a dusk and a dawn."""
SETTINGS = Settings(interval_ns=MINUTE_NS, night_interval_ns=10 * MINUTE_NS, power=True)


DUSK = ns_of(dusk(GREENWICH_OBSERVER, date(2026, 12, 1), 6, UTC))
DAWN = ns_of(dawn(GREENWICH_OBSERVER, date(2026, 12, 2), 6, UTC))


def mono(wall_ns: int) -> int:
    return START_MONO + (wall_ns - START_WALL)


def run(tmp_path: Path, kills: list[int]) -> tuple[list, list]:
    clock = FakeClock(start_ns=START_MONO, wall_start_ns=START_WALL)
    return run_with_restarts(tmp_path, clock, SETTINGS, GREENWICH, LASTS, kills)


def test_the_pace_changes_at_dusk_and_dawn_each_on_a_grid_from_the_crossing(
    tmp_path: Path,
) -> None:
    slots, edges = run(tmp_path, [])
    assert [s.frame for s in slots] == list(range(len(slots))), "every slot, once"
    assert all(s.status == "ok" and s.fired_ns == s.due_ns for s in slots), "none missed"
    anchor = slots[0].due_ns
    dusk_ns, dawn_ns = mono(DUSK), mono(DAWN)
    day = [s for s in slots if s.due_ns < dusk_ns]
    night = [s for s in slots if dusk_ns <= s.due_ns < dawn_ns]
    morning = [s for s in slots if s.due_ns >= dawn_ns]
    assert all(s.due_ns == anchor + s.frame * MINUTE_NS for s in day)
    assert all((s.due_ns - dusk_ns) % (10 * MINUTE_NS) == 0 for s in night), "anchored at dusk"
    assert all((s.due_ns - dawn_ns) % MINUTE_NS == 0 for s in morning), "anchored at dawn"
    assert [b.due_ns - a.due_ns for a, b in pairwise(night)] == [10 * MINUTE_NS] * (len(night) - 1)
    # The first of each pace is the first on its grid that leaves the frame before room.
    day_plan, night_plan = make_plan(SETTINGS), make_plan(SETTINGS.at_night())
    into_night = room_between(day_plan, night_plan)
    assert night[0].due_ns - day[-1].due_ns >= into_night
    assert night[0].due_ns - 10 * MINUTE_NS - day[-1].due_ns < into_night
    into_day = room_between(night_plan, day_plan)
    assert morning[0].due_ns - night[-1].due_ns >= into_day
    assert morning[0].due_ns - MINUTE_NS - night[-1].due_ns < into_day or (
        morning[0].due_ns == dawn_ns
    )
    assert len(day) == -(-(dusk_ns - anchor) // MINUTE_NS), "every minute until dusk"
    assert night[-1].due_ns + 10 * MINUTE_NS >= dawn_ns, "every ten minutes until dawn"
    # At a minute the power stays on between frames; it goes off before the night's.
    power = [e for e in edges if e.line == Line.POWER]
    offs_by_day = [e for e in power if not e.on and e.at_ns < dusk_ns]
    assert len(offs_by_day) == 1 and offs_by_day[0].at_ns < night[0].due_ns - 7 * NS_PER_S


def test_killed_at_night_and_by_day_the_run_keeps_its_paces(tmp_path: Path) -> None:
    whole, _ = run(tmp_path / "whole", [])
    killed, _ = run(
        tmp_path / "killed", [6 * HOUR_NS + 5 * MINUTE_NS, 18 * HOUR_NS + 30 * NS_PER_S]
    )
    assert [(s.frame, s.status, s.due_ns) for s in killed] == [
        (s.frame, s.status, s.due_ns) for s in whole
    ]


def test_status_says_the_pace_and_a_night_interval_needs_a_place(tmp_path: Path) -> None:
    clock = FakeClock(start_ns=START_MONO, wall_start_ns=START_WALL)
    daemon = Daemon(tmp_path, clock)
    said: list[list[str]] = []

    def steps() -> None:
        with pytest.raises(LapseError, match="a night interval needs to know where the rig"):
            daemon.controller.start(SETTINGS)
        daemon.controller.start(SETTINGS, place=GREENWICH)
        sleep_ns(clock, HOUR_NS)
        said.append(status_lines(daemon.controller.status()))
        sleep_ns(clock, 6 * HOUR_NS)
        said.append(status_lines(daemon.controller.status()))
        daemon.controller.stop()

    script(clock, steps)
    daemon.close()
    assert "  pace: day, every 1min (the sun below -6° is night)" in said[0]
    assert "  pace: night, every 10min (the sun below -6° is night)" in said[1]


def paced(dusk_s: int, dawn_s: int, room_s: int) -> PacedGrid:
    nights = Windows(
        (sun_window(When.NIGHT, -6),),
        ClockworkSky(rising_s=dawn_s, setting_s=dusk_s),
        anchor_ns=0,
        anchor_wall_ns=0,
    )
    start = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp()) * NS_PER_S
    return PacedGrid(
        Grid(start, MINUTE_NS, 18.5), 10 * MINUTE_NS, nights, lambda night: room_s * NS_PER_S
    )


@given(
    dusk=st.integers(3_600, 70_000),
    length=st.integers(1, 40_000),
    room=st.integers(1, 900),
    offset=st.integers(0, 5 * 86_400 * NS_PER_S),
)
@settings(max_examples=60, deadline=None)
def test_the_first_frame_at_or_after_a_time_is_the_grids_answer(
    dusk: int, length: int, room: int, offset: int
) -> None:
    # Nights of any length, even shorter than the room a pace change needs (a pace with
    # no frame at all): frames stay in order, and each time finds its first frame.
    grid = paced(dusk, (dusk + length) % 86_400, room)
    time_ns = grid.anchor_ns + offset
    frame = grid.first_frame_due_at_or_after(time_ns)
    assert grid.due_ns(frame) >= time_ns
    assert frame == 0 or grid.due_ns(frame - 1) < time_ns
    dues = [grid.due_ns(f) for f in range(max(0, frame - 3), frame + 3)]
    assert dues == sorted(set(dues)), "strictly in order"
    for before, after in zip(range(frame - 3, frame + 2), range(frame - 2, frame + 3), strict=True):
        if before >= 0 and grid.at_night(before) != grid.at_night(after):
            assert grid.due_ns(after) - grid.due_ns(before) >= room * NS_PER_S


@pytest.mark.parametrize(
    "settings_",
    [
        SETTINGS,
        Settings(interval_ns=10 * MINUTE_NS, night_interval_ns=MINUTE_NS, power=True),
        Settings(interval_ns=30 * NS_PER_S, night_interval_ns=2 * MINUTE_NS, power=True),
        Settings(interval_ns=5 * NS_PER_S, night_interval_ns=30 * NS_PER_S, exposure_ns=NS_PER_S),
    ],
)
def test_the_room_between_paces_keeps_every_edge_apart(settings_: Settings) -> None:
    for before, after in (
        (make_plan(settings_), make_plan(settings_.at_night())),
        (make_plan(settings_.at_night()), make_plan(settings_)),
    ):
        room = room_between(before, after)
        # A frame on `after` this far past a frame on `before`: its first edge comes after
        # the other's last, and its power after the other's has been off long enough.
        assert room + after.edges[0].offset_ns >= before.edges[-1].offset_ns
        if before.power_off_ns is not None and after.power_on_ns is not None:
            off_for = room + after.power_on_ns - before.power_off_ns
            assert off_for >= settings_.min_power_off_ns


def test_threads_working_the_paces_out_at_once_get_the_same_answers() -> None:
    # The timing thread and a status answer both ask a run's grid; each may work a pace
    # out the other is working out. The GIL is handed over every microsecond here.
    import sys
    import threading

    reference = paced(60_000, 25_000, 30)
    frames = range(0, 40_000, 97)
    expected = [reference.due_ns(frame) for frame in frames]
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(5):
            grid = paced(60_000, 25_000, 30)
            answers: list[list[int]] = []

            def ask(grid: PacedGrid = grid, answers: list[list[int]] = answers) -> None:
                answers.append([grid.due_ns(frame) for frame in frames])

            threads = [threading.Thread(target=ask) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert answers == [expected] * 4
            assert [grid.first_frame_due_at_or_after(grid.due_ns(f)) for f in frames] == list(
                frames
            )
    finally:
        sys.setswitchinterval(before)
