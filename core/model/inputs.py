"""The ``[inputs]`` table: the pins of the box's own controls (README "Physical controls").

Nothing is wired unless the file names its pins: the pins free below a 3.5-inch screen
are too few for every wiring, so no default could be right. A switch's wiring follows
from how many pins it names (four: one per position; two: a 2-bit code, see
:mod:`core.model.panel`); an encoder takes the two switches' place.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from core.model.fields import Invalid, Pin, Pins, Table
from core.model.hardware import HARDWARE, PIN_KEYS, HardwareConfig
from core.model.panel import POSITIONS, Wiring

SWITCH_COUNTS = (POSITIONS, 2)
"""A switch's pins: one per position, or two for its 2-bit code."""


@dataclass(frozen=True)
class InputsConfig:
    """Which BCM pins the box's controls are wired to; every input is pulled up and
    shorted to ground by its contact, so a closed contact reads active."""

    value_pins: tuple[int, ...] = ()
    """The VALUE switch (1·3·10·30): four pins, one per position, or two for a 2-bit code."""
    unit_pins: tuple[int, ...] = ()
    """The UNIT switch (s·min·h·days), wired as ``value_pins`` is."""
    power_pin: int | None = None
    """The camera-power toggle: closed is power on."""
    button_pin: int | None = None
    """The start/stop button (with an encoder, its push)."""
    encoder_pins: tuple[int, ...] = ()
    """A rotary encoder's A and B, in place of the two switches."""

    @property
    def wired(self) -> bool:
        """Any control is wired: the daemon reads inputs and the LED speaks for the box."""
        return next(self.named_pins(), None) is not None

    @property
    def sets_interval(self) -> bool:
        """Switches or an encoder choose the interval: the screens' switches follow them."""
        return bool(self.value_pins or self.encoder_pins)

    @property
    def switches(self) -> str:
        """How the interval is chosen: ``positions``, ``coded``, ``encoder`` or ``""``."""
        if self.encoder_pins:
            return "encoder"
        if self.value_pins:
            return str(wiring_of(self.value_pins))
        return ""

    def named_pins(self) -> Iterator[tuple[str, int]]:
        """Each pin with the key that names it (``inputs.value_pins``), in the file's order."""
        for key in ("value_pins", "unit_pins", "encoder_pins"):
            for pin in getattr(self, key):
                yield f"{INPUTS.name}.{key}", pin
        for key in ("power_pin", "button_pin"):
            pin = getattr(self, key)
            if pin is not None:
                yield f"{INPUTS.name}.{key}", pin


def wiring_of(pins: tuple[int, ...]) -> Wiring:
    """How a switch with these pins is wired: one pin per position, or a 2-bit code."""
    return Wiring.POSITIONS if len(pins) == POSITIONS else Wiring.CODED


INPUTS = Table(
    "inputs",
    (
        Pins("value_pins", counts=SWITCH_COUNTS, what="the VALUE switch's"),
        Pins("unit_pins", counts=SWITCH_COUNTS, what="the UNIT switch's"),
        Pin("power_pin", optional=True),
        Pin("button_pin", optional=True),
        Pins("encoder_pins", counts=(2,), what="the encoder's A and B"),
    ),
)
"""The ``[inputs]`` table: one field an :class:`InputsConfig` field."""


def check_inputs(inputs: InputsConfig, hardware: HardwareConfig, given: Collection[str]) -> None:
    """Raise :class:`Invalid` for controls that cannot work together: one switch without the
    other, switches and an encoder both, or a pin used twice (by two inputs, or by an input
    and an output; ``given`` are the ``[hardware]`` keys the file sets, as
    :func:`core.model.hardware.check_pins_distinct` says them)."""
    if bool(inputs.value_pins) != bool(inputs.unit_pins):
        missing = "unit_pins" if inputs.value_pins else "value_pins"
        raise Invalid(
            "is missing: the VALUE and UNIT switches are wired together, or neither is",
            key=f"{INPUTS.name}.{missing}",
        )
    if inputs.encoder_pins and inputs.value_pins:
        raise Invalid(
            "and the switches both choose the interval: wire one or the other",
            key=f"{INPUTS.name}.encoder_pins",
        )
    outputs = {getattr(hardware, key): key for key in PIN_KEYS}
    seen: dict[int, str] = {}
    for key, pin in inputs.named_pins():
        if pin in outputs:
            output = outputs[pin]
            default = "" if output in given else " (its default)"
            raise Invalid(
                f"uses GPIO {pin}, already {HARDWARE.name}.{output}{default};"
                " an input needs a pin of its own",
                key=key,
            )
        if pin in seen:
            raise Invalid(f"uses GPIO {pin}, already used by {seen[pin]}", key=key)
        seen[pin] = key
