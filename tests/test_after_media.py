"""After the run with real files (core/after/): frames made by Pillow, rendered by PyAV,
and the video decoded again by PyAV; keogram and star trails checked pixel by pixel."""

from __future__ import annotations

import random
from pathlib import Path

import av
import numpy
import pytest
from PIL import Image

from core.after.stacks import keogram, star_trails
from core.after.video import render_video
from core.brightness import jpeg_brightness
from core.daemon.journal_writer import open_run
from core.journal import Journal
from core.model.after import AfterError, shown_frames
from tests.after_runs import coloured_run, make_run, record

SIZE = (64, 48)


def decoded(path: Path) -> tuple[list[numpy.ndarray], av.video.stream.VideoStream]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return frames, stream


def frames_of(state_dir: Path, run_id: str, **options: object):
    journal = Journal(state_dir)
    return lambda: shown_frames(journal.frames(run_id), **options)  # type: ignore[arg-type]


def colours(count: int) -> list[tuple[int, int, int]]:
    return [(20 + 20 * k % 220, 200 - 15 * k % 180, 40 + 9 * k % 200) for k in range(count)]


def test_a_video_has_the_frames_size_rate_and_codec_asked_and_holds_missed_ones(
    tmp_path: Path,
) -> None:
    palette = colours(8)
    plan = [palette[0], palette[1], None, None, palette[4], palette[5], None, palette[7]]
    info = coloured_run(tmp_path, plan)
    out = tmp_path / "run.mp4"
    report = render_video(
        info.photos_path, frames_of(tmp_path, info.id), out, fps=12, size=SIZE, codec="h264"
    )
    frames, stream = decoded(out)
    assert (report.frames, report.held) == (8, 3)
    assert len(frames) == 8
    assert (stream.codec_context.width, stream.codec_context.height) == SIZE
    assert stream.average_rate == 12
    assert stream.codec_context.name == "h264"
    means = [frame.reshape(-1, 3).mean(axis=0) for frame in frames]
    # Which picture each video frame shows: slots 2 and 3 hold 1's, slot 6 holds 5's.
    for index, picture in enumerate([0, 1, 1, 1, 4, 5, 5, 7]):
        assert numpy.abs(means[index] - palette[picture]).max() < 12, (index, means[index])


def test_skip_missing_drops_the_missed_frames(tmp_path: Path) -> None:
    palette = colours(4)
    info = coloured_run(tmp_path, [palette[0], None, palette[2], palette[3]])
    out = tmp_path / "run.mkv"
    report = render_video(
        info.photos_path,
        frames_of(tmp_path, info.id, skip_missing=True),
        out,
        size=SIZE,
    )
    assert report.frames == 3
    assert len(decoded(out)[0]) == 3


def test_ctrl_c_leaves_no_half_written_file_under_the_final_name(tmp_path: Path) -> None:
    info = coloured_run(tmp_path, colours(60))
    out = tmp_path / "run.mp4"
    half_written: list[str] = []

    def hidden() -> list[str]:
        return [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]

    def interrupt(done: int, total: int) -> None:
        # The encoder holds its first frames back a while: wait until the file is begun.
        if hidden() and done >= 30:
            half_written.extend(hidden())
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_video(
            info.photos_path, frames_of(tmp_path, info.id), out, size=SIZE, progress=interrupt
        )
    assert half_written, "interrupted before anything was written: nothing was tested"
    assert not out.exists()
    assert hidden() == []


def test_a_run_with_no_pictures_or_a_bad_name_is_one_clear_error(tmp_path: Path) -> None:
    info = make_run(tmp_path, [record(0, "missed"), record(1, "missed")])
    with pytest.raises(AfterError, match="no downloaded frames"):
        render_video(info.photos_path, frames_of(tmp_path, info.id), tmp_path / "a.mp4")
    with pytest.raises(AfterError, match=r"written as \.mp4"):
        render_video(info.photos_path, frames_of(tmp_path, info.id), tmp_path / "a.gif")


