"""A saved frame's brightness (hw/camera/brightness.py), against Pillow's full decode."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from bench.brightness import exif_with_thumbnail
from hw.camera.brightness import jpeg_brightness


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
