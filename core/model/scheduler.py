"""The sans-IO scheduler: which frame is next, when each of its steps is due,
and what to do with a slot the engine reached too late.

It never sleeps and never touches hardware: the engine asks it questions
with the current time and acts on the answers (trio and h11 style).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property
from typing import Protocol

from core.model.led import led_changes
from core.model.plan import Edge, Line, Plan, grid_period, held_open
from core.model.windows import SEARCH_NS, Windows

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

    def at_night(self, frame: int) -> bool:
        """Whether ``frame`` is at a night's pace: never, on one interval."""
        return False


class SlotGrid(Protocol):
    """Where each frame's shutter falls: a :class:`Grid`, or a grid whose interval changes
    at night (:class:`core.model.paces.PacedGrid`)."""

    anchor_ns: int
    interval_ns: int
    """The longest time between two shutters."""

    def due_ns(self, frame: int) -> int: ...

    def first_frame_due_at_or_after(self, time_ns: int) -> int: ...

    def at_night(self, frame: int) -> bool: ...


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
class SlotsOutside:
    """Frames ``first``..``last`` (inclusive) fall outside the run's window: none fires.

    Handed out as the window closes; the last slot is due at ``last_due_ns``, and the
    range is journaled then (a line never tells of a slot still to come)."""

    first: int
    last: int
    last_due_ns: int


@dataclass(frozen=True)
class RunComplete:
    """Every slot of the run has been dealt with."""


