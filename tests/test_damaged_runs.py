"""A run whose ``run.toml`` no longer reads as a run is said, never left out in silence:
``lapse log`` and the log screen list it as damaged with what is wrong, and a daemon that
would have resumed it says in its log and its status that it cannot, and why."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from core.fake_clock import FakeClock
from core.journal import DamagedRun, Journal
from core.model.run_state import RunState
from tests.fake_time import Daemon
from tests.journal_lines import ANCHOR_WALL, new_run
from tui import cli
from tui.screens.log import run_row

pytestmark = pytest.mark.usefixtures("utc")


def damage(journal: Journal, run_id: str, how: str) -> None:
    """Spoil the run's run.toml: a setting no longer valid, or not TOML at all."""
    run_file = journal.runs_dir / run_id / "run.toml"
    if how == "setting":
        text = run_file.read_text()
        assert 'interval = "1s"' in text
        run_file.write_text(text.replace('interval = "1s"', 'interval = "banana"'))
    elif how == "state":
        text = run_file.read_text()
        run_file.write_text(
            text.replace('state = "active"', 'state = "stopped"').replace(
                'interval = "1s"', 'interval = "banana"'
            )
        )
    else:
        run_file.write_bytes(b"\x00\x01 not toml [[[")


def environ(state_dir: Path) -> dict[str, str]:
    return {"LAPSE_STATE_DIR": str(state_dir), "LAPSE_SOCKET": str(state_dir / "s.sock")}


def two_runs(state_dir: Path, how: str) -> tuple[str, str]:
    """An older run that ended, and a newer one a daemon left active, then damaged."""
    journal = Journal(state_dir)
    older = new_run(journal, created_wall_ns=ANCHOR_WALL - 3_600 * 10**9, state="stopped")
    newer = new_run(journal)
    damage(journal, newer, how)
    return older, newer


@pytest.mark.parametrize("how", ["setting", "garbage"])
def test_lapse_log_lists_a_damaged_run_with_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    older, newer = two_runs(tmp_path, how)
    assert cli.main(["log"], environ=environ(tmp_path)) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith(f"{newer}  damaged   run.toml cannot be read (")
    assert ("banana" in first) if how == "setting" else ("line 1" in first)
    assert second.startswith(f"{older}  stopped")

    assert cli.main(["log", "--json"], environ=environ(tmp_path)) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed[0]["id"] == newer and listed[0]["damaged"] is True
    assert listed[0]["state"] == ("active" if how == "setting" else None)
    assert listed[1]["id"] == older


@pytest.mark.parametrize("how", ["setting", "garbage"])
def test_a_daemon_says_it_cannot_resume_a_damaged_active_run_and_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    _, newer = two_runs(tmp_path, how)
    clock = FakeClock()
    daemon = Daemon(tmp_path, clock)
    try:
        with caplog.at_level(logging.ERROR, logger="lapse.daemon"):
            assert daemon.controller.resume() is None
        status = daemon.controller.status()
    finally:
        daemon.close()
    assert status.state is RunState.IDLE
    assert status.fault is not None and "\n" not in status.fault
    assert status.fault.startswith(f"run {newer} cannot be resumed: its run.toml cannot be read (")
    assert status.fault.endswith(
        f"; mend it, or move its folder out of {tmp_path / 'runs'}, and start lapse again"
    )
    assert [record.getMessage() for record in caplog.records] == [status.fault]


def test_a_damaged_run_that_had_ended_or_is_older_than_a_readable_one_is_no_fault(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path)
    ended = new_run(journal, created_wall_ns=ANCHOR_WALL - 7_200 * 10**9)
    damage(journal, ended, "state")
    old_active = new_run(journal, created_wall_ns=ANCHOR_WALL - 3_600 * 10**9)
    damage(journal, old_active, "garbage")
    new_run(journal, state="stopped")  # the newest run is readable
    assert [run.id for run in journal.scan_runs()[1]] == [old_active, ended]
    assert journal.damaged_active_run() is None
    daemon = Daemon(tmp_path, FakeClock())
    try:
        assert daemon.controller.resume() is None
        assert daemon.controller.status().fault is None
    finally:
        daemon.close()


def test_the_log_screen_lists_a_damaged_run() -> None:
    broken = DamagedRun(
        id="20270115-075955", path=Path("/x"), problem="run.toml cannot be read (…)", state=None
    )
    assert run_row(broken, {}) == ("20270115-075955", "damaged")
