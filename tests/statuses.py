"""The daemon's status as the TUI's tests feed it: a run placed on the grid."""

from __future__ import annotations

from typing import Any

from core.model.protocol import Counts, RunStatus, Status
from core.model.records import FrameRecord
from core.model.run_state import RunState
from core.model.settings import Settings


def running(
    anchor: int,
    settings: Settings,
    *,
    state: RunState = RunState.RUNNING,
    now_ns: int | None = None,
    last_frame: FrameRecord | None = None,
    **extra: Any,
) -> Status:
    """The daemon's status of a run of ``settings`` placed on the grid at ``anchor``, as
    built at ``now_ns`` (the anchor by default); ``extra`` fills the status's other fields."""
    run = RunStatus(
        id="r",
        settings=settings,
        folder="/var/lib/lapse/runs/r",
        photos="/var/lib/lapse/runs/r",
        anchor_ns=anchor,
        counts=Counts(),
        last_frame=last_frame,
        next_due_ns=anchor,
    )
    return Status(
        state=state,
        now_ns=anchor if now_ns is None else now_ns,
        rig="simulated",
        simulated=True,
        outputs={},
        run=run,
        **extra,
    )
