"""Snapshots of the main screen, idle and running, at 40×15 and 80×24, in every theme.

The pictures must be the same on every run, so time is fixed and the daemon's
status is a recorded one, replayed by a link that never changes it. The real
daemon is exercised by test_tui_pilot.py and test_tui_tmux.py.

A picture can be approved with the wrong words in it, so each screen's words
are read back from the rendered SVG and checked too: the state, the frame
counter, the switches, the power toggle, the simulated-hardware banner, and
that no line or key name is cut off. What is wrong on a screen today is
marked ``xfail(strict=True)`` on that screen alone, saying what is wrong, so
the mark must go when it is fixed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from rich.cells import cell_len
from textual.pilot import Pilot

from core.config import Config
from core.journal import FrameRecord
from core.model import protocol
from core.model.battery import BatteryModel, battery_status
from core.model.durations import NS_PER_S, PRESET_VALUES
from core.model.plan import make_plan
from core.model.planner import assess_run
from core.model.run_state import RunState
from core.model.settings import Settings
from themes import THEMES
from themes.glyphs import Glyphs
from tui.app import LapseApp
from tui.screens.main import UNIT_LABELS

NOW = 5_000 * NS_PER_S
HELLO = protocol.HelloReply(pid=1, rig="simulated", simulated=True)
IDLE = protocol.Status(state=RunState.IDLE, now_ns=NOW, rig="simulated", simulated=True, outputs={})
# A 10 s powered run, 1.2 s before frame 7's shutter: power and focus are on.
ANCHOR = NOW - 7 * 10 * NS_PER_S + 1_200_000_000
RUN_SETTINGS = Settings.from_dict(
    {
        "interval": "10s",
        "power": True,
        "frames": 240,
        "delay": "0s",
        "exposure": "pulse",
        "focus_lead": "4s",
        "clock_ppm": 0.0,
    }
)
RUN_PLAN = make_plan(RUN_SETTINGS)
RUNNING = protocol.Status(
    state=RunState.RUNNING,
    now_ns=NOW,
    rig="simulated",
    simulated=True,
    outputs={},
    run=protocol.RunStatus(
        id="20261121-081500",
        settings=RUN_SETTINGS,
        folder="/var/lib/lapse/runs/20261121-081500",
        photos="/var/lib/lapse/runs/20261121-081500",
        anchor_ns=ANCHOR,
        counts=protocol.Counts(ok=6, missed=1),
        last_frame=FrameRecord(
            frame=6,
            due_ns=ANCHOR + 60 * NS_PER_S,
            fired_ns=ANCHOR + 60 * NS_PER_S + 4_000,
            wall="2026-11-21T08:16:04.000004+00:00",
            status="ok",
        ),
        next_frame=7,
        next_due_ns=ANCHOR + 70 * NS_PER_S,
    ),
    # No battery monitor: the daemon's model, drained since the run's first power-on.
    battery=battery_status(
        BatteryModel().estimate(
            RUN_PLAN, running_ns=NOW - (ANCHOR - RUN_PLAN.lead_ns), frames_left=None
        ),
        at_ns=NOW,
        draining=True,
    ),
)


def preview(settings: Settings) -> protocol.RunPreview:
    """The daemon's answer to ``Preview(settings)`` with no battery monitor: its model."""
    estimate = BatteryModel().estimate(make_plan(settings), running_ns=0, frames_left=None)
    battery = battery_status(estimate, at_ns=NOW, draining=False)
    return protocol.RunPreview(battery=battery, outlook=assess_run(settings, battery=battery))


class ReplayLink:
    """A daemon that answers once with a recorded status and then says nothing; asked
    about a run of the switches' settings, it answers as a daemon's model would."""

    def __init__(self, status: protocol.Status) -> None:
        self.status = status

    def connect(self) -> protocol.HelloReply:
        return HELLO

    def events(self) -> Iterator[protocol.Event]:
        yield protocol.StateEvent(self.status)
        run = self.status.run
        if run is not None and self.status.state.live:
            yield protocol.PlanEvent(run=run.id, plan=make_plan(run.settings))

    def command(self, command: protocol.Command) -> Any:
        if isinstance(command, protocol.Preview):
            return preview(command.settings)
        raise AssertionError(f"a snapshot sent {command.name}")

    def close(self) -> None:
        pass


