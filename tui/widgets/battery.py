"""The battery: how full, how long it lasts, and whether that is long enough for the run."""

from __future__ import annotations

from dataclasses import astuple
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from core.battery import BatteryEstimate
from core.durations import format_approx
from themes.glyphs import UNICODE, Glyphs

MAX_BAR = 20
"""A longer bar says nothing more: spare width goes to the words."""
MIN_BAR = 4
"""Below this a bar is noise; the percent alone is shown."""
WARNING_MARK = "!"


def _plain(glyphs: Glyphs) -> bool:
    """True for an ASCII glyph set (the console's), whose font may lack "·"."""
    values = astuple(glyphs)
    return all("".join(value).isascii() for value in values)


def time_line_variants(estimate: BatteryEstimate, separator: str) -> list[str]:
    """How long the battery lasts against what the run needs, longest spelling first."""
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

    estimate: reactive[BatteryEstimate | None] = reactive(None)
    """What the battery reader or the model says; None when nothing is known yet."""
    glyphs: reactive[Glyphs] = reactive(UNICODE)
    """The characters to draw with (the console theme sets plain ASCII ones)."""

    def render(self) -> Text:
        text = Text()
        if self.estimate is None:
            text.append("battery: unknown", self.get_component_rich_style("battery-gauge--muted"))
            return text
        text.append_text(self._level_row(self.estimate))
        text.append("\n")
        text.append_text(self._time_row(self.estimate))
        return text

    def _level_row(self, estimate: BatteryEstimate) -> Text:
        width = self.size.width
        warning = estimate.outlasts_battery
        percent = f"{estimate.percent:.0f}%"
        # The longest note that still leaves room for the percent and a usable bar.
        note = ""
        if estimate.source == "model":
            for candidate in (" estimate", " est."):
                if width - len(percent) - len(candidate) - 1 >= MIN_BAR:
                    note = candidate
                    break
        bar = min(MAX_BAR, width - len(percent) - len(note) - 1)
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
