"""After the run, as plain logic: which picture each video frame shows, how deflicker
evens the brightness out, which encoder makes a codec, and the sizes a video may have.

The work itself (decoding, encoding, stacking) is ``core/after/``'s; this module decides,
so the rules are tested without a single picture (docs/architecture.md §12).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass

from core.model.errors import LapseError
from core.model.fields import Flag, Table, Text
from core.model.protocol import AfterStatus
from core.model.records import FrameRecord

HELD_STATUSES = ("missed", "error", "unknown", "ok")
"""Slots that hold the previous picture when they have no file of their own: an ``ok`` slot
whose file never came (a lost download) counts as one too. ``skipped`` slots (outside the
run's window) are left out of the video: nothing was meant to be there."""

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}
"""The named video sizes (``--size``); ``WxH`` gives any other."""
CODECS = ("h264", "hevc", "av1")
ENCODERS = {
    "h264": ("h264_v4l2m2m", "libx264"),
    "hevc": ("hevc_v4l2m2m", "libx265"),
    "av1": ("libsvtav1", "libaom-av1"),
}
"""Each codec's encoders, best first: the Pi 4's hardware encoder (V4L2 memory-to-memory)
where it exists and opens, else the software one PyAV's wheels bring."""
DEFLICKER_WINDOW = 15
"""Frames in deflicker's moving window (centred): long enough to average out a frame's
flicker, short enough to follow a sunset."""
MAX_DEFLICKER_GAIN = 4.0
"""Deflicker never brightens or darkens a frame by more than this factor (two EV): a frame
that far off its neighbours is a change in the scene, not flicker."""


PRODUCTS = ("video", "keogram", "startrails")
"""What lapse makes after a run, in the order it makes them."""
DAILY_AT = "09:00"
"""When a run until stopped gets the day's video and images by default: after sunrise
at most places, so a night's frames are all in."""


class AfterError(LapseError):
    """A render, keogram or star-trail image cannot be made; the text says why."""


@dataclass(frozen=True)
class AfterConfig:
    """The ``[after]`` table: what the daemon makes when a run ends, and when a run until
    stopped gets them each day."""

    video: bool = False
    keogram: bool = False
    startrails: bool = False
    daily_at: str = DAILY_AT
    """Local time of day, ``HH:MM``, at which a run until stopped gets the products of the
    frames since the last ones."""

    @property
    def products(self) -> tuple[str, ...]:
        """What is to be made, in :data:`PRODUCTS` order; empty when nothing is."""
        return tuple(name for name in PRODUCTS if getattr(self, name))

    @property
    def daily_minute(self) -> int:
        """:attr:`daily_at` as minutes after midnight."""
        hours, minutes = self.daily_at.split(":")
        return int(hours) * 60 + int(minutes)


def is_time_of_day(text: str) -> bool:
    """``HH:MM`` on a 24-hour clock."""
    match = re.fullmatch(r"(\d{2}):(\d{2})", text)
    return match is not None and int(match[1]) < 24 and int(match[2]) < 60


AFTER = Table(
    "after",
    (
        Flag("video"),
        Flag("keogram"),
        Flag("startrails"),
        Text("daily_at", what='a time of day on a 24-hour clock, "HH:MM"', accepts=is_time_of_day),
    ),
)
"""The ``[after]`` table: one field an :class:`AfterConfig` field."""


@dataclass(frozen=True, slots=True)
class Shown:
    """One frame of a video: the slot it stands for and the file it shows."""

    slot: int
    file: str
    """The picture's file, relative to the run's photos folder."""
    held: bool
    """True when the slot had no file of its own and shows the previous slot's."""
    brightness: float | None
    """The brightness the journal recorded for the picture shown; None when not measured."""


def shown_frames(
    records: Iterable[FrameRecord],
    *,
    skip_missing: bool = False,
    first: int | None = None,
    last: int | None = None,
) -> Iterator[Shown]:
    """The video's frames, in slot order, from a run's records (``Journal.frames``).

    A slot with a file shows it. A slot without one (missed, failed, unknown, or taken
    but never downloaded) holds the previous picture, so the video's time stays even, or
    is dropped with ``skip_missing``; slots before the first picture have nothing to hold
    and are dropped. Skipped slots (outside the window) are always dropped. ``first`` and
    ``last`` (slot numbers, both included) cut the run.
    """
    previous: Shown | None = None
    for record in records:
        slots = range(record.frame, record.last_slot + 1)
        for slot in slots:
            if (first is not None and slot < first) or (last is not None and slot > last):
                continue
            if record.file is not None and record.status == "ok":
                previous = Shown(slot, record.file, False, record.brightness)
                yield previous
            # Skipped slots (outside the window) are not among the held ones.
            elif record.status in HELD_STATUSES and previous is not None and not skip_missing:
                yield Shown(slot, previous.file, True, previous.brightness)


