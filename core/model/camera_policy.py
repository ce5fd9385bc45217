"""The USB camera's decisions, as plain logic: the camera thread asks, then acts.

The camera thread (:mod:`hw.camera.usb_camera`) owns the job queue, the
libgphoto2 session and the clock. It asks these functions and objects what
to do, passing the time in as monotonic nanoseconds, and carries out the
answer: which route a bulb exposure takes, whether a queued trigger is too
late to fire, which frame a new file belongs to, how long to wait before
asking a busy camera again, when to leave a file on the camera, and when
downloads pause for a full disk and resume.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from core.model.camera import CameraChanged, FileSaved
from core.model.durations import NS_PER_MS, NS_PER_S, format_duration
from core.model.exposure import Ladder, Setting, iso_number, stops
from core.model.records import AMEND_WINDOW


@dataclass(frozen=True)
class Refusal:
    """The run cannot be done this way; ``message`` tells the photographer what to change."""

    message: str


# -- shutter speeds -----------------------------------------------------------------------

BULB_SPEEDS = ("bulb", "time")
"""Shutter-speed choices (lower case) that let the camera be held open over USB."""


def bulb_speed(speeds: Sequence[str]) -> str | None:
    """The camera's Bulb (or Time) among its shutter ``speeds``, in its own spelling."""
    return next((speed for speed in speeds if speed.lower() in BULB_SPEEDS), None)


_SPEED = re.compile(r'\s*(\d+(?:\.\d+)?)(?:\s*/\s*(\d+(?:\.\d+)?))?\s*(?:s|sec|")?\s*', re.I)


def speed_ns(speed: str) -> int | None:
    """``"1/125"`` → 8 ms, ``"30"`` or ``'30"'`` → 30 s, ``"0.0100s"`` → 10 ms; None for
    ``"Bulb"``, ``"Time"`` or anything else that is not a duration."""
    match = _SPEED.fullmatch(speed)
    if match is None:
        return None
    value = Fraction(match.group(1))
    if match.group(2) is not None:
        divisor = Fraction(match.group(2))
        if divisor == 0:
            return None
        value /= divisor
    return round(value * NS_PER_S)


def shutter_speed_refusal(
    speed: str,
    choices: Sequence[str],
    *,
    model: str,
    interval_ns: int | None,
    named: str = "camera.shutter_speed",
) -> Refusal | None:
    """Why the camera cannot be set to ``speed`` (``named``: the config's key, or the
    run's own choice); None if it can.

    ``choices`` are the camera's own. With ``interval_ns`` the speed must also fit in
    the interval; None skips that check (a camera that comes back during a run gets
    the speed the run was prepared with).
    """
    if speed not in choices:
        return Refusal(
            f'{named} "{speed}" is not one of this camera\'s ({model}):'
            f" {', '.join(choices) or 'it offers none'}"
        )
    exposure_ns = speed_ns(speed)
    if interval_ns is not None and exposure_ns is not None and exposure_ns >= interval_ns:
        return Refusal(
            f"the camera's shutter speed {speed} does not fit in the interval"
            f" ({format_duration(interval_ns)}); choose a faster speed or a longer interval"
        )
    return None


# -- auto exposure ------------------------------------------------------------------------


def auto_exposure_refusal(speed: str, exposure_ns: int | None, *, by_run: bool) -> Refusal | None:
    """Why a run cannot have auto exposure with this shutter speed (``by_run``: the run's
    own, else ``camera.shutter_speed``) and bulb exposure; None if it can."""
    if speed:
        named = "--shutter-speed" if by_run else "camera.shutter_speed"
        return Refusal(f"auto exposure chooses the shutter speed itself: drop {named}")
    if exposure_ns is not None:
        return Refusal(
            "auto exposure chooses the shutter speed itself: not with an exposure timed by"
            " lapse (--exposure)"
        )
    return None


