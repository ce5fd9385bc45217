"""Hooks (README "Hooks and uploads"): the events as plain logic, the bounded queue, and a
real daemon on the virtual camera running a real script on every event, with its
arguments, its environment and its time limit."""

from __future__ import annotations

import itertools
import json
import stat
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from core.model.durations import NS_PER_S
from core.model.hooks import Happening, Happenings, HookEvent, Waiting
from core.model.protocol import Counts, FaultEvent, FrameEvent, RunStatus, StateEvent, Status
from core.model.records import FrameRecord
from core.model.run_state import RunState
from core.model.settings import Settings
from tests.conftest import Lapse
from tests.test_box import SWITCHES, box, handle
from tests.test_camera_virtual import use_camera

RECORDER = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys, time
    facts = {{key: value for key, value in os.environ.items() if key.startswith("LAPSE_")}}
    facts["argv"] = sys.argv[1:]
    facts["pgid"] = os.getpgid(0) == os.getpid()
    facts["at"] = time.time()
    with open({record!r}, "a") as file:
        file.write(json.dumps(facts) + "\\n")
    behaviour = os.environ.get("HOOK_BEHAVIOUR", "")
    if facts["LAPSE_EVENT"] == "run_started" and behaviour == "fail":
        print("no space left on the card", file=sys.stderr)
        sys.exit(3)
    if facts["LAPSE_EVENT"] == "frame_saved" and behaviour == "slow":
        time.sleep(60)
    """
)


def recorder(lapse: Lapse) -> tuple[Path, Path]:
    """A hook script that appends its facts to a file: the script and the file."""
    record = lapse.root / "hooks.jsonl"
    script = lapse.root / "record-hook"
    script.write_text(RECORDER.format(python=sys.executable, record=str(record)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, record


def heard(record: Path) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def hooks_status(lapse: Lapse) -> dict[str, Any]:
    result = lapse.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["hooks"]


# -- plain logic -------------------------------------------------------------------------------
def frame(run: str, slot: int, file: str | None) -> FrameEvent:
    record = FrameRecord(
        frame=slot,
        due_ns=slot,
        fired_ns=slot,
        wall="2026-12-02T00:00:00+00:00",
        status="ok",
        file=file,
    )
    return FrameEvent(run=run, record=record, counts=None)  # type: ignore[arg-type]


def state(run: str, of: RunState) -> StateEvent:
    settings = Settings(interval_ns=NS_PER_S)
    going = RunStatus(
        id=run,
        settings=settings,
        folder=f"/state/runs/{run}",
        photos=f"/state/runs/{run}",
        anchor_ns=0,
        counts=Counts(),
        last_frame=None,
    )
    return StateEvent(Status(state=of, now_ns=0, rig="sim", simulated=True, outputs={}, run=going))


def test_a_run_is_started_once_and_ended_once_and_a_resumed_one_not_started_again() -> None:
    happenings = Happenings(going="r0")  # the run a restarted daemon resumes
    assert happenings.of(state("r0", RunState.RUNNING)) == []
    assert happenings.of(state("r0", RunState.FINISHED)) == [
        Happening(HookEvent.RUN_ENDED, "r0", status="finished")
    ]
    assert happenings.of(state("r0", RunState.FINISHED)) == []  # told again: once
    said = [happenings.of(state("r1", of)) for of in (RunState.STARTING, RunState.RUNNING)]
    assert said == [[Happening(HookEvent.RUN_STARTED, "r1", status="starting")], []]
    assert happenings.of(state("r1", RunState.STOPPED)) == [
        Happening(HookEvent.RUN_ENDED, "r1", status="stopped")
    ]


def test_a_frame_is_saved_once_however_often_it_is_told() -> None:
    happenings = Happenings()
    assert happenings.of(frame("r1", 0, None)) == []  # taken, its file not yet come
    saved = happenings.of(frame("r1", 0, "frame-0.jpg"))
    assert saved == [Happening(HookEvent.FRAME_SAVED, "r1", 0, "frame-0.jpg", "ok")]
    assert happenings.of(frame("r1", 0, "frame-0.jpg")) == []  # its brightness came later
    assert happenings.of(frame("r2", 0, "frame-0.jpg")) != []  # another run's frame 0
    # The camera saved a second file for the frame (the journal's line names the last):
    # it is saved on the Pi too, and goes where every saved file goes.
    assert happenings.of(frame("r1", 0, "frame-0b.jpg")) == [
        Happening(HookEvent.FRAME_SAVED, "r1", 0, "frame-0b.jpg", "ok")
    ]
    assert happenings.of(frame("r1", 1, "card:DCIM/100NIKON/DSC_0001.JPG")) == []  # not here


def test_a_fault_is_told_with_its_words() -> None:
    said = Happenings(going="r1").of(FaultEvent(message="the camera is not on USB", frame=4))
    assert said == [Happening(HookEvent.FAULT, "r1", 4, status="the camera is not on USB")]


def test_the_queue_drops_the_oldest_frames_only() -> None:
    waiting = Waiting(limit=3)
    frames = [Happening(HookEvent.FRAME_SAVED, "r", n, f"{n}.jpg") for n in range(4)]
    ended = Happening(HookEvent.RUN_ENDED, "r", status="finished")
    for happening in frames[:2]:
        assert waiting.put(happening) is None
    assert waiting.put(ended) is None
    assert waiting.put(frames[2]) == frames[0]  # full: the oldest frame makes room
    assert waiting.put(frames[3]) == frames[1]
    assert waiting.dropped == 2
    assert [waiting.take() for _ in range(3)] == [ended, frames[2], frames[3]]
    # Full of events that are never dropped: a new one waits beyond the limit.
    for _ in range(3):
        waiting.put(ended)
    assert waiting.put(frames[0]) is None
    assert len(waiting) == 4 and waiting.dropped == 2


# -- a real daemon, a real script ---------------------------------------------------------------
def test_every_event_runs_its_hook_with_the_facts(lapse: Lapse) -> None:
    script, record = recorder(lapse)
    use_camera(
        lapse,
        textwrap.dedent(
            f"""
            [hooks]
            frame_saved = ["{script}", "saved", "two words"]
            run_started = ["{script}", "started"]
            run_ended = ["{script}", "ended"]
            render_done = ["{script}", "made"]
            [after]
            keogram = true
            """
        ),
        trigger="usb",
    )
    lapse.start_daemon()
    result = lapse.cli("run", "--interval", "1s", "--frames", "4", "--wait", timeout=90)
    assert result.returncode == 0, result.stderr
    run = lapse.journal.latest_run()
    assert run is not None
    files = [r.file for r in lapse.journal.read_frames(run.id) if r.file]
    lapse.wait_for(lambda: len(heard(record)) == len(files) + 3, timeout=60, what="each hook")
    time.sleep(0.5)
    facts = heard(record)
    assert len(facts) == len(files) + 3  # nothing twice
    by_event: dict[str, list[dict[str, Any]]] = {}
    for fact in facts:
        by_event.setdefault(fact["LAPSE_EVENT"], []).append(fact)
    (started,) = by_event["run_started"]
    assert started["argv"] == ["started"] and started["LAPSE_RUN"] == run.id
    (ended,) = by_event["run_ended"]
    assert (ended["argv"], ended["LAPSE_STATUS"]) == (["ended"], "finished")
    (made,) = by_event["render_done"]
    assert (made["argv"], made["LAPSE_STATUS"]) == (["made"], "keogram")
    assert made["LAPSE_FILE"] == str(run.path / f"{run.id}-keogram.png")
    saved = sorted(by_event["frame_saved"], key=lambda fact: int(fact["LAPSE_FRAME"]))
    assert [fact["LAPSE_FILE"] for fact in saved] == [str(run.photos_path / f) for f in files]
    assert all(fact["argv"] == ["saved", "two words"] for fact in saved)  # no shell
    assert all(fact["pgid"] for fact in facts)  # a session of its own, ended as a whole
    assert hooks_status(lapse) == {
        "waiting": 0,
        "dropped": 0,
        "ran": len(facts),
        "failed": 0,
        "last_error": None,
    }


def test_a_failing_or_slow_hook_is_said_and_never_stops_the_run(lapse: Lapse) -> None:
    script, record = recorder(lapse)
    use_camera(
        lapse,
        textwrap.dedent(
            f"""
            [hooks]
            frame_saved = ["{script}"]
            run_started = ["{script}"]
            timeout = "1s"
            queue = 1
            """
        ),
        trigger="usb",
    )
    lapse.env["HOOK_BEHAVIOUR"] = "slow"
    lapse.start_daemon()
    result = lapse.cli("run", "--interval", "500ms", "--frames", "6", "--wait", timeout=90)
    assert result.returncode == 0, result.stderr
    run = lapse.journal.latest_run()
    assert run is not None
    assert lapse.journal.get_run(run.id).state == "finished"
    # Each frame_saved hook sleeps 60 s and is ended at 1 s; the queue holds one frame.
    status = lapse.wait_for(
        lambda: (s := hooks_status(lapse))["waiting"] == 0 and s, timeout=30, what="the hooks"
    )
    assert status["failed"] >= 1
    assert status["last_error"].startswith("frame_saved: ran out of time (1s) and was ended")
    assert status["dropped"] >= 1
    frames = [fact for fact in heard(record) if fact["LAPSE_EVENT"] == "frame_saved"]
    assert len(frames) + status["dropped"] == 6  # every frame run or counted, none twice
    # One at a time: each began once the one before had been ended at its time limit.
    starts = [fact["at"] for fact in frames]
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(starts))
    assert "hook frame_saved" in lapse.daemon_output()
    assert "fell behind" in lapse.daemon_output()


def test_a_hook_that_fails_is_shown_with_its_last_words(lapse: Lapse) -> None:
    script, _ = recorder(lapse)
    lapse.config.write_text(f'[hooks]\nrun_started = ["{script}"]\n')
    lapse.env["HOOK_BEHAVIOUR"] = "fail"
    lapse.start_daemon()
    assert lapse.cli("run", "--interval", "1s", "--frames", "1", "--wait").returncode == 0
    status = lapse.wait_for(lambda: (s := hooks_status(lapse))["failed"] and s, what="failure")
    assert status["last_error"] == "run_started: exit status 3: no space left on the card"
    shown = lapse.cli("status").stdout
    assert "  hooks: 1 ran, 1 failed; last: run_started: exit status 3: no space" in shown


def test_a_hook_whose_program_is_missing_is_one_clear_line(lapse: Lapse) -> None:
    lapse.config.write_text('[hooks]\nrun_started = ["/nowhere/copy-frame"]\n')
    lapse.start_daemon()
    assert lapse.cli("run", "--interval", "1s", "--frames", "1", "--wait").returncode == 0
    status = lapse.wait_for(lambda: (s := hooks_status(lapse))["failed"] and s, what="failure")
    assert status["last_error"] == (
        "run_started: could not start /nowhere/copy-frame: No such file or directory"
    )


def test_a_fault_runs_its_hook_with_the_faults_words(lapse: Lapse) -> None:
    # A fault the daemon tells every client: the box's press that a run refuses.
    script, record = recorder(lapse)
    box(lapse, SWITCHES + f'[hooks]\nfault = ["{script}", "fault"]\n')
    for control, to in (("value", "3"), ("unit", "s"), ("power", "on"), ("button", "press")):
        handle(lapse, control, to)
    (fact,) = lapse.wait_for(lambda: heard(record), what="the fault's hook")
    assert fact["argv"] == ["fault"]
    assert fact["LAPSE_EVENT"] == "fault"
    assert fact["LAPSE_STATUS"].startswith(
        "the box's button could not start a run: camera power control needs an interval"
    )
