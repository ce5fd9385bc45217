"""What the main screen shows, derived from the daemon's status and the time.

Pure functions of plain data, so the figures are tested without a screen.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.model.battery import BatteryEstimate, BatteryModel, BatteryReading
from core.model.durations import DAY_NS, HOUR_NS, MINUTE_NS, NS_PER_S, format_approx
from core.model.errors import LapseError
from core.model.led import led_changes, led_level
from core.model.plan import Line, Plan, make_plan
from core.model.planner import DEFAULT_RESERVE_BYTES, assess_run
from core.model.scheduler import Grid
from core.model.settings import Settings
from core.model.timeline import cycle_position


@dataclass(frozen=True)
class RunView:
    """The run as the main screen shows it at one moment."""

    state: str
    """idle, waiting (before the first shutter), running, finished, stopped, failed…"""
    frame_text: str
    """``frame 12 of 100`` / ``frame 12 of ∞`` / ``no run``."""
    next_text: str
    """``next in 4.2s`` or empty."""
    elapsed_text: str
    remaining_text: str
    late_text: str
    fault: str | None
    plan: Plan | None
    offset_ns: int | None
    """Now, relative to the current frame's shutter-open, for the timeline cursor."""
    led: float
    phase: str
    """What the LED says: off, power, focus, open."""
    battery: BatteryEstimate | None
    texts_change_at_ns: int | None = None
    """When a text or the state word next changes (daemon time); None: not until the status does.

    Figures under a minute change at their whole seconds (:data:`SUB_MINUTE_STEP_NS`).
    The countdown to the next frame sets the beat: another figure that changes less
    than a second before the countdown does is drawn with it, up to a second late.
    """
    led_change_at_ns: int | None = None
    """When the LED's glyph or its word next changes, or the cycle ends (daemon time)."""
    battery_drains: bool = False
    """True while ``battery`` is the model's and falls with the run's time."""
    camera_text: str = ""
    """``camera: Nikon DSC D3400 · battery 75% · 12 saved``; empty with no camera."""
    disk_warning: str | None = None
    """The planner's word when the disk will not hold the run (the gauge shows the battery's)."""


SUB_MINUTE_STEP_NS = NS_PER_S
"""How often a figure under a minute is redrawn, though ``format_approx`` writes it to a tenth.

Tenths would mean ten wake-ups a second all through the break between frames of a
1-minute run, where a second's is enough to count down; a redraw falls on a whole
second of the countdown, so what is drawn is exact when drawn ("next in 42.0s").
"""


def _resolution_ns(value_ns: int) -> int:
    """The step in which ``format_approx`` shows ``value_ns`` (its second-largest unit)."""
    if value_ns < HOUR_NS:
        return NS_PER_S  # minutes and seconds; below a minute, SUB_MINUTE_STEP_NS
    if value_ns < DAY_NS:
        return MINUTE_NS
    return HOUR_NS


def approx_change_in_ns(value_ns: int, *, falling: bool) -> int | None:
    """How long until ``format_approx`` of a figure moving 1 ns per ns is drawn differently.

    ``falling`` for a countdown (``next in``, ``left``), else a count-up
    (``elapsed``). Figures under a minute change at each whole second (see
    :data:`SUB_MINUTE_STEP_NS`). A countdown at zero never changes: None.
    """
    if value_ns < 0 or (falling and value_ns == 0):
        return None
    shown = format_approx(value_ns)
    value = value_ns
    # Larger figures are truncated to their step; a step can show the same words
    # ("1d0h" and "1d" are both "1d"), so look on until the words differ.
    while value >= MINUTE_NS:
        step = _resolution_ns(value)
        # A truncated countdown changes just below a multiple of its step; a count-up at it.
        value = value - value % step - 1 if falling else value + step - value % step
        if format_approx(value) != shown:
            return abs(value - value_ns)
    # Under a minute: the next whole second (down to zero, where a countdown ends).
    step = SUB_MINUTE_STEP_NS
    return (value_ns % step or step) if falling else step - value_ns % step


@lru_cache(maxsize=8)
def _change_offsets(plan: Plan) -> tuple[int, ...]:
    """Every offset in a cycle where the LED's glyph or its word changes, and the cycle's end."""
    offsets = {offset for offset, _ in led_changes(plan)}
    offsets.update(edge.offset_ns for edge in plan.edges)
    offsets.add(plan.interval_ns - plan.lead_ns)
    return tuple(sorted(offsets))


def next_led_change_ns(plan: Plan, offset_ns: int) -> int:
    """The first offset after ``offset_ns`` at which the LED's glyph or word may change.

    The cycle's end is one: the next cycle's first edge, or the cursor leaving
    at the end of a run.
    """
    offsets = _change_offsets(plan)
    return offsets[min(len(offsets) - 1, bisect.bisect_right(offsets, offset_ns))]


