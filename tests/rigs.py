"""Rigs for engine tests of faults the real parts cannot produce.

Everything that real hardware can do is tested on gpiozero ``MockFactory``
pins (see test_hw_*.py and test_engine_on_pins.py); these only record calls,
take time on a fake clock (a camera that is busy) or raise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.fake_clock import FakeClock
from core.model.plan import Line


@dataclass
class RecordingRig:
    """Remembers every call with the clock's time; ``busy`` may stall a shutter opening."""

    clock: FakeClock
    busy: Callable[[int], int] | None = None
    """Given the time the shutter opens, how long the camera stays busy (ns)."""
    fail_on: Callable[[Line, bool], bool] | None = None
    description: str = "recording rig"
    simulated: bool = True
    calls: list[tuple[int, str, object]] = field(default_factory=list)
    released: int = 0

    def set_line(self, line: Line, on: bool) -> None:
        now = self.clock.now_ns()
        if self.fail_on is not None and self.fail_on(line, on):
            raise OSError(f"{line.value} driver fault")
        self.calls.append((now, line.value, on))
        if line is Line.SHUTTER and on and self.busy is not None:
            self.clock.advance(self.busy(now))

    def set_led(self, level: float) -> None:
        self.calls.append((self.clock.now_ns(), "led", level))

    def outputs(self) -> dict[str, float]:
        state: dict[str, float] = {"power": 0.0, "focus": 0.0, "shutter": 0.0, "led": 0.0}
        for _, what, value in self.calls:
            if what == "release":
                state = dict.fromkeys(state, 0.0)
            else:
                state[what] = float(value)  # type: ignore[arg-type]
        return state

    def release(self) -> None:
        self.released += 1
        self.calls.append((self.clock.now_ns(), "release", None))

    def close(self) -> None:
        self.release()

    def openings(self) -> list[int]:
        return [t for t, what, on in self.calls if what == "shutter" and on is True]
