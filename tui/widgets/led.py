"""The physical status LED as it looks right now: a lamp glyph and what it is saying."""

from __future__ import annotations

import math
from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from themes.glyphs import UNICODE, Glyphs

DIM_BELOW = 0.5
"""Levels under this are drawn dim, so a powered-camera blink never reads as "open"."""


def led_glyph_index(level: float) -> int:
    """Which of the five ``Glyphs.led_levels`` shows ``level`` (0..1).

    Any light at all is at least the dim glyph: the powered-camera blink is
    only 0.1 and must not look like "off".
    """
    if not level > 0:  # also catches NaN
        return 0
    return max(1, min(4, round(level * 4)))


class LedLamp(Widget):
    """The status LED: one glyph at its brightness and a short word (``off``, ``focus``…)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "led-lamp--bright",
        "led-lamp--dim",
        "led-lamp--off",
        "led-lamp--phase",
    }

    DEFAULT_CSS = """
    LedLamp {
        width: auto;
        height: 1;
        text-wrap: nowrap;
        text-overflow: clip;
        & > .led-lamp--bright { color: $lapse-led; text-style: bold; }
        & > .led-lamp--dim { color: $lapse-led 60%; }
        & > .led-lamp--off { color: $lapse-trace-low; }
        & > .led-lamp--phase { color: $text-muted; }
    }
    """

    level: reactive[float] = reactive(0.0)
    """Brightness 0..1, as ``core.model.led.led_level`` gives it; clamped into that range."""
    phase: reactive[str] = reactive("off", layout=True)
    """The word beside the lamp: what the rig is doing (``off``, ``focus``, ``open``, ``power``)."""
    glyphs: reactive[Glyphs] = reactive(UNICODE)
    """The characters to draw with (the console theme sets plain ASCII ones)."""

    def validate_level(self, level: float) -> float:
        if math.isnan(level):
            return 0.0
        return max(0.0, min(1.0, level))

    def render(self) -> Text:
        index = led_glyph_index(self.level)
        if index == 0:
            lamp = "led-lamp--off"
        elif self.level < DIM_BELOW:
            lamp = "led-lamp--dim"
        else:
            lamp = "led-lamp--bright"
        text = Text()
        text.append(self.glyphs.led_levels[index], self.get_component_rich_style(lamp))
        if self.phase:
            text.append(" ")
            text.append(self.phase, self.get_component_rich_style("led-lamp--phase"))
        return text
