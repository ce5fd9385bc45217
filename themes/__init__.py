"""Textual themes for lapse's TUI: default, night-vision and console."""

from __future__ import annotations

from collections.abc import Mapping

from textual.theme import Theme

from core.model.ui import ThemeName, theme_spelling
from themes import console, default, night_vision
from themes.glyphs import CONSOLE, UNICODE, Glyphs
from themes.names import THEME_VARIABLES

__all__ = [
    "CONFIG_NAMES",
    "THEMES",
    "THEME_NAMES",
    "THEME_VARIABLES",
    "UnknownTheme",
    "config_name",
    "glyphs_for",
    "next_theme",
    "theme_for_terminal",
    "theme_from_config",
    "theme_variable_defaults",
]

_MODULES = (default, night_vision, console)

THEMES: dict[str, Theme] = {module.THEME.name: module.THEME for module in _MODULES}
"""Every lapse theme by its Textual name, in the order the theme key cycles through them."""

THEME_NAMES: tuple[str, ...] = tuple(THEMES)
"""``("lapse-default", "lapse-night-vision", "lapse-console")``."""

CONFIG_NAMES: dict[ThemeName, str] = {module.CONFIG_NAME: module.NAME for module in _MODULES}
"""What ``ui.theme`` in the config file says, and the Textual theme it means: one a
:class:`~core.model.ui.ThemeName`, the names the config reader takes."""

CONSOLE_TERMS = frozenset({"linux", "linux-16color"})
"""``TERM`` values of the kernel's framebuffer console: 16 colours, a limited font."""


class UnknownTheme(ValueError):
    """A theme name that is none of lapse's themes."""


def theme_from_config(name: str) -> str:
    """The Textual theme for ``ui.theme``: ``"night-vision"`` → ``"lapse-night-vision"``.

    Spelled as the config reader takes it (:func:`~core.model.ui.theme_spelling`):
    any case, and a full theme name too. Anything else raises
    :class:`UnknownTheme`, whose message lists the choices.
    """
    wanted = theme_spelling(name)
    for short, full in CONFIG_NAMES.items():
        if short == wanted:
            return full
    raise UnknownTheme(f"ui.theme: {name!r} is not a theme; use one of {', '.join(CONFIG_NAMES)}")


def config_name(theme_name: str) -> ThemeName:
    """What ``ui.theme`` says for a Textual theme: ``"lapse-console"`` → ``"console"``."""
    for short, full in CONFIG_NAMES.items():
        if full == theme_name:
            return short
    raise UnknownTheme(f"{theme_name!r} is not one of lapse's themes ({', '.join(THEME_NAMES)})")


def next_theme(theme_name: str) -> str:
    """The theme after ``theme_name`` in :data:`THEME_NAMES`, wrapping round.

    From a theme that is not lapse's (one of Textual's own, say) it goes to the first.
    """
    if theme_name not in THEMES:
        return THEME_NAMES[0]
    return THEME_NAMES[(THEME_NAMES.index(theme_name) + 1) % len(THEME_NAMES)]


def glyphs_for(theme_name: str) -> Glyphs:
    """The characters to draw with: plain ASCII for the console theme, Unicode otherwise."""
    return CONSOLE if theme_name == console.NAME else UNICODE


def theme_for_terminal(environ: Mapping[str, str]) -> str:
    """The theme the terminal in ``environ`` can show: console on the linux console, else default.

    Only ``TERM`` is read; whether a configured theme wins is the caller's choice.
    """
    term = environ.get("TERM", "").strip().lower()
    return console.NAME if term in CONSOLE_TERMS else default.NAME


def theme_variable_defaults() -> dict[str, str]:
    """A value for every ``$lapse-*`` variable: the default theme's.

    For ``App.get_theme_variable_defaults()``, so that CSS naming them parses
    whichever theme is active, Textual's own included.
    """
    return {name: default.THEME.variables[name] for name in THEME_VARIABLES}
