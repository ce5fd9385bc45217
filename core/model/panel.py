"""The box's own controls as plain logic: what the two rotary switches, the power toggle,
the start/stop button (or a rotary encoder in place of the switches) say, and what lapse
does about it.

The pins and their debouncing are the daemon's (gpiozero); this module only reads the
levels it is given, so every rule is tested without a pin:

- A switch wired as **positions** has one input per position, each pulled up and
  shorted to ground by its position: exactly one input active is that position; none
  (the wiper between detents) or several (a fault) is no position at all.
- A switch wired as **coded** gives its position as a 2-bit binary code on two inputs
  (bit 0 first): every pair of levels is a position, so such a switch cannot tell
  "between detents"; the daemon's debounce covers the moment of the change.
- An **encoder** steps through the sixteen interval presets in the switches' order
  (1·3·10·30 s, then min, h, days), and stops at either end.
- With no run going, the controls are the next run's settings and a press starts it.
  During a run turning them changes nothing (the run's grid is never touched) and only
  a press held for :data:`LONG_PRESS_NS` stops it, so a knock cannot end a week's run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from core.model.durations import (
    NS_PER_MS,
    NS_PER_S,
    PRESET_UNITS,
    PRESET_VALUES,
    PRESETS,
    Preset,
)
from core.model.settings import Settings

if TYPE_CHECKING:
    from core.model.protocol import PanelStatus

LONG_PRESS_NS = NS_PER_S
"""How long the button must be held to stop a run."""
POSITIONS = len(PRESET_VALUES)
"""Positions on each rotary switch: four."""
SETTLE_NS = 50 * NS_PER_MS
"""How long the inputs must keep still before they are read: a contact chatters for a few
milliseconds as it closes, and each chatter must not be a change of its own."""


class Wiring(StrEnum):
    """How a rotary switch reaches the Pi."""

    POSITIONS = "positions"
    """Four inputs, one per position."""
    CODED = "coded"
    """Two inputs, the position as a 2-bit binary code."""


def switch_position(active: Sequence[bool], wiring: Wiring) -> int | None:
    """The position (0–3) the switch's inputs say, ``active`` in wiring order; None when
    they say none (between detents, or a fault: two positions at once)."""
    if wiring is Wiring.POSITIONS:
        if len(active) != POSITIONS:
            raise ValueError(f"a switch wired by positions has {POSITIONS} inputs")
        on = [index for index, level in enumerate(active) if level]
        return on[0] if len(on) == 1 else None
    if len(active) != 2:
        raise ValueError("a coded switch has 2 inputs")
    return int(active[0]) + 2 * int(active[1])


@dataclass(frozen=True)
class Panel:
    """Where the box's controls stand."""

    value: int | None
    """The VALUE switch's position (0–3: 1, 3, 10, 30); None between positions."""
    unit: int | None
    """The UNIT switch's position (0–3: s, min, h, days); None between positions."""
    power: bool
    """The camera-power toggle."""

    @property
    def preset(self) -> Preset | None:
        """The interval the switches select; None while either is between positions."""
        if self.value is None or self.unit is None:
            return None
        return Preset(PRESET_VALUES[self.value], PRESET_UNITS[self.unit])

    def said(self) -> str:
        """``10min, power on``; or which switch is between positions."""
        preset = self.preset
        if preset is None:
            turning = [
                name for name, at in (("VALUE", self.value), ("UNIT", self.unit)) if at is None
            ]
            return f"{' and '.join(turning)} between positions"
        return f"{preset.label}, power {'on' if self.power else 'off'}"

    def settings(self, base: Settings) -> Settings | None:
        """The next run's settings: ``base`` with the switches' interval and power; None
        while a switch is between positions (such a panel never starts a run)."""
        preset = self.preset
        if preset is None:
            return None
        return replace(base, interval_ns=preset.interval_ns, power=self.power)


@dataclass(frozen=True)
class Levels:
    """Every input of the box as read at one moment (active: the contact is closed)."""

    value: tuple[bool, ...] = ()
    """The VALUE switch's inputs in wiring order; empty when no switches are wired."""
    unit: tuple[bool, ...] = ()
    power: bool | None = None
    """The power toggle; None when none is wired."""
    button: bool | None = None
    """The start/stop button held down; None when none is wired."""
    encoder_steps: int = 0
    """The encoder's steps (clockwise positive): counted since it was claimed as the pins
    give them, since the last reading as :func:`panel_of` takes them, so that steps
    past either end are lost as on a switch that stops there."""


def origin_panel(settings: Settings) -> Panel:
    """The panel an encoder starts from, and the one a box without switches keeps: the
    config's interval when it is a preset, else the first preset above it (never a faster
    one than the photographer set), and the config's power."""
    index = next(
        (i for i, preset in enumerate(PRESETS) if preset.interval_ns >= settings.interval_ns),
        len(PRESETS) - 1,
    )
    return Panel(value=index % POSITIONS, unit=index // POSITIONS, power=settings.power)


def panel_of(levels: Levels, before: Panel) -> Panel:
    """Where the controls stand: the switches' positions (each wired by positions when it
    has four inputs, else coded); or, with no switches, ``before`` moved by the encoder's
    steps since it was read (none when no encoder is wired). The power toggle's power,
    else ``before``'s."""
    power = before.power if levels.power is None else levels.power
    if levels.value:
        return Panel(
            value=switch_position(levels.value, _wiring(levels.value)),
            unit=switch_position(levels.unit, _wiring(levels.unit)),
            power=power,
        )
    return replace(encoder_turned(before, levels.encoder_steps), power=power)


def _wiring(active: Sequence[bool]) -> Wiring:
    return Wiring.POSITIONS if len(active) == POSITIONS else Wiring.CODED


def turned(wanted: Settings | None, running: Settings) -> bool:
    """The controls no longer say what the running run was started with: they want
    ``wanted`` (None: a switch between positions), so every screen marks them as the next
    run's while the run goes on as it is."""
    return wanted is None or (wanted.interval_ns, wanted.power) != (
        running.interval_ns,
        running.power,
    )


def encoder_turned(panel: Panel, steps: int) -> Panel:
    """``panel`` after an encoder's ``steps`` (positive clockwise): through the sixteen
    presets in order, the value fastest, held at either end. A panel between positions
    starts from the first preset."""
    index = 0 if panel.preset is None else panel.unit * POSITIONS + panel.value  # type: ignore[operator]
    index = max(0, min(len(PRESET_UNITS) * POSITIONS - 1, index + steps))
    return replace(panel, value=index % POSITIONS, unit=index // POSITIONS)


class Press(StrEnum):
    """What a press of the button does."""

    START = "start"
    STOP = "stop"
    NOTHING = "nothing"


def press_does(held_ns: int, *, running: bool, panel: Panel) -> Press:
    """What a press held ``held_ns`` does: with no run, start one (never from a switch
    between positions); during a run, stop it only when held :data:`LONG_PRESS_NS`."""
    if running:
        return Press.STOP if held_ns >= LONG_PRESS_NS else Press.NOTHING
    return Press.NOTHING if panel.preset is None else Press.START


def panel_line(panel: PanelStatus) -> str:
    """The box's controls in one line: ``box: 10min, power on`` and, during a run they no
    longer match, that they are the next run's."""
    line = f"box: {panel.said}"
    if panel.next_run:
        line += " (the next run's; this run goes on as started)"
    return line
