"""The camera end-to-end benchmark's own arithmetic and watcher (bench/camera_e2e.py).

The benchmark itself runs on purpose, never in CI; these check that what it
reports is what it says: deviations against the batch's grid, pooled figures,
the arrival stamps of one real inotify watcher, and its refusal of batches the
virtual card cannot hold.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bench._common import Report
from bench.camera_e2e import Batch, Watcher, e2e_checks, method_order, parse_args, pooled
from core.model.durations import NS_PER_MS, NS_PER_S


def batch(method: str, arrivals_ms: list[float], frames: int = 4, cpu_s: float = 0.4) -> Batch:
    arrivals = [round(ms * NS_PER_MS) for ms in arrivals_ms]
    return Batch(method, NS_PER_S, frames, arrivals, cpu_s)


def test_deviation_is_from_the_grid_that_fits_the_batch_best() -> None:
    # A late first file does not shift the others: the grid's phase is their median.
    found = batch("lapse usb", [132.0, 1100.0, 2100.0, 3101.0, 4100.0])
    assert found.deviations_ns() == [32 * NS_PER_MS, 0, 0, 1 * NS_PER_MS, 0]
    assert found.missed == 0
    assert batch("spawn loop", [100.0, 1102.0]).missed == 2


def test_a_missed_lapse_frame_shifts_no_later_file_off_its_slot() -> None:
    # Frame 2 was missed: the files of frames 3 and 4 are on their own slots, not 1 s early.
    found = Batch(
        "lapse usb",
        NS_PER_S,
        5,
        [100 * NS_PER_MS, 1100 * NS_PER_MS, 3101 * NS_PER_MS, 4100 * NS_PER_MS],
        0.4,
        slots=[0, 1, 3, 4],
    )
    assert found.deviations_ns() == [0, 0, 1 * NS_PER_MS, 0]
    assert found.missed == 1


def test_pooled_figures_take_absolute_deviations_and_the_median_drift() -> None:
    figures = pooled(
        [
            batch("spawn loop", [0.0, 1010.0, 2020.0, 3030.0]),  # drift 30 ms
            batch("spawn loop", [0.0, 1020.0, 2040.0, 3060.0]),  # drift 60 ms
            batch("spawn loop", [0.0, 1005.0, 2010.0]),  # one file missed; drift 10 ms
        ]
    )
    assert figures.frames == 12 and figures.missed == 1
    assert figures.drift_ms == pytest.approx(30.0)
    assert figures.max_ms == pytest.approx(30.0)  # ±30 ms about the best-fitting grid
    assert figures.cpu_s_per_frame == pytest.approx(1.2 / 12)


def test_lapse_is_held_to_the_gphoto2_loop_and_to_both_gphoto2_cpus() -> None:
    report = Report("test")
    good = pooled([batch("lapse usb", [0.0, 1001.0, 2000.0, 3001.0], cpu_s=0.1)])
    loop = pooled([batch("gphoto2 --interval", [0.0, 1010.0, 2020.0, 3030.0], cpu_s=0.2)])
    spawn = pooled([batch("spawn loop", [0.0, 1010.0, 2020.0, 3030.0], cpu_s=0.05)])
    e2e_checks(report, [good, loop, spawn])
    verdicts = {name: passed for name, passed, _ in report.checks}
    assert verdicts["lapse usb at 1s: no file missed"] is True
    assert verdicts["lapse usb at 1s: p99 and |drift| no worse than gphoto2 --interval"] is True
    # Below the loop, above the spawn loop: the CPU target fails.
    assert verdicts["lapse usb at 1s: CPU per frame below both gphoto2 methods"] is False


def test_every_method_takes_its_turn_first() -> None:
    methods = ["a", "b", "c"]
    assert [method_order(n, methods)[0] for n in range(3)] == ["a", "b", "c"]


def test_the_watcher_stamps_a_file_when_it_is_whole_not_its_part(tmp_path: Path) -> None:
    watcher = Watcher()
    try:
        watcher.watch(tmp_path)
        before = time.monotonic_ns()
        part = tmp_path / "frame-000000-A.jpg.part"
        part.write_bytes(b"\xff\xd8")
        os.rename(part, tmp_path / "frame-000000-A.jpg")
        (tmp_path / "notes.txt").write_text("not a frame")
        deadline = time.monotonic() + 10
        while not watcher.files(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.01)
        stamps = watcher.files(tmp_path)
        framed = watcher.frame_files(tmp_path)
    finally:
        watcher.close()
    assert len(stamps) == 1 and stamps[0] >= before
    assert framed == [(0, stamps[0])]  # its frame, read from lapse's name


def test_a_batch_larger_than_the_virtual_card_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--frames", "30"])
    assert exited.value.code == 2
    assert "the virtual card keeps 26" in capsys.readouterr().err


def test_the_unpluggable_camera_answers_gone_while_its_flag_is_there(
    virtual_camera: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bench/camera_away.py's camera, in a real worker on the virtual camera.
    from bench.camera_away import AWAY_FLAG, FACTORY
    from hw.camera.base import CallError
    from hw.camera.worker import WorkerOpener

    flag = tmp_path / "away"
    monkeypatch.setenv(AWAY_FLAG, str(flag))
    opener = WorkerOpener(5.0, factory=FACTORY, virtual=True)
    try:
        session = opener()
        session.trigger()
        flag.touch()
        with pytest.raises(CallError) as during:
            session.trigger()
        assert during.value.kind == "gone"
        with pytest.raises(CallError) as reopened:
            opener()
        assert reopened.value.kind == "gone" and "no camera answers" in str(reopened.value)
        flag.unlink()
        opener().trigger()  # plugged in again: the same worker opens it
    finally:
        opener.close()
