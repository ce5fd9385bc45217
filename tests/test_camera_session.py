"""libgphoto2's errors as the camera thread sees them, and shutter speeds as durations."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import gphoto2 as gp
import pytest

from core.model.camera_policy import speed_ns
from core.model.durations import NS_PER_MS, NS_PER_S
from hw.camera.session import GphotoSession, call_error


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


@dataclass
class ScriptedCamera:
    """A libgphoto2 camera that sends the events it is given, each after ``step_s`` of
    the test's clock, and a file only to a wait long enough to reach it."""

    news: list[int]
    file_after_s: float
    step_s: float = 0.010
    now_s: float = 0.0
    waits: list[int] = field(default_factory=list)

    def get_abilities(self) -> Any:
        return SimpleNamespace(model="scripted")

    def wait_for_event(self, wait_ms: int) -> tuple[int, Any]:
        self.waits.append(wait_ms)
        if self.news:
            self.now_s += self.step_s
            return self.news.pop(0), None
        if self.now_s + wait_ms / 1000 >= self.file_after_s:
            self.now_s = max(self.now_s, self.file_after_s)
            self.file_after_s = float("inf")
            return gp.GP_EVENT_FILE_ADDED, SimpleNamespace(folder="/DCIM", name="IMG_0001.JPG")
        self.now_s += wait_ms / 1000
        return gp.GP_EVENT_TIMEOUT, None


def test_a_look_waits_out_its_timeout_past_other_news() -> None:
    news = [gp.GP_EVENT_UNKNOWN, gp.GP_EVENT_CAPTURE_COMPLETE, gp.GP_EVENT_UNKNOWN]
    camera = ScriptedCamera(news, file_after_s=0.045)
    session = GphotoSession(camera, now_s=lambda: camera.now_s)
    assert session.new_files(50) == [("/DCIM", "IMG_0001.JPG")]
    # Each wait is what is left of the 50 ms; once the file came, only what is queued.
    assert camera.waits == [50, 40, 30, 20, 0]


def test_a_look_never_waits_beyond_its_timeout() -> None:
    camera = ScriptedCamera([gp.GP_EVENT_UNKNOWN] * 8, file_after_s=1.0, step_s=0.020)
    session = GphotoSession(camera, now_s=lambda: camera.now_s)
    assert session.new_files(50) == []
    # Past the 50 ms it only takes what is queued: it never waits beyond its timeout.
    assert camera.waits == [50, 30, 10] + [0] * 6


def test_a_driver_that_answers_at_once_is_not_asked_again_before_the_step_is_over() -> None:
    now = [0.0]
    waits: list[int] = []

    def at_once(wait_ms: int) -> tuple[int, None]:
        waits.append(wait_ms)
        return gp.GP_EVENT_TIMEOUT, None

    def sleep(seconds: float) -> None:
        now[0] += seconds

    abilities = SimpleNamespace(model="x")
    camera = SimpleNamespace(get_abilities=lambda: abilities, wait_for_event=at_once)
    session = GphotoSession(camera, now_s=lambda: now[0], sleep_s=sleep)
    assert session.new_files(50) == []
    assert waits == [50] and now[0] == pytest.approx(0.05)  # slept out, never spun
