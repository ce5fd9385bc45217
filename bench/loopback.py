"""Loopback: from a frame's due time to the physical shutter edge, stamped by the kernel.

On a Pi the shutter output is wired to an input pin (GPIO 21, header pin 40,
through a 1 kΩ resistor to the input: ``bench/timing.py --loopback IN_PIN``).
An :class:`EdgeProbe` claims the input through gpiozero and records every
edge gpiozero reports through the pin's ``when_changed(ticks, state)``
callback; :func:`match_edges` pairs each frame's due time with the first edge
near it, so each frame has three moments on one clock:

- ``due_ns``: when the shutter was due (the journal's ``due_ns``);
- ``written_ns``: when the output write returned (the engine's shutter-on
  ``EdgeDone.at_ns``, the ``edge`` event a client receives);
- ``edge_ns``: when the level changed on the wire, as the kernel saw it.

Which clock the ticks are on. On gpiozero's lgpio factory (a Pi's default)
``ticks`` is the kernel's timestamp of the GPIO line event, in nanoseconds,
divided by 10⁹ (``LGPIOPin._call_when_changed``): lgpio's alert thread reads
``timestamp_ns`` of each ``gpio_v2_line_event`` and hands it on unchanged.
The kernel stamps those on CLOCK_MONOTONIC unless the line was requested with
``GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME``, which lgpio leaves unset (its
flag mapping has that line commented out); the older v1 line events are
CLOCK_MONOTONIC as well since Linux 5.7. CLOCK_MONOTONIC is what
``time.monotonic_ns()`` reads, and so what lapse schedules on. On gpiozero's
``MockFactory`` the ticks are ``time.monotonic()`` at the change. So the ticks
are taken as monotonic seconds; :func:`ticks_to_monotonic_ns` checks that
each one lies just before the moment the callback runs on CLOCK_MONOTONIC,
accepts a stamp on CLOCK_REALTIME (an lgpio that asks for it) by moving it
onto the monotonic clock, and refuses a stamp on neither.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench._common import Check, drift_ns, fmt, percentile
from core.model.events import EdgeDone, FrameDone
from core.model.plan import Line

TICK_WINDOW_NS = 10_000_000_000
"""A callback runs this long after its edge at most; a stamp further back is on another clock."""
LOOPBACK_IDLE_P99_US = 250.0
LOOPBACK_LOADED_P99_US = 1000.0


class ClockMismatch(RuntimeError):
    """An edge's ticks are on neither CLOCK_MONOTONIC nor CLOCK_REALTIME."""


def ticks_to_monotonic_ns(ticks: float, monotonic_now_ns: int, realtime_now_ns: int) -> int:
    """An edge's ``ticks`` (seconds) as CLOCK_MONOTONIC ns, given both clocks read in the callback.

    The edge happened before its callback ran, and not long before: the clock
    the ticks are on is the one they lie just behind.
    """
    stamp_ns = round(ticks * 1e9)
    if 0 <= monotonic_now_ns - stamp_ns < TICK_WINDOW_NS:
        return stamp_ns
    if 0 <= realtime_now_ns - stamp_ns < TICK_WINDOW_NS:
        return stamp_ns - (realtime_now_ns - monotonic_now_ns)
    raise ClockMismatch(
        f"an edge stamped {ticks:.6f} s is on neither CLOCK_MONOTONIC"
        f" ({monotonic_now_ns / 1e9:.6f} s) nor CLOCK_REALTIME ({realtime_now_ns / 1e9:.6f} s)"
    )


class EdgeProbe:
    """An input pin that records the kernel's timestamp of every shutter-on edge.

    ``rising`` is the shutter's opening edge: rising for active-high outputs,
    falling for ``hardware.active_high = false``. The pin is pulled to the
    shutter's released level, so an unwired input shows no edges rather than noise.
    """

    def __init__(self, factory: Any, pin: int, rising: bool = True) -> None:
        self.edges_ns: list[int] = []
        """CLOCK_MONOTONIC ns of each opening edge, in the order they came."""
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self.pin = factory.pin(pin)
        self.pin.function = "input"
        self.pin.pull = "down" if rising else "up"
        self.pin.edges = "rising" if rising else "falling"
        # gpiozero keeps only a weak reference to a bound method: the probe holds itself.
        self.pin.when_changed = self._changed

    def _changed(self, ticks: float, state: int | bool) -> None:
        # Both clocks at once, first thing: the stamp is placed against them.
        monotonic_now, realtime_now = time.monotonic_ns(), time.time_ns()
        try:
            at = ticks_to_monotonic_ns(ticks, monotonic_now, realtime_now)
        except ClockMismatch as error:
            with self._lock:
                self.errors.append(str(error))
            return
        with self._lock:
            self.edges_ns.append(at)

    def snapshot(self) -> list[int]:
        """The edges so far, sorted."""
        with self._lock:
            return sorted(self.edges_ns)

    def close(self) -> None:
        """Stop listening and give the pin back."""
        self.pin.when_changed = None
        self.pin.close()


@dataclass(frozen=True)
class Fired:
    """One frame as the driver of the shutter output saw it."""

    frame: int
    due_ns: int
    written_ns: int | None
    """When the shutter-on write returned (``EdgeDone.at_ns``); None if it did not fire."""
    status: str
    """The journal's status: ``ok``, ``missed`` or ``error``."""

    @property
    def lateness_ns(self) -> int | None:
        """due → the write returned, for a frame that fired; None otherwise."""
        if self.status != "ok" or self.written_ns is None:
            return None
        return self.written_ns - self.due_ns


