"""The daemon's work after a run (core/daemon/after.py): a real daemon on the virtual
camera ends a run with a playable video; the work runs in the idle scheduling class, is
shown in status, fails without touching the run, and comes daily for a run until
stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import av
import pytest

from core.daemon.after import AfterWork, read_covered
from core.daemon.journal_writer import open_run
from core.fake_clock import FakeClock
from core.journal import Journal
from core.model.after import AfterConfig
from core.model.durations import NS_PER_S
from tests.after_runs import coloured_run, make_run, record
from tests.conftest import REPO, Lapse
from tests.test_camera_virtual import taken, use_camera

pytestmark = pytest.mark.usefixtures("utc")


def after_status(lapse: Lapse) -> dict | None:
    result = lapse.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["after"]


def test_a_run_on_the_virtual_camera_ends_with_a_playable_video(lapse: Lapse) -> None:
    use_camera(lapse, "[after]\nvideo = true\nkeogram = true\n", trigger="usb")
    lapse.start_daemon()
    result = lapse.cli("run", "--interval", "500ms", "--frames", "6", "--wait", timeout=90)
    assert result.returncode == 0, result.stderr
    run = lapse.journal.latest_run()
    assert run is not None
    fired = taken(lapse.journal.read_frames(run.id))
    done = lapse.wait_for(
        lambda: (a := after_status(lapse)) and a["state"] != "working" and a,
        timeout=120,
        what="the after-run work",
    )
    assert done["state"] == "done", done
    video = run.path / f"{run.id}.mp4"
    assert sorted(done["files"]) == sorted([str(video), str(run.path / f"{run.id}-keogram.png")])
    with av.open(str(video)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == len(fired)
    assert "made" in lapse.cli("status").stdout
    # The run itself is untouched by it.
    assert lapse.journal.get_run(run.id).state == "finished"


STAND_IN = textwrap.dedent(
    """
    import json, os, sys, time
    record = {"argv": sys.argv[1:], "policy": os.sched_getscheduler(0)}
    with open(os.environ["AFTER_RECORD"], "a") as file:
        file.write(json.dumps(record) + "\\n")
    behaviour = os.environ.get("AFTER_BEHAVIOUR", "ok")
    if behaviour == "crash":
        print("Traceback: something broke inside", flush=True)
        sys.exit(1)
    if behaviour == "hang":
        time.sleep(60)
    for done in (1, 2):
        print(json.dumps({"product": "video", "done": done, "total": 2}), flush=True)
    if behaviour == "fails":
        print(json.dumps({"product": "video", "error": "the disk is full"}), flush=True)
        sys.exit(1)
    print(json.dumps({"product": "video", "file": "/runs/x/x.mp4"}), flush=True)
    """
)


class StandIn:
    """``lapse after`` played by a small script that says how it was started."""

    def __init__(self, tmp_path: Path, behaviour: str = "ok") -> None:
        self.script = tmp_path / "stand_in.py"
        self.script.write_text(STAND_IN)
        self.record = tmp_path / "record.jsonl"
        self.environ = {**os.environ, "AFTER_RECORD": str(self.record)}
        self.environ["AFTER_BEHAVIOUR"] = behaviour
        self.changes = threading.Semaphore(0)

    def work(self, journal: Journal, clock: FakeClock, **config: object) -> AfterWork:
        return AfterWork(
            AfterConfig(**{"video": True, **config}),  # type: ignore[arg-type]
            [sys.executable, str(self.script)],
            self.environ,
            journal,
            clock,
            changed=self.changes.release,
        )

    def calls(self) -> list[dict]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]


def wait_until(work: AfterWork, state: str) -> dict:
    for _ in range(500):
        status = work.status()
        if status is not None and status.state == state:
            return status  # type: ignore[return-value]
        threading.Event().wait(0.02)
    raise AssertionError(f"the work never became {state}: {work.status()}")


@pytest.fixture
def real_time_thread() -> Iterator[None]:
    """This thread (and the threads it starts) at real-time priority, as the daemon's are."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except PermissionError:
        pytest.skip("real-time priority is not allowed here")
    try:
        yield
    finally:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def test_the_work_never_runs_at_the_daemons_real_time_priority(
    tmp_path: Path, real_time_thread: None
) -> None:
    stand_in = StandIn(tmp_path)
    info = coloured_run(tmp_path / "state", [(10, 20, 30)])
    work = stand_in.work(Journal(tmp_path / "state"), FakeClock())
    try:
        work.run_ended(info)
        status = wait_until(work, "done")
    finally:
        work.close()
    (call,) = stand_in.calls()
    assert call["policy"] == os.SCHED_OTHER
    assert call["argv"] == [info.id, "--make", "video"]  # a finished run: all of it
    assert status.files == ("/runs/x/x.mp4",)  # type: ignore[attr-defined]