def battery_change_in_ns(
    estimate: BatteryEstimate, step_below: Callable[[float], float | None]
) -> int | None:
    """How long until a draining model estimate is drawn differently; None: never.

    The model drains linearly, so percent and ``lasts`` fall together (both
    proportional to the charge left) and ``lasts`` falls 1 ns per ns.
    ``step_below(percent)`` is the gauge's: the highest percent under
    ``percent`` at which its number or bar is drawn differently.
    """
    lasts = estimate.lasts_ns
    if lasts is None or lasts <= 0:
        return None
    waits = [approx_change_in_ns(lasts, falling=True)]
    step = step_below(estimate.percent)
    if step is not None and estimate.percent > 0:
        # percent / lasts is the rate: the percent falls by it each ns.
        waits.append(int((estimate.percent - step) / estimate.percent * lasts) + 1)
    needs = estimate.needs_ns
    if needs is not None and needs <= lasts:
        waits.append(lasts - needs + 1)  # from then on the run outlasts the battery: a warning
    return min((wait for wait in waits if wait is not None), default=None)


def run_settings(status: dict[str, Any]) -> Settings | None:
    """The settings of the run in ``status``, if it names one."""
    raw = status.get("settings")
    if not raw:
        return None
    try:
        return _settings_from(tuple(sorted(raw.items())))
    except LapseError:
        return None


# The screen asks several times a second; a run's settings and plan never change.
@lru_cache(maxsize=8)
def _settings_from(items: tuple[tuple[str, Any], ...]) -> Settings:
    return Settings.from_dict(dict(items))


@lru_cache(maxsize=8)
def plan_for(settings: Settings) -> Plan:
    """The plan of ``settings`` (cached: the same settings always give the same plan)."""
    return make_plan(settings)


def phase_at(plan: Plan, offset_ns: int) -> str:
    """The word for the LED: what the rig is doing at ``offset_ns``."""
    if plan.line_is_on(Line.SHUTTER, offset_ns):
        return "open"
    if plan.line_is_on(Line.FOCUS, offset_ns):
        return "focus"
    if plan.line_is_on(Line.POWER, offset_ns):
        return "power"
    return "off"


def build_view(
    status: dict[str, Any],
    now_ns: int,
    preview: Settings,
    battery: BatteryModel,
) -> RunView:
    """Everything the main screen draws, for the daemon time ``now_ns``."""
    state = status.get("state", "idle")
    settings = run_settings(status) if state == "running" else None
    if settings is None:
        return _idle_view(status, state, preview, battery)
    plan = plan_for(settings)
    anchor = status["anchor_ns"]
    grid = Grid(anchor, settings.interval_ns, settings.clock_ppm)
    frames = settings.frames
    done = 0 if not status.get("last_frame") else status["last_frame"]["frame"] + 1
    of = str(frames) if frames else "∞"
    frame_text = f"frame {done} of {of}"
    next_due = status.get("next_due_ns")
    next_text = ""
    countdown: int | None = None
    if next_due is not None:
        next_frame = grid.first_frame_due_at_or_after(now_ns)
        if not frames or next_frame < frames:
            countdown = max(0, grid.due_ns(next_frame) - now_ns)
            next_text = f"next in {format_approx(countdown)}"
    started = anchor - plan.lead_ns
    if now_ns < anchor:
        state = "waiting"
    elapsed_text = f"elapsed {format_approx(max(0, now_ns - started))}"
    if frames:
        end = grid.due_ns(frames - 1) + plan.release_ns
        remaining_text = f"left {format_approx(max(0, end - now_ns))}"
        frames_left: int | None = max(0, frames - done)
    else:
        remaining_text = "until stopped"
        frames_left = None
    last = status.get("last_frame")
    late_text = ""
    if last and last.get("lateness_ns") is not None:
        late_text = f"late {format_approx(last['lateness_ns'])}"
    elif last:
        late_text = f"last {last['status']}"
    frame, offset = cycle_position(now_ns, anchor, settings.interval_ns, plan.lead_ns)
    if frames and frame >= frames:
        offset = None
    level = 0.0 if offset is None else led_level(plan, offset)
    phase = "off" if offset is None else phase_at(plan, offset)
    estimate = battery_estimate(
        status,
        battery,
        plan,
        running_ns=max(0, now_ns - started),
        frames_left=frames_left,
        needs_ns=None if not frames else max(0, end - now_ns),
    )
    texts: list[int | None] = []
    # Before the cycle starts "elapsed" stays at zero; "waiting" holds until the shutter.
    if now_ns < started:
        texts.append(started - now_ns)
    else:
        texts.append(approx_change_in_ns(now_ns - started, falling=False))
    if frames:
        texts.append(approx_change_in_ns(max(0, end - now_ns), falling=True))
    if now_ns < anchor:
        texts.append(anchor - now_ns)
    texts_wait = min((wait for wait in texts if wait is not None), default=None)
    if countdown is not None:
        # At zero the countdown moves on to the next frame (or ends) right after.
        beat = approx_change_in_ns(countdown, falling=True) or 1
        # The countdown sets the beat: a figure due less than a second before it waits
        # for it, so figures whose seconds do not line up cost one wake-up, not two.
        if texts_wait is None or texts_wait > beat - SUB_MINUTE_STEP_NS:
            texts_wait = beat
    led_change_at = None
    if offset is not None:
        led_change_at = now_ns + next_led_change_ns(plan, offset) - offset
    return RunView(
        state=state,
        frame_text=frame_text,
        next_text=next_text,
        elapsed_text=elapsed_text,
        remaining_text=remaining_text,
        late_text=late_text,
        fault=status.get("fault"),
        plan=plan,
        offset_ns=offset,
        led=level,
        phase=phase,
        battery=estimate,
        texts_change_at_ns=None if texts_wait is None else now_ns + texts_wait,
        led_change_at_ns=led_change_at,
        battery_drains=estimate.source == "model" and now_ns >= started,
        camera_text=camera_text(status.get("camera")),
        disk_warning=_running_disk_warning(status),
    )


