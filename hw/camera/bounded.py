"""Camera calls with a time bound, on one I/O thread of their own.

libgphoto2 calls cannot be interrupted: a camera that stops answering can
hold a call for minutes. So the calls run on a daemon thread, and the caller
waits at most ``timeout_s``. A call that overruns is left to finish on its
own; until it does, every further call fails at once as ``hung``, because
the camera is still busy with it and libgphoto2 is not thread-safe.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from hw.camera.base import CallError

T = TypeVar("T")


class BoundedCaller:
    """Runs one call at a time on a daemon thread; :meth:`call` waits at most ``timeout_s``."""

    def __init__(self, timeout_s: float, *, name: str = "lapse-camera-io") -> None:
        self.timeout_s = timeout_s
        self._calls: queue.SimpleQueue[
            tuple[Callable[..., Any], tuple[Any, ...], Future[Any]] | None
        ] = queue.SimpleQueue()
        self._overrun: Future[Any] | None = None
        self._overrun_since = 0.0
        # A daemon thread: a call stuck in libgphoto2 must never keep the process alive.
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    @property
    def hung(self) -> bool:
        """True while a call that overran its bound has still not returned."""
        overrun = self._overrun
        return overrun is not None and not overrun.done()

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the I/O thread and return its result.

        Raises what it raises, or :class:`CallError` (``hung``) when it takes
        longer than the bound or an earlier call is still stuck.
        """
        self._check_overrun()
        future: Future[T] = Future()
        started = time.monotonic()
        self._calls.put((function, args, future))
        try:
            return future.result(self.timeout_s)
        except FutureTimeout:
            self._overrun, self._overrun_since = future, started
            raise CallError(
                "hung", f"the camera did not answer within {self.timeout_s:g}s"
            ) from None

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        """Queue ``function(*args)`` without waiting (closing a camera that may be stuck)."""
        self._calls.put((function, args, Future()))

    def close(self) -> None:
        """Let the I/O thread end once it has done what is queued."""
        self._calls.put(None)

    def _check_overrun(self) -> None:
        overrun = self._overrun
        if overrun is None:
            return
        if not overrun.done():
            waited = time.monotonic() - self._overrun_since
            raise CallError("hung", f"the camera has not answered for {waited:.0f}s")
        self._overrun = None

    def _serve(self) -> None:
        while True:
            item = self._calls.get()
            if item is None:
                return
            function, args, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function(*args))
            except BaseException as error:  # handed to the caller, who decides
                future.set_exception(error)
