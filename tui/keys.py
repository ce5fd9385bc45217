"""Key bindings by id, so a photographer can rebind them in config (``[ui.keys]``).

Everything is reachable from a 4×4 keypad (0–9, A–D, * and #) and from the
arrows, Enter and Esc; letters are there for a full keyboard.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    said: str = ""
    """What the help says it does, when the footer's word is too short for that."""

    @property
    def help_text(self) -> str:
        return self.said or self.description


# Keypad: A/B turn the switches, C toggles power, D starts and stops,
# 1–4 pick a value and 5–8 a unit directly, * settings, # help, 0 log, 9 theme.
# The footer shows what a 40-column screen has room for: D's word follows the state
# (the main screen shows one of its two bindings); the help lists every key.
MAIN_KEYS: tuple[Key, ...] = (
    Key(
        BindingId.START_STOP,
        "d,enter",
        "start_stop('start')",
        "Start",
        said="Start/stop (a run going over an hour: press twice)",
    ),
    Key(BindingId.START_STOP, "d,enter", "start_stop('stop')", "Stop"),
    Key(BindingId.VALUE_NEXT, "a", "turn('value', 1)", "Value", show=False),
    Key(BindingId.UNIT_NEXT, "b", "turn('unit', 1)", "Unit", show=False),
    Key(BindingId.POWER, "c,p", "toggle_power", "Power", show=False),
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
    Key(BindingId.THEME, "9,t", "app.cycle_theme", "Theme", show=False),
    Key(BindingId.QUIT, "q", "app.quit", "Quit"),
)

BACK_KEY = Key(BindingId.BACK, "asterisk,escape", "app.pop_screen", "Back")

# The settings keep what was chosen on the way back: a keypad has no second key to
# spare for "save", and # is help on every screen. Digits type a value.
SETTINGS_KEYS: tuple[Key, ...] = (
    Key(BindingId.BACK, BACK_KEY.keys, "save", "Back"),
    Key(BindingId.SETTING_PREVIOUS, "a,up", "move(-1)", "Up", said="Previous setting"),
    Key(BindingId.SETTING_NEXT, "b,down", "move(1)", "Down", said="Next setting"),
    Key(BindingId.SETTING_LESS, "c,left", "step(-1)", "Less"),
    Key(BindingId.SETTING_MORE, "d,right", "step(1)", "More"),
    Key(BindingId.SETTINGS_SAVE, "enter", "save", "Keep", said="Keep the choices and go back"),
)

LOG_KEYS: tuple[Key, ...] = (
    Key(BindingId.BACK, "asterisk,escape", "back", "Back"),
    Key(BindingId.LOG_OPEN, "d,enter", "open_run", "Open run"),
    Key(BindingId.LOG_UP, "a", "cursor(-1)", "Up", show=False),
    Key(BindingId.LOG_DOWN, "b", "cursor(1)", "Down", show=False),
    Key(BindingId.LOG_RENDER, "c,r", "render", "Video", said="Make the run's video"),
)

HELP_KEYS: tuple[Key, ...] = (
    Key(BindingId.BACK, "asterisk,escape,number_sign,q", "app.pop_screen", "Back"),
    Key(BindingId.SCROLL_UP, "a,up", "scroll(-1)", "Up"),
    Key(BindingId.SCROLL_DOWN, "b,down", "scroll(1)", "Down"),
    Key(BindingId.PAGE_UP, "c,pageup", "page(-1)", "PgUp", said="Page up"),
    Key(BindingId.PAGE_DOWN, "d,pagedown", "page(1)", "PgDn", said="Page down"),
)


def bindings(keys: tuple[Key, ...]) -> list:  # list[Binding]; typed loosely: textual is lazy
    """Textual ``Binding``s with ids, from our table."""
    from textual.binding import Binding

    return [
        Binding(with_capitals(key.keys), key.action, key.description, show=key.show, id=key.id)
        for key in keys
    ]


KEY_NAMES = {
    "asterisk": "*",
    "number_sign": "#",
    "question_mark": "?",
    "escape": "Esc",
    "enter": "Enter",
    "shift+tab": "Shift+Tab",
    "pageup": "PgUp",
    "pagedown": "PgDn",
}


def spell(keys: str) -> str:
    """``asterisk,s`` → ``* S``: how the keys are written on the keypad and keyboard."""
    return " ".join(KEY_NAMES.get(k, k.upper() if len(k) == 1 else k) for k in keys.split(","))


def first_key(binding: BindingId, keymap: Mapping[str, str]) -> str:
    """The first key of ``binding`` as a keypad says it (``D``), any rebinding applied."""
    defaults = next(key.keys for key in ALL_KEYS if key.id == binding)
    return spell(keymap.get(binding, defaults).split(",")[0])


def with_capitals(keys: str) -> str:
    """``a,enter`` → ``a,A,enter``: a letter works with Shift or Caps Lock too (a keypad
    may send either)."""
    spelled = keys.split(",")
    capitals = [k.upper() for k in spelled if len(k) == 1 and k.islower()]
    return ",".join(spelled + [k for k in capitals if k not in spelled])


ALL_KEYS: tuple[Key, ...] = (
    MAIN_KEYS[0],
    *MAIN_KEYS[2:],
    *APP_KEYS,
    *SETTINGS_KEYS[1:],
    *LOG_KEYS[1:],
    *HELP_KEYS[1:],
    BACK_KEY,
)
"""Every binding a config may rebind, one for each :class:`~core.model.ui.BindingId`."""
