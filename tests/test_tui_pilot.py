"""The real TUI driven by key, as a photographer would, on a real daemon (simulated rig)."""

from __future__ import annotations

import re
import time

import pytest
from textual.widgets import Static

from core.config import ChoicesFile, Config, load_config
from core.model import protocol
from core.model.durations import NS_PER_S as S
from core.model.durations import PRESETS, format_approx
from core.model.marks import UNKNOWN_ARMED
from core.model.protocol import BatteryStatus, Preview
from core.model.records import FrameRecord
from core.model.run_notes import NOTES_FILE, note_line
from core.model.run_state import RunState
from core.model.ui import BindingId
from core.model.windows import When
from core.paths import resolve_paths
from tests.conftest import Lapse
from tests.test_box import SWITCHES
from tui import cli
from tui.app import LapseApp
from tui.link import SocketLink
from tui.messages import CommandDone
from tui.screens.main import INTERVAL_LOCKED, MainScreen
from tui.widgets.battery import BatteryGauge
from tui.widgets.power import PowerToggle
from tui.widgets.rotary import RotarySwitch

VALUE_KEYS = {1: "1", 3: "2", 10: "3", 30: "4"}
UNIT_KEYS = {"s": "5", "min": "6", "h": "7", "d": "8"}


def choices_of(lapse: Lapse) -> ChoicesFile:
    """The interface's choices file over this installation's config file, as `lapse` opens it."""
    paths = resolve_paths(lapse.env)
    return ChoicesFile(paths.choices, load_config(paths.config))


def kept(lapse: Lapse) -> Config:
    """What the next `lapse` starts from: the config file with the choices kept over it."""
    config, set_aside = choices_of(lapse).load()
    assert set_aside is None, set_aside
    return config


def make_app(lapse: Lapse) -> LapseApp:
    choices = choices_of(lapse)
    return LapseApp(
        SocketLink(resolve_paths(lapse.env), None),
        choices.load()[0],
        choices,
        journal=lapse.journal,
    )


