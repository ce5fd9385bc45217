"""The live timeline: POWER, FOCUS, SHUTTER and LED over one cycle, like a logic trace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget

from core.model.plan import Line, Plan
from core.model.timeline import CycleLayout, layout_cycle
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


def next_column_change_ns(layout: CycleLayout, offset_ns: int) -> int:
    """The first offset after ``offset_ns`` at which the cursor stands in another column.

    Offsets count as :meth:`CycleLayout.column_of` counts them (modulo the
    interval, from the cycle's first edge). Before the first edge (a start
    delay) the cursor waits in the first column, so its first move is the end
    of that column. From the last column the next move is the wrap to the first.
    """
    start = layout.start_ns
    interval = layout.plan.interval_ns
    offset = max(offset_ns, start)
    cycles = (offset - start) // interval
    offset -= cycles * interval
    for span in layout.spans:
        if offset < span.end_ns:
            columns = span.last - span.first + 1
            width = max(1, span.end_ns - span.start_ns)
            index = min(columns - 1, (offset - span.start_ns) * columns // width)
            if index == columns - 1:
                moves_at = span.end_ns
            else:
                # The least offset whose column index is index + 1 (a ceiling division).
                moves_at = span.start_ns - (-(index + 1) * width // columns)
            return moves_at + cycles * interval
    return start + (cycles + 1) * interval


class Timeline(Widget):
    """One cycle of the plan, one row per output and the LED, with a cursor at "now".

    A long idle stretch is drawn compressed, as a break carrying its length, so
    the edges stay readable at 40 columns.

    It draws line by line (Textual's line API) because the cursor is the only
    part that moves: the trace rows are built once per plan, width, glyphs and
    theme, and a cursor move repaints two cells (where it was and where it is),
    not the widget: at 80 columns a whole repaint writes about 8 KB of escape
    codes to the terminal, a move about 130 bytes.
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

    ALLOW_SELECT = False
    """Rows of trace glyphs are nothing to copy, and the line API draws no selection."""

    plan: reactive[Plan | None] = reactive(None)
    """The plan whose cycle is drawn; None draws a muted "no plan"."""
    offset_ns: reactive[int | None] = reactive(None, repaint=False)
    """Now, from the current frame's shutter-open (as ``cycle_position`` gives it); None: no cursor.

    Setting it repaints only the cells the cursor leaves and enters, and
    nothing when its column stays the same.

    An offset before the cycle's first edge (the run's start delay) puts the
    cursor at the first column rather than wrapping it into the cycle.
    """
    glyphs: reactive[Glyphs] = reactive(UNICODE)
    """The characters to draw with (the console theme sets plain ASCII ones)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._cache: tuple[Plan, int, CycleTraces] | None = None
        """The cycle, with the plan and the widget's width it was laid out for."""
        self._rows_cache: tuple[tuple[object, ...], list[Strip]] | None = None
        """The four trace rows, with the plan, width and glyphs they were built for."""
        self._cursor_cache: tuple[tuple[object, ...], dict[int | None, Strip]] | None = None
        """The cursor row per cursor column, for the plan, width and glyphs they were built for:
        a cursor that crosses the cycle again and again draws each row once."""
        self._drawn_column: int | None = None
        """The cursor column on screen now (set when row 0 is drawn): the cell a move clears."""

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
        drawn = self._drawn_column
        if column == drawn:
            return
        # Only the cells the cursor leaves and enters: the rest of the row is blank.
        width = cell_len(self.glyphs.cursor)
        left = self.label_width
        self.refresh(*(Region(left + c, 0, width, 1) for c in (drawn, column) if c is not None))

    def traces(self) -> CycleTraces | None:
        """The cycle at the current plan and width (recomputed only when either changes)."""
        plan = self.plan
        if plan is None:
            return None
        # Asked several times per tick of the screen: the width is read once.
        width = self.size.width
        cache = self._cache
        if cache is None or cache[1] != width or cache[0] != plan:
            labels = WIDE_LABELS if width >= WIDE_FROM else NARROW_LABELS
            traces = cycle_traces(plan, width - max(len(label) for label in labels) - 1)
            cache = self._cache = (plan, width, traces)
        return cache[2]

    def cursor_column(self) -> int | None:
        """The trace column of "now", or None when there is no cursor to draw."""
        traces = self.traces()
        if traces is None or self.offset_ns is None:
            return None
        if self.offset_ns < traces.layout.start_ns:
            return 0
        return traces.layout.column_of(self.offset_ns)

    def next_cursor_move_ns(self, after_ns: int | None = None) -> int | None:
        """The offset at which the cursor next stands in another column; None: no cursor.

        From now (``offset_ns``), or from ``after_ns``. The screen sleeps until
        then when nothing else it shows changes sooner.
        """
        traces = self.traces()
        offset = self.offset_ns if after_ns is None else after_ns
        if traces is None or offset is None:
            return None
        return next_column_change_ns(traces.layout, offset)

    # -- drawing -----------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        """Row ``y``: the cursor row (0), then POWER, FOCUS, SHUTTER and LED."""
        traces = self.traces()
        if y == 0:
            return self._cursor_strip(traces)
        rows = self._trace_strips(traces)
        if y - 1 < len(rows):
            return rows[y - 1]
        return Strip.blank(self.size.width, self.rich_style)

    def notify_style_update(self) -> None:
        # A new theme (or CSS) restyles the rows: build them again.
        super().notify_style_update()
        self._rows_cache = None
        self._cursor_cache = None

    def _to_strip(self, row: Text) -> Strip:
        """One row exactly as Textual draws it from ``render`` (the snapshots stay the same)."""
        visual = visualize(self, row)
        strips = Visual.to_strips(
            self, visual, self.size.width, 1, self.visual_style, apply_selection=False
        )
        if not strips:
            return Strip.blank(self.size.width, self.rich_style)
        return strips[0]

    def _cursor_strip(self, traces: CycleTraces | None) -> Strip:
        column = None if traces is None else self.cursor_column()
        self._drawn_column = column
        key = (self.plan, self.size.width, self.glyphs)
        if self._cursor_cache is None or self._cursor_cache[0] != key:
            self._cursor_cache = (key, {})
        rows = self._cursor_cache[1]
        strip = rows.get(column)
        if strip is None:
            strip = rows[column] = self._to_strip(self._cursor_row(traces, column))
        return strip

    def _trace_strips(self, traces: CycleTraces | None) -> list[Strip]:
        """The four trace rows: built once per plan, width, glyphs and theme, as only
        the cursor row moves with the time."""
        key = (self.plan, self.size.width, self.glyphs)
        if self._rows_cache is not None and self._rows_cache[0] == key:
            return self._rows_cache[1]
        if traces is None:
            rows = [self._flat_row(label) for label in self.labels]
        else:
            rows = [self._line_row(traces, index) for index in range(len(TRACE_LINES))]
            rows.append(self._led_row(traces))
        strips = [self._to_strip(row) for row in rows]
        self._rows_cache = (key, strips)
        return strips

    def _label(self, name: str) -> Text:
        return Text(name.ljust(self.label_width), self.get_component_rich_style("timeline--label"))

    def _cursor_row(self, traces: CycleTraces | None, column: int | None) -> Text:
        row = Text(" " * self.label_width)
        if traces is None:
            row.append("no plan", self.get_component_rich_style("timeline--muted"))
            return row
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