def deflicker_gains(
    brightness: Sequence[float | None], window: int = DEFLICKER_WINDOW
) -> list[float]:
    """The factor each frame's pixels are multiplied by to even its brightness out.

    Each frame is brought to the mean brightness of the ``window`` frames centred on it
    (fewer at the ends), so slow changes (a sunset) stay and frame-to-frame flicker goes.
    A frame with no measurement (None or NaN), or a black one, keeps its pixels (gain 1); gains are
    kept within 1/:data:`MAX_DEFLICKER_GAIN`…:data:`MAX_DEFLICKER_GAIN`.
    """
    if window < 1:
        raise ValueError("the deflicker window is at least one frame")
    values = list(brightness)
    half = window // 2
    # Running sums over the measured frames make the pass linear in the frames.
    sums = [0.0]
    counts = [0]
    for value in values:
        measured = value is not None and value > 0  # NaN too is not measured
        sums.append(sums[-1] + (value if measured else 0.0))
        counts.append(counts[-1] + (1 if measured else 0))
    gains: list[float] = []
    for index, value in enumerate(values):
        if not (value is not None and value > 0):
            gains.append(1.0)
            continue
        low, high = max(0, index - half), min(len(values), index + half + 1)
        target = (sums[high] - sums[low]) / (counts[high] - counts[low])
        gain = target / value
        gains.append(min(MAX_DEFLICKER_GAIN, max(1 / MAX_DEFLICKER_GAIN, gain)))
    return gains


def choose_encoder(codec: str, available: Collection[str], opens: Callable[[str], bool]) -> str:
    """The encoder to make ``codec`` with: the first of :data:`ENCODERS` that this build of
    FFmpeg has (``available``, PyAV's ``codecs_available``) and that opens here (``opens``:
    a hardware encoder is built in everywhere but opens only on a Pi)."""
    if codec not in ENCODERS:
        raise AfterError(f"unknown codec {codec!r}: use one of {', '.join(CODECS)}")
    tried = [name for name in ENCODERS[codec] if name in available]
    for name in tried:
        if opens(name):
            return name
    names = " or ".join(ENCODERS[codec])
    raise AfterError(f"no {codec} encoder works here (tried {names})")


_SIZE = re.compile(r"(\d{2,5})x(\d{2,5})")


def video_size(text: str) -> tuple[int, int]:
    """``1080p``, ``4k``, ``720p`` or ``WxH`` as (width, height); both even, as the
    encoders' 4:2:0 pictures need."""
    named = SIZES.get(text.strip().lower())
    if named is not None:
        return named
    match = _SIZE.fullmatch(text.strip().lower())
    if match is None:
        raise AfterError(f"size {text!r} is not 720p, 1080p, 4k or WIDTHxHEIGHT (1920x1080)")
    width, height = int(match[1]), int(match[2])
    if width % 2 or height % 2 or not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise AfterError(f"size {text!r}: width and height must be even, 16 to 8192")
    return width, height


def fitted(picture: tuple[int, int], frame: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where a picture of size ``picture`` goes in a video frame of size ``frame``: scaled to
    fit whole, centred, as (left, top, width, height), all even; the rest is black."""
    width, height = picture
    box_width, box_height = frame
    scale = min(box_width / width, box_height / height)
    fit_width = min(box_width, max(2, round(width * scale / 2) * 2))
    fit_height = min(box_height, max(2, round(height * scale / 2) * 2))
    left = (box_width - fit_width) // 4 * 2
    top = (box_height - fit_height) // 4 * 2
    return left, top, fit_width, fit_height


PRODUCT_NAMES = {"video": "the video", "keogram": "the keogram", "startrails": "the star trails"}


def after_line(status: AfterStatus) -> str:
    """The after-run work in one line, for ``lapse status`` and the screens:
    ``after run 20261201-0530: making the video, 120/500 frames``."""
    head = f"after run {status.run}: "
    made = ", ".join(name.rpartition("/")[2] for name in status.files)
    if status.state == "failed":
        line = head + f"failed: {status.error}"
    elif status.state == "working" and status.product is None:
        line = head + "starting"
    elif status.state == "working":
        line = head + f"making {PRODUCT_NAMES.get(status.product, status.product)}"
        if status.total:
            line += f", {status.done}/{status.total} frames"
    else:
        line = head + (f"made {made}" if made else "done")
    if status.waiting:
        line += f" ({status.waiting} more waiting)"
    return line
