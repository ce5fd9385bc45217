"""The run journal: durable appends, torn and corrupt lines, atomic run.toml."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.daemon.journal_writer import RunWriter, create_run, open_run
from core.journal import Journal, RunInfo
from core.model.durations import NS_PER_S, wall_iso
from core.model.errors import LapseError
from core.model.records import (
    AMEND_WINDOW,
    FRAME_KEYS,
    FRAME_STATUSES,
    RANGE_STATUSES,
    FrameRecord,
    parse_frame_line,
)
from core.model.settings import Settings

WALL_NS = 1_750_000_000 * NS_PER_S  # 2025-06-15T15:06:40Z
SETTINGS = Settings(interval_ns=10 * NS_PER_S, power=True, frames=240)


# Run ids come from local time: pin the zone (tests/conftest.py) so they can be asserted.
pytestmark = pytest.mark.usefixtures("utc")


def make_run(journal: Journal, created_wall_ns: int = WALL_NS, **changes: object) -> RunWriter:
    arguments: dict[str, object] = {
        "settings": SETTINGS,
        "anchor_ns": 5_000_000_000,
        "anchor_wall_ns": created_wall_ns + 10 * NS_PER_S,
        "boot_id": "boot-1",
        "created_wall_ns": created_wall_ns,
        "rig": "simulated: focus 20, shutter 21, power 16, LED 12",
    }
    arguments.update(changes)
    return create_run(journal, **arguments)  # type: ignore[arg-type]


def frame(k: int, status: str = "ok", **changes: object) -> FrameRecord:
    due = 5_000_000_000 + k * 10 * NS_PER_S
    values: dict[str, object] = {
        "frame": k,
        "due_ns": due,
        "fired_ns": None if status == "missed" else due + 1_234,
        "wall": wall_iso(WALL_NS + 10 * NS_PER_S + k * 10 * NS_PER_S),
        "status": status,
        "file": f"IMG_{k:04d}.JPG" if status == "ok" else None,
        "error": {"ok": None, "missed": "daemon was not running", "error": "camera busy"}[status],
    }
    values.update(changes)
    return FrameRecord(**values)  # type: ignore[arg-type]


# --- FrameRecord -------------------------------------------------------------------------------


def test_frame_line_is_compact_json_with_the_listed_keys_in_order() -> None:
    line = frame(3).to_json()
    assert "\n" not in line and " " not in line
    data = json.loads(line)
    assert tuple(data) == FRAME_KEYS
    assert data["lateness_ns"] == 1_234
    assert data["frame"] == 3 and data["status"] == "ok"


def test_missed_frame_has_no_fire_time_nor_lateness() -> None:
    record = frame(7, "missed")
    assert record.lateness_ns is None
    data = json.loads(record.to_json())
    assert data["fired_ns"] is None and data["lateness_ns"] is None
    assert data["error"] == "daemon was not running"


def test_frame_round_trips_through_its_line() -> None:
    for record in (frame(0), frame(1, "missed"), frame(2, "error"), frame(3, file="a/b c.jpg")):
        assert FrameRecord.from_dict(json.loads(record.to_json())) == record
        assert parse_frame_line(record.to_json().encode() + b"\n") == record


def test_text_with_newlines_and_non_ascii_stays_on_one_ascii_line() -> None:
    record = frame(1, "error", error="line one\nline two\r\x00 – ünïcode")
    line = record.to_json()
    assert "\n" not in line and line.isascii()
    assert parse_frame_line(line.encode()) == record


def test_unknown_keys_are_ignored_for_newer_journals() -> None:
    data = json.loads(frame(1).to_json()) | {"exposure_ns": 5}
    assert FrameRecord.from_dict(data) == frame(1)


NONSENSE = [
    ("frame", True),
    ("frame", -1),
    ("frame", 1.0),
    ("due_ns", "12"),
    ("due_ns", None),
    ("fired_ns", 1.5),
    ("wall", "yesterday"),
    ("wall", "2025-06-15T15:06:40"),  # no zone
    ("wall", 17),
    ("status", "fine"),
    ("file", 3),
    ("file", ""),
    ("error", ["busy"]),
    ("lateness_ns", 99),
]


@pytest.mark.parametrize(("key", "value"), NONSENSE)
def test_from_dict_refuses_nonsense(key: str, value: object) -> None:
    data = json.loads(frame(1).to_json())
    data[key] = value
    with pytest.raises(ValueError):
        FrameRecord.from_dict(data)


@pytest.mark.parametrize("key", ["frame", "due_ns", "fired_ns", "wall", "status"])
def test_from_dict_needs_the_core_keys(key: str) -> None:
    data = json.loads(frame(1).to_json())
    del data[key]
    with pytest.raises(ValueError, match=key):
        FrameRecord.from_dict(data)


def test_status_and_fire_time_must_agree() -> None:
    with pytest.raises(ValueError, match="ok frame"):
        frame(1, "ok", fired_ns=None)
    with pytest.raises(ValueError, match="missed"):
        frame(1, "missed", fired_ns=5)
    assert frame(1, "error", fired_ns=None).lateness_ns is None  # failed before the shutter


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b"null",
        b'{"frame": NaN}',
        frame(1).to_json().replace('"due_ns":15000000000', '"due_ns":NaN').encode(),
        frame(1).to_json().replace('"fired_ns":15000001234', '"fired_ns":Infinity').encode(),
        b"\x00" * 64,
        b"\xff\xfe{}",
        b"[" * 100_000,
    ],
)
def test_a_line_that_is_not_a_frame_raises_value_error_only(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_frame_line(raw)


# --- creating runs -----------------------------------------------------------------------------


def test_create_run_makes_a_missing_state_dir_and_the_run_files(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "not" / "yet" / "there")
    with make_run(journal) as writer:
        info = writer.info
    assert info.id == "20250615-150640"
    assert info.path == tmp_path / "not" / "yet" / "there" / "runs" / info.id
    assert info.frames_path.read_bytes() == b""
    assert info.state == "active" and info.ended is None
    data = tomllib.loads(info.run_file.read_text(encoding="utf-8"))
    assert data["id"] == info.id
    assert data["state"] == "active"
    assert data["anchor_ns"] == 5_000_000_000
    assert data["anchor_wall_ns"] == WALL_NS + 10 * NS_PER_S
    assert data["boot_id"] == "boot-1"
    assert data["created"] == wall_iso(WALL_NS)
    assert "ended" not in data and "end_reason" not in data
    assert Settings.from_dict(data["settings"]) == SETTINGS
    assert journal.get_run(info.id) == info
    # Nothing but the two files: no temporary left behind.
    assert sorted(p.name for p in info.path.iterdir()) == ["frames.jsonl", "run.toml"]


def test_ids_taken_in_the_same_second_get_a_suffix(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    ids = []
    for _ in range(3):
        with make_run(journal) as writer:
            ids.append(writer.info.id)
    assert ids == ["20250615-150640", "20250615-150640-2", "20250615-150640-3"]
    assert [run.id for run in journal.list_runs()] == ids[::-1]


def test_create_run_refuses_bad_fields_before_touching_the_disk(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with pytest.raises(ValueError):
        make_run(journal, anchor_ns=1.5)
    with pytest.raises(ValueError):
        make_run(journal, settings=Settings(interval_ns=1))
    assert not journal.runs_dir.exists() or not any(journal.runs_dir.iterdir())


def test_a_failed_run_toml_write_leaves_no_half_made_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path)

    def broken_replace(source: object, target: object) -> None:
        raise OSError(errno.EIO, "disk gone")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        make_run(journal)
    monkeypatch.undo()
    assert list(journal.runs_dir.iterdir()) == []
    assert journal.list_runs() == []


def test_core_journal_does_not_import_tomli_w() -> None:
    # Not the reader, nor the writer until it first writes a run.toml.
    code = (
        "import sys, core.journal, core.daemon.journal_writer;"
        " assert 'tomli_w' not in sys.modules, 'tomli_w loaded'"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


# --- appending and reading ---------------------------------------------------------------------


def test_frames_come_back_in_the_order_they_were_appended(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    records = [frame(0), frame(1, "missed"), frame(2, "missed"), frame(3, "error"), frame(4)]
    with make_run(journal) as writer:
        writer.append(records[:1])
        writer.append(records[1:3])
        writer.append([])
        writer.append(records[3:])
        run_id = writer.info.id
    assert journal.read_frames(run_id) == records
    assert journal.last_frame(run_id) == records[-1]
    assert journal.frame_counts(run_id) == {
        "ok": 2,
        "missed": 2,
        "error": 1,
        "unknown": 0,
        "skipped": 0,
    }
    scan = journal.scan_frames(run_id)
    assert scan.skipped == () and not scan.torn_tail


def test_every_line_is_one_json_object_with_exactly_the_listed_keys(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        writer.append([frame(k, FRAME_STATUSES[k % 3]) for k in range(9)])
        path = writer.info.frames_path

    def no_constants(name: str) -> object:
        raise AssertionError(f"{name} in the journal")

    raw = path.read_bytes()
    assert raw.endswith(b"\n") and raw.isascii()
    for line in raw.decode().splitlines():
        data = json.loads(line, parse_constant=no_constants)
        assert isinstance(data, dict) and tuple(data) == FRAME_KEYS


def test_a_batch_is_written_then_fsynced_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path)
    writer = make_run(journal)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    writer.append([frame(k, "missed") for k in range(50)])
    assert len(synced) == 1
    writer.close()
    assert len(journal.read_frames(writer.info.id)) == 50


def test_a_write_cut_short_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path)
    writer = make_run(journal)
    writer.append([frame(0)])
    size = writer.info.frames_path.stat().st_size
    real_write = os.write

    def disk_fills_up(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[:17]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_fills_up)
    with pytest.raises(OSError, match="No space"):
        writer.append([frame(1), frame(2)])
    monkeypatch.undo()
    assert writer.info.frames_path.stat().st_size == size
    writer.append([frame(1)])
    writer.close()
    assert journal.read_frames(writer.info.id) == [frame(0), frame(1)]


def test_append_after_close_raises(tmp_path: Path) -> None:
    writer = make_run(Journal(tmp_path))
    writer.close()
    writer.close()  # twice is fine
    assert writer.closed
    with pytest.raises(ValueError, match="closed"):
        writer.append([frame(0)])


def test_a_missing_frames_file_reads_as_no_frames(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        info = writer.info
    info.frames_path.unlink()
    assert journal.read_frames(info.id) == []
    assert journal.last_frame(info.id) is None
    with open_run(journal, info.id) as writer:
        writer.append([frame(0)])
    assert journal.read_frames(info.id) == [frame(0)]


# --- torn and corrupt lines --------------------------------------------------------------------


def write_torn_tail(path: Path, fragment: bytes) -> None:
    with open(path, "ab") as file:
        file.write(fragment)


def test_a_torn_last_line_is_ignored_by_readers(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        writer.append([frame(0), frame(1)])
        info = writer.info
    write_torn_tail(info.frames_path, frame(2).to_json().encode()[:40])
    assert journal.read_frames(info.id) == [frame(0), frame(1)]
    assert journal.last_frame(info.id) == frame(1)
    scan = journal.scan_frames(info.id)
    assert scan.torn_tail and scan.skipped == ()


def test_resuming_cuts_the_torn_fragment_before_appending(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        writer.append([frame(0), frame(1)])
        info = writer.info
    fragment = frame(2).to_json().encode()[:40]
    write_torn_tail(info.frames_path, fragment)
    with open_run(journal, info.id) as writer:
        assert writer.dropped_bytes == len(fragment)
        writer.append([frame(2, "missed"), frame(3)])
    expected = [frame(0), frame(1), frame(2, "missed"), frame(3)]
    assert journal.read_frames(info.id) == expected
    scan = journal.scan_frames(info.id)
    assert scan.skipped == () and not scan.torn_tail
    assert info.frames_path.read_bytes() == b"".join(r.to_json().encode() + b"\n" for r in expected)


def test_a_whole_record_missing_only_its_newline_is_kept(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        writer.append([frame(0)])
        info = writer.info
    write_torn_tail(info.frames_path, frame(1).to_json().encode())
    assert journal.read_frames(info.id) == [frame(0), frame(1)]
    assert journal.last_frame(info.id) == frame(1)
    with open_run(journal, info.id) as writer:
        assert writer.dropped_bytes == 0
        writer.append([frame(2)])
    assert journal.read_frames(info.id) == [frame(0), frame(1), frame(2)]


def test_a_file_that_is_only_a_fragment_is_cut_to_nothing(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        info = writer.info
    write_torn_tail(info.frames_path, b'{"frame":0,"due')
    assert journal.read_frames(info.id) == []
    assert journal.last_frame(info.id) is None
    with open_run(journal, info.id) as writer:
        assert writer.dropped_bytes == 15
        writer.append([frame(0)])
    assert info.frames_path.read_bytes() == frame(0).to_json().encode() + b"\n"


def test_corrupt_lines_in_the_middle_are_skipped_and_reported(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        info = writer.info
    good = [frame(k) for k in range(4)]
    lines = [
        good[0].to_json().encode(),
        b"\x00" * 300,  # what a power cut can leave in a block
        good[1].to_json().encode(),
        b"",
        b'{"frame": 2, "due_ns": "soon"}',
        good[2].to_json().encode(),
        b"[" * 50_000,
        good[3].to_json().encode(),
        b"not json at all \xff",
    ]
    info.frames_path.write_bytes(b"\n".join(lines) + b"\n")
    scan = journal.scan_frames(info.id)
    assert list(scan.records) == good
    assert scan.skipped == (2, 4, 5, 7, 9)
    assert not scan.torn_tail
    assert journal.read_frames(info.id) == good
    # The last line is garbage: last_frame agrees with read_frames, not with the file's end.
    assert journal.last_frame(info.id) == good[3]
    assert journal.frame_counts(info.id) == {
        "ok": 4,
        "missed": 0,
        "error": 0,
        "unknown": 0,
        "skipped": 0,
    }


def test_last_frame_reads_only_the_tail_of_a_large_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        info = writer.info
    line = frame(0, "missed").to_json().encode() + b"\n"
    with open(info.frames_path, "wb") as file:
        file.write(line * 100_000)
        file.write(frame(100_000).to_json().encode() + b"\n")
        file.write(b"torn tail without a newl")
    size = info.frames_path.stat().st_size
    assert size > 10_000_000

    read_sizes: list[int] = []
    real_pread = os.pread

    def counting_pread(fd: int, length: int, offset: int) -> bytes:
        data = real_pread(fd, length, offset)
        read_sizes.append(len(data))
        return data

    def no_forward_read(*args: object, **kwargs: object) -> object:
        raise AssertionError("last_frame must not read the file from the start")

    monkeypatch.setattr(os, "pread", counting_pread)
    with monkeypatch.context() as patch:
        patch.setattr("builtins.open", no_forward_read)
        assert journal.last_frame(info.id) == frame(100_000)
    assert 0 < sum(read_sizes) <= 64 * 1024

    # Resuming also finds the torn tail from the end.
    read_sizes.clear()
    with open_run(journal, info.id) as writer:
        assert writer.dropped_bytes == len(b"torn tail without a newl")
    assert 0 < sum(read_sizes) <= 64 * 1024
    monkeypatch.undo()
    assert info.frames_path.stat().st_size == size - writer.dropped_bytes


# --- ending runs, run.toml ---------------------------------------------------------------------


def test_finish_records_the_end_and_is_safe_to_repeat(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        writer.append([frame(0)])
        writer.finish("failed", "camera disappeared", WALL_NS + 3600 * NS_PER_S)
        first = writer.info.run_file.read_bytes()
        writer.finish("failed", "camera disappeared", WALL_NS + 3600 * NS_PER_S)
        writer.finish("stopped", "stopped from the TUI", WALL_NS + 3700 * NS_PER_S)
        assert writer.info.run_file.read_bytes() == first
        info = writer.info
    assert info.state == "failed"
    assert info.end_reason == "camera disappeared"
    assert info.ended == wall_iso(WALL_NS + 3600 * NS_PER_S)
    assert journal.get_run(info.id) == info
    data = tomllib.loads(first.decode())
    assert data["state"] == "failed" and data["end_reason"] == "camera disappeared"
    assert journal.read_frames(info.id) == [frame(0)]


@pytest.mark.parametrize("state", ["active", "done", ""])
def test_finish_refuses_a_state_that_is_not_an_end(tmp_path: Path, state: str) -> None:
    with make_run(Journal(tmp_path)) as writer, pytest.raises(ValueError):
        writer.finish(state, "why", WALL_NS)


def test_run_toml_is_the_old_version_when_the_new_one_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path)
    writer = make_run(journal)
    before = writer.info.run_file.read_bytes()

    def power_cut(fd: int) -> None:
        raise OSError(errno.EIO, "power cut")

    # The temporary file is written but never fsynced: the rename must not happen.
    monkeypatch.setattr(os, "fsync", power_cut)
    with pytest.raises(OSError, match="power cut"):
        writer.finish("finished", "all 240 frames taken", WALL_NS)
    monkeypatch.undo()
    assert writer.info.run_file.read_bytes() == before
    assert writer.info.state == "active"
    assert sorted(p.name for p in writer.info.path.iterdir()) == ["frames.jsonl", "run.toml"]
    # Nothing was lost: the run can still end properly.
    writer.finish("finished", "all 240 frames taken", WALL_NS)
    writer.close()
    assert journal.get_run(writer.info.id).state == "finished"


# --- finding runs ------------------------------------------------------------------------------


def test_list_latest_and_active_runs(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    assert journal.list_runs() == []
    assert journal.latest_run() is None and journal.active_run() is None
    ids = []
    for hour, end in enumerate(["finished", None, "stopped"]):
        with make_run(journal, WALL_NS + hour * 3600 * NS_PER_S) as writer:
            if end:
                writer.finish(end, "done", WALL_NS + (hour + 1) * 3600 * NS_PER_S)
            ids.append(writer.info.id)
    assert ids == ["20250615-150640", "20250615-160640", "20250615-170640"]
    assert [run.id for run in journal.list_runs()] == ids[::-1]
    latest = journal.latest_run()
    active = journal.active_run()
    assert latest is not None and latest.id == ids[2]
    assert active is not None and active.id == ids[1]


def test_newest_first_follows_real_time_not_local_time_ids(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal, WALL_NS) as writer:
        earlier = writer.info.id
    # The zone moved east by two hours (travel, DST): the later run's id sorts first.
    os.environ["TZ"] = "UTC-2"
    time.tzset()
    with make_run(journal, WALL_NS + 1800 * NS_PER_S) as writer:
        later = writer.info.id
    os.environ["TZ"] = "UTC"
    time.tzset()
    with make_run(journal, WALL_NS + 3600 * NS_PER_S) as writer:
        newest = writer.info.id
    assert (earlier, later, newest) == ("20250615-150640", "20250615-173640", "20250615-160640")
    assert newest < later
    assert [run.id for run in journal.list_runs()] == [newest, later, earlier]


def test_unreadable_runs_are_skipped_not_fatal(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        good = writer.info
    broken = {
        "garbage": b"this is = = not toml",
        "no-settings": b'id = "x"\nstate = "active"\n',
        "bad-state": good.run_file.read_bytes().replace(b'"active"', b'"sleeping"'),
        "bad-settings": good.run_file.read_bytes().replace(b'interval = "10s"', b"interval = 3"),
        "no-anchor": good.run_file.read_bytes().replace(b"anchor_ns", b"anchor"),
        "not-utf8": b"\xff\xfe",
    }
    for name, content in broken.items():
        (journal.runs_dir / name).mkdir()
        (journal.runs_dir / name / "run.toml").write_bytes(content)
    (journal.runs_dir / "no-run-toml").mkdir()
    (journal.runs_dir / "stray-file").write_text("hello")
    (journal.runs_dir / ".hidden").mkdir()
    assert journal.list_runs() == [good]
    assert journal.active_run() == good
    for name in broken:
        with pytest.raises(LapseError, match="cannot be read"):
            journal.get_run(name)


@pytest.mark.parametrize("run_id", ["20990101-000000", "../runs", "..", "", "a/b", "/etc"])
def test_an_unknown_run_is_a_clear_error(tmp_path: Path, run_id: str) -> None:
    journal = Journal(tmp_path)
    with make_run(journal):
        pass
    message = "no run named .*; `lapse log` lists the runs"
    for call in (
        journal.get_run,
        journal.read_frames,
        journal.last_frame,
        partial(open_run, journal),
    ):
        with pytest.raises(LapseError, match=message):
            call(run_id)


def test_only_an_active_run_can_be_reopened(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        writer.finish("stopped", "stopped from the CLI", WALL_NS)
    with pytest.raises(LapseError, match="already ended"):
        open_run(journal, writer.info.id)


def test_a_run_has_one_writer_at_a_time(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    writer = make_run(journal)
    with pytest.raises(LapseError, match="another lapse daemon"):
        open_run(journal, writer.info.id)
    writer.close()
    with open_run(journal, writer.info.id) as again:
        assert again.info == writer.info


def test_run_info_refuses_nonsense(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="state"):
        RunInfo("x", tmp_path, "paused", SETTINGS, 0, 0, "b", wall_iso(WALL_NS), "rig")
    with pytest.raises(ValueError, match="anchor_ns"):
        RunInfo("x", tmp_path, "active", SETTINGS, True, 0, "b", wall_iso(WALL_NS), "rig")


# --- properties --------------------------------------------------------------------------------

nanoseconds = st.integers(min_value=-(2**62), max_value=2**62)
texts = st.none() | st.text(min_size=1, max_size=12)


@st.composite
def frame_records(draw: st.DrawFn) -> FrameRecord:
    status = draw(st.sampled_from(FRAME_STATUSES))
    if status == "ok":
        fired: int | None = draw(nanoseconds)
    elif status in RANGE_STATUSES:
        fired = None
    else:
        fired = draw(st.none() | nanoseconds)
    return FrameRecord(
        frame=draw(st.integers(min_value=0, max_value=2**40)),
        due_ns=draw(nanoseconds),
        fired_ns=fired,
        wall=wall_iso(draw(st.integers(min_value=0, max_value=4_000_000_000 * NS_PER_S))),
        status=status,
        file=draw(texts),
        error=draw(texts),
    )


batches = st.lists(st.lists(frame_records(), max_size=5), max_size=6)


def numbered(batches: list[list[FrameRecord]]) -> list[list[FrameRecord]]:
    """The batches with frames 0, 1, 2… in file order, as a run writes its slots."""
    slots = iter(range(10**6))
    return [[replace(record, frame=next(slots)) for record in batch] for batch in batches]


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(batches=batches)
def test_any_batches_read_back_equal(batches: list[list[FrameRecord]]) -> None:
    batches = numbered(batches)
    with tempfile.TemporaryDirectory() as folder:
        journal = Journal(Path(folder))
        with make_run(journal) as writer:
            for batch in batches:
                writer.append(batch)
            run_id = writer.info.id
        records = [record for batch in batches for record in batch]
        assert journal.read_frames(run_id) == records
        assert journal.last_frame(run_id) == (records[-1] if records else None)


@PROPERTY
@given(batches=batches, cut=st.floats(min_value=0, max_value=1), extra=frame_records())
def test_a_cut_at_any_byte_reads_as_a_prefix_and_resumes_cleanly(
    batches: list[list[FrameRecord]], cut: float, extra: FrameRecord
) -> None:
    batches = numbered(batches)
    records = [record for batch in batches for record in batch]
    with tempfile.TemporaryDirectory() as folder:
        journal = Journal(Path(folder))
        with make_run(journal) as writer:
            for batch in batches:
                writer.append(batch)
            info = writer.info
        data = info.frames_path.read_bytes()
        offset = round(cut * len(data))
        os.truncate(info.frames_path, offset)
        complete_lines = data[:offset].count(b"\n")

        read = journal.read_frames(info.id)
        assert read == records[: len(read)]
        # Every complete line is a frame; a cut that spared a whole record's
        # closing brace (and only its newline) keeps that record too.
        assert len(read) in (complete_lines, complete_lines + 1)
        assert journal.last_frame(info.id) == (read[-1] if read else None)

        extra = replace(extra, frame=read[-1].frame + 1 if read else 0)
        with open_run(journal, info.id) as writer:
            writer.append([extra])
        assert journal.read_frames(info.id) == [*read, extra]
        scan = journal.scan_frames(info.id)
        assert scan.skipped == () and not scan.torn_tail


# --- later lines for a frame (a camera's file, or its failure) ------------------------------


def test_a_later_line_for_a_frame_completes_it(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        writer.append([frame(0), frame(1)])
        writer.append([replace(frame(0), file="frame-000000-DSC_0001.jpg"), frame(2)])
        writer.append([replace(frame(1), status="error", error="the camera stopped answering")])
        run_id = writer.info.id
    read = journal.read_frames(run_id)
    assert [record.frame for record in read] == [0, 1, 2]
    assert read[0].file == "frame-000000-DSC_0001.jpg"
    assert read[1].status == "error" and read[1].error == "the camera stopped answering"
    assert journal.frame_counts(run_id) == {
        "ok": 2,
        "missed": 0,
        "error": 1,
        "unknown": 0,
        "skipped": 0,
    }
    # The raw scan keeps every line: the history of a frame is in the file.
    assert len(journal.scan_frames(run_id).records) == 5
    # The newest slot, not the last line (which completes frame 1).
    assert journal.last_frame(run_id) == frame(2)


def test_last_frame_finds_the_newest_slot_behind_later_lines(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with make_run(journal) as writer:
        writer.append([frame(k) for k in range(200)])
        late = [replace(frame(k), file=f"f{k}.jpg") for k in range(200 - AMEND_WINDOW + 1, 200)]
        writer.append(late)
        run_id = writer.info.id
    assert journal.last_frame(run_id) == replace(frame(199), file="f199.jpg")
