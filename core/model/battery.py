"""The battery: the model of what a run costs, the ``[battery]`` config, and readings.

The model is the fallback when no monitor answers: the capacity from config,
the Pi's own draw, and the opto and LED currents for the time each is on —
the hardware inspiration's "LED-seconds per exposure" accounting.

Real monitors (``hw.battery_readers``: the kernel's power-supply class, an
INA219 on a UPS HAT) implement :class:`BatteryReader` and give a
:class:`BatteryReading`; :meth:`BatteryReading.estimate` turns one into the
:class:`BatteryEstimate` the TUI shows, as :meth:`BatteryModel.estimate` does.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from core.model.durations import NS_PER_S
from core.model.errors import ConfigError
from core.model.fields import Address, Choice, Invalid, Kind, Number, Span, Table, Text, Whole
from core.model.led import led_changes
from core.model.plan import Plan
from core.model.protocol import BatteryStatus

NS_PER_HOUR = 3600 * NS_PER_S


@dataclass(frozen=True)
class BatteryModel:
    """The figures the estimate is made from."""

    capacity_mah: float = 10_000.0
    """The battery's usable charge (a common 10 Ah power bank)."""
    pi_ma: float = 400.0
    """The Pi's own draw, screen included (a Pi 3 B+ with a small SPI screen)."""
    opto_ma: float = 10.0
    """Current through one opto-isolator's LED while its line is on."""
    led_ma: float = 15.0
    """The status LED's current at full brightness."""

    def charge_per_cycle_mah(self, plan: Plan) -> float:
        """Charge one frame's cycle takes: the Pi for the interval, optos and LED while on."""
        # Power kept on between frames (Plan.power_stays_on) is in the edges: its off edge
        # is the next frame's power-on, so the cycle counts it on for the whole interval,
        # as the scheduler keeps it.
        line_on_ns = 0
        state: dict[str, int] = {}
        for edge in plan.edges:
            if edge.on:
                state[edge.line.value] = edge.offset_ns
            elif edge.line.value in state:
                line_on_ns += edge.offset_ns - state.pop(edge.line.value)
        led_ns = 0.0
        changes = led_changes(plan)
        for (offset, level), (following, _) in itertools.pairwise(changes):
            led_ns += level * (following - offset)
        charge_ns = self.pi_ma * plan.interval_ns + self.opto_ma * line_on_ns
        charge_ns += self.led_ma * led_ns
        return charge_ns / NS_PER_HOUR

    def average_ma(self, plan: Plan) -> float:
        """The average current over a cycle (computed once per plan: screens ask often)."""
        cached = _AVERAGES.get((self, plan))
        if cached is None:
            cached = self.charge_per_cycle_mah(plan) * NS_PER_HOUR / plan.interval_ns
            if len(_AVERAGES) > 32:
                _AVERAGES.clear()
            _AVERAGES[(self, plan)] = cached
        return cached

    def estimate(
        self, plan: Plan | None, *, running_ns: int, frames_left: int | None
    ) -> BatteryEstimate:
        """The battery after ``running_ns`` of this plan (None: the Pi alone, no run), full
        at the start. ``frames_left`` is None for a run until stopped.
        """
        average = self.pi_ma if plan is None else self.average_ma(plan)
        used = average * running_ns / NS_PER_HOUR
        left = max(0.0, self.capacity_mah - used)
        lasts_ns = int(left / average * NS_PER_HOUR) if average > 0 else None
        needs_ns = None if frames_left is None or plan is None else frames_left * plan.interval_ns
        return BatteryEstimate(
            percent=100.0 * left / self.capacity_mah,
            lasts_ns=lasts_ns,
            needs_ns=needs_ns,
            average_ma=average,
            source="model",
        )


_AVERAGES: dict[tuple[BatteryModel, Plan], float] = {}


