"""What the main screen shows, derived from the daemon's status and the time.

Pure functions of the contract's structures (:mod:`core.model.protocol`), so
the figures are tested without a screen or a daemon.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from core.model.battery import BatteryEstimate
from core.model.clock_trust import waiting_line
from core.model.durations import DAY_NS, HOUR_NS, MINUTE_NS, NS_PER_S, format_approx
from core.model.errors import LapseError
from core.model.hooks import hooks_line
from core.model.led import led_changes, led_level
from core.model.plan import Line, Plan, make_plan
from core.model.protocol import (
    BatteryStatus,
    CameraStatus,
    PlanEvent,
    RunPreview,
    RunStatus,
    Status,
)
from core.model.run_state import RunState
from core.model.scheduler import Grid
from core.model.settings import Settings
from core.model.timeline import cycle_position
from core.model.upload import upload_brief, upload_line


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


ON_THE_GRID = frozenset({RunState.WAITING, RunState.RUNNING})
"""The states in which the status's run is the one going: its grid is placed."""


def placed_run(status: Status | None) -> RunStatus | None:
    """The run going on the grid; None with none, or while one is starting: until its
    grid is placed, the status still carries the run before."""
    if status is None or status.state not in ON_THE_GRID:
        return None
    return status.run


def first_shutter_text(status: Status, run: RunStatus, now_ns: int) -> str:
    """``first at 05:30`` (``first Tue 18:00`` a day or more away) while a run waits a minute
    or more for its first shutter, by the daemon's wall clock in this Pi's local time."""
    due = run.next_due_ns if run.next_due_ns is not None else run.anchor_ns
    if status.wall_ns is None or due - now_ns < MINUTE_NS:
        return ""
    # The daemon's wall clock at the time it sent this: its monotonic times date by it. To
    # the nearest second: its two clocks are read a moment apart, and 05:29:59.998 is 05:30.
    moment = datetime.fromtimestamp(round((status.wall_ns + due - status.now_ns) / NS_PER_S))
    return f"first at {moment:%a %H:%M}" if due - now_ns >= DAY_NS else f"first at {moment:%H:%M}"


def window_opens_in(run: RunStatus, now_ns: int) -> int | None:
    """How long until the run's window opens, while it is closed at ``now_ns``; None while
    it is open (or the run has no window). A status sent while the window was open says
    when it closes and when it opens next, so the screen needs no word from the daemon
    as it closes."""
    if run.window is None:
        return None
    closes, opens = run.window_closes_ns, run.window_opens_ns
    if (closes is not None and now_ns < closes) or opens is None or now_ns >= opens:
        return None
    return opens - now_ns


