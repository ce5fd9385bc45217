"""When a run may shoot: windows by the clock and by the sun, as plain logic.

A run's window rules come from its settings: ``between`` (``sunset-30min..sunrise+15min``,
``06:00..20:00``) and ``when`` (``night``: the sun below ``night_angle``; ``day``: above
it). A slot is inside when its shutter's due time is inside every rule's window; its
leads (the camera's power, the focus) may begin before the window opens.

The sun's times are not computed here: the daemon hands in a :class:`Sky` (astral's
answers for the run's place, in the system's time zone), so this module imports the
standard library only. :class:`Windows` walks the sky's openings and closings into
spans of wall time, a week at a time from a fixed origin, so the same run always gets
the same spans however often it is resumed, and answers the scheduler's questions in
the daemon's monotonic time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Protocol

from core.model.durations import (
    DAY_NS,
    format_duration,
    parse_signed_duration,
)
from core.model.errors import DurationError
from core.model.toml_text import echo

NIGHT_ANGLE = -6.0
"""The sun's altitude, in degrees, below which ``when = "night"`` counts it night by default:
the end of civil twilight, when the sky is too dark for a daylight exposure."""
SUNRISE_ANGLE = -0.833
"""Where the sun's centre is at sunrise and sunset: its radius and the air's refraction."""
TWILIGHT_ANGLE = -6.0
"""Dawn and dusk: civil twilight begins and ends with the sun 6° below the horizon."""
CHUNK_NS = 7 * DAY_NS
"""Spans are worked out a week at a time, from the epoch, so they never depend on when asked."""
LOOKBACK_DAYS = 2
"""Openings and closings this many days before a week tell whether it begins inside."""
SEARCH_NS = 400 * DAY_NS
"""How far ahead a window is looked for before the run is said never to shoot."""


class When(StrEnum):
    """What ``when`` asks of the sun."""

    ALWAYS = "always"
    NIGHT = "night"
    """The sun below ``night_angle``."""
    DAY = "day"
    """The sun above ``night_angle``."""


class SunEvent(StrEnum):
    """The sun's named moments a window may open or close at."""

    SUNRISE = "sunrise"
    SUNSET = "sunset"
    DAWN = "dawn"
    DUSK = "dusk"


_EVENT_ANGLE = {
    SunEvent.SUNRISE: (SUNRISE_ANGLE, True),
    SunEvent.SUNSET: (SUNRISE_ANGLE, False),
    SunEvent.DAWN: (TWILIGHT_ANGLE, True),
    SunEvent.DUSK: (TWILIGHT_ANGLE, False),
}


@dataclass(frozen=True)
class Moment:
    """One end of a window: a local clock time, or the sun at an angle, and an offset."""

    clock_s: int | None = None
    """Seconds after local midnight, for a clock time; None for the sun."""
    event: SunEvent | None = None
    """A named moment of the sun (sunrise, …); None for a clock time or a bare angle."""
    angle: float = 0.0
    """The sun's altitude in degrees, for a moment of the sun."""
    rising: bool = False
    """The sun crosses ``angle`` going up (morning), else going down (evening)."""
    offset_ns: int = 0

    @classmethod
    def of_event(cls, event: SunEvent, offset_ns: int = 0) -> Moment:
        """Sunrise, sunset, dawn or dusk, ``offset_ns`` after it."""
        angle, rising = _EVENT_ANGLE[event]
        return cls(event=event, angle=angle, rising=rising, offset_ns=offset_ns)

    @property
    def by_sun(self) -> bool:
        """The moment is the sun's, not the clock's."""
        return self.clock_s is None

    @property
    def text(self) -> str:
        """As ``between`` writes it: ``06:00``, ``sunset-30min``; a bare angle, ``-12°``."""
        if self.clock_s is not None:
            hours, rest = divmod(self.clock_s, 3600)
            minutes, seconds = divmod(rest, 60)
            return f"{hours:02}:{minutes:02}" + (f":{seconds:02}" if seconds else "")
        name = str(self.event) if self.event is not None else f"{self.angle:g}°"
        if self.offset_ns:
            sign = "+" if self.offset_ns > 0 else "-"
            name += f"{sign}{format_duration(abs(self.offset_ns))}"
        return name


@dataclass(frozen=True)
class Window:
    """A daily window: open from ``opens`` until the next ``closes``."""

    opens: Moment
    closes: Moment

    @property
    def text(self) -> str:
        """``sunset-30min..sunrise``; a window of the sun at an angle (``when``) says so:
        ``the sun below -12°``."""
        opens = self.opens
        if opens.by_sun and opens.event is None:
            return f"the sun {'above' if opens.rising else 'below'} {opens.angle:g}°"
        return f"{opens.text}..{self.closes.text}"


_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_SUN = re.compile(r"(sunrise|sunset|dawn|dusk)(?:([+-])(.+))?")
MOMENT_HELP = (
    "a clock time such as 06:00, or sunrise, sunset, dawn or dusk with an offset"
    " such as sunset-30min"
)


