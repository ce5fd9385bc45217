"""RAW files laid out as cameras write them, around JPEGs made with Pillow.

The tests have no RAW from a real body (no sample ships with the tools lapse uses), so
these follow the layouts the formats document: TIFF directories (IFDs) in either byte
order, a chain of them and sub-directories, the preview as ``JPEGInterchangeFormat`` or
as a JPEG-compressed strip, sensor data lapse must not read; and an ISO-BMFF file
(Canon CR3) with its preview inside a box.
"""

from __future__ import annotations

import io
import struct

from PIL import Image

SHORT, LONG = 3, 4
"""TIFF field types."""


def grey_jpeg(grey: float, size: tuple[int, int]) -> bytes:
    """A JPEG of one grey (0 black, 1 white) at ``size``."""
    out = io.BytesIO()
    Image.new("L", size, round(grey * 255)).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


class TiffLayout:
    """A TIFF file written front to back: blobs and directories, each placed where the
    file has got to; a directory's next and sub-directories are written before it."""

    def __init__(self, order: str, magic: bytes = b"") -> None:
        self.order = order
        self.body = bytearray(8 + len(magic))
        self.body[8:] = magic

    def blob(self, data: bytes) -> int:
        offset = len(self.body)
        self.body += data
        if len(self.body) % 2:
            self.body += b"\0"
        return offset

    def ifd(self, entries: dict[int, tuple[int, list[int]]], next_ifd: int = 0) -> int:
        """A directory of ``entries`` (tag → type, values); its offset."""
        values_at: dict[int, int] = {}
        for tag, (kind, values) in entries.items():
            if len(values) * (2 if kind == SHORT else 4) > 4:
                letter = "H" if kind == SHORT else "I"
                values_at[tag] = self.blob(struct.pack(self.order + letter * len(values), *values))
        offset = len(self.body)
        self.body += struct.pack(self.order + "H", len(entries))
        for tag in sorted(entries):
            kind, values = entries[tag]
            field = (
                struct.pack(self.order + "I", values_at[tag])
                if tag in values_at
                else struct.pack(
                    self.order + ("H" if kind == SHORT else "I") * len(values), *values
                )
            ).ljust(4, b"\0")
            self.body += struct.pack(self.order + "HHI", tag, kind, len(values)) + field
        self.body += struct.pack(self.order + "I", next_ifd)
        return offset

    def finish(self, first_ifd: int) -> bytes:
        mark = b"II*\x00" if self.order == "<" else b"MM\x00*"
        self.body[:8] = mark + struct.pack(self.order + "I", first_ifd)
        return bytes(self.body)


def sensor_ifd(layout: TiffLayout) -> int:
    """A directory of sensor data (compressed as Nikon or Canon do): never a preview,
    though its bytes happen to hold a JPEG's first three, as a sensor's may."""
    data = layout.blob((b"\x5a" * 100 + b"\xff\xd8\xff\xe1" + b"\x5a" * 4096)[:4096])
    return layout.ifd(
        {
            0x0103: (SHORT, [34713]),
            0x0111: (LONG, [data]),
            0x0117: (LONG, [4096]),
        }
    )


def nef_like(preview: bytes) -> bytes:
    """Nikon's layout: a small RGB thumbnail in IFD0, the JPEG preview and the sensor data
    in its sub-directories."""
    layout = TiffLayout("<")
    raw = sensor_ifd(layout)
    start = layout.blob(preview)
    jpeg_ifd = layout.ifd({0x0201: (LONG, [start]), 0x0202: (LONG, [len(preview)])})
    thumb = layout.blob(b"\x80" * (160 * 120 * 3))
    first = layout.ifd(
        {
            0x0103: (SHORT, [1]),
            0x0111: (LONG, [thumb]),
            0x0117: (LONG, [160 * 120 * 3]),
            0x014A: (LONG, [jpeg_ifd, raw]),
        }
    )
    return layout.finish(first)


def cr2_like(full: bytes, thumbnail: bytes) -> bytes:
    """Canon's layout: IFD0 a full-size JPEG strip, IFD1 the thumbnail, IFD3 the sensor."""
    layout = TiffLayout("<", magic=b"CR\x02\x00\x00\x00\x00\x00")
    raw = sensor_ifd(layout)
    ifd2 = layout.ifd({0x0103: (SHORT, [1])}, next_ifd=raw)
    start = layout.blob(thumbnail)
    ifd1 = layout.ifd({0x0201: (LONG, [start]), 0x0202: (LONG, [len(thumbnail)])}, next_ifd=ifd2)
    strip = layout.blob(full)
    first = layout.ifd(
        {0x0103: (SHORT, [6]), 0x0111: (LONG, [strip]), 0x0117: (LONG, [len(full)])},
        next_ifd=ifd1,
    )
    return layout.finish(first)


def dng_like_big_endian(preview: bytes) -> bytes:
    """A DNG in Motorola byte order: the preview a new-style JPEG strip in a sub-directory."""
    layout = TiffLayout(">")
    raw = sensor_ifd(layout)
    strip = layout.blob(preview)
    preview_ifd = layout.ifd(
        {0x0103: (SHORT, [7]), 0x0111: (LONG, [strip]), 0x0117: (LONG, [len(preview)])}
    )
    first = layout.ifd({0x00FE: (LONG, [1]), 0x014A: (LONG, [raw, preview_ifd])})
    return layout.finish(first)


def cr3_like(preview: bytes) -> bytes:
    """Canon's ISO-BMFF layout: a file-type box, then the preview inside a box of its own."""
    ftyp = struct.pack(">I", 24) + b"ftypcrx " + b"\0\0\0\x01" + b"crx isom"
    prvw = struct.pack(">I", 8 + 16 + len(preview)) + b"PRVW" + b"\0" * 16 + preview
    return ftyp + prvw + b"\x33" * 8192


def looping_tiff() -> bytes:
    """A damaged TIFF whose directory names itself as the next, and a preview past its end."""
    layout = TiffLayout("<")
    first = len(layout.body)
    layout.ifd({0x0201: (LONG, [10_000_000]), 0x0202: (LONG, [5000])}, next_ifd=first)
    return layout.finish(first)
