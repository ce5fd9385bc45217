"""The box's own controls on gpiozero inputs (README "Physical controls").

Every contact is an input pulled up and shorted to ground when closed, so a closed
contact reads active; the encoder is gpiozero's ``RotaryEncoder``. This module only
reads levels and says when one changed: debouncing is the daemon's (it reads once the
levels have been still for ``SETTLE_NS``), because gpiozero's ``bounce_time`` is not kept
by every pin factory (the mock pins ignore it) and what the rules need is the settled
position, not the first edge. On a simulated rig the same inputs live on the rig's mock
pins, and :meth:`BoxInputs.drive` moves them as a hand on the box would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gpiozero import DigitalInputDevice, RotaryEncoder
from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory

from core.model.durations import PRESET_VALUES
from core.model.errors import LapseError, RigError
from core.model.inputs import InputsConfig, wiring_of
from core.model.panel import Levels, Wiring
from core.model.toml_text import echo

UNIT_WORDS = ["s", "min", "h", "days"]
"""The UNIT switch's positions as a hand names them (:data:`PRESET_UNITS` in order)."""
SIM_EDGE_GAP_S = 0.002
"""Between two level changes a simulated hand makes (a bounce, an encoder's quarter step)."""


class BoxInputs:
    """The configured controls as gpiozero input devices on ``pin_factory``."""

    def __init__(self, inputs: InputsConfig, pin_factory: Factory) -> None:
        """Claim every configured pin as a pulled-up input; :class:`RigError` naming the
        pin and its key when one cannot be claimed (those claimed before are given back)."""
        self.config = inputs
        self._factory = pin_factory
        self._changed: Callable[[], None] = lambda: None
        self._devices: dict[int, DigitalInputDevice] = {}
        self._encoder: RotaryEncoder | None = None
        self._drive_lock = threading.Lock()
        try:
            for key, pin in inputs.named_pins():
                if key.endswith("encoder_pins"):
                    continue
                self._devices[pin] = self._claim(key, pin, self._input)
            if inputs.encoder_pins:
                a, b = inputs.encoder_pins
                self._encoder = self._claim("inputs.encoder_pins", a, lambda _: self._rotary(a, b))
                self._encoder.when_rotated = self._notify
        except BaseException:
            self.close()
            raise

    @property
    def simulated(self) -> bool:
        """The inputs are mock pins, which :meth:`drive` can move."""
        return isinstance(self._factory, MockFactory)

    def watch(self, changed: Callable[[], None]) -> None:
        """Call ``changed`` (from gpiozero's thread: it must only note the moment) on every
        level change of a contact and every step of the encoder."""
        self._changed = changed

    def levels(self) -> Levels:
        """Every input's level now, and the encoder's steps counted since it was claimed."""
        config = self.config
        return Levels(
            value=tuple(self._active(pin) for pin in config.value_pins),
            unit=tuple(self._active(pin) for pin in config.unit_pins),
            power=None if config.power_pin is None else self._active(config.power_pin),
            button=None if config.button_pin is None else self._active(config.button_pin),
            encoder_steps=0 if self._encoder is None else self._encoder.steps,
        )

    def close(self) -> None:
        """Give every pin back (idempotent)."""
        for device in [*self._devices.values(), self._encoder]:
            if device is not None:
                device.close()
        self._devices.clear()
        self._encoder = None

    # -- a simulated hand on the box ------------------------------------------------------
    def drive(self, control: str, to: str, *, bounce: int = 0) -> None:
        """Move a simulated control as a hand would, in this thread:

        - ``value``/``unit`` to a position (``10``, ``min``): the old contact opens, the
          wiper is between positions a moment, then the new one closes (``bounce`` times
          chattering first);
        - ``power`` to ``on``/``off``, or ``toggle``;
        - ``button`` to ``down``/``up``;
        - ``encoder`` by ``+N``/``-N`` steps (a full quadrature cycle each).

        Raises :class:`LapseError` in a photographer's words for a control not wired or a
        position that is none.
        """
        if not self.simulated:
            raise LapseError("these are real switches: turn them on the box")
        with self._drive_lock:
            if control in ("value", "unit"):
                self._turn(control, to, bounce)
            elif control == "power":
                self._toggle(to, bounce)
            elif control == "button":
                pin = self._wired("button_pin", "a start/stop button")
                self._settle(pin, _down(to, "down", "up", "the button"), bounce)
            elif control == "encoder":
                self._step(to)
            else:
                raise LapseError(f"the box has no control {echo(control)}")

    def _turn(self, control: str, to: str, bounce: int) -> None:
        pins: tuple[int, ...] = getattr(self.config, f"{control}_pins")
        name = control.upper()
        if not pins:
            raise LapseError(f"no {name} switch is wired ([inputs] {control}_pins)")
        spoken = [str(v) for v in PRESET_VALUES] if control == "value" else UNIT_WORDS
        coded = wiring_of(pins) is Wiring.CODED
        if to == "between" and coded:
            raise LapseError(f"the {name} switch is coded: it always reads a position")
        if to not in (*spoken, "between"):
            raise LapseError(
                f"the {name} switch has {', '.join(spoken)} (or between); not {echo(to)}"
            )
        if coded:
            position = spoken.index(to)
            for bit, pin in enumerate(pins):
                self._settle(pin, bool(position >> bit & 1), bounce)
            return
        for pin in pins:
            self._pin(pin).drive_high()  # the wiper leaves its contact: between positions
        if to != "between":
            time.sleep(SIM_EDGE_GAP_S)
            self._settle(pins[spoken.index(to)], True, bounce)

    def _toggle(self, to: str, bounce: int) -> None:
        pin = self._wired("power_pin", "a power toggle")
        on = not self._active(pin) if to == "toggle" else _down(to, "on", "off", "power")
        self._settle(pin, on, bounce)

    def _step(self, to: str) -> None:
        if self.config.encoder_pins == ():
            raise LapseError("no encoder is wired ([inputs] encoder_pins)")
        try:
            steps = int(to)
        except ValueError:
            raise LapseError(
                f"turn the encoder by a number of steps (+3, -2); not {echo(to)}"
            ) from None
        a, b = (self._pin(pin) for pin in self.config.encoder_pins)
        first, second = (a, b) if steps > 0 else (b, a)
        for _ in range(abs(steps)):
            for pin, level in ((first, False), (second, False), (first, True), (second, True)):
                (pin.drive_high if level else pin.drive_low)()
                time.sleep(SIM_EDGE_GAP_S)

    def _settle(self, pin: int, closed: bool, bounce: int) -> None:
        """Close (``closed``) or open ``pin``'s contact, chattering ``bounce`` times first."""
        mock = self._pin(pin)
        for _ in range(bounce):
            (mock.drive_low if closed else mock.drive_high)()
            time.sleep(SIM_EDGE_GAP_S / 2)
            (mock.drive_high if closed else mock.drive_low)()
            time.sleep(SIM_EDGE_GAP_S / 2)
        (mock.drive_low if closed else mock.drive_high)()

    def _wired(self, key: str, what: str) -> int:
        pin = getattr(self.config, key)
        if pin is None:
            raise LapseError(f"the box has no {what} ([inputs] {key})")
        return pin

    def _pin(self, pin: int):  # type: ignore[no-untyped-def]  # a MockPin
        return self._factory.pin(pin)

    # -- claiming ---------------------------------------------------------------------------
    def _input(self, pin: int) -> DigitalInputDevice:
        device = DigitalInputDevice(pin, pull_up=True, pin_factory=self._factory)
        device.when_activated = self._notify
        device.when_deactivated = self._notify
        return device

    def _rotary(self, a: int, b: int) -> RotaryEncoder:
        return RotaryEncoder(a, b, max_steps=0, pin_factory=self._factory)

    @staticmethod
    def _claim(key: str, pin: int, make: Callable[[int], object]):  # type: ignore[no-untyped-def]
        try:
            return make(pin)
        except Exception as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise RigError(f"cannot use GPIO {pin} as an input ({key}): {reason}") from exc

    def _notify(self, *_: object) -> None:
        self._changed()

    def _active(self, pin: int) -> bool:
        device = self._devices.get(pin)
        return bool(device is not None and device.is_active)


def _down(to: str, closed: str, opened: str, what: str) -> bool:
    if to not in (closed, opened):
        raise LapseError(f"{what} is {closed} or {opened}; not {echo(to)}")
    return to == closed


def describe(inputs: InputsConfig) -> str:
    """One line naming the wired controls and their pins, for the daemon's log."""
    parts = []
    if inputs.value_pins:
        parts.append(
            f"switches ({inputs.switches}) {list(inputs.value_pins)} {list(inputs.unit_pins)}"
        )
    if inputs.encoder_pins:
        parts.append(f"encoder {list(inputs.encoder_pins)}")
    for key in ("power_pin", "button_pin"):
        pin = getattr(inputs, key)
        if pin is not None:
            parts.append(f"{key.removesuffix('_pin')} {pin}")
    return ", ".join(parts)
