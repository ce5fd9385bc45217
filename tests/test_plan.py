"""Phase plans for every preset and for random settings (docs/architecture.md §3)."""

import math
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.model.durations import NS_PER_S, PRESETS, parse_duration
from core.model.errors import PlanError, SettingsError
from core.model.led import FOCUS_FLASHES, led_changes, led_level
from core.model.plan import MIN_POWER_INTERVAL_NS, SAVE_TIME_NS, Edge, Line, make_plan
from core.model.settings import MAX_FOCUS_LEAD_NS, MIN_INTERVAL_NS, Settings

S = NS_PER_S


def check_plan_shape(settings: Settings) -> None:
    plan = make_plan(settings)
    offsets = [edge.offset_ns for edge in plan.edges]
    assert offsets == sorted(offsets), "edges are in time order"
    assert plan.span_ns <= settings.interval_ns, "the cycle fits inside one interval"
    opening = [e for e in plan.edges if e.line is Line.SHUTTER and e.on]
    assert opening == [Edge(0, Line.SHUTTER, True)], "the shutter opens at offset 0"
    for line in Line:
        states = [edge.on for edge in plan.edges if edge.line is line]
        # Every line that is used goes on once and off once, in that order.
        assert states in ([], [True, False]), (line, states)
    assert plan.line_is_on(Line.SHUTTER, 0)
    assert not plan.line_is_on(Line.SHUTTER, plan.release_ns)
    if settings.exposure_ns is not None:
        assert plan.release_ns == settings.exposure_ns
    if settings.power:
        # The camera is powered through the exposure and until it has saved the frame.
        assert plan.power_on_ns is not None and plan.power_off_ns is not None
        assert plan.power_off_ns >= plan.release_ns + scaled(SAVE_TIME_NS, settings.interval_ns)
        assert plan.line_is_on(Line.POWER, plan.release_ns - 1)


def scaled(duration_ns: int, interval_ns: int) -> int:
    """A lead as the plan compresses it: in proportion below a minute, rounded down."""
    return math.floor(duration_ns * Fraction(min(interval_ns, 60 * S), 60 * S))


@pytest.mark.parametrize("interval", [10 * S, 30 * S, 60 * S, 120 * S, 3_600 * S])
@pytest.mark.parametrize("power", [False, True], ids=["no-power", "power"])
def test_the_longest_exposure_fits_and_a_nanosecond_more_does_not(
    interval: int, power: bool
) -> None:
    lead = scaled(14 * S if power else 4 * S, interval)
    save = scaled(3 * S, interval) if power else 0
    longest = interval - lead - save
    settings = Settings(interval_ns=interval, power=power, exposure_ns=longest)
    check_plan_shape(settings)
    assert make_plan(settings).release_ns == longest
    with pytest.raises(PlanError, match="longest is"):
        make_plan(settings.with_changes(exposure_ns=longest + 1))


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.label)
@pytest.mark.parametrize("power", [False, True], ids=["no-power", "power"])
def test_every_preset(preset, power: bool) -> None:
    settings = Settings(interval_ns=preset.interval_ns, power=power)
    if power and preset.interval_ns < MIN_POWER_INTERVAL_NS:
        with pytest.raises(PlanError, match=r"at least 10s .* 1s|at least 10s .* 3s"):
            make_plan(settings)
        return
    check_plan_shape(settings)


def test_minute_and_longer_powered_plan_is_the_inspiration() -> None:
    for interval in ("1min", "30min", "30d"):
        plan = make_plan(Settings(interval_ns=parse_duration(interval), power=True))
        assert plan.edges == (
            Edge(-14 * S, Line.POWER, True),
            Edge(-4 * S, Line.FOCUS, True),
            Edge(0, Line.SHUTTER, True),
            Edge(3 * S, Line.SHUTTER, False),
            Edge(3 * S, Line.FOCUS, False),
            Edge(46 * S, Line.POWER, False),
        )


def test_without_power_there_are_no_power_edges() -> None:
    plan = make_plan(Settings(interval_ns=60 * S))
    assert [e.line for e in plan.edges if e.line is Line.POWER] == []
    assert plan.lead_ns == 4 * S


def test_short_intervals_compress_in_proportion() -> None:
    plan = make_plan(Settings(interval_ns=30 * S, power=True))
    assert plan.power_on_ns == -7 * S
    assert plan.focus_on_ns == -2 * S
    assert plan.release_ns == 1_500_000_000
    assert plan.span_ns == 30 * S


