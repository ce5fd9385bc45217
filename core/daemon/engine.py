"""The engine: runs a scheduler's frames on a Rig, in real or fake time.

It is the thin loop around the sans-IO scheduler: wait for a step, switch an
output, report what happened. It runs on one dedicated thread and never
blocks on anything but the clock and the rig; every report goes to ``emit``,
which must not block (a ``queue.SimpleQueue.put``). Around each shutter it writes
a mark (``core.model.marks``): one write into the page cache, never an fsync.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable

from core.clock import SPIN_NS, Clock, Event
from core.daemon.collector import ShutterCollector
from core.model.camera import Camera
from core.model.durations import NS_PER_MS
from core.model.events import EdgeDone, EngineEvent, Fault, FrameDone, SlotsSkipped
from core.model.marks import Mark, MarkKind, ShutterMarks
from core.model.plan import Line
from core.model.rig import Rig
from core.model.scheduler import (
    FrameDue,
    RunComplete,
    Scheduler,
    SlotsMissed,
    SlotsOutside,
    Step,
)


class EngineExit(enum.Enum):
    """Why :meth:`Engine.run` returned."""

    COMPLETE = "complete"
    """Every slot of a counted run has been dealt with."""
    CANCELLED = "cancelled"
    """``cancel`` was set: a stop, or the daemon shutting down."""


QUIET_NS = 10 * NS_PER_MS
"""In this window before a shutter opens, events wait until it has (see ``_hold_events``)."""
ARM_LEAD_NS = 50 * NS_PER_MS
"""A frame is marked armed this long before its shutter: well ahead of the spin (SPIN_NS),
with room for a write the kernel holds back a while, and late enough that a daemon killed
in the long wait before it leaves no mark, so its slot is known missed, not unknown."""
GATE_MARGIN_NS = NS_PER_MS
"""Other threads start no new work from this long before the timing thread wakes for a
shutter until the shutter has opened (see ``quiet_left_ns``)."""
LATE_LIMIT_NS = NS_PER_MS
"""A shutter opens at most this long after its due time; later, it is given up (missed).

