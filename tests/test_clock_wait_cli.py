"""Waiting for the clock through the real ``lapse`` entry and a real daemon process: a run
journaled on another boot whose last frame is later than this machine's clock waits;
``lapse status`` and the daemon's log say so and why, ``lapse resume`` without the
photographer's word refuses in one line, and ``lapse resume --clock-ok`` resumes it."""

from __future__ import annotations

import pytest

from core.model.durations import MINUTE_NS, NS_PER_S
from core.model.run_state import RunState
from core.model.settings import Settings
from tests.conftest import Lapse
from tests.killed_runs import killed_run

WALL_2100 = 4_102_444_800 * NS_PER_S
"""2100-01-01 00:00:00 UTC: frame 0's wall time, far ahead of this machine's clock."""
BEHIND = "waiting for the clock: the clock is behind the journal's last frame (2100-01-01 00:02:00)"

pytestmark = pytest.mark.usefixtures("utc")


def journaled_on_another_boot(lapse: Lapse) -> str:
    return killed_run(
        lapse.journal,
        Settings(interval_ns=MINUTE_NS),
        anchor_ns=7_000 * NS_PER_S,
        anchor_wall_ns=WALL_2100,
        fired=3,
        boot_id="another-boot",
    ).info.id


def test_a_run_waits_for_the_clock_until_the_photographer_vouches_for_it(lapse: Lapse) -> None:
    lapse.env["TZ"] = "UTC"
    run_id = journaled_on_another_boot(lapse)
    lapse.start_daemon()
    with lapse.client() as client:
        lapse.wait_for(lambda: client.status().clock_wait, what="the wait for the clock")

    shown = lapse.cli("status")
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert lines[0] == f"lapse: run {run_id} interrupted: 3 ok, 0 missed, 0 errors (simulated rig)."
    assert f"  {BEHIND}" in lines
    assert BEHIND in lapse.daemon_output()

    refused = lapse.cli("resume")
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"lapse: {BEHIND}; ")
    assert "--clock-ok" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert lapse.journal.frame_counts(run_id) == {
        "ok": 3,
        "missed": 0,
        "error": 0,
        "unknown": 0,
        "skipped": 0,
    }

    resumed = lapse.cli("resume", "--clock-ok")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"Resumed run {run_id} on the clock as it is (")
    assert "; next shutter: frame 3 in " in resumed.stdout
    with lapse.client() as client:
        status = client.status()
    assert status.state is RunState.RUNNING and status.clock_wait is None
    assert lapse.cli("status").stdout.startswith(f"lapse: running run {run_id}")
    assert lapse.cli("stop").returncode == 0
    assert lapse.journal.get_run(run_id).state == "stopped"
    assert lapse.journal.frame_counts(run_id)["missed"] == 0, "nothing journaled as missed"
