"""The battery and the disk as the daemon reports them, and whether they last the run.

A battery monitor on I²C or sysfs is read at most every :data:`READ_EVERY_NS`,
however often clients ask for ``status``; the free space likewise. The
planner (:func:`core.model.planner.assess_run`) turns both into warnings.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.clock import Clock
from core.model.battery import BatteryModel, BatteryReader, BatteryReading
from core.model.durations import NS_PER_S
from core.model.errors import BatteryError
from core.model.plan import Plan
from core.model.planner import assess_run
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
        self.model = model
        self.folder = folder
        """Where frames are saved: the disk whose free space counts."""
        self.clock = clock
        self.reserve_bytes = reserve_bytes
        self._lock = threading.Lock()
        self._battery: tuple[int, dict[str, Any] | None] | None = None
        self._disk: tuple[int, int | None] | None = None

    def battery(self, plan: Plan | None, running_ns: int) -> dict[str, Any] | None:
        """The latest reading as plain data (``error`` says why it could not be read)."""
        if self.reader is None:
            return None
        now = self.clock.now_ns()
        with self._lock:
            cached = self._battery
            if (
                cached is not None
                and now - cached[0] < READ_EVERY_NS
                and self.reader.name != "model"
            ):
                return cached[1]
            average = None if plan is None else self.model.average_ma(plan)
            try:
                reading: BatteryReading | None = self.reader.read(average, running_ns=running_ns)
            except BatteryError as error:
                data: dict[str, Any] | None = {"error": str(error), "source": self.reader.name}
            else:
                data = {**asdict(reading), "error": None} if reading is not None else None
            self._battery = (now, data)
            return data

    def free_bytes(self) -> int | None:
        """Free space where the frames go; None when it cannot be told."""
        now = self.clock.now_ns()
        with self._lock:
            cached = self._disk
            if cached is not None and now - cached[0] < READ_EVERY_NS:
                return cached[1]
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                free: int | None = shutil.disk_usage(self.folder).free
            except OSError:
                free = None
            self._disk = (now, free)
            return free

    def report(
        self,
        settings: Settings | None,
        plan: Plan | None,
        *,
        frames_done: int,
        running_ns: int,
        average_file_bytes: float | None,
    ) -> dict[str, Any]:
        """``battery``, ``disk`` and, for a run, ``outlook``: the keys ``status`` carries."""
        battery = self.battery(plan, running_ns)
        free = self.free_bytes()
        report: dict[str, Any] = {
            "battery": battery,
            "disk": {
                "free_bytes": free,
                "reserve_bytes": self.reserve_bytes,
                "average_file_bytes": average_file_bytes,
            },
        }
        if settings is not None:
            figures = None
            if battery is not None and battery.get("error") is None:
                figures = BatteryReading(**{k: v for k, v in battery.items() if k != "error"})
            report["outlook"] = assess_run(
                settings,
                frames_done=frames_done,
                battery=figures,
                free_bytes=free,
                average_file_bytes=average_file_bytes,
                reserve_bytes=self.reserve_bytes,
            ).to_dict()
        return report
