"""Will the battery and the disk last the run? Said before start and while running.

Pure: from the run's settings, how far it has got, a battery reading and the
free space, :func:`assess_run` says in words what runs out before the run
ends, for the TUI and ``lapse status``, with the numbers behind the words.

The disk is judged only once the size of a frame is known (the average of the
files downloaded so far). Before that there is no guess: a rig that fires over
GPIO alone keeps every file on the camera's card, and a default frame size
would warn about a disk that never receives one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from core.model.durations import format_approx
from core.model.settings import Settings

DEFAULT_RESERVE_BYTES = 50_000_000
"""Free space the journal keeps for itself, never counted as room for frames."""


class BatteryFigures(Protocol):
    """What the planner reads from a battery: a ``BatteryReading`` or a ``BatteryEstimate``."""

    @property
    def lasts_ns(self) -> int | None:
        """How long the battery lasts at its present draw; None: unknown or not draining."""
        ...

    @property
    def charging(self) -> bool | None:
        """True while external power feeds the battery (it is not draining)."""
        ...


@dataclass(frozen=True)
class RunOutlook:
    """What runs out before the run ends, in words and in numbers."""

    warnings: tuple[str, ...]
    """One line each for the battery and the disk when it will not last; empty when all will."""
    notes: tuple[str, ...]
    """Information that is no warning: how long the battery lasts a run until stopped, …"""
    frames_left: int | None
    """Frames still to take; None for a run until stopped."""
    needs_ns: int | None
    """How long the run still needs (frames left × interval, plus any wait); None: until stopped."""
    battery_lasts_ns: int | None
    """How long the battery lasts; None when unknown or on external power."""
    battery_short: bool
    """The battery runs out before the run ends."""
    frames_fit: int | None
    """How many more frames fit on the disk; None while a frame's size is unknown."""
    disk_short: bool
    """The disk fills before the run ends (or is already down to the reserve)."""

    @property
    def ok(self) -> bool:
        """True when nothing is expected to run out."""
        return not self.warnings

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the socket and ``lapse status --json``."""
        return {
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "frames_left": self.frames_left,
            "needs_ns": self.needs_ns,
            "battery_lasts_ns": self.battery_lasts_ns,
            "battery_short": self.battery_short,
            "frames_fit": self.frames_fit,
            "disk_short": self.disk_short,
        }


def assess_run(
    settings: Settings,
    *,
    frames_done: int = 0,
    battery: BatteryFigures | None = None,
    free_bytes: int | None = None,
    average_file_bytes: float | None = None,
    reserve_bytes: int = DEFAULT_RESERVE_BYTES,
    wait_ns: int | None = None,
    needs_ns: int | None = None,
) -> RunOutlook:
    """Whether the battery and the free space last the rest of the run.

    ``frames_done`` counts the grid slots already passed (taken or missed).
    ``battery`` is a reader's reading or the model's estimate (None: unknown).
    ``free_bytes`` is the free space where frames are saved (None: unknown),
    ``average_file_bytes`` the average size of a downloaded frame (None: none
    downloaded yet, so the disk is not judged), and ``reserve_bytes`` what
    stays free for the journal (pass the camera's download reserve when it
    is larger: downloads pause there). ``wait_ns`` is time the battery must
    cover before the next frame's cycle; None takes the start delay for a
    run with no frame done yet, else nothing. ``needs_ns``: how long the run still
    needs when its grid alone cannot say (a window skips the day, a night interval
    slows the night): the scheduler's word, in place of frames left × interval.
    """
    frames_done = max(0, frames_done)
    if settings.frames:
        frames_left: int | None = max(0, settings.frames - frames_done)
    else:
        frames_left = None
    if wait_ns is None:
        wait_ns = settings.delay_ns if frames_done == 0 else 0
    if needs_ns is None and frames_left is not None:
        needs_ns = frames_left * settings.interval_ns + wait_ns
    elif frames_left is None:
        needs_ns = None
    finished = frames_left == 0

    warnings: list[str] = []
    notes: list[str] = []

    lasts_ns = None if battery is None or battery.charging else battery.lasts_ns
    battery_short = False
    if battery is not None and battery.charging:
        notes.append("on external power: the battery is not draining")
    elif lasts_ns is not None and not finished:
        if needs_ns is None:
            notes.append(f"runs until stopped; the battery lasts about {format_approx(lasts_ns)}")
        elif needs_ns > lasts_ns:
            battery_short = True
            warnings.append(
                f"the battery lasts about {format_approx(lasts_ns)};"
                f" the run needs {format_approx(needs_ns)}"
            )

    frames_fit: int | None = None
    disk_short = False
    if free_bytes is not None and not finished:
        room = free_bytes - reserve_bytes
        known_size = average_file_bytes is not None and average_file_bytes > 0
        if known_size:
            assert average_file_bytes is not None
            frames_fit = max(0, int(room // average_file_bytes))
        if room <= 0:
            disk_short = True
            warnings.append(
                f"the disk is nearly full: {format_bytes(free_bytes)} free, within the"
                f" {format_bytes(reserve_bytes)} kept in reserve"
            )
        elif frames_fit is not None:
            assert average_file_bytes is not None
            if frames_left is None:
                fills_in = format_approx(frames_fit * settings.interval_ns)
                notes.append(f"the disk fills after about {frames_fit:,} more frames ({fills_in})")
            elif frames_fit < frames_left:
                disk_short = True
                warnings.append(
                    f"the disk fills after about {frames_fit:,} more frames"
                    f" ({format_bytes(free_bytes)} free, {format_bytes(average_file_bytes)}"
                    f" a frame); the run needs {frames_left:,}"
                )

    return RunOutlook(
        warnings=tuple(warnings),
        notes=tuple(notes),
        frames_left=frames_left,
        needs_ns=needs_ns,
        battery_lasts_ns=lasts_ns,
        battery_short=battery_short,
        frames_fit=frames_fit,
        disk_short=disk_short,
    )


_BYTE_UNITS = ("kB", "MB", "GB", "TB", "PB")


def format_bytes(count: float) -> str:
    """A size as card makers print it, in powers of 1000: ``"9.8 MB"``, ``"12 GB"``."""
    if abs(count) < 1000:
        return f"{int(count)} bytes"
    value = float(count)
    for unit in _BYTE_UNITS:
        value /= 1000
        if abs(value) < 999.5 or unit == _BYTE_UNITS[-1]:
            break
    return f"{value:.1f} {unit}" if abs(value) < 9.95 else f"{value:.0f} {unit}"
