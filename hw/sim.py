"""The simulated rig: the real :class:`GpioRig` on gpiozero's mock pins (docs/architecture.md §10).

Nothing is faked by hand: the same gpiozero devices run on a ``MockFactory``
whose pins record the levels they are driven to (the latest ``PIN_HISTORY``), so a
test (or the demo) can read ``rig.pin_factory.pin(21).states`` and see exactly
what a Pi would do.

Those histories live inside the daemon and die with it. With
``LAPSE_SIM_EDGE_LOG`` naming a file, every level change of the focus, shutter
and power pins is also appended to it as one line, before the output call
returns, so a record of what really fired survives a ``kill -9`` of the daemon
(``bench/chaos.py`` checks the journal against it).
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Mapping

from gpiozero.pins.mock import MockFactory, MockPWMPin

from core.model.hardware import HardwareConfig
from core.model.plan import Line
from hw.gpio_rig import GpioRig

EDGE_LOG_ENV_VAR = "LAPSE_SIM_EDGE_LOG"
"""Names the file the simulated rig appends its line edges to (unset: no file)."""


class EdgeLog:
    """An append-only file of pin edges: ``<monotonic ns> <pid> <line> <level>`` per line.

    Each line is one ``os.write`` on an ``O_APPEND`` descriptor: it is in the
    kernel as soon as the call returns, so it outlives the process (not a power
    cut), and lines from successive daemons never interleave. The time is read
    just before the pin changes level, so an edge never happened before it.
    """

    def __init__(self, path: str, lines: Mapping[int, str]) -> None:
        """Open ``path`` for appending; ``lines`` maps the BCM numbers to log to their names."""
        # gpiozero names a pin by its BCM number as "GPIO21" (``info.number`` is the header's).
        self._lines = {f"GPIO{pin}": name for pin, name in lines.items()}
        self._pid = os.getpid()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._closer = weakref.finalize(self, os.close, self._fd)

    def logs(self, pin: str) -> bool:
        """True when ``pin`` (gpiozero's name, ``"GPIO21"``) is a line this log records."""
        return pin in self._lines

    def record(self, at_ns: int, pin: str, level: bool) -> None:
        """Append one edge of ``pin`` to ``level`` at ``at_ns`` (monotonic)."""
        line = f"{at_ns} {self._pid} {self._lines[pin]} {int(level)}\n"
        os.write(self._fd, line.encode("ascii"))

    def close(self) -> None:
        """Close the file (idempotent)."""
        self._closer()


PIN_HISTORY = 10_000
"""How many of its latest level changes each simulated pin keeps (``pin.states``)."""
_TRIM_CHUNK = 256
"""Dropped at a time once a pin's history is this much over :data:`PIN_HISTORY`: a few
microseconds in the output call, never one long pause in the timing thread."""


class _SimPin(MockPWMPin):
    """A mock PWM pin that keeps only its latest :data:`PIN_HISTORY` level changes.

    gpiozero's mock pins keep every change for ever, one object each that the garbage
    collector must go over: a simulated daemon at 10 ms held 400,000 after 100,000
    frames, and its full collections then stopped every thread for up to 110 ms.
    """

    def _change_state(self, value: float) -> bool:
        changed = super()._change_state(value)
        states = self.states
        if len(states) > PIN_HISTORY + _TRIM_CHUNK:
            del states[:_TRIM_CHUNK]
        return changed


class _EdgeLoggingFactory(MockFactory):
    """A ``MockFactory`` whose pins report their level changes to an :class:`EdgeLog`."""

    def __init__(self, edge_log: EdgeLog) -> None:
        super().__init__(pin_class=_EdgeLoggingPin)
        self.edge_log = edge_log

    def close(self) -> None:
        super().close()
        self.edge_log.close()


class _EdgeLoggingPin(_SimPin):
    """A mock PWM pin that appends each change of level to its factory's :class:`EdgeLog`."""

    def _change_state(self, value: float) -> bool:
        edge_log: EdgeLog = self.factory.edge_log
        if not edge_log.logs(self.info.name) or bool(value) == bool(self._state):
            return super()._change_state(value)
        at_ns = time.monotonic_ns()
        changed = super()._change_state(value)
        edge_log.record(at_ns, self.info.name, bool(value))
        return changed


def make_sim_rig(hardware: HardwareConfig, environ: Mapping[str, str] | None = None) -> GpioRig:
    """A :class:`GpioRig` on a fresh ``MockFactory`` of PWM-capable pins, ``simulated=True``.

    Each call gets its own factory, so two simulated rigs never share pins.
    The factory is left open when the rig closes, so the pins' histories stay
    readable afterwards. ``environ`` (default ``os.environ``) may name an edge
    log in :data:`EDGE_LOG_ENV_VAR`.
    """
    path = (os.environ if environ is None else environ).get(EDGE_LOG_ENV_VAR, "")
    if not path:
        # PWM pins (_SimPin), not the default MockPin: the status LED is a PWMLED.
        return GpioRig(hardware, MockFactory(pin_class=_SimPin), simulated=True)
    lines = {
        hardware.focus_pin: Line.FOCUS.value,
        hardware.shutter_pin: Line.SHUTTER.value,
        hardware.power_pin: Line.POWER.value,
    }
    return GpioRig(hardware, _EdgeLoggingFactory(EdgeLog(path, lines)), simulated=True)
