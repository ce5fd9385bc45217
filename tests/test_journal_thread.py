"""The journal thread may hang (a disk that never answers) or die (a bug): neither is
silent, and neither makes ``stop`` wait for ever. The stop still releases every output and
says in one line whether the run's end was recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.daemon import controller as controller_module
from core.daemon.journal_writer import RunWriter
from core.fake_clock import FakeClock
from core.model.durations import NS_PER_S
from core.model.errors import LapseError
from core.model.ledger import RunLedger
from core.model.protocol import FaultEvent
from core.model.run_state import RunState
from core.model.settings import Settings
from tests.fake_time import Daemon, script

INTERVAL = NS_PER_S


def test_a_stop_whose_journal_thread_hangs_returns_within_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    daemon = Daemon(tmp_path, clock)
    never = clock.event()

    def hang(self: RunWriter, records: object) -> None:
        never.wait()  # a disk that never answers: the journal thread waits for ever

    monkeypatch.setattr(RunWriter, "append", hang)
    said: list[str] = []
    waited: list[int] = []
    runs = []

    def steps() -> None:
        started = daemon.controller.start(Settings(interval_ns=INTERVAL))
        assert started.run is not None
        clock.wait_until(started.run.anchor_ns + 2 * INTERVAL + INTERVAL // 2)
        runs.append(daemon.controller._run)
        asked = clock.now_ns()
        with pytest.raises(LapseError) as refused:
            daemon.controller.stop()
        waited.append(clock.now_ns() - asked)
        said.append(str(refused.value))
        with pytest.raises(LapseError) as again:
            daemon.controller.stop()
        said.append(str(again.value))
        with pytest.raises(LapseError) as new_run:
            daemon.controller.start(Settings(interval_ns=INTERVAL))
        said.append(str(new_run.value))

    try:
        script(clock, steps)  # fails, rather than hangs, if stop() never returns
        line, again, new_run = said
        assert new_run == again, "a new run is refused the same way: the old one is not ended"
        assert len(daemon.journal.list_runs()) == 1
        assert again == (
            f"run {runs[0].info.id}: its journal still does not answer (every output is off);"
            " end this daemon (`systemctl stop lapse-daemon` under systemd), then"
            " `lapse stop` records the stop without firing anything"
        ), "a second stop says what to do rather than that another daemon writes the run"
        assert "\n" not in line and "could not be recorded" in line
        assert "did not answer" in line
        assert waited[0] <= controller_module.STOP_WAIT_S * NS_PER_S + INTERVAL
        assert set(daemon.rig.outputs().values()) == {0}, "every output is released"
        status = daemon.controller.status()
        assert status.state is RunState.INTERRUPTED, "not said to be stopped: it is not"
        assert status.fault == line
        run_id = status.run.id if status.run else ""
        assert daemon.journal.get_run(run_id).state == "active"
    finally:
        # The disk answers at last: the thread ends the run it was left with, and is gone
        # before the next test patches what it calls.
        never.set()
        for run in runs:
            script(clock, lambda run=run: run.ended.wait(60))
        daemon.rig.close()
    assert daemon.controller.status().state is RunState.INTERRUPTED, "a later end changes nothing"


def test_a_journal_thread_that_dies_says_why_and_the_run_still_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    daemon = Daemon(tmp_path, clock)
    take = RunLedger.take
    taken: list[object] = []

    def broken(self: RunLedger, report: object) -> object:
        taken.append(report)
        if len(taken) == 5:
            raise RuntimeError("a bug in the bookkeeping")
        return take(self, report)

    monkeypatch.setattr(RunLedger, "take", broken)
    stopped = []

    def steps() -> None:
        started = daemon.controller.start(Settings(interval_ns=INTERVAL))
        assert started.run is not None
        clock.wait_until(started.run.anchor_ns + 5 * INTERVAL + INTERVAL // 2)
        stopped.append(daemon.controller.status())
        stopped.append(daemon.controller.stop())

    try:
        script(clock, steps)
    finally:
        daemon.rig.close()
    running, after = stopped
    assert running.state is RunState.RUNNING
    assert running.fault is not None and "the journal stopped" in running.fault
    assert "a bug in the bookkeeping" in running.fault
    faults = [event.message for event in daemon.published.of(FaultEvent)]
    assert running.fault in faults, "said to every client, as it happened"
    assert after.state is RunState.STOPPED
    assert set(daemon.rig.outputs().values()) == {0}
    assert after.run is not None
    assert daemon.journal.get_run(after.run.id).state == "stopped", "the end is recorded"
