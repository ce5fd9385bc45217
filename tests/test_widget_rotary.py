"""The rotary switch (tui/widgets/rotary.py) at the small screen's 40×15 cells and narrower."""

from __future__ import annotations

import pytest

from tests.widget_app import SMALL, WidgetApp, row, rows
from themes.glyphs import CONSOLE, UNICODE
from tui.widgets import RotarySwitch

VALUES = ("1", "3", "10", "30")
UNITS = ("s", "min", "h", "days")


def switch_labels(text: str) -> list[str]:
    for glyph in (UNICODE.switch_left, UNICODE.switch_right, "[", "]"):
        text = text.replace(glyph, " ")
    return text.split()


async def test_rotary_keys_move_and_post_once_per_move() -> None:
    switch = RotarySwitch("VALUE", VALUES, id="value")
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        switch.focus()
        await pilot.press("up")
        await pilot.press("right")  # left/right belong to the screen: no turn
        await pilot.press("up")
        await pilot.pause()
        assert switch.selected == 2
        assert [change.selected for change in app.changes] == [1, 2]
        assert all(change.switch is switch for change in app.changes)
        await pilot.press("down", "left", "down")
        await pilot.pause()
        assert switch.selected == 0
        assert [change.selected for change in app.changes] == [1, 2, 1, 0]


async def test_rotary_stops_at_the_ends_without_posting() -> None:
    switch = RotarySwitch("UNIT", UNITS, selected=3)
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        switch.focus()
        await pilot.press("up")
        await pilot.pause()
        assert switch.selected == 3
        switch.selected = 0
        await pilot.press("down")
        await pilot.pause()
        assert switch.selected == 0
        assert app.changes == []


async def test_rotary_programmatic_selection_does_not_post() -> None:
    switch = RotarySwitch("VALUE", VALUES)
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        switch.selected = 3
        await pilot.pause()
        assert app.changes == []
        assert f"{UNICODE.switch_left}30{UNICODE.switch_right}" in row(switch, 1)
        switch.selected = 99  # clamped, never an IndexError while drawing
        await pilot.pause()
        assert switch.selected == 3


async def test_rotary_select_and_actions_post_like_keys() -> None:
    switch = RotarySwitch("VALUE", VALUES)
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        assert switch.select(2) is True
        assert switch.select(2) is False
        switch.action_previous()
        switch.action_next()
        await pilot.pause()
        assert [change.selected for change in app.changes] == [2, 1, 2]


async def test_rotary_marks_the_chosen_position_with_the_switch_glyphs() -> None:
    switch = RotarySwitch("UNIT", UNITS, selected=1)
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        text = row(switch, 1)
        assert row(switch, 0).startswith("UNIT")
        assert "▐min▌" in text
        assert text.count("▐") == text.count("▌") == 1
        switch.glyphs = CONSOLE
        await pilot.pause()
        assert "[min]" in row(switch, 1)
        assert all(ord(char) < 128 for line in rows(switch) for char in line)


async def test_rotary_locked_ignores_keys_and_clicks() -> None:
    switch = RotarySwitch("VALUE", VALUES)
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        switch.focus()
        switch.enabled = False
        await pilot.press("up")
        await pilot.click(switch, offset=(10, 1))
        await pilot.pause()
        assert switch.selected == 0
        assert app.changes == []
        assert switch.has_class("-locked")
        assert "▐1▌" in row(switch, 1)  # still readable while a run is going


async def test_rotary_click_selects_a_position() -> None:
    switch = RotarySwitch("VALUE", VALUES)
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        column = row(switch, 1).index("30")
        await pilot.click(switch, offset=(column, 1))
        await pilot.pause()
        assert switch.selected == 3
        assert [change.selected for change in app.changes] == [3]


@pytest.mark.parametrize("glyphs", [UNICODE, CONSOLE])
async def test_two_switches_fit_side_by_side_in_40_columns(glyphs: object) -> None:
    value = RotarySwitch("VALUE", VALUES, selected=2)
    unit = RotarySwitch("UNIT", UNITS, selected=3)
    app = WidgetApp(value, unit, side_by_side=True)
    async with app.run_test(size=SMALL) as pilot:
        value.glyphs = unit.glyphs = glyphs
        await pilot.pause()
        assert value.size.height <= 3
        assert value.region.right <= unit.region.x
        assert unit.region.right <= 40
        assert switch_labels(row(value, 1)) == list(VALUES)
        assert switch_labels(row(unit, 1)) == list(UNITS)
        assert row(value, 0).strip() == "VALUE"
        assert row(unit, 0).strip() == "UNIT"


async def test_switches_pack_tight_below_their_roomy_width() -> None:
    value = RotarySwitch("VALUE", VALUES, selected=2)
    unit = RotarySwitch("UNIT", UNITS, selected=1)
    app = WidgetApp(value, unit, side_by_side=True)
    async with app.run_test(size=(28, 15)) as pilot:
        await pilot.pause()
        assert unit.size.width == 14
        assert row(value, 1) == " 1  3 ▐10▌ 30 "  # 14 columns: still roomy
        assert row(unit, 1) == "s ▐min▌ h days"
        await pilot.click(unit, offset=(row(unit, 1).index("days"), 1))
        await pilot.pause()
        assert unit.selected == 3
