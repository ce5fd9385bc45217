"""What the main screen shows, computed from a status and the time (tui/view.py)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from core.model.battery import BatteryModel, battery_status
from core.model.durations import DAY_NS, HOUR_NS, MINUTE_NS, NS_PER_S, format_approx, parse_duration
from core.model.led import led_level
from core.model.plan import Line, make_plan
from core.model.planner import assess_run
from core.model.protocol import (
    BatteryStatus,
    CameraStatus,
    HooksStatus,
    PlanEvent,
    RunPreview,
    Status,
    UploadStatus,
)
from core.model.records import FrameRecord
from core.model.run_state import RunState
from core.model.settings import Settings
from core.model.timeline import cycle_position, layout_cycle
from tests.statuses import running
from tui.view import (
    approx_change_in_ns,
    battery_change_in_ns,
    build_view,
    camera_brief,
    delivery_line,
    next_led_change_ns,
    phase_at,
    resting_brief,
    run_lines,
)

S = NS_PER_S
PREVIEW = Settings(interval_ns=10 * S)


def idle(state: RunState = RunState.IDLE, **extra) -> Status:
    """The daemon's status with no run going."""
    return Status(state=state, now_ns=0, rig="simulated", simulated=True, outputs={}, **extra)


def ok_frame(frame: int, due_ns: int, lateness_ns: int) -> FrameRecord:
    return FrameRecord(
        frame=frame,
        due_ns=due_ns,
        fired_ns=due_ns + lateness_ns,
        wall="2026-11-21T08:16:04.000004+00:00",
        status="ok",
    )


def model_battery(
    settings: Settings, model: BatteryModel, *, running_ns: int, at_ns: int
) -> BatteryStatus:
    """The figure a daemon with no battery monitor reports for a run: its model, draining."""
    estimate = model.estimate(make_plan(settings), running_ns=running_ns, frames_left=None)
    return battery_status(estimate, at_ns=at_ns, draining=True)


def preview_of(settings: Settings, battery: BatteryStatus, **disk) -> RunPreview:
    """The daemon's answer to ``Preview(settings)``."""
    return RunPreview(battery=battery, outlook=assess_run(settings, battery=battery, **disk))


SETTINGS_10S = Settings.from_dict(
    {
        "interval": "10s",
        "power": True,
        "frames": 100,
        "delay": "0s",
        "exposure": "pulse",
        "focus_lead": "4s",
        "clock_ppm": 0.0,
    }
)


def test_running_view_counts_and_times() -> None:
    anchor = 1_000 * S
    last = ok_frame(6, anchor + 60 * S, lateness_ns=4_000)
    now = anchor + 7 * 10 * S - S  # one second before frame 7's shutter
    battery = model_battery(SETTINGS_10S, BatteryModel(), running_ns=69 * S, at_ns=now)
    status = running(anchor, SETTINGS_10S, last_frame=last, battery=battery)
    view = build_view(status, now, PREVIEW)
    assert view.state == "running"
    assert view.frame_text == "frame 7 of 100"
    assert view.next_text == "next in 1.0s"
    # Frame 99's shutter is due 990 s after the anchor and closes 0.5 s later: 921.5 s left.
    assert view.remaining_text == "left 15min21s"
    assert view.late_text == "late 4us"
    assert view.offset_ns == -S
    assert view.phase == "power", "a 10 s plan's focus leads by 667 ms: at -1 s only power"
    assert view.led == 0.0, "between two dim power blinks (at -2.33 s and -0.33 s)"
    assert view.battery is not None and view.battery.source == "model"


