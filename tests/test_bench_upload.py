"""The upload benchmark's pure helpers (bench/upload.py) and its --help; the benchmark
itself is run by hand, never here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench._common import REPO_ROOT
from bench.upload import (
    busy_share,
    compare_folder,
    mb_per_s,
    parse_args,
    saved_files,
    sftp_batch,
)


def test_throughput_is_in_millions_of_bytes_a_second() -> None:
    assert mb_per_s(400_000_000, 4.0) == 100.0
    assert mb_per_s(1, 0.0) != mb_per_s(1, 0.0)  # NaN: no time, no figure


def test_the_sftp_batch_makes_the_folders_then_puts_each_file(tmp_path: Path) -> None:
    files = [tmp_path / "frame-000000.jpg", tmp_path / "frame-000001.jpg"]
    assert sftp_batch(files, "r1-sftp").splitlines() == [
        "-mkdir r1-sftp",
        "-mkdir r1-sftp/bench",
        f"put {files[0]} r1-sftp/bench/frame-000000.jpg",
        f"put {files[1]} r1-sftp/bench/frame-000001.jpg",
    ]


def test_a_folder_on_the_server_must_hold_the_same_bytes_and_nothing_else(tmp_path: Path) -> None:
    local, remote = tmp_path / "local", tmp_path / "remote"
    local.mkdir()
    remote.mkdir()
    files = []
    for name, data in (("a.jpg", b"aaa"), ("b.jpg", b"bbb"), ("c.jpg", b"ccc")):
        (local / name).write_bytes(data)
        files.append(local / name)
    (remote / "a.jpg").write_bytes(b"aaa")
    (remote / "b.jpg").write_bytes(b"bbX")
    (remote / ".c.jpg.part").write_bytes(b"cc")
    assert compare_folder(files, remote) == [
        "b.jpg differs (3 bytes)",
        "c.jpg missing",
        ".c.jpg.part should not be there",
    ]
    (remote / "b.jpg").write_bytes(b"bbb")
    (remote / ".c.jpg.part").rename(remote / "c.jpg")
    (remote / "c.jpg").write_bytes(b"ccc")
    assert compare_folder(files, remote) == []


def test_every_file_the_journal_names_is_owed_to_the_server(tmp_path: Path) -> None:
    journal = tmp_path / "frames.jsonl"
    journal.write_text(
        '{"frame": 0, "status": "ok", "file": null}\n'
        '{"frame": 0, "status": "ok", "file": "frame-000000-A.jpg"}\n'
        '{"frame": 1, "status": "ok", "file": "frame-000001-B.jpg"}\n'
        '{"frame": 1, "status": "ok", "file": "frame-000001-C.jpg"}\n'
        '{"frame": 2, "status": "ok", "file": "card:/store/D.jpg"}\n'
        '{"frame": 1, "status": "ok", "file": "frame-000001-C.jpg"}\n'
    )
    # A frame's second file too; none left on the card, none twice.
    assert saved_files(journal) == [
        "frame-000000-A.jpg",
        "frame-000001-B.jpg",
        "frame-000001-C.jpg",
    ]


def test_the_busy_share_leaves_out_idle_and_iowait() -> None:
    before = [100, 0, 100, 1000, 0, 0, 0, 0, 0, 0]
    after = [200, 0, 200, 1150, 50, 0, 0, 0, 0, 0]
    assert busy_share(before, after) == pytest.approx(200 / 400 * 100)


def test_the_arguments_have_the_issue_s_defaults_and_refuse_nonsense() -> None:
    args = parse_args([])
    assert (args.files, args.size, args.rounds, args.transfers) == (200, 2_000_000, 3, 4)
    assert args.parts == ["throughput", "timing"]
    with pytest.raises(SystemExit):
        parse_args(["--rounds", "0"])


def test_help_says_what_it_measures() -> None:
    done = subprocess.run(
        [sys.executable, "bench/upload.py", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "sftp" in done.stdout and "--rounds" in done.stdout
