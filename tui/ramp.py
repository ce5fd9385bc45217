"""A run's exposure ramp: the light each frame was taken with, for the main screen's plot.

Auto exposure journals each frame's setting (``1/125 ISO 400``); the ramp keeps them as
stops of light (:func:`core.model.camera_policy.setting_stops`), at most
:data:`MAX_POINTS` whatever the run's length, and lays them out in a plot's columns and
rows. Plain logic: the widget draws what :func:`plot_rows` gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.model.camera_policy import setting_stops
from core.model.records import FrameRecord

MAX_POINTS = 512
"""The most points a ramp keeps (a wide terminal's plot is under 200 columns): past it,
every second point goes and only every second new one is kept, so a run of a million
frames costs the screen what one of a thousand does."""


@dataclass(frozen=True)
class RampPoint:
    """One frame's setting and the light it lets in."""

    frame: int
    stops: float
    setting: str


class Ramp:
    """The exposure of one run's frames, in frame order, kept to :data:`MAX_POINTS`."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.points: list[RampPoint] = []
        """Every ``every``-th frame counted, oldest first."""
        self.every = 1
        self.counted = 0
        """Frames counted: each with a setting, taken after the last one counted."""
        self.latest: RampPoint | None = None
        self.least: RampPoint | None = None
        """The setting with the least light, of every frame counted (not only those kept)."""
        self.most: RampPoint | None = None

    def add(self, record: FrameRecord) -> bool:
        """Count ``record`` if it carries a setting and comes after the latest counted (a
        journal's line and the daemon's event for one frame count once); True if counted."""
        if record.exposure is None:
            return False
        stops = setting_stops(record.exposure)
        if stops is None:
            return False
        return self.add_point(RampPoint(record.frame, stops, record.exposure))

    def add_point(self, point: RampPoint) -> bool:
        """Count ``point`` if it comes after the latest counted; True if counted."""
        if self.latest is not None and point.frame <= self.latest.frame:
            return False
        self.latest = point
        if self.least is None or point.stops < self.least.stops:
            self.least = point
        if self.most is None or point.stops > self.most.stops:
            self.most = point
        if self.counted % self.every == 0:
            self.points.append(point)
            if len(self.points) > MAX_POINTS:
                del self.points[1::2]  # the kept are every (2·every)-th counted again
                self.every *= 2
        self.counted += 1
        return True

    def kept(self) -> list[RampPoint]:
        """The points kept, and the latest counted whether kept or not."""
        if self.latest is not None and (not self.points or self.points[-1] != self.latest):
            return [*self.points, self.latest]
        return list(self.points)

    def columns(self, width: int) -> list[float]:
        """The ramp in at most ``width`` columns, oldest on the left: one a point while they
        fit (the plot grows as the run goes), else each column the mean of its share. The
        last column ends at the latest frame, kept or not."""
        points = self.kept()
        if width <= 0 or not points:
            return []
        if len(points) <= width:
            return [point.stops for point in points]
        columns = []
        for column in range(width):
            share = points[column * len(points) // width : (column + 1) * len(points) // width]
            columns.append(sum(point.stops for point in share) / len(share))
        return columns


def plot_rows(values: list[float], height: int, bars: str, low: float | None = None) -> list[str]:
    """``values`` as a bar plot ``height`` rows tall, top row first: the least value (or
    ``low``, a histogram's 0) a bottom bar's lowest glyph, the most a full column, each of
    ``height × len(bars)`` levels one glyph of ``bars`` (lowest first, the last a full
    cell). All values equal: a line along the bottom."""
    if height <= 0:
        return []
    high = max(values, default=0.0)
    low = min(values, default=0.0) if low is None else low
    levels = height * len(bars)
    rows = [[" "] * len(values) for _ in range(height)]
    for column, value in enumerate(values):
        level = 0 if high == low else round((value - low) / (high - low) * (levels - 1))
        full, part = divmod(level, len(bars))
        for row in range(full):
            rows[height - 1 - row][column] = bars[-1]
        rows[height - 1 - full][column] = bars[part]
    return ["".join(row) for row in rows]
