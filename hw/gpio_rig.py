"""The rig on gpiozero outputs: focus, shutter and power lines, and the status LED.

The same class drives real pins and, for the simulated rig, gpiozero's
``MockFactory`` pins: only the pin factory differs. Timing belongs to the
scheduler, so the devices are only ever switched with ``on()``, ``off()`` and
``value``, never with gpiozero's ``blink()`` threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from gpiozero import (
    PWMLED,
    DigitalOutputDevice,
    GPIOPinInUse,
    OutputDevice,
    PinInvalidPin,
    PinPWMUnsupported,
)
from gpiozero.pins import Factory

from core.model.errors import RigError
from core.model.hardware import HardwareConfig, pin_clash
from core.model.plan import Line

LED = "led"
"""Key of the status LED in :attr:`GpioRig.devices`; the lines are keyed by their :class:`Line`."""

# Inner to outer, as the plan releases them: the shutter closes before focus
# lets go and before the camera loses power.
_RELEASE_ORDER: tuple[str, ...] = (Line.SHUTTER, Line.FOCUS, Line.POWER, LED)
_LABELS = {Line.FOCUS: "focus", Line.SHUTTER: "shutter", Line.POWER: "power", LED: "the LED"}


def _config_key(name: str) -> str:
    return f"hardware.{name}_pin"


def _reason(exc: BaseException) -> str:
    """One line a photographer can act on, from whatever a pin backend raised."""
    if isinstance(exc, GPIOPinInUse):
        # gpiozero's own text carries the other device's repr, which means nothing to a user.
        return "another input or output of lapse already uses it"
    if isinstance(exc, PinInvalidPin):
        return "this board has no such GPIO"
    text = " ".join(str(exc).split())
    # Some gpiozero errors (PinPWMUnsupported) have no text at all.
    return text or type(exc).__name__


class GpioRig:
    """Focus, shutter and power as gpiozero ``DigitalOutputDevice`` outputs, the LED a ``PWMLED``.

    Every output starts inactive. ``active_high`` from the config applies to
    all four, so opto-isolators wired to switch on a low output work too. When
    the pin factory cannot do PWM (gpiozero's pure-Python ``NativeFactory``),
    the LED falls back to a plain on/off output so the rig still works.

    Call it from one thread at a time (the engine's timing thread); ``close``
    may come from another thread once that one has stopped.
    """

    description: str
    """One line for the UI naming the pins, e.g. ``"GPIO: focus 20, shutter 21, …"``."""
    simulated: bool
    """True when the pins are gpiozero mock pins rather than real GPIO."""

    def __init__(
        self,
        hardware: HardwareConfig,
        pin_factory: Factory,
        *,
        simulated: bool = False,
        close_factory: bool = False,
    ) -> None:
        """Claim the four pins, each driven inactive from the start.

        ``close_factory`` hands the pin factory to the rig, so :meth:`close`
        closes it too (``build_rig`` does this with the factory it made).
        Raises :class:`RigError` naming the pin and its config key when a pin
        cannot be used; the pins claimed before it are given back.
        """
        self._pin_factory = pin_factory
        self._close_factory = close_factory
        self._closed = False
        self._pins: dict[str, int] = {
            Line.FOCUS: hardware.focus_pin,
            Line.SHUTTER: hardware.shutter_pin,
            Line.POWER: hardware.power_pin,
            LED: hardware.led_pin,
        }
        _check_distinct(self._pins)
        devices: dict[str, OutputDevice] = {}
        try:
            for name in (Line.FOCUS, Line.SHUTTER, Line.POWER):
                devices[name] = self._build(
                    name,
                    lambda pin: DigitalOutputDevice(
                        pin,
                        active_high=hardware.active_high,
                        initial_value=False,
                        pin_factory=pin_factory,
                    ),
                )
            devices[LED], self._led_pwm = self._build_led(hardware.active_high)
        except BaseException:
            # Give back what was claimed, so a corrected config (or another
            # program) can use those pins without restarting the process.
            _attempt((name, device.close) for name, device in devices.items())
            raise
        self._devices = devices
        self.simulated = simulated
        self.description = self._describe(hardware.active_high)

    def _build(self, name: str, make: Callable[[int], OutputDevice]) -> OutputDevice:
        pin = self._pins[name]
        try:
            return make(pin)
        except Exception as exc:
            # Pin backends raise their own types (lgpio.error, RuntimeError from
            # RPi.GPIO, OSError, gpiozero's PinError…), so any of them means "unusable".
            raise RigError(
                f"cannot use GPIO {pin} for {_LABELS[name]} ({_config_key(name)}): {_reason(exc)}"
            ) from exc

    def _build_led(self, active_high: bool) -> tuple[OutputDevice, bool]:
        try:
            led = self._build(
                LED,
                lambda pin: PWMLED(
                    pin, active_high=active_high, initial_value=0, pin_factory=self._pin_factory
                ),
            )
            return led, True
        except RigError as err:
            if not isinstance(err.__cause__, PinPWMUnsupported):
                raise
        # gpiozero's NativeFactory cannot do PWM: an on/off LED still shows every phase.
        led = self._build(
            LED,
            lambda pin: DigitalOutputDevice(
                pin, active_high=active_high, initial_value=False, pin_factory=self._pin_factory
            ),
        )
        return led, False

    def _describe(self, active_high: bool) -> str:
        pins = self._pins
        led = f"LED {pins[LED]}" + ("" if self._led_pwm else " on/off")
        listing = (
            f"focus {pins[Line.FOCUS]}, shutter {pins[Line.SHUTTER]}, power {pins[Line.POWER]}, "
            f"{led}"
        )
        if self.simulated:
            return f"simulated (no GPIO): {listing}"
        return f"GPIO: {listing} (active {'high' if active_high else 'low'})"

    @property
    def pin_factory(self) -> Factory:
        """The gpiozero pin factory the outputs live on (a ``MockFactory`` when simulated)."""
        return self._pin_factory

    @property
    def devices(self) -> Mapping[str, OutputDevice]:
        """The gpiozero devices, keyed by :class:`Line` and :data:`LED` (tests, diagnostics)."""
        return MappingProxyType(self._devices)

    def set_line(self, line: Line, on: bool) -> None:
        """Drive ``line`` active (``on``) or inactive; the polarity comes from the config."""
        device = self._open_device(line)
        if on:
            device.on()
        else:
            device.off()

    def set_led(self, level: float) -> None:
        """Set the status LED's brightness; values outside 0..1 are clamped, NaN is off."""
        led = self._open_device(LED)
        # A NaN from a bad computation must neither light the LED nor raise in the timing thread.
        level = 0.0 if math.isnan(level) else min(max(level, 0.0), 1.0)
        if self._led_pwm:
            led.value = level
        elif level > 0:
            led.on()
        else:
            led.off()

    def outputs(self) -> dict[str, float]:
        """What each output is doing now, read back from gpiozero (all 0 once closed)."""
        if self._closed:
            return {str(name): 0.0 for name in self._pins}
        return {str(name): float(device.value) for name, device in self._devices.items()}

    def release(self) -> None:
        """Drive every output inactive and the LED off; each is tried even if another fails."""
        if self._closed:
            return
        _raise_failures("release", self._pins, _attempt(self._release_steps()))

    def close(self) -> None:
        """Release, then give every pin back; idempotent, and every device is closed.

        A released Pi GPIO keeps driving its last level (docs/architecture.md §10), hence the
        release first. Raises :class:`RigError` afterwards if any step failed.
        """
        if self._closed:
            return
        self._closed = True
        failures = _attempt(self._release_steps())
        failures += _attempt((name, self._devices[name].close) for name in _RELEASE_ORDER)
        if self._close_factory:
            failures += _attempt([("the pin factory", self._pin_factory.close)])
        _raise_failures("close", self._pins, failures)

    def _release_steps(self) -> list[tuple[str, Callable[[], object]]]:
        return [(name, self._devices[name].off) for name in _RELEASE_ORDER]

    def _open_device(self, name: str) -> OutputDevice:
        if self._closed:
            raise RigError("the GPIO rig is closed")
        return self._devices[name]


def _check_distinct(pins: Mapping[str, int]) -> None:
    """Refuse two outputs on one pin, naming both keys, before anything is claimed."""
    clash = pin_clash(pins)
    if clash is not None:
        other, name = clash
        raise RigError(
            f"GPIO {pins[name]} is set for both {_LABELS[other]} ({_config_key(other)}) and"
            f" {_LABELS[name]} ({_config_key(name)}); give each its own pin"
        )


def _attempt(
    steps: Iterable[tuple[str, Callable[[], object]]],
) -> list[tuple[str, Exception]]:
    """Run every step even when some fail, so one faulty pin cannot leave another active."""
    failures: list[tuple[str, Exception]] = []
    for name, step in steps:
        try:
            step()
        except Exception as exc:
            failures.append((name, exc))
    return failures


def _raise_failures(
    verb: str, pins: Mapping[str, int], failures: list[tuple[str, Exception]]
) -> None:
    if not failures:
        return
    name, exc = failures[0]
    where = f"GPIO {pins[name]} for {_LABELS[name]}" if name in pins else name
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    raise RigError(f"could not {verb} {where}: {_reason(exc)}{more}") from exc
