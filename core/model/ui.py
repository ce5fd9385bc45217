"""The ``[ui]`` table: the TUI's theme and key bindings, named as the file names them.

The names live here, in the model, so that the config is checked when it is
read; the TUI and its themes build on these same names (``themes`` registers a
theme for each :class:`ThemeName`, ``tui.keys`` gives each :class:`BindingId`
its keys and action).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.model.fields import Choice, Keymap, Table

THEME_PREFIX = "lapse-"
"""Before a theme's name in the TUI's own list of themes: ``lapse-night-vision``."""


class ThemeName(StrEnum):
    """A lapse theme, as ``ui.theme`` names it."""

    DEFAULT = "default"
    NIGHT_VISION = "night-vision"
    CONSOLE = "console"

    @property
    def full_name(self) -> str:
        """The name the TUI registers the theme under: ``lapse-night-vision``."""
        return f"{THEME_PREFIX}{self.value}"


def theme_spelling(text: str) -> str:
    """The theme ``text`` names, however it is written: ``" Lapse-Console"`` → ``"console"``.

    Any case and spaces around are taken, and the full name too.
    """
    return text.strip().lower().removeprefix(THEME_PREFIX)


class BindingId(StrEnum):
    """A key binding of the TUI, as ``[ui.keys]`` names it to give it other keys."""

    START_STOP = "start_stop"
    VALUE_NEXT = "value_next"
    UNIT_NEXT = "unit_next"
    POWER = "power"
    FOCUS_NEXT = "focus_next"
    FOCUS_PREVIOUS = "focus_previous"
    VALUE_1 = "value_1"
    VALUE_3 = "value_3"
    VALUE_10 = "value_10"
    VALUE_30 = "value_30"
    UNIT_S = "unit_s"
    UNIT_MIN = "unit_min"
    UNIT_H = "unit_h"
    UNIT_DAYS = "unit_days"
    SETTINGS = "settings"
    LOG = "log"
    HELP = "help"
    THEME = "theme"
    QUIT = "quit"
    BACK = "back"
    SETTING_PREVIOUS = "setting_previous"
    SETTING_NEXT = "setting_next"
    SETTING_LESS = "setting_less"
    SETTING_MORE = "setting_more"
    SETTINGS_SAVE = "settings_save"
    LOG_OPEN = "log_open"
    LOG_UP = "log_up"
    LOG_DOWN = "log_down"
    LOG_RENDER = "log_render"
    SCROLL_UP = "scroll_up"
    SCROLL_DOWN = "scroll_down"
    PAGE_UP = "page_up"
    PAGE_DOWN = "page_down"


@dataclass(frozen=True)
class UiConfig:
    """Choices of the TUI."""

    theme: ThemeName = ThemeName.DEFAULT
    keys: dict[str, str] = field(default_factory=dict)
    """Binding id → key(s), overriding the TUI's defaults."""


UI = Table(
    "ui",
    (
        Choice("theme", choices=ThemeName, noun="theme name", spelled=theme_spelling),
        Keymap("keys", ids=BindingId, example='start_stop = "s"'),
    ),
)
"""The ``[ui]`` table (``[ui.keys]`` is its ``keys``): one field a :class:`UiConfig` field."""