@dataclass(frozen=True)
class BatteryEstimate:
    """What a battery reader or the model says."""

    percent: float
    lasts_ns: int | None
    """How long the battery lasts at this draw (None: unknown)."""
    needs_ns: int | None
    """How long the run still needs (None: until stopped)."""
    average_ma: float
    source: str
    """``model`` for the estimate; a reader's name otherwise."""
    charging: bool | None = None
    """True while external power feeds the battery (see :attr:`BatteryReading.charging`)."""

    @property
    def outlasts_battery(self) -> bool:
        """True when the run needs longer than the battery lasts.

        A run until stopped is no warning (the planner says the same): it
        outlasts any battery, and the gauge says how long this one lasts.
        """
        if self.lasts_ns is None or self.needs_ns is None:
            return False
        return self.needs_ns > self.lasts_ns


# --- the Pi's own draw ------------------------------------------------------

DEFAULT_PI_MA = BatteryModel.pi_ma
"""The draw assumed for a board the table below does not know (a Pi 3 B with a small screen)."""

# Matched in order against the device tree's model string (/proc/device-tree/model,
# e.g. "Raspberry Pi 4 Model B Rev 1.4"); the first match wins, so the more
# specific names come first ("Pi 3 Model B Plus" before "Pi 3 Model B", "Pi 400"
# is kept from "Pi 4" by the word boundary).
#
# Where the figures come from: the Raspberry Pi documentation's "typical
# bare-board active current consumption" (raspberrypi.com/documentation/
# computers/raspberry-pi.html, "Power supply"), the only table that covers
# every model from one source. It is a busy-board figure, a little above a
# time-lapse Pi's mostly idle draw; erring that way warns of a short battery
# early rather than losing the end of a shoot. The exception is the Zero 2 W,
# whose documented 350 mA is a loaded figure three times its idle draw:
# CNX Software measured 120 mA idle on Raspberry Pi OS Bullseye (2021-12-09),
# and a Zero 2 W is chosen precisely for long battery runs.
_PI_DRAW_MA: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), ma)
    for pattern, ma in (
        (r"\bPi 500\b", 800.0),  # the Pi 5 in a keyboard; the docs' Pi 400 figure too
        (r"\bPi 5\b", 800.0),
        (r"\bCompute Module 5\b", 800.0),
        (r"\bPi 400\b", 800.0),
        (r"\bPi 4\b", 600.0),
        (r"\bCompute Module 4\b", 600.0),
        (r"\bPi 3 Model B Plus\b", 500.0),
        (r"\bPi 3 Model A Plus\b", 350.0),
        (r"\bPi 3 Model B\b", 400.0),
        (r"\bPi 2 Model B\b", 350.0),
        (r"\bZero 2 W\b", 120.0),
        (r"\bZero W\b", 150.0),
        (r"\bZero\b", 100.0),
        (r"\bPi Model B Plus\b", 330.0),
        (r"\bPi Model A Plus\b", 180.0),
        (r"\bPi Model B\b", 500.0),
        (r"\bPi Model A\b", 200.0),
    )
)


def pi_draw_ma(model: str | None) -> float:
    """The Pi's own draw in mA for its device-tree model string; :data:`DEFAULT_PI_MA` if unknown.

    ``model`` is the text of ``/proc/device-tree/model`` (its trailing NUL
    may be left on), or None when there is none (not a Pi).
    """
    if model:
        for pattern, ma in _PI_DRAW_MA:
            if pattern.search(model):
                return ma
    return DEFAULT_PI_MA


# --- voltage → charge -------------------------------------------------------

# One Li-ion cell at rest (a typical 18650): volts → percent of charge. A pack
# under load reads a little low, which errs on the side of a warning.
LI_ION_CURVE: tuple[tuple[float, float], ...] = (
    (3.00, 0.0),
    (3.45, 5.0),
    (3.60, 10.0),
    (3.70, 20.0),
    (3.75, 30.0),
    (3.79, 40.0),
    (3.83, 50.0),
    (3.88, 60.0),
    (3.94, 70.0),
    (4.00, 80.0),
    (4.08, 90.0),
    (4.20, 100.0),
)
_CURVE_VOLTS = [volts for volts, _ in LI_ION_CURVE]


