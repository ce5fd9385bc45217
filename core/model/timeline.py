"""The live timeline's geometry: one cycle of a plan laid out on N columns.

Pure and testable: the TUI draws what this computes. The cycle runs from the
frame's first edge to the next frame's first edge (one interval). When the
idle stretch between the last edge and the next cycle is longer than the
active part, it is drawn compressed as a break carrying its length
(``≈29d23h``), so the edges stay readable at 40 columns.

A plan whose power stays on between frames ends its power where the next cycle
begins it, so the power row is drawn on across the whole cycle: what the
scheduler does is what the timeline shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.model.durations import format_approx
from core.model.led import POWER_BLINK_LEVEL, led_changes, led_level
from core.model.plan import Line, Plan

MIN_BREAK_COLUMNS = 5


@dataclass(frozen=True)
class Span:
    """Columns ``first``..``last`` (inclusive) show offsets ``start_ns``..``end_ns``."""

    first: int
    last: int
    start_ns: int
    end_ns: int
    compressed: bool

    def column_of(self, offset_ns: int) -> int:
        columns = self.last - self.first + 1
        width = max(1, self.end_ns - self.start_ns)
        return self.first + min(columns - 1, (offset_ns - self.start_ns) * columns // width)


@dataclass(frozen=True)
class CycleLayout:
    """Where every offset of one cycle falls on ``width`` columns."""

    plan: Plan
    width: int
    spans: tuple[Span, ...]
    break_label: str | None
    """The idle stretch's length, when it is drawn compressed."""

    @property
    def start_ns(self) -> int:
        return self.spans[0].start_ns

    def column_of(self, offset_ns: int) -> int:
        """The column of ``offset_ns`` (taken modulo the interval into this cycle)."""
        offset = (offset_ns - self.start_ns) % self.plan.interval_ns + self.start_ns
        for span in self.spans:
            if offset < span.end_ns:
                return span.column_of(offset)
        return self.width - 1

    def span_of(self, column: int) -> Span:
        for span in self.spans:
            if span.first <= column <= span.last:
                return span
        raise IndexError(column)

    def line_states(self, line: Line) -> list[bool | None]:
        """Per column: the line on, off, or None inside the compressed break."""
        states: list[bool | None] = []
        for column in range(self.width):
            span = self.span_of(column)
            states.append(None if span.compressed else self._on_in(line, span, column))
        return states

    def led_levels(self) -> list[float | None]:
        """Per column: the brightest the LED gets there (flashes are never lost)."""
        changes = led_changes(self.plan)
        levels: list[float | None] = []
        for column in range(self.width):
            span = self.span_of(column)
            if span.compressed:
                levels.append(None)
                continue
            start, end = self._column_range(span, column)
            inside = [level for offset, level in changes if start <= offset < end]
            level = max([led_level(self.plan, start), *inside])
            if self.plan.line_is_on(Line.POWER, start) and level <= POWER_BLINK_LEVEL:
                # The slow power blink reads as steady dim: sampled per column it
                # would alias into a random-looking pattern.
                level = POWER_BLINK_LEVEL
            levels.append(level)
        return levels

    def _column_range(self, span: Span, column: int) -> tuple[int, int]:
        columns = span.last - span.first + 1
        width = span.end_ns - span.start_ns
        index = column - span.first
        return (
            span.start_ns + index * width // columns,
            span.start_ns + (index + 1) * width // columns,
        )

    def _on_in(self, line: Line, span: Span, column: int) -> bool:
        # On if the line is on at any moment of the column: a short pulse stays visible.
        start, end = self._column_range(span, column)
        if self.plan.line_is_on(line, start):
            return True
        return any(
            edge.line is line and edge.on and start <= edge.offset_ns < end
            for edge in self.plan.edges
        )


def layout_cycle(plan: Plan, width: int) -> CycleLayout:
    """Lay out one cycle of ``plan`` on ``width`` columns (at least 10)."""
    width = max(10, width)
    first = plan.edges[0].offset_ns
    last = plan.edges[-1].offset_ns
    active = max(1, last - first)
    idle = plan.interval_ns - active
    # A margin after the last edge so a release is seen to happen.
    margin = active // 8
    if idle <= active + margin:
        span = Span(0, width - 1, first, first + plan.interval_ns, compressed=False)
        return CycleLayout(plan, width, (span,), None)
    shown = active + margin
    label = "≈" + format_approx(plan.interval_ns - shown)
    break_columns = max(MIN_BREAK_COLUMNS, min(len(label) + 2, width // 3))
    active_columns = width - break_columns
    spans = (
        Span(0, active_columns - 1, first, first + shown, compressed=False),
        Span(active_columns, width - 1, first + shown, first + plan.interval_ns, compressed=True),
    )
    return CycleLayout(plan, width, spans, label)


def cycle_position(now_ns: int, anchor_ns: int, interval_ns: int, lead_ns: int) -> tuple[int, int]:
    """Which frame's cycle ``now_ns`` is in, and its offset from that frame's shutter-open.

    A cycle starts ``lead_ns`` before its shutter; before frame 0's cycle the
    answer is frame 0 with a negative offset beyond the lead.
    """
    since = now_ns - (anchor_ns - lead_ns)
    frame = max(0, since // interval_ns)
    return frame, now_ns - (anchor_ns + frame * interval_ns)
