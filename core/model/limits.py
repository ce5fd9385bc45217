"""The range of every numeric config key, in one table.

Each reader checks its own keys (``core.model.settings``, ``core.config``,
``core.model.battery``) against the constants named here; this table is what the
README's Configuration block states, and the tests hold both the readers and
the README to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core import config
from core.model import battery, settings
from core.model.durations import format_duration
from core.model.toml_text import limit_figure


class Kind(StrEnum):
    """How a key's value is written in the file."""

    DURATION = "duration"
    """Integer nanoseconds, written in quotes as people say them: ``"10s"``."""
    WHOLE = "whole"
    """A whole number."""
    NUMBER = "number"
    """Any number, a fraction or a whole one."""
    ADDRESS = "address"
    """A whole number, written in hex as datasheets do: ``0x42``."""


@dataclass(frozen=True)
class Limit:
    """The range of one numeric key."""

    key: str
    """Dotted, as messages name it: ``run.interval``."""
    kind: Kind
    low: int | float
    high: int | float
    above_low: bool = False
    """True: ``low`` itself is refused, any number above it allowed."""
    unit: str = ""
    """Said after the range (``ppm``, ``mAh``); empty where the key's name says it."""

    def spell(self, value: int | float) -> str:
        """``value`` as the README and the messages write it: ``365d``, ``100,000,000``."""
        if self.kind is Kind.DURATION:
            return format_duration(int(value))
        if self.kind is Kind.ADDRESS:
            return f"0x{int(value):02X}"
        text = limit_figure(value)
        # A range across zero says the sign of both ends: -500 … +500.
        return f"+{text}" if self.low < 0 < value else text

    @property
    def text(self) -> str:
        """The range as the README's comment on the key states it: ``10ms … 365d``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.above_low:
            return f"above {self.spell(self.low)}, up to {self.spell(self.high)}{unit}"
        return f"{self.spell(self.low)} … {self.spell(self.high)}{unit}"


def _pin(name: str) -> Limit:
    return Limit(f"hardware.{name}", Kind.WHOLE, config.MIN_PIN, config.MAX_PIN)


LIMITS: tuple[Limit, ...] = (
    Limit("run.interval", Kind.DURATION, settings.MIN_INTERVAL_NS, settings.MAX_INTERVAL_NS),
    Limit("run.frames", Kind.WHOLE, 0, settings.MAX_FRAMES),
    Limit("run.delay", Kind.DURATION, 0, settings.MAX_DELAY_NS),
    Limit("run.exposure", Kind.DURATION, settings.MIN_EXPOSURE_NS, settings.MAX_EXPOSURE_NS),
    Limit("run.focus_lead", Kind.DURATION, 0, settings.MAX_FOCUS_LEAD_NS),
    Limit(
        "run.clock_ppm",
        Kind.NUMBER,
        -settings.MAX_CLOCK_PPM,
        settings.MAX_CLOCK_PPM,
        unit="ppm",
    ),
    *(_pin(name) for name in config.PIN_KEYS),
    Limit(
        "camera.call_timeout",
        Kind.DURATION,
        config.MIN_CALL_TIMEOUT_NS,
        config.MAX_CALL_TIMEOUT_NS,
    ),
    Limit("camera.reserve_mb", Kind.WHOLE, 0, config.MAX_RESERVE_MB),
    Limit(
        "battery.capacity_mah",
        Kind.NUMBER,
        0,
        battery.MAX_CAPACITY_MAH,
        above_low=True,
        unit="mAh",
    ),
    Limit("battery.pi_model_ma", Kind.NUMBER, battery.MIN_PI_MA, battery.MAX_PI_MA, unit="mA"),
    Limit("battery.i2c_bus", Kind.WHOLE, 0, battery.MAX_I2C_BUS),
    Limit(
        "battery.i2c_address",
        Kind.ADDRESS,
        battery.INA219_ADDRESSES[0],
        battery.INA219_ADDRESSES[-1],
    ),
    Limit(
        "battery.shunt_ohms",
        Kind.NUMBER,
        battery.MIN_SHUNT_OHMS,
        battery.MAX_SHUNT_OHMS,
        unit="ohms",
    ),
    Limit("battery.cells", Kind.WHOLE, 1, battery.MAX_CELLS),
)
"""One row a numeric key, in the order of the README's Configuration block."""
