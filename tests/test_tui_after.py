"""The screen after a run, through Textual's Pilot on a real daemon with the virtual
camera: the last frame's picture and histogram, the after-run work's line, and the log
screen's products and its key for a video."""

from __future__ import annotations

import contextlib
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.conftest import REPO, Lapse
from tests.test_tui_pilot import main_screen, make_app, wait_until
from tui.widgets.last_frame import (
    Histogram,
    LastFrame,
    graphics_for,
    histogram_columns,
    load_preview,
)


def finished_usb_run(lapse: Lapse) -> str:
    lapse.config.write_text('[camera]\ntrigger = "usb"\n[after]\nvideo = true\n')
    lapse.start_daemon()
    result = lapse.cli("run", "--interval", "500ms", "--frames", "3", "--wait", timeout=90)
    assert result.returncode == 0, result.stderr
    run = lapse.journal.latest_run()
    assert run is not None
    return run.id


async def test_the_last_frame_its_histogram_and_the_work_after_the_run(lapse: Lapse) -> None:
    run_id = finished_usb_run(lapse)
    run = lapse.journal.get_run(run_id)
    newest = [r for r in lapse.journal.read_frames(run_id) if r.file][-1]
    app = make_app(lapse)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        last_frame = screen.query_one(LastFrame)
        await wait_until(pilot, lambda: last_frame.shown is not None, what="the last frame drawn")
        assert last_frame.shown == run.photos_path / newest.file
        await wait_until(pilot, lambda: last_frame.region.height > 0, what="laid out")
        # The picture takes the rows left: the message line stays in view above the keys.
        message = screen.query_one("#message", Static).region
        assert message.height == 1 and message.bottom <= screen.query_one("KeyFooter").region.y
        histogram = screen.query_one(Histogram)
        assert sum(histogram.levels) > 0 and newest.file in histogram.label
        after = screen.query_one("#after", Static)
        await wait_until(
            pilot, lambda: f"made {run_id}.mp4" in str(after.render()), what="the video made"
        )
        # The log lists the run's products; C asks the daemon for its video again.
        await pilot.press("0", "d")
        folder = app.screen.query_one("#log-folder", Static)
        await wait_until(
            pilot, lambda: f"made {run_id}.mp4" in str(folder.render()), what="the products"
        )
        await pilot.press("c")
        title = app.screen.query_one("#log-title", Static)
        await wait_until(
            pilot, lambda: f"after run {run_id}" in str(title.render()), what="the video asked"
        )
    # The kiosk's 40×15 has no room for a picture.
    async with make_app(lapse).run_test(size=(40, 15)) as pilot:
        await pilot.pause()
        assert not main_screen(pilot.app).query_one(LastFrame).display


def test_a_preview_is_small_and_its_histogram_counts_every_pixel(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "frame.jpg"
    Image.new("RGB", (4000, 3000), (40, 40, 40)).save(path)
    preview = load_preview(path)
    assert preview.picture.width <= 320 and preview.picture.height <= 240
    assert sum(preview.levels) == preview.picture.width * preview.picture.height
    columns = histogram_columns(preview.levels, 8)
    assert sum(columns) == sum(preview.levels) and columns[1] == max(columns)  # dark grey


@pytest.mark.parametrize(
    ("environ", "graphics"),
    [
        ({"TERM": "xterm-kitty"}, "kitty"),
        ({"TERM": "xterm-256color", "KITTY_WINDOW_ID": "1"}, "kitty"),
        ({"TERM": "foot"}, "sixel"),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"}, "sixel"),
        ({"TERM": "tmux-256color"}, "halfcell"),
        ({"TERM": "linux"}, "halfcell"),
        ({"TERM": "tmux-256color", "LAPSE_GRAPHICS": "Sixel"}, "sixel"),
        ({"TERM": "xterm-kitty", "LAPSE_GRAPHICS": "halfcell"}, "halfcell"),
    ],
)
def test_the_graphics_come_from_what_the_terminal_says_of_itself(
    environ: dict[str, str], graphics: str
) -> None:
    assert graphics_for(environ) == graphics


def test_opening_the_screen_asks_the_terminal_nothing() -> None:
    """A question's late answer would arrive as keys (``1;2c``: VALUE 1, then POWER)."""
    primary, secondary = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", "import tui.widgets.last_frame, tui.app"],
        stdin=secondary,
        stdout=secondary,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    os.close(secondary)
    assert child.wait(60) == 0, child.stderr.read() if child.stderr else ""
    written = b""
    with contextlib.suppress(OSError):  # EIO once the child has gone
        while chunk := os.read(primary, 4096):
            written += chunk
    os.close(primary)
    assert b"\x1b[" not in written, written
