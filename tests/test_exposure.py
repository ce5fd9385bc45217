"""Auto exposure's policy (core.model.exposure): the ladder of settings, the meter, the
step and the smoothing, as plain logic."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.model.camera_policy import speed_ns, starting_setting
from core.model.durations import NS_PER_S
from core.model.exposure import (
    MID_GREY,
    AutoExposure,
    ExposureConfig,
    ExposureMode,
    Ladder,
    NoLadder,
    encoded,
    iso_number,
    linear,
    stops_off,
)

THIRDS = ["1/4000", "1/3200", "1/2500", "1/2000", "1/1600", "1/1250", "1/1000", "1/800"]
THIRDS += ["1/640", "1/500", "1/400", "1/320", "1/250", "1/200", "1/160", "1/125", "1/100"]
THIRDS += ["1/80", "1/60", "1/50", "1/40", "1/30", "1/25", "1/20", "1/15", "1/13", "1/10"]
THIRDS += ["1/8", "1/6", "1/5", "1/4", "0.3", "0.4", "0.5", "0.6", "0.8", "1", "1.3", "1.6"]
THIRDS += ["2", "2.5", "3.2", "4", "5", "6", "8", "10", "13", "15", "20", "25", "30", "Bulb"]
"""A DSLR's shutter speeds, in thirds of a stop, as libgphoto2 lists a Nikon's."""
ISOS = ["Auto", "100", "125", "160", "200", "250", "320", "400", "500", "640", "800"]
ISOS += ["1000", "1250", "1600", "2000", "2500", "3200", "4000", "5000", "6400", "12800"]


def dslr(longest_s: float = 30, iso_min: int = 100, iso_max: int = 6400) -> Ladder:
    return Ladder.of(
        THIRDS,
        ISOS,
        longest_ns=round(longest_s * NS_PER_S),
        iso_min=iso_min,
        iso_max=iso_max,
        speed_ns=speed_ns,
    )


AUTO = ExposureConfig(mode=ExposureMode.AUTO)


def test_mid_grey_is_an_eighteen_percent_card() -> None:
    assert linear(MID_GREY) == pytest.approx(0.18, abs=0.005)
    assert encoded(0.18) == pytest.approx(MID_GREY, abs=0.005)


@given(st.floats(0, 1))
def test_encoding_undoes_linear(brightness: float) -> None:
    assert encoded(linear(brightness)) == pytest.approx(brightness, abs=1e-6)


def test_a_dark_frame_needs_more_light_and_a_bright_one_less() -> None:
    half_light = encoded(linear(MID_GREY) / 2)
    assert stops_off(half_light, MID_GREY) == pytest.approx(1.0)
    assert stops_off(encoded(linear(MID_GREY) * 4), MID_GREY) == pytest.approx(-2.0)
    assert stops_off(MID_GREY, MID_GREY) == 0
    # All black or all white says which way, and a bounded amount, not infinity.
    assert 0 < stops_off(0.0, MID_GREY) < 12
    assert -3 < stops_off(1.0, MID_GREY) < 0


@pytest.mark.parametrize(
    ("text", "number"), [("400", 400), ("ISO 1600", 1600), ("Auto", None), ("", None)]
)
def test_iso_numbers(text: str, number: int | None) -> None:
    assert iso_number(text) == number


def test_the_ladder_keeps_the_limits_and_the_lowest_iso_for_each_light() -> None:
    ladder = dslr(longest_s=4, iso_max=1600)
    shutters = {setting.shutter for setting in ladder.settings}
    assert "4" in shutters and "5" not in shutters and "Bulb" not in shutters
    assert {setting.iso for setting in ladder.settings} <= {str(n) for n in (100, 125, 160)} | {
        "200", "250", "320", "400", "500", "640", "800", "1000", "1250", "1600"
    }  # fmt: skip
    assert ladder.least.text == "1/4000 ISO 100"
    assert ladder.most.text == "4 ISO 1600"
    # 1/125 at ISO 100 lets in as much light as 1/250 at 200: the lower ISO is kept.
    one_125 = ladder.nearest(math.log2(1 / 125))
    assert one_125.text == "1/125 ISO 100"
    evs = [setting.ev for setting in ladder.settings]
    assert evs == sorted(evs)
    assert max(b - a for a, b in itertools.pairwise(evs)) < 0.34


def test_a_camera_without_iso_keeps_its_own() -> None:
    ladder = Ladder.of(
        ["1/100", "1/50"], [], longest_ns=NS_PER_S, iso_min=100, iso_max=6400, speed_ns=speed_ns
    )
    assert [setting.text for setting in ladder.settings] == ["1/100", "1/50"]


@pytest.mark.parametrize(
    ("shutters", "isos", "longest_s", "said"),
    [
        ([], ISOS, 10, "needs the camera's shutter speed over USB"),
        (["Bulb"], ISOS, 10, "needs the camera's shutter speed over USB"),
        (["30", "Bulb"], ISOS, 10, "none of the camera's shutter speeds is as short as 10s"),
        (THIRDS, ["Auto", "25600"], 10, "none of the camera's ISOs is from"),
    ],
)
def test_a_ladder_that_cannot_be_made_says_why(
    shutters: list[str], isos: list[str], longest_s: int, said: str
) -> None:
    with pytest.raises(NoLadder, match=said):
        Ladder.of(
            shutters,
            isos,
            longest_ns=longest_s * NS_PER_S,
            iso_min=100,
            iso_max=6400,
            speed_ns=speed_ns,
        )


@pytest.mark.parametrize(
    ("interval_s", "margin_s", "longest_s"),
    [(30, 1, 29), (2, 1, 1), (1, 1, 0.5), (1, 0, 1), (10, 6, 5), (0.5, 1, 0.25)],
)
def test_the_longest_exposure_leaves_the_margin_or_half_the_interval(
    interval_s: float, margin_s: float, longest_s: float
) -> None:
    config = ExposureConfig(mode=ExposureMode.AUTO, margin_ns=round(margin_s * NS_PER_S))
    assert config.longest_ns(round(interval_s * NS_PER_S)) == round(longest_s * NS_PER_S)


def test_the_start_is_the_cameras_own_setting_or_the_nearest() -> None:
    ladder = dslr()
    assert starting_setting(ladder, "1/125", "100").text == "1/125 ISO 100"
    # The same light at the lowest ISO that gives it: the ladder keeps one setting a light.
    assert starting_setting(ladder, "1/125", "400").text == "1/30 ISO 100"
    # ISO 50 is below the limit: the same light at the lowest allowed ISO.
    assert starting_setting(ladder, "1/100", "50").text == "1/200 ISO 100"
    assert starting_setting(ladder, None, None) in ladder.settings
    assert starting_setting(ladder, "Bulb", "Auto") in ladder.settings


def brightness_at(needed_ev: float, used_ev: float) -> float:
    """The brightness of a frame taken ``used_ev`` of a scene that needs ``needed_ev``."""
    return encoded(linear(MID_GREY) * 2 ** (used_ev - needed_ev))


def follow(auto: AutoExposure, scene: list[float]) -> list[float]:
    """Shoot ``scene`` (what each frame needs, in stops) and take every change at once:
    the setting of each frame, in stops."""
    taken = []
    for needed in scene:
        used = auto.current
        taken.append(used.ev)
        chosen = auto.measure(brightness_at(needed, used.ev), used)
        if chosen is not None:
            auto.current = chosen
    return taken


def test_the_first_frames_settle_then_each_step_is_at_most_a_third() -> None:
    ladder = dslr()
    auto = AutoExposure(ladder, AUTO, ladder.nearest(math.log2(1 / 125)))
    taken = follow(auto, [-12.0] * 30)  # a far brighter scene than the start
    assert abs(taken[4] - (-12.0)) <= 1 / 3, "settled by the fifth frame"
    steps = [abs(b - a) for a, b in itertools.pairwise(taken[4:])]
    assert max(steps) <= 1 / 3 + 0.01


def test_a_ramp_is_followed_by_thirds_without_dithering() -> None:
    ladder = dslr()
    auto = AutoExposure(ladder, AUTO, ladder.nearest(-10.0))
    scene = [-10.0 + 0.05 * k for k in range(300)]  # a dusk: 15 stops over 300 frames
    taken = follow(auto, scene)
    errors = [abs(t - s) for t, s in zip(taken[4:], scene[4:], strict=False)]
    assert max(errors) <= 1 / 3
    steps = [b - a for a, b in itertools.pairwise(taken[4:])]
    assert max(abs(step) for step in steps) <= 1 / 3 + 0.01
    assert min(steps) >= 0, "a steady ramp never turns back"


def test_a_steady_scene_leaves_the_setting_alone() -> None:
    ladder = dslr()
    auto = AutoExposure(ladder, AUTO, ladder.nearest(-6.0))
    taken = follow(auto, [-6.05, -5.97, -6.02, -6.0, -6.04, -5.98] * 5)
    assert len(set(taken)) == 1


def test_a_passing_light_is_smoothed() -> None:
    ladder = dslr()
    auto = AutoExposure(ladder, AUTO, ladder.nearest(2.0))
    scene = [2.0] * 10 + [-4.0] + [2.0] * 10  # car headlights in one frame
    taken = follow(auto, scene)
    assert set(taken[10:]) == {taken[0]}, "the odd frame changed nothing"


def test_limits_hold_when_the_scene_is_darker_than_they_allow() -> None:
    ladder = dslr(longest_s=2, iso_max=800)
    auto = AutoExposure(ladder, AUTO, ladder.nearest(0.0))
    taken = follow(auto, [12.0] * 60)
    assert taken[-1] == ladder.most.ev
    assert ladder.most.text == "2 ISO 800"


def test_a_scene_between_two_settings_does_not_make_it_dither() -> None:
    ladder = dslr()
    start = ladder.nearest(-6.0)
    auto = AutoExposure(ladder, AUTO, start)
    # Halfway to the next third, with the wobble of a real sky.
    scene = [start.ev + 1 / 6 + wobble for wobble in (0.03, -0.03, 0.02, -0.02, 0.0)] * 8
    taken = follow(auto, scene)
    assert len(set(taken[4:])) == 1, taken


def test_a_sudden_change_is_followed_a_step_a_frame() -> None:
    ladder = dslr()
    auto = AutoExposure(ladder, AUTO, ladder.nearest(-6.0))
    taken = follow(auto, [-6.0] * 10 + [-2.0] * 30)  # the sun from behind a cloud
    steps = [abs(b - a) for a, b in itertools.pairwise(taken[4:])]
    assert max(steps) <= 1 / 3 + 0.01
    assert taken[-1] == pytest.approx(-2.0, abs=1 / 3)


def resumed(ladder: Ladder, before: list[float]) -> AutoExposure:
    """Auto exposure of a run resumed after frames that needed ``before`` (in stops), each
    taken at the setting the run had then; the camera kept the last one."""
    first = AutoExposure(ladder, AUTO, ladder.nearest(before[0]))
    history = []
    for needed in before:
        used = first.current
        history.append((used, brightness_at(needed, used.ev)))
        chosen = first.measure(history[-1][1], used)
        if chosen is not None:
            first.current = chosen
    auto = AutoExposure(ladder, AUTO, first.current)
    auto.resume(history)
    return auto


def test_a_resumed_run_goes_on_from_its_frames_before_the_stop() -> None:
    ladder = dslr()
    auto = resumed(ladder, [2.0] * 12)
    # Headlights in the first frame after the restart: a run that settled again would
    # jump 6 stops, then back.
    taken = follow(auto, [-4.0] + [2.0] * 10)
    assert set(taken) == {auto.current.ev}, taken
    fresh = AutoExposure(ladder, AUTO, auto.current)
    assert len(set(follow(fresh, [-4.0] + [2.0] * 10))) > 1, "without them it does jump"


def test_a_resumed_run_whose_light_moved_while_down_settles_again() -> None:
    ladder = dslr()
    auto = resumed(ladder, [2.0] * 12)
    taken = follow(auto, [5.0] * 6)  # three stops darker when lapse came back
    assert taken[1] == 2.0, "one frame is outvoted by the frames before the stop"
    assert taken[2] == pytest.approx(5.0, abs=1 / 3), "two are not: settled in full"


def test_a_resumed_run_with_few_frames_before_settles_the_rest() -> None:
    ladder = dslr()
    auto = resumed(ladder, [2.0, 2.0])
    assert auto.measured == 2
    taken = follow(auto, [2.9] * 6)
    assert taken[1] == pytest.approx(2.9, abs=1 / 6), "still settling: followed in full"


def test_bulb_goes_on_past_the_longest_timed_speed_by_thirds() -> None:
    ladder = Ladder.of(
        THIRDS,
        ISOS,
        longest_ns=59 * NS_PER_S,
        iso_min=100,
        iso_max=6400,
        speed_ns=speed_ns,
        bulb="Bulb",
    )
    held = [setting for setting in ladder.settings if setting.bulb_ns is not None]
    assert {setting.bulb_ns for setting in held} == {
        round(2 ** (16 / 3) * NS_PER_S),  # 40.3 s: a third of a stop past 30 s
        round(2 ** (17 / 3) * NS_PER_S),  # 50.8 s: the last under the 59 s the limits allow
    }
    # For as much light, the lowest ISO: a bulb at ISO 100 rather than 30 s at ISO 125.
    assert ladder.nearest(16 / 3).text == "bulb 40.3s ISO 100"
    assert ladder.most.text == "bulb 50.8s ISO 6400"
    assert all(setting.shutter == "Bulb" for setting in held)
    # Below 30 s nothing changes, and a camera left on Bulb starts from no bulb setting.
    timed = dslr(longest_s=59)
    assert [s.text for s in ladder.settings if s.ev <= 5] == [
        s.text for s in timed.settings if s.ev <= 5
    ]
    assert ladder.find("Bulb", "100") is None


def test_no_bulb_fits_an_interval_the_timed_speeds_fill() -> None:
    ladder = Ladder.of(
        THIRDS, ISOS, longest_ns=29 * NS_PER_S, iso_min=100, iso_max=6400, speed_ns=speed_ns,
        bulb="Bulb",
    )  # fmt: skip
    assert all(setting.bulb_ns is None for setting in ladder.settings)


def test_a_bulb_setting_reads_back_from_the_journal() -> None:
    from core.model.camera_policy import setting_of, setting_stops

    ladder = Ladder.of(
        THIRDS, ISOS, longest_ns=59 * NS_PER_S, iso_min=100, iso_max=6400, speed_ns=speed_ns,
        bulb="Bulb",
    )  # fmt: skip
    setting = ladder.nearest(17 / 3)
    assert setting.text == "bulb 50.8s ISO 100"
    assert setting_stops(setting.text) == pytest.approx(setting.ev)
    assert setting_of(ladder, setting.text) == setting
