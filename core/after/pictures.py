"""A frame's file as a picture: a JPEG decoded at the smallest scale that still covers
the size wanted (libjpeg's DCT scaling, far quicker than a full decode), or a RAW file's
largest JPEG preview (``core/raw_preview.py``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from core.brightness import file_brightness
from core.model.after import AfterError, Shown
from core.raw_preview import JPEG_START, embedded_jpeg

if TYPE_CHECKING:
    from PIL.Image import Image


def open_picture(path: Path, at_least: tuple[int, int] | None = None) -> Image:
    """The picture in the frame file at ``path``, as RGB.

    With ``at_least`` (width, height) a JPEG may be decoded smaller, never below that
    size; without, it is decoded whole. A file that is neither a picture Pillow reads
    nor a RAW with a JPEG preview raises :class:`AfterError` naming the file.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with path.open("rb") as file:
            is_jpeg = file.read(len(JPEG_START)) == JPEG_START
        source: Path | io.BytesIO = path
        if not is_jpeg:
            preview = embedded_jpeg(path, largest=True)
            if preview is not None:
                source = io.BytesIO(preview)
        with Image.open(source) as image:
            if at_least is not None:
                image.draft("RGB", at_least)
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as error:
        raise AfterError(f"{path.name} is not a picture lapse can read ({error})") from None


def brightness_of(photos: Path, shown: Shown) -> float | None:
    """How bright the picture ``shown`` is: the journal's measurement, else its file's
    (the thumbnail's mean); None when neither can tell."""
    if shown.brightness is not None:
        return shown.brightness
    return file_brightness(photos / shown.file)
