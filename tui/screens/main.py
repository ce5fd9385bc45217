"""The main screen: the two rotary switches, power, start/stop, the run, the timeline."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from core.model.after import after_line
from core.model.durations import (
    NS_PER_S,
    PRESET_UNITS,
    PRESET_VALUES,
    Preset,
    format_approx,
    format_duration,
    preset_for,
)
from core.model.errors import LapseError
from core.model.plan import make_plan
from core.model.protocol import PanelStatus, Status
from core.model.settings import Settings
from core.model.ui import BindingId
from tui.keys import MAIN_KEYS, bindings, first_key
from tui.view import (
    RunView,
    battery_change_in_ns,
    build_view,
    delivery_line,
    placed_run,
    resting_brief,
    run_lines,
)
from tui.widgets.battery import BatteryGauge
from tui.widgets.footer import key_footer
from tui.widgets.last_frame import LastFrame
from tui.widgets.led import LedLamp
from tui.widgets.power import PowerToggle
from tui.widgets.ramp import ExposureRamp
from tui.widgets.rotary import RotarySwitch
from tui.widgets.timeline import Timeline

UNIT_LABELS = ("s", "min", "h", "days")
FAST_TICK_S = 0.1
"""The shortest sleep: changes closer together than this are drawn together."""
CURSOR_STEP_NS = 250_000_000
"""The cursor alone wakes the screen at most this often, and it moves with another change (a
flash, a second of the texts) due within this, or within a quarter of the column it enters if
that is longer, after its own move. Every wake-up costs about as much as the bare 1 Hz app's
update, whatever it draws: at 80 columns a 1-minute run's cursor would otherwise wake the
screen eight times a second while the rig is active, and once more every few seconds between
frames, where the texts wake it every second anyway."""
RECHECK_S = 60.0
"""The longest sleep, when nothing foreseeable changes (no run, or a long break): a
safety net for what the screen cannot foresee, such as a battery reader's new figure."""
TICK_MARGIN_NS = 1_000_000
"""Wake this long after a change is due, so a timer that fires a hair early still sees it."""
INTERVAL_LOCKED = "Interval locked during a run (D stops)"
BOX_RULES = "The box's switches rule: use them"
SIMULATED = "SIMULATED HARDWARE: no camera fires"
SIMULATED_VIRTUAL = "SIMULATED HARDWARE: virtual camera"
MESSAGE_S = 5.0
"""How long a message about a key press stays ("Starting…", a refusal): the status
says the rest. Faults, warnings and a lost daemon stay while they last."""
CONFIRM_STOP_AFTER_NS = 3_600 * NS_PER_S
"""A run going longer than this stops only on a second press while the first one's
question is shown: an hour's work is not lost to one stray key."""


