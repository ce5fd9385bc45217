"""The time-lapse video of a run's frames, through PyAV (FFmpeg's libraries).

Streamed: each frame is decoded, fitted, evened out and encoded in turn, so memory is a
few pictures whatever the run's length; the only thing kept per frame is its
brightness for deflicker (eight bytes). The file is written under a temporary name and
renamed when whole (:func:`core.atomic.atomic_output`).
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.after.outputs import check_writable, write_failed
from core.after.pictures import brightness_of, open_picture
from core.atomic import atomic_output
from core.model.after import AfterError, Shown, choose_encoder, deflicker_gains, fitted

if TYPE_CHECKING:
    from PIL.Image import Image

CONTAINERS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov"}
"""The video files lapse writes, by the name's extension."""
SOFTWARE_OPTIONS = {
    "libx264": {"preset": "veryfast", "crf": "20"},
    "libx265": {"preset": "veryfast", "crf": "23"},
    "libsvtav1": {"preset": "8", "crf": "32"},
    "libaom-av1": {"cpu-used": "8", "crf": "32"},
}
"""Software encoders' settings: "veryfast" keeps a Pi 4 near real time at 1080p, and at
these quality levels a time-lapse shows no blocking."""
HARDWARE_BITS_PER_PIXEL = 0.15
"""The Pi's hardware encoder takes a bit rate, not a quality: 0.15 bit per pixel per
frame is about 8 Mbit/s at 1080p and 25 frames a second."""

READERS = 2
"""Threads decoding the next pictures while one is encoded."""
READ_AHEAD = 4
"""Pictures decoded ahead of the encoder at most: enough to keep it fed, few enough
that memory stays a handful of pictures."""

Progress = Callable[[int, int], None]
"""Told ``(frames done, frames in all)`` after each frame."""


@dataclass(frozen=True, slots=True)
class VideoReport:
    """What a render made."""

    path: Path
    frames: int
    """Frames in the video, held ones included."""
    held: int
    """Frames that showed the previous picture (a missed or failed slot, or an unreadable
    file)."""
    unreadable: tuple[str, ...]
    """Files that could not be read; each showed the previous picture."""
    encoder: str
    size: tuple[int, int]
    fps: int


def encoder_opens(name: str, size: tuple[int, int] = (1920, 1080)) -> bool:
    """Whether the encoder ``name`` opens here: a hardware one is built into every FFmpeg
    but opens only where its device is (a Pi 4's ``/dev/video11``)."""
    import av

    try:
        context: Any = av.CodecContext.create(name, "w")
        context.width, context.height = size
        context.pix_fmt = "yuv420p"
        context.time_base = Fraction(1, 25)
        context.open()
    except (av.FFmpegError, ValueError, OSError):
        return False
    return True


def available_encoders() -> Collection[str]:
    """The codecs this build of FFmpeg has (PyAV's ``codecs_available``)."""
    import av

    return av.codecs_available


def render_video(
    photos: Path,
    frames: Callable[[], Iterable[Shown]],
    out: Path,
    *,
    fps: int = 25,
    size: tuple[int, int] = (1920, 1080),
    codec: str = "h264",
    deflicker: bool = False,
    progress: Progress | None = None,
    available: Collection[str] | None = None,
    opens: Callable[[str], bool] | None = None,
) -> VideoReport:
    """Encode the pictures ``frames()`` yields (read from ``photos``) into ``out``.

    ``frames`` is called twice (once to count and gather brightness, once to encode), so
    a journal of any length is never held in memory. ``available`` and ``opens`` choose
    the encoder (:func:`~core.model.after.choose_encoder`); they default to this
    machine's. Raises :class:`AfterError` when there is nothing to render or no encoder.
    """
    import av

    container_format = CONTAINERS.get(out.suffix.lower())
    if container_format is None:
        raise AfterError(f"{out.name}: a video is written as {', '.join(CONTAINERS)}")
    if not 1 <= fps <= 240:
        raise AfterError(f"{fps} frames a second is not 1 to 240")
    check_writable(out)
    encoder = choose_encoder(
        codec,
        available_encoders() if available is None else available,
        opens or (lambda name: encoder_opens(name, size)),
    )
    total, brightness = _survey(photos, frames(), measure=deflicker)
    if total == 0:
        raise AfterError("the run has no downloaded frames to render")
    gains = deflicker_gains(brightness) if deflicker else None

    try:
        with atomic_output(out) as temporary, ThreadPoolExecutor(READERS) as readers:
            container: Any = av.open(str(temporary), mode="w", format=container_format)
            try:
                stream = _video_stream(container, encoder, size, fps)
                pictures = _read_ahead(readers, photos, frames(), size, gains)
                held, unreadable = _encode(container, stream, pictures, size, total, progress)
            finally:
                container.close()
    except (OSError, av.FFmpegError) as error:
        raise write_failed(out, error) from None
    return VideoReport(out, total, held, tuple(unreadable), encoder, size, fps)


