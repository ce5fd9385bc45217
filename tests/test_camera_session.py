"""libgphoto2's errors as the camera thread sees them, and shutter speeds as durations."""

from __future__ import annotations

import gphoto2 as gp
import pytest

from core.model.camera_policy import speed_ns
from core.model.durations import NS_PER_MS, NS_PER_S
from hw.camera.session import call_error


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (gp.GP_ERROR_CAMERA_BUSY, "busy"),
        (gp.GP_ERROR_IO_USB_CLAIM, "claimed"),
        (gp.GP_ERROR_IO, "gone"),
        (gp.GP_ERROR_IO_USB_FIND, "gone"),
        (gp.GP_ERROR_MODEL_NOT_FOUND, "gone"),
        (gp.GP_ERROR_TIMEOUT, "gone"),
        (gp.GP_ERROR_NOT_SUPPORTED, "unsupported"),
        (gp.GP_ERROR_CORRUPTED_DATA, "failed"),
    ],
)
def test_each_gphoto2_error_has_a_kind(code: int, kind: str) -> None:
    assert call_error(gp.GPhoto2Error(code), "triggering the shutter").kind == kind


def test_a_claimed_camera_names_gvfs_and_how_to_release_it() -> None:
    message = str(call_error(gp.GPhoto2Error(gp.GP_ERROR_IO_USB_CLAIM), "opening it"))
    assert "gvfs" in message and "gio mount -s gphoto2" in message


@pytest.mark.parametrize(
    ("speed", "ns"),
    [
        ("1/125", 8 * NS_PER_MS),
        ("1/8000", 125_000),
        ("30", 30 * NS_PER_S),
        ('2.5"', 2500 * NS_PER_MS),
        ("0.0100s", 10 * NS_PER_MS),
        ("Bulb", None),
        ("Time", None),
        ("1/0", None),
        ("", None),
    ],
)
def test_shutter_speeds_read_as_durations(speed: str, ns: int | None) -> None:
    assert speed_ns(speed) == ns
