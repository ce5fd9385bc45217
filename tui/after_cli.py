"""``lapse render``, ``lapse keogram`` and ``lapse startrails``: a run's video and images,
made in this process with a progress bar; and ``lapse after``, the same work as the
daemon starts it when a run ends (low priority, progress as JSON lines).

The work itself is ``core/after/``'s; this module reads the arguments, finds the run and
its frames, and says how it went.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from core.after.outputs import output_path
from core.journal import Journal, RunInfo
from core.model.after import CODECS, PRODUCTS, AfterError, Shown, shown_frames, video_size
from core.model.durations import NS_PER_S, format_duration

BAR_WIDTH = 24


def add_commands(commands: Any) -> None:
    """Add render, keogram, startrails and after to ``lapse``'s subcommands."""

    def with_run(name: str, text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=text)
        command.add_argument("run", nargs="?", default="latest", help="a run id, or 'latest'")
        command.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to write")
        command.add_argument(
            "--from",
            dest="first",
            type=_slot_arg,
            metavar="N",
            help="from this frame (as `lapse log` numbers them)",
        )
        command.add_argument(
            "--to", dest="last", type=_slot_arg, metavar="M", help="up to this frame, included"
        )
        return command

    render = with_run("render", "make a run's time-lapse video")
    render.add_argument("--fps", type=_fps_arg, default=25, help="frames a second (25)")
    render.add_argument(
        "--size",
        type=_size_arg,
        default=(1920, 1080),
        help="1080p (default), 4k, 720p or WIDTHxHEIGHT",
    )
    render.add_argument("--codec", choices=CODECS, default="h264", help="h264 (default)")
    render.add_argument(
        "--deflicker", action="store_true", help="even out the brightness from frame to frame"
    )
    render.add_argument(
        "--skip-missing",
        action="store_true",
        help="drop missed frames instead of holding the previous one",
    )
    with_run("keogram", "make a run's keogram: every frame's centre column, side by side")
    trails = with_run("startrails", "make a run's star trails: each pixel's brightest value")
    trails.add_argument(
        "--brighter-than",
        type=_fraction_arg,
        metavar="B",
        help="leave out frames brighter than B (0–1, e.g. 0.3)",
    )
    after = commands.add_parser("after", help=argparse.SUPPRESS)
    after.add_argument("run")
    after.add_argument("--make", required=True, help="video,keogram,startrails")
    after.add_argument("--from", dest="first", type=_slot_arg)
    after.add_argument("--to", dest="last", type=_slot_arg)
    after.add_argument("--tag", default="", help="added to the files' names")


