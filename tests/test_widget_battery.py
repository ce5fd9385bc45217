"""The battery gauge (tui/widgets/battery.py) at the small screen's 40×15 cells and narrower."""

from __future__ import annotations

from typing import Any

import pytest
from textual.geometry import Region

from core.model.battery import BatteryEstimate
from core.model.durations import MINUTE_NS
from tests.widget_app import COLOURS, SMALL, WidgetApp, row, rows
from themes.glyphs import CONSOLE, UNICODE
from tui.widgets import BatteryGauge


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
