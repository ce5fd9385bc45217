"""After the run: how fast lapse makes a video, how much memory it takes, what the
keogram and star trails cost, and whether a render disturbs a run's timing.

Parts (``--parts``, all by default):

- **throughput**: ``lapse render`` against Debian's ``ffmpeg`` command line on the same
  ``--frames`` JPEGs (500, 12 megapixels, 4:3), both to a 1080p H.264 video with
  libx264 at the same preset and quality (``veryfast``, CRF 20, yuv420p), the picture
  fitted whole on black. Each figure is the time between two ``time.monotonic_ns()``
  readings in this process: just before the child is started, and just after it has
  ended; start-up is in both (each is started through the same small wrapper, which
  reads its peak memory). The two alternate for ``--rounds`` rounds (3), on
  the same files, warm in the page cache. Each video is decoded again (PyAV) and its
  frames counted: a frame short is a dropped frame, counted in the verdict.
  Target: median lapse frames a second ≥ 0.9 × ffmpeg's, and no frame dropped.
- **memory**: ``lapse render`` of ``--memory-frames`` frames (10,000; 720p pictures to
  a 720p video, so it ends in minutes) and of a tenth as many, beside each other: the
  command's peak resident memory (``ru_maxrss`` from ``wait4``, in a small wrapper
  process that started it: see :data:`PEAK_WRAPPER`). Target: under 300 MB for
  the long one; the short one shows it does not grow with the frames.
- **stacks**: ``lapse keogram`` and ``lapse startrails`` over ``--stack-frames`` (1,000)
  12-megapixel frames: time (as above) and peak memory, printed.
- **timing**: the timing benchmark's lapse method (``bench/timing.py``: due → the
  shutter-on edge event, 50 ms, ``--timing-frames`` frames) twice side by side: idle,
  and while ``lapse after`` (as the daemon starts it: idle scheduling class, nice 19)
  renders the throughput frames over and over. Targets: never early, no frame missed,
  p99 ≤ 250 µs, while rendering.

The pictures are made once with Pillow: ``DISTINCT`` (40) different scenes, each saved
as a camera would (quality 90), hard-linked to as many frame names as wanted, so a
10,000-frame run costs no more disk than 40 files. Each run's journal is written by the
daemon's own journal writer.

Run from the repo root: ``.venv/bin/python bench/render.py [--install] [--json FILE]``;
``--install`` installs Debian's ffmpeg when it is missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    PYTHON,
    Processes,
    Report,
    apt_install,
    fmt,
    lapse_command,
    median,
    print_table,
    run_benchmark,
    temp_dir,
)

TITLE = "lapse render benchmark"
SOURCE_SIZE = (4000, 3000)
"""12 megapixels, 4:3: a compact or Micro Four Thirds camera's JPEG."""
SMALL_SIZE = (1280, 720)
DISTINCT = 40
FPS = 25
THROUGHPUT_RATIO = 0.9
MEMORY_LIMIT_MB = 300.0
FFMPEG_FILTER = (
    "scale=1920:1080:force_original_aspect_ratio=decrease:flags=bilinear,"
    "pad=1920:1080:(ow-iw)/2:(oh-ih)/2"
)
"""The picture fitted whole on black, as lapse does it."""


