"""What the command line prints: each fact once, in words (docs/architecture.md §6)."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from core.model.hooks import HOOK_VARIABLES
from core.model.records import FrameRecord
from tests.conftest import Lapse
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
    told = set(HOOK_VARIABLES)  # set for a hook, never read: the README's hooks table
    assert listed == read - told
    readme = (root / "README.md").read_text()
    assert all(f"| `{name}` |" in readme for name in read | told)


def test_at_names_the_next_such_time_or_the_date_and_time_given() -> None:
    from datetime import datetime, timedelta, timezone

    from tui.cli import at_time, when

    zone = timezone(timedelta(hours=1))
    now = datetime(2026, 11, 30, 6, 0, 0, tzinfo=zone)
    assert at_time("05:30", now) == "2026-12-01T05:30:00+01:00", "passed today: tomorrow's"
    assert at_time("07:15:10", now) == "2026-11-30T07:15:10+01:00"
    assert at_time("2026-12-24T18:00+00:00", now) == "2026-12-24T18:00:00+00:00"
    with pytest.raises(argparse.ArgumentTypeError, match="'soon' is not a time: use 05:30"):
        at_time("soon", now)
    assert when(4 * 10**9, now) == "in 4.0s"
    assert when(90 * 60 * 10**9, now) == "in 1h30min, at 07:30:00"
    # The daemon's clock and this one are read a moment apart: said to the nearest second.
    assert when(90 * 60 * 10**9 - 2_000_000, now).endswith(", at 07:30:00")
    assert when(2 * 86_400 * 10**9, now) == "in 2d, at 2026-12-02 06:00:00"


def test_lapse_run_at_a_time_says_when_and_the_journal_keeps_it(lapse: Lapse) -> None:
    from datetime import datetime, timedelta

    lapse.config.write_text('[run]\ndelay = "10s"\n')  # a default delay gives way to --at
    lapse.start_daemon()
    soon = (datetime.now().astimezone() + timedelta(minutes=3)).replace(microsecond=0)
    started = lapse.cli("run", "--interval", "10s", "--at", soon.strftime("%H:%M:%S"))
    assert started.returncode == 0, started.stderr
    assert f", at {soon:%H:%M:%S}." in started.stdout.splitlines()[0]
    run = lapse.journal.latest_run()
    assert run is not None and run.anchor_wall_ns == round(soon.timestamp()) * 10**9
    assert "next shutter: frame 0 in " in lapse.cli("status").stdout
    assert lapse.cli("stop").returncode == 0
    bad = lapse.cli("run", "--interval", "10s", "--at", "25:00")
    assert bad.returncode == 2 and "'25:00' is not a time" in bad.stderr


def test_align_puts_the_first_shutter_on_a_whole_multiple_of_the_interval() -> None:
    from core.model.clock_trust import wall_ns_of
    from tui.cli import aligned_start

    second = 10**9
    now = 1_800_000_000 * second + 300_000_000  # a minute boundary + 0.3 s
    assert wall_ns_of(aligned_start(now, 60 * second, 5 * second)) == 1_800_000_060 * second
    # The defaults' delay is kept: the first multiple after it.
    later = aligned_start(now, 60 * second, 5 * second, 120 * second)
    assert wall_ns_of(later) == 1_800_000_180 * second
    # A multiple exactly at the earliest moment is taken.
    assert wall_ns_of(aligned_start(now - 300_000_000, 10 * second, 0)) == now - 300_000_000


def test_lapse_run_align_puts_every_shutter_on_the_clocks_whole_seconds(lapse: Lapse) -> None:
    lapse.start_daemon()
    done = lapse.cli("run", "--interval", "1s", "--frames", "3", "--align", "--wait", timeout=60)
    assert done.returncode == 0, done.stderr
    run = lapse.journal.latest_run()
    assert run is not None and run.anchor_wall_ns % 10**9 == 0
    records = lapse.journal.read_frames(run.id)
    assert [r.status for r in records] == ["ok"] * 3
    both = lapse.cli("run", "--interval", "1s", "--align", "--at", "05:30")
    assert both.returncode == 2 and "not with --at" in both.stderr
    with_delay = lapse.cli("run", "--interval", "1s", "--align", "--delay", "5s")
    assert with_delay.returncode == 2 and "choose one" in with_delay.stderr


def test_lapse_run_by_the_sun_starts_at_sunrise_and_says_its_window(lapse: Lapse) -> None:
    from datetime import UTC, datetime, timedelta

    from astral import Observer
    from astral.sun import sunrise

    lapse.config.write_text("[place]\nlatitude = 51.48\nlongitude = 0.0\n")
    lapse.start_daemon()
    started = lapse.cli(
        "run", "--interval", "10min", "--between", "Sunset - 30min..sunrise", "--at", "sunrise-1h"
    )
    assert started.returncode == 0, started.stderr
    assert "Also: between sunset-30min..sunrise" in started.stdout
    run = lapse.journal.latest_run()
    assert run is not None and run.place is not None and run.place.latitude == 51.48
    # The first shutter is astral's next sunrise less an hour, to the microsecond.
    observer = Observer(51.48, 0.0, 0.0)
    now = datetime.now(UTC)
    first = min(
        at
        for days in range(-1, 3)
        if (at := sunrise(observer, (now + timedelta(days=days)).date(), UTC) - timedelta(hours=1))
        > now + timedelta(seconds=30)
    )
    assert run.anchor_wall_ns == round(first.timestamp() * 1_000_000) * 1_000
    status = lapse.cli("status").stdout
    assert "  window: sunset-30min..sunrise, " in status, status
    assert lapse.cli("stop").returncode == 0
    # No place, and none given: the daemon says what is missing, and nothing starts.
    lapse.config.write_text("")
    lapse.cli("daemon", "--stop")
    lapse.start_daemon()
    refused = lapse.cli("run", "--interval", "10min", "--when", "night")
    assert refused.returncode != 0
    assert "needs to know where the rig stands" in refused.stderr
    latest = lapse.journal.latest_run()
    assert latest is not None and latest.id == run.id, "no run was made"