def build_view(
    status: Status | None,
    now_ns: int,
    preview: Settings,
    *,
    plan: PlanEvent | None = None,
    outlook: RunPreview | None = None,
) -> RunView:
    """Everything the main screen draws, for the daemon time ``now_ns``.

    ``plan`` is the running run's (the daemon sends it once per run), ``outlook``
    the daemon's answer about a run of the ``preview`` settings.
    """
    run = placed_run(status)
    if status is None or run is None:
        return _idle_view(status, preview, outlook)
    settings = run.settings
    at_night = run.pace == "night"
    # The daemon sends the (day's) plan once per run; until it is here, the same function.
    daemons = plan.plan if plan is not None and plan.run == run.id and not at_night else None
    run_plan = daemons or plan_for(settings.at_night() if at_night else settings)
    anchor = run.anchor_ns
    # With a night interval the cycle is the present pace's, on its own grid.
    cycle_anchor = run.pace_anchor_ns if run.pace_anchor_ns is not None else anchor
    grid = Grid(cycle_anchor, run_plan.interval_ns, settings.clock_ppm)
    frames = settings.frames
    last = run.last_frame
    windowed = run.window is not None
    # The frame count ends a run whose slots the grid alone cannot tell.
    uneven = windowed or run.pace is not None
    # Outside a window slots pass uncounted: the frame figure counts the slots inside.
    done = run.counts.done if windowed else 0 if last is None else last.frame + 1
    of = str(frames) if frames else "∞"
    frame_text = f"frame {done} of {of}"
    next_text = ""
    countdown: int | None = None
    opens_in = window_opens_in(run, now_ns)
    if opens_in is not None:
        countdown = opens_in
        next_text = f"opens in {format_approx(opens_in)}"
    elif run.next_due_ns is not None:
        next_frame = grid.first_frame_due_at_or_after(now_ns)
        if not frames or next_frame < frames or uneven:
            countdown = max(0, grid.due_ns(next_frame) - now_ns)
            next_text = f"next in {format_approx(countdown)}"
    started = anchor - run_plan.lead_ns
    if now_ns < started:
        # A start delay: what counts is when the rig begins, not an elapsed zero.
        elapsed_text = f"starts in {format_approx(started - now_ns)}"
        next_text, countdown = first_shutter_text(status, run, now_ns), None
    else:
        elapsed_text = f"elapsed {format_approx(now_ns - started)}"
    end: int | None = None
    if frames and uneven:
        # How long the nights between take is the sky's: the frames left are certain.
        remaining_text = f"{max(0, frames - done)} to go"
    elif frames:
        end = grid.due_ns(frames - 1) + run_plan.release_ns
        remaining_text = f"left {format_approx(max(0, end - now_ns))}"
    else:
        remaining_text = "until stopped"
    late_text = ""
    if last is not None and last.lateness_ns is not None:
        late_text = f"late {format_approx(last.lateness_ns)}"
    elif last is not None:
        late_text = f"last {last.status}"
    frame, offset = cycle_position(now_ns, cycle_anchor, run_plan.interval_ns, run_plan.lead_ns)
    if (frames and frame >= frames and not uneven) or opens_in is not None:
        offset = None  # nothing cycles: the run is over, or its window is closed
    level = 0.0 if offset is None else led_level(run_plan, offset)
    phase = "off" if offset is None else phase_at(run_plan, offset)
    estimate = battery_estimate(
        status.battery, now_ns, needs_ns=None if end is None else max(0, end - now_ns)
    )
    texts: list[int | None] = []
    if now_ns < started:
        texts.append(approx_change_in_ns(started - now_ns, falling=True))
    else:
        texts.append(approx_change_in_ns(now_ns - started, falling=False))
    if end is not None:
        texts.append(approx_change_in_ns(max(0, end - now_ns), falling=True))
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
        led_change_at = now_ns + next_led_change_ns(run_plan, offset) - offset
    outlook_now = status.outlook
    return RunView(
        state=status.state.value,
        frame_text=frame_text,
        next_text=next_text,
        elapsed_text=elapsed_text,
        remaining_text=remaining_text,
        late_text=late_text,
        fault=status.fault,
        plan=run_plan,
        offset_ns=offset,
        led=level,
        phase=phase,
        battery=estimate,
        texts_change_at_ns=None if texts_wait is None else now_ns + texts_wait,
        led_change_at_ns=led_change_at,
        battery_drains=estimate is not None
        and status.battery is not None
        and status.battery.draining
        and now_ns >= started,
        camera_text=camera_text(status.camera),
        disk_warning=_disk_warning(outlook_now.disk_short, outlook_now.warnings)
        if outlook_now is not None
        else None,
    )


def _idle_view(status: Status | None, preview: Settings, outlook: RunPreview | None) -> RunView:
    try:
        plan: Plan | None = plan_for(preview)
    except LapseError:
        plan = None
    counts = ""
    run = None if status is None else status.run
    state = "idle" if status is None else status.state.value
    if status is not None and run is not None:
        counts = f"last run {run.counts.ok} ok, {run.counts.missed} missed"
        if run.counts.unknown:
            counts += f", {run.counts.unknown} unknown"
    if status is not None and status.clock_wait is not None:
        counts = waiting_line(status.clock_wait)
    estimate = None
    disk_warning = None
    if plan is not None and outlook is not None:
        estimate = battery_estimate(
            outlook.battery, outlook.battery.at_ns, needs_ns=outlook.outlook.needs_ns
        )
        disk_warning = _disk_warning(outlook.outlook.disk_short, outlook.outlook.warnings)
    return RunView(
        state=state,
        frame_text=counts or "no run",
        next_text="",
        elapsed_text="",
        remaining_text="",
        late_text="",
        fault=None if status is None else status.fault,
        plan=plan,
        offset_ns=None,
        led=0.0,
        phase="off",
        battery=estimate,
        camera_text=camera_text(None if status is None else status.camera),
        disk_warning=disk_warning,
    )


