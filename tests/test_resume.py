"""Resume after the daemon dies: same run, same grid, the gap logged.

(docs/architecture.md §7, §9)
"""

from __future__ import annotations

import fcntl
import os
import signal
import time

import pytest

from core.client import daemon_answers
from core.journal import STOPPED_WHILE_DOWN
from core.model.records import FrameRecord
from tests.conftest import Lapse
from tests.journal_slots import each_slot
from tui import cli


def frames(lapse: Lapse, run_id: str) -> list[FrameRecord]:
    return each_slot(lapse.journal, run_id)


def check_grid(lapse: Lapse, run_id: str) -> list[FrameRecord]:
    """Every slot is in the journal once, in order, on the run's original grid."""
    info = lapse.journal.get_run(run_id)
    records = frames(lapse, run_id)
    assert [r.frame for r in records] == list(range(len(records))), "frame numbers continue"
    interval = info.settings.interval_ns
    for record in records:
        assert record.due_ns == info.anchor_ns + record.frame * interval, "on the original grid"
        if record.status == "ok":
            assert record.fired_ns >= record.due_ns, "never early"
    return records


def test_kill_9_mid_run_resumes_the_same_run_and_logs_the_gap(lapse: Lapse) -> None:
    run_id = interrupted(lapse)
    before = frames(lapse, run_id)
    killed_at = time.monotonic_ns()
    time.sleep(3.2)  # at least three slots pass while nothing runs
    # Taken before the restart: a loaded machine may let the new daemon fire a slot
    # before this process gets to read the clock again.
    restarted_at = time.monotonic_ns()
    lapse.start_daemon()
    resumed_at = time.monotonic_ns()
    status = lapse.client().status()
    assert status.state == "running" and status.run is not None
    assert status.run.id == run_id and status.run.resumed
    lapse.wait_for(
        lambda: sum(r.status == "ok" for r in frames(lapse, run_id)) >= len(before) + 2,
        what="two frames after the restart",
    )
    stopped = lapse.cli("stop")
    assert stopped.returncode == 0, stopped.stderr

    records = check_grid(lapse, run_id)
    assert records[: len(before)] == before, "what was journaled before the kill is intact"
    missed = [r for r in records if r.status == "missed"]
    info = lapse.journal.get_run(run_id)
    down = [r for r in records if killed_at < r.due_ns < restarted_at]
    assert len(down) >= 3
    assert all(r.status == "missed" for r in down), "slots lost while down are missed"
    assert all(r.error == "the daemon was not running" for r in missed if r in down)
    after = [r for r in records if r.due_ns > resumed_at and r.status == "ok"]
    assert len(after) >= 2, "the run goes on after the restart"
    assert info.state == "stopped"


def test_sigterm_leaves_a_resumable_run_with_the_shutter_released(lapse: Lapse) -> None:
    daemon = lapse.start_daemon()
    started = lapse.cli("run", "--interval", "1s", "--frames", "1000")
    assert started.returncode == 0, started.stderr
    run_id = lapse.journal.active_run().id
    lapse.wait_for(lambda: len(frames(lapse, run_id)) >= 1, what="a frame")
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(15) == 0
    said = lapse.daemon_output()
    assert "outputs released: focus 0, shutter 0, power 0, led 0" in said
    assert lapse.journal.get_run(run_id).state == "active", "SIGTERM does not end the run"

    status = lapse.cli("status")
    assert f"run {run_id} was interrupted; it resumes when the daemon starts" in status.stdout

    lapse.start_daemon()
    resumed = lapse.client().status().run
    assert resumed is not None and resumed.id == run_id and resumed.resumed
    count = len(frames(lapse, run_id))
    lapse.wait_for(lambda: len(frames(lapse, run_id)) > count + 1, what="frames after resume")
    assert lapse.cli("stop").returncode == 0
    check_grid(lapse, run_id)


def test_a_counted_run_that_ended_while_down_is_finished_on_restart(lapse: Lapse) -> None:
    daemon = lapse.start_daemon()
    assert lapse.cli("run", "--interval", "200ms", "--frames", "8").returncode == 0
    run_id = lapse.journal.active_run().id
    lapse.wait_for(lambda: len(frames(lapse, run_id)) >= 1, what="a frame")
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    time.sleep(2.0)  # every remaining slot passes while the daemon is down
    lapse.start_daemon()
    # The journal records the end a moment before the daemon's state says it: wait for
    # what a client sees, then check the record.
    lapse.wait_for(lambda: lapse.client().status().state == "finished", what="the run to finish")
    assert lapse.journal.get_run(run_id).state == "finished"
    records = check_grid(lapse, run_id)
    assert len(records) == 8 and records[-1].status == "missed"