class Scheduler:
    """Hands out frames in grid order. A slot whose shutter time has passed before it could
    fire is logged ``missed`` and the next slot on the grid follows: never early, never a
    burst to catch up. With ``windows``, the slots outside them are handed out as
    :class:`SlotsOutside` ranges, and only the slots inside count towards ``frames``."""

    def __init__(
        self,
        plan: Plan,
        grid: SlotGrid,
        *,
        frames: int = 0,
        next_frame: int = 0,
        windows: Windows | None = None,
        night_plan: Plan | None = None,
    ) -> None:
        self.plan = plan
        self.grid = grid
        """The run's grid: a :class:`Grid`, or a :class:`~core.model.paces.PacedGrid` whose
        frames at night are planned on ``night_plan``."""
        self.frames = frames
        """How many slots inside the windows the run has; 0 is endless."""
        self.windows = windows
        self._next = next_frame
        self._counted = self.slots_inside(0, next_frame)
        """Slots inside the windows before :attr:`next_frame` (all of them without windows)."""
        self.steps = self._frame_steps(plan)
        """The steps of a frame, in the order they must happen: every frame's, or, when power
        stays on, the run's last frame's (the others leave the power on, see :meth:`_steps_for`)."""
        self._steps_power_kept = self._keeping_power_on(plan, self.steps)
        self._paces: dict[bool, tuple[Plan, tuple[Step, ...], tuple[Step, ...]]] = {
            False: (plan, self.steps, self._steps_power_kept)
        }
        """By night or not: the plan, its every step, and its steps keeping power on."""
        if night_plan is not None:
            steps = self._frame_steps(night_plan)
            self._paces[True] = (night_plan, steps, self._keeping_power_on(night_plan, steps))
        self._power_off_due: int | None = None
        """When the power-off of the frame handed out last is due; None if it keeps power on."""

    @property
    def next_frame(self) -> int:
        """The frame the engine turns to next."""
        return self._next

    @property
    def counted(self) -> int:
        """Slots begun inside the windows (every slot begun, without windows)."""
        return self._counted

    def next_slot_at_or_after(self, now_ns: int) -> int | None:
        """The next slot inside the windows whose shutter is due at or after ``now_ns``;
        None once a counted run has no slot left there."""
        frame = self.grid.first_frame_due_at_or_after(now_ns)
        if self.windows is not None:
            frame = self._next_inside(frame)
        if self.frames:
            here = self._next
            before = (
                self._counted - self.slots_inside(frame, here)
                if frame <= here
                else self._counted + self.slots_inside(here, frame)
            )
            if before >= self.frames:
                return None
        return frame

    def last_due_ns(self) -> int | None:
        """When a counted run's last slot is due; None for a run until stopped. The slots
        outside the windows pass uncounted, so a run that shoots at night only ends a day
        later than its frames times its interval."""
        if not self.frames:
            return None
        left, frame = self.frames - self._counted, self._next
        if left <= 0:
            return self.grid.due_ns(max(0, frame - 1))
        while True:
            if self.windows is not None:
                frame = self._next_inside(frame)
            end = min(self._window_end(frame), frame + left)
            left -= end - frame
            if left <= 0:
                return self.grid.due_ns(end - 1)
            frame = end

    @property
    def complete(self) -> bool:
        """True once every slot of a counted run has been handed out."""
        return self.frames > 0 and self._counted >= self.frames

    def _night(self, frame: int) -> bool:
        """Frame ``frame`` is at the night's pace (and planned on the night's plan)."""
        return len(self._paces) > 1 and self.grid.at_night(frame)

    def _inside(self, frame: int) -> bool:
        return self.windows is None or self.windows.inside(self.grid.due_ns(frame))

    def _window_end(self, frame: int) -> int:
        """The first frame after ``frame`` (inside a window) that the window no longer holds."""
        if self.windows is None:
            return 1 << 62
        span = self.windows.span_at(self.grid.due_ns(frame))
        assert span is not None
        return self.grid.first_frame_due_at_or_after(span[1])

    def _next_inside(self, frame: int) -> int:
        """The first frame from ``frame`` on whose shutter falls inside a window; a frame
        :data:`~core.model.windows.SEARCH_NS` on when none opens before then (asked again
        there)."""
        grid, windows = self.grid, self.windows
        assert windows is not None
        while True:
            due = grid.due_ns(frame)
            span = windows.span_at(due)
            if span is None:
                return grid.first_frame_due_at_or_after(due + SEARCH_NS)
            if span[0] <= due < span[1]:
                return frame
            frame = max(frame + 1, grid.first_frame_due_at_or_after(span[0]))

    def slots_inside(self, first: int, end: int) -> int:
        """How many of frames ``first``..``end − 1`` fall inside the windows."""
        if self.windows is None:
            return max(0, end - first)
        count, frame = 0, first
        while frame < end:
            frame = self._next_inside(frame)
            if frame >= end:
                break
            until = min(end, self._window_end(frame))
            count += until - frame
            frame = until
        return count

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
        night = self._night(frame)
        plan, every_step, power_kept = self._paces[night]
        last = (
            (self.frames > 0 and self._counted == self.frames - 1)
            or not self._inside(frame + 1)
            or self._night(frame + 1) != night
        )
        steps = every_step if last else power_kept
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

    def held_open(self, frame: FrameDue, hold_ns: int) -> FrameDue:
        """``frame`` with its shutter held open ``hold_ns`` (a bulb timed on the wired
        line, chosen as the frame is armed): the steps up to its opening are kept as they
        are, those after come from the frame's plan held open
        (:func:`~core.model.plan.held_open`)."""
        plan = self._paces[self._night(frame.frame)][0]
        held = held_open(plan, hold_ns)
        steps = self._frame_steps(held)
        powers_off = any(
            step.edge is not None and step.edge.line is Line.POWER and not step.edge.on
            for step in frame.steps
        )
        if not powers_off:
            steps = self._keeping_power_on(held, steps)
        kept = tuple(step for step in frame.steps if step.offset_ns <= 0)
        return replace(frame, steps=kept + tuple(step for step in steps if step.offset_ns > 0))

    def skip_past(self, now_ns: int) -> SlotsMissed | None:
        """Give up every slot whose shutter time is before ``now_ns``, as far as the window
        the next slot is in closes; None if there is none."""
        frame = self._next
        if self.complete or now_ns <= self.grid.due_ns(frame):
            return None
        resume_at = max(frame + 1, self.grid.first_frame_due_at_or_after(now_ns))
        resume_at = min(resume_at, self._window_end(frame))
        if self.frames > 0:
            resume_at = min(resume_at, frame + self.frames - self._counted)
        self._next = resume_at
        self._counted += resume_at - frame
        return SlotsMissed(first=frame, last=resume_at - 1)

    def _outside(self) -> SlotsOutside | None:
        """The slots from the next one to the next window's first, if the next is outside."""
        frame = self._next
        if self.windows is None or self._inside(frame):
            return None
        opens = self._next_inside(frame)
        self._next = opens
        return SlotsOutside(first=frame, last=opens - 1, last_due_ns=self.grid.due_ns(opens - 1))

    def pass_before(self, now_ns: int) -> list[SlotsMissed | SlotsOutside]:
        """Pass every slot due before ``now_ns`` (a resume after the daemon was down): the
        missed ones inside a window and the ones outside, in order, as ranges."""
        passed: list[SlotsMissed | SlotsOutside] = []
        while not self.complete and self.grid.due_ns(self._next) < now_ns:
            frame = self._next
            if self._inside(frame):
                missed = self.skip_past(now_ns)
                assert missed is not None
                passed.append(missed)
                continue
            end = min(self._next_inside(frame), self.grid.first_frame_due_at_or_after(now_ns))
            self._next = end
            passed.append(SlotsOutside(frame, end - 1, self.grid.due_ns(end - 1)))
        return passed

    def begin_next(
        self, now_ns: int, late_ns: int = 0
    ) -> FrameDue | SlotsMissed | SlotsOutside | RunComplete:
        """Decide about the next frame, the engine having reached it at ``now_ns``.

        Outside the windows, the slots until the next window opens come back as one
        :class:`SlotsOutside`, the next call going on from there.

        A frame whose shutter time passed more than ``late_ns`` ago cannot be
        honoured: it and every later slot already past are returned as one missed
        range, and the next call continues on the grid. Within ``late_ns`` (the
        engine's :data:`LATE_LIMIT_NS`) it is returned, to open late.
        """
        if self.complete:
            return RunComplete()
        outside = self._outside()
        if outside is not None:
            return outside
        missed = self.skip_past(now_ns - late_ns)
        if missed is not None:
            return missed
        frame = self._next
        due = self.grid.due_ns(frame)
        steps = self._steps_for(frame, due)
        self._next = frame + 1
        self._counted += 1
        return FrameDue(frame=frame, due_ns=due, steps=steps)


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
