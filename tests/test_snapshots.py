"""Snapshots of the main screen, idle and running, at 40×15 and 80×24, in every theme.

The pictures must be the same on every run, so time is fixed and the daemon's
status is a recorded one, replayed by a link that never changes it. The real
daemon is exercised by test_tui_pilot.py and test_tui_tmux.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.config import Config
from core.durations import NS_PER_S
from themes import THEMES
from tui.app import LapseApp

NOW = 5_000 * NS_PER_S
HELLO = {"pid": 1, "protocol": 1, "rig": "simulated", "simulated": True, "notice": None}
IDLE = {"state": "idle", "run": None, "now_ns": NOW, "simulated": True, "outputs": {}}
# A 10 s powered run, 1.2 s before frame 7's shutter: power and focus are on.
ANCHOR = NOW - 7 * 10 * NS_PER_S + 1_200_000_000
RUNNING = {
    "state": "running",
    "run": "20261121-081500",
    "simulated": True,
    "settings": {
        "interval": "10s",
        "power": True,
        "frames": 240,
        "delay": "0s",
        "exposure": "pulse",
        "focus_lead": "4s",
        "clock_ppm": 0.0,
    },
    "frames": 240,
    "ok": 6,
    "missed": 1,
    "errors": 0,
    "anchor_ns": ANCHOR,
    "now_ns": NOW,
    "next_frame": 7,
    "next_due_ns": ANCHOR + 70 * NS_PER_S,
    "last_frame": {
        "frame": 6,
        "due_ns": ANCHOR + 60 * NS_PER_S,
        "fired_ns": ANCHOR + 60 * NS_PER_S + 4_000,
        "wall": "2026-11-21T08:16:04.000004+00:00",
        "status": "ok",
        "file": None,
        "error": None,
        "lateness_ns": 4_000,
    },
    "fault": None,
    "outputs": {},
}


class ReplayLink:
    """A daemon that answers once with a recorded status and then says nothing."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status

    def connect(self) -> dict[str, Any]:
        return HELLO

    def events(self) -> Iterator[dict[str, Any]]:
        yield {"event": "state", "data": self.status}

    def command(self, cmd: str, **args: Any) -> Any:
        raise AssertionError(f"a snapshot sent {cmd}")

    def close(self) -> None:
        pass


def make_app(status: dict[str, Any], theme: str) -> LapseApp:
    config = Config()
    app = LapseApp(ReplayLink(status), config, None, clock=lambda: NOW, theme_name=theme)
    return app


@pytest.mark.parametrize("theme", list(THEMES))
@pytest.mark.parametrize("size", [(40, 15), (80, 24)], ids=["40x15", "80x24"])
@pytest.mark.parametrize("state", ["idle", "running"])
def test_main_screen(snap_compare, state: str, size: tuple[int, int], theme: str) -> None:
    status = IDLE if state == "idle" else RUNNING

    async def settle(pilot) -> None:
        # The link's thread delivers the status; wait until the screen shows it.
        for _ in range(100):
            if pilot.app.status.get("state") == status["state"]:
                break
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(make_app(status, theme), terminal_size=size, run_before=settle)
