"""One line of a run's ``frames.jsonl``: what happened at one grid slot.

A slot's line is written when its shutter opens. What a camera says later
(the file it saved, or that it failed the frame) is appended as a whole new
line for the same ``frame``: the last line of a frame is the one that counts,
and readers (:func:`merge_frames`) see one record per slot. Such a later line
is only ever written within :data:`AMEND_WINDOW` frames of the newest slot.

Plain values only: reading and writing the files is :mod:`core.journal`'s and
:mod:`core.daemon.journal_writer`'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

FRAME_STATUSES: tuple[str, ...] = ("ok", "missed", "error", "unknown", "skipped")
"""``ok``: the shutter fired; ``missed``: the slot was given up; ``error``: it went wrong;
``unknown``: the daemon ended around the shutter and cannot tell whether it fired;
``skipped``: the slot fell outside the run's window, and nothing was meant to fire."""

RANGE_STATUSES: tuple[str, ...] = ("missed", "unknown", "skipped")
"""The statuses one line may give to a range of slots (``last``): those that never carry a
``fired_ns``, so every slot of the range is told by the first one's times and the grid."""

FRAME_KEYS: tuple[str, ...] = (
    "frame",
    "due_ns",
    "fired_ns",
    "wall",
    "status",
    "file",
    "error",
    "lateness_ns",
)
"""The keys of every frames.jsonl line, in the order they are written. A line covering a
range of slots also has ``last``, right after ``frame``; a frame whose file was measured
has ``brightness`` at the end, and one taken by auto exposure ``exposure`` after it."""
_REQUIRED_FRAME_KEYS = ("frame", "due_ns", "fired_ns", "wall", "status")

AMEND_WINDOW = 64
"""A frame's line is only ever completed while fewer than this many newer slots exist,
so reading backwards for the newest slot can stop this far below it."""


def is_int(value: object) -> bool:
    """True for a whole number; bool is an int to Python, never to the journal."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_optional_str(value: object) -> bool:
    """True for text or None."""
    return value is None or isinstance(value, str)


def check_wall(name: str, value: object) -> None:
    """Raise :class:`ValueError` unless ``value`` is an ISO-8601 time with its zone."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO-8601 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is not an ISO-8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{name} must carry its time zone: {value!r}")


