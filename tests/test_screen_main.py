"""The main screen (tui/screens/main.py): it wakes only for what it shows."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from core.config import Config
from core.model import protocol
from core.model.battery import BatteryModel, battery_status
from core.model.durations import NS_PER_S
from core.model.errors import LapseError
from core.model.plan import make_plan
from core.model.planner import assess_run
from core.model.protocol import BatteryStatus, Status
from core.model.run_state import RunState
from core.model.settings import Settings
from tests.statuses import running
from tests.widget_app import rows
from tui.app import LapseApp
from tui.screens.main import INTERVAL_LOCKED, MainScreen
from tui.widgets.power import PowerToggle
from tui.widgets.rotary import RotarySwitch

S = NS_PER_S


class QuietLink:
    """A daemon that reports one status, then says nothing until the app hangs up.

    Asked about a run of the switches' settings it answers as a daemon with no battery
    monitor would; a stop is kept in :attr:`sent`; any other command fails the test.
    """

    def __init__(self, status: Status) -> None:
        self.status = status
        self.closed = threading.Event()
        self.sent: list[protocol.Command] = []

    def connect(self) -> protocol.HelloReply:
        return protocol.HelloReply(pid=1, rig="simulated", simulated=True)

    def events(self) -> Iterator[protocol.Event]:
        yield protocol.StateEvent(self.status)
        self.closed.wait()

    def command(self, command: protocol.Command) -> Any:
        if isinstance(command, protocol.Preview):
            battery = model_battery(command.settings, at_ns=self.status.now_ns, draining=False)
            outlook = assess_run(command.settings, battery=battery)
            return protocol.RunPreview(battery=battery, outlook=outlook)
        if isinstance(command, protocol.Stop):
            self.sent.append(command)
            return self.status
        raise AssertionError(f"the test sent {command.name}")

    def close(self) -> None:
        self.closed.set()


def model_battery(settings: Settings, *, at_ns: int, draining: bool) -> BatteryStatus:
    """A daemon's model figure, full at ``at_ns``, for a run of ``settings``."""
    estimate = BatteryModel().estimate(make_plan(settings), running_ns=0, frames_left=None)
    return battery_status(estimate, at_ns=at_ns, draining=draining)


async def until(pilot: Pilot[None], done: Callable[[], bool]) -> None:
    """Let the app run until ``done()`` (the link's thread delivers in its own time)."""
    for _ in range(250):
        if done():
            return
        await pilot.pause(0.02)
    raise AssertionError("the app never got there")


def asking_preview(app: LapseApp) -> bool:
    """True while the app waits for the daemon's word on the switches' settings."""
    return any(worker.group == "preview" and not worker.is_finished for worker in app.workers)


class HeldTimer:
    """Stands in for the tick timer: the test moves the clock and calls the tick itself."""

    def stop(self) -> None:
        pass


async def test_main_screen_wakes_only_for_what_it_shows() -> None:
    """A 1-minute run, one whole cycle on a fake clock, each wake-up taken as the screen asks.

    Every wake-up changes the picture; between frames the screen wakes about once a
    second (the texts count seconds, and the cursor moves with them): a fixed rate of
    a few per second would fail here.
    """
    start = 5_000 * S
    anchor = start + 4 * S  # the first flash is now
    settings = Settings(interval_ns=60 * S, power=False, frames=0, focus_lead_ns=4 * S)
    # The daemon's model drains while the run goes: the gauge falls with the clock.
    status = running(
        anchor,
        settings,
        now_ns=start,
        battery=model_battery(settings, at_ns=start, draining=True),
    )
    clock = [start]
    app = LapseApp(QuietLink(status), Config(), None, clock=lambda: clock[0])
    async with app.run_test(size=(80, 24)) as pilot:
        # Any question about the switches' settings, asked before the status came, is
        # answered too: a late answer would redraw in the middle of the count below.
        await until(pilot, lambda: app.status == status and not asking_preview(app))
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MainScreen)
        delays: list[float] = []
        set_timer = screen.set_timer

        def hold(delay: float, callback: Callable[[], object], **kwargs: Any) -> Any:
            if kwargs.get("name") != "tick":
                return set_timer(delay, callback, **kwargs)
            delays.append(delay)
            return HeldTimer()

        def picture() -> list[str]:
            shown = screen.query("Static, LedLamp, Timeline, BatteryGauge")
            return [line for widget in shown for line in rows(widget)]

        screen.set_timer = hold  # type: ignore[method-assign]
        screen.update_view()
        await pilot.pause()
        pictures = [picture()]
        woke_at: list[int] = []
        while clock[0] < anchor + 56 * S:
            clock[0] += round(delays[-1] * S)
            screen.tick()  # the widgets draw on demand: no need to wait for the paint
            woke_at.append(clock[0] - anchor)
            pictures.append(picture())
        still = [woke_at[i] / S for i in range(len(woke_at)) if pictures[i] == pictures[i + 1]]
        assert still == [], f"woke without a change at {still} s"
        between = [t for t in woke_at if 5 * S <= t < 55 * S]
        assert 45 <= len(between) <= 60, len(between)
        assert len(woke_at) <= 100, len(woke_at)


