"""Auto exposure as plain logic: from each frame's brightness, the next frame's settings.

The camera thread measures each saved frame (``core/brightness.py``) and tells
:class:`AutoExposure` how bright it came out and at which setting; the answer is the
shutter speed and ISO to set before the next frame, chosen from the camera's own lists
(:class:`Ladder`). Three rules keep a day-to-night sequence free of flicker:

- the measurement is smoothed: what the scene needs is the median of the last three
  frames' (a car's headlights in one frame count for nothing), averaged over the frames
  before (``smoothing`` is the newest median's weight);
- a dusk is followed, not trailed: the average keeps a trend too (Holt's double
  exponential smoothing), and the next frame is set for where the trend will have taken
  the scene by then (the median's frame of lag and the frame to come);
- from the fifth frame on, a frame's setting differs from the one before by at most
  ``step_ev`` (a third of a stop by default), whatever the measurement says;
- a change must bring the setting nearer the aim by a quarter of a step, so a scene
  that sits between two neighbouring settings does not make the exposure dither.

The first four frames settle: each is set to what the frame before it needed, in full,
so a run started at the camera's last setting finds its exposure before the step holds.
A resumed run does not settle again: its last frames before the stop are taken in as
if just measured (:meth:`AutoExposure.resume`), unless the median of its first frames
after shows the light moved by more than :data:`RESETTLE_EV` while lapse was down.

Stops (EV) here count the light a setting lets in, as log2 of its shutter time in seconds
times ISO/100: one more is twice the light. Each marking counts at its nearest third of
a stop, as a camera body applies it (1/125 is 2^-7 s; ISO 160 is 1 2/3 stops over 100),
so settings that differ by a third on the dial differ by exactly a third here. The
aperture is the camera's own and stays.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.model.durations import NS_PER_S
from core.model.fields import Choice, Duration, Kind, Number, Span, Table, Whole

MID_GREY = 0.46
"""An 18 % grey card as sRGB encodes it (0.46 of white): the brightness a light meter
aims for, and auto exposure's default target."""
MEDIAN_OF = 3
"""Frames whose measurements make one median: a single odd frame is outvoted."""
TREND_WEIGHT = 0.3
"""The newest frame's weight in the trend (Holt's beta): a trend is believed slowly."""
TREND_AHEAD = 2
"""Frames the trend is carried ahead: the median's frame of lag, and the frame to come."""
SETTLING_FRAMES = 4
"""Frames whose measurement is followed in full, without the step: the run's first."""
RESUME_FRAMES = 12
"""The last frames before a stop a resumed run takes in: enough to settle, fill the
median and carry the smoothing on."""
RESETTLE_EV = 1.0
"""A resumed run whose first frames' median needs more than this many stops away from
where the smoothing had got settles again: the light moved while lapse was down."""
DEADBAND_STEPS = 0.25
"""A change must bring the setting this part of a step nearer the aim."""
EV_GRAIN = 0.01
"""Slack in comparing stops, which are sums of thirds."""
BLACK, WHITE = 0.5 / 255, 254.5 / 255
"""A measurement is read as no darker and no brighter than these: a frame that is all
black or all white says which way to go, not how far."""
MAX_ISO = 409_600


class ExposureMode(StrEnum):
    """Who sets the exposure during a run."""

    OFF = "off"
    """The camera keeps its own settings (or ``camera.shutter_speed``)."""
    AUTO = "auto"
    """lapse sets shutter speed and ISO frame by frame from each frame's brightness."""