def make_app(status: protocol.Status, theme: str) -> LapseApp:
    config = Config()
    app = LapseApp(ReplayLink(status), config, None, clock=lambda: NOW, theme_name=theme)
    return app


STATUSES = {"idle": IDLE, "running": RUNNING}
SIZES = {"40x15": (40, 15), "80x24": (80, 24)}
BANNER = "SIMULATED HARDWARE: no camera fires"


@dataclass(frozen=True)
class Rendered:
    """One screen as the snapshot shows it: its rows of text, and what they were drawn with."""

    rows: list[str]
    glyphs: Glyphs
    footer_keys: list[str]
    """``"d Start"`` for each key the footer is asked to show, in its order."""

    def row(self, pattern: str) -> str:
        """The first row that ``pattern`` matches from its start (whitespace stripped)."""
        for row in self.rows:
            if re.match(pattern, row.strip()):
                return row.strip()
        raise AssertionError(f"no row matches {pattern!r}:\n" + "\n".join(self.rows))

    def switches(self) -> tuple[list[str], list[str]]:
        """The positions the VALUE and UNIT switches show: those drawn between switch glyphs."""
        row = self.row(r".*30.*days")  # the row of both switches' positions
        left, right = re.escape(self.glyphs.switch_left), re.escape(self.glyphs.switch_right)

        def chosen(labels: list[str]) -> list[str]:
            return [label for label in labels if re.search(rf"{left}{label}{right}", row)]

        return chosen(VALUES), chosen(UNITS)


VALUES = [str(value) for value in PRESET_VALUES]
UNITS = list(UNIT_LABELS)


_TEXT = re.compile(
    r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="([\d.]+)"'
    r' clip-path="url\(#[\w-]*line-(\d+)\)">([^<]*)</text>'
)


def svg_rows(svg: str, width: int, height: int) -> list[str]:
    """The text of an SVG screenshot, one string a terminal row, blanks where nothing is drawn."""
    grid = [[" "] * width for _ in range(height)]
    for x, length, line, escaped in _TEXT.findall(svg):
        # Each row ends in a newline of its own, drawn past the last column.
        text = html.unescape(escaped).replace("\xa0", " ").rstrip("\n")
        if not text:
            continue
        cell = float(length) / cell_len(text)
        column = round(float(x) / cell)
        for offset, char in enumerate(text):
            grid[int(line)][column + offset] = char
    return ["".join(row) for row in grid]


async def settle(pilot: Pilot[None], status: protocol.Status) -> Rendered:
    """Wait until the screen shows ``status`` and, idle, the daemon's word on the switches'
    settings (the link's thread delivers both); read it back."""
    app = pilot.app
    assert isinstance(app, LapseApp)
    for _ in range(100):
        if app.status == status and (
            app.plan is not None if status.state.live else app.preview is not None
        ):
            break
        await pilot.pause(0.02)
    await pilot.pause()
    shown = {}
    for _node, binding, _enabled, _tooltip in app.screen.active_bindings.values():
        if binding.show:
            shown.setdefault(
                binding.action, f"{app.get_key_display(binding)} {binding.description}"
            )
    width, height = app.size
    return Rendered(
        svg_rows(app.export_screenshot(), width, height), app.glyphs, list(shown.values())
    )


_RENDERED: dict[tuple[str, str, str], Rendered] = {}
"""Each screen as its snapshot test read it, for the checks below (read anew if not yet)."""


async def rendered(state: str, size: str, theme: str) -> Rendered:
    """The screen ``state`` at ``size`` in ``theme``, as the snapshot test renders it."""
    key = (state, size, theme)
    if key not in _RENDERED:
        app = make_app(STATUSES[state], theme)
        async with app.run_test(size=SIZES[size]) as pilot:
            _RENDERED[key] = await settle(pilot, STATUSES[state])
    return _RENDERED[key]


