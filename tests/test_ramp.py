"""The exposure ramp: auto exposure's settings over a run, kept bounded and plotted.

The plot's logic (tui/ramp.py) on its own, then the main screen's plot through Pilot:
a run's journal on disk holds its first frames, the daemon's events bring the rest,
and the screen shows both from 80×24 up and nothing on the kiosk's 40×15.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.config import Config
from core.daemon.journal_writer import open_run
from core.journal import Journal
from core.model import protocol
from core.model.camera_policy import setting_stops
from core.model.protocol import Counts
from core.model.records import FrameRecord
from tests.journal_lines import fired, new_run
from tests.statuses import running
from tests.test_screen_main import until
from tests.widget_app import rows
from themes.glyphs import CONSOLE, UNICODE
from tui.app import LapseApp
from tui.ramp import MAX_POINTS, Ramp, plot_rows
from tui.widgets.ramp import ExposureRamp

DUSK = ["1/1000 ISO 100", "1/250 ISO 100", "1/60 ISO 100", "1/15 ISO 100", "1/4 ISO 100"]
NIGHT = ["1 ISO 100", "4 ISO 100", "15 ISO 200", "20 ISO 800"]


def taken(frame: int, setting: str | None) -> FrameRecord:
    """An ok frame taken at ``setting`` (None: without auto exposure)."""
    return FrameRecord(**{**fired(frame).__dict__, "exposure": setting, "brightness": 0.46})


def test_setting_stops_reads_what_the_journal_writes() -> None:
    assert setting_stops("1/125 ISO 400") == -5.0
    assert setting_stops("30 ISO 100") == 5.0
    assert setting_stops("1/125") == -7.0  # a camera that keeps its own ISO: as ISO 100
    for words in ("Bulb ISO 100", "1/125 ISO Auto", "", "0 ISO 100", "1/125 ISO 0", "fast"):
        assert setting_stops(words) is None, words


def test_a_frame_counts_once_and_only_with_a_setting() -> None:
    ramp = Ramp("r")
    assert ramp.add(taken(0, "1/1000 ISO 100"))
    assert not ramp.add(taken(0, "1/1000 ISO 100")), "the event after the journal's line"
    assert not ramp.add(taken(1, None)), "a frame without auto exposure"
    assert not ramp.add(taken(2, "Bulb")), "no setting that lets a known light in"
    assert ramp.add(taken(3, "1/250 ISO 100"))
    assert not ramp.add(taken(2, "1/4 ISO 100")), "older than the latest"
    assert [point.frame for point in ramp.points] == [0, 3]
    assert ramp.least is not None and ramp.least.setting == "1/1000 ISO 100"
    assert ramp.most is not None and ramp.most.setting == "1/250 ISO 100"


def test_a_run_of_many_frames_keeps_a_bounded_ramp() -> None:
    ramp = Ramp("r")
    frames = 200_000
    for frame in range(frames):
        # A slow climb of 20 stops with one darkest and one brightest frame inside.
        shutter = round(1000 / 2 ** (20 * frame / frames)) or 1
        setting = f"1/{shutter} ISO 100" if shutter > 1 else "1 ISO 100"
        if frame == 12_345:
            setting = "1/8000 ISO 100"
        if frame == 154_321:
            setting = "30 ISO 6400"
        ramp.add(taken(frame, setting))
    assert MAX_POINTS // 2 <= len(ramp.points) <= MAX_POINTS
    frames_kept = [point.frame for point in ramp.points]
    steps = {b - a for a, b in itertools.pairwise(frames_kept)}
    assert steps == {ramp.every}, "kept evenly along the run"
    assert ramp.counted == frames
    # The extremes are the run's, though neither frame is kept.
    assert ramp.least is not None and ramp.least.setting == "1/8000 ISO 100"
    assert ramp.most is not None and ramp.most.setting == "30 ISO 6400"
    assert ramp.kept()[-1].frame == frames - 1, "the plot ends at the newest frame"


def test_columns_grow_with_the_run_then_share_it() -> None:
    ramp = Ramp("r")
    for frame, setting in enumerate(DUSK):
        ramp.add(taken(frame, setting))
    assert ramp.columns(10) == [-10.0, -8.0, -6.0, -4.0, -2.0], "one a frame, from the left"
    assert ramp.columns(2) == [-9.0, -4.0], "each the mean of its share"
    assert ramp.columns(0) == []


def test_the_plot_spans_the_least_to_the_most_light() -> None:
    rows_ = plot_rows([0.0, 1.0, 2.0, 3.0], 2, "▁▂▃▄▅▆▇█")
    # 16 levels: 0 → the lowest glyph; 1 → level 5; 2 → a full cell and level 2; 3 → full.
    assert rows_ == ["  ▃█", "▁▆██"]
    assert plot_rows([4.0, 4.0, 4.0], 3, "_-=#") == ["   ", "   ", "___"], "steady: a line"
    assert plot_rows([0.0, 9.0], 3, "_-=#") == [" #", " #", "_#"]


class FrameLink:
    """A daemon with a run going: its status first, then each frame event the test puts."""

    def __init__(self, status: protocol.Status) -> None:
        self.status = status
        self.events_to_send: queue.Queue[protocol.Event | None] = queue.Queue()
        self.closed = threading.Event()

    def connect(self) -> protocol.HelloReply:
        return protocol.HelloReply(pid=1, rig="simulated", simulated=True)

    def events(self) -> Iterator[protocol.Event]:
        yield protocol.StateEvent(self.status)
        while (event := self.events_to_send.get()) is not None:
            yield event
        self.closed.wait()

    def command(self, command: protocol.Command) -> Any:
        if isinstance(command, protocol.Preview):
            raise OSError("no preview in this test")
        raise AssertionError(f"the test sent {command.name}")

    def close(self) -> None:
        self.events_to_send.put(None)
        self.closed.set()


def dusk_run(journal: Journal) -> tuple[FrameLink, str]:
    """A run whose journal holds the dusk's frames, and a daemon that has it going."""
    run_id = new_run(journal)
    with open_run(journal, run_id) as writer:
        for frame, setting in enumerate(DUSK):
            writer.append([taken(frame, setting)])
    status = running(10, Config().run)
    assert status.run is not None
    return FrameLink(replace(status, run=replace(status.run, id=run_id))), run_id