def interrupted(lapse: Lapse) -> str:
    """A run with a few frames whose daemon was killed: it is left active."""
    daemon = lapse.start_daemon()
    started = lapse.cli("run", "--interval", "1s")
    assert started.returncode == 0, started.stderr
    run_id = lapse.journal.active_run().id
    lapse.wait_for(lambda: len(frames(lapse, run_id)) >= 2, what="two frames")
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    return run_id


def in_this_process(lapse: Lapse, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process's environment the installation's, for ``cli.main`` run here:
    a daemon it starts takes its environment from this process."""
    for key in set(os.environ) - set(lapse.env):
        monkeypatch.delenv(key)
    for key, value in lapse.env.items():
        monkeypatch.setenv(key, value)


def test_stop_without_a_daemon_ends_the_run_through_one_that_never_resumes_it(
    lapse: Lapse,
) -> None:
    run_id = interrupted(lapse)
    frames_file = lapse.journal.get_run(run_id).frames_path
    before = frames_file.read_bytes()
    time.sleep(1.5)  # a slot passes while nothing runs: a resume would log it missed
    stopped = lapse.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == (
        f"Stopped run {run_id} (the daemon was not running; no output was on).\n"
    )
    info = lapse.journal.get_run(run_id)
    assert (info.state, info.end_reason) == ("stopped", STOPPED_WHILE_DOWN)
    assert frames_file.read_bytes() == before, "no frame line, not even a missed one"
    # The daemon `lapse stop` started did it, and serves on like any other.
    status = lapse.client().status()
    assert status.state == "stopped" and status.run is not None
    assert (status.run.id, status.run.counts.ok) == (
        run_id,
        lapse.journal.frame_counts(run_id)["ok"],
    )
    assert status.outputs == {"power": 0.0, "focus": 0.0, "shutter": 0.0, "led": 0.0}
    said = (lapse.state_dir / "daemon.log").read_text()
    assert f"run {run_id} recorded as stopped" in said and "resumed run" not in said
    again = lapse.cli("run", "--interval", "200ms", "--frames", "2", "--wait")
    assert again.returncode == 0, again.stderr
    assert lapse.journal.get_run(run_id).state == "stopped"
    assert frames_file.read_bytes() == before


def test_stop_asks_a_daemon_that_came_up_meanwhile_to_stop_the_run(
    lapse: Lapse, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = interrupted(lapse)
    lapse.start_daemon()  # another client's daemon: it resumes the run
    assert lapse.client().status().state.live
    # `lapse stop` looked a moment before that daemon answered, and found none.
    monkeypatch.setattr(cli, "daemon_answers", lambda *args, **kwargs: None)
    in_this_process(lapse, monkeypatch)
    assert cli.main(["stop"]) == 0
    said = capsys.readouterr()
    assert said.out.startswith(f"Stopped run {run_id}: "), said
    assert said.out.endswith("every output is released.\n")
    info = lapse.journal.get_run(run_id)
    assert (info.state, info.end_reason) == ("stopped", "stopped by the photographer")
    status = lapse.client().status()
    assert status.state == "stopped"
    assert status.outputs == {"power": 0.0, "focus": 0.0, "shutter": 0.0, "led": 0.0}
    assert not (lapse.state_dir / "daemon.log").exists(), "no second daemon was started"


def test_stop_without_a_daemon_or_a_run_starts_no_daemon(lapse: Lapse) -> None:
    stopped = lapse.cli("stop")
    assert stopped.returncode == 1
    assert stopped.stderr == "lapse: no run is going (the daemon is not running)\n"
    assert daemon_answers(lapse.socket) is None
    assert not (lapse.state_dir / "daemon.log").exists()


def test_stop_says_why_when_the_daemon_it_started_could_not_end_the_run(
    lapse: Lapse, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = interrupted(lapse)
    monkeypatch.setattr(cli, "STOP_WAIT_S", 1.0)
    in_this_process(lapse, monkeypatch)
    # Something else holds the run's frames file: the new daemon cannot take the run over.
    with open(lapse.journal.get_run(run_id).frames_path, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert cli.main(["stop"]) == 1
    said = capsys.readouterr()
    assert said.err.startswith(f"lapse: run {run_id} neither resumed nor ended; "), said
    assert f"run {run_id} is being written by another lapse daemon" in said.err
    assert said.err.count("\n") == 1 and "Traceback" not in said.err
    assert lapse.journal.get_run(run_id).state == "active", "left for the next daemon"
