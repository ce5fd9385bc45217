"""The characters the TUI draws with: full Unicode, or what a console font has.

``TERM=linux`` on the Pi's framebuffer has 16 colours and a console font that
often lacks box-drawing and block glyphs, so the console theme draws with
plain ASCII only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Glyphs:
    """Every character a lapse widget draws that is not plain text."""

    trace_high: str
    """A line that is on, in the timeline."""
    trace_low: str
    """A line that is off."""
    trace_break: str
    """The compressed idle stretch of a long interval."""
    cursor: str
    """The "now" marker above the timeline."""
    led_levels: tuple[str, str, str, str, str]
    """The LED at off, dim, half, bright, full."""
    switch_left: str
    """Drawn either side of a switch's chosen position."""
    switch_right: str
    battery_full: str
    battery_empty: str
    approx: str
    """Before an approximate length: ``≈29d23h``."""
    ramp_bars: str
    """The exposure plot's bar tops, lowest first, the last a full cell."""


UNICODE = Glyphs(
    trace_high="█",
    trace_low="▁",
    trace_break="╌",
    cursor="▼",
    led_levels=("○", "◔", "◑", "◕", "●"),
    switch_left="▐",
    switch_right="▌",
    battery_full="█",
    battery_empty="░",
    approx="≈",
    ramp_bars="▁▂▃▄▅▆▇█",
)

CONSOLE = Glyphs(
    trace_high="#",
    trace_low="_",
    trace_break="~",
    cursor="v",
    led_levels=(".", ",", "o", "O", "@"),
    switch_left="[",
    switch_right="]",
    battery_full="=",
    battery_empty="-",
    approx="~",
    ramp_bars="_-=#",
)