async def wait_until(pilot, predicate, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def state_of(app: LapseApp) -> RunState | None:
    """The run's state as the app last heard it; None before the first status."""
    return None if app.status is None else app.status.state


def ok_frames(app: LapseApp) -> int:
    """The frames the app has heard were taken in the run it shows."""
    run = None if app.status is None else app.status.run
    return 0 if run is None else run.counts.ok


def main_screen(app: LapseApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def test_every_preset_is_one_key_pair_away(lapse: Lapse) -> None:
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await wait_until(pilot, lambda: app.hello is not None, what="the daemon link")
        screen = main_screen(app)
        for preset in PRESETS:
            await pilot.press(VALUE_KEYS[preset.value], UNIT_KEYS[preset.unit])
            assert screen.preview_settings().interval_ns == preset.interval_ns, preset.label
            value = screen.query_one("#value", RotarySwitch)
            unit = screen.query_one("#unit", RotarySwitch)
            assert value.selected == [1, 3, 10, 30].index(preset.value)
            assert unit.selected == ["s", "min", "h", "d"].index(preset.unit)
        # The last choice (30 days) is kept for next time.
        assert kept(lapse).run.interval_ns == PRESETS[-1].interval_ns


async def test_switches_turn_with_arrows_and_keypad_letters(lapse: Lapse) -> None:
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        screen = main_screen(app)
        await pilot.press("1", "5")  # 1 s
        await pilot.press("a")  # keypad A turns VALUE: 1 → 3
        assert screen.preview_settings().interval_ns == 3 * 10**9
        await pilot.press("b")  # keypad B turns UNIT: s → min
        assert screen.preview_settings().interval_ns == 3 * 60 * 10**9
        screen.query_one("#value", RotarySwitch).focus()
        await pilot.press("up")
        assert screen.preview_settings().interval_ns == 10 * 60 * 10**9


async def test_power_toggles_and_an_impossible_start_is_refused(lapse: Lapse) -> None:
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await wait_until(pilot, lambda: app.hello is not None, what="the daemon link")
        screen = main_screen(app)
        await pilot.press("1", "5", "c")  # 1 s with camera power: too short to wake a camera
        assert screen.query_one(PowerToggle).on
        assert screen.preview_settings().power
        assert kept(lapse).run.power
        await pilot.press("d")
        await wait_until(
            pilot,
            lambda: (
                "needs an interval of at least 10s" in str(screen.query_one("#message").render())
            ),
            what="the refusal",
        )
        assert not app.live
        assert lapse.client().status().state is RunState.IDLE
        await pilot.press("c")
        assert not screen.query_one(PowerToggle).on


def switch_words(screen: MainScreen) -> tuple[str | None, str | None, str]:
    """The VALUE and UNIT positions marked (None: none), and the VALUE switch's caption."""
    value = screen.query_one("#value", RotarySwitch)
    unit = screen.query_one("#unit", RotarySwitch)
    marked = [None if s.marked is None else s.positions[s.marked] for s in (value, unit)]
    return marked[0], marked[1], value.caption


@pytest.mark.parametrize(
    ("interval", "shown"),
    [("3h", ("3", "h", "")), ("45s", (None, None, "every 45s"))],
)
async def test_a_tui_joining_a_run_shows_its_interval_and_power(
    lapse: Lapse, interval: str, shown: tuple[str | None, str | None, str]
) -> None:
    # Started from the command line, not from this screen, whose config says 1 min, no power.
    lapse.start_daemon()
    started = lapse.cli("run", "--interval", interval, "--power", "--frames", "0")
    assert started.returncode == 0, started.stderr
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await wait_until(pilot, lambda: app.live, what="the run")
        screen = main_screen(app)
        await wait_until(pilot, lambda: switch_words(screen) == shown, what=f"{shown}")
        assert screen.query_one(PowerToggle).on
        assert (
            screen.preview_settings().interval_ns
            == lapse.client().status().run.settings.interval_ns
        )
        assert lapse.cli("stop").returncode == 0
        await wait_until(pilot, lambda: not app.live, what="the stop")
        # The switches keep showing what the run went at; a turn picks a preset again.
        assert switch_words(screen) == shown
        await pilot.press("2", "6")  # 3 min
        assert switch_words(screen) == ("3", "min", "")


async def test_start_watch_frames_arrive_and_stop(lapse: Lapse) -> None:
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await wait_until(pilot, lambda: app.hello is not None, what="the daemon link")
        screen = main_screen(app)
        screen.message_s = 60.0  # here only the run's start or stop ends a message

        def message() -> str:
            return str(screen.query_one("#message").render())

        await pilot.press("1", "5", "d")  # 1 s, start: "Starting: every 1s…"
        await wait_until(pilot, lambda: state_of(app) is RunState.RUNNING, what="running")
        await wait_until(pilot, lambda: message() == "", what="'Starting…' gone once running")
        await wait_until(pilot, lambda: ok_frames(app) >= 2, what="two frames")
        run_text = str(screen.query_one("#run").render())
        assert "frame " in run_text and "of ∞" in run_text
        # The interval is locked during the run, and the UI says so, for a while.
        screen.message_s = 0.3
        await pilot.press("a")
        assert INTERVAL_LOCKED in message()
        await wait_until(pilot, lambda: message() == "", what="the lock's words to pass")
        assert screen.preview_settings().interval_ns == 10**9
        screen.message_s = 60.0
        await pilot.press("d")  # "Stopping…"
        await wait_until(pilot, lambda: state_of(app) is RunState.STOPPED, what="stopped")
        await wait_until(pilot, lambda: message() == "", what="'Stopping…' gone once stopped")
        status = lapse.client().status()
        assert status.state is RunState.STOPPED
        assert status.run is not None and status.run.counts.ok >= 2
        assert status.outputs == {"power": 0.0, "focus": 0.0, "shutter": 0.0, "led": 0.0}


async def test_a_lost_daemon_is_said_while_it_lasts_and_no_longer(lapse: Lapse) -> None:
    daemon = lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await wait_until(pilot, lambda: app.hello is not None, what="the daemon link")
        screen = main_screen(app)
        screen.message_s = 0.2

        def message() -> str:
            return str(screen.query_one("#message").render())

        daemon.terminate()
        daemon.wait(10)
        await wait_until(pilot, lambda: message().startswith("daemon: "), what="the lost link")
        for _ in range(15):  # seven times a passing message's time: it stays throughout
            await pilot.pause(0.1)
            assert message().startswith("daemon: ")
        lapse.start_daemon()
        await wait_until(pilot, lambda: app.link_error is None, what="the link back")
        await wait_until(pilot, lambda: message() == "", what="the words to go")


def test_news_that_comes_while_no_screen_is_shown_is_taken_quietly(lapse: Lapse) -> None:
    # The daemon's answers and events can arrive while the app is starting or closing,
    # with no screen on the stack: they must not end the app with an error.
    lapse.start_daemon()
    status = lapse.client().status()
    app = make_app(lapse)
    assert not app.screen_stack
    app.on_command_done(CommandDone(protocol.Preview.name, result=None))
    app.on_command_done(CommandDone(protocol.Stop.name, result=status))
    assert app.status == status


async def test_screens_open_and_close_by_key(lapse: Lapse) -> None:
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        for open_key, name in (
            ("asterisk", "SettingsScreen"),
            ("0", "LogScreen"),
            ("number_sign", "HelpScreen"),
        ):
            await pilot.press(open_key)
            await pilot.pause()
            assert type(app.screen).__name__ == name
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, MainScreen)


async def test_kiosk_does_not_quit(lapse: Lapse) -> None:
    lapse.start_daemon()
    paths = resolve_paths(lapse.env)
    app = LapseApp(SocketLink(paths, None), load_config(paths.config), None, kiosk=True)
    async with app.run_test(size=(40, 15)) as pilot:
        for key in ("ctrl+q", "ctrl+c", "q", "ctrl+p"):
            await pilot.press(key)
            await pilot.pause()
            assert app.is_running and isinstance(app.screen, MainScreen), key
        # Its footer offers no quit, nor the command palette.
        shown = [key.description for key in app.screen.query("FooterKey")]
        assert shown == ["Start", "Settings", "Log", "Help"], shown


async def test_settings_are_stepped_by_key_and_kept(lapse: Lapse) -> None:
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await pilot.press("asterisk")  # keypad * opens settings; the first row is Frames
        await pilot.pause()
        await pilot.press("d", "D")  # keypad D: more (until stopped → 10 → 24), Shift too
        await pilot.press("b", "b", "d")  # down to Exposure, pulse → bulb 500ms
        await pilot.press("number_sign")  # keypad #: help, here as on every screen
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("number_sign")  # and back
        await pilot.pause()
        assert type(app.screen).__name__ == "SettingsScreen"
        await pilot.press("asterisk")  # keypad *: back, keeping the choices
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        saved = kept(lapse).run
        assert saved.frames == 24
        assert saved.exposure_ns == 500_000_000


async def test_settings_take_exact_numbers_typed_on_the_keypad(lapse: Lapse) -> None:
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await pilot.press("asterisk")  # Frames
        await pilot.press("1", "2", "0")
        await pilot.press("b", "4", "5")  # Start delay: 45 s
        await pilot.press("b", "2")  # Exposure: a 2 s bulb
        await pilot.press("b", "1", "5")  # Focus lead: 15 s is more than it may be
        message = str(app.screen.query_one("#settings-message").render())
        assert message.startswith("15 s: focus lead must be between 0s and 10s"), message
        await pilot.press("2")  # a refused number is dropped: this is a new one, 2 s
        await pilot.press("b", "3")  # Power off: at least 3 s
        await pilot.press("b", "b", "9")  # Window: stepped
        message = str(app.screen.query_one("#settings-message").render())
        assert message == "Window is stepped: C less, D more"
        await pilot.press("d")  # the first window: sunset..sunrise
        row = str(app.screen.query_one("#row-6").render())
        assert "sunset..sunrise" in row, row
        await pilot.press("b", "d")  # Sun: night only
        await pilot.press("b", "6", "0", "0")  # Night pace: every 600 s
        await pilot.press("b", "b", "9")  # Theme: stepped, and 9 is no theme key here
        assert app.theme == "lapse-default"
        message = str(app.screen.query_one("#settings-message").render())
        assert message == "Theme is stepped: C less, D more"
        await pilot.press("enter")  # keeps
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
    saved = kept(lapse).run
    assert (saved.frames, saved.delay_ns, saved.exposure_ns) == (120, 45 * S, 2 * S)
    assert saved.focus_lead_ns == 2 * S, "15 s refused, then 2 s typed afresh"
    assert saved.min_power_off_ns == 3 * S
    assert (saved.between, saved.when) == ("sunset..sunrise", When.NIGHT)
    assert saved.night_interval_ns == 600 * S


async def test_help_scrolls_with_keypad_keys(lapse: Lapse) -> None:
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await pilot.press("number_sign")
        await pilot.pause()
        body = app.screen.query_one("#help-body")
        assert body.max_scroll_y > 20, "the help is longer than a 40x15 screen"
        await pilot.press("b", "b", "b")
        await pilot.pause()
        assert body.scroll_y == 3
        await pilot.press("d")
        await pilot.pause()
        assert body.scroll_y > 3 + 5, "a page"
        await pilot.press("c", "a")
        await pilot.pause()
        assert body.scroll_y == 2


async def test_settings_refuse_what_does_not_fit(lapse: Lapse) -> None:
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await pilot.press("1", "5")  # 1 s interval
        await pilot.press("asterisk", "b", "b")  # to Exposure
        for _ in range(6):
            await pilot.press("d")  # up to a 10 s bulb: cannot fit a 1 s interval
        message = str(app.screen.query_one("#settings-message").render())
        assert "does not fit a 1s interval" in message
        row = str(app.screen.query_one("#row-2").render())
        assert "bulb 500ms" in row, "the exposure stops at the longest that fits"
        await pilot.press("asterisk")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert kept(lapse).run.exposure_ns == 500_000_000


async def test_log_lists_runs_and_opens_one(lapse: Lapse) -> None:
    lapse.start_daemon()
    assert lapse.cli("run", "--interval", "100ms", "--frames", "3", "--wait").returncode == 0
    run_id = lapse.journal.latest_run().id
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await pilot.press("0")  # keypad 0: the log
        table = app.screen.query_one("DataTable")
        await wait_until(pilot, lambda: table.row_count == 1, what="the run listed")
        assert table.get_row_at(0)[0].startswith(f"{run_id}\nevery ")
        await pilot.pause()
        assert table.virtual_size.width <= 40, "every column whole at 40 columns"
        await pilot.press("d")  # open it
        await wait_until(pilot, lambda: table.row_count == 3, what="its three frames")
        assert [table.get_row_at(i)[2] for i in range(3)] == ["ok", "ok", "ok"]
        await pilot.pause()
        assert table.virtual_size.width <= 40
        await pilot.press("escape")  # back to the list, then to the main screen
        await wait_until(pilot, lambda: table.row_count == 1, what="the list again")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_the_log_shows_unknown_slots_and_what_the_daemon_found_wrong(lapse: Lapse) -> None:
    lapse.start_daemon()
    assert lapse.cli("run", "--interval", "100ms", "--frames", "3", "--wait").returncode == 0
    run = lapse.journal.latest_run()
    last = lapse.journal.last_frame(run.id)
    unknown = FrameRecord(
        frame=3, due_ns=last.due_ns, fired_ns=None, wall=last.wall, status="unknown",
        error=UNKNOWN_ARMED, last=4,
    )  # fmt: skip
    with open(run.frames_path, "a", encoding="ascii") as frames:
        frames.write(unknown.to_json() + "\n")
    said = "run X: its last line does not fit its grid"
    (run.path / NOTES_FILE).write_bytes(note_line(last.wall, said))
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await pilot.press("0")
        table = app.screen.query_one("DataTable")
        await wait_until(pilot, lambda: table.row_count == 1, what="the run listed")
        assert table.get_row_at(0)[1].endswith("0+2? missed"), "2 slots may have fired"
        await pilot.press("d")
        await wait_until(pilot, lambda: table.row_count == 4, what="its frames")
        assert table.get_row_at(0)[:3] == ["3–4", unknown.wall[11:19], "unknown"]
        title = app.screen.query_one("#log-title", Static)
        assert said in str(title.render())
        # Where the run is: the path wraps at 40 columns, whole.
        folder = app.screen.query_one("#log-folder", Static)
        assert folder.display and str(folder.render()) == f"folder {run.path}"
        await pilot.press("asterisk")
        await wait_until(pilot, lambda: table.row_count == 1, what="the list again")
        assert not folder.display


async def test_words_with_brackets_are_shown_as_written(lapse: Lapse) -> None:
    # Messages quote config tables and OS errors ("[camera]", "[Errno 28]"): shown as
    # written, never read as markup (which dropped them, and "[/]" crashed the screen).
    lapse.start_daemon()
    assert lapse.cli("run", "--interval", "100ms", "--frames", "1", "--wait").returncode == 0
    run = lapse.journal.latest_run()
    said = "[Errno 28] No space left on device: see [camera] reserve_mb [/]"
    (run.path / NOTES_FILE).write_bytes(note_line(lapse.journal.last_frame(run.id).wall, said))
    app = make_app(lapse)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        screen.show_message(said)
        await pilot.pause()
        assert str(screen.query_one("#message", Static).render()) == said
        await pilot.press("0")
        table = app.screen.query_one("DataTable")
        await wait_until(pilot, lambda: table.row_count == 1, what="the run listed")
        await pilot.press("d")
        title = app.screen.query_one("#log-title", Static)
        await wait_until(pilot, lambda: said in str(title.render()), what="the run's note")


async def test_theme_key_cycles_and_is_saved(lapse: Lapse) -> None:
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        assert app.theme == "lapse-default"
        await pilot.press("9")
        assert app.theme == "lapse-night-vision"
        assert kept(lapse).ui.theme == "night-vision"
        await pilot.press("9")
        assert app.glyphs.trace_high == "#", "the console theme draws in ASCII"
        # ...and the screen draws with them at once, both ways.
        main = app.screen
        widgets = "RotarySwitch, PowerToggle, LedLamp, Timeline, BatteryGauge"
        await pilot.pause()
        assert all(w.glyphs == app.glyphs for w in main.query(widgets))
        await pilot.press("9")
        assert app.glyphs.trace_high != "#"
        await pilot.pause()
        assert all(w.glyphs == app.glyphs for w in main.query(widgets))


async def test_a_usb_run_shows_the_camera_and_its_files(lapse: Lapse) -> None:
    lapse.config.write_text('[camera]\ntrigger = "usb"\n')
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        camera = screen.query_one("#camera", Static)
        await wait_until(
            pilot, lambda: "Nikon DSC D750" in str(camera.render()), what="the camera line"
        )
        assert "battery 50%" in str(camera.render())
        # Files land: the banner says what is simulated, not that no camera fires.
        banner = str(screen.query_one("#banner", Static).render()).strip()
        assert banner == "SIMULATED HARDWARE: virtual camera"
        await pilot.press("1", "5", "d")  # every 1 s, start
        await wait_until(
            pilot, lambda: "2 saved" in str(camera.render()), what="files counted as they land"
        )
        await pilot.press("d")
        await wait_until(pilot, lambda: state_of(app) is RunState.STOPPED, what="the stop")
    # At 40×15 there is no line to spare: the camera is said, compactly, where no
    # message is, and a message said meanwhile goes before it.
    async with make_app(lapse).run_test(size=(40, 15)) as pilot:
        screen = main_screen(pilot.app)
        message = screen.query_one("#message", Static)
        await wait_until(
            pilot, lambda: "Nikon DSC D750" in str(message.render()), what="the camera"
        )
        brief = str(message.render())
        assert re.fullmatch(r"Nikon DSC D750 · 50% · \d+ saved", brief), brief
        assert not screen.query_one("#camera", Static).display
        screen.show_message("Starting: every 1s…")
        await pilot.pause()
        assert str(message.render()) == "Starting: every 1s…"
        screen._pass()
        await pilot.pause()
        assert str(message.render()) == brief


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            '[ui]\ntheme = "sepia"\n',
            'ui.theme must be one of the theme names "default", "night-vision", "console",'
            ' got "sepia"',
        ),
        (
            '[ui.keys]\nstart = "s"\n',
            f"ui.keys.start is not a binding id; binding ids are {', '.join(BindingId)}",
        ),
        ("[ui.keys]\nquit = 5\n", 'ui.keys.quit must be a key such as "s" or "ctrl+s", got 5'),
    ],
    ids=["unknown-theme", "unknown-binding-id", "bad-key"],
)
def test_lapse_opens_on_defaults_after_a_bad_ui_table(
    lapse: Lapse,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    says: str,
) -> None:
    # The real entry, `lapse --kiosk` (so no daemon is started), with the app run headless.
    lapse.config.write_text(text)
    opened: list[tuple[str, dict[str, str], str, object]] = []
    run = LapseApp.run

    async def look_and_leave(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        app = pilot.app
        opened.append((app.theme, dict(app.config.ui.keys), type(app.screen).__name__, app.choices))
        app.exit()

    def headless(app: LapseApp) -> None:
        run(app, headless=True, size=(40, 15), auto_pilot=look_and_leave)

    monkeypatch.setattr(LapseApp, "run", headless)
    assert cli.main(["--kiosk"], environ=lapse.env) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err.splitlines() == [f"lapse: config {lapse.config}: {says}; using defaults, not saving"]
    assert opened == [("lapse-default", {}, "MainScreen", None)], "defaults, and nothing saved"
    assert lapse.config.read_text() == text


async def test_the_idle_gauge_is_the_daemons_word_on_the_switches(lapse: Lapse) -> None:
    # The model with a small battery: an hour's interval lasts minutes longer than a minute's.
    lapse.config.write_text('[battery]\nsource = "model"\ncapacity_mah = 1000.0\n')
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await wait_until(pilot, lambda: app.hello is not None, what="the daemon link")
        screen = main_screen(app)
        gauge = screen.query_one(BatteryGauge)

        def daemon_says() -> BatteryStatus:
            """What the daemon answers about a run of the switches' settings."""
            with lapse.client() as client:
                return client.request(Preview(screen.preview_settings())).battery

        def shows(battery: BatteryStatus) -> bool:
            estimate = gauge.estimate
            return (
                estimate is not None
                and (estimate.source, estimate.percent, estimate.lasts_ns)
                == (battery.source, battery.percent, battery.lasts_ns)
                and f"lasts {format_approx(battery.lasts_ns or 0)}" in str(gauge.render())
            )

        await pilot.press("c", "1", "6")  # camera power, every minute
        minute = daemon_says()
        await wait_until(pilot, lambda: shows(minute), what="the daemon's figure for 1 min")
        await pilot.press("7")  # the UNIT switch to hours
        hour = daemon_says()
        assert format_approx(hour.lasts_ns or 0) != format_approx(minute.lasts_ns or 0)
        await wait_until(pilot, lambda: shows(hour), what="the daemon's figure for 1 h")


HAND_WRITTEN = """\
# My rig: the UPS HAT sits at 0x42, as its silkscreen says.
[run]
interval = "10s"   # the switches' start
frames = 240

[battery]
source = "ina219"
i2c_address = 0x42
"""


async def test_choices_never_rewrite_the_photographers_config(lapse: Lapse) -> None:
    # A keypress, the settings screen and the theme key all keep their choices in lapse's
    # own file: the hand-written config keeps its comments and its 0x42, byte for byte.
    lapse.config.write_text(HAND_WRITTEN)
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await wait_until(pilot, lambda: app.hello is not None, what="the daemon link")
        await pilot.press("3", "6")  # the switches: every 10 min
        await pilot.press("9")  # the theme
        await pilot.press("asterisk", "d", "asterisk")  # settings: one more frame step
        await pilot.pause()
        assert "kept in" in " ".join(str(n.message) for n in app._notifications)
    assert lapse.config.read_text() == HAND_WRITTEN
    choices = resolve_paths(lapse.env).choices
    written = choices.read_text()
    # Only what differs from the config file is kept: not its frames' neighbours, not pins.
    assert 'interval = "10min"' in written and 'theme = "night-vision"' in written
    assert "i2c_address" not in written and "delay" not in written
    config = kept(lapse)
    assert (config.run.interval_ns, config.ui.theme) == (600 * 10**9, "night-vision")
    assert config.battery.i2c_address == 0x42
    # A key edited in the config file later counts, unless a choice was made for it since.
    lapse.config.write_text(HAND_WRITTEN.replace('"ina219"', '"model"').replace("10s", "1h"))
    config = kept(lapse)
    assert config.battery.source == "model" and config.run.interval_ns == 600 * 10**9


def test_a_choices_file_that_cannot_be_read_is_set_aside_in_one_line(
    lapse: Lapse, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lapse.config.write_text(HAND_WRITTEN)
    choices = resolve_paths(lapse.env).choices
    choices.parent.mkdir(parents=True, exist_ok=True)
    choices.write_text('[run]\ninterval = "banana"\n')
    opened: list[Config] = []
    monkeypatch.setattr(LapseApp, "run", lambda app: opened.append(app.config))
    assert cli.main(["--kiosk"], environ=lapse.env) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"lapse: choices {choices}: run.interval: 'banana' is not a duration: use a duration"
        " such as 500ms, 10s, 3min, 1h30m or 30d; the config file's settings are used"
    ]
    assert opened and opened[0] == load_config(lapse.config), "the config file's settings"
    assert choices.read_text() == '[run]\ninterval = "banana"\n', "nothing changed"


async def test_the_footer_shows_its_keys_before_the_app_has_focus(lapse: Lapse) -> None:
    # A browser's page starts unfocused (lapse web's driver says so until the first
    # tap), and a phone taps the footer's words: each screen shows them from the start.
    from textual import events

    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        app.post_message(events.AppBlur())
        await pilot.pause()
        assert not app.app_focus
        app.action_open_help()
        await pilot.pause(0.2)
        shown = [key.description for key in app.screen.query("FooterKey")]
        assert shown == ["Back", "Up", "Down", "PgUp", "PgDn"], shown  # no key to itself


async def test_a_run_started_at_a_time_says_that_time_on_the_screen(lapse: Lapse) -> None:
    from datetime import datetime, timedelta

    lapse.start_daemon()
    at = (datetime.now().astimezone() + timedelta(hours=3)).replace(second=0, microsecond=0)
    started = lapse.cli("run", "--interval", "10s", "--at", f"{at:%H:%M}")
    assert started.returncode == 0, started.stderr
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await wait_until(pilot, lambda: app.live, what="the run")
        screen = main_screen(app)

        def run_text() -> str:
            return str(screen.query_one("#run").render())

        try:
            await wait_until(pilot, lambda: f"first at {at:%H:%M}" in run_text(), what="it")
        except AssertionError:
            raise AssertionError(
                f"no 'first at {at:%H:%M}' on the screen: {run_text()!r}"
            ) from None
        # Three hours from a time cut to its minute, less the moments the test took:
        # 2h58min only when it began in the minute's last seconds.
        assert re.search(r"starts in (2h5[89]min|3h)", run_text()), run_text()
    assert lapse.cli("stop").returncode == 0


async def test_the_screen_mirrors_the_boxs_switches_which_rule(lapse: Lapse) -> None:
    lapse.config.write_text(SWITCHES, encoding="utf-8")
    lapse.start_daemon()
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await wait_until(pilot, lambda: app.status is not None, what="the daemon link")
        screen = main_screen(app)
        value = screen.query_one("#value", RotarySwitch)
        unit = screen.query_one("#unit", RotarySwitch)
        assert value.marked is None  # the simulated VALUE switch rests between positions
        with lapse.client() as client:
            client.handle("value", "10")
            client.handle("unit", "h")
            client.handle("power", "on")
        await wait_until(
            pilot,
            lambda: (value.marked, unit.marked, screen.query_one(PowerToggle).on) == (2, 2, True),
            what="the box's positions on the screen",
        )
        assert value.caption == unit.caption == "(box)"
        assert screen.preview_settings().interval_ns == 10 * 3600 * S
        for key in ("a", "5", "p"):  # the keypad's turn, pick and toggle
            screen.show_message("")
            await pilot.press(key)
            assert message_of(screen) == "The box's switches rule: use them", key
        assert (value.marked, unit.marked, screen.query_one(PowerToggle).on) == (2, 2, True)
        with lapse.client() as client:
            client.handle("value", "between")
        await wait_until(pilot, lambda: value.marked is None, what="VALUE between positions")
        await pilot.press("d")
        assert message_of(screen) == "Box: VALUE between positions"
        assert not app.live
        with lapse.client() as client:
            client.handle("value", "1")
            client.handle("unit", "s")
            client.handle("power", "off")
            client.handle("button", "press")
        await wait_until(pilot, lambda: app.live, what="the run the button started")
        with lapse.client() as client:
            client.handle("value", "30")
            client.handle("unit", "min")
        await wait_until(pilot, lambda: value.caption == "next 30", what="the next run's mark")
        assert unit.caption == "next min"
        assert (value.marked, unit.marked) == (0, 0)  # the run's own 1 s, as it goes on


def message_of(screen: MainScreen) -> str:
    return str(screen.query_one("#message", Static).render())
