"""The battery: how full, how long it lasts, and whether that is long enough for the run."""

from __future__ import annotations

import math
from dataclasses import astuple
from functools import lru_cache
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from core.model.battery import BatteryEstimate
from core.model.durations import format_approx
from themes.glyphs import UNICODE, Glyphs

MAX_BAR = 20
"""A longer bar says nothing more: spare width goes to the words."""
MIN_BAR = 4
"""Below this a bar is noise; the percent alone is shown."""
WARNING_MARK = "!"


@lru_cache(maxsize=8)
def _plain(glyphs: Glyphs) -> bool:
    """True for an ASCII glyph set (the console's), whose font may lack "·"."""
    values = astuple(glyphs)
    return all("".join(value).isascii() for value in values)


def time_line_variants(estimate: BatteryEstimate, separator: str) -> list[str]:
    """How long the battery lasts against what the run needs, longest spelling first."""
    if estimate.charging:
        return ["on external power", "on power", "power"]
    lasts = "unknown" if estimate.lasts_ns is None else format_approx(estimate.lasts_ns)
    if estimate.needs_ns is None:
        needs_long, needs_short = "run: until stopped", "until stopped"
    else:
        needs = format_approx(estimate.needs_ns)
        needs_long, needs_short = f"run needs {needs}", f"needs {needs}"
    return [
        f"lasts {lasts}{separator}{needs_long}",
        f"lasts {lasts}{separator}{needs_short}",
        f"{lasts}{separator}{needs_short}",
        f"lasts {lasts}",
        lasts,
    ]


class BatteryGauge(Widget):
    """Percent and a bar on the first row; time left against the run's needs on the second.

    The second row turns into a warning when the run needs longer than the
    battery lasts. Words shorten as the width shrinks; the percent always stays.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "battery-gauge--full",
        "battery-gauge--empty",
        "battery-gauge--percent",
        "battery-gauge--muted",
        "battery-gauge--warning",
    }

    DEFAULT_CSS = """
    BatteryGauge {
        width: 1fr;
        height: 2;
        text-wrap: nowrap;
        text-overflow: clip;
        & > .battery-gauge--full { color: $foreground; }
        & > .battery-gauge--empty { color: $lapse-trace-low; }
        & > .battery-gauge--percent { color: $foreground; text-style: bold; }
        & > .battery-gauge--muted { color: $text-muted; }
        & > .battery-gauge--warning { color: $lapse-warning; text-style: bold; }
    }
    """

    estimate: reactive[BatteryEstimate | None] = reactive(None, repaint=False)
    """What the battery reader or the model says; None when nothing is known yet.

    The model gives a new estimate at every tick of the screen that mostly
    draws the same words: it repaints only when the drawing changes.
    """
    glyphs: reactive[Glyphs] = reactive(UNICODE)
    """The characters to draw with (the console theme sets plain ASCII ones)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._drawn: tuple[object, ...] | None = None
        """The figures last drawn (see :meth:`_figures`)."""

    def watch_estimate(self) -> None:
        if self.is_mounted and self._figures() != self._drawn:
            self.refresh()

    def render(self) -> Text:
        self._drawn = self._figures()
        return self._drawing()

    def _figures(self) -> tuple[object, ...]:
        """What the drawing shows of the estimate; the width, glyphs and theme repaint it
        by themselves. Cheaper than drawing, for a new estimate at every tick."""
        estimate = self.estimate
        if estimate is None:
            return ()
        bar = self._bar_cells(estimate)
        filled = round(max(0.0, min(100.0, estimate.percent)) / 100 * bar) if bar >= MIN_BAR else 0
        return (
            f"{estimate.percent:.0f}",
            bar,
            filled,
            estimate.source,
            estimate.outlasts_battery,
            None if estimate.lasts_ns is None else format_approx(estimate.lasts_ns),
            None if estimate.needs_ns is None else format_approx(estimate.needs_ns),
        )

    def step_below(self, percent: float) -> float | None:
        """The highest percent under ``percent`` at which the number or the bar is drawn
        differently, at the current width and estimate; None when there is none above 0."""
        # The number is rounded: it turns at each half percent.
        steps = [math.ceil(percent - 0.5) - 0.5]
        if self.estimate is not None:
            bar = self._bar_cells(self.estimate)
            if bar >= MIN_BAR:
                # A cell of the bar turns at each half cell, as the filled count is rounded.
                cell = 100 / bar
                steps.append((math.ceil(min(percent, 100.0) / cell - 0.5) - 0.5) * cell)
        step = max(steps)
        return step if step > 0 else None

    def _drawing(self) -> Text:
        text = Text()
        if self.estimate is None:
            text.append("battery: unknown", self.get_component_rich_style("battery-gauge--muted"))
            return text
        text.append_text(self._level_row(self.estimate))
        text.append("\n")
        text.append_text(self._time_row(self.estimate))
        return text

    def _note(self, estimate: BatteryEstimate, percent: str) -> str:
        """The longest note that still leaves room for the percent and a usable bar."""
        if estimate.source == "model":
            for candidate in (" estimate", " est."):
                if self.size.width - len(percent) - len(candidate) - 1 >= MIN_BAR:
                    return candidate
        return ""

    def _bar_cells(self, estimate: BatteryEstimate) -> int:
        """How long the bar is; under ``MIN_BAR`` none is drawn."""
        percent = f"{estimate.percent:.0f}%"
        return min(MAX_BAR, self.size.width - len(percent) - len(self._note(estimate, percent)) - 1)

    def _level_row(self, estimate: BatteryEstimate) -> Text:
        warning = estimate.outlasts_battery
        percent = f"{estimate.percent:.0f}%"
        note = self._note(estimate, percent)
        bar = self._bar_cells(estimate)
        row = Text()
        if bar >= MIN_BAR:
            filled = round(max(0.0, min(100.0, estimate.percent)) / 100 * bar)
            full: Style = self.get_component_rich_style(
                "battery-gauge--warning" if warning else "battery-gauge--full"
            )
            row.append(self.glyphs.battery_full * filled, full)
            row.append(
                self.glyphs.battery_empty * (bar - filled),
                self.get_component_rich_style("battery-gauge--empty"),
            )
            row.append(" ")
        row.append(percent, self.get_component_rich_style("battery-gauge--percent"))
        row.append(note, self.get_component_rich_style("battery-gauge--muted"))
        return row

    def _time_row(self, estimate: BatteryEstimate) -> Text:
        width = self.size.width
        warning = estimate.outlasts_battery
        separator = ", " if _plain(self.glyphs) else " · "
        prefix = f"{WARNING_MARK} " if warning else ""
        variants = time_line_variants(estimate, separator)
        words = next(
            (variant for variant in variants if len(prefix) + len(variant) <= width),
            variants[-1],
        )
        style = "battery-gauge--warning" if warning else "battery-gauge--muted"
        return Text(prefix + words, self.get_component_rich_style(style))