def test_exposure_that_cannot_fit_names_the_limit() -> None:
    with pytest.raises(
        PlanError, match=r"exposure 50s does not fit a 1min interval.*longest is 43s"
    ):
        make_plan(Settings(interval_ns=60 * S, power=True, exposure_ns=50 * S))
    with pytest.raises(PlanError, match=r"longest is 9s333ms"):
        make_plan(Settings(interval_ns=10 * S, exposure_ns=10 * S))
    plan = make_plan(Settings(interval_ns=60 * S, power=True, exposure_ns=43 * S))
    assert plan.power_off_ns == 46 * S
    assert plan.bulb


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"interval_ns": 0}, "interval must be between 10ms and 365d, got 0s"),
        ({"frames": -1}, "frames must be between 0"),
        ({"exposure_ns": 0}, "exposure must be between 1ms and 1d"),
        ({"focus_lead_ns": 11 * S}, "focus lead must be between 0s and 10s"),
        ({"clock_ppm": 900.0}, "clock trim must be between -500 and \\+500 ppm"),
        ({"delay_ns": -S}, "delay must be between"),
    ],
)
def test_invalid_settings_name_field_and_limit(changes, message) -> None:
    with pytest.raises(SettingsError, match=message):
        make_plan(Settings(**{"interval_ns": 60 * S, **changes}))


def test_settings_round_trip_through_human_spellings() -> None:
    settings = Settings(
        interval_ns=90 * S,
        power=True,
        frames=12,
        delay_ns=5 * S,
        exposure_ns=2 * S,
        focus_lead_ns=S,
        clock_ppm=18.5,
    )
    data = settings.to_dict()
    assert data["interval"] == "1min30s" and data["exposure"] == "2s"
    assert Settings.from_dict(data) == settings
    with pytest.raises(SettingsError, match="unknown setting 'shutter'"):
        Settings.from_dict({"interval": "1s", "shutter": 3})
    with pytest.raises(SettingsError, match="frames must be a whole number"):
        Settings.from_dict({"interval": "1s", "frames": "ten"})


durations = st.integers(min_value=MIN_INTERVAL_NS, max_value=40 * 86_400 * S)


@given(
    interval=durations,
    power=st.booleans(),
    focus_lead=st.integers(min_value=0, max_value=MAX_FOCUS_LEAD_NS),
    exposure=st.none() | st.integers(min_value=1_000_000, max_value=86_400 * S),
)
def test_random_settings_give_a_valid_plan_or_a_clear_refusal(
    interval: int, power: bool, focus_lead: int, exposure: int | None
) -> None:
    settings = Settings(
        interval_ns=interval, power=power, focus_lead_ns=focus_lead, exposure_ns=exposure
    )
    try:
        make_plan(settings)
    except PlanError as error:
        text = str(error)
        assert any(word in text for word in ("at least", "longest is", "must not be longer"))
        return
    check_plan_shape(settings)


@given(interval=durations, power=st.booleans())
def test_led_follows_its_change_list(interval: int, power: bool) -> None:
    assume(not power or interval >= MIN_POWER_INTERVAL_NS)
    plan = make_plan(Settings(interval_ns=interval, power=power))
    changes = led_changes(plan)
    level = 0.0
    for (offset, new), following in zip(changes, [*changes[1:], None], strict=True):
        assert new != level
        level = new
        assert led_level(plan, offset) == new
        if following is not None:
            assert led_level(plan, (offset + following[0]) // 2) in (new, following[1])
    assert level == 0.0, "the LED ends the cycle dark"


def test_led_flashes_brighter_then_holds_steady() -> None:
    plan = make_plan(Settings(interval_ns=60 * S))
    flashes = [level for offset, level in led_changes(plan) if offset < 0 and level > 0]
    assert flashes == [(i + 1) / FOCUS_FLASHES for i in range(FOCUS_FLASHES)]
    assert led_level(plan, 0) == 1.0 and led_level(plan, 2 * S) == 1.0
    assert led_level(plan, 10 * S) == 0.0
    powered = make_plan(Settings(interval_ns=60 * S, power=True))
    assert led_level(powered, -14 * S) == 0.1, "dim blink while only the camera is powered"
    assert led_level(powered, -13 * S) == 0.0
