"""What the main screen shows, computed from a status and the time (tui/view.py)."""

from __future__ import annotations

from core.battery import BatteryModel
from core.durations import NS_PER_S, parse_duration
from core.plan import Line, make_plan
from core.settings import Settings
from core.timeline import cycle_position, layout_cycle
from tui.view import build_view

S = NS_PER_S
PREVIEW = Settings(interval_ns=10 * S)


def running(anchor: int, settings: dict, **extra) -> dict:
    base = {
        "state": "running",
        "run": "r",
        "settings": settings,
        "anchor_ns": anchor,
        "next_due_ns": anchor,
        "ok": 0,
        "missed": 0,
        "errors": 0,
    }
    return {**base, **extra}


SETTINGS_10S = {
    "interval": "10s",
    "power": True,
    "frames": 100,
    "delay": "0s",
    "exposure": "pulse",
    "focus_lead": "4s",
    "clock_ppm": 0.0,
}


def test_running_view_counts_and_times() -> None:
    anchor = 1_000 * S
    last = {"frame": 6, "status": "ok", "lateness_ns": 4_000}
    now = anchor + 7 * 10 * S - S  # one second before frame 7's shutter
    view = build_view(running(anchor, SETTINGS_10S, last_frame=last), now, PREVIEW, BatteryModel())
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
    view = build_view(running(anchor, SETTINGS_10S), anchor - 5 * S, PREVIEW, BatteryModel())
    assert view.state == "waiting" and view.frame_text == "frame 0 of 100"
    idle = build_view({"state": "idle"}, 0, PREVIEW, BatteryModel())
    assert idle.state == "idle" and idle.plan == make_plan(PREVIEW) and idle.offset_ns is None


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
    assert endless.outlasts_battery, "a run until stopped outlasts any battery"
