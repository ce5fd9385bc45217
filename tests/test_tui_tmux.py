"""The real ``lapse`` in tmux at 40×15, driven with send-keys as a person would."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time

import pytest

from core.model.run_state import RunState
from tests.conftest import Lapse
from tests.system_tools import require_tool


@pytest.fixture(autouse=True)
def tmux_installed() -> str:
    """Every test here drives tmux: skipped without it, failed under CI."""
    return require_tool("tmux", "tmux")


class Tmux:
    """One private tmux server running one window."""

    def __init__(self, lapse: Lapse, width: int, height: int, term: str = "xterm-256color") -> None:
        self.server = f"lapse-test-{lapse.root.name}-{width}x{height}"
        # COLUMNS/LINES (pytest sets them) would override the pane's real size.
        skip = {"TERM", "COLUMNS", "LINES"}
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in lapse.env.items() if k not in skip)
        python = shlex.quote(sys.executable)
        command = f"env -u COLUMNS -u LINES {env} TERM={term} {python} -m tui.cli"
        self.run("new-session", "-d", "-s", "lapse", "-x", str(width), "-y", str(height), command)

    def run(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.server, *args], capture_output=True, text=True, timeout=10
        )
        return result.stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", "lapse", key)
            time.sleep(0.15)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "lapse")

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.screen())
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} never appeared; the screen:\n{self.screen()}")

    def kill(self) -> None:
        self.run("kill-server")


def cursor_column(screen: str, glyph: str) -> int | None:
    for line in screen.splitlines():
        if glyph in line:
            return line.index(glyph)
    return None


def test_set_one_second_start_watch_and_survive_the_tui_being_killed(lapse: Lapse) -> None:
    tmux = Tmux(lapse, 40, 15)
    try:
        tmux.wait_for(r"VALUE")
        tmux.keys("1", "5")  # keypad: value 1, unit s
        # Look before pressing start, as a person would: both switches show the choice.
        tmux.wait_for(r"▐1▌")
        tmux.wait_for(r"▐s▌")
        tmux.keys("d")  # start
        tmux.wait_for(r"running")
        first = int(tmux.wait_for(r"frame (\d+) of ∞").group(1))
        counts = [first]
        cursors: set[int | None] = set()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (len(set(counts)) < 3 or len(cursors) < 3):
            screen = tmux.screen()
            found = re.search(r"frame (\d+) of ∞", screen)
            if found:
                counts.append(int(found.group(1)))
            cursors.add(cursor_column(screen, "▼"))
            time.sleep(0.07)
        assert counts == sorted(counts) and counts[-1] >= first + 2, (counts, tmux.screen())
        assert len(cursors - {None}) >= 3, f"the cursor did not move: {cursors}"
    finally:
        tmux.kill()  # the TUI dies with its terminal
    status = lapse.cli("status")
    assert status.returncode == 0
    assert "lapse: running run" in status.stdout, status.stdout


def test_two_tuis_show_the_same_run_and_quitting_one_changes_nothing(lapse: Lapse) -> None:
    lapse.start_daemon()
    assert lapse.cli("run", "--interval", "500ms").returncode == 0
    first, second = Tmux(lapse, 40, 15), Tmux(lapse, 80, 24)
    try:
        seen = [int(t.wait_for(r"frame (\d+) of ∞").group(1)) for t in (first, second)]
        first.keys("q")  # the first one quits; the run goes on
        # Frames go on: the counter reaches two past what either showed (it may skip
        # numbers between two looks at the screen on a loaded machine).
        deadline = time.monotonic() + 20
        later = max(seen)
        while later < max(seen) + 2:
            assert time.monotonic() < deadline, f"the run stopped at {later}:\n{second.screen()}"
            later = int(second.wait_for(r"frame (\d+) of ∞").group(1))
            time.sleep(0.1)
    finally:
        first.kill()
        second.kill()
    assert lapse.client().status().state is RunState.RUNNING


def test_the_kiosk_says_power_on_and_off(lapse: Lapse) -> None:
    # The Pi's console (TERM=linux) draws with ASCII brackets, which once read as markup.
    lapse.start_daemon()
    tmux = Tmux(lapse, 40, 15, term="linux")
    try:
        tmux.wait_for(r"POWER \[off\]")
        tmux.keys("c")
        tmux.wait_for(r"POWER \[on \]")
        tmux.keys("c")
        tmux.wait_for(r"POWER \[off\]")
    finally:
        tmux.kill()
