"""The run planner: warnings appear exactly when the battery or the disk will not last."""

from __future__ import annotations

import pytest

from core.model.battery import BatteryModel, BatteryReading
from core.model.durations import DAY_NS, HOUR_NS, MINUTE_NS, NS_PER_S
from core.model.plan import make_plan
from core.model.planner import DEFAULT_RESERVE_BYTES, assess_run, format_bytes
from core.model.settings import Settings

THIRTY_S = 30 * NS_PER_S
MB = 1_000_000
GB = 1_000_000_000


def lasting(ns: int | None, *, charging: bool | None = False) -> BatteryReading:
    return BatteryReading(percent=50.0, source="test", lasts_ns=ns, charging=charging)


# --- battery --------------------------------------------------------------------


def test_a_battery_that_runs_out_first_is_a_warning_naming_both_times() -> None:
    settings = Settings(interval_ns=THIRTY_S, frames=2000)  # needs 16h40min
    outlook = assess_run(settings, battery=lasting(9 * HOUR_NS + 40 * MINUTE_NS))
    assert outlook.warnings == ("the battery lasts about 9h40min; the run needs 16h40min",)
    assert outlook.battery_short
    assert not outlook.ok
    assert outlook.needs_ns == 2000 * THIRTY_S
    assert outlook.battery_lasts_ns == 9 * HOUR_NS + 40 * MINUTE_NS


@pytest.mark.parametrize(
    ("lasts_ns", "short"),
    [
        (2000 * THIRTY_S - 1, True),
        (2000 * THIRTY_S, False),  # lasting exactly as long as the run is enough
        (2000 * THIRTY_S + 1, False),
    ],
)
def test_the_battery_boundary(lasts_ns: int, short: bool) -> None:
    outlook = assess_run(Settings(interval_ns=THIRTY_S, frames=2000), battery=lasting(lasts_ns))
    assert outlook.battery_short is short
    assert bool(outlook.warnings) is short


def test_frames_done_shorten_what_the_run_needs() -> None:
    settings = Settings(interval_ns=THIRTY_S, frames=2000)
    battery = lasting(9 * HOUR_NS)
    assert assess_run(settings, frames_done=0, battery=battery).battery_short
    halfway = assess_run(settings, frames_done=1000, battery=battery)  # needs 8h20min
    assert halfway.frames_left == 1000
    assert halfway.needs_ns == 1000 * THIRTY_S
    assert halfway.warnings == ()


def test_the_start_delay_counts_before_the_first_frame() -> None:
    settings = Settings(interval_ns=MINUTE_NS, frames=60, delay_ns=HOUR_NS)  # 1h + 1h
    battery = lasting(90 * MINUTE_NS)
    before = assess_run(settings, battery=battery)
    assert before.needs_ns == 2 * HOUR_NS
    assert before.warnings == ("the battery lasts about 1h30min; the run needs 2h",)
    assert assess_run(settings, frames_done=1, battery=battery).warnings == ()
    assert assess_run(settings, battery=battery, wait_ns=0).warnings == ()


def test_a_run_until_stopped_is_told_how_long_the_battery_lasts_not_warned() -> None:
    outlook = assess_run(Settings(interval_ns=MINUTE_NS), battery=lasting(26 * HOUR_NS))
    assert outlook.warnings == ()
    assert outlook.notes == ("runs until stopped; the battery lasts about 1d2h",)
    assert outlook.ok
    assert outlook.needs_ns is None
    assert outlook.frames_left is None


def test_on_external_power_nothing_runs_out() -> None:
    outlook = assess_run(
        Settings(interval_ns=THIRTY_S, frames=2000), battery=lasting(HOUR_NS, charging=True)
    )
    assert outlook.warnings == ()
    assert outlook.notes == ("on external power: the battery is not draining",)
    assert outlook.battery_lasts_ns is None


def test_an_unknown_battery_says_nothing() -> None:
    settings = Settings(interval_ns=THIRTY_S, frames=2000)
    for battery in (None, lasting(None), lasting(None, charging=None)):
        outlook = assess_run(settings, battery=battery)
        assert (outlook.warnings, outlook.notes) == ((), ())


def test_the_models_estimate_is_accepted_as_it_is() -> None:
    # The TUI holds a BatteryEstimate from BatteryModel.estimate: the planner takes it too.
    settings = Settings(interval_ns=MINUTE_NS, frames=24 * 60)  # a day
    plan = make_plan(settings)
    small = BatteryModel(capacity_mah=2000.0).estimate(plan, running_ns=0, frames_left=24 * 60)
    large = BatteryModel(capacity_mah=20_000.0).estimate(plan, running_ns=0, frames_left=24 * 60)
    assert assess_run(settings, battery=small).battery_short
    assert not assess_run(settings, battery=large).battery_short


# --- disk -----------------------------------------------------------------------


def test_a_disk_that_fills_first_is_a_warning_with_the_numbers() -> None:
    settings = Settings(interval_ns=THIRTY_S, frames=2000)
    free = 12_200 * MB
    outlook = assess_run(settings, free_bytes=free, average_file_bytes=9.8 * MB)
    # (12.2 GB − 50 MB reserve) ÷ 9.8 MB = 1,239.8: 1,239 whole frames.
    assert outlook.frames_fit == 1239
    assert outlook.disk_short
    assert outlook.warnings == (
        "the disk fills after about 1,239 more frames (12 GB free, 9.8 MB a frame);"
        " the run needs 2,000",
    )


