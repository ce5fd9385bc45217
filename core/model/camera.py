"""The USB camera as the engine and the controller see it (the gphoto2 side is in ``hw``).

A camera is optional. When one is configured it plays two parts:

- at each shutter edge the engine's timing thread calls :meth:`Camera.shutter`,
  which never blocks: in ``usb`` mode it hands a ``trigger_capture`` (or a bulb
  press) to the camera's own thread; in ``gpio`` mode the opto line fires the
  shutter and the call only notes which frame the next files belong to;
- the camera's thread downloads each new file into the run's folder and
  reports what happened as :data:`CameraEvent` values, which the controller
  journals and sends to clients like the engine's own events.

A camera fault costs frames, never the run (docs/architecture.md §9).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from core.model.durations import NS_PER_S
from core.model.fields import Choice, Duration, Flag, Kind, Span, Table, Text, Whole
from core.model.protocol import CameraStatus, RunCamera
from core.model.settings import Settings

if TYPE_CHECKING:  # a folder is only named here; the camera thread writes to it
    from pathlib import Path


class Trigger(StrEnum):
    """How the camera's shutter is fired, and whether USB is used at all."""

    OFF = "off"
    """No camera over USB: the GPIO lines only."""
    GPIO = "gpio"
    """The lines fire the shutter; USB watches for and downloads new files."""
    USB = "usb"
    """``trigger_capture`` over USB."""


NO_CHOICE = RunCamera()
"""A run that asks nothing of the camera over the config's ``[camera]`` table."""

MIN_CALL_TIMEOUT_NS = 1 * NS_PER_S
MAX_CALL_TIMEOUT_NS = 300 * NS_PER_S
MAX_RESERVE_MB = 1_000_000
"""A terabyte: more than any card a Pi boots from."""


@dataclass(frozen=True)
class CameraConfig:
    """The ``[camera]`` table of the config file."""

    trigger: Trigger = Trigger.OFF
    download: bool = True
    """Copy each frame into the run's folder; false keeps the files on the camera's card."""
    keep_on_camera: bool = False
    """Leave each downloaded file on the camera's card too; by default it is deleted
    there once it is safely on disk, so the card never fills during a run."""
    shutter_speed: str = ""
    """One of the camera's own shutter-speed choices (``"1/125"``); empty leaves it as set."""
    wired: bool = False
    """The shutter opto line is wired to this camera too: with ``usb``, a bulb
    exposure the camera cannot time over USB is held on the line instead."""
    call_timeout_ns: int = 10 * NS_PER_S
    """The longest one libgphoto2 call may take before the camera counts as hung."""
    reserve_mb: int = 200
    """Downloads pause when the disk has less free than this (the journal keeps writing)."""

    @property
    def enabled(self) -> bool:
        """True when a camera is to be opened at all."""
        return self.trigger != Trigger.OFF


CAMERA = Table(
    "camera",
    (
        Choice("trigger", choices=Trigger),
        Flag("download"),
        Flag("keep_on_camera"),
        Text(
            "shutter_speed",
            what='one of the camera\'s shutter speeds such as "1/125", or ""',
            accepts=str.isprintable,
            tidy=str.strip,
        ),
        Flag("wired"),
        Duration(
            "call_timeout",
            attr="call_timeout_ns",
            range=Span(Kind.DURATION, MIN_CALL_TIMEOUT_NS, MAX_CALL_TIMEOUT_NS),
        ),
        Whole(
            "reserve_mb",
            range=Span(Kind.WHOLE, 0, MAX_RESERVE_MB),
            what="a whole number of megabytes",
        ),
    ),
)
"""The ``[camera]`` table: one field a :class:`CameraConfig` field."""


@dataclass(frozen=True)
class FileSaved:
    """A frame's file is safely in the run's folder (or, when not downloading, on the card)."""

    frame: int
    file: str
    """Relative to the run's folder; or ``card:<camera path>`` when kept on the card."""
    size: int
    brightness: float | None = None
    """The file's mean luminance, 0 to 1; None when it was not measured (not a JPEG)."""
    exposure: str | None = None
    """The shutter speed and ISO auto exposure took the frame at (``1/125 ISO 400``)."""


@dataclass(frozen=True)
class FrameFailed:
    """The camera could not take a frame the engine reported as fired."""

    frame: int
    status: str
    """``error`` (the camera failed) or ``missed`` (it never got to it)."""
    message: str


@dataclass(frozen=True)
class CameraChanged:
    """The camera's state changed in a way to show: a fault, a return, downloads paused."""

    message: str
    fault: bool
    """True for a fault the photographer should see; False when it cleared."""


CameraEvent = FileSaved | FrameFailed | CameraChanged
Report = Callable[[CameraEvent], None]


class Camera(Protocol):
    """What the daemon's run needs from a USB camera; ``hw.camera`` implements it."""

    trigger: str
    """The trigger mode of the run prepared last (else the configured one), a
    :class:`Trigger` but ``off``."""

    @property
    def drives_shutter_line(self) -> bool:
        """Whether the engine should switch the GPIO shutter line as well.

        False in ``usb`` mode unless a bulb exposure falls back to the wired line.
        """
        ...

    def prepare(
        self,
        settings: Settings,
        choice: RunCamera = NO_CHOICE,
        measured: Sequence[tuple[str, float]] = (),
    ) -> None:
        """Get ready for a run: the camera answers, its shutter speed is set, the
        exposure can be timed; ``choice`` is what the run asks over the config (its
        trigger, its shutter speed); ``measured``: a resumed run's last frames before its
        stop, each one's exposure and brightness (oldest first), for auto exposure to go
        on from. Bounded in time; raises :class:`core.model.errors.CameraError` with a
        message for the photographer when the run cannot be done."""
        ...

    def begin_run(self, folder: Path, report: Report) -> None:
        """From now, files go into ``folder`` and events to ``report`` (which must not block).

        Called as the run starts, whose first shutter is already counting down: never waits."""
        ...

    def shutter(self, frame: int, on: bool) -> None:
        """The shutter edge of ``frame``, called on the timing thread: never blocks."""
        ...

    def line_hold_ns(self) -> int | None:
        """How long the shutter line is to hold the next shutter open, when the camera is
        set to Bulb for it and the wired line times the exposure (auto exposure at night
        with ``trigger = "gpio"``); None: the plan's pulse. Asked on the timing thread as
        a frame is armed: never blocks."""
        ...

    def end_run(self) -> None:
        """Stop reporting; files still pending stay on the camera. Bounded in time."""
        ...

    def status(self) -> CameraStatus:
        """What ``status`` shows of the camera: model, battery, connected, fault, downloads."""
        ...

    def quiet_left_ns(self, now_ns: int) -> int:
        """How long work that can wait (a journal batch, a client's answer) should wait
        at ``now_ns`` before asking again: 0, or a moment while the camera takes the
        frame whose shutter opened last; bounded, and callable from any thread."""
        ...

    def watch(self, changed: Callable[[], None]) -> None:
        """Have ``changed`` called whenever :meth:`status` shows something new (the
        camera connects, its battery, a fault); from the camera's thread, so it must
        not block."""
        ...

    def close(self) -> None:
        """Let go of the camera; bounded in time even when a call hangs."""
        ...