def battery_estimate(
    battery: BatteryStatus | None, now_ns: int, *, needs_ns: int | None
) -> BatteryEstimate | None:
    """What the gauge shows: the daemon's battery figure at ``now_ns`` (a draining model
    falls with the clock between status events) against what the run still needs.
    None when the daemon could not read its monitor (``lapse status`` says why)."""
    if battery is None or battery.error is not None:
        return None
    shown = battery.at(now_ns)
    return BatteryEstimate(
        percent=shown.percent,
        lasts_ns=shown.lasts_ns,
        needs_ns=needs_ns,
        average_ma=shown.draw_ma or 0.0,
        source=shown.source,
        charging=shown.charging,
    )


SEPARATOR = " · "
"""Between the figures of one line."""


def camera_text(camera: CameraStatus | None) -> str:
    """One line about the USB camera; empty when there is none."""
    if camera is None:
        return ""
    if not camera.connected:
        return f"camera: not connected ({camera.fault or 'looking for it'})"
    parts = [f"camera: {camera.model or 'connected'}"]
    if camera.battery:
        parts.append(f"battery {camera.battery}")
    parts.append(_files_word(camera))
    if camera.exposure:
        parts.append(f"auto {camera.exposure}")
    return SEPARATOR.join(parts)


def _files_word(camera: CameraStatus) -> str:
    """What became of the camera's files: ``12 saved``, on the card, or paused."""
    if camera.paused:
        return "downloads paused"
    if camera.downloads == "off":
        return "files on the card"
    return f"{camera.saved} saved"


def camera_brief(camera: CameraStatus | None, width: int) -> str:
    """The camera in at most ``width`` columns, for a screen with no line of its own for
    it: ``Nikon DSC D750 · 50% · 12 saved``; the model goes first when it does not fit.
    A fault is the message line's own business."""
    if camera is None:
        return ""
    if not camera.connected:
        return "camera: not connected"
    parts = [camera.model or "camera", camera.battery or "", _files_word(camera)]
    # Auto exposure's setting matters more than the model's name; last to go but the files.
    with_exposure = [*parts, camera.exposure or ""]
    for shown in (with_exposure, ["camera", *with_exposure[1:]], parts):
        text = _joined(shown)
        if len(text) <= width:
            return text
    return _joined(["camera", *parts[1:]])


def delivery_line(status: Status | None) -> str:
    """The uploads, and the hooks when they have trouble to tell of, a line each, for a
    screen with room for them; empty when neither is set."""
    if status is None:
        return ""
    parts = []
    if status.upload is not None:
        parts.append(upload_line(status.upload))
    hooks = status.hooks
    if hooks is not None and (hooks.failed or hooks.dropped or parts == []):
        parts.append(hooks_line(hooks))
    return "\n".join(parts)


def resting_brief(status: Status | None, width: int) -> str:
    """The 40-column screen's resting line: the camera in brief and the uploads in a few
    words, both when they fit; an upload that has stopped or is failing before the
    camera when they do not."""
    camera = status.camera if status is not None else None
    upload = status.upload if status is not None else None
    if upload is None:
        return camera_brief(camera, width)
    brief = upload_brief(upload)
    shared = camera_brief(camera, width - len(brief) - 3)
    both = " · ".join(part for part in (shared, brief) if part)
    if len(both) <= width:
        return both
    troubled = upload.stopped or (upload.last_error is not None and upload.waiting > 0)
    return brief[:width] if troubled or camera is None else camera_brief(camera, width)


def _disk_warning(disk_short: bool, warnings: tuple[str, ...]) -> str | None:
    # The planner puts the battery's warning first and the disk's last.
    return warnings[-1] if disk_short and warnings else None


def run_lines(first: list[str], second: list[str], width: int) -> list[str]:
    """The run's two lines of figures, fitted to ``width`` columns whole: ``first`` is
    [frame, next], ``second`` [elapsed, left, late] (any may be empty).

    When the second line is too long its last figure (how late) moves up to the first,
    then "elapsed" goes (the timeline and the counts say as much); a figure is never cut
    in the middle. Past that the lines are given as they are.
    """
    elapsed, *left, late = second or [""]
    for top, bottom in (
        (first, second),
        ([*first, late], [elapsed, *left]),
        (first, [*left, late]),
        ([*first, late], left),
    ):
        lines = [line for line in (_joined(top), _joined(bottom)) if line]
        if all(len(line) <= width for line in lines):
            return lines
    return [line for line in (_joined(first), _joined(second)) if line]


def _joined(parts: list[str]) -> str:
    """The figures said, empty ones left out: ``frame 7 of 240 · next in 1.2s``."""
    return SEPARATOR.join(part for part in parts if part)
