"""Windows by the clock and by the sun (core.model.windows, core.daemon.sky).

The spans are checked against astral's own answers, asked directly (not through
lapse's walk), at a place with nights, and at one in polar night and midnight sun;
the scheduler's questions against spans laid out by hand.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from astral import Observer
from astral.sun import sunrise, sunset

from core.daemon.sky import AstralSky
from core.model.durations import DAY_NS, HOUR_NS, MINUTE_NS, NS_PER_S
from core.model.place import Place
from core.model.plan import Line, make_plan
from core.model.scheduler import FrameDue, Grid, Scheduler, SlotsMissed, SlotsOutside
from core.model.settings import Settings
from core.model.windows import (
    CHUNK_NS,
    Moment,
    SunEvent,
    When,
    Window,
    Windows,
    parse_between,
    rules_text,
    tidy_between,
    window_rules,
)
from tests.skies import GREENWICH, GREENWICH_OBSERVER, ClockworkSky, DarkSky, ns_of

pytestmark = pytest.mark.usefixtures("utc")

LONGYEARBYEN = Place(78.22, 15.65, 0.0)
"""Polar night from early November to late January; midnight sun from April to August."""


def wall(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()) * NS_PER_S


def walls(windows: Windows, from_ns: int, count: int) -> list[tuple[int, int]]:
    """The next ``count`` spans from ``from_ns``, as wall ns (monotonic = wall here)."""
    spans = []
    for _ in range(count):
        span = windows.span_at(from_ns)
        assert span is not None
        spans.append(span)
        from_ns = span[1]
    return spans


# -- the words -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("sunset..sunrise", "sunset..sunrise"),
        (" Sunset - 30 min .. SUNRISE+15min", "sunset-30min..sunrise+15min"),
        ("6:00..20:00", "06:00..20:00"),
        ("22:30:15..dawn", "22:30:15..dawn"),
        ("dusk+1h30m..05:00", "dusk+1h30min..05:00"),
        ("", ""),
    ],
)
def test_a_window_is_kept_as_one_spelling(typed: str, kept: str) -> None:
    assert tidy_between(typed) == kept
    assert tidy_between(kept) == kept


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("sunset", "write its opening and its closing with two dots between them"),
        ("sunsett..sunrise", "'sunsett' is not a clock time such as 06:00, or sunrise"),
        ("24:00..06:00", "'24:00' is not a time of day (00:00 to 23:59)"),
        ("sunset+25h..sunrise", "the offset in 'sunset+25h' must be under a day"),
        ("sunset+soon..sunrise", "the offset in 'sunset+soon'"),
        ("sunset..sunset", "opens and closes at the same moment"),
        ("06:00..07:00..08:00", "two dots between them"),
    ],
)
def test_a_window_that_is_not_one_is_said_in_words(typed: str, said: str) -> None:
    with pytest.raises(ValueError, match=None) as refused:
        parse_between(typed)
    assert said in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_rules_say_what_they_ask() -> None:
    assert rules_text(window_rules("sunset..sunrise", When.NIGHT, -12)) == (
        "sunset..sunrise and the sun below -12°"
    )
    assert rules_text(window_rules("", When.DAY, -6)) == "the sun above -6°"
    assert window_rules("", When.ALWAYS, -6) == ()


# -- the sky -----------------------------------------------------------------------------------
def test_sunset_to_sunrise_is_astrals_sunset_to_the_next_sunrise() -> None:
    sky = AstralSky(GREENWICH)
    windows = Windows(window_rules("sunset..sunrise", When.ALWAYS, -6), sky, **ZERO)
    observer = GREENWICH_OBSERVER
    first = date(2026, 12, 1)
    spans = walls(windows, wall(2026, 12, 1, 12), 10)
    for night, (opens, closes) in enumerate(spans):
        day = first + timedelta(days=night)
        assert opens == ns_of(sunset(observer, day, UTC))
        assert closes == ns_of(sunrise(observer, day + timedelta(days=1), UTC))


def test_offsets_move_each_end() -> None:
    sky = AstralSky(GREENWICH)
    plain = Windows(window_rules("sunset..sunrise", When.ALWAYS, -6), sky, **ZERO)
    moved = Windows(window_rules("sunset-30min..sunrise+15min", When.ALWAYS, -6), sky, **ZERO)
    start = wall(2026, 12, 1, 12)
    for (opens, closes), (earlier, later) in zip(
        walls(plain, start, 5), walls(moved, start, 5), strict=True
    ):
        assert earlier == opens - 30 * MINUTE_NS
        assert later == closes + 15 * MINUTE_NS


def test_a_clock_window_across_midnight_is_the_local_clock() -> None:
    windows = Windows(window_rules("20:00..06:00", When.ALWAYS, -6), AstralSky(None), **ZERO)
    spans = walls(windows, wall(2026, 12, 1, 12), 3)
    assert spans == [(wall(2026, 12, d, 20), wall(2026, 12, d + 1, 6)) for d in (1, 2, 3)]
    assert windows.inside(wall(2026, 12, 2, 5, 59))
    assert not windows.inside(wall(2026, 12, 2, 6))


def test_a_window_across_a_weeks_edge_is_one_window() -> None:
    # The spans are worked out a week at a time: a night across the edge is still one.
    edge = (wall(2026, 12, 1) // CHUNK_NS + 1) * CHUNK_NS
    assert datetime.fromtimestamp(edge / 1e9, UTC).hour == 0
    windows = Windows(window_rules("20:00..06:00", When.ALWAYS, -6), AstralSky(None), **ZERO)
    night = (edge - 4 * HOUR_NS, edge + 6 * HOUR_NS)
    assert windows.span_at(edge - HOUR_NS) == night
    assert windows.span_at(edge + HOUR_NS) == night, "asked from after the edge"
    always = Windows(window_rules("", When.NIGHT, -6), AstralSky(LONGYEARBYEN), **ZERO)
    opens, closes = always.span_at(wall(2026, 12, 10)) or (0, 0)
    assert closes - opens > 7 * DAY_NS, "a polar night is one window, over the weeks' edges"


def test_in_polar_night_the_night_window_stays_open_for_weeks() -> None:
    sky = AstralSky(LONGYEARBYEN)
    for between, when in (("sunset..sunrise", When.ALWAYS), ("", When.NIGHT)):
        windows = Windows(window_rules(between, when, -6), sky, **ZERO)
        opens, closes = windows.span_at(wall(2026, 12, 21)) or (0, 0)
        assert opens < wall(2026, 11, 20) and closes > wall(2027, 1, 20)


def test_under_the_midnight_sun_a_night_window_waits_for_the_first_sunset() -> None:
    sky = AstralSky(LONGYEARBYEN)
    windows = Windows(window_rules("sunset..sunrise", When.ALWAYS, -6), sky, **ZERO)
    opens, _ = windows.span_at(wall(2026, 6, 21)) or (0, 0)
    observer = Observer(78.22, 15.65, 0.0)
    first_sunset = next(
        ns_of(sunset(observer, date(2026, 6, 21) + timedelta(days=d), UTC))
        for d in range(120)
        if _sets(observer, date(2026, 6, 21) + timedelta(days=d))
    )
    assert opens == first_sunset
    assert datetime.fromtimestamp(opens / 1e9, UTC).month == 8


def _sets(observer: Observer, day: date) -> bool:
    try:
        sunset(observer, day, UTC)
    except ValueError:
        return False
    return True


def test_the_same_spans_whenever_they_are_asked() -> None:
    sky = AstralSky(GREENWICH)
    rules = window_rules("sunset-30min..sunrise", When.NIGHT, -12)
    early = Windows(rules, sky, **ZERO)
    first = walls(early, wall(2026, 12, 1), 20)
    late = Windows(rules, sky, **ZERO)
    # Asked from the middle first, as a resumed run does.
    assert walls(late, first[10][0] + HOUR_NS, 10) == [
        (max(first[10][0], first[10][0]), first[10][1]),
        *first[11:20],
    ]


ZERO = {"anchor_ns": 0, "anchor_wall_ns": 0}
"""Monotonic time is wall time: the spans read as wall times."""


# -- the scheduler -----------------------------------------------------------------------------
def clock_windows(between: str, *, anchor_wall_ns: int) -> Windows:
    return Windows(
        window_rules(between, When.ALWAYS, -6),
        AstralSky(None),
        anchor_ns=0,
        anchor_wall_ns=anchor_wall_ns,
    )


NOON = wall(2026, 12, 1, 12)


def test_the_slots_outside_pass_as_one_range_and_those_inside_fire() -> None:
    settings = Settings(interval_ns=10 * MINUTE_NS)
    windows = clock_windows("13:00..14:00", anchor_wall_ns=NOON)
    scheduler = Scheduler(make_plan(settings), Grid(0, 10 * MINUTE_NS), windows=windows)
    decisions = [scheduler.begin_next(0) for _ in range(9)]
    assert decisions[0] == SlotsOutside(0, 5, 5 * 10 * MINUTE_NS)
    assert [d.frame for d in decisions[1:7] if isinstance(d, FrameDue)] == [6, 7, 8, 9, 10, 11]
    # 14:00 closes it; the next opens at 13:00 the day after: frame 150.
    assert decisions[7] == SlotsOutside(12, 149, 149 * 10 * MINUTE_NS)
    assert isinstance(decisions[8], FrameDue) and decisions[8].frame == 150


def test_a_counted_run_counts_only_the_slots_inside() -> None:
    settings = Settings(interval_ns=10 * MINUTE_NS, frames=8)
    windows = clock_windows("13:00..14:00", anchor_wall_ns=NOON)
    scheduler = Scheduler(make_plan(settings), Grid(0, 10 * MINUTE_NS), frames=8, windows=windows)
    fired = []
    while not scheduler.complete:
        decision = scheduler.begin_next(0)
        if isinstance(decision, FrameDue):
            fired.append(decision.frame)
    assert fired == [6, 7, 8, 9, 10, 11, 150, 151]
    # Resumed at frame 150: six slots inside were begun before it.
    resumed = Scheduler(
        make_plan(settings), Grid(0, 10 * MINUTE_NS), frames=8, next_frame=150, windows=windows
    )
    assert resumed.counted == 6


def test_the_last_frame_before_the_window_closes_switches_the_power_off() -> None:
    # At a minute, power stays on from frame to frame; a closing window must end it.
    settings = Settings(interval_ns=MINUTE_NS, power=True)
    plan = make_plan(settings)
    assert plan.power_stays_on
    windows = clock_windows("12:00..12:05", anchor_wall_ns=NOON)
    scheduler = Scheduler(plan, Grid(0, MINUTE_NS), windows=windows)
    frames = [scheduler.begin_next(0) for _ in range(5)]
    offs = [
        any(s.edge is not None and s.edge.line is Line.POWER and not s.edge.on for s in f.steps)
        for f in frames
        if isinstance(f, FrameDue)
    ]
    assert offs == [False, False, False, False, True]


def test_slots_missed_inside_a_window_end_where_it_closes() -> None:
    settings = Settings(interval_ns=10 * MINUTE_NS)
    windows = clock_windows("12:00..13:00", anchor_wall_ns=NOON)
    scheduler = Scheduler(make_plan(settings), Grid(0, 10 * MINUTE_NS), windows=windows)
    # Down from 12:05 until 15:00 (frame 18): 1–5 missed inside, 6–17 skipped outside.
    assert isinstance(scheduler.begin_next(0), FrameDue)
    assert scheduler.pass_before(18 * 10 * MINUTE_NS) == [
        SlotsMissed(1, 5),
        SlotsOutside(6, 17, 17 * 10 * MINUTE_NS),
    ]
    # Still outside: the rest of the night comes as the engine reaches it.
    assert scheduler.begin_next(18 * 10 * MINUTE_NS) == SlotsOutside(18, 143, 143 * 10 * MINUTE_NS)


def test_a_moment_of_the_sun_is_where_astral_puts_it() -> None:
    sky = AstralSky(GREENWICH)
    observer = GREENWICH_OBSERVER
    day = date(2026, 12, 1)
    at = sky.moment_ns(Moment.of_event(SunEvent.SUNRISE, -HOUR_NS), day)
    assert at == ns_of(sunrise(observer, day, UTC)) - HOUR_NS


def test_a_clock_window_keeps_the_local_clock_through_daylight_saving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    monkeypatch.setenv("TZ", "Europe/London")
    time.tzset()
    try:
        windows = Windows(window_rules("06:00..20:00", When.ALWAYS, -6), AstralSky(None), **ZERO)
        # Clocks go forward at 01:00 UTC on 28 March 2027: 06:00 is 06:00 UTC before, 05:00 after.
        spans = walls(windows, wall(2027, 3, 27), 2)
        assert spans == [
            (wall(2027, 3, 27, 6), wall(2027, 3, 27, 20)),
            (wall(2027, 3, 28, 5), wall(2027, 3, 28, 19)),
        ]
    finally:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()


def test_a_window_that_never_opens_is_refused_at_start() -> None:
    from core.daemon.controller import _refuse_if_never_open
    from core.model.errors import LapseError

    never = Windows(window_rules("", When.DAY, -6), DarkSky(), **ZERO)
    assert never.span_at(wall(2026, 12, 1)) is None
    with pytest.raises(LapseError, match=r"does not open in the next 400 days"):
        _refuse_if_never_open(never, 0)
    always = Windows(window_rules("", When.NIGHT, -6), DarkSky(), **ZERO)
    _refuse_if_never_open(always, 0)


def test_sun_below_alone_asks_for_the_night() -> None:
    from tui.cli import build_parser, settings_from_args

    args = build_parser().parse_args(["run", "--sun-below", "-12"])
    settings = settings_from_args(Settings(interval_ns=MINUTE_NS), args)
    assert (settings.when, settings.night_angle) == (When.NIGHT, -12.0)
    args = build_parser().parse_args(["run", "--sun-below", "-12", "--when", "day"])
    assert settings_from_args(Settings(interval_ns=MINUTE_NS), args).when is When.DAY


def test_a_window_closing_as_the_next_opens_stays_open() -> None:
    # Opens (the sun coming up through 0°) at 10:00 and closes (going down) at 10:00 too.
    up, down = Moment(angle=0.0, rising=True), Moment(angle=0.0, rising=False)
    windows = Windows((Window(up, down),), ClockworkSky(rising_s=36_000, setting_s=36_000), **ZERO)
    opens, closes = windows.span_at(wall(2026, 12, 10, 12)) or (0, 0)
    assert closes - opens > 7 * DAY_NS, "one window, never closed for an instant"


def test_a_window_of_garbage_is_said_in_one_short_line() -> None:
    for typed in ("x" * 100_000 + "..sunrise", "sun\x07set..sunrise", "sun\nset..sunrise"):
        with pytest.raises(ValueError) as refused:
            parse_between(typed)
        said = str(refused.value)
        assert "\n" not in said and "\x07" not in said and len(said) < 300, said


def test_a_place_of_garbage_is_said_in_one_short_line() -> None:
    from core.model.errors import SettingsError
    from core.model.place import parse_place

    for typed in ("1" * 100_000, "51,\x07", "a,b,c,d"):
        with pytest.raises(SettingsError) as refused:
            parse_place(typed)
        said = str(refused.value)
        assert "\n" not in said and "\x07" not in said and len(said) < 300, said
    assert parse_place(" 51.48, -0.01 , 40") == Place(51.48, -0.01, 40.0)