def test_an_unreadable_file_holds_the_previous_picture(tmp_path: Path) -> None:
    palette = colours(3)
    info = coloured_run(tmp_path, palette)
    (info.photos_path / "frame-000001.jpg").write_bytes(b"not a picture")
    report = render_video(
        info.photos_path, frames_of(tmp_path, info.id), tmp_path / "a.mp4", size=SIZE
    )
    assert report.unreadable == ("frame-000001.jpg",)
    assert (report.frames, report.held) == (3, 1)


def test_the_keograms_columns_are_the_frames_centre_columns(tmp_path: Path) -> None:
    palette = colours(6)
    info = coloured_run(tmp_path, [*palette[:3], None, *palette[3:]])
    out = tmp_path / "keogram.png"
    report = keogram(info.photos_path, frames_of(tmp_path, info.id)(), out)
    assert report.frames == 6  # the missed slot is not a column
    image = numpy.asarray(Image.open(out))
    assert image.shape == (SIZE[1], 6, 3)
    names = sorted(info.photos_path.glob("frame-*.jpg"))
    for column, name in enumerate(names):
        picture = numpy.asarray(Image.open(name).convert("RGB"))
        assert (image[:, column] == picture[:, SIZE[0] // 2]).all()


def test_star_trails_are_the_per_pixel_maximum(tmp_path: Path) -> None:
    palette = colours(5)
    info = coloured_run(tmp_path, palette)
    out = tmp_path / "trails.png"
    report = star_trails(info.photos_path, frames_of(tmp_path, info.id)(), out)
    assert report.frames == 5
    pictures = [
        numpy.asarray(Image.open(p).convert("RGB"))
        for p in sorted(info.photos_path.glob("frame-*.jpg"))
    ]
    assert (numpy.asarray(Image.open(out)) == numpy.maximum.reduce(pictures)).all()


def test_star_trails_leave_out_frames_brighter_than_the_threshold(tmp_path: Path) -> None:
    info = coloured_run(tmp_path, [(10, 10, 10), (250, 250, 250), (20, 20, 20)])
    out = tmp_path / "trails.jpg"
    report = star_trails(info.photos_path, frames_of(tmp_path, info.id)(), out, brighter_than=0.5)
    assert (report.frames, report.left_out) == (2, 1)
    assert numpy.asarray(Image.open(out)).mean() < 60


def flicker_variation(frames: list[numpy.ndarray]) -> float:
    """The mean change of a frame's mean brightness from the frame before."""
    means = numpy.array([frame.mean() for frame in frames])
    return float(numpy.abs(numpy.diff(means)).mean())


def test_deflicker_cuts_a_third_of_a_stop_of_random_flicker_at_least_fourfold(
    tmp_path: Path,
) -> None:
    """A steady grey scene shot with ±1/3 EV of random flicker, its brightness journaled
    as the camera thread measures it."""
    chance = random.Random(13)
    info = make_run(tmp_path, [], end=False)
    records = []
    texture = numpy.random.default_rng(13).integers(60, 110, (SIZE[1], SIZE[0], 1))
    for k in range(60):
        gain = 2 ** chance.uniform(-1 / 3, 1 / 3)
        name = f"frame-{k:06d}.jpg"
        pixels = numpy.clip(texture * gain, 0, 255).astype(numpy.uint8).repeat(3, axis=2)
        Image.fromarray(pixels, "RGB").save(info.photos_path / name, quality=95)
        brightness = jpeg_brightness(info.photos_path / name)
        records.append(record(k, "ok", name, brightness=brightness))
    with open_run(Journal(tmp_path), info.id) as writer:
        writer.append(records)
    plain, evened = tmp_path / "plain.mp4", tmp_path / "evened.mp4"
    for out, deflicker in ((plain, False), (evened, True)):
        render_video(
            info.photos_path, frames_of(tmp_path, info.id), out, size=SIZE, deflicker=deflicker
        )
    before = flicker_variation(decoded(plain)[0])
    after = flicker_variation(decoded(evened)[0])
    assert before > 4 * after, (before, after)
