"""A rotary selector drawn as the front panel's switch: a title and its positions in a row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from themes.glyphs import UNICODE, Glyphs

MAX_EXTRA_GAP = 3
"""Spare width spreads the positions apart, but no further than this: they stay one switch."""


@dataclass(frozen=True)
class PositionLayout:
    """Where each position of a switch is drawn on one row."""

    columns: tuple[int, ...]
    """The first column of each position's cells (its flanks included)."""
    padded: bool
    """True: every position has a flank cell either side (blank for the others)."""

    def cells(self, labels: Sequence[str], selected: int | None, index: int) -> int:
        """How many columns position ``index`` takes."""
        flanked = self.padded or index == selected
        return len(labels[index]) + (2 if flanked else 0)


def layout_positions(labels: Sequence[str], selected: int | None, width: int) -> PositionLayout:
    """Spread the positions over ``width`` columns, or pack them tight when they do not fit.

    Roomy: every label has a flank cell either side (the switch glyphs for the
    chosen one), so labels are two cells apart, and spare width widens that
    evenly. Tight (narrower than that): only the chosen one keeps its flanks
    and the others are one space apart, so "1 3 10 30" still fits 11 columns.
    ``selected`` None: no position is chosen (the switch sits between them).
    """
    gaps = len(labels) - 1
    roomy = sum(len(label) + 2 for label in labels)
    padded = roomy <= width or gaps == 0
    extra = 1
    if padded:
        extra = 0 if gaps == 0 else min(MAX_EXTRA_GAP, (width - roomy) // gaps)
    columns: list[int] = []
    column = 0
    for index, label in enumerate(labels):
        columns.append(column)
        flanked = padded or index == selected
        column += len(label) + (2 if flanked else 0) + extra
    return PositionLayout(tuple(columns), padded)


class RotarySwitch(Widget, can_focus=True):
    """A switch with a few labelled positions, such as the interval's VALUE or UNIT.

    Like the hardware switch it stops at both ends: it does not wrap, so a held
    key never jumps from "30 days" back to "1 s".

    Moving it by user action (keys, a click, :meth:`action_next`,
    :meth:`action_previous`, :meth:`select`) posts :class:`RotarySwitch.Changed`.
    Assigning :attr:`selected` is how the app mirrors state into the switch and
    posts nothing, so a parent that sets it in response to a message cannot loop.
    While :attr:`enabled` is False (a run is going) it is drawn dimmed and user
    actions do nothing.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # Up/down turn the switch; left/right are left to move between controls,
        # so arrows alone reach everything.
        Binding("up", "next", "Next position", show=False, id="rotary.next"),
        Binding("down", "previous", "Previous position", show=False, id="rotary.previous"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "rotary-switch--title",
        "rotary-switch--chosen",
        "rotary-switch--flank",
        "rotary-switch--other",
    }

    DEFAULT_CSS = """
    RotarySwitch {
        width: 1fr;
        height: 2;
        text-wrap: nowrap;
        text-overflow: clip;
        & > .rotary-switch--title { color: $text-muted; text-style: bold; }
        & > .rotary-switch--chosen { color: $lapse-switch; text-style: bold reverse; }
        & > .rotary-switch--flank { color: $lapse-switch; }
        & > .rotary-switch--other { color: $text-muted; }
        &:focus > .rotary-switch--title { color: $text; background: $primary; }
        &.-locked {
            & > .rotary-switch--chosen { color: $lapse-switch 50%; text-style: reverse; }
            & > .rotary-switch--flank { color: $lapse-switch 50%; }
            & > .rotary-switch--other { color: $text-disabled; }
        }
    }
    """

    selected: reactive[int] = reactive(0)
    """Index of the chosen position; out-of-range values are clamped to the ends."""
    enabled: reactive[bool] = reactive(True)
    """False while the screen locks the switch (a run is going): dimmed, keys ignored."""
    glyphs: reactive[Glyphs] = reactive(UNICODE)
    """The characters to draw with (the console theme sets plain ASCII ones)."""
    chosen: reactive[bool] = reactive(True)
    """False: no position is marked, for a value that is none of them (an interval of
    45 s from the config or another client); :attr:`caption` then says what it is."""
    caption: reactive[str] = reactive("")
    """Drawn after the title, on its row."""

    class Changed(Message):
        """The user moved the switch to ``selected``."""

        def __init__(self, switch: RotarySwitch, selected: int) -> None:
            super().__init__()
            self.switch = switch
            self.selected = selected

        @property
        def control(self) -> RotarySwitch:
            """The switch that moved (for ``@on(RotarySwitch.Changed, "#id")``)."""
            return self.switch

    def __init__(
        self,
        title: str,
        positions: Sequence[str],
        selected: int = 0,
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        if not positions:
            raise ValueError("a rotary switch needs at least one position")
        super().__init__(id=id, classes=classes)
        self.title = title
        self.positions: tuple[str, ...] = tuple(positions)
        # set_reactive: the constructor's choice is state, not a user action.
        self.set_reactive(RotarySwitch.selected, self.validate_selected(selected))

    def validate_selected(self, selected: int) -> int:
        return max(0, min(len(self.positions) - 1, selected))

    def watch_enabled(self, enabled: bool) -> None:
        self.set_class(not enabled, "-locked")

    def get_content_width(self, container: Size, viewport: Size) -> int:
        # Lets ``width: auto`` give the switch exactly what its labels need.
        labels = sum(len(label) + 2 for label in self.positions)
        return max(len(self.title), labels)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 2

    def render(self) -> Text:
        chosen = self.get_component_rich_style("rotary-switch--chosen")
        flank = self.get_component_rich_style("rotary-switch--flank")
        other = self.get_component_rich_style("rotary-switch--other")
        marked = self.marked
        layout = layout_positions(self.positions, marked, self.size.width)
        row = Text()
        for index, (label, column) in enumerate(zip(self.positions, layout.columns, strict=True)):
            row.append(" " * (column - row.cell_len))
            if index == marked:
                row.append(self.glyphs.switch_left, flank)
                row.append(label, chosen)
                row.append(self.glyphs.switch_right, flank)
            else:
                row.append(f" {label} " if layout.padded else label, other)
        text = Text()
        text.append(self.title, self.get_component_rich_style("rotary-switch--title"))
        if self.caption:
            text.append(f" {self.caption}")
        text.append("\n")
        text.append_text(row)
        return text

    @property
    def marked(self) -> int | None:
        """The position drawn as chosen; None while :attr:`chosen` is False."""
        return self.selected if self.chosen else None

    def select(self, index: int) -> bool:
        """Move to position ``index`` as the user would; True if it moved (and posted)."""
        if not self.enabled:
            return False
        index = self.validate_selected(index)
        if index == self.marked:
            return False
        self.selected = index
        self.post_message(self.Changed(self, index))
        return True

    def action_next(self) -> None:
        """One position on (stops at the last)."""
        self.select(self.selected + 1)

    def action_previous(self) -> None:
        """One position back (stops at the first)."""
        self.select(self.selected - 1)

    def on_click(self, event: events.Click) -> None:
        if event.y != 1:
            return
        layout = layout_positions(self.positions, self.marked, self.size.width)
        for index, column in enumerate(layout.columns):
            if column <= event.x < column + layout.cells(self.positions, self.marked, index):
                self.select(index)
                return
