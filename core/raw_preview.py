"""The JPEG preview a RAW file carries, found without decoding the RAW.

Every camera's RAW holds at least one JPEG of the same picture for its own screen:

- TIFF-based RAWs (Nikon NEF, Canon CR2, Sony ARW, Pentax PEF, Olympus ORF, DNG) keep
  it in one of their image directories (IFDs): as ``JPEGInterchangeFormat`` and its
  length, or as a single strip compressed as JPEG. The directories are walked (the
  chain from the header and each one's ``SubIFDs``) and the smallest JPEG is taken:
  for a mean brightness a 160×120 thumbnail says what a 6000×4000 preview does.
- Others (Canon CR3, Fujifilm RAF) put one near the start of the file: the first JPEG
  in the first :data:`SCAN_BYTES` is taken.

Only the directories and the preview are read, never the sensor data.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

SCAN_BYTES = 4 << 20
"""How far into a file that is not TIFF-based a preview is looked for."""
MAX_IFDS = 32
"""Directories walked at most: a looping or hostile file ends the walk."""
MAX_ENTRIES = 1000
JPEG_START = b"\xff\xd8\xff"

COMPRESSION = 0x0103
STRIP_OFFSETS = 0x0111
STRIP_BYTE_COUNTS = 0x0117
SUB_IFDS = 0x014A
JPEG_OFFSET, JPEG_LENGTH = 0x0201, 0x0202
JPEG_COMPRESSIONS = (6, 7)
"""Old-style and new-style JPEG, as the ``Compression`` tag says it."""
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
"""Bytes per value of each TIFF field type (13: an IFD offset)."""


def embedded_jpeg(path: Path, *, largest: bool = False) -> bytes | None:
    """The smallest JPEG preview in the RAW file at ``path`` (the largest with ``largest``:
    a video frame wants the full-size preview, a brightness the thumbnail); None when it
    has none (or cannot be read)."""
    try:
        with path.open("rb") as file:
            head = file.read(8)
            order = {b"II": "<", b"MM": ">"}.get(head[:2])
            if order is not None and len(head) == 8:
                spans = _tiff_spans(file, order, struct.unpack(order + "I", head[4:])[0])
                for start, length in sorted(spans, key=lambda span: span[1], reverse=largest):
                    file.seek(start)
                    data = file.read(length)
                    if len(data) == length and data.startswith(JPEG_START):
                        return data
            file.seek(0)
            return _first_jpeg(file.read(SCAN_BYTES))
    except (OSError, struct.error):
        return None


def _tiff_spans(file: BinaryIO, order: str, first_ifd: int) -> list[tuple[int, int]]:
    """Where each JPEG the directories from ``first_ifd`` (and their sub-directories)
    point at lies: (offset, length)."""
    spans: list[tuple[int, int]] = []
    pending, seen = [first_ifd], set()
    while pending and len(seen) < MAX_IFDS:
        offset = pending.pop(0)
        if offset <= 0 or offset in seen:
            continue
        seen.add(offset)
        tags, next_ifd = _read_ifd(file, order, offset)
        pending.append(next_ifd)
        pending.extend(tags.get(SUB_IFDS, ()))
        if JPEG_OFFSET in tags and JPEG_LENGTH in tags:
            spans.append((tags[JPEG_OFFSET][0], tags[JPEG_LENGTH][0]))
        strips, counts = tags.get(STRIP_OFFSETS, ()), tags.get(STRIP_BYTE_COUNTS, ())
        if tags.get(COMPRESSION, (0,))[0] in JPEG_COMPRESSIONS and len(strips) == len(counts) == 1:
            spans.append((strips[0], counts[0]))
    return [(start, length) for start, length in spans if length > 0]


def _read_ifd(file: BinaryIO, order: str, offset: int) -> tuple[dict[int, tuple[int, ...]], int]:
    """The whole-number tags of the directory at ``offset``, and the next one's offset."""
    file.seek(offset)
    (count,) = struct.unpack(order + "H", file.read(2))
    entries = file.read(12 * min(count, MAX_ENTRIES))
    tags: dict[int, tuple[int, ...]] = {}
    for start in range(0, len(entries) - 11, 12):
        tag, kind, number = struct.unpack(order + "HHI", entries[start : start + 8])
        size = TYPE_SIZES.get(kind)
        letter = {3: "H", 4: "I", 13: "I"}.get(kind)
        if size is None or letter is None or number == 0 or number > 1 << 16:
            continue  # not a whole number lapse needs (rationals, text, a flood of values)
        field = entries[start + 8 : start + 12]
        if size * number > 4:
            where = file.tell()
            (pointer,) = struct.unpack(order + "I", field)
            file.seek(pointer)
            field = file.read(size * number)
            file.seek(where)
        tags[tag] = struct.unpack(order + letter * number, field[: size * number])
    file.seek(offset + 2 + 12 * count)
    pointer = file.read(4)
    return tags, struct.unpack(order + "I", pointer)[0] if len(pointer) == 4 else 0


def _first_jpeg(data: bytes) -> bytes | None:
    """The first JPEG in ``data`` (it runs to the end: a decoder stops at its own end)."""
    start = data.find(JPEG_START)
    return None if start < 0 else data[start:]
