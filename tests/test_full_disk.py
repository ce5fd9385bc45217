"""A full disk under the state directory, on the real controller, journal and simulated
rig in fake time (docs/architecture.md §7, §9).

- A stop is a stop: the state directory keeps a space reserve, given up to make room
  for ``run.toml`` when the disk is full, so the stop is recorded and no later daemon
  resumes the run. A stop that cannot be recorded all the same is refused with one
  line (``lapse stop`` exits 1): the outputs are released, the run is left
  interrupted, and a stop once there is room records it.
- Fired frames are never dropped from the journal: lines the journal cannot take wait
  in memory and are written, in order and once each, when there is room (on the next
  frame, or on a quiet timer when the next frame is far off); the fault is shown
  meanwhile and cleared then. Beyond :data:`MAX_UNWRITTEN` lines the oldest are given
  up and the fault says which; lines still waiting when the run ends are said lost.

A disk cannot be filled and emptied on demand in a test, so :class:`FullDisk` makes the
journal's writes fail with ENOSPC, as a full disk does, until the test makes room.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.daemon import controller as controller_module
from core.daemon import journal_writer
from core.daemon.controller import JOURNAL_RETRY_S
from core.daemon.journal_writer import RESERVE_BYTES, RESERVE_FILE, RunWriter, create_run, open_run
from core.fake_clock import FakeClock
from core.journal import Journal
from core.model.durations import MINUTE_NS, NS_PER_S
from core.model.errors import LapseError
from core.model.protocol import FaultEvent, StateEvent, Status
from core.model.records import FrameRecord
from core.model.run_state import RunState
from core.model.settings import Settings
from tests import fake_time
from tests.fake_time import Published, script
from tui import cli

EVERY_SECOND = Settings(interval_ns=NS_PER_S)


def no_space(path: object) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


class FullDisk:
    """The state directory's disk. Once :meth:`fill` ed, replacing ``run.toml`` fails with
    ENOSPC unless a space reserve that was there when it filled has been given up since,
    and appending frames fails with ENOSPC, until :meth:`make_room`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
        self.full = False
        self.reserve = state_dir / RESERVE_FILE
        self.reserved = False
        """The reserve was on the disk when it filled: deleting it makes room."""
        self.failed_appends = 0
        real_write = journal_writer.write_atomic
        real_append = RunWriter.append

        def write_atomic(path: Path, data: bytes, **options: Any) -> None:
            if self.full and not (self.reserved and not self.reserve.exists()):
                raise no_space(path)
            real_write(path, data, **options)

        def append(writer: RunWriter, records: Any) -> None:
            if self.full and records:
                self.failed_appends += 1
                raise no_space(writer.info.frames_path)
            real_append(writer, records)

        monkeypatch.setattr(journal_writer, "write_atomic", write_atomic)
        monkeypatch.setattr(RunWriter, "append", append)

    def fill(self, *, keep_reserve: bool = True) -> None:
        """The disk is full from now (with ``keep_reserve=False``, the reserve is lost too:
        a disk so full it could never be kept)."""
        if not keep_reserve:
            self.reserve.unlink(missing_ok=True)
        self.reserved = self.reserve.exists()
        self.full = True

    def make_room(self) -> None:
        """The photographer freed some space."""
        self.full = False


class Daemon(fake_time.Daemon):
    """The daemon's side in this process on a disk that can fill up."""

    def __init__(self, state_dir: Path, clock: FakeClock, disk: FullDisk) -> None:
        super().__init__(state_dir, clock, published=Published(clock, ends=()))
        self.disk = disk

    def close(self) -> None:
        self.disk.make_room()
        super().close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FullDisk:
    return FullDisk(monkeypatch, tmp_path / "state")


@pytest.fixture
def make_daemon(tmp_path: Path, clock: FakeClock, disk: FullDisk) -> Iterator[Callable[[], Daemon]]:
    made: list[Daemon] = []

    def make() -> Daemon:
        made.append(Daemon(tmp_path / "state", clock, disk))
        return made[-1]

    yield make
    for daemon in made:
        daemon.close()


