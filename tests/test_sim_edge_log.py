"""The simulated rig's edge log: what really fired, in a file that outlives the daemon."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from core.model.hardware import HardwareConfig
from core.model.plan import Line
from hw.sim import EDGE_LOG_ENV_VAR, make_sim_rig

REPO_ROOT = Path(__file__).resolve().parent.parent


def edges(path: Path) -> list[tuple[int, int, str, int]]:
    rows = []
    for line in path.read_text().splitlines():
        at_ns, pid, name, level = line.split()
        rows.append((int(at_ns), int(pid), name, int(level)))
    return rows


def test_each_level_change_of_a_line_is_one_line_stamped_before_the_call_returns(
    tmp_path: Path,
) -> None:
    log = tmp_path / "edges.log"
    rig = make_sim_rig(HardwareConfig(), {EDGE_LOG_ENV_VAR: str(log)})
    try:
        before = time.monotonic_ns()
        rig.set_line(Line.POWER, True)
        rig.set_line(Line.FOCUS, True)
        rig.set_line(Line.SHUTTER, True)
        rig.set_line(Line.SHUTTER, True)  # no change of level: no edge
        rig.set_led(0.5)  # the LED is not a line
        rig.set_line(Line.SHUTTER, False)
        after = time.monotonic_ns()
        rows = edges(log)  # read before close: each line is in the file when set_line returns
    finally:
        rig.close()
    assert [(name, level) for _, _, name, level in rows] == [
        ("power", 1),
        ("focus", 1),
        ("shutter", 1),
        ("shutter", 0),
    ]
    assert {pid for _, pid, _, _ in rows} == {os.getpid()}
    times = [at_ns for at_ns, _, _, _ in rows]
    assert before <= times[0] and times == sorted(times) and times[-1] <= after
    # The mock pins still keep their own history too.
    assert [state.state for state in rig.pin_factory.pin(21).states][-2:] == [1.0, 0.0]


def test_the_release_of_a_line_that_was_on_is_logged(tmp_path: Path) -> None:
    log = tmp_path / "edges.log"
    rig = make_sim_rig(HardwareConfig(), {EDGE_LOG_ENV_VAR: str(log)})
    rig.set_line(Line.SHUTTER, True)
    rig.close()
    assert [(name, level) for _, _, name, level in edges(log)] == [("shutter", 1), ("shutter", 0)]


def test_without_the_variable_no_file_is_written(tmp_path: Path) -> None:
    rig = make_sim_rig(HardwareConfig(), {EDGE_LOG_ENV_VAR: ""})
    try:
        rig.set_line(Line.SHUTTER, True)
    finally:
        rig.close()
    assert list(tmp_path.iterdir()) == []
    assert type(rig.pin_factory).__name__ == "MockFactory"


KILLED_CODE = """\
import os, signal
from core.model.hardware import HardwareConfig
from core.model.plan import Line
from hw.sim import make_sim_rig

rig = make_sim_rig(HardwareConfig())
rig.set_line(Line.SHUTTER, True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_an_edge_is_in_the_file_even_when_the_process_is_killed_right_after(
    tmp_path: Path,
) -> None:
    log = tmp_path / "edges.log"
    env = {**os.environ, EDGE_LOG_ENV_VAR: str(log), "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CODE], env=env, stderr=subprocess.PIPE, text=True
    )
    _, err = child.communicate(timeout=60)
    assert child.returncode == -9, err
    assert [(pid, name, level) for _, pid, name, level in edges(log)] == [(child.pid, "shutter", 1)]
