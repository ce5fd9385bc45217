"""The TUI's reusable widgets at the small screen's 40×15 cells (DESIGN §11) and wider."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.geometry import Region
from textual.widget import Widget

from core.config import Config
from core.model.battery import BatteryEstimate
from core.model.durations import DAY_NS, HOUR_NS, MINUTE_NS, NS_PER_S
from core.model.plan import Line, Plan, make_plan
from core.model.settings import Settings
from core.model.timeline import layout_cycle
from themes.glyphs import CONSOLE, UNICODE
from themes.names import THEME_VARIABLES
from tui.app import LapseApp
from tui.screens.main import MainScreen
from tui.widgets import BatteryGauge, LedLamp, RotarySwitch, Timeline
from tui.widgets import timeline as timeline_module
from tui.widgets.led import led_glyph_index

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
VALUES = ("1", "3", "10", "30")
UNITS = ("s", "min", "h", "days")


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
    return "".join(segment.text for segment in widget.render_line(y))


def rows(widget: Widget) -> list[str]:
    return [row(widget, y) for y in range(widget.size.height)]


def plan_for(interval_ns: int, *, power: bool) -> Plan:
    return make_plan(Settings(interval_ns=interval_ns, power=power))


# Rotary switch


def switch_labels(text: str) -> list[str]:
    for glyph in (UNICODE.switch_left, UNICODE.switch_right, "[", "]"):
        text = text.replace(glyph, " ")
    return text.split()


async def test_rotary_keys_move_and_post_once_per_move() -> None:
    switch = RotarySwitch("VALUE", VALUES, id="value")
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        switch.focus()
        await pilot.press("up")
        await pilot.press("right")  # left/right belong to the screen: no turn
        await pilot.press("up")
        await pilot.pause()
        assert switch.selected == 2
        assert [change.selected for change in app.changes] == [1, 2]
        assert all(change.switch is switch for change in app.changes)
        await pilot.press("down", "left", "down")
        await pilot.pause()
        assert switch.selected == 0
        assert [change.selected for change in app.changes] == [1, 2, 1, 0]


async def test_rotary_stops_at_the_ends_without_posting() -> None:
    switch = RotarySwitch("UNIT", UNITS, selected=3)
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        switch.focus()
        await pilot.press("up")
        await pilot.pause()
        assert switch.selected == 3
        switch.selected = 0
        await pilot.press("down")
        await pilot.pause()
        assert switch.selected == 0
        assert app.changes == []


async def test_rotary_programmatic_selection_does_not_post() -> None:
    switch = RotarySwitch("VALUE", VALUES)
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        switch.selected = 3
        await pilot.pause()
        assert app.changes == []
        assert f"{UNICODE.switch_left}30{UNICODE.switch_right}" in row(switch, 1)
        switch.selected = 99  # clamped, never an IndexError while drawing
        await pilot.pause()
        assert switch.selected == 3


async def test_rotary_select_and_actions_post_like_keys() -> None:
    switch = RotarySwitch("VALUE", VALUES)
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        assert switch.select(2) is True
        assert switch.select(2) is False
        switch.action_previous()
        switch.action_next()
        await pilot.pause()
        assert [change.selected for change in app.changes] == [2, 1, 2]


async def test_rotary_marks_the_chosen_position_with_the_switch_glyphs() -> None:
    switch = RotarySwitch("UNIT", UNITS, selected=1)
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        text = row(switch, 1)
        assert row(switch, 0).startswith("UNIT")
        assert "▐min▌" in text
        assert text.count("▐") == text.count("▌") == 1
        switch.glyphs = CONSOLE
        await pilot.pause()
        assert "[min]" in row(switch, 1)
        assert all(ord(char) < 128 for line in rows(switch) for char in line)


async def test_rotary_locked_ignores_keys_and_clicks() -> None:
    switch = RotarySwitch("VALUE", VALUES)
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        switch.focus()
        switch.enabled = False
        await pilot.press("up")
        await pilot.click(switch, offset=(10, 1))
        await pilot.pause()
        assert switch.selected == 0
        assert app.changes == []
        assert switch.has_class("-locked")
        assert "▐1▌" in row(switch, 1)  # still readable while a run is going


async def test_rotary_click_selects_a_position() -> None:
    switch = RotarySwitch("VALUE", VALUES)
    app = WidgetApp(switch)
    async with app.run_test(size=SMALL) as pilot:
        column = row(switch, 1).index("30")
        await pilot.click(switch, offset=(column, 1))
        await pilot.pause()
        assert switch.selected == 3
        assert [change.selected for change in app.changes] == [3]


@pytest.mark.parametrize("glyphs", [UNICODE, CONSOLE])
async def test_two_switches_fit_side_by_side_in_40_columns(glyphs: object) -> None:
    value = RotarySwitch("VALUE", VALUES, selected=2)
    unit = RotarySwitch("UNIT", UNITS, selected=3)
    app = WidgetApp(value, unit, side_by_side=True)
    async with app.run_test(size=SMALL) as pilot:
        value.glyphs = unit.glyphs = glyphs
        await pilot.pause()
        assert value.size.height <= 3
        assert value.region.right <= unit.region.x
        assert unit.region.right <= 40
        assert switch_labels(row(value, 1)) == list(VALUES)
        assert switch_labels(row(unit, 1)) == list(UNITS)
        assert row(value, 0).strip() == "VALUE"
        assert row(unit, 0).strip() == "UNIT"


async def test_switches_pack_tight_below_their_roomy_width() -> None:
    value = RotarySwitch("VALUE", VALUES, selected=2)
    unit = RotarySwitch("UNIT", UNITS, selected=1)
    app = WidgetApp(value, unit, side_by_side=True)
    async with app.run_test(size=(28, 15)) as pilot:
        await pilot.pause()
        assert unit.size.width == 14
        assert row(value, 1) == " 1  3 ▐10▌ 30 "  # 14 columns: still roomy
        assert row(unit, 1) == "s ▐min▌ h days"
        await pilot.click(unit, offset=(row(unit, 1).index("days"), 1))
        await pilot.pause()
        assert unit.selected == 3


# Timeline


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


# The main screen's wake-ups

S = NS_PER_S


class QuietLink:
    """A daemon that reports one status, then says nothing until the app hangs up."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status
        self.closed = threading.Event()

    def connect(self) -> dict[str, Any]:
        return {"pid": 1, "protocol": 1, "rig": "simulated", "simulated": True}

    def events(self) -> Iterator[dict[str, Any]]:
        yield {"event": "state", "data": self.status}
        self.closed.wait()

    def command(self, cmd: str, **args: Any) -> Any:
        raise AssertionError(f"the test sent {cmd}")

    def close(self) -> None:
        self.closed.set()