@pytest.mark.parametrize("theme", list(THEMES))
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("state", list(STATUSES))
def test_main_screen(snap_compare, state: str, size: str, theme: str) -> None:
    status = STATUSES[state]

    async def read_back(pilot: Pilot[None]) -> None:
        _RENDERED[state, size, theme] = await settle(pilot, status)

    assert snap_compare(make_app(status, theme), terminal_size=SIZES[size], run_before=read_back)
    screen = _RENDERED[state, size, theme]
    assert screen.rows[0].strip() == BANNER
    # The state word closes the POWER row; the counter opens the row under it.
    assert screen.row("POWER").endswith(f" {state}")
    counter = "no run" if state == "idle" else "frame 7 of 240 · next in 1.2s"
    assert screen.row(r"no run|frame ").startswith(counter)
    # Each switch shows one position, whichever it is (test_the_switches_… says which).
    values, units = screen.switches()
    assert len(values) == 1 and len(units) == 1, (values, units)


Known = Callable[[str, str, str], str | bool]
"""Given a screen (state, size, theme): why a check fails on it today, or False."""


def on_screens(
    *, states: tuple[str, ...] = tuple(STATUSES), xfail: Known | None = None
) -> pytest.MarkDecorator:
    """Run a check on every screen of ``states``, each a parameter (``state``, ``size``,
    ``theme``); ``xfail`` says why it fails on a screen today, marking that screen alone."""
    params = []
    for state in states:
        for size in SIZES:
            for theme in THEMES:
                reason = xfail(state, size, theme) if xfail else False
                # Only the check's own assertion counts as the known failure, not a crash.
                marks = (
                    [pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)]
                    if isinstance(reason, str)
                    else []
                )
                params.append(pytest.param(state, size, theme, marks=marks))
    return pytest.mark.parametrize(("state", "size", "theme"), params)


@on_screens()
async def test_the_switches_show_the_interval(state: str, size: str, theme: str) -> None:
    """Idle: the config's 1 min, the next run's. Running: the run's own 10 s."""
    screen = await rendered(state, size, theme)
    expected = (["1"], ["min"]) if state == "idle" else (["10"], ["s"])
    assert screen.switches() == expected


@on_screens()
async def test_power_says_on_or_off(state: str, size: str, theme: str) -> None:
    """Idle: the config's off. Running: the run's on (it has camera power)."""
    screen = await rendered(state, size, theme)
    left, right = screen.glyphs.switch_left, screen.glyphs.switch_right
    word = "off" if state == "idle" else "on"
    assert screen.row("POWER").startswith(f"POWER {left}{word:^3}{right}")


@on_screens(states=("running",))
async def test_the_run_lines_are_whole(state: str, size: str, theme: str) -> None:
    """Every figure of the run is whole, how late the last frame was (4 µs) included: at
    40 columns it moves up to the first line."""
    screen = await rendered(state, size, theme)
    if size == "40x15":
        assert screen.row("frame ") == "frame 7 of 240 · next in 1.2s · late 4us"
        assert screen.row("elapsed ") == "elapsed 1min11s · left 38min41s"
    else:
        assert screen.row("elapsed ") == "elapsed 1min11s · left 38min41s · late 4us"


@on_screens()
async def test_the_footer_shows_every_key_it_lists_whole(state: str, size: str, theme: str) -> None:
    """Every key the footer lists is on its line with its whole name, at 40 columns too;
    D says what it does now."""
    screen = await rendered(state, size, theme)
    footer = f" {screen.rows[-1].strip()} "
    start_stop = "d Start" if state == "idle" else "d Stop"
    assert screen.footer_keys == [start_stop, "* Settings", "0 Log", "# Help", "q Quit"]
    for label in screen.footer_keys:
        assert f" {label} " in footer, (label, footer)