def li_ion_percent(cell_volts: float) -> float:
    """The charge of one Li-ion cell at ``cell_volts``, interpolated on :data:`LI_ION_CURVE`.

    Clamped: 3.0 V and below is 0 %, 4.2 V and above is 100 %.
    """
    if cell_volts <= LI_ION_CURVE[0][0]:
        return 0.0
    if cell_volts >= LI_ION_CURVE[-1][0]:
        return 100.0
    upper = bisect.bisect_right(_CURVE_VOLTS, cell_volts)
    (v0, p0), (v1, p1) = LI_ION_CURVE[upper - 1], LI_ION_CURVE[upper]
    return p0 + (p1 - p0) * (cell_volts - v0) / (v1 - v0)


def hours_ns(hours: float) -> int:
    """``hours`` as integer nanoseconds (for charge ÷ current)."""
    return int(hours * NS_PER_HOUR)


# --- readings and readers ---------------------------------------------------


@dataclass(frozen=True)
class BatteryReading:
    """What a battery reader says now; :meth:`estimate` adds what the run needs."""

    percent: float
    """Charge left, 0–100."""
    source: str
    """Where it comes from, for screens and logs: ``"sysfs BAT0"``, ``"model"``, …"""
    voltage_v: float | None = None
    """The pack's voltage, where the device measures it."""
    current_ma: float | None = None
    """Measured current: positive while the battery is drained, negative while it is charged."""
    charging: bool | None = None
    """True while external power feeds the battery, charging it or holding it full: it is
    not draining, so it has no time left to run out of. False while the battery powers the
    Pi; None when the device does not say."""
    lasts_ns: int | None = None
    """How long the charge left lasts at :attr:`draw_ma`; None when it is not draining or
    nothing says how fast it drains."""
    draw_ma: float | None = None
    """The drain ``lasts_ns`` was worked out from: measured, or the model's average."""


def battery_status(
    figures: BatteryReading | BatteryEstimate, *, at_ns: int, draining: bool
) -> BatteryStatus:
    """A monitor's reading or the model's estimate as the status every client shows."""
    return BatteryStatus(
        source=figures.source,
        percent=figures.percent,
        lasts_ns=figures.lasts_ns,
        draw_ma=figures.draw_ma if isinstance(figures, BatteryReading) else figures.average_ma,
        voltage_v=figures.voltage_v if isinstance(figures, BatteryReading) else None,
        charging=figures.charging,
        at_ns=at_ns,
        draining=draining,
    )


class BatteryReader(Protocol):
    """A battery monitor (``hw.battery_readers``); with none, the daemon uses the model."""

    name: str
    """What it reads, for screens and logs (``"sysfs"``, ``"ina219 0x42 on I²C bus 1"``)."""

    def read(self, average_ma: float | None = None) -> BatteryReading:
        """The battery now.

        ``average_ma`` is the model's average draw for the plan being run
        (:meth:`BatteryModel.average_ma`), or None with no plan (the Pi's own
        draw is assumed). A device that measures its current uses it only
        when the measurement says nothing (no current sensor, a reading of
        zero). Raises :class:`core.model.errors.BatteryError` when the device cannot be read.
        """
        ...

    def close(self) -> None:
        """Release the device (an I²C bus); reading again reopens it."""
        ...


# --- the [battery] config table ---------------------------------------------


class Source(StrEnum):
    """Where the battery's charge is read from."""

    AUTO = "auto"
    """The first that answers: a sysfs battery, then an INA219, then the model."""
    SYSFS = "sysfs"
    INA219 = "ina219"
    MODEL = "model"


INA219_ADDRESSES = range(0x40, 0x50)
"""The sixteen addresses an INA219's A0/A1 pins can select."""
MAX_CAPACITY_MAH = 1_000_000.0
MIN_PI_MA = 10.0
"""No Pi draws less (a Zero idles near 100 mA); a smaller figure is a slip such as amps for
mA, and a draw near zero would make the model's battery last too long to count."""
MAX_PI_MA = 10_000.0
MAX_I2C_BUS = 255
MIN_SHUNT_OHMS = 0.001
"""A milliohm, the smallest shunt sold for an INA219; below it a reading's current is
out of all proportion (infinite for the tiniest figures)."""
MAX_SHUNT_OHMS = 100.0
MAX_CELLS = 8


