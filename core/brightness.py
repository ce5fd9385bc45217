"""How bright a saved frame is: its mean luminance, from the smallest picture of it the
JPEG holds, or a RAW file's own JPEG preview (``core/raw_preview.py``).

A camera's JPEG carries a thumbnail (160×120, say) in its EXIF block, made from the
same picture: decoding it costs next to nothing. A JPEG without one (libgphoto2's
virtual camera's, an edited file's) is decoded at an eighth of its size in grey:
libjpeg then computes only each block's lowest frequencies and converts no colour,
though it must still read every byte (``bench/brightness.py`` measures both against
a full decode). It runs on the camera's thread, after the file is saved, never on the
timing thread; Pillow lets go of the GIL while it decodes.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, BinaryIO

from core.raw_preview import JPEG_START, embedded_jpeg

DRAFT_SCALE = 8
"""The decode of a JPEG without a thumbnail is this many times smaller each way:
libjpeg's smallest scale."""
EXIF_HEADER = b"Exif\x00\x00"
"""What the EXIF block starts with before the TIFF structure its offsets count from."""
THUMBNAIL_OFFSET, THUMBNAIL_LENGTH = 0x0201, 0x0202
"""The thumbnail IFD's tags for where its JPEG starts and how long it is."""


def file_brightness(path: Path) -> float | None:
    """The mean luminance of a camera's file: a JPEG's (:func:`jpeg_brightness`), else the
    JPEG preview's a RAW file carries; None when it is neither (or cannot be read)."""
    try:
        with path.open("rb") as file:
            is_jpeg = file.read(len(JPEG_START)) == JPEG_START
    except OSError:
        return None
    if is_jpeg:
        return jpeg_brightness(path)
    preview = embedded_jpeg(path)
    return None if preview is None else jpeg_brightness(io.BytesIO(preview))


def jpeg_brightness(path: Path | BinaryIO) -> float | None:
    """The mean luminance of the JPEG at ``path``, 0 (black) to 1 (white), rounded to four
    places; None for a file that is not a JPEG Pillow can read (a RAW file, a damaged one)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.format != "JPEG":
                return None
            thumbnail = _thumbnail(image)
            if thumbnail is not None:
                with Image.open(io.BytesIO(thumbnail)) as small:
                    return _mean(small)
            size = (max(1, image.width // DRAFT_SCALE), max(1, image.height // DRAFT_SCALE))
            image.draft("L", size)
            return _mean(image)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


def _mean(image: Any) -> float:
    from PIL import ImageStat

    return round(ImageStat.Stat(image.convert("L")).mean[0] / 255, 4)


def _thumbnail(image: Any) -> bytes | None:
    """The EXIF thumbnail's JPEG bytes, when the file has one."""
    from PIL import ExifTags

    raw = image.info.get("exif")
    if not isinstance(raw, bytes) or not raw.startswith(EXIF_HEADER):
        return None
    ifd1 = image.getexif().get_ifd(ExifTags.IFD.IFD1)
    offset, length = ifd1.get(THUMBNAIL_OFFSET), ifd1.get(THUMBNAIL_LENGTH)
    if not isinstance(offset, int) or not isinstance(length, int) or length <= 0:
        return None
    start = len(EXIF_HEADER) + offset
    thumbnail = raw[start : start + length]
    return thumbnail if len(thumbnail) == length and thumbnail[:2] == b"\xff\xd8" else None