def make_scenes(folder: Path, size: tuple[int, int]) -> list[Path]:
    """``DISTINCT`` JPEGs of a sky: a gradient with noise and a moving bright dot."""
    import numpy
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    rng = numpy.random.default_rng(1)
    rows = numpy.linspace(30, 160, height, dtype=numpy.float32)[:, None, None]
    scenes = []
    for index in range(DISTINCT):
        noise = rng.normal(0, 12, (height, width, 1)).astype(numpy.float32)
        pixels = numpy.clip(rows + noise + index, 0, 255).astype(numpy.uint8).repeat(3, axis=2)
        x = (index * width) // DISTINCT
        pixels[height // 3 : height // 3 + 20, x : x + 20] = 255
        path = folder / f"scene-{index:02d}.jpg"
        Image.fromarray(pixels, "RGB").save(path, quality=90)
        scenes.append(path)
    return scenes


def frames_run(state_dir: Path, scenes: Sequence[Path], count: int) -> tuple[str, Path]:
    """A finished run of ``count`` frames, each file a hard link to one of ``scenes``; its
    id and folder."""
    from core.daemon.journal_writer import create_run, open_run
    from core.journal import Journal
    from core.model.durations import NS_PER_S, wall_iso
    from core.model.records import FrameRecord
    from core.model.settings import Settings

    journal = Journal(state_dir)
    wall = time.time_ns()
    interval = 10 * NS_PER_S
    writer = create_run(
        journal,
        settings=Settings(interval_ns=interval, power=False, frames=count),
        anchor_ns=0,
        anchor_wall_ns=wall,
        boot_id="bench",
        created_wall_ns=wall,
        rig="bench",
    )
    info = writer.info
    writer.close()
    records = []
    for k in range(count):
        name = f"frame-{k:06d}.jpg"
        os.link(scenes[k % len(scenes)], info.path / name)
        records.append(
            FrameRecord(
                k, k * interval, k * interval + 1000, wall_iso(wall + k * interval), "ok", file=name
            )
        )
    with open_run(journal, info.id) as writer:
        for start in range(0, count, 1000):
            writer.append(records[start : start + 1000])
        writer.finish("finished", "all frames taken", wall + count * interval)
    return info.id, info.path


PEAK_WRAPPER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
print(f"peak-kb {usage.ru_maxrss}", file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs a command and says its peak resident memory. A child's ``ru_maxrss`` starts
from its parent's size at the fork (Linux keeps the high-water mark across fork and
exec), so the command is started from this small process, not from the benchmark,
which holds hundreds of megabytes of pictures."""


def timed(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``argv`` to its end: seconds from just before the start to just after the
    reaping, its peak resident memory in MB, and its output's last line."""
    started = time.monotonic_ns()
    done = subprocess.run(
        [PYTHON, "-c", PEAK_WRAPPER, *argv], env=env, capture_output=True, text=True
    )
    ended = time.monotonic_ns()
    said = [line for line in done.stderr.splitlines() if not line.startswith("peak-kb ")]
    peaks = [line for line in done.stderr.splitlines() if line.startswith("peak-kb ")]
    last = ((done.stdout + "\n".join(said)).strip().splitlines() or [""])[-1]
    if done.returncode != 0 or not peaks:
        raise RuntimeError(f"{' '.join(argv[:3])}… failed ({done.returncode}): {last}")
    return (ended - started) / 1e9, int(peaks[-1].split()[1]) / 1024, last


def video_frames(path: Path) -> int:
    """How many frames the video at ``path`` decodes to."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def lapse_env(state_dir: Path) -> dict[str, str]:
    return {**os.environ, "LAPSE_STATE_DIR": str(state_dir), "LAPSE_HW": "sim"}


def measure_throughput(root: Path, report: Report, args: Any) -> dict[str, Any] | None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None and args.install:
        ffmpeg = apt_install("ffmpeg", lambda: shutil.which("ffmpeg"))
    if ffmpeg is None:
        report.check("lapse ≥ 0.9× ffmpeg frames a second", None, "ffmpeg is not installed")
        return None
    print(f"\n[throughput] {args.frames} frames of {SOURCE_SIZE[0]}×{SOURCE_SIZE[1]} → 1080p")
    scenes = make_scenes(root / "scenes", SOURCE_SIZE)
    state = root / "state"
    run_id, folder = frames_run(state, scenes, args.frames)
    rows: dict[str, list[tuple[float, int]]] = {"lapse render": [], "ffmpeg": []}
    for round_number in range(1, args.rounds + 1):
        out = root / "lapse.mp4"
        seconds, _, _ = timed(
            [*lapse_command(), "render", run_id, "-o", str(out), "--size", "1080p"],
            lapse_env(state),
        )
        rows["lapse render"].append((seconds, video_frames(out)))
        out = root / "ffmpeg.mp4"
        ffmpeg_argv = [
            ffmpeg, "-y", "-loglevel", "error", "-framerate", str(FPS),
            "-i", str(folder / "frame-%06d.jpg"), "-vf", FFMPEG_FILTER,
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
            str(out),
        ]  # fmt: skip
        seconds, _, _ = timed(ffmpeg_argv)
        rows["ffmpeg"].append((seconds, video_frames(out)))
        print(f"  round {round_number}: lapse {fmt(rows['lapse render'][-1][0], 2)} s,"
              f" ffmpeg {fmt(rows['ffmpeg'][-1][0], 2)} s", flush=True)  # fmt: skip
    table, figures = [], {}
    for name, runs in rows.items():
        fps = [args.frames / seconds for seconds, _ in runs]
        dropped = sum(args.frames - frames for _, frames in runs)
        figures[name] = {"seconds": [s for s, _ in runs], "median_fps": median(fps),
                         "dropped": dropped}  # fmt: skip
        table.append([name, str(len(runs)), fmt(median([s for s, _ in runs]), 2),
                      fmt(median(fps), 1), str(dropped)])  # fmt: skip
    print_table(("method", "rounds", "median s", "median fps", "dropped frames"), table)
    ratio = figures["lapse render"]["median_fps"] / figures["ffmpeg"]["median_fps"]
    dropped = figures["lapse render"]["dropped"]
    print("  From → to: just before the child starts → just after it is reaped (monotonic).")
    report.check(
        f"lapse ≥ {THROUGHPUT_RATIO:g}× ffmpeg frames a second, none dropped",
        ratio >= THROUGHPUT_RATIO and dropped == 0,
        f"{fmt(ratio, 2)}× ({fmt(figures['lapse render']['median_fps'], 1)} vs"
        f" {fmt(figures['ffmpeg']['median_fps'], 1)} fps), {dropped} dropped",
    )
    return {"ratio": ratio, **figures, "run": run_id, "state": str(state)}


def measure_memory(root: Path, report: Report, args: Any) -> dict[str, Any]:
    print(f"\n[memory] lapse render of {args.memory_frames:,} and {args.memory_frames // 10:,}"
          f" frames of {SMALL_SIZE[0]}×{SMALL_SIZE[1]} → 720p")  # fmt: skip
    scenes = make_scenes(root / "small-scenes", SMALL_SIZE)
    figures = {}
    for count in (args.memory_frames // 10, args.memory_frames):
        state = root / f"memory-{count}"
        run_id, _ = frames_run(state, scenes, count)
        out = root / f"memory-{count}.mp4"
        seconds, peak_mb, _ = timed(
            [*lapse_command(), "render", run_id, "-o", str(out), "--size", "720p"],
            lapse_env(state),
        )
        frames = video_frames(out)
        figures[count] = {"seconds": seconds, "peak_mb": peak_mb, "dropped": count - frames}
        print(f"  {count:,} frames: {fmt(seconds, 1)} s, peak {fmt(peak_mb, 1)} MB,"
              f" {count - frames} dropped", flush=True)  # fmt: skip
        out.unlink()
    long = figures[args.memory_frames]
    report.check(
        f"peak memory of {args.memory_frames:,} frames < {MEMORY_LIMIT_MB:g} MB, none dropped",
        long["peak_mb"] < MEMORY_LIMIT_MB and long["dropped"] == 0,
        f"{fmt(long['peak_mb'], 1)} MB ({fmt(figures[args.memory_frames // 10]['peak_mb'], 1)}"
        f" MB for a tenth as many), {long['dropped']} dropped",
    )
    return {str(count): value for count, value in figures.items()}


def measure_stacks(root: Path, report: Report, args: Any) -> dict[str, Any]:
    print(f"\n[stacks] keogram and star trails over {args.stack_frames:,} frames of"
          f" {SOURCE_SIZE[0]}×{SOURCE_SIZE[1]}")  # fmt: skip
    scenes = make_scenes(root / "scenes", SOURCE_SIZE)
    state = root / "stacks"
    run_id, _ = frames_run(state, scenes, args.stack_frames)
    figures = {}
    for command in ("keogram", "startrails"):
        seconds, peak_mb, last = timed([*lapse_command(), command, run_id], lapse_env(state))
        figures[command] = {"seconds": seconds, "peak_mb": peak_mb, "said": last}
        print(f"  {command}: {fmt(seconds, 1)} s, peak {fmt(peak_mb, 1)} MB — {last}", flush=True)
    return figures


def measure_timing(root: Path, processes: Processes, report: Report, args: Any) -> dict:
    from bench.timing import bench_lapse

    print(f"\n[timing] lapse at 50 ms, {args.timing_frames} frames: idle, then while rendering")
    scenes = make_scenes(root / "scenes", SOURCE_SIZE)
    state = root / "timing-render"
    run_id, _ = frames_run(state, scenes, args.frames)
    interval_ns = 50_000_000
    idle = bench_lapse(processes, "idle", interval_ns, args.timing_frames, args.keep)[0]
    # As the daemon starts it: `lapse after`, which goes to the idle class and nice 19.
    loop = (
        f"while true; do {' '.join(lapse_command())} after {run_id} --make video"
        " >/dev/null 2>&1; done"
    )
    render = processes.spawn(["sh", "-c", loop], env=lapse_env(state))
    try:
        time.sleep(2)  # under way
        rendering = bench_lapse(processes, "rendering", interval_ns, args.timing_frames,
                                args.keep)[0]  # fmt: skip
    finally:
        processes.stop(render)
    rows = [
        [f.condition, str(f.n), fmt(f.p50_us), fmt(f.p99_us), fmt(f.max_us), str(f.early),
         str(f.missed)]
        for f in (idle, rendering)
    ]  # fmt: skip
    print_table(("condition", "n", "p50 µs", "p99 µs", "max µs", "early", "missed"), rows)
    print("  From → to: the frame's due_ns (journal) → the shutter-on edge event's at_ns.")
    report.check(
        "while rendering: never early, no frame missed, p99 ≤ 250 µs",
        rendering.early == 0 and rendering.missed == 0 and rendering.p99_us <= 250,
        f"{rendering.early} early, {rendering.missed} missed, p99 {fmt(rendering.p99_us)} µs"
        f" (idle beside it: p99 {fmt(idle.p99_us)} µs, {idle.missed} missed)",
    )
    return {
        figures.condition: {"p50_us": figures.p50_us, "p99_us": figures.p99_us,
                            "max_us": figures.max_us, "early": figures.early,
                            "missed": figures.missed}
        for figures in (idle, rendering)
    }  # fmt: skip


def measure(processes: Processes, report: Report, args: Any) -> None:
    parts = set(args.parts.split(","))
    with temp_dir("lapse-render-", args.keep) as root:
        if "throughput" in parts:
            report.data["throughput"] = measure_throughput(root, report, args)
        if "memory" in parts:
            report.data["memory"] = measure_memory(root, report, args)
        if "stacks" in parts:
            report.data["stacks"] = measure_stacks(root, report, args)
        if "timing" in parts:
            report.data["timing"] = measure_timing(root, processes, report, args)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="throughput,memory,stacks,timing")
    parser.add_argument("--frames", type=int, default=500, help="throughput frames (500)")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (3)")
    parser.add_argument("--memory-frames", type=int, default=10_000)
    parser.add_argument("--stack-frames", type=int, default=1_000)
    parser.add_argument("--timing-frames", type=int, default=400)
    parser.add_argument("--install", action="store_true", help="apt-get install ffmpeg")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args(argv)
    unknown = set(args.parts.split(",")) - {"throughput", "memory", "stacks", "timing"}
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(TITLE, parse_args(argv), measure)


if __name__ == "__main__":
    sys.exit(main())
