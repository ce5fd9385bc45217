"""The boundary between the engine and hardware: anything that can switch lines.

``hw`` implements it with gpiozero (real pins or ``MockFactory`` pins for the
simulated rig); tests of faults wrap it. The engine only ever calls these
methods, from its timing thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from core.model.inputs import InputsConfig
from core.model.panel import Levels
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


class Controls(Protocol):
    """The box's own inputs one daemon owns: switches, a power toggle, a button, an encoder
    (``hw`` implements it with gpiozero input devices, on mock pins for the simulated rig)."""

    config: InputsConfig
    """Which controls are wired, and to which pins."""
    simulated: bool
    """The inputs are mock pins, which :meth:`drive` moves."""

    def watch(self, changed: Callable[[], None]) -> None:
        """Call ``changed`` on every level change (from the pins' own thread: note it only)."""
        ...

    def levels(self) -> Levels:
        """Every input's level now."""
        ...

    def drive(self, control: str, to: str, *, bounce: int = 0) -> None:
        """Move a simulated control as a hand would; :class:`LapseError` on real pins."""
        ...

    def close(self) -> None:
        """Give the pins back."""
        ...
