"""The daemon's work after a run: ``[after]``'s video, keogram and star trails, made by
``lapse after`` in a process of its own at the lowest priority there is.

- When a run ends, its products are made. A run until stopped also gets them once a
  day at ``[after] daily_at``, for the frames since the last ones, and at its end for the
  rest; which slots are covered is kept in the run's ``after.json``, so a restarted
  daemon neither repeats nor skips a day.
- The process is spawned in the ordinary scheduling class (``posix_spawn`` sets it
  before the program starts: it never runs at the real-time priority the daemon's
  threads have, even for a moment), and its first act is to go to Linux's idle class
  and nice 19 (``tui.after_cli.lower_priority``; glibc's ``posix_spawn`` cannot set
  the idle class itself): it gets a core only when nothing else wants one, and the
  timing thread never feels it.
- One job at a time; others wait in order. Progress comes back as JSON lines on the
  process's output and is shown in status (:class:`~core.model.protocol.AfterStatus`). A
  failure is said there and in the log; it never touches a run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.atomic import write_atomic
from core.clock import Clock
from core.daemon.children import spawn
from core.journal import Journal, RunInfo
from core.model.after import AfterConfig
from core.model.durations import NS_PER_S
from core.model.protocol import AfterStatus

log = logging.getLogger("lapse.after")

COVERED_FILE = "after.json"
"""In a run's folder: the last slot the daily products have covered, and the day."""
DAILY_CHECK_S = 30.0
"""How often the daily time is looked for: a day's products start within this of it."""
PUBLISH_EVERY_NS = NS_PER_S // 2
"""Progress is published at most this often (a render does tens of frames a second)."""
STOP_WAIT_S = 5.0
"""How long a closing daemon waits for the work to end after asking it to."""


@dataclass(frozen=True)
class AfterSetup:
    """What the composition root gives the daemon for its work after a run."""

    config: AfterConfig
    command: Sequence[str]
    """Starts ``lapse after``: an absolute program path first."""
    environ: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Job:
    """One ``lapse after`` of a run."""

    run: str
    products: tuple[str, ...]
    first: int | None = None
    last: int | None = None
    tag: str = ""

    def arguments(self) -> list[str]:
        """The job's part of the command line."""
        arguments = [self.run, "--make", ",".join(self.products)]
        if self.first is not None:
            arguments += ["--from", str(self.first)]
        if self.last is not None:
            arguments += ["--to", str(self.last)]
        if self.tag:
            arguments += ["--tag", self.tag]
        return arguments