A frame a fraction of a millisecond late is a frame (its lateness is journaled); one
given up is a hole in the sequence. Later than this, opening would crowd the frame's
own pulse and the next frame, and the slot is given up instead."""
_LIMIT = f"{LATE_LIMIT_NS / NS_PER_MS:g} ms"
REACHED_LATE = f"the previous step was still busy more than {_LIMIT} after the shutter was due"
WOKE_LATE = f"the timing thread woke more than {_LIMIT} after the shutter was due"
OUTSIDE_WINDOW = "outside the run's window"
NOT_REACHED = (
    f"the timing thread reached it more than {_LIMIT} after the shutter was due (held up by"
    " the frame before, or by the machine)"
)


def outside_window(first: int, last: int, noticed_ns: int, noticed_wall_ns: int) -> SlotsSkipped:
    """Frames ``first``..``last`` passed outside the run's window, as they are journaled:
    ``skipped``, never missed (the engine's as the window opens, a resume's for the time
    the daemon was down)."""
    return SlotsSkipped(first, last, noticed_ns, noticed_wall_ns, OUTSIDE_WINDOW, "skipped")


class Engine:
    """Fires a run's frames on the grid; one instance per run, on one thread."""

    def __init__(
        self,
        rig: Rig,
        clock: Clock,
        scheduler: Scheduler,
        emit: Callable[[EngineEvent], None],
        cancel: Event | None = None,
        camera: Camera | None = None,
        marks: ShutterMarks | None = None,
        collector: ShutterCollector | None = None,
    ) -> None:
        self.rig = rig
        self.camera = camera
        """Told of every shutter edge (without waiting); in ``usb`` mode it fires the shutter."""
        self.marks = marks
        """Where each frame is marked armed, fired or not fired (docs/architecture.md §7)."""
        self.clock = clock
        self.collector = collector if collector is not None else ShutterCollector(clock)
        """Keeps garbage collections out of the stretch before each shutter."""
        self.scheduler = scheduler
        self.emit = emit
        self.cancel = cancel if cancel is not None else clock.event()
        self._held: list[EngineEvent] | None = None
        self._switch_interval_s = sys.getswitchinterval()
        """The switch interval to put back once a held stretch ends."""
        # What the watchdog reads (another thread, no lock: each is one reference).
        self._waiting_until: int | None = None
        """The deadline the timing thread is waiting for; None while it works."""
        self._working_since = 0
        """When its present work began: the deadline it last woke for (no clock read)."""
        self._quiet: tuple[int, int] = (0, 0)
        """From when until when the next shutter wants the GIL to itself (one reference,
        read by other threads without a lock)."""

    def quiet_left_ns(self, now_ns: int) -> int:
        """How long work that can wait should wait at ``now_ns``: 0, or until the shutter.

        The timing thread needs the GIL from its last wake before a shutter until the
        shutter opens; a thread that takes it then for work that could have waited (a
        status answer, a journal batch) holds it past the shutter's due time. Work
        that waits this long never starts inside that window.
        """
        start, end = self._quiet
        return end - now_ns if start <= now_ns < end else 0

    def stalled(self, now_ns: int, grace_ns: int) -> str | None:
        """Why the timing thread looks stuck at ``now_ns``, or None while it keeps up.

        Waiting for a deadline is keeping up, however far away the deadline is;
        still waiting ``grace_ns`` after it, or working for longer than that (a
        rig call that hangs), is not.
        """
        waiting = self._waiting_until
        if waiting is not None:
            late = now_ns - waiting
            if late > grace_ns:
                return f"the timing thread has not woken {late / 1e9:.1f}s after its deadline"
            return None
        busy = now_ns - self._working_since
        if busy > grace_ns:
            return f"the timing thread has been busy with one step for {busy / 1e9:.1f}s"
        return None

    def run(self) -> EngineExit:
        """Run until every slot is dealt with or ``cancel`` is set; outputs end released."""
        self._working_since = self.clock.now_ns()
        self._release("start")
        try:
            while not self.cancel.is_set():
                # A slot reached late opens late within the same limit as any shutter.
                decision = self.scheduler.begin_next(self.clock.now_ns(), LATE_LIMIT_NS)
                if isinstance(decision, RunComplete):
                    return EngineExit.COMPLETE
                if isinstance(decision, SlotsOutside):
                    if not self._pass_outside(decision):
                        break
                    continue
                if isinstance(decision, SlotsMissed):
                    self.emit(
                        SlotsSkipped(
                            first=decision.first,
                            last=decision.last,
                            noticed_ns=self.clock.now_ns(),
                            noticed_wall_ns=self.clock.wall_ns(),
                            reason=NOT_REACHED,
                        )
                    )
                    continue
                if not self._run_frame(decision):
                    break
            return EngineExit.CANCELLED
        finally:
            self._release("end")

    def _pass_outside(self, outside: SlotsOutside) -> bool:
        """Wait out slots outside the window, then journal them as one skipped range (never
        before the last is due: a line tells of slots passed); False if cancelled, once
        the slots already passed are journaled."""
        self._waiting_until = outside.last_due_ns
        woke = self.clock.wait_until(outside.last_due_ns, self.cancel)
        self._working_since, self._waiting_until = outside.last_due_ns, None
        last = outside.last
        if not woke:
            # Stopped in the night: the slots due so far are journaled, none to come.
            passed = self.scheduler.grid.first_frame_due_at_or_after(self.clock.now_ns() + 1)
            last = min(last, passed - 1)
        if last >= outside.first:
            self.emit(
                outside_window(outside.first, last, self.clock.now_ns(), self.clock.wall_ns())
            )
        return woke

    def _run_frame(self, frame: FrameDue) -> bool:
        """Do one frame's steps; False if cancelled on the way.

        The frame is reported as soon as its fate is known (its shutter opened,
        failed or was missed), not at the end of its cycle: at a long interval
        the power-off comes most of a minute later.
        """
        clock, due = self.clock, frame.due_ns
        self._quiet = (self._first_wake(frame) - GATE_MARGIN_NS, due)
        reported = False
        shutter_missed = False
        armed = opened = False
        opened_late_ns = 0
        """How late the shutter opened: the frame's later steps keep their distance from it,
        so a pulse or an exposure is never cut short."""
        index = 0
        try:
            # By index: arming may re-time the steps after the opening (_held_open).
            while index < len(frame.steps):
                step = frame.steps[index]
                index += 1
                on_grid = due + step.offset_ns
                before_shutter = due - on_grid
                at = on_grid + opened_late_ns
                if 0 < before_shutter <= QUIET_NS:
                    self._hold_events()
                if step.opens_shutter and clock.now_ns() - at > LATE_LIMIT_NS:
                    # Something blocked us well past the slot (a busy camera): opening
                    # now would be late and would crowd the next frame. Skip it.
                    shutter_missed = reported = True
                    self._skip_shutter(frame, armed, REACHED_LATE)
                if shutter_missed and step.edge is not None and step.edge.line is Line.SHUTTER:
                    continue
                if not (armed or shutter_missed) and before_shutter <= ARM_LEAD_NS:
                    if not self._arm(frame, at):
                        return False
                    armed = True
                    frame = self._held_open(frame)
                precise = _precise(step, before_shutter)
                self._waiting_until = at
                woke = clock.wait_until(at, self.cancel, precise=precise)
                self._working_since, self._waiting_until = at, None
                if not woke:
                    if armed and not (opened or shutter_missed):
                        self._mark(Mark(MarkKind.NOT_FIRED, frame.frame, due))
                    return False
                # Only the shutter's opening is stamped: no clock read on the other steps.
                switched_at = clock.now_ns() if step.opens_shutter else 0
                if switched_at - at > LATE_LIMIT_NS:
                    # Woken too late (the machine stalled in the spin): not a late shot.
                    shutter_missed = reported = True
                    self._skip_shutter(frame, armed, WOKE_LATE)
                    continue
                error = self._apply(frame.frame, step)
                if error is not None:
                    if armed and not (opened or shutter_missed or step.opens_shutter):
                        # Failed before the shutter's own call: it will not open now. A
                        # failed shutter call keeps its armed mark: it may have switched.
                        self._mark(Mark(MarkKind.NOT_FIRED, frame.frame, due))
                    self._flush_events()
                    self._release("fault")
                    self.emit(Fault(message=error, frame=frame.frame))
                    if not reported:
                        self._report(frame, None, 0, "error", error)
                    return True
                if step.edge is None:
                    continue
                returned_at = clock.now_ns()
                if step.opens_shutter:
                    opened = True
                    opened_late_ns = max(0, switched_at - at)
                    # Stamped before the call: the moment the output was told to switch.
                    wall = clock.wall_ns() - (clock.now_ns() - switched_at)
                    # Past the latency-critical call, before anyone hears of the edge.
                    self._mark(Mark(MarkKind.FIRED, frame.frame, due, switched_at, wall))
                self._emit(EdgeDone(frame.frame, step.edge.line, step.edge.on, returned_at))
                if step.opens_shutter:
                    self._flush_events()
                    self.collector.after_shutter()
                    self._report(frame, switched_at, wall, "ok")
                    reported = True
        finally:
            self._flush_events()
            self.collector.after_shutter()
        return True

    def _skip_shutter(self, frame: FrameDue, armed: bool, why: str) -> None:
        """Give ``frame``'s shutter up: reached more than :data:`LATE_LIMIT_NS` late."""
        if armed:
            self._mark(Mark(MarkKind.NOT_FIRED, frame.frame, frame.due_ns))
        self._flush_events()
        self._report(frame, None, 0, "missed", why)

    def _arm(self, frame: FrameDue, step_at: int) -> bool:
        """Mark ``frame`` armed :data:`ARM_LEAD_NS` before its shutter (at once when that
        has passed, but never after ``step_at``); False if cancelled while waiting."""
        arm_at = min(frame.due_ns - ARM_LEAD_NS, step_at)
        if self.clock.now_ns() < arm_at:
            self._waiting_until = arm_at
            woke = self.clock.wait_until(arm_at, self.cancel)
            self._working_since, self._waiting_until = arm_at, None
            if not woke:
                return False
        # The last moment with room for a collection before this shutter: after it, none.
        self.collector.before_shutter(self._quiet[0] - self.clock.now_ns())
        self._mark(Mark(MarkKind.ARMED, frame.frame, frame.due_ns))
        return True

    def _held_open(self, frame: FrameDue) -> FrameDue:
        """``frame`` with its shutter held as long as the camera asks: a bulb the wired
        line times (auto exposure at night). Asked as the frame is armed, when the
        camera's setting for it is made (never within its guard before a shutter);
        only the steps after the opening change."""
        camera = self.camera
        if camera is None or not camera.drives_shutter_line:
            return frame
        hold_ns = camera.line_hold_ns()
        if hold_ns is None:
            return frame
        return self.scheduler.held_open(frame, hold_ns)

    @staticmethod
    def _first_wake(frame: FrameDue) -> int:
        """When the timing thread wakes for the last time before ``frame``'s shutter."""
        wakes = [
            frame.due_ns + step.offset_ns - SPIN_NS
            for step in frame.steps
            if step.offset_ns <= 0 and _precise(step, -step.offset_ns)
        ]
        return min(wakes, default=frame.due_ns - SPIN_NS)

    def _hold_events(self) -> None:
        """From now until the shutter opens, keep events here.

        Handing one over wakes the journal and socket threads, and they would
        hold the GIL just when the timing thread needs it for the shutter. Until
        then, too, the GIL changes hands every :data:`SHUTTER_SWITCH_INTERVAL_S`.
        """
        if self._held is None:
            self._held = []
            self._switch_interval_s = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch_interval_s, SHUTTER_SWITCH_INTERVAL_S))

    def _flush_events(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            sys.setswitchinterval(self._switch_interval_s)
        for event in held or ():
            self.emit(event)

    def _emit(self, event: EngineEvent) -> None:
        if self._held is not None:
            self._held.append(event)
        else:
            self.emit(event)

    def _apply(self, frame: int, step: Step) -> str | None:
        """Switch what ``step`` says; return a message if the rig failed."""
        edge = step.edge
        try:
            if edge is None:
                # The LED is derived from the plan, so clients need no event for it.
                self.rig.set_led(step.led or 0.0)
                return None
            camera = self.camera
            if camera is not None and edge.line is Line.SHUTTER:
                if camera.drives_shutter_line:
                    # The line is the shutter: switched first, then the camera hears of it
                    # (handing it the edge wakes its thread, which would take the GIL).
                    self.rig.set_line(edge.line, edge.on)
                camera.shutter(frame, edge.on)
            else:
                self.rig.set_line(edge.line, edge.on)
        except Exception as error:  # a rig fault costs a frame, never the run
            what = edge.line.value if edge is not None else "LED"
            return f"{what} output failed: {error}"
        return None

    def _mark(self, mark: Mark) -> None:
        """Write ``mark``; a file that fails is said once and then left alone, never
        costing a frame."""
        if self.marks is None:
            return
        try:
            self.marks.write(mark)
        except OSError as error:
            self.marks = None
            self._emit(
                Fault(
                    message=f"could not write the shutter marks ({error.strerror or error}):"
                    " a frame fired just before a crash may be journaled missed",
                    frame=mark.frame,
                )
            )

    def _report(
        self,
        frame: FrameDue,
        fired_ns: int | None,
        wall_ns: int,
        status: str,
        error: str | None = None,
    ) -> None:
        if fired_ns is None:
            wall_ns = self.clock.wall_ns() - (self.clock.now_ns() - frame.due_ns)
        self.emit(
            FrameDone(
                frame=frame.frame,
                due_ns=frame.due_ns,
                fired_ns=fired_ns,
                wall_ns=wall_ns,
                status=status,
                error=error,
            )
        )

    def _release(self, when: str) -> None:
        try:
            self.rig.release()
        except Exception as error:
            self.emit(Fault(message=f"could not release the outputs at {when}: {error}"))


def _precise(step: Step, before_shutter_ns: int) -> bool:
    """Whether the wait for ``step`` spins its last stretch.

    Inside the spin window keep the CPU (and the GIL) until the shutter: a sleep there
    could wake behind another thread holding the GIL.
    """
    return step.precise or 0 < before_shutter_ns <= SPIN_NS


TIMING_PRIORITY = 10
"""SCHED_FIFO priority of the timing thread."""
SUPPORT_PRIORITY = 1
"""SCHED_FIFO priority of the daemon's other threads: below the timing thread, above
ordinary processes, so none of them is preempted while holding the GIL the timing
thread is about to need (a priority inversion measured as skipped frames under load)."""


GIL_SWITCH_INTERVAL_S = 0.0005
"""How long a thread may keep the GIL while another waits for it (Python's default is
5 ms). The timing thread wakes ``SPIN_NS`` (2 ms) before a shutter and needs the GIL
back at once: with the default, a journal, socket or camera thread in the middle of
its work kept it past the shutter's due time (a frame missed, ``REACHED_LATE``)."""


SHUTTER_SWITCH_INTERVAL_S = 0.00005
"""The switch interval in the last ``QUIET_NS`` before a shutter, until it has opened.

Another thread that wakes then (a socket, the journal's disk write returning) asks
for the GIL and takes it after the interval, and the timing thread then waits as
long to get it back: at 0.5 ms that is most of the 0.67 ms between the focus and
the shutter at a 10 ms interval, and frames were missed. The cost, threads handing
the GIL over more often, is paid only in this stretch."""


def hand_over_the_gil_quickly() -> None:
    """Make every thread of this process give up the GIL within
    :data:`GIL_SWITCH_INTERVAL_S` of another asking for it (process-wide)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


def request_realtime_priority(priority: int = TIMING_PRIORITY) -> bool:
    """Ask for SCHED_FIFO at ``priority`` for the calling thread (threads it starts
    inherit it); carry on without it where not allowed."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (AttributeError, OSError, PermissionError):
        return False
    return True