@dataclass(frozen=True)
class BatteryConfig:
    """The ``[battery]`` table: which monitor to read, and the figures the model needs."""

    source: Source = Source.AUTO
    capacity_mah: float = 10_000.0
    """The battery's usable charge (a common 10 Ah power bank); the model's and the time
    left's basis when the device does not report its own."""
    pi_model_ma: float | None = None
    """The Pi's own draw in mA, screen included; None takes it from the board's model."""
    sysfs_name: str | None = None
    """The supply's folder under /sys/class/power_supply; None takes the first battery."""
    i2c_bus: int = 1
    """The I²C bus of the INA219 (/dev/i2c-1 on the header's pins 3 and 5)."""
    i2c_address: int = 0x42
    """The INA219's address. Waveshare's UPS HAT (B) sets 0x42, the common 2×18650 HAT;
    a bare breakout answers at 0x40, which is also the default of other chips (the
    PCA9685 servo driver, HTU21D sensors), so ``auto`` does not probe it unless told."""
    shunt_ohms: float = 0.1
    """The INA219's current-sense resistor (0.1 Ω on the HATs and most breakouts)."""
    cells: int = 2
    """Li-ion cells in series: the pack's voltage ÷ cells gives the per-cell charge curve."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatteryConfig:
        """Read the ``[battery]`` table; keys not given keep the defaults.

        Raises :class:`ConfigError` naming ``battery.<key>``, what was given
        and what is allowed. The message has no file name: the config reader
        puts ``config <path>:`` in front.
        """
        try:
            return cls(**BATTERY.read(data))
        except Invalid as invalid:
            raise ConfigError(str(invalid)) from None

    def to_dict(self) -> dict[str, Any]:
        """The table as plain TOML values; unset optional keys are left out (TOML has no null)."""
        return BATTERY.write(self)

    def model(self, pi_model: str | None = None) -> BatteryModel:
        """The model for this battery on the board named ``pi_model`` (the device tree's string)."""
        pi_ma = self.pi_model_ma if self.pi_model_ma is not None else pi_draw_ma(pi_model)
        return BatteryModel(capacity_mah=self.capacity_mah, pi_ma=pi_ma)


def _is_folder_name(text: str) -> bool:
    # A folder name only: a path could point the reader anywhere on the system.
    return bool(text.strip()) and "/" not in text and text not in (".", "..") and text.isprintable()


BATTERY = Table(
    "battery",
    (
        Choice("source", choices=Source),
        Number(
            "capacity_mah",
            range=Span(Kind.NUMBER, 0, MAX_CAPACITY_MAH, above_low=True, unit="mAh"),
            what="a number of mAh",
        ),
        Number(
            "pi_model_ma",
            optional=True,
            range=Span(Kind.NUMBER, MIN_PI_MA, MAX_PI_MA, unit="mA"),
            what="a number of mA",
        ),
        Text(
            "sysfs_name",
            optional=True,
            what='the name of a folder in /sys/class/power_supply, such as "BAT0"',
            accepts=_is_folder_name,
        ),
        Whole("i2c_bus", range=Span(Kind.WHOLE, 0, MAX_I2C_BUS), what="an I²C bus number"),
        Address(
            "i2c_address",
            range=Span(Kind.ADDRESS, INA219_ADDRESSES[0], INA219_ADDRESSES[-1]),
            what="an INA219 address",
        ),
        Number(
            "shunt_ohms",
            range=Span(Kind.NUMBER, MIN_SHUNT_OHMS, MAX_SHUNT_OHMS, unit="ohms"),
            what="a number of ohms",
        ),
        Whole("cells", range=Span(Kind.WHOLE, 1, MAX_CELLS), what="a number of Li-ion cells"),
    ),
)
"""The ``[battery]`` table: one field a :class:`BatteryConfig` field."""

BATTERY_KEYS: tuple[str, ...] = BATTERY.keys