class MainScreen(Screen[None]):
    """Everything a photographer needs on one 40×15 screen."""

    BINDINGS: ClassVar[list[Binding]] = bindings(MAIN_KEYS)

    def compose(self) -> ComposeResult:
        yield Static("", markup=False, id="banner")
        with Horizontal(id="switches"):
            yield RotarySwitch("VALUE", [str(v) for v in PRESET_VALUES], id="value")
            yield RotarySwitch("UNIT", list(UNIT_LABELS), id="unit")
        with Horizontal(id="controls"):
            yield PowerToggle(id="power")
            yield LedLamp(id="led")
            yield Static("", markup=False, id="state")
        yield Static("", markup=False, id="run")
        yield Timeline(id="timeline")
        yield BatteryGauge(id="battery")
        yield Static("", markup=False, id="camera")
        yield ExposureRamp(id="ramp")
        yield LastFrame(id="last-frame")
        yield Static("", markup=False, id="after")
        yield Static("", markup=False, id="delivery")
        yield Static("", markup=False, id="message")
        yield key_footer()

    def __init__(self) -> None:
        super().__init__()
        self._texts: dict[str, str] = {}
        """What each Static shows now, to skip updates that change nothing."""
        self._ready = False
        self._interval_ns = 0
        """The interval the switches show: the running run's, else the next run's."""
        self._tick_timer: Timer | None = None
        """The one pending wake-up; replaced whenever the screen is redrawn."""
        self._texts_due_ns: int | None = None
        """When the texts drawn now next change (daemon time); None: not until the status does."""
        self._preview: Settings | None = None
        """The settings a start would use, as of the last full redraw."""
        self._notice: str | None = None
        """The fault or warning from the status that the message line shows now."""
        self.message_s = MESSAGE_S
        """How long a passing message stays."""
        self._message_timer: Timer | None = None
        self._passing: str | None = None
        """The passing message shown now, if any: it goes at its time or when the run
        starts or stops."""
        self._was_live = False
        self._link_message: str | None = None
        self._stop_question: str | None = None
        """The question a first stop press asked; a second press stops while it shows."""
        self._resting = ""
        """The message line's words when nothing is said (the camera, on a short screen)."""

    def on_mount(self) -> None:
        self._ready = True
        # A theme changes the glyphs too (the console's are ASCII): drawn at once, not
        # at the daemon's next word.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.status_changed())
        self._show_interval(self.app.config.run.interval_ns)
        self.query_one(PowerToggle).on = self.app.config.run.power
        self._custom_interval_note()
        self.status_changed()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Back from settings, log or help: draw what changed meanwhile.
        if self._ready:
            self.update_view()

    def on_resize(self, event: events.Resize) -> None:
        # The cursor's next move depends on the timeline's new width, known once laid out.
        if self._ready:
            self.call_after_refresh(self.update_view)

    # -- what is shown ------------------------------------------------------------------
    def tick(self) -> None:
        """Draw the change the timer woke for; the texts only once theirs is due."""
        due = self._texts_due_ns
        self._draw(texts=due is None or self.app.daemon_now() >= due)

    def _schedule(self, view: RunView, now_ns: int) -> None:
        """Set the one wake-up: the next change after ``now_ns`` that the screen will show.

        No fixed rate: a 1-minute run wakes it once a second between frames (the
        texts count seconds; the cursor moves a cell every few), and while the
        rig is active at each LED flash and, at most every ``CURSOR_STEP_NS``, for
        the cursor. With no run nothing changes, and it only rechecks now and then.
        """
        soonest = _sooner(self._texts_due_ns, view.led_change_at_ns)
        if view.battery is not None and view.battery_drains:
            wait = battery_change_in_ns(view.battery, self.query_one(BatteryGauge).step_below)
            soonest = _sooner(soonest, None if wait is None else now_ns + wait)
        timeline = self.query_one(Timeline)
        move = timeline.next_cursor_move_ns()
        if move is not None and view.offset_ns is not None:
            due = now_ns + move - view.offset_ns
            # Late by a quarter of the column it enters (or one step, if more) is not
            # seen: another change due within that draws the cursor too.
            after = timeline.next_cursor_move_ns(move)
            late = CURSOR_STEP_NS if after is None else max(CURSOR_STEP_NS, (after - move) // 4)
            if soonest is None or soonest > due + late:
                soonest = max(due, now_ns + CURSOR_STEP_NS)
        delay = RECHECK_S
        if soonest is not None:
            delay = min(RECHECK_S, max(FAST_TICK_S, (soonest - now_ns + TICK_MARGIN_NS) / 1e9))
        if self._tick_timer is not None:
            self._tick_timer.stop()
        self._tick_timer = self.set_timer(delay, self.tick, name="tick")

    def status_changed(self) -> None:
        """The app's status changed: redraw everything that depends on it."""
        if not self._ready:
            return  # on_mount draws it all
        app = self.app
        status = app.status
        running = app.live
        panel = self._panel()
        for switch in self.query(RotarySwitch):
            switch.enabled = not running and not (panel and panel.switches)
        self.query_one(PowerToggle).enabled = not running and not (
            panel and panel.power is not None
        )
        run = placed_run(status)
        if run is not None:
            # A run started elsewhere (the CLI, another screen, a resume) is shown as it
            # goes, not as this screen's choices were.
            self._show_interval(run.settings.interval_ns)
            self.query_one(PowerToggle).on = run.settings.power
        elif panel is not None:
            self._show_panel(panel)
        self._caption_panel(panel if run is not None else None)
        glyphs = app.glyphs
        widgets = (
            "RotarySwitch, PowerToggle, LedLamp, Timeline, BatteryGauge, ExposureRamp, Histogram"
        )
        for widget in self.query(widgets):
            widget.glyphs = glyphs  # type: ignore[attr-defined]
        # Every status event lands here: the banner is touched only when it changes,
        # as a Static's update lays the whole screen out again.
        shown = app.hello or status
        simulated = shown is not None and shown.simulated
        camera = status.camera if status is not None else None
        # The simulated rig fires no camera, unless libgphoto2's virtual one is set up:
        # then files do land, and the banner must not say otherwise.
        words = SIMULATED_VIRTUAL if camera is not None and camera.virtual else SIMULATED
        self._set_text("#banner", words if simulated else "")
        banner = self.query_one("#banner", Static)
        if banner.display != simulated:
            banner.display = simulated
        if running != self._was_live:
            self._was_live = running
            self._pass()  # "Starting…" or "Stopping…" is done, one way or the other
            self.refresh_bindings()  # the footer's D says Start or Stop
        link = app.link_error and f"daemon: {app.link_error}"
        if link:
            self.show_message(link, lasting=True)
        elif self._link_message is not None and self._texts.get("#message") == self._link_message:
            self.show_message(self._quiet_text(), lasting=True)  # the daemon is back
        self._link_message = link or None
        if not running:
            app.want_preview(self.preview_settings())  # the disk or battery may have moved
        self.update_view()

    def preview_changed(self) -> None:
        """The daemon answered about the switches' settings: draw the gauge and warnings."""
        if self._ready:
            self.update_view()

    def update_view(self) -> RunView:
        """Draw the run as it is now, texts included, and sleep until the next change."""
        # Only a status, a choice or a return from another screen changes the preview.
        self._preview = self.preview_settings()
        return self._draw(texts=True)

    def _draw(self, *, texts: bool) -> RunView:
        app = self.app
        now = app.daemon_now()
        preview = self._preview or self.preview_settings()
        view = build_view(app.status, now, preview, plan=app.plan, outlook=app.preview)
        if texts:
            # A figure under a minute is drawn to a tenth but moves on at its whole
            # seconds: a cursor or LED wake-up in between leaves the words alone.
            self._texts_due_ns = view.texts_change_at_ns
            self._set_text("#state", view.state)
            first = [view.frame_text, view.next_text]
            second = [view.elapsed_text, view.remaining_text, view.late_text]
            width = self.query_one("#run").content_region.width or self.size.width
            self._set_text("#run", "\n".join(run_lines(first, second, width)))
            self._set_text("#camera", view.camera_text)
            self.query_one(ExposureRamp).show(app.ramp)
            self._show_last_frame(app.status)
            after = app.status.after if app.status is not None else None
            self._set_text("#after", "" if after is None else after_line(after))
            self.query_one("#after").set_class(after is None, "-empty")
            delivery = delivery_line(app.status)
            self._set_text("#delivery", delivery)
            self.query_one("#delivery").set_class(not delivery, "-empty")
            # A screen with no line for the camera shows it where no message is.
            camera_line = self.query_one("#camera")
            self._rest("" if camera_line.display else resting_brief(app.status, self.size.width))
        timeline = self.query_one(Timeline)
        timeline.plan = view.plan
        timeline.offset_ns = view.offset_ns
        lamp = self.query_one(LedLamp)
        lamp.level = view.led
        lamp.phase = view.phase
        # The gauge repaints only when its drawing changes.
        self.query_one(BatteryGauge).estimate = view.battery
        # A bad config stays in view, behind any fault or warning, until it is fixed.
        notice = f"fault: {view.fault}" if view.fault else view.disk_warning
        self._show_notice(notice or app.config_error)
        self._schedule(view, now)
        return view

    def _show_last_frame(self, status: Status | None) -> None:
        """The newest frame that has a file; a newer one whose file is still on its way
        leaves the one before on screen."""
        run = None if status is None else status.run
        last_frame = self.query_one(LastFrame)
        if run is None:
            last_frame.show(None)
        elif run.last_frame is not None and run.last_frame.file:
            last_frame.show(Path(run.photos) / run.last_frame.file)

    def _set_text(self, selector: str, text: str) -> None:
        # Static.update re-lays the screen out: only when the words change.
        before = self._texts.get(selector)
        if before != text:
            self._texts[selector] = text
            # A new line count may change the layout; new words on the same lines do not.
            same_lines = before is not None and before.count("\n") == text.count("\n")
            static = self.query_one(selector, Static)
            static.update(text, layout=not same_lines)
            if not same_lines:
                # Asked again once the refresh under way is done: a layout request made
                # while one is being carried out can be dropped with it, leaving the old
                # height (the run's second line cut off until the line count changes).
                self.call_after_refresh(static.refresh, layout=True)

    def show_message(self, text: str, *, lasting: bool = False) -> None:
        """Show ``text`` on the message line: for :attr:`message_s`, or while it holds
        (``lasting``: the caller clears it)."""
        if self._message_timer is not None:
            self._message_timer.stop()
            self._message_timer = None
        self._set_text("#message", text)
        self._passing = None if lasting or not text else text
        if self._passing is not None:
            self._message_timer = self.set_timer(self.message_s, self._pass, name="message")

    def _pass(self) -> None:
        """End the passing message, if one is shown: the status's notice, if any, returns."""
        if self._passing is not None and self._texts.get("#message") == self._passing:
            self.show_message(self._quiet_text(), lasting=True)

    def _quiet_text(self) -> str:
        """What the message line shows when nothing is said: a notice, or the resting line."""
        return self._notice or self._resting

    def _rest(self, resting: str) -> None:
        """Set the resting line (the camera, on a short screen); shown at once if the
        message line is quiet."""
        if resting == self._resting:
            return
        shown = self._texts.get("#message", "")
        quiet = shown in ("", self._resting) and self._passing is None and not self._notice
        self._resting = resting
        if quiet:
            self.show_message(resting, lasting=True)

    def _show_notice(self, notice: str | None) -> None:
        """Show a fault or warning from the status; clear it once the status drops it."""
        if notice == self._notice:
            return
        if notice:
            self.show_message(notice, lasting=True)
        elif self._texts.get("#message") == self._notice:
            # Not replaced by another message meanwhile.
            self.show_message(self._resting, lasting=True)
        self._notice = notice

    def preview_settings(self) -> Settings:
        """The settings a start would use: config, switches and the power toggle."""
        power = self.query_one(PowerToggle).on
        return self.app.config.run.with_changes(interval_ns=self._interval_ns, power=power)

    def _show_interval(self, interval_ns: int) -> None:
        """Set the switches to ``interval_ns``; one that is no preset is shown as it is,
        with neither switch on a position, never as a preset it is not."""
        if interval_ns == self._interval_ns:
            return  # every status event of a run lands here: the switches show it already
        self._interval_ns = interval_ns
        value = self.query_one("#value", RotarySwitch)
        unit = self.query_one("#unit", RotarySwitch)
        preset = preset_for(interval_ns)
        if preset is not None:
            value.selected = PRESET_VALUES.index(preset.value)
            unit.selected = PRESET_UNITS.index(preset.unit)
        for switch in (value, unit):
            switch.chosen = preset is not None
        value.caption = "" if preset is not None else f"every {format_duration(interval_ns)}"

    def _panel(self) -> PanelStatus | None:
        """The box's own controls, when it has any."""
        status = self.app.status
        return None if status is None else status.panel

    def _show_panel(self, panel: PanelStatus) -> None:
        """With no run placed, the switches and the toggle the box has are the next run's:
        shown where they stand, a switch between positions on none."""
        if panel.power is not None:
            self.query_one(PowerToggle).on = panel.power
        if not panel.switches:
            return
        if panel.value is not None and panel.unit is not None:
            self._show_interval(Preset(panel.value, panel.unit).interval_ns)
        # Between positions the last interval stays for the preview; a start is refused.
        for switch, at, positions in (
            (self.query_one("#value", RotarySwitch), panel.value, PRESET_VALUES),
            (self.query_one("#unit", RotarySwitch), panel.unit, PRESET_UNITS),
        ):
            switch.chosen = at is not None
            if at is not None:
                switch.selected = positions.index(at)  # type: ignore[arg-type]

    def _caption_panel(self, running: PanelStatus | None) -> None:
        """Beside the switches: the box rules them (no run), or, during a run they no longer
        match, where the box's switches stand, as the next run's."""
        panel = self._panel()
        if panel is None or not panel.switches:
            return
        value = self.query_one("#value", RotarySwitch)
        unit = self.query_one("#unit", RotarySwitch)
        if running is not None and running.next_run:
            value.caption = f"next {running.value if running.value is not None else '–'}"
            shown = "–" if running.unit is None else UNIT_LABELS[PRESET_UNITS.index(running.unit)]
            unit.caption = f"next {shown}"
        elif running is None:
            value.caption = unit.caption = "(box)"
        else:
            custom = preset_for(self._interval_ns) is None
            value.caption = f"every {format_duration(self._interval_ns)}" if custom else ""
            unit.caption = ""

    def _custom_interval_note(self) -> None:
        interval = self.app.config.run.interval_ns
        if preset_for(interval) is None:
            self.show_message(
                f"Interval {format_duration(interval)} from config; turn a switch for a preset."
            )

    # -- input ---------------------------------------------------------------------------------
    def on_rotary_switch_changed(self, message: RotarySwitch.Changed) -> None:
        value = PRESET_VALUES[self.query_one("#value", RotarySwitch).selected]
        unit = PRESET_UNITS[self.query_one("#unit", RotarySwitch).selected]
        self._show_interval(Preset(value, unit).interval_ns)
        self._choices_changed()

    def on_power_toggle_changed(self, message: PowerToggle.Changed) -> None:
        self._choices_changed()

    def _choices_changed(self) -> None:
        settings = self.preview_settings()
        try:
            make_plan(settings)
        except LapseError as error:
            self.show_message(str(error))
        else:
            self.show_message("")
        self.app.save_choices(run=settings)
        self.app.want_preview(settings)
        self.update_view()

    def _locked(self, *, power: bool = False) -> bool:
        if self.app.live:
            self.show_message(INTERVAL_LOCKED)
            self.app.bell()
            return True
        panel = self._panel()
        if panel is not None and (panel.power is not None if power else bool(panel.switches)):
            self.show_message(BOX_RULES)
            self.app.bell()
            return True
        return False

    def action_turn(self, which: str, step: int) -> None:
        """Keypad A/B: turn a switch one position."""
        if self._locked():
            return
        switch = self.query_one(f"#{which}", RotarySwitch)
        switch.focus()
        if step > 0:
            switch.action_next()
        else:
            switch.action_previous()

    def action_pick(self, which: str, index: int) -> None:
        """Keypad 1–8: set a switch to a position directly."""
        if self._locked():
            return
        switch = self.query_one(f"#{which}", RotarySwitch)
        switch.focus()
        switch.select(index)

    def action_toggle_power(self) -> None:
        if self._locked(power=True):
            return
        toggle = self.query_one(PowerToggle)
        toggle.focus()
        toggle.action_toggle()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """D's two bindings: "Start" while no run is live, "Stop" while one is; the
        footer shows the one that applies and a key press takes it."""
        if action == "start_stop" and parameters:
            return (parameters[0] == "stop") == self.app.live
        return True

    def action_start_stop(self, _word: str = "") -> None:
        """D or Enter: start a run with what the switches say, or stop the one going."""
        if self.app.live:
            if self._asks_before_stopping():
                return
            self.show_message("Stopping…")
            self.app.stop_run()
            return
        panel = self._panel()
        if panel is not None and panel.switches and (panel.value is None or panel.unit is None):
            self.show_message(f"Box: {panel.said}")
            self.app.bell()
            return
        settings = self.preview_settings()
        try:
            make_plan(settings)
        except LapseError as error:
            self.show_message(str(error))
            self.app.bell()
            return
        self.show_message(f"Starting: every {format_duration(settings.interval_ns)}…")
        self.app.start_run(settings)

    def _asks_before_stopping(self) -> bool:
        """For a run going over an hour, the first press asks; True while it has only asked."""
        question = self._stop_question
        if question is not None and self._passing == question:
            self._stop_question = None
            return False  # asked, and asked again while the question shows: stop
        status = self.app.status
        run = None if status is None else status.run
        if run is None:
            return False
        going_ns = self.app.daemon_now() - run.anchor_ns
        if going_ns < CONFIRM_STOP_AFTER_NS:
            return False
        key = first_key(BindingId.START_STOP, self.app.config.ui.keys)
        self._stop_question = f"Going for {format_approx(going_ns)}: {key} again stops it"
        self.show_message(self._stop_question)
        self.app.bell()
        return True


def _sooner(first: int | None, second: int | None) -> int | None:
    """The earlier of two times, either of which may be None (never)."""
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)