@pytest.mark.parametrize("state", [RunState.STARTING, RunState.WAITING])
async def test_the_switches_lock_while_a_run_starts_or_waits(state: RunState) -> None:
    """Not only a running run holds the switches: one starting or waiting for its first
    frame does too, and D stops it rather than starting another."""
    now = 5_000 * S
    # Starting, the grid is not placed: a run the status names (the daemon names none then)
    # is not the one starting, and is never drawn as it.
    status = running(
        now + 10 * S, Settings(interval_ns=10 * S, power=True), state=state, now_ns=now
    )
    link = QuietLink(status)
    app = LapseApp(link, Config(), None, clock=lambda: now)
    async with app.run_test(size=(40, 15)) as pilot:
        await until(pilot, lambda: app.status == status)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert not any(switch.enabled for switch in screen.query(RotarySwitch))
        assert not screen.query_one(PowerToggle).enabled
        # A waiting run shows its own power; a starting one has none to show yet.
        assert screen.query_one(PowerToggle).on is (state is RunState.WAITING)
        before = screen.preview_settings()
        for key in ("a", "5", "c"):  # turn VALUE, pick seconds, toggle power
            screen.show_message("")
            await pilot.press(key)
            assert INTERVAL_LOCKED in str(screen.query_one("#message").render()), key
        assert screen.preview_settings() == before
        await pilot.press("d")
        await until(pilot, lambda: bool(link.sent))
        assert link.sent == [protocol.Stop()]


def run_going_for(going_ns: int, link_kind: type[QuietLink] = QuietLink) -> LapseApp:
    """The app, on a daemon whose 10 s run has been going for ``going_ns``."""
    now = 50_000 * S
    status = running(now - going_ns, Settings(interval_ns=10 * S), now_ns=now)
    return LapseApp(link_kind(status), Config(), None, clock=lambda: now)


async def test_a_run_going_over_an_hour_stops_on_a_second_press_only() -> None:
    app = run_going_for(3 * 3_600 * S)
    link, status = app.link, app.link.status
    async with app.run_test(size=(40, 15)) as pilot:
        await until(pilot, lambda: app.status == status)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        message = lambda: str(screen.query_one("#message").render())  # noqa: E731
        await pilot.press("d")
        await pilot.pause()
        assert message() == "Going for 3h: D again stops it"
        assert link.sent == [], "one press asks"
        # Once the question has gone, a press asks again rather than stopping.
        screen._pass()
        await pilot.press("D")
        await pilot.pause()
        assert link.sent == [] and message() == "Going for 3h: D again stops it"
        await pilot.press("d")
        await until(pilot, lambda: bool(link.sent))
        assert link.sent == [protocol.Stop()]


async def test_a_run_under_an_hour_stops_on_one_press() -> None:
    app = run_going_for(59 * 60 * S)
    link, status = app.link, app.link.status
    async with app.run_test(size=(40, 15)) as pilot:
        await until(pilot, lambda: app.status == status)
        await pilot.press("d")
        await until(pilot, lambda: bool(link.sent))
        assert link.sent == [protocol.Stop()]


class RefusingLink(QuietLink):
    """A daemon that refuses a stop with a long reason, as a camera's fault reads."""

    REASON = (
        "camera: no camera answers over USB: check the cable, that the camera is on and"
        " in PTP mode, and that no other program (gvfs, a second lapse) holds it"
    )

    def command(self, command: protocol.Command) -> Any:
        if isinstance(command, protocol.Stop):
            raise LapseError(self.REASON)
        return super().command(command)


async def test_a_long_refusal_fits_a_40_column_screen_whole() -> None:
    app = run_going_for(60 * S, RefusingLink)
    status = app.link.status
    async with app.run_test(size=(40, 15), notifications=True) as pilot:
        await until(pilot, lambda: app.status == status)
        await pilot.press("d")
        await until(pilot, lambda: bool(app.screen.query("Toast")))
        await pilot.pause()
        toast = app.screen.query_one("Toast")
        region = toast.region
        assert region.y >= 0 and region.bottom <= 15, region
        assert region.width > 20, "the toast takes the screen's width, not half of it"
        shown = " ".join(" ".join(rows(toast)).split())
        assert RefusingLink.REASON in shown, "every word of it, the first line too"