def parse_moment(text: str) -> Moment:
    """One end of ``between``; :class:`ValueError` saying what it may be."""
    spoken = text.strip().lower()
    clock = _CLOCK.fullmatch(spoken)
    if clock is not None:
        hours, minutes, seconds = (int(part or 0) for part in clock.groups())
        if hours > 23 or minutes > 59 or seconds > 59:
            raise ValueError(f"{echo(text.strip())} is not a time of day (00:00 to 23:59)")
        return Moment(clock_s=hours * 3600 + minutes * 60 + seconds)
    sun = _SUN.fullmatch(spoken.replace(" ", ""))
    if sun is None:
        raise ValueError(f"{echo(text.strip())} is not {MOMENT_HELP}")
    name, sign, offset = sun.groups()
    offset_ns = 0
    if sign is not None:
        try:
            offset_ns = parse_signed_duration(offset)
        except DurationError as error:
            raise ValueError(f"the offset in {echo(text.strip())}: {error}") from None
        if offset_ns < 0 or offset_ns >= DAY_NS:
            raise ValueError(f"the offset in {echo(text.strip())} must be under a day")
        if sign == "-":
            offset_ns = -offset_ns
    return Moment.of_event(SunEvent(name), offset_ns)


def parse_between(text: str) -> Window | None:
    """``"sunset-30min..sunrise+15min"`` as a :class:`Window`; None for an empty text (no
    window); :class:`ValueError` in words a photographer reads otherwise."""
    if not text.strip():
        return None
    if text.count("..") != 1:
        raise ValueError(
            f"{echo(text)} is not a window: write its opening and its closing with two dots"
            " between them, such as sunset..sunrise or 06:00..20:00"
        )
    opening, closing = text.split("..")
    window = Window(parse_moment(opening), parse_moment(closing))
    if window.opens == window.closes:
        raise ValueError(f"{echo(text)} opens and closes at the same moment")
    return window


def tidy_between(text: str) -> str:
    """``between`` as it is kept and shown: ``" Sunset - 30 min .. sunrise"`` →
    ``"sunset-30min..sunrise"``; empty for no window."""
    window = parse_between(text)
    return "" if window is None else window.text


def sun_window(when: When, angle: float) -> Window | None:
    """``when`` as a window: night opens as the sun goes down through ``angle``."""
    if when is When.ALWAYS:
        return None
    down = Moment(angle=angle, rising=False)
    up = Moment(angle=angle, rising=True)
    return Window(down, up) if when is When.NIGHT else Window(up, down)


def window_rules(between: str, when: When, night_angle: float) -> tuple[Window, ...]:
    """The windows a run's settings ask every slot to be inside; empty: always shoot."""
    rules = [parse_between(between), sun_window(when, night_angle)]
    return tuple(rule for rule in rules if rule is not None)


def rules_text(rules: Sequence[Window]) -> str:
    """The rules in one phrase: ``sunset-30min..sunrise and the sun below -12°``."""
    return " and ".join(rule.text for rule in rules)


def needs_the_sun(rules: Sequence[Window]) -> bool:
    """True when a rule moves with the sun (so the place must be known)."""
    return any(rule.opens.by_sun or rule.closes.by_sun for rule in rules)


class Sky(Protocol):
    """The sun and the local clock at one place: what the daemon's runtime computes."""

    def moment_ns(self, moment: Moment, day: date) -> int | None:
        """Wall ns of ``moment`` (its offset included) on the date ``day``: a clock time
        that day in local time, a moment of the sun within a day of it (the walk sorts
        them all); None when the sun does not cross its angle that day (polar day or night)."""
        ...

    def day_of(self, wall_ns: int) -> date:
        """The local date at ``wall_ns``."""
        ...

    def altitude(self, wall_ns: int) -> float:
        """The sun's altitude in degrees at ``wall_ns``."""
        ...


@dataclass(frozen=True)
class WallSpan:
    """Open from ``start_ns`` until ``end_ns`` (wall ns, end excluded)."""

    start_ns: int
    end_ns: int


def _rule_spans(rule: Window, sky: Sky, start_ns: int, end_ns: int) -> list[WallSpan]:
    """Where ``rule`` is open within [start_ns, end_ns): its openings and closings walked
    in time order; a day the sun does not reach the angle has neither and changes nothing."""
    first = sky.day_of(start_ns) - timedelta(days=LOOKBACK_DAYS)
    last = sky.day_of(end_ns) + timedelta(days=1)
    changes: list[tuple[int, bool]] = []
    for day in every_day(first, last):
        for moment, opens in ((rule.opens, True), (rule.closes, False)):
            at = sky.moment_ns(moment, day)
            if at is not None:
                changes.append((at, opens))
    # A closing and an opening at one instant: closed first, so the window runs on.
    changes.sort(key=lambda change: (change[0], change[1]))
    before = [opens for at, opens in changes if at <= start_ns]
    is_open = before[-1] if before else _open_without_changes(rule, sky, start_ns)
    spans: list[WallSpan] = []
    since = start_ns
    for at, opens in changes:
        if at <= start_ns or at >= end_ns or opens == is_open:
            continue
        if is_open:
            spans.append(WallSpan(since, at))
        is_open, since = opens, at
    if is_open:
        spans.append(WallSpan(since, end_ns))
    return spans