@dataclass(frozen=True)
class FrameRecord:
    """What happened at one grid slot: one line of ``frames.jsonl``.

    Invariants, checked on construction (:class:`ValueError` otherwise): an
    ``ok`` frame has a ``fired_ns``, a ``missed`` one has none.
    """

    frame: int
    """0-based grid index k: the shutter was due at t0 + k·interval."""
    due_ns: int
    """Monotonic ns at which the shutter was due to open (on the boot that wrote the line)."""
    fired_ns: int | None
    """Monotonic ns at which the shutter output was told to switch on: stamped just before
    the output call (``rig.set_line``), or before the USB trigger was handed to the camera's
    thread; None when missed. When that call returned is the ``edge`` event's ``at_ns``."""
    wall: str
    """Wall time of the slot, ISO-8601 with zone (:func:`core.clock.wall_iso`)."""
    status: str
    """One of :data:`FRAME_STATUSES`."""
    file: str | None = None
    """The file a camera returned, relative to the run folder."""
    error: str | None = None
    """What went wrong, for ``error`` and ``missed`` frames: ``"camera busy"``."""
    last: int | None = None
    """The last slot this line covers (a gap: slots ``frame``…``last``, all with this
    status); None for one slot. ``due_ns`` and ``wall`` are the first slot's."""
    brightness: float | None = None
    """How bright the frame's file is, 0 (black) to 1 (white): its mean luminance, measured
    once it was saved (``core/brightness.py``); None when not measured."""
    exposure: str | None = None
    """The shutter speed and ISO auto exposure took the frame at: ``1/125 ISO 400``."""

    def __post_init__(self) -> None:
        if not is_int(self.frame) or self.frame < 0:
            raise ValueError(f"frame must be a whole number from 0, got {self.frame!r}")
        # due_ns may be negative: after a reboot the slots missed while the Pi
        # was down lie before the new boot's monotonic zero.
        if not is_int(self.due_ns):
            raise ValueError(f"due_ns must be whole nanoseconds, got {self.due_ns!r}")
        if self.fired_ns is not None and not is_int(self.fired_ns):
            raise ValueError(f"fired_ns must be whole nanoseconds or null, got {self.fired_ns!r}")
        check_wall("wall", self.wall)
        if self.status not in FRAME_STATUSES:
            raise ValueError(
                f"status must be one of {', '.join(FRAME_STATUSES)}, got {self.status!r}"
            )
        if self.status == "ok" and self.fired_ns is None:
            raise ValueError("an ok frame must have fired_ns")
        if self.status in RANGE_STATUSES and self.fired_ns is not None:
            article = "an" if self.status == "unknown" else "a"
            raise ValueError(f"{article} {self.status} frame cannot have fired_ns")
        if not is_optional_str(self.file) or self.file == "":
            raise ValueError(f"file must be a path or null, got {self.file!r}")
        if not is_optional_str(self.error):
            raise ValueError(f"error must be text or null, got {self.error!r}")
        if self.last is not None:
            self._check_range()
        if self.brightness is not None and not (
            isinstance(self.brightness, int | float)
            and not isinstance(self.brightness, bool)
            and 0 <= self.brightness <= 1
        ):
            raise ValueError(f"brightness must be a number from 0 to 1, got {self.brightness!r}")
        if not is_optional_str(self.exposure) or self.exposure == "":
            raise ValueError(f"exposure must be text or null, got {self.exposure!r}")

    def _check_range(self) -> None:
        if not is_int(self.last) or self.last < self.frame:
            raise ValueError(f"last must be a whole number from frame on, got {self.last!r}")
        if self.status not in RANGE_STATUSES or self.fired_ns is not None:
            raise ValueError(f"a range of slots cannot be {self.status!r}")

    @property
    def slots(self) -> int:
        """How many slots this line covers."""
        return 1 if self.last is None else self.last - self.frame + 1

    @property
    def last_slot(self) -> int:
        """The newest slot this line covers."""
        return self.frame if self.last is None else self.last

    @property
    def lateness_ns(self) -> int | None:
        """How late the shutter fired (fired − due); None when it did not fire."""
        return None if self.fired_ns is None else self.fired_ns - self.due_ns

    def to_dict(self) -> dict[str, Any]:
        """The line's keys and values, in :data:`FRAME_KEYS` order; absent values are None.
        A range's ``last`` follows ``frame``; a line of one slot has none, as ever."""
        data: dict[str, Any] = {"frame": self.frame}
        if self.last is not None:
            data["last"] = self.last
        data |= {
            "due_ns": self.due_ns,
            "fired_ns": self.fired_ns,
            "wall": self.wall,
            "status": self.status,
            "file": self.file,
            "error": self.error,
            "lateness_ns": self.lateness_ns,
        }
        if self.brightness is not None:
            data["brightness"] = self.brightness
        if self.exposure is not None:
            data["exposure"] = self.exposure
        return data

    def to_json(self) -> str:
        """One compact line of JSON, without the newline.

        ASCII only, so a byte-level cut can never split a character and every
        raw newline or control character in a text is escaped.
        """
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FrameRecord:
        """Read one decoded line; :class:`ValueError` for anything that is not a frame.

        Unknown keys are ignored so that an older lapse can read a newer
        journal; ``lateness_ns``, when present, must agree with the times.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a frame must be a JSON object, got {type(data).__name__}")
        missing = [key for key in _REQUIRED_FRAME_KEYS if key not in data]
        if missing:
            raise ValueError(f"a frame needs {', '.join(missing)}")
        record = cls(
            frame=data["frame"],
            due_ns=data["due_ns"],
            fired_ns=data["fired_ns"],
            wall=data["wall"],
            status=data["status"],
            file=data.get("file"),
            error=data.get("error"),
            last=data.get("last"),
            brightness=data.get("brightness"),
            exposure=data.get("exposure"),
        )
        if "lateness_ns" in data and data["lateness_ns"] != record.lateness_ns:
            raise ValueError(
                f"lateness_ns {data['lateness_ns']!r} does not match fired_ns − due_ns"
            )
        return record


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_frame_line(raw: bytes) -> FrameRecord:
    """Read one line of ``frames.jsonl`` (with or without its newline).

    Raises :class:`ValueError` for anything but one complete frame object.
    """
    try:
        # json.loads takes NaN and Infinity unless told not to; a nesting of
        # garbage brackets hits the recursion limit rather than a ValueError.
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deeply to be a frame") from None
    return FrameRecord.from_dict(data)


def merge_frames(records: Sequence[FrameRecord]) -> list[FrameRecord]:
    """One record per line's first slot, in the order they first appear: a frame's last
    line wins. A range stays one record (nothing ever amends one: its slots never fired)."""
    merged: dict[int, FrameRecord] = {}
    for record in records:
        merged[record.frame] = record
    return list(merged.values())