def fired_from_engine(events: queue.SimpleQueue[object]) -> list[Fired]:
    """The frames an engine in this process reported on ``events`` (its ``emit``), each
    with its shutter-on ``EdgeDone.at_ns``, as a daemon's journal and edge events give them."""
    written: dict[int, int] = {}
    frames: list[FrameDone] = []
    while not events.empty():
        event = events.get()
        if isinstance(event, EdgeDone) and event.line is Line.SHUTTER and event.on:
            written[event.frame] = event.at_ns
        elif isinstance(event, FrameDone):
            frames.append(event)
    return [Fired(f.frame, f.due_ns, written.get(f.frame), f.status) for f in frames]


@dataclass
class LoopbackFigures:
    """One loopback run: per-frame lateness to the wire, in ns, and what went missing."""

    condition: str
    due_to_edge_ns: list[int] = field(default_factory=list)
    due_to_write_ns: list[int] = field(default_factory=list)
    write_to_edge_ns: list[int] = field(default_factory=list)
    """Edge minus write returned: negative when the wire changed before the call returned."""
    frames: int = 0
    not_fired: int = 0
    """Frames the engine did not fire (missed or error)."""
    no_edge: int = 0
    """Frames that fired but whose edge never reached the input."""
    stray_edges: int = 0
    """Edges near no frame."""
    clock_errors: list[str] = field(default_factory=list)

    def stats_us(self, values: Sequence[int]) -> dict[str, float]:
        """p50, p99 and max in µs, and the drift (last tenth minus first) in µs."""
        shown = [value / 1000 for value in values]
        return {
            "p50": percentile(shown, 50),
            "p99": percentile(shown, 99),
            "max": max(shown) if shown else math.nan,
            "drift": drift_ns(shown),
        }


def match_edges(
    fired: Sequence[Fired], edges_ns: Sequence[int], interval_ns: int, condition: str = "idle"
) -> LoopbackFigures:
    """Pair each frame with the first edge within half an interval of its due time.

    An edge before the due time is kept (it is an early shutter, a failure),
    so the window opens half an interval before it.
    """
    figures = LoopbackFigures(condition=condition, frames=len(fired))
    remaining = sorted(edges_ns)
    used: set[int] = set()
    for frame in sorted(fired, key=lambda item: item.due_ns):
        if frame.status != "ok" or frame.written_ns is None:
            figures.not_fired += 1
            continue
        low, high = frame.due_ns - interval_ns // 2, frame.due_ns + interval_ns // 2
        index = next(
            (i for i, at in enumerate(remaining) if low <= at < high and i not in used), None
        )
        if index is None:
            figures.no_edge += 1
            continue
        used.add(index)
        edge = remaining[index]
        figures.due_to_edge_ns.append(edge - frame.due_ns)
        figures.due_to_write_ns.append(frame.written_ns - frame.due_ns)
        figures.write_to_edge_ns.append(edge - frame.written_ns)
    figures.stray_edges = len(remaining) - len(used)
    return figures


def measure_loopback(
    factory: Any,
    in_pin: int,
    drive: Callable[[], list[Fired]],
    interval_ns: int,
    condition: str = "idle",
    rising: bool = True,
    settle_s: float = 0.2,
) -> LoopbackFigures:
    """Watch ``in_pin`` on ``factory`` while ``drive`` fires the frames; match them up.

    ``drive`` runs a whole run and returns its frames: on a Pi, a lapse daemon
    on real GPIO; in the tests, an engine on mock pins wired to the input.
    """
    probe = EdgeProbe(factory, in_pin, rising=rising)
    try:
        fired = drive()
        time.sleep(settle_s)  # the last edge's callback comes from the pin library's thread
        edges = probe.snapshot()
    finally:
        probe.close()
    figures = match_edges(fired, edges, interval_ns, condition)
    figures.clock_errors = list(probe.errors)
    return figures


def loopback_checks(results: Sequence[LoopbackFigures]) -> list[Check]:
    """The timing targets, applied to the physical edge: never early, nothing lost, p99."""
    checks: list[Check] = []
    for figures in results:
        name = figures.condition
        lost = figures.not_fired + figures.no_edge
        checks.append(
            (
                f"loopback: every frame's edge reached the input ({name})",
                lost == 0 and not figures.clock_errors and figures.frames > 0,
                f"{figures.not_fired} not fired, {figures.no_edge} fired with no edge, of"
                f" {figures.frames}; {len(figures.clock_errors)} edges on an unknown clock",
            )
        )
        early = sum(1 for value in figures.due_to_edge_ns if value < 0)
        checks.append(
            (
                f"loopback: no edge before its due time ({name})",
                None if not figures.due_to_edge_ns else early == 0,
                f"{early} early of {len(figures.due_to_edge_ns)}",
            )
        )
        p99 = figures.stats_us(figures.due_to_edge_ns)["p99"]
        # The timing targets: idle p99 ≤ 250 µs, loaded p99 < 1 ms.
        if name == "loaded":
            target, passed = f"< {LOOPBACK_LOADED_P99_US:g}", p99 < LOOPBACK_LOADED_P99_US
        else:
            target, passed = f"≤ {LOOPBACK_IDLE_P99_US:g}", p99 <= LOOPBACK_IDLE_P99_US
        checks.append(
            (
                f"loopback: due → edge p99 {target} µs ({name})",
                None if math.isnan(p99) else passed,
                f"{fmt(p99)} µs",
            )
        )
    return checks
