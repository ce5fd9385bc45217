"""The simulated rig: the real :class:`GpioRig` on gpiozero's mock pins (docs/architecture.md §10).

Nothing is faked by hand: the same gpiozero devices run on a ``MockFactory``
whose pins record every level they are driven to, so a test (or the demo) can
read ``rig.pin_factory.pin(21).states`` and see exactly what a Pi would do.
"""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory, MockPWMPin

from core.model.hardware import HardwareConfig
from hw.gpio_rig import GpioRig


def make_sim_rig(hardware: HardwareConfig) -> GpioRig:
    """A :class:`GpioRig` on a fresh ``MockFactory`` of PWM-capable pins, ``simulated=True``.

    Each call gets its own factory, so two simulated rigs never share pins.
    The factory is left open when the rig closes, so the pins' histories stay
    readable afterwards.
    """
    # MockPWMPin, not the default MockPin: the status LED is a PWMLED.
    factory = MockFactory(pin_class=MockPWMPin)
    return GpioRig(hardware, factory, simulated=True)
