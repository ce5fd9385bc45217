"""Camera calls with a time bound, on one I/O thread of their own.

libgphoto2 calls cannot be interrupted: a camera that stops answering can
hold a call for minutes. So the calls run on a daemon thread, and the caller
waits at most ``timeout_s``. A call that overruns is left to finish on its
own; until it does, every further call fails at once as ``hung``, because
the camera is still busy with it and libgphoto2 is not thread-safe.

Time is the injected clock's, so a test can hang a call for 30 s of fake
time and see the bound at work without waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from core.clock import Clock
from core.model.durations import NS_PER_S
from hw.camera.base import CallError

T = TypeVar("T")


class Reply(Generic[T]):
    """The outcome of work handed to another thread: a value or an exception, once."""

    def __init__(self, clock: Clock) -> None:
        self._done = clock.event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def run(self, function: Callable[..., T], *args: Any) -> None:
        """Run ``function(*args)`` here, hand over what it returns or raises, wake the waiter."""
        try:
            self._value = function(*args)
        except BaseException as error:  # handed to the caller, who decides
            self._error = error
        self._done.set()

    @property
    def done(self) -> bool:
        """Whether the outcome is in."""
        return self._done.is_set()

    def wait(self, timeout_s: float | None) -> bool:
        """Wait up to ``timeout_s`` seconds on the clock; whether the outcome is in."""
        return self._done.wait(timeout_s)

    def result(self) -> T:
        """The value, or raise what the work raised; only once :attr:`done`."""
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


class BoundedCaller:
    """Runs one call at a time on a daemon thread; :meth:`call` waits at most ``timeout_s``."""

    def __init__(self, timeout_s: float, clock: Clock, *, name: str = "lapse-camera-io") -> None:
        self.timeout_s = timeout_s
        self._clock = clock
        self._calls = clock.queue()
        self._overrun: Reply[Any] | None = None
        self._overrun_since = 0
        # A daemon thread: a call stuck in libgphoto2 must never keep the process alive.
        clock.start_thread(self._serve, name)

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the I/O thread and return its result.

        Raises what it raises, or :class:`CallError` (``hung``) when it takes
        longer than the bound or an earlier call is still stuck.
        """
        self._check_overrun()
        reply: Reply[T] = Reply(self._clock)
        started = self._clock.now_ns()
        self._calls.put((function, args, reply))
        if not reply.wait(self.timeout_s):
            self._overrun, self._overrun_since = reply, started
            raise CallError("hung", f"the camera did not answer within {self.timeout_s:g}s")
        return reply.result()

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        """Queue ``function(*args)`` without waiting (closing a camera that may be stuck)."""
        self._calls.put((function, args, Reply(self._clock)))

    def close(self) -> None:
        """Let the I/O thread end once it has done what is queued."""
        self._calls.put(None)

    def _check_overrun(self) -> None:
        overrun = self._overrun
        if overrun is None:
            return
        if not overrun.done:
            waited = (self._clock.now_ns() - self._overrun_since) / NS_PER_S
            raise CallError("hung", f"the camera has not answered for {waited:.0f}s")
        self._overrun = None

    def _serve(self) -> None:
        while True:
            item = self._calls.get()
            if item is None:
                return
            function, args, reply = item
            reply.run(function, *args)
