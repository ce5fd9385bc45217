"""The timeline of one cycle (tui/widgets/timeline.py) at 40×15 cells and wider."""

from __future__ import annotations

from typing import Any

import pytest
from textual.geometry import Region

from core.model.durations import DAY_NS, HOUR_NS, NS_PER_S
from core.model.plan import Line, Plan, make_plan
from core.model.settings import Settings
from core.model.timeline import layout_cycle
from tests.widget_app import SMALL, WidgetApp, row, rows
from themes.glyphs import CONSOLE, UNICODE
from tui.widgets import Timeline
from tui.widgets import timeline as timeline_module


def plan_for(interval_ns: int, *, power: bool) -> Plan:
    return make_plan(Settings(interval_ns=interval_ns, power=power))


def trace(widget: Timeline, y: int) -> str:
    return row(widget, y)[widget.label_width :]


async def test_timeline_focus_row_is_on_where_the_layout_says() -> None:
    plan = plan_for(60 * NS_PER_S, power=True)
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=SMALL) as pilot:
        timeline.plan = plan
        await pilot.pause()
        layout = layout_cycle(plan, 40 - timeline.label_width)
        for y, line in ((1, Line.POWER), (2, Line.FOCUS), (3, Line.SHUTTER)):
            drawn = [char == UNICODE.trace_high for char in trace(timeline, y)]
            assert drawn == [bool(state) for state in layout.line_states(line)], line
        assert any(drawn)


async def test_timeline_long_interval_shows_the_break_and_its_length() -> None:
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=SMALL) as pilot:
        timeline.plan = plan_for(30 * DAY_NS, power=True)
        await pilot.pause()
        text = "\n".join(rows(timeline))
        assert "≈29d23h" in text
        assert UNICODE.trace_break in row(timeline, 1)
        assert all(len(line) <= 40 for line in rows(timeline))
        assert all(len(line) == 40 for line in rows(timeline)[1:])


@pytest.mark.parametrize("interval_ns", [NS_PER_S, 60 * NS_PER_S, 30 * DAY_NS])
async def test_timeline_console_glyphs_are_ascii(interval_ns: int) -> None:
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=SMALL) as pilot:
        timeline.glyphs = CONSOLE
        timeline.plan = plan_for(interval_ns, power=interval_ns >= 60 * NS_PER_S)
        timeline.offset_ns = 0
        await pilot.pause()
        text = "\n".join(rows(timeline))
        assert all(ord(char) < 128 for char in text), text
        assert CONSOLE.cursor in row(timeline, 0)
        if interval_ns == 30 * DAY_NS:
            assert "~29d23h" in text


async def test_timeline_cursor_follows_offset() -> None:
    plan = plan_for(60 * NS_PER_S, power=True)
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=SMALL) as pilot:
        timeline.plan = plan
        await pilot.pause()
        assert UNICODE.cursor not in row(timeline, 0)
        layout = layout_cycle(plan, 40 - timeline.label_width)
        columns = []
        for offset in (-10 * NS_PER_S, 0, 30 * NS_PER_S):
            timeline.offset_ns = offset
            await pilot.pause()
            column = row(timeline, 0).index(UNICODE.cursor) - timeline.label_width
            assert column == layout.column_of(offset)
            columns.append(column)
        assert columns == sorted(set(columns))


async def test_timeline_cursor_waits_at_the_start_during_a_delay() -> None:
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=SMALL) as pilot:
        timeline.plan = plan_for(10 * NS_PER_S, power=False)
        timeline.offset_ns = -HOUR_NS
        await pilot.pause()
        assert row(timeline, 0).index(UNICODE.cursor) == timeline.label_width


async def test_timeline_moving_the_cursor_does_not_lay_out_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def counting(plan: Plan, width: int) -> object:
        calls.append(width)
        return layout_cycle(plan, width)

    monkeypatch.setattr(timeline_module, "layout_cycle", counting)
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=SMALL) as pilot:
        timeline.plan = plan_for(60 * NS_PER_S, power=True)
        for second in range(-10, 40, 5):
            timeline.offset_ns = second * NS_PER_S
            await pilot.pause()
        assert len(calls) == 1
        timeline.plan = plan_for(10 * NS_PER_S, power=True)
        await pilot.pause()
        assert len(calls) == 2


