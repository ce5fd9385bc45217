"""The ``[hardware]`` table: which rig the daemon builds, and how it is wired."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from core.model.fields import Choice, Flag, Invalid, Pin, Table


class Backend(StrEnum):
    """Which rig the daemon builds."""

    AUTO = "auto"
    """GPIO when the machine has it, else simulated."""
    GPIO = "gpio"
    SIM = "sim"


@dataclass(frozen=True)
class HardwareConfig:
    """Which rig the daemon builds, and how it is wired (DESIGN §11 for the pins)."""

    backend: Backend = Backend.AUTO
    focus_pin: int = 20
    """BCM number of the focus opto-isolator's input."""
    shutter_pin: int = 21
    """BCM number of the shutter opto-isolator's input."""
    power_pin: int = 16
    """BCM number of the camera-power opto-isolator's (or relay's) input."""
    led_pin: int = 12
    """BCM number of the status LED; GPIO 12 can do hardware PWM."""
    active_high: bool = True
    """False when the opto-isolators are wired to switch on a low output."""


PIN_KEYS: tuple[str, ...] = ("focus_pin", "shutter_pin", "power_pin", "led_pin")

HARDWARE = Table(
    "hardware",
    (
        Choice("backend", choices=Backend),
        *(Pin(name) for name in PIN_KEYS),
        Flag("active_high"),
    ),
)
"""The ``[hardware]`` table: one field a :class:`HardwareConfig` field."""


def pin_clash(pins: Mapping[str, int]) -> tuple[str, str] | None:
    """The first two outputs, in order, given the same pin; None when each has its own.

    The config reader and the GPIO rig (which may be handed a config built in
    code) both refuse a clash, each in its own words.
    """
    seen: dict[int, str] = {}
    for name, pin in pins.items():
        if pin in seen:
            return seen[pin], name
        seen[pin] = name
    return None


def check_pins_distinct(hardware: HardwareConfig, given: Collection[str]) -> None:
    """Raise :class:`Invalid` naming the later of two outputs on one pin.

    ``given`` are the keys the file sets: a pin it does not set is said to be
    the default, which the photographer may not know they are clashing with.
    """
    clash = pin_clash({name: getattr(hardware, name) for name in PIN_KEYS})
    if clash is None:
        return
    first, later = clash
    default = "" if first in given else " (its default)"
    raise Invalid(
        f"is GPIO {getattr(hardware, later)}, already used by hardware.{first}{default};"
        f" the four pins {', '.join(PIN_KEYS)} must be distinct",
        key=f"{HARDWARE.name}.{later}",
    )
