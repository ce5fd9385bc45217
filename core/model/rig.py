"""The boundary between the engine and hardware: anything that can switch lines.

``hw`` implements it with gpiozero (real pins or ``MockFactory`` pins for the
simulated rig); tests of faults wrap it. The engine only ever calls these
methods, from its timing thread.
"""

from __future__ import annotations

from typing import Protocol

from core.model.plan import Line


class Rig(Protocol):
    """The outputs one daemon owns: power, focus and shutter lines, and the status LED."""

    description: str
    """One line for the UI: ``"GPIO: focus 20, shutter 21, power 16, LED 12"``."""
    simulated: bool
    """True when no real hardware is driven; every screen says so."""

    def set_line(self, line: Line, on: bool) -> None:
        """Drive ``line`` active (``on``) or inactive, honouring its wiring polarity."""
        ...

    def set_led(self, level: float) -> None:
        """Set the status LED's brightness, 0..1."""
        ...

    def outputs(self) -> dict[str, float]:
        """What each output is doing now, as read back: ``{"shutter": 1.0, "led": 0.25, …}``.

        Lines are 0 or 1 (active), the LED its brightness; keys are the
        :class:`Line` values and ``"led"``.
        """
        ...

    def release(self) -> None:
        """Drive every output inactive and the LED off. Idempotent; safe after a fault."""
        ...

    def close(self) -> None:
        """Release, then give the pins back. The rig is unusable afterwards."""
        ...
