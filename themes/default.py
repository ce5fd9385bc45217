"""The default theme: a calm dark blue-grey, with one clear colour per camera line.

Power is green, focus amber, the shutter a warm red and the status LED cyan,
so a glance at the timeline tells the lines apart; each is readable on the
background (a contrast ratio above 4.5, checked in tests/test_themes.py).
"""

from __future__ import annotations

from textual.theme import Theme

from core.model.ui import ThemeName

CONFIG_NAME = ThemeName.DEFAULT
"""What ``ui.theme`` says for this theme."""
NAME = CONFIG_NAME.full_name

THEME = Theme(
    name=NAME,
    primary="#4C9BE8",
    secondary="#7A86A8",
    accent="#E8A13A",
    foreground="#D8DCE4",
    background="#15171C",
    surface="#1D2027",
    panel="#262A33",
    success="#5CBF7A",
    warning="#F08A3C",
    error="#E0565B",
    dark=True,
    variables={
        "lapse-power": "#6CC47E",
        "lapse-focus": "#E6C84F",
        "lapse-shutter": "#FF6B6B",
        "lapse-led": "#5CC8F0",
        "lapse-trace-low": "#4A505E",
        "lapse-switch": "#4C9BE8",
        "lapse-warning": "#F08A3C",
        "lapse-banner": "#C792EA",
    },
)
