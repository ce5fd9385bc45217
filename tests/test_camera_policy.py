"""The camera's decisions, by plain calls: no thread, no camera, no clock."""

from __future__ import annotations

import pytest

from core.model.camera import CameraChanged, FileSaved
from core.model.camera_policy import (
    BUSY_BACKOFF_NS,
    MIN_STALE_NS,
    DownloadPause,
    DownloadTries,
    EdgeAction,
    FrameFiles,
    Refusal,
    ShutterRoute,
    asks_for_usb_bulb,
    busy_retry_ns,
    edge_action,
    file_wait_ns,
    full_message,
    job_bound_ns,
    kept_on_card,
    left_on_camera,
    loses_camera,
    no_file_message,
    short_of_room,
    shutter_failure,
    shutter_route,
    shutter_speed_refusal,
    stale_bound_ns,
)
from core.model.durations import NS_PER_MS, NS_PER_S

MODEL = "Nikon DSC D750"
SPEEDS = ["1/125", "1/2", "1", "Bulb"]


# -- shutter speeds -------------------------------------------------------------------------
def test_a_speed_the_camera_offers_that_fits_the_interval_is_taken() -> None:
    assert shutter_speed_refusal("1/125", SPEEDS, model=MODEL, interval_ns=NS_PER_S) is None


def test_a_speed_the_camera_does_not_offer_is_refused_with_its_choices() -> None:
    refusal = shutter_speed_refusal("1/250", SPEEDS, model=MODEL, interval_ns=NS_PER_S)
    assert refusal == Refusal(
        f'camera.shutter_speed "1/250" is not one of this camera\'s ({MODEL}): 1/125, 1/2, 1, Bulb'
    )
    refusal = shutter_speed_refusal("1/250", [], model=MODEL, interval_ns=None)
    assert refusal is not None and refusal.message.endswith(": it offers none")


def test_a_speed_as_long_as_the_interval_does_not_fit() -> None:
    refusal = shutter_speed_refusal("1", SPEEDS, model=MODEL, interval_ns=NS_PER_S)
    assert refusal is not None
    assert "shutter speed 1 does not fit in the interval (1s)" in refusal.message
    assert "choose a faster speed or a longer interval" in refusal.message
    assert shutter_speed_refusal("1", SPEEDS, model=MODEL, interval_ns=NS_PER_S + 1) is None


def test_a_camera_that_comes_back_gets_its_speed_without_the_interval_check() -> None:
    assert shutter_speed_refusal("1", SPEEDS, model=MODEL, interval_ns=None) is None


def test_bulb_is_no_duration_and_never_too_long() -> None:
    assert shutter_speed_refusal("Bulb", SPEEDS, model=MODEL, interval_ns=NS_PER_MS) is None


# -- the shutter's route --------------------------------------------------------------------
@pytest.mark.parametrize("trigger", ["gpio", "usb"])
def test_without_a_bulb_exposure_the_trigger_alone_decides(trigger: str) -> None:
    assert not asks_for_usb_bulb(trigger, None)
    route = shutter_route(trigger, None, usb_bulb=False, wired=False, model=MODEL)
    assert route == ShutterRoute.plain(trigger)
    assert route == ShutterRoute(bulb=None, drives_line=trigger == "gpio")


def test_a_bulb_in_gpio_mode_is_held_on_the_line() -> None:
    assert not asks_for_usb_bulb("gpio", NS_PER_S)
    route = shutter_route("gpio", NS_PER_S, usb_bulb=False, wired=False, model=MODEL)
    assert route == ShutterRoute(bulb="gpio", drives_line=True)


def test_a_bulb_in_usb_mode_is_timed_over_usb_when_the_camera_can() -> None:
    assert asks_for_usb_bulb("usb", NS_PER_S)
    route = shutter_route("usb", NS_PER_S, usb_bulb=True, wired=True, model=MODEL)
    assert route == ShutterRoute(bulb="usb", drives_line=False)
    assert isinstance(route, ShutterRoute) and route.bulb_over_usb


def test_a_bulb_the_camera_cannot_time_goes_to_the_wired_line() -> None:
    route = shutter_route("usb", NS_PER_S, usb_bulb=False, wired=True, model=MODEL)
    assert route == ShutterRoute(bulb="gpio", drives_line=True)
    assert isinstance(route, ShutterRoute) and not route.bulb_over_usb


