"""Two paces: a run's interval by day, and another by night, each on its own exact grid.

Night is the sun below the run's ``night_angle`` (a :class:`~core.model.windows.Windows`
of that one rule). At each crossing of the angle the pace changes, and the new pace's
grid is anchored at the crossing: its slots fall at ``crossing + ⌊k·period⌋``. Its
first slot is the first that leaves the frame before it room for its whole cycle and
the new frame room for its leads (``room_ns``), so two frames' cycles never overlap.

Frames are numbered on through the changes. :class:`PacedGrid` answers what
:class:`~core.model.scheduler.Grid` answers (a frame's due time, the first frame at
or after a time), so the scheduler, the ledger and a resume use it as they use a grid;
the paces are worked out lazily from the start, the same every time they are asked
(the crossings are the sky's), so a resumed run lands on the same grid.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

from core.model.scheduler import Grid
from core.model.windows import Windows


@dataclass(frozen=True)
class Pace:
    """A stretch of the run at one interval: frames ``first_frame`` on, due on ``grid``
    from its anchor, until the crossing at ``end_ns`` (None: none comes)."""

    first_frame: int
    grid: Grid
    night: bool
    end_ns: int | None
    frames: int | None
    """How many frames it has (None: it runs on)."""

    def holds(self, frame: int) -> bool:
        """True when ``frame`` is one of this pace's."""
        return frame >= self.first_frame and (
            self.frames is None or frame < self.first_frame + self.frames
        )


class PacedGrid:
    """A grid whose interval changes between day and night (see the module's docstring)."""

    def __init__(
        self,
        day: Grid,
        night_interval_ns: int,
        nights: Windows,
        room_ns: Callable[[bool], int],
    ) -> None:
        """``day``: the run's grid (anchor, day interval, clock trim); ``nights``: when the
        sun is below the night angle; ``room_ns(night)``: from a frame of that pace's
        shutter to the next pace's first possible shutter."""
        self.anchor_ns = day.anchor_ns
        self.clock_ppm = day.clock_ppm
        self._intervals = {False: day.interval_ns, True: night_interval_ns}
        self.interval_ns = max(self._intervals.values())
        """The longest time between two shutters (what a journal's reader checks against)."""
        self.nights = nights
        self.room_ns = room_ns
        first = self._pace(0, day.anchor_ns, day.anchor_ns, nights.inside(day.anchor_ns))
        self._known: tuple[tuple[Pace, ...], tuple[int, ...]] = ((first,), (0,))
        """The paces worked out so far, and each one's first frame (for a bisection: the
        timing thread asks every frame). One value, replaced whole and never changed in
        place: the timing thread and a status answer may both work the next pace out,
        and a reader always sees a table whose two halves agree."""

    def _pace(self, first_frame: int, start_ns: int, anchor_ns: int, night: bool) -> Pace:
        """Pace from the crossing at ``start_ns`` (the run's anchor, for the first), its
        grid from ``anchor_ns``, until the sky's next crossing."""
        grid = Grid(anchor_ns, self._intervals[night], self.clock_ppm)
        span = self.nights.span_at(start_ns)
        end = None if span is None else span[1] if night else span[0]
        if end is not None and end <= start_ns:
            end = None  # only the sky's next crossing ends a pace
        frames = None if end is None else grid.first_frame_due_at_or_after(end)
        return Pace(first_frame, grid, night, end, frames)

    def _after(self, paces: tuple[Pace, ...]) -> Pace | None:
        """The pace the crossing at the end of ``paces``' last begins; None when none does."""
        pace = paces[-1]
        if pace.end_ns is None or pace.frames is None:
            return None
        night = not pace.night
        if pace.frames > 0:
            ready = pace.grid.due_ns(pace.frames - 1) + self.room_ns(pace.night)
        else:
            ready = self._last_due_before(paces) + self.room_ns(pace.night)
        crossing = Grid(pace.end_ns, self._intervals[night], self.clock_ppm)
        anchor = crossing.due_ns(crossing.first_frame_due_at_or_after(ready))
        return self._pace(pace.first_frame + pace.frames, pace.end_ns, anchor, night)

    def _last_due_before(self, paces: tuple[Pace, ...]) -> int:
        """The due time of the last frame before ``paces``' last (which has none)."""
        for earlier in reversed(paces[:-1]):
            if earlier.frames:
                return earlier.grid.due_ns(earlier.frames - 1)
        return self.anchor_ns - self.room_ns(paces[-1].night)

    def _extend(self, until: Callable[[Pace], bool]) -> Pace:
        """The first pace ``until`` holds for, working paces out as far as needed (the
        last there is when none does)."""
        paces, starts = self._known
        index = 0
        while not until(paces[index]):
            if index + 1 == len(paces):
                nxt = self._after(paces)
                if nxt is None:
                    break
                paces, starts = (*paces, nxt), (*starts, nxt.first_frame)
                if len(paces) > len(self._known[0]):
                    # Another thread may be working the same paces out; each works on a
                    # table of its own and puts it back whole, so no reader ever sees a
                    # pace twice (appending in place let two copies in, and every later
                    # index moved: a wrong due time). The paces are the sky's, so a
                    # table put back over a longer one costs work, never a right answer.
                    # No lock on the timing path.
                    self._known = (paces, starts)
            index += 1
        return paces[index]

    def pace_of(self, frame: int) -> Pace:
        """The pace frame ``frame`` belongs to."""
        paces, starts = self._known
        pace = paces[bisect.bisect_right(starts, frame) - 1]
        if pace.holds(frame):
            return pace
        return self._extend(lambda pace: pace.holds(frame))

    def at_night(self, frame: int) -> bool:
        """Whether ``frame`` is at the night's pace."""
        return self.pace_of(frame).night

    def due_ns(self, frame: int) -> int:
        """When frame ``frame``'s shutter is due."""
        pace = self.pace_of(frame)
        return pace.grid.due_ns(frame - pace.first_frame)

    def pace_at(self, time_ns: int) -> Pace:
        """The pace the sky gives at ``time_ns``: the first not ended by then."""
        return self._extend(lambda pace: pace.end_ns is None or time_ns < pace.end_ns)

    def first_frame_due_at_or_after(self, time_ns: int) -> int:
        """The smallest frame whose shutter is due at or after ``time_ns``."""
        pace = self.pace_at(time_ns)
        # Past a pace's last frame, before its crossing, the answer is the next pace's
        # first frame: numbered on from this pace's last.
        return pace.first_frame + pace.grid.first_frame_due_at_or_after(time_ns)
