"""The night-vision theme: dark reds on near-black, for use under the stars.

Red light spares the eyes' dark adaptation, so every colour this theme makes,
including each shade Textual derives from it, has green and blue at most a
quarter of its red (tests/test_themes.py checks every CSS variable).

Textual derives its shades in Lab space and its text colours as white or black
with alpha, both of which leave red: a lightened red turns pink, ``auto 87%``
text is white on a dark background, and ``$text-primary`` is the primary tinted
into white. So this module sets those variables itself: every ``-lighten-N`` and
``-darken-N`` shade on a ramp that changes only the brightness, the
``-background`` colours as blends of two reds, the text colours as reds.
A blend or brightness change of colours that keep the rule keeps it too.
"""

from __future__ import annotations

from textual.color import Color
from textual.theme import Theme

from core.model.ui import ThemeName

CONFIG_NAME = ThemeName.NIGHT_VISION
"""What ``ui.theme`` says for this theme."""
NAME = CONFIG_NAME.full_name

_BASE: dict[str, str] = {
    "primary": "#B00000",
    "secondary": "#780000",
    "accent": "#D01000",
    "foreground": "#A80000",
    "background": "#0A0000",
    "surface": "#120000",
    "panel": "#1C0000",
    "success": "#8C0000",
    "warning": "#E02000",
    "error": "#FF1000",
}
"""Textual's base colours."""

_BOOST = "#FF00000A"
"""A faint red wash (Textual's default is white at 4%). Set as a variable:
Textual ignores ``Theme(boost=…)`` once a theme gives its own panel colour."""

_LAPSE: dict[str, str] = {
    "lapse-power": "#700000",
    "lapse-focus": "#A80000",
    "lapse-shutter": "#FF2000",
    "lapse-led": "#E00000",
    "lapse-trace-low": "#380000",
    "lapse-switch": "#D00000",
    "lapse-warning": "#FF3C00",
    "lapse-banner": "#800000",
}
"""The lines differ by brightness alone here: power dimmest, the shutter brightest."""

_TEXT_COLOURS = ("primary", "secondary", "accent", "warning", "error", "success")
"""The colours Textual offers as ``$text-<name>``."""

_SHADE_STEP = 20
"""How much red each ``-lighten-N``/``-darken-N`` step adds or takes away (of 255)."""


def _with_red(color: Color, red: int) -> Color:
    """``color`` at another brightness: its red set to ``red``, green and blue in proportion.

    Green and blue are rounded down, so a colour that kept the quarter rule keeps it.
    """
    red = max(0, min(255, red))
    if color.r == 0:
        return Color(red, 0, 0, color.a)
    scale = red / color.r
    return Color(red, int(color.g * scale), int(color.b * scale), color.a)


def _ramp(name: str, color: Color) -> dict[str, str]:
    """The six shades Textual would derive for ``name``, changing the brightness only."""
    shades: dict[str, str] = {}
    for step in (1, 2, 3):
        shades[f"{name}-lighten-{step}"] = _with_red(color, color.r + step * _SHADE_STEP).hex
        shades[f"{name}-darken-{step}"] = _with_red(color, color.r - step * _SHADE_STEP).hex
    return shades


def _derived_variables() -> dict[str, str]:
    """Every variable whose Textual-derived value would not be red, set to a red."""
    base = {name: Color.parse(value) for name, value in _BASE.items()}
    background = base["background"]
    boost = Color.parse(_BOOST)
    variables: dict[str, str] = {"boost": boost.hex}
    for name, color in (*base.items(), ("boost", boost)):
        variables.update(_ramp(name, color))
    # Textual mixes these towards white; here they are a red mixed into the background.
    for name in ("primary", "secondary"):
        mixed = background.blend(base[name], 0.2, alpha=1.0)
        variables[f"{name}-background"] = mixed.hex
        variables.update(_ramp(f"{name}-background", mixed))
    foreground = base["foreground"]
    variables.update(
        {
            # Textual's are "auto N%": black or white, whichever contrasts, chosen at render.
            "text": foreground.hex,
            "text-muted": _with_red(foreground, round(foreground.r * 0.7)).hex,
            "text-disabled": _with_red(foreground, round(foreground.r * 0.45)).hex,
            # Textual's are white tinted with the colour.
            **{f"text-{name}": base[name].hex for name in _TEXT_COLOURS},
            "surface-active": _with_red(base["surface"], base["surface"].r + _SHADE_STEP).hex,
            # Dark text on the red bar of a block cursor or a button, not red on red.
            "block-cursor-foreground": background.hex,
            "button-color-foreground": background.hex,
        }
    )
    return variables


THEME = Theme(
    name=NAME,
    primary=_BASE["primary"],
    secondary=_BASE["secondary"],
    accent=_BASE["accent"],
    foreground=_BASE["foreground"],
    background=_BASE["background"],
    surface=_BASE["surface"],
    panel=_BASE["panel"],
    success=_BASE["success"],
    warning=_BASE["warning"],
    error=_BASE["error"],
    dark=True,
    variables={**_derived_variables(), **_LAPSE},
)
