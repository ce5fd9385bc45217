"""The camera-power toggle: a switch that says plainly whether lapse powers the camera."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from themes.glyphs import UNICODE, Glyphs


class PowerToggle(Widget, can_focus=True):
    """``POWER [on]`` or ``POWER [off]``; up, down or Enter flip it when focused."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("up,down,space", "toggle", "Toggle power", show=False),
    ]

    DEFAULT_CSS = """
    PowerToggle {
        width: auto;
        height: 1;
        padding: 0 1 0 0;
    }
    PowerToggle:focus {
        text-style: bold;
        background: $boost;
    }
    PowerToggle.-disabled {
        color: $text-muted;
    }
    """

    on: reactive[bool] = reactive(False)
    """Whether the camera-power line is switched around each frame."""
    enabled: reactive[bool] = reactive(True)
    """False while a run is going: the choice belongs to the run then."""
    glyphs: reactive[Glyphs] = reactive(UNICODE)
    """The characters to draw with."""

    class Changed(Message):
        """The photographer flipped the toggle (not posted when ``on`` is set from outside)."""

        def __init__(self, toggle: PowerToggle, on: bool) -> None:
            super().__init__()
            self.toggle = toggle
            self.on = on

        @property
        def control(self) -> PowerToggle:
            return self.toggle

    def render(self) -> Text:
        g = self.glyphs
        state = "on" if self.on else "off"
        # Text, not a markup string: the console glyphs are brackets, and "[off]" would
        # be read as a markup tag and vanish.
        return Text(f"POWER {g.switch_left}{state:^3}{g.switch_right}")

    def watch_enabled(self, enabled: bool) -> None:
        self.set_class(not enabled, "-disabled")

    def on_click(self, event: events.Click) -> None:
        """A click or a tap flips it, as the keys do (on a phone there are no keys)."""
        event.stop()
        self.action_toggle()

    def action_toggle(self) -> None:
        """Flip power, as a person would; posts :class:`Changed`."""
        if not self.enabled:
            return
        self.on = not self.on
        self.post_message(self.Changed(self, self.on))
