"""The main screen (tui/screens/main.py): it wakes only for what it shows."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from core.config import Config
from core.model.durations import NS_PER_S
from tests.widget_app import rows
from tui.app import LapseApp
from tui.screens.main import MainScreen

S = NS_PER_S


class QuietLink:
    """A daemon that reports one status, then says nothing until the app hangs up."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status
        self.closed = threading.Event()

    def connect(self) -> dict[str, Any]:
        return {"pid": 1, "protocol": 1, "rig": "simulated", "simulated": True}

    def events(self) -> Iterator[dict[str, Any]]:
        yield {"event": "state", "data": self.status}
        self.closed.wait()

    def command(self, cmd: str, **args: Any) -> Any:
        raise AssertionError(f"the test sent {cmd}")

    def close(self) -> None:
        self.closed.set()


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
    settings = {
        "interval": "1min",
        "power": False,
        "frames": 0,
        "delay": "0s",
        "exposure": "pulse",
        "focus_lead": "4s",
        "clock_ppm": 0.0,
    }
    status = {
        "state": "running",
        "run": "r",
        "simulated": True,
        "settings": settings,
        "anchor_ns": anchor,
        "now_ns": start,
        "next_due_ns": anchor,
        "ok": 0,
        "missed": 0,
        "errors": 0,
    }
    clock = [start]
    app = LapseApp(QuietLink(status), Config(), None, clock=lambda: clock[0])
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(100):
            if app.status.get("state") == "running":
                break
            await pilot.pause(0.02)
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
