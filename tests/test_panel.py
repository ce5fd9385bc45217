"""The box's controls as plain logic (core/model/panel.py): switch positions from their
inputs, the settings they give, an encoder's steps, and what a press does."""

from __future__ import annotations

import dataclasses

import pytest

from core.model.durations import MINUTE_NS, NS_PER_S
from core.model.panel import (
    LONG_PRESS_NS,
    Levels,
    Panel,
    Press,
    Wiring,
    encoder_turned,
    origin_panel,
    panel_line,
    panel_of,
    press_does,
    switch_position,
    turned,
)
from core.model.protocol import PanelStatus
from core.model.settings import Settings

BASE = Settings(interval_ns=NS_PER_S, power=False, frames=100)


@pytest.mark.parametrize(
    ("active", "position"),
    [
        ((True, False, False, False), 0),
        ((False, False, False, True), 3),
        ((False, False, False, False), None),  # between detents
        ((True, True, False, False), None),  # two at once: a fault, not a position
    ],
)
def test_a_switch_wired_by_positions_is_one_input_or_none(
    active: tuple[bool, ...], position: int | None
) -> None:
    assert switch_position(active, Wiring.POSITIONS) == position


def test_a_coded_switch_is_its_two_bit_binary_code() -> None:
    levels = [(False, False), (True, False), (False, True), (True, True)]
    assert [switch_position(pair, Wiring.CODED) for pair in levels] == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        switch_position((True, False, False), Wiring.CODED)


def test_the_switches_are_the_next_runs_interval_and_power() -> None:
    panel = Panel(value=2, unit=1, power=True)  # 10 min
    assert panel.said() == "10min, power on"
    settings = panel.settings(BASE)
    assert settings is not None
    assert (settings.interval_ns, settings.power, settings.frames) == (10 * MINUTE_NS, True, 100)


def test_a_switch_between_positions_gives_no_settings_and_starts_nothing() -> None:
    panel = Panel(value=None, unit=1, power=False)
    assert panel.settings(BASE) is None
    assert panel.said() == "VALUE between positions"
    assert press_does(0, running=False, panel=panel) is Press.NOTHING
    assert Panel(None, None, False).said() == "VALUE and UNIT between positions"


def test_a_press_starts_and_only_a_long_one_stops() -> None:
    panel = Panel(value=0, unit=0, power=False)
    assert press_does(50_000_000, running=False, panel=panel) is Press.START
    assert press_does(LONG_PRESS_NS - 1, running=True, panel=panel) is Press.NOTHING
    assert press_does(LONG_PRESS_NS, running=True, panel=panel) is Press.STOP


def test_switches_turned_during_a_run_are_told_apart_from_the_runs_settings() -> None:
    running = Settings(interval_ns=10 * MINUTE_NS, power=True)
    assert not turned(Panel(value=2, unit=1, power=True).settings(BASE), running)
    assert turned(Panel(value=3, unit=1, power=True).settings(BASE), running)
    assert turned(Panel(value=2, unit=1, power=False).settings(BASE), running)
    assert turned(Panel(value=None, unit=1, power=True).settings(BASE), running)


def test_an_encoder_steps_through_the_presets_and_stops_at_the_ends() -> None:
    start = Panel(value=3, unit=0, power=False)  # 30 s
    assert encoder_turned(start, 1).said() == "1min, power off"
    assert encoder_turned(start, -2).said() == "3s, power off"
    assert encoder_turned(start, -100).said() == "1s, power off"
    assert encoder_turned(start, 100).said() == "30d, power off"
    assert encoder_turned(Panel(None, 2, True), 1).said() == "3s, power on"


def test_the_inputs_make_a_panel_by_either_wiring() -> None:
    before = Panel(value=0, unit=0, power=False)
    levels = Levels(value=(False, False, True, False), unit=(True, False), power=True)
    assert panel_of(levels, before) == Panel(value=2, unit=1, power=True)  # 10 min, on
    between = Levels(value=(False, False, False, False), unit=(True, True))
    assert panel_of(between, before) == Panel(value=None, unit=3, power=False)


def test_an_encoder_moves_the_panel_by_its_steps_since_the_last_reading() -> None:
    before = Panel(value=0, unit=1, power=True)  # 1 min
    assert panel_of(Levels(encoder_steps=2), before).said() == "10min, power on"
    # Steps past the end are lost, as on a switch that stops there.
    top = panel_of(Levels(encoder_steps=40), before)
    assert panel_of(Levels(encoder_steps=-1), top).said() == "10d, power on"
    # A box with neither switches nor an encoder keeps what it had.
    assert panel_of(Levels(button=False), before) == before


@pytest.mark.parametrize(
    ("interval_ns", "said"),
    [(MINUTE_NS, "1min"), (5 * NS_PER_S, "10s"), (400 * 86_400 * NS_PER_S, "30d")],
)
def test_an_encoder_starts_at_the_configs_interval_or_the_next_preset_above(
    interval_ns: int, said: str
) -> None:
    panel = origin_panel(Settings(interval_ns=interval_ns, power=True))
    assert panel.said() == f"{said}, power on"


def test_the_box_line_says_when_the_switches_are_the_next_runs() -> None:
    shown = PanelStatus("positions", 30, "min", True, True, "30min, power on")
    assert panel_line(shown) == "box: 30min, power on"
    turned_during = dataclasses.replace(shown, next_run=True)
    assert panel_line(turned_during) == (
        "box: 30min, power on (the next run's; this run goes on as started)"
    )
