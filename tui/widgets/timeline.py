"""The live timeline: POWER, FOCUS, SHUTTER and LED over one cycle, like a logic trace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from core.plan import Line, Plan
from core.timeline import CycleLayout, layout_cycle
from themes.glyphs import UNICODE, Glyphs
from tui.widgets.led import led_glyph_index

WIDE_FROM = 60
"""From this many columns the rows carry their full names (a 480×320 screen is 60 wide)."""
NARROW_LABELS = ("PWR", "FOC", "SHT", "LED")
WIDE_LABELS = ("POWER", "FOCUS", "SHUTTER", "LED")
TRACE_LINES = (Line.POWER, Line.FOCUS, Line.SHUTTER)
BREAK_LABEL_ROW = 1
"""The trace row (0 = POWER) that carries the break's length; the cursor row stays free."""


@dataclass(frozen=True)
class CycleTraces:
    """Everything about one cycle that depends only on the plan and the width."""

    layout: CycleLayout
    lines: tuple[tuple[bool | None, ...], ...]
    """Per line in ``TRACE_LINES``, per column: on, off, or None in the break."""
    led: tuple[float | None, ...]


def cycle_traces(plan: Plan, width: int) -> CycleTraces:
    """Lay out ``plan`` on ``width`` trace columns and read off every row's states once."""
    layout = layout_cycle(plan, width)
    return CycleTraces(
        layout=layout,
        lines=tuple(tuple(layout.line_states(line)) for line in TRACE_LINES),
        led=tuple(layout.led_levels()),
    )


