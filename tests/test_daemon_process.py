"""A real daemon process on a real unix socket, with several clients.

(docs/architecture.md §1, §6)
"""

from __future__ import annotations

import json
import re
import socket
import threading

from core.client import Client
from core.model.durations import parse_duration
from core.model.protocol import Counts, EdgeEvent, Event, FrameEvent, StateEvent, Update
from core.model.run_state import RunState
from core.model.settings import Settings
from tests.conftest import Lapse


def collect(client: Client, until_state: set[RunState], out: list[Event]) -> None:
    for event in client.events(timeout=30):
        out.append(event)
        if isinstance(event, StateEvent) and event.status.state in until_state:
            return


def counts(lapse: Lapse) -> Counts:
    """The daemon's counts for its run, asked on a connection of their own."""
    run = lapse.client().status().run
    assert run is not None
    return run.counts


def test_two_subscribers_see_every_frame_and_a_quitter_changes_nothing(lapse: Lapse) -> None:
    lapse.start_daemon()
    first, second, quitter = lapse.client(), lapse.client(), lapse.client()
    for client in (first, second, quitter):
        client.subscribe()
    seen: tuple[list[Event], list[Event]] = ([], [])
    readers = [
        threading.Thread(target=collect, args=(c, {RunState.FINISHED}, out))
        for c, out in zip((first, second), seen, strict=True)
    ]
    for reader in readers:
        reader.start()
    with lapse.client() as starter:
        status = starter.start(Settings.from_dict({"interval": "100ms", "frames": 15}))
    assert status.run is not None
    run_id = status.run.id
    # The quitter reads two frames and hangs up mid-run.
    frames_read = 0
    for event in quitter.events(timeout=30):
        if isinstance(event, FrameEvent):
            frames_read += 1
            if frames_read == 2:
                break
    quitter.close()
    for reader in readers:
        reader.join(60)
        assert not reader.is_alive()
    for out in seen:
        frames = [event for event in out if isinstance(event, FrameEvent)]
        assert [f.record.frame for f in frames] == list(range(15))
        assert all(f.record.status == "ok" and f.run == run_id for f in frames)
        edges = {(e.line, e.on) for e in out if isinstance(e, EdgeEvent)}
        assert ("shutter", True) in edges and ("focus", False) in edges
    records = lapse.journal.read_frames(run_id)
    assert [r.status for r in records] == ["ok"] * 15
    interval = parse_duration("100ms")
    assert all(r.due_ns == records[0].due_ns + r.frame * interval for r in records)
    assert all(r.fired_ns >= r.due_ns for r in records), "never early"
    assert lapse.journal.get_run(run_id).state == "finished"


def test_malformed_and_unknown_messages_get_errors_and_the_run_goes_on(lapse: Lapse) -> None:
    lapse.start_daemon()
    with lapse.client() as starter:
        started = starter.start(Settings.from_dict({"interval": "100ms", "frames": 0}))
    assert started.run is not None
    run_id = started.run.id
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.settimeout(10)
    raw.connect(str(lapse.socket))
    reader = raw.makefile("rb")
    bad_messages = [
        b"hello there\n",
        b"\xff\xfe\x00garbage\n",
        b"[1, 2, 3]\n",
        b'{"v": 2, "id": 5, "cmd": "launch-rockets"}\n',
        b'{"v": 99, "id": 6, "cmd": "status"}\n',
        b'{"v": 2, "id": 7, "cmd": "start", "args": {"settings": {"interval": "banana"}}}\n',
        b'{"v": 2, "id": 8, "cmd": "start", "args": {"settings": {"interval": "1s"}}}\n',
        b'{"v": 2, "id": 9, "cmd": "update", "args": {"interval": "5s"}}\n',
        b'{"v": 2, "id": 10, "cmd": "status", "args": [1]}\n',
        b'{"v": 2, "id": 12, "cmd": "update", "args": {}}\n',
        b'{"v": 2, "id": 13, "cmd": "update", "args": {"frames": "ten"}}\n',
        b'{"v": 2, "id": 14, "cmd": "start", "args": {}}\n',
        b'{"v": 2, "id": 15, "cmd": "status", "args": {"verbose": true}}\n',
        b'{"v": 1, "id": 16, "cmd": "status"}\n',
    ]
    replies = []
    for line in bad_messages:
        raw.sendall(line)
        replies.append(json.loads(reader.readline()))
    assert all(reply["ok"] is False and reply["v"] == 2 for reply in replies)
    errors = [reply["error"] for reply in replies]
    assert "not a JSON message" in errors[0]
    assert "unknown command 'launch-rockets'" in errors[3] and replies[3]["id"] == 5
    assert "protocol version 99" in errors[4]
    assert "is not a duration" in errors[5]
    assert "a run is already going" in errors[6]
    assert "cannot change during a run" in errors[7]
    assert "args must be a JSON object" in errors[8]
    assert 'update needs args.frames, e.g. {"frames": 500}' in errors[9]
    assert "frames must be a whole number" in errors[10]
    assert "start needs args.settings" in errors[11]
    assert "status args has no verbose; it takes nothing" in errors[12]
    assert "protocol version 1 is not spoken here; use 2" in errors[13]  # an older client
    # The same connection still works, and the run went on undisturbed.
    raw.sendall(b'{"v": 2, "id": 11, "cmd": "status"}\n')
    status = json.loads(reader.readline())["result"]
    # Its first slot may not be reached yet: waiting, then running.
    assert status["state"] in ("waiting", "running") and status["run"]["id"] == run_id
    before = status["run"]["counts"]["ok"]
    lapse.wait_for(lambda: counts(lapse).ok >= before + 3, what="more frames")
    raw.close()
    records = lapse.journal.read_frames(run_id)
    assert all(r.status == "ok" for r in records)