class AfterWork:
    """Makes ``[after]``'s products of ended runs (and daily of runs until stopped).

    ``command`` starts ``lapse after`` (the composition root's; the daemon's code does not
    know the CLI), with ``environ`` (the state directory is found through it);
    ``changed`` is called when the status changes (the daemon publishes it);
    ``active_run`` says the run now going, for the daily products.
    """

    def __init__(
        self,
        config: AfterConfig,
        command: Sequence[str],
        environ: Mapping[str, str],
        journal: Journal,
        clock: Clock,
        changed: Callable[[], None],
        active_run: Callable[[], RunInfo | None] = lambda: None,
        made: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.config = config
        self.command = list(command)
        self.environ = dict(environ)
        self.journal = journal
        self.clock = clock
        self.changed = changed
        self.active_run = active_run
        self.made = made
        """Told each file the work makes: the run, the file, the product (the hooks and the
        uploads hear of it)."""
        self._lock = threading.Lock()
        self._daily_lock = threading.Lock()
        self._jobs: deque[Job] = deque()
        # A real event, not the clock's: this thread waits in real time whatever the clock
        # (a fake clock would jump its 30 s waits); only the daily time is the clock's.
        self._wake = threading.Event()
        self._closing = False
        self._status: AfterStatus | None = None
        self._child: int | None = None
        self._published_ns = 0
        self._thread: threading.Thread | None = None

    @property
    def wanted(self) -> bool:
        """Whether ``[after]`` asks for anything."""
        return bool(self.config.products)

    def start(self) -> None:
        """Start the thread that runs the jobs and looks for the daily time."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._work, name="lapse-after", daemon=True)
        self._thread.start()

    def run_ended(self, info: RunInfo) -> None:
        """A run has ended: make its products (of the slots no daily one has covered)."""
        if not self.wanted:
            return
        covered = read_covered(info)
        if covered is None and info.settings.frames != 0:
            self._queue(Job(info.id, self.config.products))
            return
        # A run until stopped: the slots since its last daily products, if it has any.
        first = None if covered is None else covered[0] + 1
        newest = self.journal.last_frame(info.id)
        if first is not None and (newest is None or newest.last_slot < first):
            return
        self._queue(Job(info.id, self.config.products, first, None, self._tag()))

    def make(self, job: Job) -> None:
        """Make ``job`` (asked for by a client), after any job already waiting."""
        self._queue(job)

    def status(self) -> AfterStatus | None:
        """The latest job's progress, or None when there has been none."""
        with self._lock:
            status = self._status
            return None if status is None else replace(status, waiting=len(self._jobs))

    def _latest(self, job: Job, state: str) -> AfterStatus:
        """The job's status as kept (the waiting count is status's, counted when asked),
        or a new one in ``state``."""
        with self._lock:
            status = self._status
        return status or AfterStatus(run=job.run, state=state)

    def close(self) -> None:
        """Stop the thread; a job under way is asked to end (it removes its half-made
        file) and waited for a moment."""
        with self._lock:
            self._closing = True
            child = self._child
        self._wake.set()
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)

    # -- the thread -------------------------------------------------------------------

    def _queue(self, job: Job) -> None:
        with self._lock:
            self._jobs.append(job)
        self.start()
        self._wake.set()

    def _work(self) -> None:
        while True:
            with self._lock:
                if self._closing:
                    return
                job = self._jobs.popleft() if self._jobs else None
            if job is not None:
                try:
                    self._run(job)
                except Exception as error:  # the work's own bug: said, and the thread goes on
                    log.exception("after run %s", job.run)
                    self._failed(job, f"the work went wrong: {error!r}")
                continue
            self._daily()
            self._wake.wait(DAILY_CHECK_S)
            self._wake.clear()

    def _daily(self) -> None:
        """Queue the day's products of a run until stopped once its daily time has come."""
        with self._daily_lock:
            self._daily_unlocked()

    def _daily_unlocked(self) -> None:
        info = self.active_run()
        if info is None or info.settings.frames != 0:
            return
        now = self._now()
        due = now.replace(
            hour=self.config.daily_minute // 60,
            minute=self.config.daily_minute % 60,
            second=0,
            microsecond=0,
        )
        if now < due:
            due -= timedelta(days=1)  # the last daily time that has come
        covered = read_covered(info)
        since = (
            datetime.fromisoformat(info.created) if covered is None else covered[1]
        ).astimezone()
        if due <= since:
            return  # no daily time has come since the run began or its last products
        newest = self.journal.last_frame(info.id)
        if newest is None:
            return
        first = None if covered is None else covered[0] + 1
        last = newest.last_slot
        write_covered(info, last, now)
        if first is None or first <= last:
            self._queue(Job(info.id, self.config.products, first, last, self._tag()))

    def _now(self) -> datetime:
        """The clock's wall time, in the local zone (the daily time is a local one)."""
        return datetime.fromtimestamp(self.clock.wall_ns() / NS_PER_S).astimezone()

    def _tag(self) -> str:
        return self._now().strftime("-%Y%m%d-%H%M")

    def _run(self, job: Job) -> None:
        self._set(AfterStatus(run=job.run, state="working"), publish=True)
        read_end, write_end = os.pipe()
        try:
            pid = spawn(
                [*self.command, *job.arguments()], self.environ, stdout=write_end, stderr=write_end
            )
        except OSError as error:
            os.close(read_end)
            self._failed(job, f"could not start the work: {error}")
            return
        finally:
            os.close(write_end)
        with self._lock:
            self._child = pid
        said: list[str] = []
        with os.fdopen(read_end, "r", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                self._take(job, line, said)
        _, wait_status = os.waitpid(pid, 0)
        with self._lock:
            self._child = None
        code = os.waitstatus_to_exitcode(wait_status)
        status = self._latest(job, "working")
        if code != 0 and status.error is None:
            why = said[-1] if said else f"it ended with status {code}"
            self._failed(job, why)
            return
        if status.state == "working":
            self._set(replace(status, state="done", product=None), publish=True)

    def _take(self, job: Job, line: str, said: list[str]) -> None:
        """One line of the work's output: progress, a file made, a failure, or text."""
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict) or "product" not in message:
            if line.strip():
                said.append(line.strip()[-300:])
                del said[:-5]
            return
        status = self._latest(job, "working")
        product = str(message["product"])
        if "error" in message:
            error = f"{product}: {message['error']}"
            log.warning("after run %s: %s", job.run, error)
            self._set(replace(status, state="failed", product=None, error=error), publish=True)
        elif "file" in message:
            log.info("after run %s: made %s", job.run, message["file"])
            if self.made is not None:
                self.made(job.run, str(message["file"]), product)
            files = (*status.files, str(message["file"]))
            self._set(replace(status, product=None, done=0, total=0, files=files), publish=True)
        else:
            done, total = int(message.get("done", 0)), int(message.get("total", 0))
            new = replace(status, product=product, done=done, total=total)
            self._set(new, publish=done == total)

    def _failed(self, job: Job, why: str) -> None:
        log.warning("after run %s: %s", job.run, why)
        status = self._latest(job, "failed")
        self._set(replace(status, state="failed", product=None, error=why), publish=True)

    def _set(self, status: AfterStatus, *, publish: bool) -> None:
        now = self.clock.now_ns()
        with self._lock:
            self._status = status
            due = publish or now - self._published_ns >= PUBLISH_EVERY_NS
            if due:
                self._published_ns = now
        if due:
            self.changed()


def read_covered(info: RunInfo) -> tuple[int, datetime] | None:
    """The last slot the run's daily products covered and when they were made; None when
    there have been none (or the file cannot be read: then the whole run is made)."""
    try:
        data = json.loads((info.path / COVERED_FILE).read_bytes())
        return int(data["through"]), datetime.fromisoformat(data["made"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_covered(info: RunInfo, through: int, made: datetime) -> None:
    """Record that the daily products cover the run's slots up to ``through``."""
    data = {"through": through, "made": made.isoformat(timespec="seconds")}
    write_atomic(info.path / COVERED_FILE, json.dumps(data).encode())