async def test_timeline_unused_power_line_is_flat_low() -> None:
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=SMALL) as pilot:
        timeline.plan = plan_for(10 * NS_PER_S, power=False)
        await pilot.pause()
        assert set(trace(timeline, 1)) <= {UNICODE.trace_low, UNICODE.trace_break}
        assert UNICODE.trace_low in trace(timeline, 1)
        assert UNICODE.trace_high in trace(timeline, 3)


async def test_timeline_without_plan_says_so() -> None:
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert "no plan" in row(timeline, 0)
        assert timeline.size.height == 5


@pytest.mark.parametrize(
    ("width", "labels"),
    [(40, ("PWR", "FOC", "SHT", "LED")), (60, ("POWER", "FOCUS", "SHUTTER", "LED"))],
)
async def test_timeline_labels_narrow_and_wide(width: int, labels: tuple[str, ...]) -> None:
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=(width, 15)) as pilot:
        timeline.plan = plan_for(60 * NS_PER_S, power=True)
        await pilot.pause()
        assert tuple(row(timeline, y).split()[0] for y in range(1, 5)) == labels
        assert all(len(line) == width for line in rows(timeline)[1:])


async def test_timeline_led_row_lights_while_the_shutter_is_open() -> None:
    plan = plan_for(60 * NS_PER_S, power=True)
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=SMALL) as pilot:
        timeline.plan = plan
        await pilot.pause()
        layout = layout_cycle(plan, 40 - timeline.label_width)
        led = trace(timeline, 4)
        assert led[layout.column_of(NS_PER_S)] == UNICODE.led_levels[-1]


async def test_timeline_cursor_move_repaints_only_the_two_cells() -> None:
    """The cursor is all that moves with the time: a move asks for the cell it leaves and
    the one it enters to be repainted, never the whole widget; a move within its column
    asks for nothing."""
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=(80, 15)) as pilot:
        timeline.plan = plan_for(60 * NS_PER_S, power=True)
        timeline.offset_ns = 0
        await pilot.pause()
        asked: list[tuple[Region, ...]] = []
        refresh = timeline.refresh

        def recording(*regions: Region, **kwargs: Any) -> Timeline:
            asked.append(regions)
            return refresh(*regions, **kwargs)

        timeline.refresh = recording  # type: ignore[method-assign]
        column = timeline.cursor_column()
        assert column is not None
        moves_at = timeline.next_cursor_move_ns()
        assert moves_at is not None and moves_at > 0
        timeline.offset_ns = moves_at - 1
        assert asked == [], "the cursor stayed in its column"
        timeline.offset_ns = moves_at
        left = timeline.label_width
        assert asked == [(Region(left + column, 0, 1, 1), Region(left + column + 1, 0, 1, 1))]
        await pilot.pause()
        assert row(timeline, 0).index(UNICODE.cursor) == left + column + 1


async def test_timeline_rows_follow_a_new_theme() -> None:
    """The rows are kept between repaints: a new theme must build them again."""
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=SMALL) as pilot:
        timeline.plan = plan_for(60 * NS_PER_S, power=True)
        timeline.offset_ns = 0
        await pilot.pause()
        before = [str(segment.style) for y in range(5) for segment in timeline.render_line(y)]
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        after = [str(segment.style) for y in range(5) for segment in timeline.render_line(y)]
        assert before != after


@pytest.mark.parametrize("width", [40, 80])
async def test_timeline_next_cursor_move_is_where_the_column_changes(width: int) -> None:
    timeline = Timeline()
    app = WidgetApp(timeline)
    async with app.run_test(size=(width, 15)) as pilot:
        timeline.plan = plan = plan_for(60 * NS_PER_S, power=False)
        await pilot.pause()
        layout = layout_cycle(plan, width - timeline.label_width)
        offset = -10 * NS_PER_S  # a start delay: the cursor waits in the first column
        while offset < plan.interval_ns - plan.lead_ns:
            timeline.offset_ns = offset
            moves_at = timeline.next_cursor_move_ns()
            assert moves_at is not None and moves_at > offset
            here = timeline.cursor_column()
            timeline.offset_ns = moves_at - 1
            assert timeline.cursor_column() == here, offset
            assert layout.column_of(moves_at) != here, offset
            offset = moves_at
