"""The sans-IO scheduler: which frame is next, when each of its steps is due,
and what to do with a slot the engine reached too late.

It never sleeps and never touches hardware: the engine asks it questions
with the current time and acts on the answers (trio and h11 style).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property

from core.model.led import led_changes
from core.model.plan import Edge, Line, Plan, grid_period

SPIN_NS = 2_000_000
"""How long before a precise deadline the sleep ends and the spin begins.

Longer than a wake-up is late on a loaded Pi (about 1 ms at p99) and short
enough that one spin per frame costs nothing at long intervals.
"""
LED_GUARD_NS = SPIN_NS
"""LED changes inside the spin window before a shutter are dropped: the timing
thread spins there for the shutter, and the LED goes full on at it anyway."""


@dataclass(frozen=True)
class Grid:
    """Where each frame's shutter falls: ``due(k) = anchor_ns + ⌊k·period⌋`` whole ns.

    ``period = interval_ns·(1 + clock_ppm/10⁶)`` is kept as an exact fraction
    (a trim makes it a non-whole number of nanoseconds), and each due time is
    computed from k, never summed from the one before: no rounding error
    builds up over 10⁷ frames, and the result is always rounded down.
    """

    anchor_ns: int
    interval_ns: int
    clock_ppm: float = 0.0

    @cached_property
    def _period(self) -> Fraction:
        return grid_period(self.interval_ns, self.clock_ppm)

    def due_ns(self, frame: int) -> int:
        """Monotonic ns at which frame ``frame``'s shutter is due: ``anchor_ns + ⌊k·period⌋``."""
        period = self._period
        return self.anchor_ns + (frame * period.numerator) // period.denominator

    def first_frame_due_at_or_after(self, time_ns: int) -> int:
        """The smallest frame k ≥ 0 whose shutter is due at or after ``time_ns``."""
        if time_ns <= self.anchor_ns:
            return 0
        period = self._period
        frame = (time_ns - self.anchor_ns) * period.denominator // period.numerator
        while self.due_ns(frame) < time_ns:
            frame += 1
        while frame > 0 and self.due_ns(frame - 1) >= time_ns:
            frame -= 1
        return frame


@dataclass(frozen=True)
class Step:
    """One thing to do ``offset_ns`` from a frame's shutter-open: switch a line or set the LED.

    Steps are built once per plan and shared by every frame; the engine adds
    the frame's due time.
    """

    offset_ns: int
    edge: Edge | None = None
    led: float | None = None
    opens_shutter: bool = False
    """The step the whole grid is about: it is spun for, and missed if reached late."""
    precise: bool = False
    """Spin for this step's deadline (shutter opening, and a bulb's release)."""


@dataclass(frozen=True)
class FrameDue:
    """Run ``steps`` (offsets from ``due_ns``) for frame ``frame``."""

    frame: int
    due_ns: int
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class SlotsMissed:
    """Frames ``first``..``last`` (inclusive) were due before the engine reached them."""

    first: int
    last: int


@dataclass(frozen=True)
class RunComplete:
    """Every slot of the run has been dealt with."""