def test_a_bulb_with_no_way_to_time_it_is_refused_naming_camera_wired() -> None:
    refusal = shutter_route("usb", NS_PER_S, usb_bulb=False, wired=False, model=MODEL)
    assert isinstance(refusal, Refusal)
    assert f"this camera ({MODEL}) cannot time a bulb exposure over USB" in refusal.message
    assert "camera.wired = true" in refusal.message
    assert "exposure = pulse" in refusal.message


# -- shutter edges --------------------------------------------------------------------------
def test_a_trigger_may_be_half_an_interval_late_and_never_less_than_50ms() -> None:
    assert stale_bound_ns(400 * NS_PER_MS) == 200 * NS_PER_MS
    assert stale_bound_ns(100 * NS_PER_MS) == MIN_STALE_NS == 50 * NS_PER_MS
    assert stale_bound_ns(60 * NS_PER_MS) == 50 * NS_PER_MS
    assert stale_bound_ns(NS_PER_S + 1) == NS_PER_S // 2


def test_a_trigger_exactly_at_the_stale_bound_fires_and_one_ns_later_is_missed() -> None:
    usb = ShutterRoute.plain("usb")
    bound = stale_bound_ns(400 * NS_PER_MS)
    assert edge_action(usb, on=True, age_ns=0, stale_ns=bound) is EdgeAction.TRIGGER
    assert edge_action(usb, on=True, age_ns=bound, stale_ns=bound) is EdgeAction.TRIGGER
    assert edge_action(usb, on=True, age_ns=bound + 1, stale_ns=bound) is EdgeAction.MISSED


def test_the_camera_times_its_own_exposure_so_a_release_needs_nothing() -> None:
    usb = ShutterRoute.plain("usb")
    assert edge_action(usb, on=False, age_ns=0, stale_ns=MIN_STALE_NS) is EdgeAction.NOTHING


def test_a_bulb_over_usb_is_pressed_and_released_and_a_late_release_still_closes() -> None:
    bulb = ShutterRoute(bulb="usb", drives_line=False)
    assert edge_action(bulb, on=True, age_ns=0, stale_ns=MIN_STALE_NS) is EdgeAction.BULB
    late = 10 * NS_PER_S
    assert edge_action(bulb, on=False, age_ns=late, stale_ns=MIN_STALE_NS) is EdgeAction.BULB
    assert edge_action(bulb, on=True, age_ns=late, stale_ns=MIN_STALE_NS) is EdgeAction.MISSED


@pytest.mark.parametrize("route", [ShutterRoute.plain("gpio"), ShutterRoute("gpio", True)])
def test_when_the_line_fires_the_shutter_usb_only_watches_however_late(
    route: ShutterRoute,
) -> None:
    late = 10 * NS_PER_S
    assert edge_action(route, on=True, age_ns=late, stale_ns=MIN_STALE_NS) is EdgeAction.WATCH
    assert edge_action(route, on=False, age_ns=late, stale_ns=MIN_STALE_NS) is EdgeAction.NOTHING


def test_a_shutter_failure_says_which_way() -> None:
    assert shutter_failure(True, "busy") == "the shutter did not open: busy"
    assert shutter_failure(False, "busy") == "the shutter did not close: busy"


# -- which frame a file belongs to ----------------------------------------------------------
def test_a_file_goes_to_the_frame_that_took_it() -> None:
    files = FrameFiles(call_timeout_ns=NS_PER_S)
    assert files.frame_for("DSC_0001.jpg") is None  # no frame yet: not the run's
    files.shutter(0)
    files.owe(0, now_ns=0)
    assert files.still_owed(now_ns=0)
    assert files.frame_for("DSC_0002.jpg") == 0
    assert not files.still_owed(now_ns=0)


def test_raw_and_jpeg_of_one_shot_go_to_one_frame() -> None:
    files = FrameFiles(call_timeout_ns=NS_PER_S)
    for frame in (0, 1):
        files.shutter(frame)
        files.owe(frame, now_ns=frame)
    assert [files.frame_for(name) for name in ("A_1.nef", "A_1.jpg", "A_2.nef", "A_2.jpg")] == [
        0,
        0,
        1,
        1,
    ]


