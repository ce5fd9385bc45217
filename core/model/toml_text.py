"""Keys and values written back the way a photographer typed them in TOML.

Every config message names the key and shows the value as the file has it,
on one line; every table's messages come from the one checker,
:mod:`core.model.fields`.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
ECHO_CHARS = 80
"""The most of a value a message shows: a 5 MB value makes a 5 MB line otherwise."""


def cut(text: str) -> str:
    """``text`` whole, or its first :data:`ECHO_CHARS` characters ending in an ellipsis."""
    return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 1] + "…"


def echo(value: Any) -> str:
    """``repr(value)`` for a message, cut to about :data:`ECHO_CHARS` characters."""
    if isinstance(value, str):
        return repr(cut(value))  # the ellipsis inside the quotes: the text goes on
    return cut(repr(value))


def toml_key(key: Any) -> str:
    """A key as TOML spells it: bare when it can be, else quoted (keeps the message one
    line), cut to about :data:`ECHO_CHARS`."""
    if not isinstance(key, str):
        return echo(key)
    return cut(key) if _BARE_KEY.fullmatch(key) else json.dumps(cut(key), ensure_ascii=False)


def limit_figure(number: float) -> str:
    """A limit as a person writes it in a message or the README: ``1,000,000`` or ``0.001``."""
    return f"{int(number):,}" if number == int(number) else f"{number:g}"


def toml_value(value: Any) -> str:
    """A value as the user wrote it in TOML, on one line, cut to about :data:`ECHO_CHARS`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(cut(value), ensure_ascii=False)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return echo(value)
