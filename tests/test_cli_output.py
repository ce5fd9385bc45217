"""What the command line prints: each fact once, in words (docs/architecture.md §6)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from core.model.records import FrameRecord
from tui.cli import FrameLines

WALL = "2026-11-30T08:15:12.000048+00:00"


def shot(frame: int) -> FrameRecord:
    """Frame ``frame``'s line as the shutter opens: fired, its file not yet known."""
    due = frame * 1_000_000_000
    return FrameRecord(frame=frame, due_ns=due, fired_ns=due + 48_000, wall=WALL, status="ok")


def test_with_a_camera_a_frame_is_said_once_with_its_file() -> None:
    lines = FrameLines(3, files_expected=True)
    assert lines.take(shot(0)) == []
    assert lines.take(shot(1)) == []
    [said] = lines.take(replace(shot(0), file="frame-000000-DSC_0001.JPG"))
    assert said.startswith("frame 0/3  due 08:15:12.000000  late 48us  ok")
    assert said.endswith("  frame-000000-DSC_0001.JPG")
    [failed] = lines.take(replace(shot(1), status="error", error="no file came from the camera"))
    assert failed.endswith("error: no file came from the camera")
    assert lines.rest() == []


def test_a_frame_whose_file_never_came_is_said_when_the_run_ends() -> None:
    lines = FrameLines(0, files_expected=True)
    assert lines.take(shot(4)) == [] and lines.take(shot(2)) == []
    assert [line.split()[1] for line in lines.rest()] == ["2", "4"]
    assert lines.rest() == []  # said once


def test_without_a_camera_a_frame_is_said_as_its_shutter_opens() -> None:
    lines = FrameLines(1, files_expected=False)
    [said] = lines.take(shot(0))
    assert said.startswith("frame 0/1  due") and said.endswith("ok")


def test_help_lists_every_environment_variable_lapse_reads() -> None:
    root = Path(__file__).resolve().parent.parent
    read = set()
    for folder in ("core", "hw", "tui", "themes"):
        for source in (root / folder).rglob("*.py"):
            read |= set(re.findall(r"\bLAPSE_[A-Z_]*[A-Z]\b", source.read_text()))
    assert {"LAPSE_CONFIG", "LAPSE_HW", "LAPSE_CAMERA"} <= read  # the scan sees them
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--help"], capture_output=True, text=True, check=True
    )
    listed = set(re.findall(r"^  (LAPSE_[A-Z_]+) ", result.stdout, re.MULTILINE))
    assert listed == read
    readme = (root / "README.md").read_text()
    assert all(f"| `{name}` |" in readme for name in read)