@dataclass(frozen=True)
class ExposureConfig:
    """The ``[exposure]`` table of the config file."""

    mode: ExposureMode = ExposureMode.OFF
    target: float = MID_GREY
    """The brightness to aim for, 0 (black) to 1 (white): a frame's mean luminance."""
    step_ev: float = 1 / 3
    """The most one frame's setting may differ from the one before, in stops."""
    smoothing: float = 0.5
    """The newest frame's weight in what the scene is taken to need (1: no smoothing)."""
    iso_min: int = 100
    iso_max: int = 6400
    margin_ns: int = NS_PER_S
    """The longest shutter speed is the interval less this (room to save the file), or
    half the interval when that is less (:meth:`longest_ns`)."""

    def longest_ns(self, interval_ns: int) -> int:
        """The longest shutter speed auto exposure may choose at ``interval_ns``: the
        interval less the margin, but never under half the interval, so a short interval
        still has exposures to choose from (at 1 s: half a second)."""
        return interval_ns - min(self.margin_ns, interval_ns // 2)

    @property
    def auto(self) -> bool:
        """True when lapse sets the exposure."""
        return self.mode is ExposureMode.AUTO


EXPOSURE = Table(
    "exposure",
    (
        Choice("mode", choices=ExposureMode),
        Number(
            "target",
            range=Span(Kind.NUMBER, 0.05, 0.95),
            what="a brightness, 0 black and 1 white,",
        ),
        Number("step_ev", range=Span(Kind.NUMBER, 0.1, 3, unit="stops"), what="a number of stops"),
        Number(
            "smoothing",
            range=Span(Kind.NUMBER, 0, 1, above_low=True),
            what="the newest frame's weight",
        ),
        Whole("iso_min", range=Span(Kind.WHOLE, 1, MAX_ISO), what="an ISO"),
        Whole("iso_max", range=Span(Kind.WHOLE, 1, MAX_ISO), what="an ISO"),
        Duration("margin", attr="margin_ns", range=Span(Kind.DURATION, 0, 3600 * NS_PER_S)),
    ),
)
"""The ``[exposure]`` table: one field an :class:`ExposureConfig` field."""


# -- measuring ------------------------------------------------------------------------------


def linear(brightness: float) -> float:
    """The light behind an sRGB-encoded ``brightness`` (0 to 1), 0 to 1."""
    if brightness <= 0.04045:
        return brightness / 12.92
    return ((brightness + 0.055) / 1.055) ** 2.4


def encoded(light: float) -> float:
    """:func:`linear` undone: the sRGB brightness of ``light`` (clipped to 0 … 1)."""
    light = min(1.0, max(0.0, light))
    if light <= 0.0031308:
        return light * 12.92
    return 1.055 * light ** (1 / 2.4) - 0.055


def stops_off(brightness: float, target: float) -> float:
    """How many stops more light ``brightness`` needed to come out at ``target``: positive
    for a frame too dark. A black or white frame reads as :data:`BLACK` or :data:`WHITE`."""
    held = min(WHITE, max(BLACK, brightness))
    return math.log2(linear(target) / linear(held))


# -- the camera's settings --------------------------------------------------------------------

_ISO = re.compile(r"\s*(?:ISO\s*)?(\d+)\s*", re.I)


def iso_number(text: str) -> int | None:
    """``"400"`` or ``"ISO 400"`` → 400; None for ``"Auto"`` and anything else."""
    match = _ISO.fullmatch(text)
    return None if match is None else int(match.group(1))


@dataclass(frozen=True)
class Setting:
    """One shutter speed and ISO, in the camera's own spelling, and the light they let in."""

    shutter: str
    """The camera's own shutter speed: ``1/125``, or its ``Bulb`` for a bulb exposure."""
    iso: str | None
    """None for a camera without an ISO setting (its own stays)."""
    ev: float
    bulb_ns: int | None = None
    """How long lapse holds the shutter open in Bulb; None for a speed the camera times."""

    @property
    def text(self) -> str:
        """As ``lapse log`` and the screens show it: ``1/125 ISO 400``, ``bulb 40.3s ISO
        100``."""
        shutter = self.shutter
        if self.bulb_ns is not None:
            shutter = f"bulb {round(self.bulb_ns / NS_PER_S, 1):g}s"
        return shutter if self.iso is None else f"{shutter} ISO {self.iso}"


class NoLadder(Exception):
    """Auto exposure cannot work with this camera and these limits; the message says what
    to change."""


@dataclass(frozen=True)
class Ladder:
    """Every setting auto exposure may choose, from the least light to the most: one per
    amount of light, at the lowest ISO that gives it (less noise)."""

    settings: tuple[Setting, ...]

    @classmethod
    def of(
        cls,
        shutters: Sequence[str],
        isos: Sequence[str],
        *,
        longest_ns: int,
        iso_min: int,
        iso_max: int,
        speed_ns: Callable[[str], int | None],
        bulb: str | None = None,
    ) -> Ladder:
        """The ladder from the camera's shutter speeds and ISOs, within the limits: shutter
        speeds no longer than ``longest_ns`` (``speed_ns`` reads one, None for Bulb), ISOs
        from ``iso_min`` to ``iso_max``. A camera with no ISO list keeps its own ISO.
        ``bulb``: the camera's Bulb speed, when lapse can hold it open: then exposures
        longer than its longest timed speed, up to ``longest_ns``, in thirds of a stop.
        :class:`NoLadder` when no setting is left."""
        speeds = [(s, ns) for s in shutters if (ns := speed_ns(s)) is not None and ns > 0]
        if not speeds:
            raise NoLadder(
                "auto exposure needs the camera's shutter speed over USB;"
                " set the camera's mode dial to M"
            )
        usable = [(s, ns) for s, ns in speeds if ns <= longest_ns]
        if not usable:
            raise NoLadder(
                f"none of the camera's shutter speeds is as short as {longest_ns / NS_PER_S:g}s"
                " (the interval less exposure.margin): choose a longer interval"
            )
        numbered = [(text, iso_number(text)) for text in isos]
        in_range = [(t, n) for t, n in numbered if n is not None and iso_min <= n <= iso_max]
        if isos and not in_range:
            raise NoLadder(
                f"none of the camera's ISOs is from exposure.iso_min {iso_min} to"
                f" exposure.iso_max {iso_max}"
            )
        choices: list[tuple[str | None, int]] = list(in_range) if isos else [(None, 100)]
        exposures = [(shutter, ns, False) for shutter, ns in usable]
        if bulb is not None:
            exposures += [
                (bulb, ns, True) for ns in bulb_times(max(ns for _, ns in usable), longest_ns)
            ]
        by_light: dict[int, Setting] = {}
        """Thirds of a stop → the setting that lets that much light in."""
        for iso_text, iso in sorted(choices, key=lambda choice: choice[1], reverse=True):
            for shutter, ns, held in exposures:
                light = stops(ns / NS_PER_S, iso)
                # Lowest ISO last, so it is the one kept for each amount of light.
                by_light[round(3 * light)] = Setting(shutter, iso_text, light, ns if held else None)
        return cls(tuple(sorted(by_light.values(), key=lambda setting: setting.ev)))

    @property
    def least(self) -> Setting:
        """The darkest setting."""
        return self.settings[0]

    @property
    def most(self) -> Setting:
        """The brightest setting."""
        return self.settings[-1]

    def nearest(self, ev: float) -> Setting:
        """The setting closest to ``ev`` stops."""
        return min(self.settings, key=lambda setting: abs(setting.ev - ev))

    def toward(self, ev: float, start: Setting, step_ev: float) -> Setting:
        """The setting closest to ``ev`` of those within ``step_ev`` of ``start``."""
        reach = step_ev + EV_GRAIN / 2
        near = [s for s in self.settings if abs(s.ev - start.ev) <= reach]
        return min(near or [start], key=lambda setting: abs(setting.ev - ev))

    def find(self, shutter: str, iso: str | None) -> Setting | None:
        """The ladder's setting of this timed shutter speed and ISO, if it has it (a
        camera left on Bulb says nothing of how long)."""
        for setting in self.settings:
            if setting.shutter == shutter and setting.iso == iso and setting.bulb_ns is None:
                return setting
        return None


def bulb_times(longest_timed_ns: int, longest_ns: int) -> list[int]:
    """The bulb exposures past the camera's longest timed speed, up to ``longest_ns``:
    one each third of a stop (2^(k/3) s), as the dial would go on."""
    first = round(3 * math.log2(longest_timed_ns / NS_PER_S)) + 1
    last = math.floor(3 * math.log2(longest_ns / NS_PER_S) + 1e-9) if longest_ns > 0 else first - 1
    return [round(2 ** (k / 3) * NS_PER_S) for k in range(first, last + 1)]


def stops(shutter_s: float, iso: int) -> float:
    """The light a shutter time and ISO let in, in stops over 1 s at ISO 100, each marking
    at its nearest third of a stop (see the module)."""
    return (round(3 * math.log2(shutter_s)) + round(3 * math.log2(iso / 100))) / 3


class AutoExposure:
    """Chooses each next frame's setting from the frames measured so far (see the module)."""

    def __init__(self, ladder: Ladder, config: ExposureConfig, start: Setting) -> None:
        self.ladder = ladder
        self.config = config
        self.current = start
        """The setting the camera is at: the next frame's."""
        self.needed_ev: float | None = None
        """What the scene is taken to need, smoothed; None before the first measurement."""
        self.trend_ev = 0.0
        """How much more it needs each frame, smoothed."""
        self.measured = 0
        self._recent: deque[float] = deque(maxlen=MEDIAN_OF)
        self._resume_checks = 0
        """Measurements still to check against where a resumed run's smoothing had got."""

    def resume(self, frames: Sequence[tuple[Setting, float]]) -> None:
        """Take in a resumed run's last frames before its stop (each one's setting and
        brightness, oldest first) as if just measured: the run goes on from where its
        smoothing had got instead of settling again, at the setting the last of them was
        taken at (a camera switched off meanwhile has lost it: the caller sets it), or
        the ladder's nearest to it."""
        for used, brightness in frames:
            self.current = used
            self.measure(brightness, used)
        if frames:
            # The ladder's own: limits changed since the stop still hold from here on.
            self.current = self.ladder.nearest(frames[-1][0].ev)
        self._resume_checks = MEDIAN_OF if frames else 0

    def measure(self, brightness: float, used: Setting) -> Setting | None:
        """A frame taken at ``used`` came out at ``brightness``: the setting to change to
        before the next frame, or None to keep :attr:`current`. The caller sets
        :attr:`current` once the camera has taken the change."""
        config = self.config
        needed = used.ev + stops_off(brightness, config.target)
        self._recent.append(needed)
        if self._resume_checks and self.needed_ev is not None:
            # Judged on the median, as the smoothing is: one odd frame after a restart
            # (a passing light) is outvoted by the frames before the stop.
            self._resume_checks -= 1
            expected = self.needed_ev + self.trend_ev
            if abs(statistics.median(self._recent) - expected) > RESETTLE_EV:
                # The light moved while lapse was down: settle again, from this frame.
                self._resume_checks = 0
                self.measured, self.needed_ev, self.trend_ev = 0, None, 0.0
                self._recent.clear()
                self._recent.append(needed)
        self.measured += 1
        settling = self.measured <= SETTLING_FRAMES
        if settling or self.needed_ev is None:
            self.needed_ev, self.trend_ev = needed, 0.0
            aim = needed
        else:
            weight, before = config.smoothing, self.needed_ev
            level = statistics.median(self._recent)
            self.needed_ev = weight * level + (1 - weight) * (before + self.trend_ev)
            change = self.needed_ev - before
            self.trend_ev = TREND_WEIGHT * change + (1 - TREND_WEIGHT) * self.trend_ev
            aim = self.needed_ev + TREND_AHEAD * self.trend_ev
        if settling:
            chosen = self.ladder.nearest(aim)
        else:
            chosen = self.ladder.toward(aim, self.current, config.step_ev)
        nearer = abs(aim - self.current.ev) - abs(aim - chosen.ev)
        return chosen if nearer >= DEADBAND_STEPS * config.step_ev else None