@pytest.mark.parametrize(("frames", "short"), [(99, False), (100, False), (101, True)])
def test_the_disk_boundary_keeps_the_reserve(frames: int, short: bool) -> None:
    free = DEFAULT_RESERVE_BYTES + 100 * 5 * MB  # room for exactly 100 frames of 5 MB
    outlook = assess_run(
        Settings(interval_ns=THIRTY_S, frames=frames), free_bytes=free, average_file_bytes=5 * MB
    )
    assert outlook.frames_fit == 100
    assert outlook.disk_short is short
    assert bool(outlook.warnings) is short


def test_a_larger_reserve_leaves_fewer_frames() -> None:
    settings = Settings(interval_ns=THIRTY_S, frames=100)
    outlook = assess_run(
        settings, free_bytes=300 * MB, average_file_bytes=MB, reserve_bytes=200 * MB
    )
    assert outlook.frames_fit == 100
    assert not outlook.disk_short
    outlook = assess_run(
        settings, free_bytes=300 * MB, average_file_bytes=MB, reserve_bytes=201 * MB
    )
    assert outlook.frames_fit == 99
    assert outlook.disk_short


def test_frames_done_shorten_what_the_disk_must_hold() -> None:
    settings = Settings(interval_ns=THIRTY_S, frames=2000)
    outlook = assess_run(
        settings, frames_done=800, free_bytes=12_200 * MB, average_file_bytes=9.8 * MB
    )
    assert outlook.frames_left == 1200
    assert not outlook.disk_short


def test_no_frame_size_yet_means_no_disk_judgement() -> None:
    outlook = assess_run(
        Settings(interval_ns=THIRTY_S, frames=2000), free_bytes=1 * GB, average_file_bytes=None
    )
    assert outlook.frames_fit is None
    assert (outlook.warnings, outlook.notes) == ((), ())
    unknown_free = assess_run(
        Settings(interval_ns=THIRTY_S, frames=2000), free_bytes=None, average_file_bytes=9.8 * MB
    )
    assert unknown_free.frames_fit is None
    assert unknown_free.warnings == ()


def test_a_disk_down_to_its_reserve_warns_even_before_a_download() -> None:
    outlook = assess_run(Settings(interval_ns=THIRTY_S, frames=10), free_bytes=30 * MB)
    assert outlook.disk_short
    assert outlook.warnings == (
        "the disk is nearly full: 30 MB free, within the 50 MB kept in reserve",
    )
    sized = assess_run(
        Settings(interval_ns=THIRTY_S), free_bytes=30 * MB, average_file_bytes=5 * MB
    )
    assert sized.frames_fit == 0
    assert sized.disk_short


def test_a_run_until_stopped_is_told_when_the_disk_fills() -> None:
    free = DEFAULT_RESERVE_BYTES + 1240 * 10 * MB
    outlook = assess_run(
        Settings(interval_ns=MINUTE_NS), free_bytes=free, average_file_bytes=10 * MB
    )
    assert outlook.warnings == ()
    assert outlook.notes == ("the disk fills after about 1,240 more frames (20h40min)",)
    assert not outlook.disk_short


# --- both, and a finished run -------------------------------------------------------


def test_both_warnings_battery_first() -> None:
    outlook = assess_run(
        Settings(interval_ns=THIRTY_S, frames=2000),
        battery=lasting(HOUR_NS),
        free_bytes=1 * GB,
        average_file_bytes=10 * MB,
    )
    assert len(outlook.warnings) == 2
    assert outlook.warnings[0].startswith("the battery lasts about 1h;")
    assert outlook.warnings[1].startswith("the disk fills after about 95 more frames")
    assert outlook.to_dict() == {
        "warnings": list(outlook.warnings),
        "notes": [],
        "frames_left": 2000,
        "needs_ns": 2000 * THIRTY_S,
        "battery_lasts_ns": HOUR_NS,
        "battery_short": True,
        "frames_fit": 95,
        "disk_short": True,
    }


def test_a_finished_run_warns_of_nothing() -> None:
    outlook = assess_run(
        Settings(interval_ns=THIRTY_S, frames=100),
        frames_done=100,
        battery=lasting(MINUTE_NS),
        free_bytes=0,
        average_file_bytes=5 * MB,
    )
    assert outlook.frames_left == 0
    assert outlook.warnings == ()


def test_a_long_run_says_days() -> None:
    outlook = assess_run(Settings(interval_ns=HOUR_NS, frames=30 * 24), battery=lasting(DAY_NS))
    assert outlook.warnings == ("the battery lasts about 1d; the run needs 30d",)


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 bytes"),
        (999, "999 bytes"),
        (1000, "1.0 kB"),
        (9.8 * MB, "9.8 MB"),
        (9.96 * MB, "10 MB"),
        (50 * MB, "50 MB"),
        (12_200 * MB, "12 GB"),
        (999.9 * MB, "1.0 GB"),
        (3.5e12, "3.5 TB"),
    ],
)
def test_format_bytes(count: float, text: str) -> None:
    assert format_bytes(count) == text