def _encode(
    container: Any,
    stream: Any,
    pictures: Iterable[tuple[Shown, Any]],
    size: tuple[int, int],
    total: int,
    progress: Progress | None,
) -> tuple[int, list[str]]:
    """Encode every picture in turn (a missing one holds the one before, black before the
    first); the frames held, and the files that could not be read."""
    import av
    import numpy

    held = 0
    unreadable: list[str] = []
    previous: Any = None  # the last picture encoded, as an array
    for index, (shown, picture) in enumerate(pictures):
        if picture is not None:
            previous = picture
        else:
            held += 1
            if not shown.held:
                unreadable.append(shown.file)
            if previous is None:
                previous = numpy.zeros((size[1], size[0], 3), numpy.uint8)
        frame = av.VideoFrame.from_ndarray(previous, format="rgb24")
        frame.pts = index
        container.mux(stream.encode(frame))
        if progress is not None:
            progress(index + 1, total)
    container.mux(stream.encode(None))
    return held, unreadable


def _read_ahead(
    readers: Executor,
    photos: Path,
    frames: Iterable[Shown],
    size: tuple[int, int],
    gains: Sequence[float] | None,
) -> Iterator[tuple[Shown, Any]]:
    """Each frame with its picture ready to encode (None: held, or unreadable), in order.

    The next :data:`READ_AHEAD` pictures are decoded on ``readers`` while the encoder
    works on this one: Pillow lets go of the GIL while it decodes, so on a Pi's four
    cores decoding and encoding overlap, and memory stays a handful of pictures.
    """
    waiting: deque[tuple[Shown, Future[Any] | None]] = deque()
    for index, shown in enumerate(frames):
        gain = 1.0 if gains is None else gains[index]
        job = None if shown.held else readers.submit(_prepare, photos / shown.file, size, gain)
        waiting.append((shown, job))
        if len(waiting) > READ_AHEAD:
            first, job = waiting.popleft()
            yield first, None if job is None else job.result()
    while waiting:
        first, job = waiting.popleft()
        yield first, None if job is None else job.result()


def _prepare(path: Path, size: tuple[int, int], gain: float) -> Any:
    """The picture at ``path`` fitted to the video and evened out by ``gain``, as an array;
    None when it cannot be read."""
    import numpy

    try:
        picture = _fitted(open_picture(path, size), size)
    except AfterError:
        return None
    if gain != 1.0:
        picture = _brightened(picture, gain)
    return numpy.asarray(picture)


def _survey(photos: Path, frames: Iterable[Shown], *, measure: bool) -> tuple[int, array[float]]:
    """How many frames there are and, with ``measure``, each one's brightness (the
    journal's, else measured from its file's thumbnail; NaN when it cannot be)."""
    brightness: array[float] = array("d")
    total = 0
    for shown in frames:
        total += 1
        if measure:
            value = shown.brightness if shown.held else brightness_of(photos, shown)
            brightness.append(math.nan if value is None else value)
    return total, brightness


def _video_stream(container: Any, encoder: str, size: tuple[int, int], fps: int) -> Any:
    stream = container.add_stream(encoder, rate=fps)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.time_base = Fraction(1, fps)
    if encoder in SOFTWARE_OPTIONS:
        stream.options = dict(SOFTWARE_OPTIONS[encoder])
    else:
        stream.bit_rate = int(HARDWARE_BITS_PER_PIXEL * size[0] * size[1] * fps)
    return stream


def _fitted(picture: Image, size: tuple[int, int]) -> Image:
    """The picture scaled to fit the video frame whole, centred on black."""
    from PIL import Image as PILImage

    left, top, width, height = fitted(picture.size, size)
    if picture.size != (width, height):
        picture = picture.resize((width, height), PILImage.Resampling.BILINEAR)
    if (width, height) == size:
        return picture
    canvas = PILImage.new("RGB", size)
    canvas.paste(picture, (left, top))
    return canvas


def _brightened(picture: Image, gain: float) -> Image:
    table = [min(255, round(value * gain)) for value in range(256)]
    return picture.point(table * 3)
