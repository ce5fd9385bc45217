"""Key bindings by id, so a photographer can rebind them in config (``[ui.keys]``).

Everything is reachable from a 4×4 keypad (0–9, A–D, * and #) and from the
arrows, Enter and Esc; letters are there for a full keyboard.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.model.ui import BindingId


@dataclass(frozen=True)
class Key:
    """One binding: its id (the config key), default keys, action and help text."""

    id: BindingId
    keys: str
    action: str
    description: str
    show: bool = True


# Keypad: A/B turn the switches, C toggles power, D starts and stops,
# 1–4 pick a value and 5–8 a unit directly, * settings, # help, 0 log, 9 theme.
MAIN_KEYS: tuple[Key, ...] = (
    Key(BindingId.START_STOP, "d,enter", "start_stop", "Start/stop"),
    Key(BindingId.VALUE_NEXT, "a", "turn('value', 1)", "Value"),
    Key(BindingId.UNIT_NEXT, "b", "turn('unit', 1)", "Unit"),
    Key(BindingId.POWER, "c,p", "toggle_power", "Power"),
    Key(BindingId.FOCUS_NEXT, "right,tab", "app.focus_next", "Next control", show=False),
    Key(
        BindingId.FOCUS_PREVIOUS,
        "left,shift+tab",
        "app.focus_previous",
        "Previous control",
        show=False,
    ),
    Key(BindingId.VALUE_1, "1", "pick('value', 0)", "Value 1", show=False),
    Key(BindingId.VALUE_3, "2", "pick('value', 1)", "Value 3", show=False),
    Key(BindingId.VALUE_10, "3", "pick('value', 2)", "Value 10", show=False),
    Key(BindingId.VALUE_30, "4", "pick('value', 3)", "Value 30", show=False),
    Key(BindingId.UNIT_S, "5", "pick('unit', 0)", "Seconds", show=False),
    Key(BindingId.UNIT_MIN, "6", "pick('unit', 1)", "Minutes", show=False),
    Key(BindingId.UNIT_H, "7", "pick('unit', 2)", "Hours", show=False),
    Key(BindingId.UNIT_DAYS, "8", "pick('unit', 3)", "Days", show=False),
    Key(BindingId.SETTINGS, "asterisk,s", "app.open_settings", "Settings"),
    Key(BindingId.LOG, "0,l", "app.open_log", "Log"),
)

APP_KEYS: tuple[Key, ...] = (
    Key(BindingId.HELP, "number_sign,question_mark,f1", "app.open_help", "Help"),
    Key(BindingId.THEME, "9,t", "app.cycle_theme", "Theme"),
    Key(BindingId.QUIT, "q", "app.quit", "Quit"),
)

BACK_KEY = Key(BindingId.BACK, "escape,asterisk", "app.pop_screen", "Back")

SETTINGS_KEYS: tuple[Key, ...] = (
    BACK_KEY,
    Key(BindingId.SETTING_PREVIOUS, "up,a", "move(-1)", "Previous"),
    Key(BindingId.SETTING_NEXT, "down,b", "move(1)", "Next"),
    Key(BindingId.SETTING_LESS, "left,c", "step(-1)", "Less"),
    Key(BindingId.SETTING_MORE, "right,d", "step(1)", "More"),
    Key(BindingId.SETTINGS_SAVE, "enter,number_sign", "save", "Save"),
)

LOG_KEYS: tuple[Key, ...] = (
    Key(BindingId.BACK, "escape,asterisk", "back", "Back"),
    Key(BindingId.LOG_OPEN, "enter,d", "open_run", "Open run"),
    Key(BindingId.LOG_UP, "a", "cursor(-1)", "Up", show=False),
    Key(BindingId.LOG_DOWN, "b", "cursor(1)", "Down", show=False),
)

HELP_KEYS: tuple[Key, ...] = (
    Key(BindingId.BACK, "escape,asterisk,number_sign,q", "app.pop_screen", "Back"),
)


def bindings(keys: tuple[Key, ...]) -> list:  # list[Binding]; typed loosely: textual is lazy
    """Textual ``Binding``s with ids, from our table."""
    from textual.binding import Binding

    return [
        Binding(key.keys, key.action, key.description, show=key.show, id=key.id) for key in keys
    ]


ALL_KEYS: tuple[Key, ...] = (*MAIN_KEYS, *APP_KEYS, *SETTINGS_KEYS[1:], *LOG_KEYS[1:], BACK_KEY)
"""Every binding a config may rebind, one for each :class:`~core.model.ui.BindingId`."""
