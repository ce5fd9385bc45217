"""The themes: night-vision is red in every CSS variable, console keeps to 16 colours.

The colour checks run on what Textual really produces: an app registers the
themes, activates one inside ``run_test()`` and hands every variable of
``app.get_css_variables()`` to the check, Textual's derived shades included.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.color import Color, ColorParseError
from textual.widgets import Button, Footer, Input, Static

from themes import (
    CONFIG_NAMES,
    THEME_NAMES,
    THEME_VARIABLES,
    THEMES,
    UnknownTheme,
    config_name,
    console,
    default,
    glyphs_for,
    next_theme,
    night_vision,
    theme_for_terminal,
    theme_from_config,
    theme_variable_defaults,
)
from themes.glyphs import CONSOLE, UNICODE

# Values of CSS variables that are not colours: text styles and CSS keywords.
TEXT_STYLE_WORDS = frozenset(
    {"b", "bold", "blink", "d", "dim", "i", "italic", "none", "not", "o", "overline"}
    | {"r", "reverse", "s", "strike", "u", "underline"}
)
CSS_KEYWORDS = frozenset({"initial", "inherit"})


class ThemedApp(App[None]):
    """Every lapse theme registered, the ``$lapse-*`` variables declared and used in CSS.

    Textual's widgets that read the most variables (footer, input, button) are
    mounted too, so a theme that leaves one undefined fails to parse here.
    """

    CSS = "\n".join(
        f"#{name} {{ color: ${name}; background: $background; }}" for name in THEME_VARIABLES
    )

    def __init__(self) -> None:
        super().__init__()
        for theme in THEMES.values():
            self.register_theme(theme)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return theme_variable_defaults()

    def compose(self) -> ComposeResult:
        for name in THEME_VARIABLES:
            yield Static(name, id=name)
        yield Input("input")
        yield Button("button", variant="primary")
        yield Footer()


async def css_variables(theme_name: str) -> dict[str, str]:
    """Every CSS variable, as Textual computes it with ``theme_name`` active."""
    app = ThemedApp()
    async with app.run_test(size=(40, 15)) as pilot:
        app.theme = theme_name
        await pilot.pause()
        assert app.current_theme.name == theme_name
        return app.get_css_variables()


def parse_colour(value: str) -> Color | None:
    """The colour a CSS variable's value stands for; None when it is not a colour.

    ``#RRGGBBAA`` and ``<colour> NN%`` count as the colour itself: a faint or
    transparent green is still green. ``auto NN%`` (black or white, picked at
    render time) and ``ansi_default`` (whatever the terminal's own colour is)
    raise ``ValueError``: nothing says what they look like. A value that is
    neither a colour nor a known text style or keyword raises too, so no
    colour escapes the checks by being written in a form they do not know.
    """
    words = value.split()
    if not words:
        raise ValueError("empty")
    if words[0] == "auto":
        raise ValueError("auto: black or white, whichever contrasts, picked at render time")
    if words[0] == "ansi_default":
        raise ValueError("ansi_default: the terminal's own colour, unknown")
    try:
        colour = Color.parse(words[0])
    except ColorParseError:
        if value in CSS_KEYWORDS or set(words) <= TEXT_STYLE_WORDS:
            return None
        raise ValueError("neither a colour nor a text style") from None
    if len(words) > 2 or (len(words) == 2 and not words[1].endswith("%")):
        raise ValueError("a colour followed by something other than a percentage")
    return colour


def not_red_enough(variables: Mapping[str, str]) -> list[str]:
    """Every variable whose colour has green or blue above a quarter of its red, with why."""
    offenders = []
    for name, value in sorted(variables.items()):
        try:
            colour = parse_colour(value)
        except ValueError as error:
            offenders.append(f"${name}: {value} ({error})")
            continue
        if colour is not None and (colour.g > colour.r / 4 or colour.b > colour.r / 4):
            offenders.append(f"${name}: {value} (r={colour.r} g={colour.g} b={colour.b})")
    return offenders


# -- night vision ---------------------------------------------------------------------------------
async def test_every_css_variable_of_night_vision_is_red() -> None:
    variables = await css_variables(night_vision.NAME)
    assert set(THEME_VARIABLES) <= set(variables)
    assert len(variables) > 150, "Textual's derived variables are part of the check"
    offenders = not_red_enough(variables)
    assert offenders == [], f"{len(offenders)} variables are not red enough:\n" + "\n".join(
        offenders
    )


async def test_the_red_check_names_the_default_themes_colours() -> None:
    """The check above can fail: the default theme's colours are reported, each by name."""
    offenders = "\n".join(not_red_enough(await css_variables(default.NAME)))
    for name in ("$lapse-power:", "$lapse-led:", "$primary:", "$foreground:", "$text:"):
        assert name in offenders
    assert "$text: auto 87% (auto:" in offenders


@pytest.mark.parametrize(
    ("value", "offends"),
    [
        ("#FF3F3F", False),  # 63 ≤ 255/4
        ("#FF4040", True),  # 64 > 255/4
        ("#400000", False),
        ("#000000", False),
        ("#FF000000", False),  # transparent red is red
        ("#00FF0000", True),  # transparent green is green
        ("#B00000 40%", False),
        ("#00B000 40%", True),
        ("transparent", False),
        ("ansi_red", False),
        ("ansi_bright_yellow", True),
        ("auto 87%", True),
        ("ansi_default", True),
        ("bold not underline", False),
        ("initial", False),
        ("#12345", True),  # not a colour, not a style: never skipped silently
        ("redish", True),
    ],
)
def test_the_red_check(value: str, offends: bool) -> None:
    assert bool(not_red_enough({"x": value})) is offends


# -- console ---------------------------------------------------------------------------------------
FOREGROUND_ONLY = ("text", "foreground", "border", "link-color", "footer-key-foreground")
"""Variables drawn as text, never as a cell's background (plus the $lapse-* lines below)."""
LAPSE_TEXT = ("lapse-power", "lapse-focus", "lapse-shutter", "lapse-led", "lapse-trace-low")
LAPSE_TEXT += ("lapse-warning",)


def is_foreground_only(name: str) -> bool:
    return (
        name in LAPSE_TEXT
        or name.startswith(("text", "foreground-"))
        or name.endswith(("-foreground", "-color", "-color-hover"))
        or name in FOREGROUND_ONLY
        or name == "border-blurred"
    )


async def test_the_console_theme_uses_the_16_ansi_colours_only() -> None:
    """ANSI colour numbers, so the console's own palette paints them; no RGB to approximate."""
    variables = await css_variables(console.NAME)
    not_ansi, bright_backgrounds = [], []
    for name, value in sorted(variables.items()):
        colour = parse_colour(value)  # raises on auto and ansi_default: none may remain
        if colour is None or value == "transparent":
            continue
        if colour.ansi is None:
            not_ansi.append(f"${name}: {value}")
        elif colour.ansi >= 8 and not is_foreground_only(name):
            bright_backgrounds.append(f"${name}: {value}")
    assert not_ansi == [], "not ANSI colours:\n" + "\n".join(not_ansi)
    # The linux console draws SGR 100–107 as the plain colour: a bright background is lost.
    assert bright_backgrounds == [], "bright, but may fill a cell:\n" + "\n".join(
        bright_backgrounds
    )
    assert console.THEME.ansi


# Runs ThemedApp in a terminal of its own for a second, with the theme in argv[1].
_SHOW = """
import sys
from tests.test_themes import ThemedApp

class Shown(ThemedApp):
    def on_mount(self) -> None:
        self.theme = sys.argv[1]
        self.set_timer(1.0, self.exit)

Shown().run()
"""


def sgr_written(theme_name: str, term: str) -> set[int]:
    """Every SGR parameter lapse writes with ``theme_name`` on a 40×15 pty with ``TERM=term``."""
    import fcntl
    import pty
    import struct
    import termios

    main, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 15, 40, 0, 0))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("COLORTERM", "TEXTUAL_COLOR_SYSTEM", "NO_COLOR", "FORCE_COLOR")
    }
    env["TERM"] = term
    process = subprocess.Popen(
        [sys.executable, "-c", _SHOW, theme_name],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    os.close(terminal)
    written = b""
    try:
        while True:
            ready, _, _ = select.select([main], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the app exited and closed the terminal
                break
            if not chunk:
                break
            written += chunk
    finally:
        os.close(main)
        process.kill()
        process.wait(timeout=10)
    text = written.decode("utf-8", "replace")
    assert "Traceback" not in text, text
    return {
        int(parameter)
        for parameters in re.findall(r"\x1b\[([0-9;]*)m", text)
        for parameter in parameters.split(";")
        if parameter
    }


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a Linux pty")
def test_the_console_theme_writes_only_the_consoles_16_colours() -> None:
    """On ``TERM=linux`` the screen gets SGR 30–37, 90–97 and 40–47: no RGB, no 256 colours,
    and no bright backgrounds (100–107), which the console would draw as the plain colour."""
    written = sgr_written(console.NAME, "linux")
    colours = {code for code in written if 30 <= code <= 49 or 90 <= code <= 107}
    assert not {38, 48} & written, "24-bit or 256 colours"
    assert not colours & set(range(100, 108)), f"bright backgrounds: {sorted(colours)}"
    assert colours <= set(range(30, 38)) | set(range(90, 98)) | set(range(40, 48)) | {39, 49}
    assert {34, 44} <= colours, sorted(colours)  # it did draw, in the theme's blue


async def test_every_theme_activates_and_draws() -> None:
    app = ThemedApp()
    async with app.run_test(size=(40, 15)) as pilot:
        for name in THEME_NAMES:
            app.theme = name
            await pilot.pause()
            assert app.current_theme.name == name
            # ANSI colours stay colour numbers only in the console theme.
            assert app.native_ansi_color is (name == console.NAME)
            for variable in THEME_VARIABLES:
                drawn = app.screen.query_one(f"#{variable}").styles.color
                assert drawn == Color.parse(THEMES[name].variables[variable]), (name, variable)


# -- every theme ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", THEME_NAMES)
def test_every_theme_defines_every_lapse_variable(name: str) -> None:
    theme = THEMES[name]
    missing = [variable for variable in THEME_VARIABLES if variable not in theme.variables]
    assert missing == []
    for variable in THEME_VARIABLES:
        Color.parse(theme.variables[variable])
    assert theme.dark
    for base in ("primary", "secondary", "accent", "foreground", "background"):
        assert getattr(theme, base) is not None, base
    for base in ("surface", "panel", "success", "warning", "error"):
        assert getattr(theme, base) is not None, base


@pytest.mark.parametrize("name", THEME_NAMES)
def test_the_four_lines_have_four_colours(name: str) -> None:
    colours = [THEMES[name].variables[f"lapse-{line}"] for line in ("power", "focus", "shutter")]
    colours.append(THEMES[name].variables["lapse-led"])
    assert len({Color.parse(colour) for colour in colours}) == 4


def contrast(foreground: Color, background: Color) -> float:
    """The WCAG contrast ratio of two opaque colours (1 to 21)."""

    def luminance(colour: Color) -> float:
        def linear(channel: int) -> float:
            value = channel / 255
            return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

        return 0.2126 * linear(colour.r) + 0.7152 * linear(colour.g) + 0.0722 * linear(colour.b)

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_default_themes_line_colours_are_readable_on_its_background() -> None:
    theme = default.THEME
    assert theme.background is not None
    background = Color.parse(theme.background)
    for name in ("lapse-power", "lapse-focus", "lapse-shutter", "lapse-led", "lapse-warning"):
        ratio = contrast(Color.parse(theme.variables[name]), background)
        assert ratio >= 4.5, f"{name}: contrast {ratio:.1f}"
    assert contrast(Color.parse(theme.variables["lapse-trace-low"]), background) >= 1.8


# -- glyphs, cycling, terminals, config ----------------------------------------------------------
def test_the_console_theme_draws_plain_ascii() -> None:
    assert glyphs_for(console.NAME) is CONSOLE
    for field, value in vars(CONSOLE).items():
        text = "".join(value) if isinstance(value, tuple) else value
        assert text.isascii() and text.isprintable(), field
    assert glyphs_for(default.NAME) is UNICODE
    assert glyphs_for(night_vision.NAME) is UNICODE


def test_next_theme_visits_every_theme_and_comes_back() -> None:
    seen = [THEME_NAMES[0]]
    for _ in THEME_NAMES:
        seen.append(next_theme(seen[-1]))
    assert seen[:-1] == list(THEME_NAMES)
    assert seen[-1] == THEME_NAMES[0]
    assert next_theme("textual-dark") == THEME_NAMES[0]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"TERM": "linux"}, console.NAME),
        ({"TERM": "xterm-256color"}, default.NAME),
        ({"TERM": "screen"}, default.NAME),
        ({}, default.NAME),
    ],
)
def test_theme_for_terminal(environ: dict[str, str], expected: str) -> None:
    assert theme_for_terminal(environ) == expected


def test_config_names_round_trip() -> None:
    assert set(CONFIG_NAMES) == {"default", "night-vision", "console"}
    assert sorted(CONFIG_NAMES.values()) == sorted(THEME_NAMES)
    for short in CONFIG_NAMES:
        assert config_name(theme_from_config(short)) == short
    for name in THEME_NAMES:
        assert theme_from_config(config_name(name)) == name
        assert theme_from_config(name) == name
    assert theme_from_config(" Night-Vision ") == night_vision.NAME


def test_an_unknown_theme_name_says_what_is_allowed() -> None:
    with pytest.raises(UnknownTheme, match="'sepia' is not a theme; use one of default, night"):
        theme_from_config("sepia")
    with pytest.raises(UnknownTheme):
        config_name("textual-dark")