def _idle_view(
    status: dict[str, Any], state: str, preview: Settings, battery: BatteryModel
) -> RunView:
    try:
        plan: Plan | None = plan_for(preview)
    except LapseError:
        plan = None
    counts = ""
    if state != "idle" and status.get("run"):
        counts = f"last run {status.get('ok', 0)} ok, {status.get('missed', 0)} missed"
    frames = preview.frames
    estimate = (
        None
        if plan is None
        else battery_estimate(
            status,
            battery,
            plan,
            running_ns=0,
            frames_left=frames if frames else None,
            needs_ns=frames * preview.interval_ns + preview.delay_ns if frames else None,
        )
    )
    return RunView(
        state=state,
        frame_text=counts or "no run",
        next_text="",
        elapsed_text="",
        remaining_text="",
        late_text="",
        fault=status.get("fault"),
        plan=plan,
        offset_ns=None,
        led=0.0,
        phase="off",
        battery=estimate,
        camera_text=camera_text(status.get("camera")),
        disk_warning=_preview_disk_warning(status, preview),
    )


def battery_estimate(
    status: dict[str, Any],
    model: BatteryModel,
    plan: Plan,
    *,
    running_ns: int,
    frames_left: int | None,
    needs_ns: int | None,
) -> BatteryEstimate:
    """What the gauge shows: the daemon's battery monitor when one answers, else the model.

    The model is worked out here rather than taken from the daemon's status,
    so the gauge drains with the clock between status events.
    """
    reading = status.get("battery")
    if reading and not reading.get("error") and reading.get("source") != "model":
        fields = {key: value for key, value in reading.items() if key != "error"}
        try:
            return BatteryReading(**fields).estimate(needs_ns)
        except TypeError:
            pass  # a daemon of another version: fall back to the model
    return model.estimate(plan, running_ns=running_ns, frames_left=frames_left)


def camera_text(camera: dict[str, Any] | None) -> str:
    """One line about the USB camera; empty when there is none."""
    if not camera:
        return ""
    if not camera.get("connected"):
        return f"camera: not connected ({camera.get('fault') or 'looking for it'})"
    parts = [f"camera: {camera.get('model') or 'connected'}"]
    if camera.get("battery"):
        parts.append(f"battery {camera['battery']}")
    if camera.get("paused"):
        parts.append("downloads paused")
    elif camera.get("downloads") == "off":
        parts.append("files on the card")
    else:
        parts.append(f"{camera.get('saved', 0)} saved")
    return " · ".join(parts)


def _running_disk_warning(status: dict[str, Any]) -> str | None:
    outlook = status.get("outlook") or {}
    warnings = outlook.get("warnings") or []
    # The planner puts the battery's warning first and the disk's last.
    return warnings[-1] if outlook.get("disk_short") and warnings else None


def _preview_disk_warning(status: dict[str, Any], preview: Settings) -> str | None:
    disk = status.get("disk") or {}
    if disk.get("free_bytes") is None:
        return None
    outlook = assess_run(
        preview,
        free_bytes=disk["free_bytes"],
        average_file_bytes=disk.get("average_file_bytes"),
        reserve_bytes=disk.get("reserve_bytes", DEFAULT_RESERVE_BYTES),
    )
    return outlook.warnings[-1] if outlook.disk_short else None