class Scheduler:
    """Hands out frames in grid order. A slot whose shutter time has passed before it could
    fire is logged ``missed`` and the next slot on the grid follows: never early, never a
    burst to catch up."""

    def __init__(
        self,
        plan: Plan,
        grid: Grid,
        *,
        frames: int = 0,
        next_frame: int = 0,
    ) -> None:
        self.plan = plan
        self.grid = grid
        self.frames = frames
        """How many slots the run has; 0 is endless."""
        self._next = next_frame
        self.steps = self._frame_steps(plan)
        """The steps of a frame, in the order they must happen: every frame's, or, when power
        stays on, the run's last frame's (the others leave the power on, see :meth:`_steps_for`)."""
        self._steps_power_kept = self._keeping_power_on(plan, self.steps)
        self._power_off_due: int | None = None
        """When the power-off of the frame handed out last is due; None if it keeps power on."""

    @property
    def next_frame(self) -> int:
        """The frame the engine turns to next."""
        return self._next

    @property
    def complete(self) -> bool:
        """True once every slot of a counted run has been handed out."""
        return self.frames > 0 and self._next >= self.frames

    @staticmethod
    def _frame_steps(plan: Plan) -> tuple[Step, ...]:
        steps = [
            Step(
                offset_ns=edge.offset_ns,
                edge=edge,
                opens_shutter=edge.line is Line.SHUTTER and edge.on,
                precise=edge.line is Line.SHUTTER and (edge.on or plan.bulb),
            )
            for edge in plan.edges
        ]
        steps += [
            Step(offset_ns=offset, led=level)
            for offset, level in led_changes(plan)
            if not -LED_GUARD_NS < offset < 0
        ]
        # Stable sort: edges stay before LED changes at the same offset, so the
        # shutter never waits on the LED.
        steps.sort(key=lambda step: step.offset_ns)
        return tuple(steps)

    @staticmethod
    def _keeping_power_on(plan: Plan, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        """``steps`` without the power-off, and the LED's return to dark with it, when the
        plan keeps power on from one frame to the next (the next frame's power-on falls
        on the same instant: the LED blinks on, as the power stays on)."""
        if not plan.power_stays_on:
            return steps
        return tuple(step for step in steps if step.offset_ns != plan.power_off_ns)

    def _steps_for(self, frame: int, due_ns: int) -> tuple[Step, ...]:
        """The steps of frame ``frame``, due at ``due_ns``, handed out now.

        When power stays on, every frame but the run's last leaves it on. Each still
        switches it on: that changes nothing while it is on, and powers the camera again
        after the engine released every output for a fault.
        """
        plan = self.plan
        last = self.frames > 0 and frame == self.frames - 1
        steps = self.steps if last else self._steps_power_kept
        if plan.power_on_ns is None or plan.power_off_ns is None:
            return steps
        switches_off = last or not plan.power_stays_on
        if self._power_off_due is not None:
            # Only a frame count raised after its last frame was handed out, power-off and
            # all, brings a power-on this close: the camera is woken late rather than
            # switched off for less than it can stand.
            short = self._power_off_due + plan.min_power_off_ns - (due_ns + plan.power_on_ns)
            if short > 0:
                steps = _power_on_later(steps, short)
        self._power_off_due = due_ns + plan.power_off_ns if switches_off else None
        return steps

    def skip_past(self, now_ns: int) -> SlotsMissed | None:
        """Give up every slot whose shutter time is before ``now_ns``; None if there is none."""
        frame = self._next
        if self.complete or now_ns <= self.grid.due_ns(frame):
            return None
        resume_at = max(frame + 1, self.grid.first_frame_due_at_or_after(now_ns))
        if self.frames > 0:
            resume_at = min(resume_at, self.frames)
        self._next = resume_at
        return SlotsMissed(first=frame, last=resume_at - 1)

    def begin_next(self, now_ns: int, late_ns: int = 0) -> FrameDue | SlotsMissed | RunComplete:
        """Decide about the next frame, the engine having reached it at ``now_ns``.

        A frame whose shutter time passed more than ``late_ns`` ago cannot be
        honoured: it and every later slot already past are returned as one missed
        range, and the next call continues on the grid. Within ``late_ns`` (the
        engine's :data:`LATE_LIMIT_NS`) it is returned, to open late.
        """
        if self.complete:
            return RunComplete()
        missed = self.skip_past(now_ns - late_ns)
        if missed is not None:
            return missed
        frame = self._next
        self._next = frame + 1
        due = self.grid.due_ns(frame)
        return FrameDue(frame=frame, due_ns=due, steps=self._steps_for(frame, due))


def _power_on_later(steps: tuple[Step, ...], by_ns: int) -> tuple[Step, ...]:
    """``steps`` with the power-on ``by_ns`` later; the stable sort keeps it first among
    the steps it then shares an offset with, as the edges' rank has it."""
    moved = [
        replace(
            step,
            offset_ns=step.offset_ns + by_ns,
            edge=replace(step.edge, offset_ns=step.offset_ns + by_ns),
        )
        if step.edge is not None and step.edge.line is Line.POWER and step.edge.on
        else step
        for step in steps
    ]
    moved.sort(key=lambda step: step.offset_ns)
    return tuple(moved)
