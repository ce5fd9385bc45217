"""No symbolic links in the journal (docs/architecture.md §7).

A ``frames.jsonl``, a ``run.toml`` or a run folder that is a symbolic link is refused
with one line naming the run and what is a link, never followed: readers do not read
through it (a list of runs leaves the run out and says so), the daemon's writer neither
appends through it, nor cuts it, nor writes ``run.toml`` through it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from core.atomic import NOT_FOLLOWED
from core.daemon.journal_writer import RunWriter, create_run, open_run
from core.journal import Journal, LinkRefused
from core.model.durations import NS_PER_S, wall_iso
from core.model.records import FrameRecord, parse_frame_line
from core.model.settings import Settings
from tests.conftest import Lapse

WALL_NS = 1_800_000_000 * NS_PER_S
FRAME_LINE = (
    FrameRecord(frame=0, due_ns=5, fired_ns=6, wall=wall_iso(WALL_NS), status="ok").to_json() + "\n"
)
"""A valid frame line: were a link followed, a reader would find a frame in it."""

pytestmark = pytest.mark.usefixtures("utc")


def new_run(journal: Journal, created_wall_ns: int = WALL_NS) -> RunWriter:
    return create_run(
        journal,
        settings=Settings(interval_ns=10 * NS_PER_S),
        anchor_ns=5,
        anchor_wall_ns=created_wall_ns,
        boot_id="boot",
        created_wall_ns=created_wall_ns,
        rig="simulated",
    )


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "state")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the journal that a link points at."""
    target = tmp_path / "elsewhere.txt"
    target.write_text(FRAME_LINE + "half a li")
    return target


def refused(run_id: str, what: str) -> str:
    return f"run {run_id}: {what} {NOT_FOLLOWED}"


def test_a_linked_frames_file_is_refused_by_readers_and_the_writer(
    journal: Journal, outside: Path
) -> None:
    with new_run(journal) as writer:
        run_id, frames = writer.info.id, writer.info.frames_path
    frames.unlink()
    frames.symlink_to(outside)
    said = refused(run_id, "frames.jsonl")
    for read in (
        journal.scan_frames,
        journal.read_frames,
        journal.last_frame,
        journal.frame_counts,
    ):
        with pytest.raises(LinkRefused) as error:
            read(run_id)
        assert str(error.value) == said, read.__name__
    with pytest.raises(LinkRefused) as error:
        open_run(journal, run_id)
    assert str(error.value) == said
    assert outside.read_text() == FRAME_LINE + "half a li", "not cut, not appended to"


def test_a_linked_run_file_is_refused_left_out_of_the_list_and_never_resumed(
    journal: Journal, outside: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with new_run(journal) as writer:
        run_id, run_file = writer.info.id, writer.info.run_file
    elsewhere = outside.with_name("run.toml")
    shutil.move(run_file, elsewhere)
    run_file.symlink_to(elsewhere)
    said = refused(run_id, "run.toml")
    with pytest.raises(LinkRefused) as error:
        journal.get_run(run_id)
    assert str(error.value) == said
    with caplog.at_level(logging.WARNING, "lapse.journal"):
        assert journal.list_runs() == []
        assert journal.active_run() is None, "nothing for a daemon to resume"
    assert caplog.messages == [f"{said}: left out", f"{said}: left out"]
    with pytest.raises(LinkRefused):
        open_run(journal, run_id)


def test_the_writer_does_not_write_run_toml_through_a_link(journal: Journal, outside: Path) -> None:
    writer = new_run(journal)
    with writer:
        run_file = writer.info.run_file
        run_file.unlink()
        run_file.symlink_to(outside)
        with pytest.raises(OSError) as error:
            writer.finish("stopped", "stopped by the photographer", WALL_NS + NS_PER_S)
    assert error.value.strerror == NOT_FOLLOWED
    assert writer.info.state == "active", "unchanged when the end could not be written"
    assert run_file.is_symlink() and outside.read_text() == FRAME_LINE + "half a li"


def test_a_linked_run_folder_is_refused_and_left_out_of_the_list(
    journal: Journal, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with new_run(journal) as writer:
        kept = writer.info.id
    other = Journal(tmp_path / "other")
    with new_run(other, WALL_NS + 60 * NS_PER_S) as writer:
        writer.append([parse_frame_line(FRAME_LINE.encode())])
        linked_id, target = writer.info.id, writer.info.path
    (journal.runs_dir / linked_id).symlink_to(target, target_is_directory=True)
    said = refused(linked_id, "its folder")
    with caplog.at_level(logging.WARNING, "lapse.journal"):
        assert [run.id for run in journal.list_runs()] == [kept]
    assert caplog.messages == [f"{said}: left out"]
    for read in (journal.get_run, journal.scan_frames, journal.last_frame):
        with pytest.raises(LinkRefused) as error:
            read(linked_id)
        assert str(error.value) == said, read.__name__
    with pytest.raises(LinkRefused) as error:
        open_run(journal, linked_id)
    assert str(error.value) == said
    assert other.get_run(linked_id).state == "active", "the folder linked to is untouched"


def test_lapse_log_says_in_one_line_that_a_linked_run_is_refused(lapse: Lapse) -> None:
    journal = lapse.journal
    with new_run(journal) as writer:
        kept = writer.info.id
    other = Journal(lapse.root / "other")
    with new_run(other, WALL_NS + 60 * NS_PER_S) as writer:
        linked_id, target = writer.info.id, writer.info.path
    (journal.runs_dir / linked_id).symlink_to(target, target_is_directory=True)
    said = refused(linked_id, "its folder")
    shown = lapse.cli("log", linked_id)
    assert (shown.returncode, shown.stdout, shown.stderr) == (1, "", f"lapse: {said}\n")
    listed = lapse.cli("log")
    assert listed.returncode == 0
    assert listed.stderr == f"{said}: left out\n"
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [kept]


def test_a_run_folder_swapped_for_a_link_after_it_was_read_is_not_followed(
    journal: Journal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with new_run(journal) as writer:
        info = writer.info
    moved = tmp_path / "moved"
    shutil.move(info.path, moved)
    info.path.symlink_to(moved, target_is_directory=True)
    # What the writer read a moment before the swap.
    monkeypatch.setattr(Journal, "get_run", lambda self, run_id: info)
    with pytest.raises(LinkRefused) as error:
        open_run(journal, info.id)
    assert str(error.value) == refused(info.id, "its folder")
