"""Shutter speeds as cameras spell them, read as durations."""

from __future__ import annotations

import re
from fractions import Fraction

from core.model.durations import NS_PER_S

_SPEED = re.compile(r'\s*(\d+(?:\.\d+)?)(?:\s*/\s*(\d+(?:\.\d+)?))?\s*(?:s|sec|")?\s*', re.I)


def speed_ns(speed: str) -> int | None:
    """``"1/125"`` → 8 ms, ``"30"`` or ``'30"'`` → 30 s, ``"0.0100s"`` → 10 ms; None for
    ``"Bulb"``, ``"Time"`` or anything else that is not a duration."""
    match = _SPEED.fullmatch(speed)
    if match is None:
        return None
    value = Fraction(match.group(1))
    if match.group(2) is not None:
        divisor = Fraction(match.group(2))
        if divisor == 0:
            return None
        value /= divisor
    return round(value * NS_PER_S)
