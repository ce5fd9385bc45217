"""lapse's reusable TUI widgets: data comes down as reactive attributes, goes up as messages."""

from tui.widgets.battery import BatteryGauge
from tui.widgets.led import LedLamp
from tui.widgets.rotary import RotarySwitch
from tui.widgets.timeline import Timeline

__all__ = ["BatteryGauge", "LedLamp", "RotarySwitch", "Timeline"]
