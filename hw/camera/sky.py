"""The simulated rig's sky: the virtual camera's frames are as bright as the real sun and
the camera's settings make them.

libgphoto2's virtual camera hands out the JPEGs of its folder as they are when a file
is downloaded, so :class:`SkySession` paints the folder's picture as each shutter
fires: a scene whose light follows the sun's altitude at the configured place (from
astral, handed in as a function), exposed at the shutter speed and ISO set. The
virtual camera's shutter speeds are set on it and read back as a real camera's are; it
has no ISO setting and no Bulb, so this session adds the ISO dial of a camera body (100
to 25600 in thirds of a stop) and a Bulb held open over USB, timed on the session's
clock. Auto exposure then works on the simulated rig
as on a real camera, and a test can check its frames against the sky.

The virtual camera reads a picture's bytes when the file is downloaded, but notes its size
when it starts: every picture painted is padded to the same size (:data:`PICTURE_BYTES`).
"""

from __future__ import annotations

import functools
import io
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.atomic import write_atomic
from core.clock import Clock
from core.model.camera_policy import speed_ns
from core.model.durations import NS_PER_S
from core.model.exposure import MID_GREY, encoded, iso_number
from core.model.place import Place
from hw.camera.base import CallError, Session

SKY_STOPS = ((-18.0, -5.0), (-12.0, -2.0), (-6.0, 3.0), (0.0, 8.0), (10.0, 12.0), (40.0, 13.0))
"""(the sun's altitude in degrees, the scene's light in stops), linear between: a clear
sky from a moonless night with some town glow, through twilight, to full day. A scene
of ``s`` stops comes out mid-grey at ``2**-s`` seconds at ISO 100; the light stays
at the ends' values beyond them."""
DAYLIGHT_ALTITUDE = 30.0
"""The sun's altitude when no place is configured: the simulated sky is a steady day."""
GREY_CARD = 0.18
"""The scene's mean reflectance: exposed for its light, a frame is mid-grey."""
SIMULATED_ISOS = (
    *("100", "125", "160", "200", "250", "320", "400", "500", "640", "800", "1000", "1250"),
    *("1600", "2000", "2500", "3200", "4000", "5000", "6400", "8000", "10000", "12800"),
    *("16000", "20000", "25600"),
)
"""The ISO dial the virtual camera lacks: 100 … 25600 in thirds of a stop, as bodies say them."""
SIMULATED_BULB = "Bulb"
"""The Bulb speed the simulated body adds to the virtual camera's (which has none): held
open over USB as a Nikon's is, its picture taken as it closes."""
PICTURE_BYTES = 8192
"""Every painted picture is padded to this size (the virtual camera keeps the first's)."""
WIDTH, HEIGHT = 160, 120
PICTURE_NAME = "lapse-sky.jpg"


def scene_stops(altitude: float) -> float:
    """The scene's light in stops with the sun at ``altitude`` degrees (:data:`SKY_STOPS`)."""
    points = SKY_STOPS
    if altitude <= points[0][0]:
        return points[0][1]
    for (low, low_stops), (high, high_stops) in itertools.pairwise(points):
        if altitude <= high:
            return low_stops + (high_stops - low_stops) * (altitude - low) / (high - low)
    return points[-1][1]


def frame_brightness(altitude: float, shutter_s: float, iso: int) -> float:
    """How bright a frame of the scene comes out (sRGB, 0 to 1) at these settings."""
    light = GREY_CARD * shutter_s * iso / 100 * 2 ** scene_stops(altitude)
    return encoded(light)


def paint(brightness: float) -> bytes:
    """A JPEG of the scene at ``brightness``: a sky over darker ground whose mean is
    ``brightness``, padded with a comment to :data:`PICTURE_BYTES`."""
    return _painted(round(brightness * 255))


