"""Whether the wall clock can carry a run over a reboot (docs/architecture.md §3).

After a reboot the monotonic clock starts again from zero, so a resumed run is
re-anchored through the wall clock. A Pi with no clock chip and no network
boots with a wrong wall time: trusted, it would move the grid by the error,
waiting a year in silence or journaling thousands of slots as missed. So
before a resume on another boot the wall clock is checked against the journal
(it can never be behind the newest wall time the run wrote) and against what
the system says of it. On the same boot the monotonic anchor holds and the
wall clock does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.model.records import FrameRecord

BEHIND = "the clock is behind the journal's last frame"
UNSYNCHRONISED = "the system clock is not synchronised"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ClockTrust:
    """The verdict on the wall clock: trusted, or why not (as the photographer reads it)."""

    why_not: str | None = None

    @property
    def trusted(self) -> bool:
        """The wall clock may re-anchor the run."""
        return self.why_not is None


TRUSTED = ClockTrust()


def clock_trust(
    *, same_boot: bool, journal_wall_ns: int, wall_ns: int, synchronised: bool | None
) -> ClockTrust:
    """Whether a run may resume on the wall clock ``wall_ns``.

    ``journal_wall_ns`` is the newest wall time the run's journal holds
    (:func:`journal_wall_ns`); ``synchronised`` is what the system says of its
    clock, None when it cannot be told (then the journal alone decides).
    """
    if same_boot:
        return TRUSTED
    if wall_ns < journal_wall_ns:
        return ClockTrust(f"{BEHIND} ({_local(journal_wall_ns)})")
    if synchronised is False:
        return ClockTrust(UNSYNCHRONISED)
    return TRUSTED


def journal_wall_ns(last: FrameRecord | None, created: str) -> int:
    """The newest wall time a run's journal holds: its newest frame line's, or when it
    has none the time ``run.toml`` was created."""
    return wall_ns_of(created if last is None else last.wall)


def wall_ns_of(wall: str) -> int:
    """Nanoseconds since the epoch of a journal's ISO-8601 time (which carries its zone)."""
    return (datetime.fromisoformat(wall) - _EPOCH) // timedelta(microseconds=1) * 1000


def waiting_line(why_not: str) -> str:
    """How every client and the daemon's log say a run waits for the clock."""
    return f"waiting for the clock: {why_not}"


def _local(wall_ns: int) -> str:
    """``2026-11-30 04:12:07``: the journal's time in the Pi's zone, to the second."""
    moment = datetime.fromtimestamp(wall_ns // 1_000_000_000, UTC).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S")