def _slot_arg(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame number (0, 1, 2…)")
    return int(text)


def _fps_arg(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 240:
        raise argparse.ArgumentTypeError(f"{text!r} frames a second: use a whole number, 1–240")
    return int(text)


def _size_arg(text: str) -> tuple[int, int]:
    try:
        return video_size(text)
    except AfterError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _fraction_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a brightness from 0 (black) to 1 (white)")
    return value


@dataclass(frozen=True, slots=True)
class Frames:
    """A run's frames as the work wants them: called anew for each pass over them."""

    journal: Journal
    info: RunInfo
    skip_missing: bool = False
    first: int | None = None
    last: int | None = None

    def __call__(self) -> Iterator[Shown]:
        return shown_frames(
            self.journal.frames(self.info.id),
            skip_missing=self.skip_missing,
            first=self.first,
            last=self.last,
        )


def run_command(args: argparse.Namespace, state_dir: Path) -> int:
    """``lapse render``, ``keogram`` and ``startrails``; returns the exit status."""
    journal = Journal(state_dir)
    info = journal.named_run(args.run)
    frames = Frames(journal, info, getattr(args, "skip_missing", False), args.first, args.last)
    out = args.output or output_path(info, _PRODUCT[args.command])
    bar = ProgressBar(sys.stderr, args.command)
    started = time.monotonic()
    try:
        if args.command == "render":
            from core.after.video import render_video

            report = render_video(
                info.photos_path,
                frames,
                out,
                fps=args.fps,
                size=args.size,
                codec=args.codec,
                deflicker=args.deflicker,
                progress=bar,
            )
            bar.done()  # the summary goes below the bar
            held = f", {report.held} held" if report.held else ""
            print(
                f"{out}: {report.frames} frames{held}, {report.size[0]}×{report.size[1]}"
                f" at {report.fps} fps, {report.encoder}, in {_took(started)}"
            )
            for name in report.unreadable:
                print(f"  {name} could not be read: the frame before it was held")
            return 0
        report_stack = _stack(
            args.command, info, frames, out, bar, getattr(args, "brighter_than", None)
        )
        bar.done()
        left = f", {report_stack.left_out} left out" if report_stack.left_out else ""
        print(
            f"{out}: {report_stack.frames} frames{left},"
            f" {report_stack.size[0]}×{report_stack.size[1]}, in {_took(started)}"
        )
        return 0
    finally:
        bar.done()


_PRODUCT = {"render": "video", "keogram": "keogram", "startrails": "startrails"}


def _stack(
    command: str,  # "keogram" or "startrails": the command's name and the product's
    info: RunInfo,
    frames: Frames,
    out: Path,
    progress: Callable[[int, int], None],
    brighter_than: float | None,
) -> Any:
    from core.after.stacks import keogram, star_trails

    total = sum(1 for shown in frames() if not shown.held)
    if command == "keogram":
        return keogram(info.photos_path, frames(), out, total=total, progress=progress)
    return star_trails(
        info.photos_path, frames(), out, brighter_than=brighter_than, total=total, progress=progress
    )


def _took(started: float) -> str:
    return format_duration(max(1, round(time.monotonic() - started)) * NS_PER_S)


class ProgressBar:
    """``render  [######....]  120/500 frames  23.4 fps  0:16 left`` on a terminal, redrawn
    at most ten times a second; nothing when the output is not a terminal."""

    def __init__(self, stream: TextIO, label: str, clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.label = label
        self.clock = clock
        self.started = clock()
        self.drawn_at = -1.0
        self.shown = False
        self.live = stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if not self.live or (now - self.drawn_at < 0.1 and done != total):
            return
        self.drawn_at = now
        self.stream.write("\r" + progress_line(self.label, done, total, now - self.started))
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def progress_line(label: str, done: int, total: int, elapsed_s: float) -> str:
    """One line of progress: the bar, the count, frames a second and the time left."""
    share = done / total if total else 0.0
    filled = round(share * BAR_WIDTH)
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    left = (total - done) / rate if rate > 0 else None
    left_text = "" if left is None else f"  {int(left) // 60}:{int(left) % 60:02d} left"
    return (
        f"{label}  [{'#' * filled}{'.' * (BAR_WIDTH - filled)}]  {done}/{total} frames"
        f"  {rate:.1f} fps{left_text}"
    )


def after_command(args: argparse.Namespace, state_dir: Path, out: TextIO = sys.stdout) -> int:
    """``lapse after``: make what ``--make`` lists for a run, at the lowest priority,
    saying each step as a JSON line (``{"product": "video", "done": 12, "total": 500}``),
    ending with one ``{"product": …, "file": …}`` or ``{"product": …, "error": …}`` per
    product. A product that fails does not stop the next."""
    lower_priority()
    # The daemon ends the work with SIGTERM when it stops: ending by SystemExit lets the
    # half-made file be removed (core.atomic.atomic_output).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    make = [name for name in args.make.split(",") if name]
    unknown = [name for name in make if name not in PRODUCTS]
    if unknown or not make:
        raise AfterError(f"--make takes {', '.join(PRODUCTS)}, got {args.make!r}")
    journal = Journal(state_dir)
    info = journal.named_run(args.run)
    frames = Frames(journal, info, first=args.first, last=args.last)
    failed = 0

    def say(**fields: object) -> None:
        out.write(json.dumps(fields) + "\n")
        out.flush()

    for product in make:
        target = output_path(info, product, args.tag)

        def progress(done: int, total: int, product: str = product) -> None:
            say(product=product, done=done, total=total)

        try:
            if product == "video":
                from core.after.video import render_video

                render_video(info.photos_path, frames, target, progress=progress)
            else:
                _stack(product, info, frames, target, progress, None)
            say(product=product, file=str(target))
        except (AfterError, OSError) as error:
            failed += 1
            say(product=product, error=str(error))
    return 1 if failed else 0


def lower_priority() -> None:
    """Run at the lowest priority there is: nice 19 and Linux's idle scheduling class,
    so this work gets a core only when nothing else wants it (the daemon's timing thread
    least of all)."""
    with contextlib.suppress(OSError):
        os.nice(19)
    # Not on every system: there nice alone.
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
