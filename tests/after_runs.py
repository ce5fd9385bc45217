"""Runs with real frame files, for the after-the-run tests: a journal written by the
daemon's own writer, and JPEGs made by Pillow with known content."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.daemon.journal_writer import create_run, open_run
from core.journal import Journal, RunInfo
from core.model.durations import NS_PER_S, wall_iso
from core.model.records import FrameRecord
from core.model.settings import Settings

WALL_NS = 1_750_000_000 * NS_PER_S
INTERVAL_NS = 10 * NS_PER_S


def picture(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> None:
    """A JPEG of one colour, with a white dot at a place that moves with the colour (so
    star trails have something to stack) and a column of its own at the centre."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    x = (colour[0] * 7) % (size[0] - 4)
    draw.rectangle((x, 4, x + 3, 7), fill=(255, 255, 255))
    image.save(path, quality=95)


def record(
    k: int,
    status: str = "ok",
    file: str | None = None,
    brightness: float | None = None,
    last: int | None = None,
) -> FrameRecord:
    due = 5 * NS_PER_S + k * INTERVAL_NS
    return FrameRecord(
        frame=k,
        due_ns=due,
        fired_ns=None if status in ("missed", "skipped", "unknown") else due + 1_000,
        wall=wall_iso(WALL_NS + k * INTERVAL_NS),
        status=status,
        file=file,
        error={"missed": "daemon was not running", "error": "camera busy"}.get(status),
        last=last,
        brightness=brightness,
    )


def make_run(
    state_dir: Path, records: Sequence[FrameRecord], *, end: bool = True, frames: int | None = None
) -> RunInfo:
    """A run in ``state_dir`` whose journal holds ``records``; ended unless ``end`` is
    False. Its settings ask for ``frames`` (0: until stopped; default: the records')."""
    journal = Journal(state_dir)
    writer = create_run(
        journal,
        settings=Settings(
            interval_ns=INTERVAL_NS,
            power=False,
            frames=(len(records) or 1) if frames is None else frames,
        ),
        anchor_ns=5 * NS_PER_S,
        anchor_wall_ns=WALL_NS,
        boot_id="boot-1",
        created_wall_ns=WALL_NS,
        rig="simulated",
    )
    with writer:
        writer.append(records)
        if end:
            writer.finish("finished", "all frames taken", WALL_NS + len(records) * INTERVAL_NS)
        return journal.get_run(writer.info.id)


def coloured_run(state_dir: Path, colours: Sequence[tuple[int, int, int] | None]) -> RunInfo:
    """A run of one frame per colour, each a file in the run folder; None is a missed
    slot."""
    records = []
    journal = Journal(state_dir)
    info = make_run(state_dir, [], end=False)
    for k, colour in enumerate(colours):
        if colour is None:
            records.append(record(k, "missed"))
            continue
        name = f"frame-{k:06d}.jpg"
        picture(info.photos_path / name, colour)
        records.append(record(k, "ok", name))
    with open_run(journal, info.id) as writer:
        writer.append(records)
        writer.finish("finished", "all frames taken", WALL_NS + len(colours) * INTERVAL_NS)
    return journal.get_run(info.id)
