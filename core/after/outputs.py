"""Where a run's video and images go, and which of them exist: in the run's folder, named
after the run (``20261201-053000.mp4``, ``…-keogram.png``, ``…-startrails.jpg``; a run
until stopped gets them daily with the day and time in the name)."""

from __future__ import annotations

import os
from pathlib import Path

from core.journal import RunInfo
from core.model.after import AfterError

ENDINGS = {"video": ".mp4", "keogram": "-keogram.png", "startrails": "-startrails.jpg"}


def output_path(info: RunInfo, product: str, tag: str = "") -> Path:
    """Where ``product`` of the run goes by default; ``tag`` (``-20261201-0900``) sets a
    daily one apart."""
    return info.path / f"{info.id}{tag}{ENDINGS[product]}"


def made_products(info: RunInfo) -> list[Path]:
    """The run's videos and images made so far, by name; half-made ones (hidden temporary
    files) are not among them."""
    try:
        names = sorted(path for path in info.path.iterdir() if path.name.startswith(info.id))
    except OSError:
        return []
    return [path for path in names if path.name.endswith(tuple(ENDINGS.values()))]


def check_writable(out: Path) -> None:
    """Refuse, before any work, an output whose folder is missing or cannot be written."""
    folder = out.parent
    if not folder.is_dir():
        raise AfterError(f"cannot write {out}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise AfterError(f"cannot write {out}: {folder} is not yours to write in")


def write_failed(out: Path, error: BaseException) -> AfterError:
    """A write that failed halfway (a full disk, a folder gone), in one line."""
    why = getattr(error, "strerror", None) or str(error)
    return AfterError(f"could not write {out}: {why}")
