"""The grid against an independent reference: exact rational arithmetic, not the code's own.

The promise (README, "Exact timing"): frame k's shutter is due at
``anchor + ⌊k·period⌋`` whole nanoseconds, where
``period = interval·(1 + ppm/10⁶)``, computed for each k, never summed. The
reference below says the same with :class:`fractions.Fraction` and takes the
trim as an exact decimal (whole nano-ppm), so a period need not be a whole
number of nanoseconds and no float ever enters it.
"""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.model.durations import DAY_NS, NS_PER_MS
from core.model.plan import make_plan
from core.model.scheduler import FrameDue, Grid, RunComplete, Scheduler, SlotsMissed
from core.model.settings import Settings

NANO_PPM = 10**15
"""The trim's resolution here: 10⁻⁹ ppm, one part in 10¹⁵ of the period."""

intervals = st.integers(min_value=10 * NS_PER_MS, max_value=365 * DAY_NS)
anchors = st.integers(min_value=-(10**18), max_value=10**18)
trims = st.integers(min_value=-500 * 10**9, max_value=500 * 10**9)  # nano-ppm: ±500 ppm
frames = st.integers(min_value=0, max_value=10**7)


def period_of(interval_ns: int, trim_nano_ppm: int) -> Fraction:
    """The reference period in nanoseconds: exact, and rarely a whole number."""
    return interval_ns * (1 + Fraction(trim_nano_ppm, NANO_PPM))


def reference_due(anchor: int, period: Fraction, frame: int) -> int:
    return anchor + math.floor(frame * period)


def reference_first_at_or_after(anchor: int, period: Fraction, time_ns: int) -> int:
    # anchor + ⌊k·p⌋ ≥ t  ⟺  ⌊k·p⌋ ≥ t − anchor  ⟺  k·p ≥ t − anchor (an integer)
    return max(0, math.ceil(Fraction(time_ns - anchor) / period))


def grid_of(anchor: int, interval_ns: int, trim_nano_ppm: int) -> Grid:
    # What a photographer types is a decimal; lapse keeps it as a float. A decimal of
    # at most 15 significant digits survives that round trip exactly.
    return Grid(anchor, interval_ns, trim_nano_ppm / 10**9)


@settings(max_examples=400)
@given(intervals, anchors, trims, frames)
@example(10 * NS_PER_MS, 0, 1, 10**7)  # 10 ms + 10⁻¹⁴ ms: far from a whole nanosecond
@example(365 * DAY_NS, 10**18, -500 * 10**9, 10**7)
@example(60 * 10**9, 0, 18_100_000_000, 10**7)  # the README's 18.1 ppm
def test_due_time_is_the_anchor_plus_the_floor_of_k_periods(
    interval_ns: int, anchor: int, trim: int, frame: int
) -> None:
    grid = grid_of(anchor, interval_ns, trim)
    period = period_of(interval_ns, trim)
    assert grid.due_ns(frame) == reference_due(anchor, period, frame)
    assert grid.due_ns(frame) < grid.due_ns(frame + 1), "due times strictly increase"


@settings(max_examples=300)
@given(intervals, anchors, trims, frames)
def test_due_times_are_computed_never_summed(
    interval_ns: int, anchor: int, trim: int, frame: int
) -> None:
    # Summing rounded steps drifts by up to a nanosecond a frame; the grid may not.
    grid = grid_of(anchor, interval_ns, trim)
    period = period_of(interval_ns, trim)
    gaps = {grid.due_ns(k + 1) - grid.due_ns(k) for k in range(frame, frame + 50)}
    assert gaps <= {math.floor(period), math.ceil(period)}
    assert grid.due_ns(frame + 50) - grid.due_ns(frame) == (
        math.floor((frame + 50) * period) - math.floor(frame * period)
    )