def test_a_file_after_the_next_trigger_goes_to_the_oldest_frame_owed_one() -> None:
    files = FrameFiles(call_timeout_ns=NS_PER_S)
    files.shutter(4)
    files.owe(4, now_ns=400)
    files.shutter(3)  # owed frames are taken by age, not by number
    files.owe(3, now_ns=300)
    files.shutter(5)
    files.owe(5, now_ns=500)
    assert [files.frame_for(name) for name in ("A_3.jpg", "A_4.jpg", "A_5.jpg")] == [3, 4, 5]


def test_a_file_with_no_frame_owed_goes_to_the_latest_frame() -> None:
    files = FrameFiles(call_timeout_ns=NS_PER_S)
    files.shutter(7)
    assert files.frame_for("A_7.jpg") == 7


def test_a_frame_owed_a_file_is_given_up_after_two_call_bounds() -> None:
    files = FrameFiles(call_timeout_ns=NS_PER_S)
    assert files.give_up_ns == 2 * NS_PER_S
    files.shutter(0)
    files.owe(0, now_ns=0)
    assert files.still_owed(now_ns=2 * NS_PER_S)
    assert files.overdue(now_ns=2 * NS_PER_S) == []
    assert not files.still_owed(now_ns=2 * NS_PER_S + 1)
    assert files.overdue(now_ns=2 * NS_PER_S + 1) == [0]
    assert files.overdue(now_ns=3 * NS_PER_S) == []  # said once
    files.shutter(1)
    # Given up on: a late file goes to the latest frame, not to the frame that gave up.
    assert files.frame_for("A_0.jpg") == 1


@pytest.mark.parametrize(
    ("interval_ns", "call_timeout_ns", "wait_ns"),
    [
        (500 * NS_PER_MS, 10 * NS_PER_S, 2 * NS_PER_S),  # at least 2 s: a RAW takes time
        (5 * NS_PER_S, 10 * NS_PER_S, 5 * NS_PER_S),  # one interval
        (3600 * NS_PER_S, 10 * NS_PER_S, 20 * NS_PER_S),  # at most two call bounds
        (3600 * NS_PER_S, 1 * NS_PER_S, 2 * NS_PER_S),
        # Within the journal's amend window: 32 slots at 10 ms.
        (10 * NS_PER_MS, 10 * NS_PER_S, 320 * NS_PER_MS),
    ],
)
def test_a_frames_file_is_awaited_one_interval_within_bounds(
    interval_ns: int, call_timeout_ns: int, wait_ns: int
) -> None:
    assert file_wait_ns(interval_ns, call_timeout_ns) == wait_ns
    files = FrameFiles(call_timeout_ns)
    files.pace(interval_ns)
    assert files.give_up_ns == wait_ns


def test_the_end_of_a_run_gives_up_every_frame_still_owed() -> None:
    files = FrameFiles(call_timeout_ns=NS_PER_S)
    for frame in (2, 0, 1):
        files.owe(frame, now_ns=frame)
    assert files.give_up() == [0, 1, 2]
    assert not files.still_owed(now_ns=2) and files.give_up() == []
    assert "no file came from the camera within 2s" in no_file_message(2 * NS_PER_S)


def test_a_new_run_forgets_every_frame() -> None:
    files = FrameFiles(call_timeout_ns=NS_PER_S)
    files.shutter(0)
    files.owe(0, now_ns=0)
    assert files.frame_for("A_0.nef") == 0
    files.clear()
    assert not files.still_owed(now_ns=0)
    assert files.frame_for("A_0.jpg") is None  # the stem of the last run's file is forgotten


def test_a_file_kept_on_the_card_is_named_printably() -> None:
    saved = kept_on_card(3, "/store_00010001/DCIM", "DSC\x1b[31m_0003.JPG\n")
    assert saved == FileSaved(frame=3, file="card:/store_00010001/DCIM/DSC[31m_0003.JPG", size=0)


# -- failed calls ---------------------------------------------------------------------------
def test_busy_is_retried_after_growing_waits_then_given_up() -> None:
    waits = [busy_retry_ns("busy", answers) for answers in range(1, 7)]
    assert waits == [ms * NS_PER_MS for ms in (50, 100, 200, 400, 800)] + [None]