def test_lapse_stop_ends_the_run_and_releases_every_output(lapse: Lapse) -> None:
    lapse.start_daemon()
    # A powered 10 s plan keeps power and focus on for a long stretch of the cycle.
    started = lapse.cli("run", "--interval", "10s", "--power")
    assert started.returncode == 0, started.stderr
    status_now = lambda: lapse.client().status()  # noqa: E731
    on = lapse.wait_for(
        lambda: any(v > 0 for k, v in status_now().outputs.items() if k != "led"),
        what="an output to come on",
    )
    assert on
    stopped = lapse.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "every output is released" in stopped.stdout
    status = status_now()
    assert status.state == "stopped" and status.run is not None
    assert status.outputs == {"power": 0.0, "focus": 0.0, "shutter": 0.0, "led": 0.0}
    assert lapse.journal.get_run(status.run.id).state == "stopped"
    again = lapse.cli("stop")
    assert again.returncode == 1 and "no run is going" in again.stderr


def test_lapse_daemon_stop_ends_the_daemon_only_once_no_run_is_going(lapse: Lapse) -> None:
    daemon = lapse.start_daemon()
    assert lapse.cli("run", "--interval", "10s").returncode == 0
    refused = lapse.cli("daemon", "--stop")
    assert refused.returncode == 1
    # Waiting for its first frame or running: either way a run is going.
    assert re.fullmatch(
        r"lapse: a run is (waiting|running): stop it first \(`lapse stop`\),"
        r" then end the daemon\n",
        refused.stderr,
    ), refused.stderr
    assert lapse.client().status().state.live  # nothing changed
    assert lapse.cli("stop").returncode == 0
    ended = lapse.cli("daemon", "--stop")
    assert ended.returncode == 0, ended.stderr
    assert ended.stdout == (
        f"lapse: the daemon (pid {daemon.pid}) has ended; every output is released\n"
    )
    assert daemon.wait(10) == 0
    assert not lapse.socket.exists()
    again = lapse.cli("daemon", "--stop")
    assert again.returncode == 0 and again.stdout == "lapse: no daemon is running\n"


def test_a_second_daemon_is_refused_clearly(lapse: Lapse) -> None:
    lapse.start_daemon()
    second = lapse.cli("daemon", timeout=20)
    assert second.returncode == 1
    assert "another lapse daemon already owns the hardware" in second.stderr
    assert "Traceback" not in second.stderr


def test_run_wait_starts_a_daemon_and_prints_a_line_per_frame(lapse: Lapse) -> None:
    result = lapse.cli("run", "--interval", "200ms", "--frames", "4", "--wait")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Run ") and "every 200ms, 4 frames" in lines[0]
    run = lapse.journal.latest_run()
    assert run is not None
    assert lines[1] == f"Journal: {run.path} (the photos stay on the camera's card)"
    assert lines[2] == "Note: The rig is simulated (LAPSE_HW=sim)."
    frame_lines = [line for line in lines if line.startswith("frame ")]
    assert [line.split()[1] for line in frame_lines] == ["0/4", "1/4", "2/4", "3/4"]
    for line in frame_lines:
        # number, due time (wall clock), lateness, status
        assert " due " in line and " late " in line and line.endswith(" ok")
    assert lines[-1].endswith("finished: 4 ok, 0 missed, 0 errors.")
    status = lapse.cli("status", "--json")
    data = json.loads(status.stdout)
    assert data["daemon"] is True and data["state"] == "finished"
    assert data["run"]["counts"]["ok"] == 4


def test_update_changes_the_frame_count_of_a_running_run(lapse: Lapse) -> None:
    lapse.start_daemon()
    with lapse.client() as client:
        client.subscribe()
        started = client.start(Settings.from_dict({"interval": "100ms", "frames": 0}))
        assert started.run is not None
        run_id = started.run.id
        lapse.wait_for(lambda: counts(lapse).ok >= 2, what="frames")
        updated = client.request(Update(frames=counts(lapse).ok + 5))
        assert updated.run is not None
        frames = updated.run.settings.frames
        assert frames > 0
        ended = None
        for event in client.events(timeout=30):
            if isinstance(event, StateEvent) and event.status.state == "finished":
                ended = event.status
                break
    assert ended is not None and ended.run is not None and ended.run.id == run_id
    info = lapse.journal.get_run(run_id)
    assert info.settings.frames == frames
    assert len(lapse.journal.read_frames(run_id)) == frames
