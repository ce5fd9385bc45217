"""A simulated rig's memory stays bounded however long it runs (hw/sim.py).

gpiozero's mock pins keep every level change, one object each for the garbage
collector to go over: a simulated daemon at 10 ms grew by 400,000 of them in
100,000 frames, and its full collections then stopped the timing thread for up
to 110 ms. Each pin now keeps its latest ``PIN_HISTORY`` changes.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from core.model.hardware import HardwareConfig
from core.model.plan import Line
from hw.sim import EDGE_LOG_ENV_VAR, PIN_HISTORY, make_sim_rig


@pytest.mark.parametrize("edge_log", [False, True], ids=["plain", "edge-log"])
def test_a_pin_keeps_its_latest_changes_and_no_more(tmp_path: Path, edge_log: bool) -> None:
    environ = {EDGE_LOG_ENV_VAR: str(tmp_path / "edges")} if edge_log else {}
    hardware = HardwareConfig()
    rig = make_sim_rig(hardware, environ)
    pin = rig.pin_factory.pin(hardware.shutter_pin)
    gc.collect()
    tracked_before = len(gc.get_objects())
    changes = 3 * PIN_HISTORY
    for change in range(changes):
        rig.set_line(Line.SHUTTER, change % 2 == 0)
    states = pin.states
    assert PIN_HISTORY <= len(states) <= PIN_HISTORY + 256
    # The newest changes are the ones kept, in order: on, off, on… ending off.
    assert [state.state for state in states[-4:]] == [True, False, True, False]
    gc.collect()
    assert len(gc.get_objects()) - tracked_before < 2 * PIN_HISTORY
    if edge_log:
        assert len((tmp_path / "edges").read_text().splitlines()) == changes  # all logged
    rig.close()
