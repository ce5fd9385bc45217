"""The LED lamp (tui/widgets/led.py): its level as a glyph, and its phase."""

from __future__ import annotations

import math

import pytest

from tests.widget_app import SMALL, WidgetApp, row
from themes.glyphs import CONSOLE, UNICODE
from tui.widgets import LedLamp
from tui.widgets.led import led_glyph_index


@pytest.mark.parametrize(
    ("level", "index"),
    [(0.0, 0), (0.1, 1), (0.25, 1), (0.5, 2), (0.75, 3), (1.0, 4), (math.nan, 0), (-1.0, 0)],
)
def test_led_level_to_glyph(level: float, index: int) -> None:
    assert led_glyph_index(level) == index


@pytest.mark.parametrize(
    ("glyphs", "level", "phase", "expected"),
    [
        (UNICODE, 1.0, "open", "● open"),
        (UNICODE, 0.1, "power", "◔ power"),
        (UNICODE, 0.0, "off", "○ off"),
        (CONSOLE, 1.0, "open", "@ open"),
        (CONSOLE, 0.75, "focus", "O focus"),
        (CONSOLE, 0.0, "off", ". off"),
        (UNICODE, 7.0, "open", "● open"),
    ],
)
async def test_led_lamp_draws_level_and_phase(
    glyphs: object, level: float, phase: str, expected: str
) -> None:
    lamp = LedLamp()
    app = WidgetApp(lamp)
    async with app.run_test(size=SMALL) as pilot:
        lamp.glyphs = glyphs
        lamp.level = level
        lamp.phase = phase
        await pilot.pause()
        assert lamp.size.height == 1
        assert row(lamp, 0).rstrip() == expected