class HeldTimer:
    """Stands in for the tick timer: the test moves the clock and calls the tick itself."""

    def stop(self) -> None:
        pass


async def test_main_screen_wakes_only_for_what_it_shows() -> None:
    """A 1-minute run, one whole cycle on a fake clock, each wake-up taken as the screen asks.

    Every wake-up changes the picture; between frames the screen wakes about once a
    second (the texts count seconds, and the cursor moves with them): a fixed rate of
    a few per second would fail here.
    """
    start = 5_000 * S
    anchor = start + 4 * S  # the first flash is now
    settings = {
        "interval": "1min",
        "power": False,
        "frames": 0,
        "delay": "0s",
        "exposure": "pulse",
        "focus_lead": "4s",
        "clock_ppm": 0.0,
    }
    status = {
        "state": "running",
        "run": "r",
        "simulated": True,
        "settings": settings,
        "anchor_ns": anchor,
        "now_ns": start,
        "next_due_ns": anchor,
        "ok": 0,
        "missed": 0,
        "errors": 0,
    }
    clock = [start]
    app = LapseApp(QuietLink(status), Config(), None, clock=lambda: clock[0])
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(100):
            if app.status.get("state") == "running":
                break
            await pilot.pause(0.02)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        delays: list[float] = []
        set_timer = screen.set_timer

        def hold(delay: float, callback: Callable[[], object], **kwargs: Any) -> Any:
            if kwargs.get("name") != "tick":
                return set_timer(delay, callback, **kwargs)
            delays.append(delay)
            return HeldTimer()

        def picture() -> list[str]:
            shown = screen.query("Static, LedLamp, Timeline, BatteryGauge")
            return [line for widget in shown for line in rows(widget)]

        screen.set_timer = hold  # type: ignore[method-assign]
        screen.update_view()
        await pilot.pause()
        pictures = [picture()]
        woke_at: list[int] = []
        while clock[0] < anchor + 56 * S:
            clock[0] += round(delays[-1] * S)
            screen.tick()  # the widgets draw on demand: no need to wait for the paint
            woke_at.append(clock[0] - anchor)
            pictures.append(picture())
        still = [woke_at[i] / S for i in range(len(woke_at)) if pictures[i] == pictures[i + 1]]
        assert still == [], f"woke without a change at {still} s"
        between = [t for t in woke_at if 5 * S <= t < 55 * S]
        assert 45 <= len(between) <= 60, len(between)
        assert len(woke_at) <= 100, len(woke_at)


