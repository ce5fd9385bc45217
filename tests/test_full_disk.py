"""A full disk under the state directory, on the real controller, journal and simulated
rig in fake time (docs/architecture.md §7, §9).

- A stop is a stop: the state directory keeps a space reserve, given up to make room
  for ``run.toml`` when the disk is full, so the stop is recorded and no later daemon
  resumes the run. A stop that cannot be recorded all the same is refused with one
  line (``lapse stop`` exits 1): the outputs are released, the run is left
  interrupted, and a stop once there is room records it.

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

from core.daemon import journal_writer
from core.daemon.controller import RunController
from core.daemon.journal_writer import RESERVE_BYTES, RESERVE_FILE, RunWriter, create_run, open_run
from core.fake_clock import FakeClock
from core.journal import Journal
from core.model.durations import NS_PER_S
from core.model.errors import LapseError
from core.model.hardware import HardwareConfig
from core.model.protocol import Status
from core.model.run_state import RunState
from core.model.settings import Settings
from hw.sim import make_sim_rig
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

        def write_atomic(path: Path, data: bytes) -> None:
            if self.full and not (self.reserved and not self.reserve.exists()):
                raise no_space(path)
            real_write(path, data)

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


class Daemon:
    """The daemon's side in this process on a disk that can fill up."""

    def __init__(self, state_dir: Path, clock: FakeClock, disk: FullDisk) -> None:
        self.clock = clock
        self.disk = disk
        self.rig = make_sim_rig(HardwareConfig())
        self.journal = Journal(state_dir)
        self.published = Published(clock, ends=())
        self.controller = RunController(self.rig, clock, self.journal, self.published)

    def close(self) -> None:
        self.disk.make_room()
        if self.controller.status().state.live:
            self.controller.shutdown()
        self.rig.close()


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
