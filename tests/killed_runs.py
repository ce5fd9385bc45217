"""What a daemon killed mid-run (or a Pi that lost power) leaves in the journal: an active
run with its first frames fired and on record, written by the real journal writer."""

from __future__ import annotations

from core.daemon.journal_writer import RunWriter, create_run
from core.journal import Journal
from core.model.camera import NO_CHOICE
from core.model.durations import NS_PER_S, wall_iso
from core.model.protocol import RunCamera
from core.model.records import FrameRecord
from core.model.settings import Settings


def killed_run(
    journal: Journal,
    settings: Settings,
    *,
    anchor_ns: int,
    anchor_wall_ns: int,
    fired: int,
    boot_id: str = "boot-A",
    late_ns: int = 0,
    camera: RunCamera = NO_CHOICE,
) -> RunWriter:
    """An active run, created 5 s before its frame 0, with frames 0..fired−1 fired
    ``late_ns`` after their slots; the writer is closed, its ``info`` names the run."""
    interval = settings.interval_ns
    with create_run(
        journal,
        settings=settings,
        anchor_ns=anchor_ns,
        anchor_wall_ns=anchor_wall_ns,
        boot_id=boot_id,
        created_wall_ns=anchor_wall_ns - 5 * NS_PER_S,
        rig="simulated",
        camera=camera,
    ) as writer:
        writer.append(
            [
                FrameRecord(
                    frame=k,
                    due_ns=anchor_ns + k * interval,
                    fired_ns=anchor_ns + k * interval + late_ns,
                    wall=wall_iso(anchor_wall_ns + k * interval + late_ns),
                    status="ok",
                )
                for k in range(fired)
            ]
        )
    return writer
