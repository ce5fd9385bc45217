"""The lapse TUI: a client of the daemon, for a 3.5-inch screen, SSH and kiosks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding

from core.client import DaemonRefused
from core.config import ChoicesFile, Config
from core.journal import Journal
from core.model import protocol
from core.model.errors import ConfigError, DaemonUnavailable, LapseError
from core.model.settings import Settings
from core.model.ui import UiConfig
from themes import THEMES, config_name, glyphs_for, next_theme, theme_from_config
from themes.glyphs import Glyphs
from themes.names import THEME_VARIABLES
from tui.keys import APP_KEYS, bindings, with_capitals
from tui.link import Link
from tui.messages import CommandDone, DaemonEvent, LinkChanged
from tui.ramp import Ramp

RECONNECT_S = 1.0


class LapseApp(App[None]):
    """The app: owns the link to the daemon and the config; screens show and ask."""

    CSS_PATH = "lapse.tcss"
    TITLE = "lapse"
    BINDINGS: ClassVar[list[Binding]] = bindings(APP_KEYS)
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [
        (0, "-narrow"),
        (60, "-normal"),
        (100, "-wide"),
    ]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (20, "-tall")]

    def __init__(
        self,
        link: Link,
        config: Config,
        choices: ChoicesFile | None,
        *,
        kiosk: bool = False,
        clock: Callable[[], int] = time.monotonic_ns,
        theme_name: str | None = None,
        journal: Journal | None = None,
        config_error: str | None = None,
    ) -> None:
        super().__init__()
        self.link = link
        self.config = config
        self.choices = choices
        """Where the interface keeps the photographer's choices; None never saves (a config
        file that failed to load: the choices would be laid over the wrong settings)."""
        self.kiosk = kiosk
        self.clock = clock
        self.journal = journal
        """The runs on disk, for the log screen (None: not on this machine)."""
        self.config_error = config_error
        """Why the config file was not used, shown on screen while the app runs on defaults:
        a kiosk has no terminal to read it in, and must not exit and restart over it."""
        self.status: protocol.Status | None = None
        """The daemon's last status, kept current by events; None before the first."""
        self.plan: protocol.PlanEvent | None = None
        """The plan of the run going, as the daemon sent it."""
        self.preview: protocol.RunPreview | None = None
        """The daemon's word on the battery and the disk for the switches' settings."""
        self._preview_asked: Settings | None = None
        self.hello: protocol.HelloReply | None = None
        self.skew_ns = 0
        """Daemon monotonic time minus ours (both CLOCK_MONOTONIC on one machine: ~0)."""
        self.link_error: str | None = None
        self.ramp: Ramp | None = None
        """The exposure ramp of the run the status shows (its journal read once, then
        the daemon's frame events); None before a run."""
        self._leaving = threading.Event()
        if kiosk:
            # A kiosk never leaves the app: no palette, and the quit keys do nothing.
            self.use_command_palette = False
        for theme in THEMES.values():
            self.register_theme(theme)
        self.theme = theme_name or theme_from_config(config.ui.theme)
        if config.ui.keys:
            self.set_keymap({name: with_capitals(keys) for name, keys in config.ui.keys.items()})

    # -- theme --------------------------------------------------------------------------
    def get_theme_variable_defaults(self) -> dict[str, str]:
        # Every lapse theme sets these; the defaults only keep a foreign theme usable.
        return dict.fromkeys(THEME_VARIABLES, "#888888")

    @property
    def glyphs(self) -> Glyphs:
        """The characters the current theme can show."""
        return glyphs_for(self.theme)

    def action_cycle_theme(self) -> None:
        self.theme = next_theme(self.theme)
        self.save_choices(ui=replace(self.config.ui, theme=config_name(self.theme)))
        self.notify(f"Theme: {config_name(self.theme)}", timeout=2)

    # -- lifecycle ------------------------------------------------------------------------
    def get_default_screen(self):  # type: ignore[no-untyped-def]
        # The main screen is the default one: no blank screen laid out before it.
        from tui.screens.main import MainScreen

        return MainScreen()

    def on_mount(self) -> None:
        self.listen()

    @work(thread=True, exclusive=True, group="link", exit_on_error=False)
    def listen(self) -> None:
        """Stay subscribed to the daemon; reconnect (and restart it) when it goes away."""
        while not self._leaving.is_set():
            try:
                hello = self.link.connect()
                self.post_message(LinkChanged(hello))
                for event in self.link.events():
                    self.post_message(DaemonEvent(event))
            except (DaemonUnavailable, OSError, LapseError) as error:
                if not self._leaving.is_set():
                    self.post_message(LinkChanged(None, str(error)))
            self._leaving.wait(RECONNECT_S)

    def on_unmount(self) -> None:
        # Wake the listening thread so the app can end: it is blocked reading the socket.
        self._leaving.set()
        self.link.close()

    def on_link_changed(self, message: LinkChanged) -> None:
        self.hello = message.hello or self.hello
        self.link_error = message.error
        self.refresh_screens()

    def on_daemon_event(self, message: DaemonEvent) -> None:
        event = message.event
        status = self.status
        match event:
            case protocol.StateEvent():
                self.status = event.status
                self.skew_ns = event.status.now_ns - self.clock()
                self._follow_ramp()
            case protocol.PlanEvent():
                self.plan = event
            case protocol.FrameEvent() | protocol.MissedEvent() if status is not None:
                self.status = status.with_frame(event)
                ramp = self.ramp
                if isinstance(event, protocol.FrameEvent) and ramp and event.run == ramp.run_id:
                    ramp.add(event.record)
            case protocol.FaultEvent() if status is not None:
                self.status = replace(status, fault=event.message)
            case _:
                return  # an edge: the timeline draws the plan against the clock, not events
        self.refresh_screens()

    def _follow_ramp(self) -> None:
        """A new run in the status: its ramp starts from the frames its journal has."""
        run = self.status.run if self.status is not None else None
        if run is None or (self.ramp is not None and self.ramp.run_id == run.id):
            return
        self.ramp = Ramp(run.id)
        if self.journal is not None:
            self.read_ramp(run.id)

    @work(thread=True, exclusive=True, group="ramp", exit_on_error=False)
    def read_ramp(self, run_id: str) -> None:
        """The run's settings so far, read from its journal off the screen's thread (a
        run of weeks is a long file), then laid under the frames that came meanwhile."""
        assert self.journal is not None
        read = Ramp(run_id)
        try:
            for record in self.journal.frames(run_id):
                read.add(record)
        except (OSError, LapseError):
            return  # the frames from now on still come as events
        self.call_from_thread(self._ramp_read, read)

    def _ramp_read(self, read: Ramp) -> None:
        live = self.ramp
        if live is None or live.run_id != read.run_id:
            return  # another run began meanwhile
        for point in live.kept():
            read.add_point(point)
        self.ramp = read
        self.refresh_screens()

    @property
    def live(self) -> bool:
        """A run is being carried (starting, waiting or running): the switches are locked."""
        return self.status is not None and self.status.state.live

    def refresh_screens(self) -> None:
        """Tell the visible screen the status changed (screens pull what they need)."""
        screen = self._shown_screen()
        if hasattr(screen, "status_changed"):
            screen.status_changed()

    def _shown_screen(self) -> object | None:
        """The screen on top; None while there is none (the app starting or closing,
        when the daemon's news can still arrive)."""
        return self.screen_stack[-1] if self.screen_stack else None

    def daemon_now(self) -> int:
        """The daemon's monotonic time now."""
        return self.clock() + self.skew_ns

    # -- commands ---------------------------------------------------------------------------
    @work(thread=True, group="commands", exit_on_error=False)
    def send(self, command: protocol.Command) -> None:
        """Send a command in a thread; the answer comes back as :class:`CommandDone`."""
        try:
            result = self.link.command(command)
        except (DaemonRefused, LapseError, OSError) as error:
            self.post_message(CommandDone(command.name, error=str(error)))
        else:
            self.post_message(CommandDone(command.name, result=result))

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def ask_preview(self, settings: Settings) -> None:
        """Ask the daemon whether battery and disk last a run of ``settings``; quietly, as
        the switches turn: a daemon that cannot answer leaves the gauge at "unknown"."""
        try:
            result = self.link.command(protocol.Preview(settings))
        except (DaemonRefused, LapseError, OSError):
            result = None
        if settings == self._preview_asked:  # else a newer question's answer is coming
            self.post_message(CommandDone(protocol.Preview.name, result=result))

    def want_preview(self, settings: Settings) -> None:
        """Have :attr:`preview` follow ``settings`` (asked again when the status changes)."""
        self._preview_asked = settings
        self.ask_preview(settings)

    def on_command_done(self, message: CommandDone) -> None:
        if message.error:
            self.notify(message.error, severity="error", timeout=6, markup=False)
            return
        if message.cmd == protocol.Preview.name:
            self.preview = message.result
            screen = self._shown_screen()
            if hasattr(screen, "preview_changed"):
                screen.preview_changed()
            return
        if isinstance(message.result, protocol.Status):
            self.status = message.result
            self._follow_ramp()
            self.refresh_screens()

    def start_run(self, settings: Settings) -> None:
        self.send(protocol.Start(settings))

    def stop_run(self) -> None:
        self.send(protocol.Stop())

    # -- config -------------------------------------------------------------------------------
    def save_choices(self, *, run: Settings | None = None, ui: UiConfig | None = None) -> None:
        """Keep the switches' positions and the theme for next time, in lapse's own file
        (:class:`core.config.ChoicesFile`); the config file is never written."""
        self.config = replace(self.config, run=run or self.config.run, ui=ui or self.config.ui)
        if self.choices is None:
            return
        try:
            self.choices.save(self.config)
        except (ConfigError, OSError) as error:
            self.notify(f"could not keep the choices: {error}", severity="warning", markup=False)

    def choices_said(self) -> str:
        """Where the choices just made are kept, for the settings screen to say."""
        if self.choices is None:
            return "Settings apply to the next run; not kept (the config file has an error)."
        return (
            "Settings apply to the next run, here or from `lapse run`;"
            f" kept in {self.choices.path}, not in the config."
        )

    # -- screens ----------------------------------------------------------------------------
    def action_open_settings(self) -> None:
        from tui.screens.settings import SettingsScreen

        self.push_screen(SettingsScreen())

    def action_open_log(self) -> None:
        from tui.screens.log import LogScreen

        self.push_screen(LogScreen())

    def action_open_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # -- kiosk --------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The kiosk never quits, so its footer offers no quit key; the help offers no
        key to itself."""
        if action == "open_help":
            from tui.screens.help import HelpScreen

            return not isinstance(self._shown_screen(), HelpScreen)
        return not (action == "quit" and self.kiosk)

    async def action_quit(self) -> None:
        if self.kiosk:
            self.notify("This is a kiosk: lapse stays open.", timeout=2)
            return
        await super().action_quit()

    async def action_help_quit(self) -> None:
        if self.kiosk:
            return
        await super().action_help_quit()