async def test_the_screen_plots_the_journal_then_the_frames_as_they_come(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path)
    link, run_id = dusk_run(journal)
    app = LapseApp(link, Config(), None, journal=journal)
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.screen.query_one(ExposureRamp)
        await until(pilot, lambda: app.ramp is not None and app.ramp.counted == len(DUSK))
        await until(pilot, lambda: "1/4 ISO 100" in "\n".join(rows(plot)))
        shown = rows(plot)
        assert shown[0].lstrip().startswith("1/4 ISO 100"), shown
        assert "EXPOSURE" in shown[1], shown
        assert shown[2].startswith("1/1000 ISO 100"), shown
        assert shown[2].count("▁") == 1, "the darkest frame's bar, alone at the bottom"
        # The night comes as events: the plot climbs, the top label follows.
        for frame, setting in enumerate(NIGHT, start=len(DUSK)):
            record = taken(frame, setting)
            link.events_to_send.put(protocol.FrameEvent(run_id, record, Counts(ok=frame + 1)))
        await until(pilot, lambda: "20 ISO 800" in "\n".join(rows(plot)))
        shown = rows(plot)
        bars = [row[len("1/1000 ISO 100") + 1 :] for row in shown]
        assert [len(row.rstrip()) for row in bars] == [9, 9, 9], "one column a frame"
        assert bars[0].rstrip().endswith("█"), "the newest frame lets in the most light"
        await pilot.resize_terminal(40, 15)
        await pilot.pause()
        assert not plot.display, "the kiosk's screen has no rows for the plot"


def test_the_console_draws_the_plot_in_ascii() -> None:
    assert CONSOLE.ramp_bars.isascii()
    assert UNICODE.ramp_bars[-1] == "█"


class HeldJournal(Journal):
    """A journal whose frames are read only once the test lets the read go on: a long
    run's file, still being read when the next frames come."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.go_on = threading.Event()

    def frames(self, run_id: str) -> Iterator[FrameRecord]:
        assert self.go_on.wait(timeout=20)
        yield from super().frames(run_id)


async def test_frames_that_come_while_the_journal_is_read_are_kept(tmp_path: Path) -> None:
    journal = HeldJournal(tmp_path)
    link, run_id = dusk_run(journal)
    app = LapseApp(link, Config(), None, journal=journal)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ramp is not None)
        for frame, setting in enumerate(NIGHT, start=len(DUSK)):
            record = taken(frame, setting)
            link.events_to_send.put(protocol.FrameEvent(run_id, record, Counts(ok=frame + 1)))
        await until(pilot, lambda: app.ramp is not None and app.ramp.counted == len(NIGHT))
        journal.go_on.set()
        await until(pilot, lambda: app.ramp is not None and app.ramp.counted > len(NIGHT))
        assert app.ramp is not None
        assert [point.setting for point in app.ramp.kept()] == DUSK + NIGHT
