"""A bare app that hosts the TUI's widgets under test at the small screen's 40×15 cells
(docs/architecture.md §10), and a reading of what they draw."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget

from themes.names import THEME_VARIABLES
from tui.widgets import RotarySwitch

SMALL = (40, 15)
COLOURS = {
    "lapse-power": "#5f87ff",
    "lapse-focus": "#ffd75f",
    "lapse-shutter": "#ff5f5f",
    "lapse-led": "#87ff87",
    "lapse-trace-low": "#444444",
    "lapse-switch": "#ffaf00",
    "lapse-warning": "#ff8700",
    "lapse-banner": "#d7005f",
}


class WidgetApp(App[None]):
    """Composes the widgets under test and records every switch's Changed."""

    def __init__(self, *widgets: Widget, side_by_side: bool = False) -> None:
        super().__init__()
        self.widgets = widgets
        self.side_by_side = side_by_side
        self.changes: list[RotarySwitch.Changed] = []

    def get_theme_variable_defaults(self) -> dict[str, str]:
        assert set(COLOURS) == set(THEME_VARIABLES)
        return dict(COLOURS)

    def compose(self) -> ComposeResult:
        if self.side_by_side:
            with Horizontal(classes="row"):
                yield from self.widgets
        else:
            yield from self.widgets

    def on_rotary_switch_changed(self, message: RotarySwitch.Changed) -> None:
        self.changes.append(message)


def row(widget: Widget, y: int) -> str:
    """The text ``widget`` draws on its line ``y``."""
    return "".join(segment.text for segment in widget.render_line(y))


def rows(widget: Widget) -> list[str]:
    """The text of every line ``widget`` draws, top to bottom."""
    return [row(widget, y) for y in range(widget.size.height)]