def test_waiting_before_the_first_shutter_and_idle_preview() -> None:
    anchor = 1_000 * S
    # The daemon says "waiting" until the first slot is reached; the view shows its word.
    waiting = running(anchor, SETTINGS_10S, state=RunState.WAITING)
    view = build_view(waiting, anchor - 5 * S, PREVIEW)
    assert view.state == "waiting" and view.frame_text == "frame 0 of 100"
    # A start delay says when the rig begins (power and focus lead the shutter), not
    # "elapsed 0us", and counts down to it a second at a time.
    begins = anchor - make_plan(SETTINGS_10S).lead_ns
    early = build_view(waiting, begins - 121 * S - S // 2, PREVIEW)
    assert early.elapsed_text == "starts in 2min1s" and early.next_text == ""
    assert early.texts_change_at_ns is not None and early.texts_change_at_ns <= begins - 121 * S
    begun = build_view(waiting, begins + S, PREVIEW)
    assert begun.elapsed_text == "elapsed 1.0s" and begun.next_text.startswith("next in ")
    assert view.plan == make_plan(SETTINGS_10S), "the run's plan, not the switches'"
    for status in (None, idle()):
        shown = build_view(status, 0, PREVIEW)
        assert shown.state == "idle" and shown.plan == make_plan(PREVIEW)
        assert shown.offset_ns is None
        assert shown.battery is None, "unknown until the daemon answers about the switches"


def test_the_plan_of_a_run_is_the_daemons() -> None:
    anchor = 1_000 * S
    status = running(anchor, SETTINGS_10S)
    sent = make_plan(SETTINGS_10S.with_changes(focus_lead_ns=2 * S))
    view = build_view(status, anchor, PREVIEW, plan=PlanEvent(run="r", plan=sent))
    assert view.plan == sent
    # A plan of another run (the one before) is not this run's: the settings' plan is.
    other = build_view(status, anchor, PREVIEW, plan=PlanEvent(run="before", plan=sent))
    assert other.plan == make_plan(SETTINGS_10S)


def test_a_starting_run_is_not_drawn_from_the_last_one() -> None:
    # While the camera gets ready the grid is not placed, and the status carries the
    # last run: its frames and its plan are not the new run's.
    last = running(1_000 * S, SETTINGS_10S, state=RunState.STOPPED)
    assert last.run is not None
    starting = idle(RunState.STARTING, run=last.run)
    view = build_view(starting, 5_000 * S, PREVIEW)
    assert view.state == "starting"
    assert view.plan == make_plan(PREVIEW) and view.offset_ns is None
    assert view.next_text == "" and view.elapsed_text == ""


def test_cycle_position_and_layout_agree_on_the_shutter() -> None:
    plan = make_plan(Settings(interval_ns=parse_duration("1min"), power=True))
    anchor = 500 * S
    frame, offset = cycle_position(anchor + 3 * 60 * S + S, anchor, plan.interval_ns, plan.lead_ns)
    assert (frame, offset) == (3, S)
    layout = layout_cycle(plan, 40)
    column = layout.column_of(0)
    assert layout.line_states(Line.SHUTTER)[column]
    assert not layout.line_states(Line.SHUTTER)[layout.column_of(-5 * S)]
    long = layout_cycle(make_plan(Settings(interval_ns=parse_duration("30d"))), 40)
    assert long.break_label == "≈29d23h"
    assert None in long.line_states(Line.FOCUS), "the idle stretch is compressed"


def test_battery_model_charges_optos_and_led_on_top_of_the_pi() -> None:
    model = BatteryModel(capacity_mah=1000, pi_ma=100, opto_ma=10, led_ma=20)
    plan = make_plan(Settings(interval_ns=60 * S))
    # Focus 7 s and shutter 3 s at 10 mA; the LED: 4 half-lit flashes and 3 s full.
    led_s = sum((i + 1) / 4 * 0.5 for i in range(4)) + 3
    expected = (100 * 60 + 10 * (7 + 3) + 20 * led_s) / 3600
    assert abs(model.charge_per_cycle_mah(plan) - expected) < 1e-9
    estimate = model.estimate(plan, running_ns=3600 * S, frames_left=10)
    assert abs(estimate.percent - 100 * (1 - model.average_ma(plan) / 1000)) < 1e-9
    assert not estimate.outlasts_battery
    endless = model.estimate(plan, running_ns=0, frames_left=None)
    assert not endless.outlasts_battery, "a run until stopped is no warning, only information"


# When the screen must wake: what changes next, and when


@pytest.mark.parametrize(
    "value",
    [
        MINUTE_NS,
        MINUTE_NS + 1,
        5 * MINUTE_NS + 300_000_000,
        HOUR_NS - 1,
        HOUR_NS,
        HOUR_NS + 30 * NS_PER_S,
        5 * HOUR_NS + 7 * MINUTE_NS + 12 * NS_PER_S,
        DAY_NS,
        DAY_NS + 30 * MINUTE_NS,
        29 * DAY_NS + 23 * HOUR_NS + 59 * MINUTE_NS,
    ],
)
@pytest.mark.parametrize("falling", [True, False])
def test_approx_change_is_exactly_where_the_words_change(value: int, falling: bool) -> None:
    wait = approx_change_in_ns(value, falling=falling)
    assert wait is not None and wait > 0
    sign = -1 if falling else 1
    assert format_approx(value + sign * wait) != format_approx(value)
    assert format_approx(value + sign * (wait - 1)) == format_approx(value), "not the first"


def test_approx_change_under_a_minute_steps_on_whole_seconds() -> None:
    # Tenths would change ten times a second: the figure is redrawn on its seconds.
    assert approx_change_in_ns(42_300_000_000, falling=True) == 300_000_000
    assert approx_change_in_ns(42 * S, falling=True) == S
    assert approx_change_in_ns(300_000_000, falling=True) == 300_000_000
    assert approx_change_in_ns(42_300_000_000, falling=False) == 700_000_000
    assert approx_change_in_ns(0, falling=False) == S
    assert approx_change_in_ns(0, falling=True) is None, "a countdown at zero is over"


def test_between_frames_the_texts_change_once_a_second_on_the_countdown() -> None:
    anchor = 1_000 * S
    settings = SETTINGS_10S.with_changes(interval_ns=MINUTE_NS, power=False, frames=0)
    status = running(anchor, settings)
    now = anchor + 20 * S + 300_000_000  # the break: 39.7 s before the next shutter
    view = build_view(status, now, PREVIEW)
    assert view.next_text == "next in 39.7s"
    assert view.texts_change_at_ns == anchor + 21 * S
    later = build_view(status, anchor + 21 * S, PREVIEW)
    assert later.next_text == "next in 39.0s"
    assert later.texts_change_at_ns == anchor + 22 * S
    # The LED stays off until the next cycle's first flash, 4 s before its shutter.
    assert view.led_change_at_ns == anchor + 56 * S


def test_the_led_changes_at_each_flash_edge_and_at_the_cycle_end() -> None:
    plan = make_plan(Settings(interval_ns=60 * S, power=True))
    offset = plan.edges[0].offset_ns - 10 * S  # a start delay
    seen = 0
    while offset < plan.interval_ns - plan.lead_ns:
        changes_at = next_led_change_ns(plan, offset)
        assert changes_at > offset
        # Nothing the lamp shows changes before then.
        for probe in (offset, (offset + changes_at) // 2, changes_at - 1):
            assert led_level(plan, probe) == led_level(plan, offset)
            assert phase_at(plan, probe) == phase_at(plan, offset)
        offset = changes_at
        seen += 1
    assert offset == plan.interval_ns - plan.lead_ns, "the last one is the cycle's end"
    assert seen > 20, "flashes, the powered blink, the edges"


def test_battery_change_is_when_its_number_or_words_change() -> None:
    model = BatteryModel(capacity_mah=500)
    plan = make_plan(Settings(interval_ns=60 * S))

    def number_step(percent: float) -> float | None:
        step = math.ceil(percent - 0.5) - 0.5
        return step if step > 0 else None

    def words(running_ns: int) -> tuple[str, str]:
        estimate = model.estimate(plan, running_ns=running_ns, frames_left=None)
        return f"{estimate.percent:.0f}", format_approx(estimate.lasts_ns or 0)

    running_ns = 0
    for _ in range(30):
        estimate = model.estimate(plan, running_ns=running_ns, frames_left=None)
        wait = battery_change_in_ns(estimate, number_step)
        assert wait is not None and wait > 0
        assert words(running_ns + wait) != words(running_ns)
        assert words(running_ns + wait - 1_000_000) == words(running_ns), "not the first"
        running_ns += wait + 17 * HOUR_NS // 1000  # and on, to somewhere in between


# The daemon's battery monitor, the camera and the disk


def test_a_battery_monitor_replaces_the_model() -> None:
    anchor = 1_000 * S
    battery = BatteryStatus(
        source="ina219 0x42", percent=62.0, lasts_ns=5 * HOUR_NS, draw_ma=480.0,
        voltage_v=7.61, charging=False, at_ns=anchor,
    )  # fmt: skip
    status = running(anchor, SETTINGS_10S, battery=battery)
    view = build_view(status, anchor + 5 * S, PREVIEW)
    assert view.battery is not None
    assert (view.battery.source, view.battery.percent) == ("ina219 0x42", 62.0)
    assert view.battery.lasts_ns == 5 * HOUR_NS and not view.battery_drains
    # 100 frames of 10 s need about 16 min: 5 h is plenty.
    assert not view.battery.outlasts_battery
    # The daemon's model stands in for no monitor: it is shown as such, and drains.
    model = model_battery(SETTINGS_10S, BatteryModel(), running_ns=0, at_ns=anchor)
    view = build_view(replace(status, battery=model), anchor + 5 * S, PREVIEW)
    assert view.battery is not None and view.battery.source == "model"
    assert view.battery_drains
    # A monitor the daemon could not read: no figure at all (lapse status says why).
    unread = BatteryStatus(source="ina219 0x42", at_ns=anchor, error="no answer")
    view = build_view(replace(status, battery=unread), anchor + 5 * S, PREVIEW)
    assert view.battery is None and not view.battery_drains


def test_a_draining_model_falls_with_the_clock_between_status_events() -> None:
    anchor = 1_000 * S
    model = BatteryModel(capacity_mah=2_000)
    plan = make_plan(SETTINGS_10S)
    started = anchor - plan.lead_ns
    sent = anchor + 60 * S
    battery = model_battery(SETTINGS_10S, model, running_ns=sent - started, at_ns=sent)
    status = running(anchor, SETTINGS_10S, battery=battery)
    first = build_view(status, sent, PREVIEW).battery
    assert first is not None
    assert (first.percent, first.lasts_ns) == (battery.percent, battery.lasts_ns)
    # An hour on, with no status since: what the daemon's model would say by then.
    view = build_view(status, sent + HOUR_NS, PREVIEW)
    later = view.battery
    expected = model.estimate(plan, running_ns=sent + HOUR_NS - started, frames_left=None)
    assert later is not None and view.battery_drains
    assert battery.lasts_ns is not None and expected.lasts_ns is not None
    assert later.lasts_ns == battery.lasts_ns - HOUR_NS
    assert later.lasts_ns == pytest.approx(expected.lasts_ns, abs=1)
    assert later.percent == pytest.approx(expected.percent)
    assert later.percent < first.percent
    # A monitor's figure is what it read: it stays put until the next status.
    monitor = BatteryStatus(source="sysfs BAT0", percent=80.0, lasts_ns=3 * HOUR_NS, at_ns=sent)
    steady = replace(status, battery=monitor)
    shown = [build_view(steady, now, PREVIEW) for now in (sent, sent + HOUR_NS)]
    assert [(v.battery.percent, v.battery.lasts_ns) for v in shown if v.battery] == [
        (80.0, 3 * HOUR_NS),
        (80.0, 3 * HOUR_NS),
    ]
    assert not any(v.battery_drains for v in shown)


def test_the_idle_gauge_is_the_daemons_preview() -> None:
    counted = Settings(interval_ns=10 * S, frames=360)  # an hour of frames
    estimate = BatteryModel().estimate(make_plan(counted), running_ns=0, frames_left=None)
    battery = battery_status(estimate, at_ns=0, draining=False)
    view = build_view(idle(), 5 * HOUR_NS, counted, outlook=preview_of(counted, battery))
    assert view.battery is not None
    assert (view.battery.source, view.battery.percent) == ("model", 100.0)
    assert view.battery.lasts_ns == estimate.lasts_ns, "not drained by the clock"
    assert view.battery.needs_ns == 360 * 10 * S
    assert not view.battery_drains


def test_on_external_power_the_battery_never_warns() -> None:
    battery = BatteryStatus(source="sysfs BAT0", percent=100.0, charging=True, lasts_ns=None)
    view = build_view(idle(), 0, PREVIEW, outlook=preview_of(PREVIEW, battery))
    assert view.battery is not None and view.battery.charging
    assert not view.battery.outlasts_battery


def test_the_camera_line() -> None:
    camera = CameraStatus(
        trigger="usb", connected=True, model="Nikon DSC D3400", battery="75%",
        downloads="on", paused=None, saved=12, fault=None,
    )  # fmt: skip
    assert build_view(idle(camera=camera), 0, PREVIEW).camera_text == (
        "camera: Nikon DSC D3400 · battery 75% · 12 saved"
    )
    paused = replace(camera, paused="the disk is full", downloads="paused")
    assert build_view(idle(camera=paused), 0, PREVIEW).camera_text.endswith("downloads paused")
    away = replace(camera, connected=False, fault="no camera answers over USB")
    assert build_view(idle(camera=away), 0, PREVIEW).camera_text == (
        "camera: not connected (no camera answers over USB)"
    )
    assert build_view(idle(), 0, PREVIEW).camera_text == ""


def test_the_uploads_and_hooks_have_a_line_and_the_small_screen_a_brief() -> None:
    camera = CameraStatus(trigger="usb", connected=True, model="Nikon DSC D3400", saved=12)
    upload = UploadStatus(server="pi@sky:lapse", waiting=3, waiting_bytes=24_000, sent=9)
    hooks = HooksStatus(ran=4, failed=1, last_error="fault: exit status 1")
    status = idle(camera=camera, upload=upload, hooks=hooks)
    assert delivery_line(status) == (
        "upload to pi@sky:lapse: 3 waiting (24 kB), 9 sent"
        "\nhooks: 4 ran, 1 failed; last: fault: exit status 1"
    )
    assert delivery_line(idle(hooks=HooksStatus(ran=4))) == "hooks: 4 ran"
    assert delivery_line(idle(upload=upload, hooks=HooksStatus(ran=4))).startswith("upload")
    assert delivery_line(idle()) == ""
    assert resting_brief(status, 50) == "Nikon DSC D3400 · 12 saved · up: 3 waiting"
    assert resting_brief(status, 40) == "camera · 12 saved · up: 3 waiting"
    assert resting_brief(status, 30) == "Nikon DSC D3400 · 12 saved", "the camera first"
    stopped = replace(upload, stopped=True, last_error="the server refused the key")
    assert resting_brief(idle(camera=camera, upload=stopped), 40) == (
        "up: STOPPED: the server refused the key"
    ), "trouble first"
    assert resting_brief(idle(upload=upload), 40) == "up: 3 waiting"


def test_the_camera_in_brief_fits_its_width() -> None:
    camera = CameraStatus(
        trigger="usb", connected=True, model="Nikon DSC D3400", battery="75%", saved=12,
    )  # fmt: skip
    assert camera_brief(camera, 40) == "Nikon DSC D3400 · 75% · 12 saved"
    assert camera_brief(camera, 30) == "camera · 75% · 12 saved", "the model goes first"
    assert camera_brief(replace(camera, connected=False), 40) == "camera: not connected"
    assert camera_brief(replace(camera, downloads="off"), 40).endswith("files on the card")
    assert camera_brief(None, 40) == ""


def test_the_disk_warning_before_start_and_while_running() -> None:
    counted = Settings(interval_ns=10 * S, frames=1_000)
    battery = BatteryStatus(source="sysfs BAT0", percent=100.0, charging=True)
    disk = {"free_bytes": 300_000_000, "reserve_bytes": 200_000_000, "average_file_bytes": 1e6}
    short = preview_of(counted, battery, **disk)
    warning = build_view(idle(RunState.STOPPED), 0, counted, outlook=short).disk_warning
    assert warning is not None and "the disk fills after about 100 more frames" in warning
    roomy = preview_of(counted, battery, **{**disk, "free_bytes": 2_000_000_000})
    assert build_view(idle(), 0, counted, outlook=roomy).disk_warning is None
    outlook = assess_run(SETTINGS_10S)
    both = replace(outlook, warnings=("the battery lasts…", "the disk fills…"), disk_short=True)
    status = running(1_000 * S, SETTINGS_10S, outlook=both)
    assert build_view(status, 1_000 * S, PREVIEW).disk_warning == "the disk fills…"
    only_battery = replace(outlook, warnings=("the battery lasts…",), disk_short=False)
    status = running(1_000 * S, SETTINGS_10S, outlook=only_battery)
    assert build_view(status, 1_000 * S, PREVIEW).disk_warning is None


def test_the_run_lines_fit_40_columns_whole() -> None:
    first = ["frame 7 of 240", "next in 1.2s"]
    second = ["elapsed 1min11s", "left 38min41s", "late 4us"]
    assert run_lines(first, second, 80) == [
        "frame 7 of 240 · next in 1.2s",
        "elapsed 1min11s · left 38min41s · late 4us",
    ]
    # How late moves up, whole, rather than being cut at the edge.
    assert run_lines(first, second, 40) == [
        "frame 7 of 240 · next in 1.2s · late 4us",
        "elapsed 1min11s · left 38min41s",
    ]
    # Longer figures: elapsed goes, every other figure stays whole.
    long_first = ["frame 1,234 of 10,000", "next in 9min59s"]
    long_second = ["elapsed 12min59s", "left 3d23h", "late 12.5ms"]
    assert run_lines(long_first, long_second, 40) == [
        "frame 1,234 of 10,000 · next in 9min59s",
        "left 3d23h · late 12.5ms",
    ]
    # An idle screen has one line, or none.
    assert run_lines(["no run", ""], ["", "", ""], 40) == ["no run"]


def test_a_closed_window_says_when_it_opens_and_nothing_cycles() -> None:
    anchor = 1_000 * S
    settings = Settings(interval_ns=10 * MINUTE_NS, frames=30, between="sunset..sunrise")
    status = running(anchor, settings)
    assert status.run is not None
    opens, closes = anchor + 3 * HOUR_NS, anchor + 18 * HOUR_NS
    closed = replace(
        status,
        run=replace(
            status.run,
            window="sunset..sunrise",
            window_opens_ns=opens,
            counts=replace(status.run.counts, skipped=18),
        ),
    )
    view = build_view(closed, anchor + HOUR_NS, PREVIEW)
    assert view.next_text == "opens in 2h"
    assert view.offset_ns is None and view.led == 0.0, "nothing cycles while it is closed"
    assert view.frame_text == "frame 0 of 30", "the slots outside are not frames"
    assert view.remaining_text == "30 to go"
    # Sent while it was open: when it closes, and when it opens after.
    open_run = replace(closed.run, window_closes_ns=closes, window_opens_ns=closes + 9 * HOUR_NS)
    opened = replace(closed, run=replace(open_run, counts=replace(open_run.counts, ok=12)))
    during = build_view(opened, anchor + 5 * HOUR_NS + 60 * S, PREVIEW)
    assert during.next_text.startswith("next in ")
    assert during.frame_text == "frame 12 of 30" and during.remaining_text == "18 to go"
    after = build_view(opened, closes + HOUR_NS, PREVIEW)
    assert after.next_text == "opens in 8h", "closed without a word from the daemon"


def test_at_night_the_cycle_is_the_nights_pace() -> None:
    anchor = 1_000 * S
    settings = Settings(interval_ns=MINUTE_NS, night_interval_ns=10 * MINUTE_NS, frames=500)
    status = running(anchor, settings)
    assert status.run is not None
    night_anchor = anchor + 3 * HOUR_NS + 17 * S
    night = replace(
        status,
        run=replace(
            status.run, pace="night", pace_anchor_ns=night_anchor, pace_interval_ns=10 * MINUTE_NS
        ),
    )
    # The daemon's plan event is the day's: at night the screen plans the night's.
    plan = PlanEvent(run="r", plan=make_plan(settings))
    view = build_view(night, night_anchor + 2 * MINUTE_NS, PREVIEW, plan=plan)
    assert view.plan is not None and view.plan.interval_ns == 10 * MINUTE_NS
    assert view.offset_ns == 2 * MINUTE_NS, "two minutes into the night's cycle"
    assert view.next_text == "next in 8min"
    assert view.remaining_text == "500 to go"


@pytest.mark.usefixtures("utc")
def test_a_run_that_waits_says_the_clock_time_of_its_first_shutter() -> None:
    anchor = 100_000 * S
    settings = Settings(interval_ns=10 * S)
    # The daemon's clock reads 2026-12-01 02:00:00 UTC when its monotonic clock reads now.
    now = anchor - 3 * HOUR_NS - 30 * MINUTE_NS
    status = replace(running(anchor, settings, now_ns=now), wall_ns=1_796_090_400 * S)
    view = build_view(status, now, PREVIEW)
    assert view.next_text == "first at 05:30"
    assert view.elapsed_text.startswith("starts in 3h29min")
    later = build_view(status, now + HOUR_NS, PREVIEW)
    assert later.next_text == "first at 05:30", "the same time, an hour on"
    far = replace(status, now_ns=anchor - 2 * DAY_NS, wall_ns=1_796_090_400 * S)
    assert build_view(far, anchor - 2 * DAY_NS, PREVIEW).next_text == "first at Thu 02:00"
    soon = build_view(status, anchor - 30 * S, PREVIEW)
    assert soon.next_text == "", "under a minute the countdown says it"


@pytest.mark.usefixtures("utc")
def test_the_first_shutters_time_is_said_to_the_nearest_second() -> None:
    # The daemon reads its two clocks a moment apart: a shutter placed at 05:30 may date
    # to 05:29:59.998 by them, and is said as 05:30.
    anchor = 100_000 * S
    now = anchor - 3 * HOUR_NS
    wall = 1_796_092_200 * S - 2_000_000  # 2026-12-01 02:30:00 UTC less 2 ms
    status = replace(running(anchor, Settings(interval_ns=10 * S), now_ns=now), wall_ns=wall)
    assert build_view(status, now, PREVIEW).next_text == "first at 05:30"