@functools.lru_cache(maxsize=256)
def _painted(grey: int) -> bytes:
    """:func:`paint` of one 8-bit grey, kept: a repaint costs the frame no encoding."""
    from PIL import Image, ImageDraw

    # The ground is darker and the sky brighter by the same amount, so the mean holds
    # (unless one of them clips at black or white, as a real frame's would).
    shade = min(24, grey, 255 - grey)
    image = Image.new("L", (WIDTH, HEIGHT), grey + shade)
    ImageDraw.Draw(image).rectangle((0, HEIGHT // 2, WIDTH - 1, HEIGHT - 1), fill=grey - shade)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    data = out.getvalue()
    padding = PICTURE_BYTES - len(data) - 4
    if padding < 0:
        raise ValueError("a painted sky is larger than PICTURE_BYTES")
    # A COM segment right after the SOI marker: every reader skips it.
    comment = b"\xff\xfe" + (padding + 2).to_bytes(2, "big") + b" " * padding
    return data[:2] + comment + data[2:]


def steady_day_picture() -> bytes:
    """What the simulated rig's camera serves with no place and no auto exposure: the
    steady day at the virtual camera's own setting (1/100 s; ISO 100). A benchmark
    serves the same bytes to the programs it compares lapse with."""
    return paint(frame_brightness(DAYLIGHT_ALTITUDE, 1 / 100, 100))


def show(path: Path, data: bytes) -> None:
    """Put a painted picture at ``path`` whole (a new file renamed over it) without
    waiting for the disk: it is painted again whenever needed, and a repaint that
    waited would hold up the frame's download behind it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class SkySession:
    """A virtual camera session whose pictures show the simulated sky (see the module)."""

    def __init__(
        self,
        inner: Session,
        folder: Path,
        *,
        altitude: Callable[[int], float] | None,
        wall_ns: Callable[[], int],
        bulb: bool = True,
    ) -> None:
        self.inner = inner
        self._has_bulb = bulb
        self.model = inner.model
        self.folder = folder
        self._altitude = altitude
        self._wall_ns = wall_ns
        self.shutter, _ = inner.exposure()
        self.iso = SIMULATED_ISOS[0]
        self._bulb_opened_ns: int | None = None
        self._grey: int | None = None
        """The 8-bit grey of the picture in the folder: a frame as bright is not repainted.
        None at first: a new session's first picture is painted whatever is there."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def shutter_speeds(self) -> list[str]:
        speeds = self.inner.shutter_speeds()
        return [*speeds, SIMULATED_BULB] if self._has_bulb else speeds

    def set_shutter_speed(self, value: str) -> None:
        if value != SIMULATED_BULB or not self._has_bulb:
            self.inner.set_shutter_speed(value)
        self.shutter = value

    def usb_bulb(self) -> str | None:
        return "bulb" if self._has_bulb else self.inner.usb_bulb()

    def prepare_bulb(self) -> None:
        if not self._has_bulb:
            self.inner.prepare_bulb()
        self.shutter = SIMULATED_BULB

    def bulb(self, open_: bool) -> None:
        """A bulb exposure as a body times it: the picture is taken as the shutter closes,
        as bright as the time it was held open makes it."""
        if not self._has_bulb:
            self.inner.bulb(open_)
            return
        if self.shutter != SIMULATED_BULB:
            raise CallError("unsupported", "the camera is not set to Bulb")
        if open_:
            self._bulb_opened_ns = self._wall_ns()
            return
        if self._bulb_opened_ns is None:
            raise CallError("failed", "the shutter was not open")
        held_ns, self._bulb_opened_ns = self._wall_ns() - self._bulb_opened_ns, None
        self._paint(held_ns / NS_PER_S)
        self.inner.trigger()

    def isos(self) -> list[str]:
        return list(SIMULATED_ISOS)

    def set_iso(self, value: str) -> None:
        if value not in SIMULATED_ISOS:
            raise CallError("unsupported", f"the simulated camera has no ISO {value}")
        self.iso = value

    def exposure(self) -> tuple[str | None, str | None]:
        return self.shutter, self.iso

    def trigger(self) -> None:
        self.inner.trigger()
        # The virtual camera reads its picture when the file is downloaded: painted just
        # after the shutter, it costs the trigger nothing. On Bulb the picture is the one
        # its closing painted (this is a virtual card emptied then, the picture taken
        # again by a new session: see UsbCamera._taking).
        if self.shutter != SIMULATED_BULB:
            self._paint()

    def _paint(self, seconds: float | None = None) -> None:
        """Paint the picture as the sky and the settings make it; ``seconds``: a bulb's."""
        if seconds is None:
            exposure_ns = None if self.shutter is None else speed_ns(self.shutter)
            seconds = (exposure_ns or NS_PER_S // 100) / NS_PER_S
        sun = DAYLIGHT_ALTITUDE if self._altitude is None else self._altitude(self._wall_ns())
        brightness = frame_brightness(sun, seconds, iso_number(self.iso) or 100)
        grey = round(brightness * 255)
        if grey != self._grey:
            show(self.folder / PICTURE_NAME, paint(brightness))
            self._grey = grey


class SkyOpener:
    """Opens the virtual camera through ``open_session`` (the camera worker) as a
    :class:`SkySession` over ``place``; ``close`` ends the worker as the opener's own."""

    def __init__(
        self,
        open_session: Callable[[], Session],
        folder: Path,
        place: Place | None,
        clock: Clock,
        *,
        bulb: bool = True,
    ) -> None:
        """``bulb``: the simulated body holds Bulb over USB (False: a body that cannot)."""
        self._open_session = open_session
        self._folder = folder
        self._clock = clock
        self._bulb = bulb
        self._altitude: Callable[[int], float] | None = None
        if place is not None and place.known:
            from core.daemon.sky import AstralSky

            self._altitude = AstralSky(place).altitude

    def __call__(self) -> SkySession:
        # The virtual camera lists its folder as it starts: the sky's picture must be the
        # only one there by then, at its padded size.
        for other in self._folder.glob("*.[jJ][pP][gG]"):
            if other.name != PICTURE_NAME:
                other.unlink()
        if not (self._folder / PICTURE_NAME).exists():
            write_atomic(self._folder / PICTURE_NAME, paint(MID_GREY))
        return SkySession(
            self._open_session(),
            self._folder,
            altitude=self._altitude,
            wall_ns=self._clock.wall_ns,
            bulb=self._bulb,
        )

    def close(self) -> None:
        """End what the wrapped opener keeps (the camera worker's process)."""
        end = getattr(self._open_session, "close", None)
        if end is not None:
            end()
