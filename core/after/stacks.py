"""A run's frames stacked into one image: the keogram and the star trails.

- The **keogram** is every frame's centre column, side by side in time order: a night
  at a glance (dusk, the clouds, the dawn).
- The **star trails** image is each pixel's brightest value over the frames, so every
  star draws its arc; frames brighter than a threshold (dusk, a car's lights) can be
  left out.

Both are streamed: one frame is decoded at a time, and what is kept is the result
(one column per frame, or one running maximum).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.after.outputs import check_writable, write_failed
from core.after.pictures import brightness_of, open_picture
from core.after.video import Progress
from core.atomic import atomic_output
from core.model.after import AfterError, Shown

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}


@dataclass(frozen=True, slots=True)
class StackReport:
    """What a keogram or star-trail image was made of."""

    path: Path
    frames: int
    """Frames that went into it."""
    left_out: int
    """Frames left out: too bright (star trails), or a file that could not be read."""
    size: tuple[int, int]


def keogram(
    photos: Path,
    frames: Iterable[Shown],
    out: Path,
    *,
    total: int = 0,
    progress: Progress | None = None,
) -> StackReport:
    """Write the keogram of ``frames`` (held ones are skipped: a keogram shows only what
    was taken) to ``out``. Every column has the first frame's height; a frame of another
    height is scaled to it."""
    import numpy
    from PIL import Image

    image_format = _image_format(out)
    columns: list[Any] = []
    height: int | None = None
    left_out = 0
    for done, shown in enumerate(_taken(frames), start=1):
        try:
            picture = open_picture(photos / shown.file)
        except AfterError:
            left_out += 1
            continue
        column = picture.crop((picture.width // 2, 0, picture.width // 2 + 1, picture.height))
        if height is None:
            height = picture.height
        elif column.height != height:
            column = column.resize((1, height), Image.Resampling.BILINEAR)
        columns.append(numpy.asarray(column)[:, 0, :])
        if progress is not None:
            progress(done, total)
    if not columns:
        raise AfterError("the run has no downloaded frames to make a keogram of")
    image = numpy.stack(columns, axis=1)
    _save(Image.fromarray(image, "RGB"), out, image_format)
    return StackReport(out, len(columns), left_out, (image.shape[1], image.shape[0]))


def star_trails(
    photos: Path,
    frames: Iterable[Shown],
    out: Path,
    *,
    brighter_than: float | None = None,
    total: int = 0,
    progress: Progress | None = None,
) -> StackReport:
    """Write each pixel's brightest value over ``frames`` to ``out``. With
    ``brighter_than`` (0–1) a frame whose brightness (the journal's, else measured) is
    above it is left out. Every frame must have the first one's size; one that has not
    is left out."""
    import numpy

    image_format = _image_format(out)
    brightest: Any = None
    used = left_out = 0
    for done, shown in enumerate(_taken(frames), start=1):
        if progress is not None:
            progress(done, total)
        if brighter_than is not None and _too_bright(photos, shown, brighter_than):
            left_out += 1
            continue
        try:
            picture = numpy.asarray(open_picture(photos / shown.file))
        except AfterError:
            left_out += 1
            continue
        if brightest is None:
            brightest = picture.copy()
        elif picture.shape != brightest.shape:
            left_out += 1
            continue
        else:
            numpy.maximum(brightest, picture, out=brightest)
        used += 1
    if brightest is None:
        raise AfterError("no frame of the run is dark enough for star trails")
    from PIL import Image

    _save(Image.fromarray(brightest, "RGB"), out, image_format)
    return StackReport(out, used, left_out, (brightest.shape[1], brightest.shape[0]))


def _taken(frames: Iterable[Shown]) -> Iterable[Shown]:
    return (shown for shown in frames if not shown.held)


def _too_bright(photos: Path, shown: Shown, threshold: float) -> bool:
    value = brightness_of(photos, shown)
    return value is not None and not math.isnan(value) and value > threshold


def _image_format(out: Path) -> str:
    image_format = IMAGE_FORMATS.get(out.suffix.lower())
    if image_format is None:
        raise AfterError(f"{out.name}: an image is written as {', '.join(IMAGE_FORMATS)}")
    check_writable(out)
    return image_format


def _save(image: Any, out: Path, image_format: str) -> None:
    try:
        with atomic_output(out) as temporary:
            options = {"quality": 95} if image_format == "JPEG" else {}
            image.save(temporary, format=image_format, **options)
    except OSError as error:
        raise write_failed(out, error) from None