def run_then(clock: FakeClock, daemon: Daemon, then: Callable[[Status], Any]) -> Any:
    """Start a run every second, let frames 0–2 fire, and call ``then`` (in fake time)."""
    answer: list[Any] = []

    def steps() -> None:
        started = daemon.controller.start(EVERY_SECOND)
        assert started.run is not None
        clock.wait_until(started.run.anchor_ns + 2 * NS_PER_S + NS_PER_S // 2)
        answer.append(then(started))

    script(clock, steps)
    return answer[0]


def reserved_bytes(path: Path) -> int:
    return os.stat(path).st_blocks * 512


# -- a stop is a stop ---------------------------------------------------------------------------
def test_the_reserve_is_kept_when_a_run_is_created_and_when_it_resumes(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    reserve = journal.state_dir / RESERVE_FILE
    with create_run(
        journal,
        settings=EVERY_SECOND,
        anchor_ns=0,
        anchor_wall_ns=1_800_000_000 * NS_PER_S,
        boot_id="boot",
        created_wall_ns=1_800_000_000 * NS_PER_S,
        rig="simulated",
    ) as writer:
        run_id = writer.info.id
    assert reserved_bytes(reserve) >= RESERVE_BYTES, "real blocks, not a sparse file"
    reserve.unlink()
    with open_run(journal, run_id):
        pass
    assert reserved_bytes(reserve) >= RESERVE_BYTES


def test_a_reserve_that_cannot_be_kept_is_logged_and_the_run_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def full(fd: int, offset: int, size: int) -> None:
        raise no_space("space-reserve")

    monkeypatch.setattr(os, "posix_fallocate", full)
    journal = Journal(tmp_path / "state")
    with caplog.at_level(logging.WARNING, "lapse.daemon"):
        create_run(
            journal,
            settings=EVERY_SECOND,
            anchor_ns=0,
            anchor_wall_ns=1_800_000_000 * NS_PER_S,
            boot_id="boot",
            created_wall_ns=1_800_000_000 * NS_PER_S,
            rig="simulated",
        ).close()
    assert not (journal.state_dir / RESERVE_FILE).exists(), "no partial reserve is left"
    assert [run.state for run in journal.list_runs()] == ["active"]
    (said,) = caplog.messages
    assert said.startswith("could not keep 256 KiB in reserve (No space left on device)")


def test_a_stop_on_a_full_disk_is_recorded_in_the_room_the_reserve_made(
    make_daemon: Callable[[], Daemon], clock: FakeClock, disk: FullDisk
) -> None:
    daemon = make_daemon()

    def stop_on_a_full_disk(started: Status) -> Status:
        disk.fill()
        return daemon.controller.stop()

    stopped = run_then(clock, daemon, stop_on_a_full_disk)
    assert stopped.state is RunState.STOPPED
    (run,) = daemon.journal.list_runs()
    assert (run.state, run.end_reason) == ("stopped", "stopped by the photographer")
    assert not disk.reserve.exists(), "the reserve was given up for the stop"
    assert set(daemon.rig.outputs().values()) == {0.0}
    assert daemon.journal.active_run() is None, "nothing for a later daemon to resume"


def test_a_stop_that_cannot_be_recorded_is_refused_in_one_line_and_a_later_stop_records_it(
    make_daemon: Callable[[], Daemon], clock: FakeClock, disk: FullDisk
) -> None:
    daemon = make_daemon()

    def stop_on_a_full_disk(started: Status) -> str:
        disk.fill(keep_reserve=False)
        with pytest.raises(LapseError) as refused:
            daemon.controller.stop()
        return str(refused.value)

    said = run_then(clock, daemon, stop_on_a_full_disk)
    assert said == (
        "the run stopped and every output is off, but the stop could not be recorded"
        " (No space left on device): a daemon started later would resume it; free some"
        " space in the state directory and run `lapse stop` again"
    )
    assert set(daemon.rig.outputs().values()) == {0.0}, "the outputs are released all the same"
    status = daemon.controller.status()
    assert status.state is RunState.INTERRUPTED, "never shown stopped while run.toml is active"
    assert status.fault == said
    (run,) = daemon.journal.list_runs()
    assert run.state == "active"
    # The photographer makes room and stops again.
    disk.make_room()
    stopped = daemon.controller.stop()
    assert (stopped.state, stopped.fault) == (RunState.STOPPED, None)
    assert stopped.run is not None and stopped.run.id == run.id
    assert daemon.journal.get_run(run.id).state == "stopped"
    assert daemon.journal.active_run() is None


def test_lapse_stop_exits_1_with_one_line_when_the_stop_could_not_be_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    said = "the run stopped and every output is off, but the stop could not be recorded"

    class RefusingClient:
        """A daemon that answers ``stop`` as the controller above does on a full disk."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def connect(self) -> RefusingClient:
            return self

        def __enter__(self) -> RefusingClient:
            return self

        def __exit__(self, *exc_info: object) -> None:
            pass

        def stop(self) -> Status:
            raise cli.DaemonRefused(said)

    monkeypatch.setattr(cli, "daemon_answers", lambda *args, **kwargs: object())
    monkeypatch.setattr(cli, "Client", RefusingClient)
    env = {"LAPSE_STATE_DIR": str(tmp_path / "state"), "LAPSE_SOCKET": str(tmp_path / "s")}
    assert cli.main(["stop"], env) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"lapse: {said}\n")


# -- fired frames are never dropped --------------------------------------------------------------
def journaled(daemon: Daemon, run_id: str) -> list[int]:
    """The frame of every line in the run's frames.jsonl, in file order."""
    return [record.frame for record in daemon.journal.scan_frames(run_id).records]


def test_frames_fired_on_a_full_disk_wait_and_are_written_in_order_once_there_is_room(
    make_daemon: Callable[[], Daemon], clock: FakeClock, disk: FullDisk
) -> None:
    daemon = make_daemon()
    controller = daemon.controller
    seen: dict[str, Any] = {}

    def steps() -> None:
        started = controller.start(EVERY_SECOND)
        assert started.run is not None
        anchor, run_id = started.run.anchor_ns, started.run.id
        clock.wait_until(anchor + 2 * NS_PER_S + NS_PER_S // 2)
        disk.fill()
        clock.wait_until(anchor + 40 * NS_PER_S + NS_PER_S // 2)
        seen["full"] = (controller.status(), journaled(daemon, run_id))
        disk.make_room()
        clock.wait_until(anchor + 41 * NS_PER_S + NS_PER_S // 2)
        seen["room"] = (controller.status(), journaled(daemon, run_id))
        seen["stopped"] = controller.stop()

    script(clock, steps)
    full, on_disk = seen["full"]
    assert on_disk == [0, 1, 2], "frames 3–40 wait in memory"
    assert full.fault.startswith("could not write the journal: [Errno 28] No space left on device")
    assert full.fault.endswith("; 38 frame lines wait in memory, written when there is room")
    assert full.run.counts.ok == 41
    room, on_disk = seen["room"]
    assert room.fault is None, "the fault clears once every line is written"
    assert on_disk == list(range(42)), "every frame once, in order"
    stopped = seen["stopped"]
    assert stopped.fault is None
    assert journaled(daemon, stopped.run.id) == list(range(stopped.run.counts.ok))
    faults = [event.message for event in daemon.published.of(FaultEvent)]
    assert disk.failed_appends > 0 and len(faults) == disk.failed_appends
    assert all(message.startswith("could not write the journal") for message in faults)
    last_fault = max(i for i, e in enumerate(daemon.published.events) if isinstance(e, FaultEvent))
    cleared = [
        event
        for event in daemon.published.events[last_fault:]
        if isinstance(event, StateEvent) and event.status.fault is None
    ]
    assert cleared, "clients are told the fault is over"


def test_at_a_long_interval_the_waiting_lines_are_written_before_the_next_frame(
    make_daemon: Callable[[], Daemon], clock: FakeClock, disk: FullDisk
) -> None:
    daemon = make_daemon()
    controller = daemon.controller
    seen: dict[str, Any] = {}

    def steps() -> None:
        started = controller.start(Settings(interval_ns=MINUTE_NS))
        assert started.run is not None
        anchor, run_id = started.run.anchor_ns, started.run.id
        clock.wait_until(anchor + 10 * NS_PER_S)
        disk.fill()
        clock.wait_until(anchor + MINUTE_NS + 10 * NS_PER_S)
        seen["full"] = (controller.status().fault, journaled(daemon, run_id))
        disk.make_room()
        clock.wait_until(anchor + MINUTE_NS + 11 * NS_PER_S + round(JOURNAL_RETRY_S * NS_PER_S))
        seen["room"] = (controller.status(), journaled(daemon, run_id))
        controller.stop()

    script(clock, steps)
    fault, on_disk = seen["full"]
    assert on_disk == [0] and fault.endswith(
        "; 1 frame line waits in memory, written when there is room"
    )
    room, on_disk = seen["room"]
    assert on_disk == [0, 1], "written by the quiet timer, before frame 2 is due"
    assert room.fault is None and room.run.next_frame == 2


def test_beyond_the_bound_the_oldest_waiting_lines_are_given_up_and_said(
    make_daemon: Callable[[], Daemon],
    clock: FakeClock,
    disk: FullDisk,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(controller_module, "MAX_UNWRITTEN", 5)
    daemon = make_daemon()
    controller = daemon.controller
    seen: dict[str, Any] = {}

    def steps() -> None:
        started = controller.start(EVERY_SECOND)
        assert started.run is not None
        anchor, run_id = started.run.anchor_ns, started.run.id
        clock.wait_until(anchor + 2 * NS_PER_S + NS_PER_S // 2)
        disk.fill()
        clock.wait_until(anchor + 12 * NS_PER_S + NS_PER_S // 2)
        seen["full"] = controller.status().fault
        disk.make_room()
        clock.wait_until(anchor + 13 * NS_PER_S + NS_PER_S // 2)
        seen["room"] = (controller.status().fault, journaled(daemon, run_id))
        controller.stop()

    script(clock, steps)
    lost = "5 frame lines (frames 3–7) were lost: more than 5 waited"
    assert seen["full"].endswith(
        f"; 5 frame lines wait in memory, written when there is room; {lost}"
    )
    fault, on_disk = seen["room"]
    assert fault == f"the journal is written again; {lost}", "what was lost is still said"
    assert on_disk == [0, 1, 2, 8, 9, 10, 11, 12, 13]


def test_lines_still_waiting_when_the_run_stops_are_said_lost(
    make_daemon: Callable[[], Daemon], clock: FakeClock, disk: FullDisk
) -> None:
    daemon = make_daemon()

    def stop_after_frames_on_a_full_disk(started: Status) -> Status:
        assert started.run is not None
        disk.fill()
        clock.wait_until(started.run.anchor_ns + 5 * NS_PER_S + NS_PER_S // 2)
        return daemon.controller.stop()

    stopped = run_then(clock, daemon, stop_after_frames_on_a_full_disk)
    assert stopped.state is RunState.STOPPED, "the stop is recorded (the reserve)"
    assert stopped.fault == (
        "the journal could not be written; 3 frame lines (frames 3–5) were lost:"
        " the run ended before there was room"
    )
    assert journaled(daemon, stopped.run.id) == [0, 1, 2]


def test_an_append_whose_fsync_fails_leaves_nothing_to_be_written_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "state")
    writer = create_run(
        journal,
        settings=EVERY_SECOND,
        anchor_ns=0,
        anchor_wall_ns=1_800_000_000 * NS_PER_S,
        boot_id="boot",
        created_wall_ns=1_800_000_000 * NS_PER_S,
        rig="simulated",
    )
    record = FrameRecord(
        frame=0, due_ns=0, fired_ns=1, wall="2027-01-15T08:00:00+00:00", status="ok"
    )
    real_fsync = os.fsync
    failures = [no_space("frames.jsonl")]

    def fsync(fd: int) -> None:
        if failures:
            raise failures.pop()
        real_fsync(fd)

    with writer:
        monkeypatch.setattr(os, "fsync", fsync)
        with pytest.raises(OSError, match="No space left"):
            writer.append([record])
        assert writer.info.frames_path.read_bytes() == b"", "cut back: the batch is tried again"
        writer.append([record])
    assert journaled_lines(writer.info.frames_path) == 1


def journaled_lines(path: Path) -> int:
    return len(path.read_bytes().splitlines())


def test_a_start_after_an_unrecorded_stop_records_that_stop_first_never_two_active_runs(
    make_daemon: Callable[[], Daemon], clock: FakeClock, disk: FullDisk
) -> None:
    daemon = make_daemon()

    def stop_on_a_full_disk(started: Status) -> str:
        disk.fill(keep_reserve=False)
        with pytest.raises(LapseError):
            daemon.controller.stop()
        assert started.run is not None
        return started.run.id

    first = run_then(clock, daemon, stop_on_a_full_disk)
    # Still no room: the new run is refused, and nothing is created.
    with pytest.raises(LapseError, match="could not be recorded"):
        daemon.controller.start(EVERY_SECOND)
    assert [run.id for run in daemon.journal.list_runs()] == [first]
    assert daemon.controller.status().state is RunState.INTERRUPTED
    # With room, the start records the old run's end first.
    disk.make_room()
    clock.advance(NS_PER_S)
    started = daemon.controller.start(EVERY_SECOND)
    assert started.run is not None and started.run.id != first
    old = daemon.journal.get_run(first)
    assert (old.state, old.end_reason) == ("stopped", "stopped when a new run was started")
    assert [run.id for run in daemon.journal.list_runs() if run.state == "active"] == [
        started.run.id
    ]
