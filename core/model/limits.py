"""The range of every numeric config key, in one table.

Derived from the tables' declarations (:mod:`core.model.fields`): this is what
the README's Configuration block states, and the tests hold both the readers
and the README to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.model.battery import BATTERY
from core.model.camera import CAMERA
from core.model.exposure import EXPOSURE
from core.model.fields import Span
from core.model.hardware import HARDWARE
from core.model.hooks import HOOKS
from core.model.inputs import INPUTS
from core.model.place import PLACE
from core.model.settings import RUN
from core.model.upload import UPLOAD


@dataclass(frozen=True, kw_only=True)
class Limit(Span):
    """The range of one numeric key, and the key."""

    key: str
    """Dotted, as messages name it: ``run.interval``."""


LIMITS: tuple[Limit, ...] = tuple(
    Limit(key=f"{table.name}.{entry.key}", **asdict(entry.span))
    for table in (RUN, HARDWARE, INPUTS, CAMERA, EXPOSURE, BATTERY, PLACE, HOOKS, UPLOAD)
    for entry in table.fields
    if entry.span is not None
)
"""One row a numeric key, in the order of the README's Configuration block."""