# LED lamp


@pytest.mark.parametrize(
    ("level", "index"),
    [(0.0, 0), (0.1, 1), (0.25, 1), (0.5, 2), (0.75, 3), (1.0, 4), (math.nan, 0), (-1.0, 0)],
)
def test_led_level_to_glyph(level: float, index: int) -> None:
    assert led_glyph_index(level) == index


@pytest.mark.parametrize(
    ("glyphs", "level", "phase", "expected"),
    [
        (UNICODE, 1.0, "open", "● open"),
        (UNICODE, 0.1, "power", "◔ power"),
        (UNICODE, 0.0, "off", "○ off"),
        (CONSOLE, 1.0, "open", "@ open"),
        (CONSOLE, 0.75, "focus", "O focus"),
        (CONSOLE, 0.0, "off", ". off"),
        (UNICODE, 7.0, "open", "● open"),
    ],
)
async def test_led_lamp_draws_level_and_phase(
    glyphs: object, level: float, phase: str, expected: str
) -> None:
    lamp = LedLamp()
    app = WidgetApp(lamp)
    async with app.run_test(size=SMALL) as pilot:
        lamp.glyphs = glyphs
        lamp.level = level
        lamp.phase = phase
        await pilot.pause()
        assert lamp.size.height == 1
        assert row(lamp, 0).rstrip() == expected


# Battery gauge


def estimate(
    *,
    percent: float = 80.0,
    lasts_min: int | None = 20 * 60,
    needs_min: int | None = 2 * 60,
    source: str = "model",
) -> BatteryEstimate:
    return BatteryEstimate(
        percent=percent,
        lasts_ns=None if lasts_min is None else lasts_min * MINUTE_NS,
        needs_ns=None if needs_min is None else needs_min * MINUTE_NS,
        average_ma=400.0,
        source=source,
    )


async def test_battery_shows_percent_bar_and_times() -> None:
    gauge = BatteryGauge()
    app = WidgetApp(gauge)
    async with app.run_test(size=SMALL) as pilot:
        gauge.estimate = estimate(percent=50.0, lasts_min=23 * 60 + 13, needs_min=100)
        await pilot.pause()
        first, second = rows(gauge)
        assert "50%" in first
        assert UNICODE.battery_full in first and UNICODE.battery_empty in first
        assert first.count(UNICODE.battery_full) == first.count(UNICODE.battery_empty)
        assert second.strip() == "lasts 23h13min · run needs 1h40min"
        assert "!" not in second