def _open_without_changes(rule: Window, sky: Sky, at_ns: int) -> bool:
    """Whether ``rule`` is open at ``at_ns`` when no opening or closing came in the days
    before: the sun stays up or down (polar day or night), and decides by where it is."""
    sun = rule.opens if rule.opens.by_sun else rule.closes
    below = sky.altitude(at_ns) < sun.angle
    # A window that opens as the sun goes down is a night window: open while it stays down.
    opens_going_down = sun is rule.opens and not sun.rising
    closes_coming_up = sun is rule.closes and sun.rising
    return below if opens_going_down or closes_coming_up else not below


def _intersect(left: list[WallSpan], right: list[WallSpan]) -> list[WallSpan]:
    spans = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i].start_ns, right[j].start_ns)
        end = min(left[i].end_ns, right[j].end_ns)
        if start < end:
            spans.append(WallSpan(start, end))
        if left[i].end_ns < right[j].end_ns:
            i += 1
        else:
            j += 1
    return spans


class Windows:
    """A run's window rules, asked in the daemon's monotonic time.

    ``anchor_ns`` and ``anchor_wall_ns`` are one instant on both clocks (the grid's
    anchor): a due time ``t`` is the wall time ``anchor_wall_ns + (t − anchor_ns)``.
    """

    def __init__(
        self, rules: Sequence[Window], sky: Sky, *, anchor_ns: int, anchor_wall_ns: int
    ) -> None:
        self.rules = tuple(rules)
        self.sky = sky
        self._offset = anchor_wall_ns - anchor_ns
        self._chunks: dict[int, list[WallSpan]] = {}

    @property
    def text(self) -> str:
        """The rules in one phrase (:func:`rules_text`)."""
        return rules_text(self.rules)

    def _spans(self, chunk: int) -> list[WallSpan]:
        spans = self._chunks.get(chunk)
        if spans is None:
            start = chunk * CHUNK_NS
            end = start + CHUNK_NS
            spans = [WallSpan(start, end)]
            for rule in self.rules:
                spans = _intersect(spans, _rule_spans(rule, self.sky, start, end))
            if len(self._chunks) > 64:
                self._chunks.clear()  # a run of years: keep the weeks asked of lately
            self._chunks[chunk] = spans
        return spans

    def _opened(self, span: WallSpan) -> int:
        """When ``span`` truly opened: weeks before it may end where it begins."""
        start = span.start_ns
        while start % CHUNK_NS == 0 and span.start_ns - start < SEARCH_NS:
            before = self._spans(start // CHUNK_NS - 1)
            if not before or before[-1].end_ns != start:
                break
            start = before[-1].start_ns
        return start

    def _spans_from(self, wall_ns: int) -> Iterator[WallSpan]:
        """Every span ending after ``wall_ns``, in order, spans that meet at a week's edge
        joined, as far as :data:`SEARCH_NS` on."""
        chunk = wall_ns // CHUNK_NS
        pending: WallSpan | None = None
        while chunk * CHUNK_NS <= wall_ns + SEARCH_NS:
            for span in self._spans(chunk):
                if span.end_ns <= wall_ns:
                    continue
                if pending is not None and pending.end_ns == span.start_ns:
                    pending = WallSpan(pending.start_ns, span.end_ns)
                    continue
                if pending is not None:
                    yield pending
                elif span.start_ns <= wall_ns:
                    span = WallSpan(self._opened(span), span.end_ns)
                pending = span
            chunk += 1
        if pending is not None:
            yield pending

    def wall_of(self, mono_ns: int) -> int:
        """The wall time of the monotonic time ``mono_ns``."""
        return mono_ns + self._offset

    def span_at(self, mono_ns: int) -> tuple[int, int] | None:
        """The window around or next after ``mono_ns``: when it opens and closes, in
        monotonic ns; None when none opens within :data:`SEARCH_NS`."""
        for span in self._spans_from(self.wall_of(mono_ns)):
            return span.start_ns - self._offset, span.end_ns - self._offset
        return None

    def inside(self, mono_ns: int) -> bool:
        """True when a shutter due at ``mono_ns`` is inside every rule's window."""
        span = self.span_at(mono_ns)
        return span is not None and span[0] <= mono_ns < span[1]


def every_day(first: date, last: date) -> Iterator[date]:
    """``first`` to ``last``, both included."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
