"""The garbage collector, kept out of the stretch before each shutter.

A collection holds the GIL from its first object to its last, whichever thread's
allocation started it, and nothing can take the GIL from it: on a loaded 2-core
machine young collections took 0.1–1.9 ms and full ones 3–9 ms, while at a 10 ms
interval the focus line switches 0.67 ms before the shutter. One that started in
that stretch made the shutter miss its slot ("the previous step was still busy").

So, from the moment a frame is armed (``ARM_LEAD_NS`` before its shutter) until its
shutter has opened, automatic collection is off. Before turning it off, the timing
thread runs the collection that is due itself, but only when it fits, with room to
spare, before the stretch in which it must keep the GIL; what does not fit waits
for a later frame (or for collection to be on again, once the shutter has opened).
At 10 ms collections thus run only here or right after a shutter has opened.

Each run starts on fresh generations (:func:`freeze_survivors`): every object then
alive is kept out of later collections, so the full ones the timing thread runs
during a run only go over what the run itself has kept.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

from core.clock import Clock
from core.model.durations import NS_PER_MS

FIRST_GUESS_NS = NS_PER_MS
"""How long a collection of a generation is taken to last until one has been timed."""
ROOM_FACTOR = 2
"""A collection is run only with this many times its expected length free before the
shutter's stretch: a busy machine makes one slower than the last."""
ROOM_SLACK_NS = NS_PER_MS // 2
"""And this much besides, for the wake-up that follows it."""

_holds = 0
_was_enabled = False
_holds_lock = threading.Lock()


def freeze_survivors() -> None:
    """Collect everything, frozen objects too, then keep every survivor out of later
    collections (``gc.freeze``).

    Called before the daemon serves and before each run: what lives then (modules,
    the rig, the server, the run's setup) is never gone over again while a shutter
    waits, and what an earlier run left behind is reclaimed.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def due_generation(counts: tuple[int, int, int], thresholds: tuple[int, int, int]) -> int | None:
    """The generation an automatic collection would go up to now, or None if none is due.

    As CPython decides: the oldest generation whose count passed its threshold, once
    the youngest has. A threshold of 0 (``gc.set_threshold(0)``) means never.
    """
    if thresholds[0] == 0 or counts[0] <= thresholds[0]:
        return None
    return next(gen for gen in (2, 1, 0) if counts[gen] > thresholds[gen] or gen == 0)


class ShutterCollector:
    """Runs the due collection on the timing thread when it fits, and keeps automatic
    collection off from a frame's arming until its shutter has opened."""

    def __init__(
        self,
        clock: Clock,
        collect: Callable[[int], object] = gc.collect,
    ) -> None:
        self.clock = clock
        self._collect = collect
        self.expected_ns = [FIRST_GUESS_NS, FIRST_GUESS_NS, FIRST_GUESS_NS]
        """How long the last collection of each generation took (a first guess until one
        has been timed)."""
        self.held = False

    def before_shutter(self, room_ns: int) -> int | None:
        """Collect now if a collection is due and fits in ``room_ns`` (the time until the
        shutter's stretch begins), then turn automatic collection off until
        :meth:`after_shutter`. Returns the generation collected, or None."""
        collected = self._collect_if_room(room_ns)
        if not self.held:
            self.held = True
            _hold()
        return collected

    def after_shutter(self) -> None:
        """Let automatic collection run again (as it was before :meth:`before_shutter`)."""
        if self.held:
            self.held = False
            _release()

    def _collect_if_room(self, room_ns: int) -> int | None:
        due = due_generation(gc.get_count(), gc.get_threshold())
        if due is None:
            return None
        # A younger collection that fits is better than none: the older one stays due.
        for generation in range(due, -1, -1):
            if room_ns >= ROOM_FACTOR * self.expected_ns[generation] + ROOM_SLACK_NS:
                began = self.clock.now_ns()
                self._collect(generation)
                self.expected_ns[generation] = self.clock.now_ns() - began
                return generation
        return None


def _hold() -> None:
    """Automatic collection off; nested holds (two engines in one process) count."""
    global _holds, _was_enabled
    with _holds_lock:
        if _holds == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holds += 1


def _release() -> None:
    global _holds
    with _holds_lock:
        _holds -= 1
        if _holds == 0 and _was_enabled:
            gc.enable()