async def test_battery_warns_when_the_run_outlasts_it() -> None:
    gauge = BatteryGauge()
    app = WidgetApp(gauge)
    async with app.run_test(size=SMALL) as pilot:
        gauge.estimate = estimate(lasts_min=5 * 60, needs_min=48 * 60)
        await pilot.pause()
        second = row(gauge, 1)
        assert second.startswith("! ")
        assert "needs 2d" in second
        colours = {
            segment.style.color.triplet.hex
            for segment in gauge.render_line(1)
            if segment.text.strip() and segment.style and segment.style.color
        }
        assert colours == {COLOURS["lapse-warning"]}


async def test_battery_run_until_stopped() -> None:
    gauge = BatteryGauge()
    app = WidgetApp(gauge)
    async with app.run_test(size=SMALL) as pilot:
        gauge.estimate = estimate(needs_min=None)
        await pilot.pause()
        assert "run: until stopped" in row(gauge, 1)


async def test_battery_says_estimate_only_for_the_model() -> None:
    gauge = BatteryGauge()
    app = WidgetApp(gauge)
    async with app.run_test(size=SMALL) as pilot:
        gauge.estimate = estimate(source="model")
        await pilot.pause()
        assert "estimate" in row(gauge, 0)
        gauge.estimate = estimate(source="ina219")
        await pilot.pause()
        assert "est" not in row(gauge, 0)


@pytest.mark.parametrize("width", [8, 12, 20])
async def test_battery_narrow_still_shows_percent(width: int) -> None:
    gauge = BatteryGauge()
    app = WidgetApp(gauge)
    async with app.run_test(size=(width, 15)) as pilot:
        gauge.estimate = estimate(percent=87.4, lasts_min=5 * 60, needs_min=48 * 60)
        await pilot.pause()
        first, second = rows(gauge)
        assert "87%" in first
        assert second.startswith("!")
        assert "5h" in second


async def test_battery_unknown_and_console() -> None:
    gauge = BatteryGauge()
    app = WidgetApp(gauge)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert row(gauge, 0).strip() == "battery: unknown"
        gauge.glyphs = CONSOLE
        gauge.estimate = estimate()
        await pilot.pause()
        text = "\n".join(rows(gauge))
        assert all(ord(char) < 128 for char in text), text
        assert "lasts 20h, run needs 2h" in text


async def test_battery_repaints_only_when_its_drawing_changes() -> None:
    """The model gives a new estimate at every tick of the screen; most draw the same."""
    gauge = BatteryGauge()
    app = WidgetApp(gauge)
    async with app.run_test(size=SMALL) as pilot:
        gauge.estimate = estimate(percent=87.4)
        await pilot.pause()
        asked: list[tuple[Region, ...]] = []
        refresh = gauge.refresh

        def recording(*regions: Region, **kwargs: Any) -> BatteryGauge:
            asked.append(regions)
            return refresh(*regions, **kwargs)

        gauge.refresh = recording  # type: ignore[method-assign]
        gauge.estimate = estimate(percent=87.3)  # still "87%", the same bar
        assert asked == []
        gauge.estimate = estimate(percent=86.4)
        assert len(asked) == 1
        await pilot.pause()
        assert "86%" in row(gauge, 0)


@pytest.mark.parametrize(
    ("percent", "step"),
    # At 12 columns the bar has 8 cells: one turns at each 12.5 % from 6.25 %.
    [(57.6, 57.5), (57.5, 56.5), (56.4, 56.25), (56.25, 55.5), (19.0, 18.75), (0.4, None)],
)
async def test_battery_step_below_is_where_number_or_bar_turns(
    percent: float, step: float | None
) -> None:
    gauge = BatteryGauge()
    app = WidgetApp(gauge)
    async with app.run_test(size=(12, 15)) as pilot:
        gauge.estimate = estimate(percent=percent, source="ina219")
        await pilot.pause()
        assert gauge.step_below(percent) == (None if step is None else pytest.approx(step))