class Timeline(Widget):
    """One cycle of the plan, one row per output and the LED, with a cursor at "now".

    A long idle stretch is drawn compressed, as a break carrying its length, so
    the edges stay readable at 40 columns. The layout is computed once per plan
    and width; moving the cursor only redraws.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline--label",
        "timeline--cursor",
        "timeline--power",
        "timeline--focus",
        "timeline--shutter",
        "timeline--led",
        "timeline--low",
        "timeline--break-label",
        "timeline--muted",
    }

    DEFAULT_CSS = """
    Timeline {
        width: 1fr;
        height: 5;
        text-wrap: nowrap;
        text-overflow: clip;
        & > .timeline--label { color: $text-muted; }
        & > .timeline--cursor { color: $foreground; text-style: bold; }
        & > .timeline--power { color: $lapse-power; }
        & > .timeline--focus { color: $lapse-focus; }
        & > .timeline--shutter { color: $lapse-shutter; }
        & > .timeline--led { color: $lapse-led; }
        & > .timeline--low { color: $lapse-trace-low; }
        & > .timeline--break-label { color: $text-muted; }
        & > .timeline--muted { color: $text-muted; text-style: italic; }
    }
    """

    plan: reactive[Plan | None] = reactive(None)
    """The plan whose cycle is drawn; None draws a muted "no plan"."""
    offset_ns: reactive[int | None] = reactive(None, repaint=False)
    """Now, from the current frame's shutter-open (as ``cycle_position`` gives it); None: no cursor.

    It changes several times a second, so it repaints only when the cursor's
    column does.

    An offset before the cycle's first edge (the run's start delay) puts the
    cursor at the first column rather than wrapping it into the cycle.
    """
    glyphs: reactive[Glyphs] = reactive(UNICODE)
    """The characters to draw with (the console theme sets plain ASCII ones)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._cache: tuple[Plan, int, CycleTraces] | None = None
        self._drawn_column: int | None = None
        self._rows_cache: tuple[tuple, list[Text]] | None = None
        """The cursor column on screen now, to skip repaints that would not move it."""

    @property
    def labels(self) -> tuple[str, ...]:
        """The row names at the current width."""
        return WIDE_LABELS if self.size.width >= WIDE_FROM else NARROW_LABELS

    @property
    def label_width(self) -> int:
        """Columns taken by the names, a space included, before the traces begin."""
        return max(len(label) for label in self.labels) + 1

    def watch_offset_ns(self, old: int | None, new: int | None) -> None:
        column = self.cursor_column()
        if column != self._drawn_column:
            self.refresh()

    def render_lines(self, crop):  # type: ignore[no-untyped-def]
        self._drawn_column = self.cursor_column()
        return super().render_lines(crop)

    def traces(self) -> CycleTraces | None:
        """The cycle at the current plan and width (recomputed only when either changes)."""
        if self.plan is None:
            return None
        width = self.size.width - self.label_width
        if self._cache is None or self._cache[0] != self.plan or self._cache[1] != width:
            self._cache = (self.plan, width, cycle_traces(self.plan, width))
        return self._cache[2]

    def cursor_column(self) -> int | None:
        """The trace column of "now", or None when there is no cursor to draw."""
        traces = self.traces()
        if traces is None or self.offset_ns is None:
            return None
        if self.offset_ns < traces.layout.start_ns:
            return 0
        return traces.layout.column_of(self.offset_ns)

    def render(self) -> Text:
        traces = self.traces()
        rows = [self._cursor_row(traces), *self._trace_rows(traces)]
        text = Text()
        for index, row in enumerate(rows):
            if index:
                text.append("\n")
            text.append_text(row)
        return text

    def _trace_rows(self, traces: CycleTraces | None) -> list[Text]:
        """The four trace rows: built once per plan, width, glyphs and theme, as only
        the cursor row moves with the time."""
        styles = tuple(
            str(self.get_component_rich_style(name))
            for name in ("timeline--label", "timeline--low", "timeline--break-label")
        )
        key = (id(traces), self.size.width, self.glyphs, styles)
        if self._rows_cache is not None and self._rows_cache[0] == key:
            return self._rows_cache[1]
        if traces is None:
            rows = [self._flat_row(label) for label in self.labels]
        else:
            rows = [self._line_row(traces, index) for index in range(len(TRACE_LINES))]
            rows.append(self._led_row(traces))
        self._rows_cache = (key, rows)
        return rows

    def _label(self, name: str) -> Text:
        return Text(name.ljust(self.label_width), self.get_component_rich_style("timeline--label"))

    def _cursor_row(self, traces: CycleTraces | None) -> Text:
        row = Text(" " * self.label_width)
        if traces is None:
            row.append("no plan", self.get_component_rich_style("timeline--muted"))
            return row
        column = self.cursor_column()
        if column is not None:
            row.append(" " * column)
            row.append(self.glyphs.cursor, self.get_component_rich_style("timeline--cursor"))
        return row

    def _flat_row(self, name: str) -> Text:
        row = self._label(name)
        width = max(0, self.size.width - self.label_width)
        row.append(self.glyphs.trace_low * width, self.get_component_rich_style("timeline--low"))
        return row

    def _line_row(self, traces: CycleTraces, index: int) -> Text:
        line = TRACE_LINES[index]
        high = self.get_component_rich_style(f"timeline--{line.value}")
        low = self.get_component_rich_style("timeline--low")
        cells: list[tuple[str, Style]] = []
        for state in traces.lines[index]:
            if state is None:
                cells.append((self.glyphs.trace_break, low))
            elif state:
                cells.append((self.glyphs.trace_high, high))
            else:
                cells.append((self.glyphs.trace_low, low))
        if index == BREAK_LABEL_ROW:
            self._put_break_label(traces, cells)
        row = self._label(self.labels[index])
        for glyph, style in cells:
            row.append(glyph, style)
        return row

    def _put_break_label(self, traces: CycleTraces, cells: list[tuple[str, Style]]) -> None:
        label = traces.layout.break_label
        if label is None:
            return
        span = traces.layout.spans[-1]
        columns = span.last - span.first + 1
        label = label.replace("≈", self.glyphs.approx)
        # Blanks either side keep the console's "~" approx sign apart from its "~" break.
        if len(label) + 2 <= columns:
            label = f" {label} "
        label = label[:columns]
        style = self.get_component_rich_style("timeline--break-label")
        first = span.first + (columns - len(label)) // 2
        for position, char in enumerate(label):
            cells[first + position] = (char, style)

    def _led_row(self, traces: CycleTraces) -> Text:
        lit = self.get_component_rich_style("timeline--led")
        low = self.get_component_rich_style("timeline--low")
        row = self._label(self.labels[-1])
        for level in traces.led:
            if level is None:
                row.append(self.glyphs.trace_break, low)
            else:
                index = led_glyph_index(level)
                row.append(self.glyphs.led_levels[index], lit if index else low)
        return row