def test_lapse_after_goes_to_the_idle_class_and_nice_19_first() -> None:
    probe = (
        "import os; from tui.after_cli import lower_priority; lower_priority();"
        " print(os.sched_getscheduler(0), os.nice(0))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.split() == [str(os.SCHED_IDLE), "19"]


@pytest.mark.parametrize(
    ("behaviour", "said"),
    [("fails", "video: the disk is full"), ("crash", "Traceback: something broke inside")],
)
def test_a_failure_is_said_and_the_work_goes_on_with_the_next_run(
    tmp_path: Path, behaviour: str, said: str
) -> None:
    stand_in = StandIn(tmp_path, behaviour)
    state = tmp_path / "state"
    first = coloured_run(state, [(10, 20, 30)])
    work = stand_in.work(Journal(state), FakeClock())
    try:
        work.run_ended(first)
        status = wait_until(work, "failed")
        assert status.error == said  # type: ignore[attr-defined]
        stand_in.environ["AFTER_BEHAVIOUR"] = "ok"
        work.environ["AFTER_BEHAVIOUR"] = "ok"
        work.run_ended(first)
        wait_until(work, "done")
    finally:
        work.close()
    assert len(stand_in.calls()) == 2


def test_closing_the_daemon_ends_the_work(tmp_path: Path) -> None:
    stand_in = StandIn(tmp_path, "hang")
    info = coloured_run(tmp_path / "state", [(10, 20, 30)])
    work = stand_in.work(Journal(tmp_path / "state"), FakeClock())
    work.run_ended(info)
    for _ in range(500):
        if stand_in.calls():
            break
        threading.Event().wait(0.02)
    work.close()
    assert work._thread is not None and not work._thread.is_alive()
    assert work.status().state == "failed"  # type: ignore[union-attr]


def local_ns(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp()) * NS_PER_S


def test_a_run_until_stopped_gets_the_days_products_once_a_day(tmp_path: Path) -> None:
    stand_in = StandIn(tmp_path)
    state = tmp_path / "state"
    # make_run's run was created at 2025-06-15 15:06:40 UTC and goes on (frames 0).
    info = make_run(state, [record(k, "ok", f"{k}.jpg") for k in range(5)], end=False, frames=0)
    clock = FakeClock(wall_start_ns=local_ns("2025-06-15T20:00:00+00:00"))
    work = stand_in.work(Journal(state), clock, daily_at="09:00")
    work.active_run = lambda: info
    try:
        work._daily()  # the same evening: no 09:00 since the run began
        clock.set_wall(local_ns("2025-06-16T08:59:00+00:00"))
        work._daily()  # the next morning, not yet
        assert work.status() is None
        clock.set_wall(local_ns("2025-06-16T09:00:30+00:00"))
        work._daily()
        wait_until(work, "done")
        work._daily()  # once a day
        assert len(stand_in.calls()) == 1
        assert read_covered(info) is not None and read_covered(info)[0] == 4  # type: ignore[index]
        work.run_ended(info)  # the rest, at the end: none
        with open_run(Journal(state), info.id) as writer:
            writer.append([record(5, "ok", "5.jpg")])
        work.run_ended(info)  # one more frame: the rest is that one
        for _ in range(500):
            idle = not work._jobs and work._child is None
            if len(stand_in.calls()) >= 2 and idle and work.status().state == "done":  # type: ignore[union-attr]
                break
            threading.Event().wait(0.02)
    finally:
        work.close()
    assert len(stand_in.calls()) == 2  # none for the end with nothing new
    daily = stand_in.calls()[0]
    assert daily["argv"] == [info.id, "--make", "video", "--to", "4", "--tag", "-20250616-0900"]
    last = stand_in.calls()[1]
    assert last["argv"][:5] == [info.id, "--make", "video", "--from", "5"]
