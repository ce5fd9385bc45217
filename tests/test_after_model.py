"""After the run as plain logic (core/model/after.py): which picture each video frame
shows, deflicker's gains, the encoder chosen, the sizes."""

from __future__ import annotations

import pytest

from core.model.after import (
    MAX_DEFLICKER_GAIN,
    AfterError,
    choose_encoder,
    deflicker_gains,
    fitted,
    shown_frames,
    video_size,
)
from tests.after_runs import record


def test_missed_and_failed_slots_hold_the_previous_picture_so_time_stays_even() -> None:
    records = [
        record(0, "ok", "a.jpg", brightness=0.5),
        record(1, "missed"),
        record(2, "error"),
        record(3, "ok", None),  # taken, never downloaded
        record(4, "ok", "e.jpg"),
    ]
    shown = list(shown_frames(records))
    assert [(s.slot, s.file, s.held) for s in shown] == [
        (0, "a.jpg", False),
        (1, "a.jpg", True),
        (2, "a.jpg", True),
        (3, "a.jpg", True),
        (4, "e.jpg", False),
    ]
    assert shown[1].brightness == 0.5


def test_skip_missing_drops_them_and_skipped_slots_are_never_in_the_video() -> None:
    records = [
        record(0, "ok", "a.jpg"),
        record(1, "missed", last=3),  # a gap of three slots, one line
        record(4, "skipped", last=9),  # outside the window
        record(10, "ok", "k.jpg"),
    ]
    assert [s.slot for s in shown_frames(records)] == [0, 1, 2, 3, 10]
    assert [s.slot for s in shown_frames(records, skip_missing=True)] == [0, 10]


def test_slots_before_the_first_picture_have_nothing_to_hold() -> None:
    records = [record(0, "missed"), record(1, "ok", "b.jpg"), record(2, "missed")]
    assert [(s.slot, s.held) for s in shown_frames(records)] == [(1, False), (2, True)]


def test_from_and_to_cut_the_run_by_slot() -> None:
    records = [record(k, "ok", f"{k}.jpg") for k in range(10)]
    assert [s.slot for s in shown_frames(records, first=3, last=5)] == [3, 4, 5]


def test_deflicker_brings_each_frame_to_its_neighbours_mean() -> None:
    gains = deflicker_gains([0.5, 0.25, 0.5], window=3)
    assert gains[1] == pytest.approx((0.5 + 0.25 + 0.5) / 3 / 0.25)
    assert gains[0] == pytest.approx((0.5 + 0.25) / 2 / 0.5)  # fewer at the ends


def test_deflicker_keeps_a_steady_ramp_and_unmeasured_frames() -> None:
    ramp = [0.1 + 0.01 * k for k in range(30)]
    gains = deflicker_gains(ramp, window=5)
    assert all(g == pytest.approx(1.0) for g in gains[2:-2])
    assert deflicker_gains([0.4, None, float("nan"), 0.0, 0.4], window=5)[1:4] == [1.0] * 3


def test_deflicker_gain_is_bounded() -> None:
    gains = deflicker_gains([0.9, 0.001, 0.9], window=3)
    assert gains[1] == MAX_DEFLICKER_GAIN


def test_the_pis_hardware_encoder_is_chosen_when_listed_and_it_opens() -> None:
    listed = {"h264_v4l2m2m", "libx264", "hevc_v4l2m2m", "libx265"}
    assert choose_encoder("h264", listed, lambda name: True) == "h264_v4l2m2m"
    # Built in, but no device to open: the software encoder.
    assert choose_encoder("h264", listed, lambda name: "v4l2" not in name) == "libx264"
    assert choose_encoder("h264", {"libx264"}, lambda name: True) == "libx264"
    assert choose_encoder("hevc", listed, lambda name: "v4l2" not in name) == "libx265"


def test_no_working_encoder_and_unknown_codecs_are_one_clear_error() -> None:
    with pytest.raises(AfterError, match="no h264 encoder works here"):
        choose_encoder("h264", {"h264_v4l2m2m"}, lambda name: False)
    with pytest.raises(AfterError, match="unknown codec 'mpeg2'"):
        choose_encoder("mpeg2", {"libx264"}, lambda name: True)


def test_sizes_by_name_and_by_width_and_height() -> None:
    assert video_size("1080p") == (1920, 1080)
    assert video_size("4K") == (3840, 2160)
    assert video_size("1280x720") == (1280, 720)
    for bad in ("1081x720", "big", "10x10", "99999x2"):
        with pytest.raises(AfterError):
            video_size(bad)


def test_a_picture_is_fitted_whole_and_centred() -> None:
    assert fitted((6000, 4000), (1920, 1080)) == (150, 0, 1620, 1080)
    assert fitted((1920, 1080), (1920, 1080)) == (0, 0, 1920, 1080)
    assert fitted((4000, 6000), (1920, 1080)) == (600, 0, 720, 1080)
