"""What the main screen shows, derived from the daemon's status and the time.

Pure functions of plain data, so the figures are tested without a screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.battery import BatteryEstimate, BatteryModel
from core.durations import format_approx
from core.errors import LapseError
from core.led import led_level
from core.plan import Line, Plan, make_plan
from core.scheduler import Grid
from core.settings import Settings
from core.timeline import cycle_position


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
    if next_due is not None:
        next_frame = grid.first_frame_due_at_or_after(now_ns)
        if not frames or next_frame < frames:
            next_text = f"next in {format_approx(max(0, grid.due_ns(next_frame) - now_ns))}"
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
    estimate = battery.estimate(plan, running_ns=max(0, now_ns - started), frames_left=frames_left)
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
        else battery.estimate(plan, running_ns=0, frames_left=frames if frames else None)
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
    )