@pytest.mark.parametrize("kind", ["gone", "claimed", "unsupported", "hung", "failed"])
def test_only_busy_is_retried(kind: str) -> None:
    assert busy_retry_ns(kind, 1) is None


@pytest.mark.parametrize(
    ("kind", "lost"),
    [
        ("gone", True),
        ("hung", True),
        ("failed", True),
        ("claimed", True),
        ("busy", False),
        ("unsupported", False),
    ],
)
def test_which_failures_let_go_of_the_camera(kind: str, lost: bool) -> None:
    assert loses_camera(kind) is lost


def test_a_caller_waits_for_a_few_call_bounds_and_the_retries_never_forever() -> None:
    assert job_bound_ns(NS_PER_S) == 4 * NS_PER_S + sum(BUSY_BACKOFF_NS) + 5 * NS_PER_S


def test_a_file_is_left_on_the_camera_after_three_failed_downloads() -> None:
    tries = DownloadTries()
    assert [tries.failed(kind) for kind in ("busy", "unsupported", "failed")] == [
        False,
        False,
        True,
    ]
    # The count starts again for the next file.
    assert [tries.failed("failed") for _ in range(3)] == [False, False, True]


def test_a_camera_that_is_away_costs_its_files_no_tries() -> None:
    tries = DownloadTries()
    assert tries.failed("busy") is False
    for kind in ("gone", "hung", "claimed"):
        assert [tries.failed(kind) for _ in range(5)] == [False] * 5
    assert tries.failed("busy") is False
    assert tries.failed("busy") is True


def test_a_file_that_comes_gives_the_next_every_try() -> None:
    tries = DownloadTries()
    tries.failed("busy")
    tries.failed("busy")
    tries.succeeded()
    assert [tries.failed("busy") for _ in range(3)] == [False, False, True]


def test_a_file_left_on_the_camera_is_news_for_the_photographer() -> None:
    assert left_on_camera(1, "the camera cannot do this") == CameraChanged(
        message="camera: frame 1's file stays on the camera: the camera cannot do this",
        fault=True,
    )


# -- the disk -------------------------------------------------------------------------------
def test_the_reserve_is_kept_to_the_byte() -> None:
    assert short_of_room(available=1000, reserve=900, size=100) is None
    assert short_of_room(available=1000, reserve=901, size=100) == full_message(1000, 901)
    assert short_of_room(available=900, reserve=900) is None
    assert short_of_room(available=899, reserve=900) is not None
    assert "the disk is full (10 MB free, 200 MB kept in reserve)" in full_message(
        10_000_000, 200_000_000
    )


def test_a_full_disk_pauses_downloads_news_once_and_looks_again_after_the_retry() -> None:
    pause = DownloadPause(retry_ns=10 * NS_PER_S)
    full = full_message(10_000_000, 200_000_000)
    assert not pause.holds(now_ns=0)
    assert pause.pause(now_ns=0, message=full) == CameraChanged(message=full, fault=True)
    assert pause.message == full
    assert pause.holds(now_ns=10 * NS_PER_S - 1)
    assert not pause.holds(now_ns=10 * NS_PER_S)
    # Still full at the next look: paused again, and nothing new to say.
    assert pause.pause(now_ns=10 * NS_PER_S, message=full) is None
    assert pause.holds(now_ns=20 * NS_PER_S - 1)
    # Another reason is news of its own.
    other = "downloads wait: could not write to /runs/x: Read-only file system"
    assert pause.pause(now_ns=20 * NS_PER_S, message=other) == CameraChanged(other, True)


def test_downloads_resume_with_news_once_and_only_after_a_pause() -> None:
    pause = DownloadPause(retry_ns=NS_PER_S)
    assert pause.resume() is None
    pause.pause(now_ns=0, message="full")
    assert pause.resume() == CameraChanged(
        message="downloads resumed: the disk has room", fault=False
    )
    assert pause.message is None
    assert pause.resume() is None
    # Full again after resuming: the same reason is news again.
    assert pause.pause(now_ns=0, message="full") is not None


def test_a_new_run_starts_downloading_at_once() -> None:
    pause = DownloadPause(retry_ns=60 * NS_PER_S)
    pause.pause(now_ns=0, message="full")
    pause.clear()
    assert not pause.holds(now_ns=0) and pause.message is None
    assert pause.pause(now_ns=0, message="full") is not None
