"""How long measuring a 24-megapixel JPEG's brightness takes, against a full decode.

lapse measures each saved frame's brightness from the thumbnail a camera's JPEG carries
in its EXIF block, or, in a JPEG without one, from the picture decoded at an eighth of
its size in grey (``core/brightness.py``). The baseline decodes the same file
whole, in colour, then takes the grey mean the same way: what measuring it naively
costs. Two files of the same 8 MB scene: one as a camera writes it (with a 160×107
thumbnail), one without.

Each figure is the time between two ``time.perf_counter_ns()`` readings taken in this
process's one thread, just before the call and just after it returns; the file is read
from the page cache by both (each round reads it once before timing). The two methods
alternate within every round, on the same file, so both meet the same machine.

Target, on the camera's file: median lapse ≤ 0.2 × the median full decode, and the two
brightnesses agree within 0.02 in every round (a measurement that is fast and wrong
counts as a failure). The file without a thumbnail is reported beside it, without a
target.

Run from the repo root: ``.venv/bin/python bench/brightness.py [--rounds N] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import fmt, median, percentile, print_table
from core.brightness import jpeg_brightness

WIDTH, HEIGHT = 6000, 4000
"""24 megapixels, 3:2: an APS-C camera's full-size JPEG."""
TARGET_RATIO = 0.2
AGREE = 0.02
"""A thumbnail is a smaller picture of the same scene: its mean is within this."""
THUMBNAIL_SIZE = (160, 107)
CAMERAS = "camera's"
"""The file as a camera writes it, with its thumbnail."""


def exif_with_thumbnail(thumbnail: bytes) -> bytes:
    """An EXIF block as a camera writes one, holding only a thumbnail: an empty first
    IFD, and a second whose two tags say where the thumbnail's JPEG starts and its length."""
    ifd0 = struct.pack("<HI", 0, 14)
    entries = struct.pack("<HHII", 0x0201, 4, 1, 44) + struct.pack(
        "<HHII", 0x0202, 4, 1, len(thumbnail)
    )
    ifd1 = struct.pack("<H", 2) + entries + struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1
    return b"Exif\x00\x00" + tiff + thumbnail


def scene_jpegs() -> tuple[bytes, bytes]:
    """The same 6000×4000 scene, compressing like a photograph (a sky's gradient and soft
    texture: random noise enlarged), at quality 92: as a camera writes it, with an EXIF
    thumbnail, and without one."""
    from PIL import Image

    sky = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).convert("RGB")
    texture = Image.frombytes("RGB", (1500, 1000), os.urandom(1500 * 1000 * 3))
    texture = texture.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    scene = Image.blend(sky, texture, 0.35)
    small = io.BytesIO()
    scene.resize(THUMBNAIL_SIZE, Image.Resampling.BOX).save(small, "JPEG", quality=85)
    camera, plain = io.BytesIO(), io.BytesIO()
    scene.save(camera, "JPEG", quality=92, exif=exif_with_thumbnail(small.getvalue()))
    scene.save(plain, "JPEG", quality=92)
    return camera.getvalue(), plain.getvalue()


def full_decode_brightness(path: Path) -> float:
    """The baseline: decode the whole image in colour, then its grey mean."""
    from PIL import Image, ImageStat

    with Image.open(path) as image:
        image.load()
        grey = image.convert("L")
        return ImageStat.Stat(grey).mean[0] / 255


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", type=Path, help="keep the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lapse-brightness-") as folder:
        files = {
            "camera's": Path(folder) / "camera.jpg",
            "no thumbnail": Path(folder) / "plain.jpg",
        }
        for path, data in zip(files.values(), scene_jpegs(), strict=True):
            path.write_bytes(data)
        methods = {"lapse": jpeg_brightness, "full decode": full_decode_brightness}
        times: dict[str, list[float]] = {f"{f}: {m}": [] for f in files for m in methods}
        disagreements = failures = 0
        for round_ in range(args.rounds):
            for file, path in files.items():
                path.read_bytes()  # in the page cache for both
                order = list(methods) if round_ % 2 == 0 else list(reversed(methods))
                values: dict[str, float | None] = {}
                for name in order:
                    start = time.perf_counter_ns()
                    values[name] = methods[name](path)
                    times[f"{file}: {name}"].append((time.perf_counter_ns() - start) / 1e6)
                lapse, full = values["lapse"], values["full decode"]
                if lapse is None:
                    failures += 1
                elif full is None or abs(lapse - full) > AGREE:
                    disagreements += 1
        sizes = ", ".join(
            f"{file} {path.stat().st_size / 1e6:.1f} MB" for file, path in files.items()
        )
        print(f"a {WIDTH}×{HEIGHT} JPEG ({sizes}), {args.rounds} rounds")
        print("from perf_counter_ns before the call to perf_counter_ns after it, ms:")
        rows = [
            [name, fmt(median(ms), 1), fmt(percentile(ms, 90), 1), fmt(max(ms), 1)]
            for name, ms in times.items()
        ]
        print_table(["file: method", "median", "p90", "max"], rows)
        ratios = {
            file: median(times[f"{file}: lapse"]) / median(times[f"{file}: full decode"])
            for file in files
        }
        ok = ratios[CAMERAS] <= TARGET_RATIO and disagreements == 0 and failures == 0
        print(
            f"ratio of medians: camera's file {ratios[CAMERAS]:.3f} (target ≤ {TARGET_RATIO}),"
            f" no thumbnail {ratios['no thumbnail']:.3f} (no target); brightness disagreed by"
            f" more than {AGREE} in {disagreements} measurements, not measured in {failures}:"
            f" {'PASS' if ok else 'FAIL'}"
        )
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "ms": times,
                        "ratios": ratios,
                        "disagreements": disagreements,
                        "failures": failures,
                        "pass": ok,
                    },
                    indent=1,
                )
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
