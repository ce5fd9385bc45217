"""Durations are read and written the way people say them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.model.durations import (
    PRESETS,
    format_approx,
    format_duration,
    parse_duration,
    parse_signed_duration,
    preset_for,
)
from core.model.errors import DurationError


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("500ms", 500_000_000),
        ("10s", 10_000_000_000),
        ("3min", 180_000_000_000),
        ("1h", 3_600_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("30d", 2_592_000_000_000_000),
        ("1.5s", 1_500_000_000),
        ("2 min", 120_000_000_000),
        (" 10 S ", 10_000_000_000),
    ],
)
def test_spoken_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "banana", "10", "s10", "1x", "-5s", "1h 30", "ten s", "00x"])
def test_nonsense_is_refused_with_examples(text: str) -> None:
    with pytest.raises(DurationError, match="500ms, 10s"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=400 * 86_400 * 10**9))
def test_format_parses_back_exactly(ns: int) -> None:
    assert parse_duration(format_duration(ns)) == ns


@given(st.integers(min_value=-400 * 86_400 * 10**9, max_value=400 * 86_400 * 10**9))
def test_a_signed_duration_parses_back_exactly(ns: int) -> None:
    # A value with a range reads "-1ns" as what it says, so its range check can answer.
    assert parse_signed_duration(format_duration(ns)) == ns


@pytest.mark.parametrize("text", ["--1s", "-", "- banana", "-10"])
def test_a_signed_duration_refuses_nonsense_in_its_own_words(text: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_signed_duration(text)
    assert str(caught.value).startswith(f"{text!r} is not a duration: use a duration such as")


def test_sixteen_presets_from_two_switches() -> None:
    assert [p.label for p in PRESETS[:4]] == ["1s", "3s", "10s", "30s"]
    assert len({p.interval_ns for p in PRESETS}) == 16
    for preset in PRESETS:
        assert preset_for(preset.interval_ns) == preset
        assert parse_duration(preset.label) == preset.interval_ns
    assert preset_for(parse_duration("7s")) is None


def test_approximate_display() -> None:
    assert format_approx(parse_duration("29d23h5min")) == "29d23h"
    assert format_approx(parse_duration("1h")) == "1h"
    assert format_approx(parse_duration("4.25s")) == "4.2s"
    assert format_approx(parse_duration("250us")) == "250us"
