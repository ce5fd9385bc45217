"""A frame's file on disk: lapse's own safe name, ``.part`` then rename, a full disk."""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import sleep_ns
from core.model.camera import CameraChanged, CameraConfig, FileSaved
from core.model.durations import NS_PER_MS, NS_PER_S
from core.model.settings import MAX_FRAMES, Settings
from hw.camera import files
from hw.camera.files import PART_SUFFIX, DiskFull, safe_file_name, save_file
from tests.camera_faults import World, events_of, faulty_camera, shoot
from tests.fake_time import script

HOSTILE = [
    "../../etc/passwd",
    "/etc/shadow",
    "..\\..\\Windows\\win.ini",
    "DSC_0001.JPG\x00.sh",
    "\x1b[31mRED\x1b[0m.JPG",
    "line\nbreak\r.NEF",
    "..",
    "",
    "ÉTÉ_ñ.jpg",
    "a" * 300 + ".jpg",
    "x.tar.gz/../../y.JPG",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_camera_name_stays_inside_the_run_folder(tmp_path: Path, name: str) -> None:
    safe = safe_file_name(7, name)
    assert safe.startswith("frame-000007")
    assert "/" not in safe and "\\" not in safe and safe not in (".", "..")
    assert safe.isprintable() and safe.isascii() and len(safe) < 80
    path = save_file(tmp_path, safe, b"data", reserve_bytes=0)
    assert path.parent == tmp_path and path.read_bytes() == b"data"


# The camera's extension is the one part of its name that survives to the end of
# lapse's; each of these must end as a short extension of letters and digits.
HOSTILE_EXTENSIONS = [
    # (the camera's name, lapse's name for frame 7)
    ("DSC_0001.\x1b[31mJPG", "frame-000007-DSC_0001.bin"),  # an escape sequence
    ("DSC_0001.JPG\x1b[0m", "frame-000007-DSC_0001.bin"),
    ("DSC_0001.J/PG", "frame-000007-PG.bin"),  # a slash: only the last part is a name
    ("DSC_0001.J\\PG", "frame-000007-PG.bin"),  # a backslash, the same on some cards
    ("DSC_0001.", "frame-000007-DSC_0001.bin"),  # a dot and nothing after it
    ("DSC_0001..", "frame-000007-DSC_0001.bin"),
    ("DSC_0001...JPG", "frame-000007-DSC_0001.jpg"),
    ("DSC_0001.J.P.G", "frame-000007-DSC_0001_J_P.g"),
    (".JPG", "frame-000007.jpg"),  # all extension, no stem
    (".", "frame-000007.bin"),
    ("DSC_0001." + "J" * 300, "frame-000007-DSC_0001.bin"),  # over-long
    ("DSC_0001.JPEG2", "frame-000007-DSC_0001.jpeg2"),  # five is the longest kept
    ("DSC_0001.JPEG20", "frame-000007-DSC_0001.bin"),
    ("DSC_0001.ＪＰＧ", "frame-000007-DSC_0001.jpg"),  # fullwidth letters fold to ASCII
    ("DSC_0001.日本", "frame-000007-DSC_0001.bin"),  # nothing ASCII in it
    ("DSC_0001.ÉTÉ", "frame-000007-DSC_0001.ete"),
    ("DSC_0001.J\u202ePG", "frame-000007-DSC_0001.jpg"),  # a right-to-left override
    ("DSC_0001.JPG\x00", "frame-000007-DSC_0001.bin"),  # NUL
    ("DSC_0001.\x00", "frame-000007-DSC_0001.bin"),
    ("DSC_0001.JP G", "frame-000007-DSC_0001.bin"),  # a space
    ("DSC_0001.JPG\n", "frame-000007-DSC_0001.bin"),
    ("DSC_0001", "frame-000007-DSC_0001.bin"),  # no extension at all
    ("DSC_0001.part", "frame-000007-DSC_0001.bin"),  # lapse's own mark of an unfinished file
    ("DSC_0001.PART", "frame-000007-DSC_0001.bin"),
]


@pytest.mark.parametrize(("name", "expected"), HOSTILE_EXTENSIONS)
def test_a_hostile_extension_ends_as_a_plain_one(tmp_path: Path, name: str, expected: str) -> None:
    assert safe_file_name(7, name) == expected
    path = save_file(tmp_path, expected, b"data", reserve_bytes=0)
    assert path == tmp_path / expected and os.listdir(tmp_path) == [expected]


SAFE_NAME = re.compile(r"frame-(\d{6,})(-[A-Za-z0-9_-]+)?\.[a-z0-9]{1,5}")
"""The shape of every name lapse makes: ``frame-000042-DSC_0042.jpg``."""

extensions = st.one_of(st.text(), st.sampled_from(["JPG", "nef", "part", "PART", "", "."]))
camera_names = st.one_of(
    st.text(),
    # Names with a dot, so the part after it (the extension) gets arbitrary text too.
    st.tuples(st.text(), extensions).map(".".join),
    st.tuples(st.text(max_size=8), st.text(max_size=8), st.text(max_size=8)).map("/.".join),
)


# No deadline: each example saves (and fsyncs) a file, which a busy disk can hold up for
# longer than hypothesis's 200 ms.
@settings(deadline=None)
@given(frame=st.integers(0, MAX_FRAMES), name=camera_names)
def test_any_camera_name_ends_as_a_plain_name_inside_the_folder(frame: int, name: str) -> None:
    safe = safe_file_name(frame, name)
    assert safe.isascii() and safe.isprintable(), safe
    assert "/" not in safe and "\\" not in safe and safe not in (".", "..")
    assert safe.startswith(f"frame-{frame:06d}")
    assert not safe.endswith(PART_SUFFIX), "a finished file never looks unfinished"
    assert SAFE_NAME.fullmatch(safe), safe
    with tempfile.TemporaryDirectory() as folder:
        path = save_file(Path(folder), safe, b"data", reserve_bytes=0)
        assert path == Path(folder) / safe
        assert os.listdir(folder) == [safe]


def test_names_keep_what_is_useful() -> None:
    assert safe_file_name(42, "DSC_0042.NEF") == "frame-000042-DSC_0042.nef"
    assert safe_file_name(0, "/store_00010001/DCIM/100GPHOT/GPH_0099.JPG") == (
        "frame-000000-GPH_0099.jpg"
    )
    assert safe_file_name(3, "../../etc/passwd") == "frame-000003-passwd.bin"


def test_the_reserve_is_kept_and_nothing_is_left_behind(tmp_path: Path) -> None:
    with pytest.raises(DiskFull, match="disk is full"):
        save_file(tmp_path, "f.jpg", b"x" * 100, reserve_bytes=1000, free=lambda _: 1050)
    assert list(tmp_path.iterdir()) == []


def test_a_hostile_name_from_the_camera_lands_safely(tmp_path: Path) -> None:
    world = World(rename=lambda name: "../../etc/passwd\x07")
    camera = faulty_camera(world, CameraConfig(trigger="usb"), tmp_path / "virtual")
    run = tmp_path / "run"
    run.mkdir()
    events: list[Any] = []

    def steps() -> None:
        camera.prepare(Settings(interval_ns=NS_PER_S))
        camera.begin_run(run, events.append)
        camera.shutter(0, True)
        camera.shutter(0, False)
        camera.end_run()

    try:
        script(world.clock, steps)
    finally:
        camera.close()
    saved = events_of(FileSaved, events)
    assert [event.file for event in saved] == ["frame-000000-passwd.bin"]
    assert [p.name for p in run.iterdir()] == ["frame-000000-passwd.bin"]
    assert not (tmp_path / "etc").exists()


def test_a_full_disk_pauses_downloads_and_never_the_trigger(tmp_path: Path) -> None:
    free = {"bytes": 10_000_000}  # 10 MB: below the 200 MB reserve
    world = World()
    camera = faulty_camera(
        world,
        CameraConfig(trigger="usb"),
        tmp_path / "virtual",
        free=lambda _: free["bytes"],
        disk_retry_s=0.05,
    )
    run = tmp_path / "run"
    run.mkdir()
    events: list[Any] = []
    clock = world.clock

    # The steps script the camera in the clock's time: 200 ms between frames, and time
    # moves only while they wait on the clock.
    def steps() -> None:
        shoot(camera, clock, run, events, frames=4, interval_ns=200 * NS_PER_MS)
        # Every trigger reached the camera although nothing could be saved.
        assert [frame for frame, _ in world.triggers] == [0, 1, 2, 3]
        assert events_of(FileSaved, events) == []
        status = camera.status()
        assert status.downloads == "paused" and "disk is full" in (status.paused or "")
        assert status.waiting == 4
        paused = events_of(CameraChanged, events)
        assert paused and paused[0].fault and "disk is full" in paused[0].message
        # Room again, between two of the camera thread's looks for files (every 200 ms,
        # from each shutter).
        sleep_ns(clock, 100 * NS_PER_MS)
        free["bytes"] = 10_000_000_000
        room_at = clock.now_ns()
        while len(events_of(FileSaved, events)) < 4:
            assert clock.now_ns() - room_at < 10 * NS_PER_S, "the files were not fetched"
            sleep_ns(clock, 10 * NS_PER_MS)
        # They waited for the next look for room (disk_retry_s), no longer.
        assert clock.now_ns() - room_at <= 60 * NS_PER_MS
        camera.end_run()

    try:
        script(clock, steps)
    finally:
        camera.close()
    assert [event.frame for event in events_of(FileSaved, events)] == [0, 1, 2, 3]
    assert len(list(run.iterdir())) == 4
    assert camera.status().downloads == "on"
    resumed = [e for e in events_of(CameraChanged, events) if not e.fault]
    assert resumed and "resumed" in resumed[-1].message


def test_a_run_that_ends_on_a_full_disk_ends_at_once_and_leaves_the_files_on_the_camera(
    tmp_path: Path,
) -> None:
    world = World()
    camera = faulty_camera(
        world,
        CameraConfig(trigger="usb"),
        tmp_path / "virtual",
        free=lambda _: 10_000_000,  # 10 MB: below the 200 MB reserve, for good
        disk_retry_s=60.0,
    )
    run = tmp_path / "run"
    run.mkdir()
    events: list[Any] = []
    clock = world.clock
    took: list[int] = []

    def steps() -> None:
        shoot(camera, clock, run, events, frames=3, interval_ns=200 * NS_PER_MS)
        assert camera.status().waiting == 3
        ending = clock.now_ns()
        camera.end_run()
        took.append(clock.now_ns() - ending)

    try:
        script(clock, steps)
    finally:
        camera.close()
    # The end of the run does not wait for room that is not coming: the files stay on
    # the camera's card, each frame's line says where, and nothing (not even a .part)
    # is left in the run's folder.
    assert took and took[0] < NS_PER_S, took
    kept = events_of(FileSaved, events)
    assert [saved.frame for saved in kept] == [0, 1, 2]
    assert all(saved.file.startswith("card:/") and saved.size == 0 for saved in kept), kept
    assert list(run.iterdir()) == []


def test_a_file_is_fsynced_before_it_gets_its_name_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # README: lapse writes ….part, fsyncs and renames. After a power cut a file with its
    # final name is whole, and the name itself survives.
    done: list[tuple[str, ...]] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        done.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(source: Any, target: Any) -> None:
        done.append(("rename", str(source), str(target)))
        real_rename(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    path = save_file(tmp_path, "frame-000001-A.jpg", b"data", reserve_bytes=0)
    monkeypatch.undo()
    part = f"{path}{PART_SUFFIX}"
    renamed = done.index(("rename", part, str(path)))
    assert ("fsync", part) in done[:renamed], done
    assert ("fsync", str(tmp_path)) in done[renamed + 1 :], done


def test_no_file_of_the_same_name_ever_replaces_an_earlier_one(tmp_path: Path) -> None:
    saved = [
        save_file(tmp_path, "frame-000001-A.jpg", bytes([n]), reserve_bytes=0) for n in range(4)
    ]
    assert [p.name for p in saved] == [
        "frame-000001-A.jpg",
        "frame-000001-A-2.jpg",
        "frame-000001-A-3.jpg",
        "frame-000001-A-4.jpg",
    ]
    assert [p.read_bytes() for p in saved] == [bytes([n]) for n in range(4)]


def test_a_disk_that_fills_during_the_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The free space looked fine, then the disk filled up mid-write (another writer):
    # the download waits (DiskFull), and no .part is left in the run's folder.
    class FillingDisk:
        def __getattr__(self, name: str) -> Any:
            return getattr(os, name)

        @staticmethod
        def write(fd: int, data: Any) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "os", FillingDisk())
    with pytest.raises(DiskFull, match="disk is full"):
        save_file(tmp_path, "frame-000001-A.jpg", b"x" * 100, reserve_bytes=0, free=lambda _: 10**9)
    assert list(tmp_path.iterdir()) == []
