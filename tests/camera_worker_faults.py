"""Camera worker sessions that hang or crash at a chosen trigger.

A real camera cannot be made to hang libgphoto2 or crash it on demand. These
sessions run inside a real camera worker process (``python -m
hw.camera.worker FD PID tests.camera_worker_faults:open_session``) around the
real libgphoto2 session on the virtual camera, and at the trigger the test
names they sleep for an hour or kill their own process with ``SIGSEGV``, as
a fault inside the library would.

The worker inherits its instructions through the environment: :data:`FAULT`
says what to do at which trigger, and :data:`COUNT` names a file that counts
triggers over every worker, so a restarted worker goes on counting.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

FACTORY = "tests.camera_worker_faults:open_session"
FAULT = "LAPSE_TEST_CAMERA_FAULT"
"""``hang N`` or ``die N``: the fault, at the Nth trigger (1-based, over every worker)."""
COUNT = "LAPSE_TEST_CAMERA_TRIGGERS"
"""A file that grows by one byte per trigger."""


class FaultyTrigger:
    """The real session, whose trigger hangs or crashes the worker once."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model = inner.model

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def trigger(self) -> None:
        count = Path(os.environ[COUNT])
        with count.open("ab") as file:
            file.write(b"x")
        kind, _, at = os.environ.get(FAULT, "").partition(" ")
        if at and count.stat().st_size == int(at):
            if kind == "hang":
                time.sleep(3600)
            elif kind == "die":
                os.kill(os.getpid(), signal.SIGSEGV)
        self.inner.trigger()


def open_session() -> FaultyTrigger:
    from hw.camera.session import open_session as open_real

    return FaultyTrigger(open_real())
