"""The TUI's link to the daemon: a command sent while its daemon is still starting."""

from __future__ import annotations

import os
import shlex
import signal
import threading
import time

import pytest

from core.model import protocol
from core.model.run_state import RunState
from core.paths import resolve_paths
from tests.conftest import Lapse
from tui.cli import daemon_command
from tui.link import SocketLink


def test_a_command_sent_while_the_link_starts_its_daemon_waits_for_it(
    lapse: Lapse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As when start is pressed the moment the screen opens: the screen's link is still
    # starting the daemon, and the start must reach it, not fail with "no daemon", nor
    # start a second daemon beside it.
    for name, value in lapse.env.items():
        monkeypatch.setenv(name, value)  # the daemon the link starts takes this environment
    spawns = lapse.root / "spawns"
    counted = f"echo spawned >> {spawns}; exec {shlex.join(daemon_command())}"
    paths = resolve_paths(lapse.env)
    link = SocketLink(paths, ["sh", "-c", counted])
    hellos: list[protocol.HelloReply] = []
    starting = threading.Thread(target=lambda: hellos.append(link.connect()))
    starting.start()
    try:
        while not spawns.exists():
            time.sleep(0.005)
        assert not paths.socket.exists(), "the daemon came up too soon to test this"
        status = link.command(protocol.GetStatus())
    finally:
        starting.join(30)
        for hello in hellos:
            stop(hello.pid)
    assert status.state is RunState.IDLE
    assert len(hellos) == 1
    assert spawns.read_text().splitlines() == ["spawned"], "one daemon started, not two"


def stop(pid: int) -> None:
    """End a daemon this test's link started (its child: reaped here)."""
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)
