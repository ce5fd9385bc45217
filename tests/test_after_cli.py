"""``lapse render``, ``keogram`` and ``startrails`` from the command line: what they make
and say, and bad input in one line."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from tests.after_runs import coloured_run
from tests.conftest import Lapse
from tui.after_cli import progress_line

pytestmark = pytest.mark.usefixtures("utc")


def state_dir(lapse: Lapse) -> Path:
    return Path(lapse.env["LAPSE_STATE_DIR"])


def test_render_keogram_and_startrails_of_the_latest_run(lapse: Lapse) -> None:
    info = coloured_run(state_dir(lapse), [(200, 30, 30), None, (30, 200, 30), (30, 30, 200)])
    made = lapse.cli("render", "--size", "64x48", "--fps", "10")
    assert made.returncode == 0, made.stderr
    video = info.path / f"{info.id}.mp4"
    assert made.stdout.startswith(f"{video}: 4 frames, 1 held, 64×48 at 10 fps, libx264")
    with av.open(str(video)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 4
    for command, name in (("keogram", "-keogram.png"), ("startrails", "-startrails.jpg")):
        done = lapse.cli(command, info.id)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{info.path / (info.id + name)}: 3 frames")
    # No progress bar when the output is not a terminal.
    assert made.stderr == ""
    # The log names what was made of the run.
    logged = lapse.cli("log", info.id).stdout
    assert f"made: {info.id}-keogram.png, {info.id}-startrails.jpg, {info.id}.mp4" in logged


@pytest.mark.parametrize(
    ("arguments", "says", "status"),
    [
        (["render", "20990101-000000"], "no run named '20990101-000000'", 1),
        (["render", "--fps", "0"], "'0' frames a second: use a whole number, 1–240", 2),
        (["render", "--size", "big"], "size 'big' is not 720p, 1080p, 4k or WIDTHxHEIGHT", 2),
        (["render", "--codec", "mpeg2"], "invalid choice: 'mpeg2'", 2),
        (["render", "-o", "/tmp/x.gif"], "x.gif: a video is written as .mp4, .mkv, .mov", 1),
        (["keogram", "--from", "x"], "'x' is not a frame number", 2),
        (["startrails", "--brighter-than", "2"], "'2': a brightness from 0 (black) to 1", 2),
        (["render", "-o", "/nonexistent/x.mp4"], "/nonexistent is not a folder", 1),
        (["keogram", "-o", "/nonexistent/x.png"], "/nonexistent is not a folder", 1),
        # A folder that cannot take a file: refused before, or failing at, the write.
        (["render", "-o", "/proc/x.mp4"], "/proc/x.mp4", 1),
        (["startrails", "-o", "/proc/x.jpg"], "/proc/x.jpg", 1),
    ],
)
def test_bad_input_is_one_line_and_makes_nothing(
    lapse: Lapse, arguments: list[str], says: str, status: int
) -> None:
    info = coloured_run(state_dir(lapse), [(10, 10, 10)])
    result = lapse.cli(*arguments)
    assert result.returncode == status, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    made = [p.name for p in info.path.iterdir() if p.name.startswith((info.id, "."))]
    assert made == [] and not Path("/tmp/x.gif").exists()


def test_a_run_with_nothing_downloaded_says_so(lapse: Lapse) -> None:
    coloured_run(state_dir(lapse), [None, None])
    result = lapse.cli("render")
    assert result.returncode == 1
    assert result.stderr.strip() == "lapse: the run has no downloaded frames to render"


def test_the_progress_line_says_frames_rate_and_time_left() -> None:
    line = progress_line("render", 120, 500, 10.0)
    assert line == "render  [######..................]  120/500 frames  12.0 fps  0:31 left"
