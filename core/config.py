"""The config file (TOML): run defaults, hardware pins, UI choices.

Read with ``tomllib``; written with ``tomli-w`` through :func:`write_atomic`.
A file that fails to parse or validate is reported with its path, the key and
the reason, and is never overwritten by defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.durations import MINUTE_NS
from core.settings import Settings

BACKENDS = ("auto", "gpio", "sim")


@dataclass(frozen=True)
class HardwareConfig:
    """Which rig the daemon builds, and how it is wired (DESIGN §11 for the pins)."""

    backend: str = "auto"
    """``auto`` (GPIO when the machine has it, else simulated), ``gpio`` or ``sim``."""
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


@dataclass(frozen=True)
class UiConfig:
    """Choices of the TUI."""

    theme: str = "default"
    """``default``, ``night-vision`` or ``console``."""
    keys: dict[str, str] = field(default_factory=dict)
    """Binding id → key(s), overriding the TUI's defaults."""


@dataclass(frozen=True)
class Config:
    """The whole config file."""

    run: Settings = field(default_factory=lambda: Settings(interval_ns=MINUTE_NS))
    """The settings a new run starts from (the switches' last positions)."""
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    ui: UiConfig = field(default_factory=UiConfig)
