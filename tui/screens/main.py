"""The main screen: the two rotary switches, power, start/stop, the run, the timeline."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static

from core.durations import PRESET_UNITS, PRESET_VALUES, Preset, format_duration, preset_for
from core.errors import LapseError
from core.plan import make_plan
from core.settings import Settings
from tui.keys import MAIN_KEYS, bindings
from tui.view import RunView, build_view
from tui.widgets.battery import BatteryGauge
from tui.widgets.led import LedLamp
from tui.widgets.power import PowerToggle
from tui.widgets.rotary import RotarySwitch
from tui.widgets.timeline import Timeline

UNIT_LABELS = ("s", "min", "h", "days")
FAST_TICK_S = 0.1
ACTIVE_TICK_S = 0.25
SLOW_TICK_S = 1.0
INTERVAL_LOCKED = "The interval is locked while a run is going: stop it first (D)."


class MainScreen(Screen[None]):
    """Everything a photographer needs on one 40×15 screen."""

    BINDINGS: ClassVar[list[Binding]] = bindings(MAIN_KEYS)

    def compose(self) -> ComposeResult:
        settings = self.app.config.run
        preset = preset_for(settings.interval_ns) or Preset(1, "min")
        yield Static("", id="banner")
        with Horizontal(id="switches"):
            yield RotarySwitch(
                "VALUE",
                [str(v) for v in PRESET_VALUES],
                PRESET_VALUES.index(preset.value),
                id="value",
            )
            yield RotarySwitch(
                "UNIT", list(UNIT_LABELS), PRESET_UNITS.index(preset.unit), id="unit"
            )
        with Horizontal(id="controls"):
            yield PowerToggle(id="power")
            yield LedLamp(id="led")
            yield Static("", id="state")
        yield Static("", id="run")
        yield Timeline(id="timeline")
        yield BatteryGauge(id="battery")
        yield Static("", id="message")
        yield Footer()

    def __init__(self) -> None:
        super().__init__()
        self._texts: dict[str, str] = {}
        """What each Static shows now, to skip updates that change nothing."""
        self._battery_shown: tuple | None = None
        self._ready = False
        self._switch_touched = False
        """True once a switch was turned: a custom interval from config no longer applies."""

    def on_mount(self) -> None:
        self._ready = True
        self.query_one(PowerToggle).on = self.app.config.run.power
        self._custom_interval_note()
        self.status_changed()
        self._tick()

    # -- what is shown ------------------------------------------------------------------
    def _tick(self) -> None:
        view = self.update_view()
        # Fast while the rig is active (the LED flashes) or the cycle is short enough
        # for the cursor to move visibly; once a second otherwise, to stay cheap.
        plan = view.plan
        interval_s = plan.interval_ns / 1e9 if plan is not None else SLOW_TICK_S
        delay = min(SLOW_TICK_S, max(FAST_TICK_S, interval_s / 20))
        if view.phase != "off" or view.state == "waiting":
            # Two ticks per lit flash: a flash is lit for an eighth of the focus lead.
            lead_s = -(plan.focus_on_ns or 0) / 1e9 if plan is not None else 0.0
            delay = min(delay, max(FAST_TICK_S, min(ACTIVE_TICK_S, lead_s / 16)))
        if view.offset_ns is None and view.state != "waiting":
            delay = SLOW_TICK_S
        self.set_timer(delay, self._tick, name="tick")

    def status_changed(self) -> None:
        """The app's status changed: redraw everything that depends on it."""
        if not self._ready:
            return  # on_mount draws it all
        app = self.app
        running = app.status.get("state") == "running"
        for switch in self.query(RotarySwitch):
            switch.enabled = not running
        self.query_one(PowerToggle).enabled = not running
        if running:
            settings = app.status.get("settings", {})
            self.query_one(PowerToggle).on = bool(settings.get("power"))
        glyphs = app.glyphs
        for widget in self.query("RotarySwitch, PowerToggle, LedLamp, Timeline, BatteryGauge"):
            widget.glyphs = glyphs  # type: ignore[attr-defined]
        banner = self.query_one("#banner", Static)
        simulated = (app.hello or app.status).get("simulated")
        banner.update("SIMULATED HARDWARE: no camera fires" if simulated else "")
        banner.display = bool(simulated)
        message = app.link_error and f"daemon: {app.link_error}"
        if message:
            self.show_message(message)
        self.update_view()

    def update_view(self) -> RunView:
        app = self.app
        view = build_view(app.status, app.daemon_now(), self.preview_settings(), app.battery)
        self._set_text("#state", view.state)
        first = [view.frame_text, view.next_text]
        second = [view.elapsed_text, view.remaining_text, view.late_text]
        lines = [" · ".join(p for p in part if p) for part in (first, second)]
        self._set_text("#run", "\n".join(line for line in lines if line))
        timeline = self.query_one(Timeline)
        timeline.plan = view.plan
        timeline.offset_ns = view.offset_ns
        lamp = self.query_one(LedLamp)
        lamp.level = view.led
        lamp.phase = view.phase
        self._set_battery(view)
        if view.fault:
            self.show_message(f"fault: {view.fault}")
        return view

    def _set_text(self, selector: str, text: str) -> None:
        # Static.update re-lays the screen out: only when the words change.
        before = self._texts.get(selector)
        if before != text:
            self._texts[selector] = text
            # A new line count may change the layout; new words on the same lines do not.
            same_lines = before is not None and before.count("\n") == text.count("\n")
            self.query_one(selector, Static).update(text, layout=not same_lines)

    def _set_battery(self, view: RunView) -> None:
        # A new estimate every tick would repaint a gauge that shows the same words.
        estimate = view.battery
        shown = None
        if estimate is not None:
            minute = 60 * 10**9
            shown = (
                int(estimate.percent),
                None if estimate.lasts_ns is None else estimate.lasts_ns // minute,
                None if estimate.needs_ns is None else estimate.needs_ns // minute,
                estimate.source,
            )
        if shown != self._battery_shown:
            self._battery_shown = shown
            self.query_one(BatteryGauge).estimate = estimate

    def show_message(self, text: str) -> None:
        self._set_text("#message", text)

    def preview_settings(self) -> Settings:
        """The settings a start would use: config, switches and the power toggle."""
        value = PRESET_VALUES[self.query_one("#value", RotarySwitch).selected]
        unit = PRESET_UNITS[self.query_one("#unit", RotarySwitch).selected]
        interval = Preset(value, unit).interval_ns
        base = self.app.config.run
        if preset_for(base.interval_ns) is None and not self._switch_touched:
            interval = base.interval_ns
        return base.with_changes(interval_ns=interval, power=self.query_one(PowerToggle).on)

    def _custom_interval_note(self) -> None:
        interval = self.app.config.run.interval_ns
        if preset_for(interval) is None:
            self.show_message(
                f"Interval {format_duration(interval)} from config; turn a switch for a preset."
            )

    # -- input ---------------------------------------------------------------------------------
    def on_rotary_switch_changed(self, message: RotarySwitch.Changed) -> None:
        self._switch_touched = True
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
        self.update_view()

    def _locked(self) -> bool:
        if self.app.status.get("state") == "running":
            self.show_message(INTERVAL_LOCKED)
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
        if self._locked():
            return
        toggle = self.query_one(PowerToggle)
        toggle.focus()
        toggle.action_toggle()

    def action_start_stop(self) -> None:
        """D or Enter: start a run with what the switches say, or stop the one going."""
        if self.app.status.get("state") == "running":
            self.show_message("Stopping…")
            self.app.stop_run()
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
