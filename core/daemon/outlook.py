"""The battery and the disk as the daemon reports them, and whether they last the run.

The battery figure every client shows is made here, once: a battery monitor
on I²C or sysfs when one is fitted, read at most every :data:`READ_EVERY_NS`
however often clients ask, else the model of the Pi the daemon runs on,
drained by the run's plan. The free space is cached likewise. The planner
(:func:`core.model.planner.assess_run`) turns both into warnings.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
from pathlib import Path

from core.clock import Clock
from core.model.battery import BatteryModel, BatteryReader, battery_status
from core.model.durations import NS_PER_S
from core.model.errors import BatteryError
from core.model.plan import Plan
from core.model.planner import assess_run
from core.model.protocol import BatteryStatus, DiskStatus, RunPreview, Status
from core.model.settings import Settings

READ_EVERY_NS = 10 * NS_PER_S


class Outlook:
    """Cached battery and disk figures for ``status``, and the planner's verdict."""

    def __init__(
        self,
        reader: BatteryReader | None,
        model: BatteryModel,
        folder: Path,
        clock: Clock,
        *,
        reserve_bytes: int,
    ) -> None:
        self.reader = reader
        """The battery monitor; None: the model stands in for one."""
        self.model = model
        self.folder = folder
        """Where frames are saved: the disk whose free space counts."""
        self.clock = clock
        self.reserve_bytes = reserve_bytes
        self._lock = threading.Lock()
        self._reading: tuple[int, float | None, BatteryStatus] | None = None
        """When the monitor was last read, for which average draw, and what it said."""
        self._disk: tuple[Path, int, int | None] | None = None
        """Where the disk was last measured, when, and its free bytes."""

    def battery(self, plan: Plan | None, *, running_ns: int, draining: bool) -> BatteryStatus:
        """The battery now, running ``plan`` for ``running_ns`` (None: no run, the Pi alone).

        ``draining`` says the model's figures fall with time from now on (a run going).
        """
        now = self.clock.now_ns()
        if self.reader is None:
            estimate = self.model.estimate(plan, running_ns=running_ns, frames_left=None)
            return battery_status(estimate, at_ns=now, draining=draining)
        average = None if plan is None else self.model.average_ma(plan)
        with self._lock:
            cached = self._reading
            # A monitor without a current sensor works out what is left from the plan's
            # draw, so a reading is only reused for the same draw.
            if cached is not None and now - cached[0] < READ_EVERY_NS and cached[1] == average:
                return cached[2]
            try:
                reading = battery_status(self.reader.read(average), at_ns=now, draining=False)
            except BatteryError as error:
                reading = BatteryStatus(source=self.reader.name, at_ns=now, error=str(error))
            self._reading = (now, average, reading)
            return reading

    def free_bytes(self, photos: Path | None = None) -> int | None:
        """Free space where the frames go (``photos``, a run's output folder, else
        :attr:`folder`); None when it cannot be told."""
        where = self.folder if photos is None else photos
        now = self.clock.now_ns()
        with self._lock:
            cached = self._disk
            if cached is not None and cached[0] == where and now - cached[1] < READ_EVERY_NS:
                return cached[2]
            try:
                if photos is None:
                    where.mkdir(parents=True, exist_ok=True)
                free: int | None = shutil.disk_usage(where).free
            except OSError:
                free = None
            self._disk = (where, now, free)
            return free

    def report(
        self,
        status: Status,
        plan: Plan | None,
        average_file_bytes: float | None,
        *,
        running_ns: int = 0,
        needs_ns: int | None = None,
    ) -> Status:
        """``status`` with its battery, disk and, for a live run, its outlook."""
        run = status.run if status.state.live else None
        battery = self.battery(plan, running_ns=running_ns, draining=run is not None)
        # Photos in the run's own folder are on the journal's disk: the one measured.
        photos = None if run is None or run.photos == run.folder else Path(run.photos)
        disk = DiskStatus(self.free_bytes(photos), self.reserve_bytes, average_file_bytes)
        outlook = None
        if run is not None:
            outlook = assess_run(
                run.settings,
                frames_done=run.counts.done,
                battery=None if battery.error else battery,
                free_bytes=disk.free_bytes,
                average_file_bytes=average_file_bytes,
                reserve_bytes=self.reserve_bytes,
                needs_ns=needs_ns,
            )
        return dataclasses.replace(status, battery=battery, disk=disk, outlook=outlook)

    def preview(self, settings: Settings, plan: Plan, needs_ns: int | None = None) -> RunPreview:
        """What a run of ``settings`` would meet if it started now (``needs_ns``: how long
        it would take, when its grid alone cannot say)."""
        battery = self.battery(plan, running_ns=0, draining=False)
        outlook = assess_run(
            settings,
            battery=None if battery.error else battery,
            free_bytes=self.free_bytes(),
            reserve_bytes=self.reserve_bytes,
            needs_ns=needs_ns,
        )
        return RunPreview(battery=battery, outlook=outlook)