@settings(max_examples=400)
@given(intervals, anchors, trims, frames, st.integers(min_value=-3, max_value=3))
def test_first_frame_due_at_or_after_is_exact_at_the_boundary(
    interval_ns: int, anchor: int, trim: int, frame: int, nudge: int
) -> None:
    grid = grid_of(anchor, interval_ns, trim)
    period = period_of(interval_ns, trim)
    due = reference_due(anchor, period, frame)
    # Exactly at a due time is that frame, not the next; a nanosecond after is the next.
    assert grid.first_frame_due_at_or_after(due) == frame
    assert grid.first_frame_due_at_or_after(due + 1) == frame + 1
    time_ns = due + nudge
    assert grid.first_frame_due_at_or_after(time_ns) == reference_first_at_or_after(
        anchor, period, time_ns
    )


@settings(max_examples=300)
@given(intervals, anchors, trims, st.integers(min_value=-(10**18), max_value=10**18))
def test_first_frame_due_at_or_after_any_time(
    interval_ns: int, anchor: int, trim: int, offset: int
) -> None:
    grid = grid_of(anchor, interval_ns, trim)
    period = period_of(interval_ns, trim)
    time_ns = anchor + offset
    expected = reference_first_at_or_after(anchor, period, time_ns)
    assert grid.first_frame_due_at_or_after(time_ns) == expected


def scheduler_at(grid: Grid, next_frame: int, count: int = 0) -> Scheduler:
    plan = make_plan(Settings(interval_ns=grid.interval_ns))
    return Scheduler(plan, grid, frames=count, next_frame=next_frame)


@settings(max_examples=300)
@given(intervals, anchors, trims, frames)
def test_a_slot_reached_exactly_on_time_is_fired_not_missed(
    interval_ns: int, anchor: int, trim: int, frame: int
) -> None:
    grid = grid_of(anchor, interval_ns, trim)
    due = reference_due(anchor, period_of(interval_ns, trim), frame)
    on_time = scheduler_at(grid, frame).begin_next(due)
    assert on_time == FrameDue(frame=frame, due_ns=due, steps=on_time.steps)
    late = scheduler_at(grid, frame).begin_next(due + 1)
    assert late == SlotsMissed(first=frame, last=frame)


@settings(max_examples=400)
@given(
    intervals,
    anchors,
    trims,
    frames,
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=-2, max_value=2),
    st.integers(min_value=0, max_value=3 * 10**6),
)
def test_the_frames_skipped_over_a_gap_are_exactly_those_whose_time_passed(
    interval_ns: int,
    anchor: int,
    trim: int,
    frame: int,
    gap_frames: int,
    nudge: int,
    count: int,
) -> None:
    grid = grid_of(anchor, interval_ns, trim)
    period = period_of(interval_ns, trim)
    # The engine comes back around some later frame's due time, give or take a nanosecond.
    now = reference_due(anchor, period, frame + gap_frames) + nudge
    # Endless, or a run that ended already, ends in the gap or goes past it.
    count = 0 if count == 0 else frame - 1 + count
    scheduler = scheduler_at(grid, frame, count)
    decision = scheduler.begin_next(now)
    if count and frame >= count:
        assert isinstance(decision, RunComplete)
        return
    # The frames whose time passed: every k from `frame` with due(k) < now, checked at
    # both ends against the reference (the run's own end cuts the range short).
    resume = reference_first_at_or_after(anchor, period, now)
    assert reference_due(anchor, period, resume - 1) < now <= reference_due(anchor, period, resume)
    last_passed = (resume if count == 0 else min(resume, count)) - 1
    assert decision == SlotsMissed(first=frame, last=last_passed)
    following = scheduler.begin_next(now)
    if count and last_passed + 1 >= count:
        assert isinstance(following, RunComplete)
    else:
        # The next frame is due at or after now: it is the one handed out, not skipped.
        assert isinstance(following, FrameDue)
        assert following.frame == last_passed + 1
        assert following.due_ns == reference_due(anchor, period, following.frame) >= now
