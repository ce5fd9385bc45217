"""The console theme draws only what the kiosk's console font has (README, "Console font").

A Linux console shows a character its font lacks as a blank or a diamond: a switch
position, a footer key or a frame counter would silently go missing. The font's own
list of characters is kept in ``themes/terminus-lat15.txt``; every screen in the
console theme is read back as drawn and checked against it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.conftest import Lapse
from tests.test_snapshots import SIZES, STATUSES, rendered, svg_rows
from tests.test_tui_pilot import make_app
from themes import console
from themes.glyphs import CONSOLE

FONT_LIST = Path(__file__).resolve().parent.parent / "themes" / "terminus-lat15.txt"


def font_characters() -> frozenset[str]:
    """The characters ``themes/terminus-lat15.txt`` lists."""
    found: set[str] = set()
    for line in FONT_LIST.read_text(encoding="ascii").splitlines():
        if not line or line.startswith("#"):
            continue
        first, _, last = line.partition("-")
        found.update(chr(c) for c in range(int(first, 16), int(last or first, 16) + 1))
    return frozenset(found)


FONT = font_characters()


def missing(rows: list[str]) -> set[str]:
    return {char for row in rows for char in row if char not in FONT}


def test_the_list_is_the_fonts() -> None:
    # Spot checks against the font's documented set: what the README says it has, and not.
    assert {"─", "│", "█", "░", "▒", "▼", "●", "≈", "·", "…"} <= FONT
    assert not {"▏", "▌", "◔", "◑", "◕", "▁"} & FONT
    assert len(FONT) > 400


def test_every_console_glyph_is_in_the_font() -> None:
    drawn = {
        name: value for name, value in dataclasses.asdict(CONSOLE).items() if isinstance(value, str)
    }
    assert {name: value for name, value in drawn.items() if set(value) - FONT} == {}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("state", list(STATUSES))
async def test_the_main_screen_in_the_console_theme(state: str, size: str) -> None:
    screen = await rendered(state, size, console.NAME)
    assert missing(screen.rows) == set(), "\n".join(screen.rows)


async def test_every_other_screen_in_the_console_theme(lapse: Lapse) -> None:
    lapse.start_daemon()
    assert lapse.cli("run", "--interval", "100ms", "--frames", "2", "--wait").returncode == 0
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        app.theme = console.NAME
        for keys, title in ((["asterisk"], "SETTINGS"), (["0"], "RUNS"), (["number_sign"], "HELP")):
            await pilot.press(*keys)
            await pilot.pause(0.3)
            rows = svg_rows(app.export_screenshot(), 40, 15)
            assert rows[0].startswith(title), rows
            assert missing(rows) == set(), "\n".join(rows)
            await pilot.press("escape")
            await pilot.pause()
