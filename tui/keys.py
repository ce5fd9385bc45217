"""Key bindings by id, so a photographer can rebind them in config (``[ui.keys]``).

Everything is reachable from a 4×4 keypad (0–9, A–D, * and #) and from the
arrows, Enter and Esc; letters are there for a full keyboard.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    """One binding: its id (the config key), default keys, action and help text."""

    id: str
    keys: str
    action: str
    description: str
    show: bool = True


# Keypad: A/B turn the switches, C toggles power, D starts and stops,
# 1–4 pick a value and 5–8 a unit directly, * settings, # help, 0 log, 9 theme.
MAIN_KEYS: tuple[Key, ...] = (
    Key("start_stop", "d,enter", "start_stop", "Start/stop"),
    Key("value_next", "a", "turn('value', 1)", "Value"),
    Key("unit_next", "b", "turn('unit', 1)", "Unit"),
    Key("power", "c,p", "toggle_power", "Power"),
    Key("focus_next", "right,tab", "app.focus_next", "Next control", show=False),
    Key("focus_previous", "left,shift+tab", "app.focus_previous", "Previous control", show=False),
    Key("value_1", "1", "pick('value', 0)", "Value 1", show=False),
    Key("value_3", "2", "pick('value', 1)", "Value 3", show=False),
    Key("value_10", "3", "pick('value', 2)", "Value 10", show=False),
    Key("value_30", "4", "pick('value', 3)", "Value 30", show=False),
    Key("unit_s", "5", "pick('unit', 0)", "Seconds", show=False),
    Key("unit_min", "6", "pick('unit', 1)", "Minutes", show=False),
    Key("unit_h", "7", "pick('unit', 2)", "Hours", show=False),
    Key("unit_days", "8", "pick('unit', 3)", "Days", show=False),
    Key("settings", "asterisk,s", "app.open_settings", "Settings"),
    Key("log", "0,l", "app.open_log", "Log"),
)

APP_KEYS: tuple[Key, ...] = (
    Key("help", "number_sign,question_mark,f1", "app.open_help", "Help"),
    Key("theme", "9,t", "app.cycle_theme", "Theme"),
    Key("quit", "q", "app.quit", "Quit"),
)

BACK_KEY = Key("back", "escape,asterisk", "app.pop_screen", "Back")

SETTINGS_KEYS: tuple[Key, ...] = (
    BACK_KEY,
    Key("setting_previous", "up,a", "move(-1)", "Previous"),
    Key("setting_next", "down,b", "move(1)", "Next"),
    Key("setting_less", "left,c", "step(-1)", "Less"),
    Key("setting_more", "right,d", "step(1)", "More"),
    Key("settings_save", "enter,number_sign", "save", "Save"),
)

LOG_KEYS: tuple[Key, ...] = (
    Key("back", "escape,asterisk", "back", "Back"),
    Key("log_open", "enter,d", "open_run", "Open run"),
    Key("log_up", "a", "cursor(-1)", "Up", show=False),
    Key("log_down", "b", "cursor(1)", "Down", show=False),
)

HELP_KEYS: tuple[Key, ...] = (
    Key("back", "escape,asterisk,number_sign,q", "app.pop_screen", "Back"),
)


def bindings(keys: tuple[Key, ...]) -> list:  # list[Binding]; typed loosely: textual is lazy
    """Textual ``Binding``s with ids, from our table."""
    from textual.binding import Binding

    return [
        Binding(key.keys, key.action, key.description, show=key.show, id=key.id) for key in keys
    ]


ALL_KEYS: tuple[Key, ...] = (*MAIN_KEYS, *APP_KEYS, *SETTINGS_KEYS[1:], *LOG_KEYS[1:], BACK_KEY)
"""Every binding id a config may rebind, for validation and the help screen."""
