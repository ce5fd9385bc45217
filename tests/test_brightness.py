"""A saved frame's brightness (core/brightness.py), against Pillow's full decode."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from bench.brightness import exif_with_thumbnail
from core.brightness import file_brightness, jpeg_brightness
from tests.raw_files import (
    cr2_like,
    cr3_like,
    dng_like_big_endian,
    grey_jpeg,
    looping_tiff,
    nef_like,
)


def full_mean(path: Path) -> float:
    with Image.open(path) as image:
        return ImageStat.Stat(image.convert("L")).mean[0] / 255


def jpeg(path: Path, image: Image.Image, **options: object) -> Path:
    image.save(path, "JPEG", quality=90, **options)
    return path


def test_a_jpeg_without_a_thumbnail_is_measured_as_a_full_decode_says(tmp_path: Path) -> None:
    scene = Image.linear_gradient("L").resize((1200, 800)).convert("RGB")
    path = jpeg(tmp_path / "plain.jpg", scene)
    assert jpeg_brightness(path) == pytest.approx(full_mean(path), abs=0.005)


def test_a_cameras_thumbnail_is_what_is_measured(tmp_path: Path) -> None:
    # A thumbnail darker than its picture, as no camera would write: the measure is its.
    small = io.BytesIO()
    Image.new("RGB", (160, 107), (51, 51, 51)).save(small, "JPEG")
    picture = Image.new("RGB", (1200, 800), (204, 204, 204))
    path = jpeg(tmp_path / "camera.jpg", picture, exif=exif_with_thumbnail(small.getvalue()))
    assert jpeg_brightness(path) == pytest.approx(0.2, abs=0.005)


def test_a_thumbnail_that_is_not_there_falls_back_to_the_picture(tmp_path: Path) -> None:
    small = io.BytesIO()
    Image.new("RGB", (160, 107), (51, 51, 51)).save(small, "JPEG")
    block = bytearray(exif_with_thumbnail(small.getvalue()))
    block[-len(small.getvalue()) :] = b"\x00" * len(small.getvalue())  # not a JPEG there
    picture = Image.new("RGB", (1200, 800), (204, 204, 204))
    path = jpeg(tmp_path / "odd.jpg", picture, exif=bytes(block))
    assert jpeg_brightness(path) == pytest.approx(0.8, abs=0.005)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("frame.cr2", b"II*\x00\x10\x00\x00\x00CR\x02\x00" + b"\x00" * 64),
        ("frame.jpg", b"\xff\xd8\xff\xe0 not really"),
        ("empty.jpg", b""),
    ],
)
def test_what_is_not_a_readable_jpeg_is_not_measured(
    tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert jpeg_brightness(path) is None


def test_a_png_is_not_measured(tmp_path: Path) -> None:
    path = tmp_path / "frame.png"
    Image.new("RGB", (10, 10)).save(path, "PNG")
    assert jpeg_brightness(path) is None


def test_a_frame_record_keeps_its_brightness_in_the_journal_line() -> None:
    from core.model.records import FRAME_KEYS, FrameRecord

    record = FrameRecord(
        frame=3, due_ns=1, fired_ns=2, wall="2026-12-01T18:00:00+00:00", status="ok",
        file="frame-000003.jpg", brightness=0.4213,
    )  # fmt: skip
    data = record.to_dict()
    assert tuple(data) == (*FRAME_KEYS, "brightness")
    assert FrameRecord.from_dict(data) == record
    for bad in (1.5, -0.1, True, "0.4"):
        with pytest.raises(ValueError, match="brightness must be a number from 0 to 1"):
            FrameRecord.from_dict(data | {"brightness": bad})


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("frame.nef", lambda: nef_like(grey_jpeg(0.3, (600, 400)))),
        ("frame.dng", lambda: dng_like_big_endian(grey_jpeg(0.3, (600, 400)))),
        ("frame.cr3", lambda: cr3_like(grey_jpeg(0.3, (600, 400)))),
    ],
)
def test_a_raw_file_is_measured_from_its_preview(
    tmp_path: Path, name: str, build: Callable[[], bytes]
) -> None:
    path = tmp_path / name
    path.write_bytes(build())
    assert jpeg_brightness(path) is None, "no JPEG itself"
    assert file_brightness(path) == pytest.approx(0.3, abs=0.01)


def test_of_a_raws_previews_the_smallest_is_read(tmp_path: Path) -> None:
    # Canon's full-size JPEG and its thumbnail are one picture; made to differ here, so
    # the brightness says which was read.
    path = tmp_path / "frame.cr2"
    path.write_bytes(cr2_like(grey_jpeg(0.7, (1200, 800)), grey_jpeg(0.2, (160, 120))))
    assert file_brightness(path) == pytest.approx(0.2, abs=0.01)


@pytest.mark.parametrize(
    "content",
    [
        looping_tiff(),
        b"II*\x00\x10\x00\x00\x00CR\x02\x00" + b"\x00" * 64,
        b"MM\x00*\xff\xff\xff\xf0",
        b"II*\x00\x08\x00\x00\x00\xff\xff" + b"\x01" * 30,
        nef_like(grey_jpeg(0.3, (60, 40)))[:200],
        b"",
    ],
)
def test_a_damaged_raw_is_not_measured(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "frame.nef"
    path.write_bytes(content)
    assert file_brightness(path) is None