def starting_setting(ladder: Ladder, shutter: str | None, iso: str | None) -> Setting:
    """Where auto exposure starts: the camera's own setting when the ladder has it, else
    the ladder's nearest to the light it lets in, else the ladder's middle."""
    found = None if shutter is None else ladder.find(shutter, iso)
    if found is not None:
        return found
    exposure_ns = None if shutter is None else speed_ns(shutter)
    if exposure_ns is None or exposure_ns <= 0:
        return ladder.settings[len(ladder.settings) // 2]
    number = None if iso is None else iso_number(iso)
    return ladder.nearest(stops(exposure_ns / NS_PER_S, number or 100))


def setting_stops(text: str) -> float | None:
    """The light a journal's exposure lets in (``"1/125 ISO 400"``, ``"bulb 40.3s ISO
    100"``, or ``"1/125"`` from a camera that keeps its own ISO, counted at ISO 100), in
    :func:`stops`; None for words that are no setting (a line written by hand, a later
    version's spelling)."""
    shutter, _, iso = text.removeprefix("bulb ").partition(" ISO ")
    exposure_ns = speed_ns(shutter)
    number = iso_number(iso) if iso else 100
    if exposure_ns is None or exposure_ns <= 0 or number is None or number <= 0:
        return None
    return stops(exposure_ns / NS_PER_S, number)


def setting_of(ladder: Ladder, text: str) -> Setting | None:
    """The setting a journal's exposure names (``"1/125 ISO 400"``): the ladder's own,
    else one letting in as much light (limits changed since); None for words that are
    none."""
    for setting in ladder.settings:
        if setting.text == text:
            return setting
    light = setting_stops(text)
    if light is None:
        return None
    shutter, _, iso = text.partition(" ISO ")
    return Setting(shutter, iso or None, light)


# -- the shutter's route ------------------------------------------------------------------


@dataclass(frozen=True)
class ShutterRoute:
    """How the camera's shutter is worked during a run."""

    bulb: str | None
    """Who times a bulb exposure: ``usb`` (the camera, held open over USB), ``gpio`` (the
    shutter line), or None when the run has no bulb exposure."""
    drives_line: bool
    """Whether the engine switches the GPIO shutter line (USB then only fetches files)."""

    @property
    def bulb_over_usb(self) -> bool:
        """True when the shutter is pressed and released over USB."""
        return self.bulb == "usb"

    @classmethod
    def plain(cls, trigger: str) -> ShutterRoute:
        """The route of ``trigger`` (``gpio`` or ``usb``) when the exposure is the camera's."""
        return cls(bulb=None, drives_line=trigger == "gpio")


def asks_for_usb_bulb(trigger: str, exposure_ns: int | None) -> bool:
    """Whether :func:`shutter_route` needs to know if the camera can time a bulb over USB."""
    return trigger == "usb" and exposure_ns is not None


def shutter_route(
    trigger: str, exposure_ns: int | None, *, usb_bulb: bool, wired: bool, model: str
) -> ShutterRoute | Refusal:
    """The route for a run with ``exposure_ns`` (None: the camera times the exposure).

    ``usb_bulb`` says whether the camera can hold its shutter open over USB (only
    asked when :func:`asks_for_usb_bulb`); ``wired`` (``camera.wired``) whether the
    shutter line reaches it too, to hold the bulb on GPIO when USB cannot.
    """
    if exposure_ns is None:
        return ShutterRoute.plain(trigger)
    if trigger != "usb":
        return ShutterRoute(bulb="gpio", drives_line=True)
    if usb_bulb:
        return ShutterRoute(bulb="usb", drives_line=False)
    if wired:
        return ShutterRoute(bulb="gpio", drives_line=True)
    return Refusal(
        f"this camera ({model}) cannot time a bulb exposure over USB: it has"
        " no Bulb shutter speed to hold open. Wire the shutter line and set"
        " camera.wired = true so lapse holds it on GPIO, or leave the exposure"
        " to the camera (exposure = pulse)"
    )


# -- shutter edges ------------------------------------------------------------------------

UNPREPARED_STALE_NS = 5 * NS_PER_S
"""How late a trigger may be taken before the camera is prepared for an interval."""
MIN_STALE_NS = 50 * NS_PER_MS
"""The least lateness a trigger is allowed, however short the interval."""
MISSED_MESSAGE = "the camera was still busy with an earlier call"


def stale_bound_ns(interval_ns: int) -> int:
    """How late a trigger may be taken and still fire: half the interval, at least 50 ms.

    Any later and it would fire on the heels of the one before, off the grid.
    """
    return max(MIN_STALE_NS, interval_ns // 2)


class EdgeAction(enum.Enum):
    """What the camera thread does with one shutter edge the engine queued."""

    WATCH = "watch"
    """The shutter line fired the camera: a file is owed, USB only fetches it."""
    NOTHING = "nothing"
    """Nothing: the camera times the exposure itself, or the line is the shutter."""
    MISSED = "missed"
    """The trigger waited too long in the queue: the frame is missed, not fired late."""
    TRIGGER = "trigger"
    """Take a picture with the camera's own exposure."""
    BULB = "bulb"
    """Press (or release) the shutter of a bulb exposure timed over USB."""


def edge_action(route: ShutterRoute, *, on: bool, age_ns: int, stale_ns: int) -> EdgeAction:
    """What to do with a shutter edge (``on``: it opens) taken ``age_ns`` after it was queued.

    A trigger is missed when it is more than ``stale_ns`` (:func:`stale_bound_ns`)
    old; exactly ``stale_ns`` still fires.
    """
    if route.drives_line:
        return EdgeAction.WATCH if on else EdgeAction.NOTHING
    if not on and not route.bulb_over_usb:
        return EdgeAction.NOTHING
    if on and age_ns > stale_ns:
        return EdgeAction.MISSED
    return EdgeAction.BULB if route.bulb_over_usb else EdgeAction.TRIGGER


def shutter_failure(on: bool, reason: str) -> str:
    """The frame's error when the camera failed to open (``on``) or close its shutter."""
    what = "the shutter did not open" if on else "the shutter did not close"
    return f"{what}: {reason}"


# -- which frame a file belongs to --------------------------------------------------------


MIN_FILE_WAIT_NS = 2 * NS_PER_S
"""The least time a frame's file is awaited: a camera may take a second or two to save a RAW."""


def file_wait_ns(interval_ns: int, call_timeout_ns: int) -> int:
    """How long after its shutter a frame's file is awaited before the frame counts as
    having none: one interval, at least :data:`MIN_FILE_WAIT_NS`, at most two call bounds,
    and never longer than half the journal's :data:`AMEND_WINDOW` of slots (a frame's line
    is completed only that long: at 10 ms, a frame with no file must say so within 0.64 s)."""
    wait = min(2 * call_timeout_ns, max(MIN_FILE_WAIT_NS, interval_ns))
    return min(wait, AMEND_WINDOW // 2 * interval_ns)


def no_file_message(wait_ns: int) -> str:
    """A frame's error when its shutter fired and no file came within ``wait_ns``."""
    return (
        f"the shutter fired but no file came from the camera within {format_duration(wait_ns)}"
        " (is it awake, and saving to its card?)"
    )


class FrameFiles:
    """Which frame each new file from the camera belongs to.

    A frame the camera took is owed a file from then on. A camera may hand
    over a shot's file after the next trigger, so a new file goes to the
    oldest frame still owed one, else to the latest frame; a file sharing its
    stem with the file before (RAW + JPEG of one shot) goes to that file's
    frame. A frame whose file does not come within :attr:`give_up_ns` is
    :meth:`overdue`: the camera did not take it, or kept it to itself.
    """

    def __init__(self, call_timeout_ns: int) -> None:
        self.call_timeout_ns = call_timeout_ns
        self.give_up_ns = 2 * call_timeout_ns
        """How long a frame stays owed its file (:func:`file_wait_ns` once the interval
        is known)."""
        self._owed: dict[int, int] = {}
        """Frames owed a file, and since when (ns)."""
        self._latest: int | None = None
        self._last_file: tuple[str, int] | None = None
        """The stem of the last new file and its frame."""

    def clear(self) -> None:
        """Forget every frame: a new run begins."""
        self._owed.clear()
        self._latest = None
        self._last_file = None

    def pace(self, interval_ns: int) -> None:
        """The run's interval is ``interval_ns``: files are awaited :func:`file_wait_ns`."""
        self.give_up_ns = file_wait_ns(interval_ns, self.call_timeout_ns)

    def shutter(self, frame: int) -> None:
        """``frame``'s shutter opened: the latest frame a file may belong to."""
        self._latest = frame

    def owe(self, frame: int, now_ns: int) -> None:
        """The camera took ``frame`` at ``now_ns``: its file is to come."""
        self._owed[frame] = now_ns

    @property
    def owing(self) -> bool:
        """Whether any frame is owed its file, however long it has been."""
        return bool(self._owed)

    def still_owed(self, now_ns: int) -> bool:
        """Whether a frame's file is still to come, within :attr:`give_up_ns`."""
        oldest = now_ns - self.give_up_ns
        return any(since >= oldest for since in self._owed.values())

    def overdue(self, now_ns: int) -> list[int]:
        """The frames owed a file for longer than :attr:`give_up_ns`, in order; they are
        owed nothing from now on."""
        oldest = now_ns - self.give_up_ns
        late = sorted(frame for frame, since in self._owed.items() if since < oldest)
        for frame in late:
            del self._owed[frame]
        return late

    def give_up(self) -> list[int]:
        """Every frame still owed a file, in order (the run is over); none is owed after."""
        owed = sorted(self._owed)
        self._owed.clear()
        return owed

    def frame_for(self, name: str) -> int | None:
        """The frame the new file ``name`` belongs to; None before any frame of the run."""
        stem = name.rpartition(".")[0] or name
        if self._last_file is not None and self._last_file[0] == stem:
            return self._last_file[1]
        owed = self._owed
        frame = min(owed, key=owed.__getitem__) if owed else self._latest
        if frame is None:
            return None
        owed.pop(frame, None)
        self._last_file = (stem, frame)
        return frame


ON_CARD = "card:"
"""Starts a frame's file that stayed on the camera's card (not saved on the Pi)."""


def kept_on_card(frame: int, folder: str, name: str) -> FileSaved:
    """The news of ``frame``'s file left on the card as ``folder/name``, shown printable."""
    shown = "".join(ch for ch in f"{folder}/{name}" if ch.isprintable())
    return FileSaved(frame=frame, file=f"{ON_CARD}{shown}", size=0)


def saved_on_the_pi(file: str | None) -> bool:
    """A frame's file names one saved on the Pi (not one left on the camera's card)."""
    return file is not None and not file.startswith(ON_CARD)


# -- failed calls -------------------------------------------------------------------------

BUSY_BACKOFF_NS = tuple(ms * NS_PER_MS for ms in (50, 100, 200, 400, 800))
"""Waits before each retry of a call the camera answered with "busy"."""
DOWNLOAD_TRIES = 3
"""A file the camera will not hand over (deleted, unreadable) is left on it after this many."""
COUNTED_KINDS = ("busy", "unsupported", "failed")
"""Download failures that count as a try; the others mean the camera is away, and its
files wait for its return."""
LOST_KINDS = ("gone", "hung", "failed", "claimed")
"""Call failures after which the session is let go of, to be opened afresh."""


def loses_camera(kind: str) -> bool:
    """Whether a call that failed as ``kind`` ends the session: the camera is gone, hung,
    in an unknown state or held by another program, and is opened again before use."""
    return kind in LOST_KINDS


def job_bound_ns(call_timeout_ns: int) -> int:
    """How long a caller waits for the camera thread to finish a job (getting ready,
    finishing a run): a few bounded calls and the busy retries, never forever."""
    return 4 * call_timeout_ns + sum(BUSY_BACKOFF_NS) + 5 * NS_PER_S


def busy_retry_ns(kind: str, answers: int) -> int | None:
    """How long to wait before calling again, the camera having failed the call ``answers``
    times in a row, the last as ``kind``; None: give up (not busy, or busy too often)."""
    if kind != "busy" or not 1 <= answers <= len(BUSY_BACKOFF_NS):
        return None
    return BUSY_BACKOFF_NS[answers - 1]


class DownloadTries:
    """Counts failed downloads of the file at the head of the queue, to give up on it in time."""

    def __init__(self, limit: int = DOWNLOAD_TRIES) -> None:
        self.limit = limit
        self._failed = 0

    def failed(self, kind: str) -> bool:
        """Note a download that failed as ``kind``; True: leave the file on the camera now."""
        if kind not in COUNTED_KINDS:
            return False
        self._failed += 1
        if self._failed < self.limit:
            return False
        self._failed = 0
        return True

    def succeeded(self) -> None:
        """A file came: the next one starts with every try."""
        self._failed = 0


def left_on_camera(frame: int, reason: str) -> CameraChanged:
    """The news that ``frame``'s file stays on the camera, having failed for ``reason``."""
    return CameraChanged(
        message=f"camera: frame {frame}'s file stays on the camera: {reason}", fault=True
    )


# -- the disk -----------------------------------------------------------------------------

DISK_RETRY_NS = 10 * NS_PER_S
"""How often paused downloads look for free space again."""
RESUMED_MESSAGE = "downloads resumed: the disk has room"


def full_message(available: int, reserve: int) -> str:
    """What the UI says while downloads wait for room."""
    return (
        f"the disk is full ({available / 1e6:.0f} MB free, {reserve / 1e6:.0f} MB kept in"
        " reserve): downloads wait and the frames stay on the camera"
    )


def short_of_room(available: int, reserve: int, size: int = 0) -> str | None:
    """Why ``size`` bytes may not be written with ``available`` free and ``reserve``
    to keep (:func:`full_message`); None when they fit."""
    if available - size < reserve:
        return full_message(available, reserve)
    return None


def unwritable_message(folder: str, reason: str) -> str:
    """What the UI says while downloads wait for a folder that refuses writes."""
    return f"downloads wait: could not write to {folder}: {reason}"


class DownloadPause:
    """Downloads wait while the disk is full (or refuses writes), and look again now and then.

    Each reason to pause is shown once, however often a look finds it still
    there; resuming is shown once, and only after a pause.
    """

    def __init__(self, retry_ns: int = DISK_RETRY_NS) -> None:
        self.retry_ns = retry_ns
        self.until_ns = 0
        """Downloads wait until then (monotonic ns)."""
        self.message: str | None = None
        """Why downloads are paused, as shown; None when they are not."""

    def clear(self) -> None:
        """A new run: its downloads may start at once."""
        self.until_ns = 0
        self.message = None

    def holds(self, now_ns: int) -> bool:
        """Whether downloads still wait at ``now_ns``."""
        return now_ns < self.until_ns

    def pause(self, now_ns: int, message: str) -> CameraChanged | None:
        """Pause downloads for :attr:`retry_ns` from ``now_ns`` because of ``message``;
        the news to show, or None when this reason is already shown."""
        self.until_ns = now_ns + self.retry_ns
        if message == self.message:
            return None
        self.message = message
        return CameraChanged(message=message, fault=True)

    def resume(self) -> CameraChanged | None:
        """A file was saved: the news that downloads resumed, or None if they were not paused."""
        if self.message is None:
            return None
        self.message = None
        return CameraChanged(message=RESUMED_MESSAGE, fault=False)
