"""The upload queue in the daemon (``[upload]``, docs/architecture.md §14).

- :meth:`Uploads.hear` adds a saved frame or a made render to the outbox
  (:class:`~core.daemon.outbox.Outbox`: on disk, fsynced, before it returns) and wakes the
  ``lapse-upload`` thread; that is all it does where the daemon publishes its events.
- The thread starts the upload worker (:mod:`core.sftp_worker`, a process of its own in
  the ordinary scheduling class) as it starts, which logs in ahead, and hands it at most
  ``[upload] transfers`` files at a time. Each answer is noted in the outbox: sent,
  gone from the Pi, or failed. A failure puts the file back at the front and waits
  (:func:`~core.model.upload.backoff_ns`: 2 s doubling to 5 min) before the next try;
  a worker that dies is started again after the same wait.
- What only the photographer can fix (a key refused, a host key unknown) stops the
  queue with one clear line in the status and the log; nothing is retried in a loop.
  The files keep waiting in the outbox for the daemon's next start.
- With ``frames = "latest"``, a waiting latest frame is given up when a newer one comes:
  only the newest is worth sending.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.clock import Clock
from core.daemon.children import end_group, spawn
from core.daemon.outbox import Outbox
from core.model.durations import NS_PER_S
from core.model.hooks import Happening, HookEvent
from core.model.protocol import UploadStatus
from core.model.upload import (
    FrameUploads,
    Parcel,
    UploadConfig,
    backoff_ns,
    frame_remote,
    render_remote,
    worker_login,
)

log = logging.getLogger("lapse.upload")

STOP_WAIT_S = 5.0
PUBLISH_EVERY_NS = NS_PER_S // 2
"""Files sent are published to the clients at most this often; errors at once."""


@dataclass(frozen=True)
class UploadSetup:
    """What the composition root gives the daemon for its uploads."""

    config: UploadConfig
    command: Sequence[str]
    """Starts the upload worker: an absolute program path first."""
    environ: Mapping[str, str]
    user: str
    """The login name when ``[upload] user`` leaves it out: the daemon's user."""


class Uploads:
    """The ``lapse-upload`` thread and its worker process."""

    def __init__(
        self, setup: UploadSetup, outbox: Outbox, clock: Clock, changed: Callable[[], None]
    ) -> None:
        self.setup = setup
        self.config = setup.config
        self.outbox = outbox
        self.clock = clock
        self.changed = changed
        self._lock = threading.Lock()
        self._queue: deque[Parcel] = deque(outbox.waiting())
        self._again: set[int] = {parcel.id for parcel in self._queue}
        """Parcels that may be on the server already, in part or whole (after a failure or
        a restart): the worker looks before it sends."""
        self._flying: dict[int, Parcel] = {}
        self._sizes: dict[int, int] = {}
        """Each waiting parcel's size, as it was queued (those the outbox replayed: once the
        thread has read them, off the daemon's start)."""
        self._waiting_bytes = 0
        """Their sum, kept as they come and go: a day's outage is tens of thousands."""
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._closing = False
        self._failures = 0
        self._resume_at = 0
        self._sent = 0
        self._last_file: str | None = None
        self._last_at: str | None = None
        self._last_error: str | None = None
        self._stopped = False
        self._told_at = 0
        self._untold = False
        """A file went since the status was last published (published at most every
        :data:`PUBLISH_EVERY_NS`: a backlog goes at tens of files a second)."""
        self._thread: threading.Thread | None = None

    @property
    def server(self) -> str:
        """Where the files go, for the status and the log."""
        return self.config.server(self.setup.user)

    def start(self, first: Callable[[], None] = lambda: None) -> None:
        """Start the thread and the worker; ``first`` runs on the thread before anything
        is sent (the catch-up after a crash: it reads the journal)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, args=(first,), name="lapse-upload", daemon=True
            )
            self._thread.start()

    def hear(self, happening: Happening) -> None:
        """Queue a saved frame or a made render, durably; anything else is not for here.
        ``happening.file`` is absolute."""
        if happening.event is HookEvent.FRAME_SAVED:
            if happening.frame is not None and self.outbox.knows(
                happening.run, happening.frame, happening.file
            ):
                return  # caught up with already, after a crash
            self._queue_frame(happening.run, happening.frame, happening.file, again=False)
        elif happening.event is HookEvent.RENDER_DONE:
            remote = render_remote(self.config, happening.run, happening.file)
            if remote is not None:
                self._queue_file(happening.file, remote, again=False)

    def catch_up(self, run: str, saved: Iterable[tuple[int, str]]) -> int:
        """Queue the frames' files of ``run`` (slot, absolute file) that the outbox does not
        know: saved and journaled just before a crash that came before their outbox line.
        Each goes *again*: the worker first looks for it on the server. How many."""
        missing = [
            (frame, file) for frame, file in saved if not self.outbox.knows(run, frame, file)
        ]
        if self.config.frames is FrameUploads.LATEST:
            missing = missing[-1:]  # only the newest is worth sending
        for frame, file in missing:
            self._queue_frame(run, frame, file, again=True)
        return len(missing)

    def _queue_frame(self, run: str, frame: int | None, file: str, *, again: bool) -> None:
        placed = frame_remote(self.config, run, file)
        if placed is not None:
            remote, replace = placed
            self._queue_file(file, remote, again=again, replace=replace, run=run, frame=frame)

    def _queue_file(
        self,
        file: str,
        remote: str,
        *,
        again: bool,
        replace: bool = False,
        run: str = "",
        frame: int | None = None,
    ) -> None:
        parcel, unsaved = self.outbox.put(file, remote, replace=replace, run=run, frame=frame)
        if unsaved is not None:
            log.warning("upload of %s: %s", file, unsaved)
            self._note_error(unsaved)
        size = _size(file)
        with self._lock:
            if replace:
                self._supersede(remote)
            self._queue.append(parcel)
            self._sizes[parcel.id] = size
            self._waiting_bytes += size
            if again:
                self._again.add(parcel.id)
        self._wake()

    def status(self) -> UploadStatus:
        """The queue as it stands."""
        with self._lock:
            return UploadStatus(
                server=self.server,
                waiting=len(self._queue) + len(self._flying),
                waiting_bytes=self._waiting_bytes,
                sent=self._sent,
                last_file=self._last_file,
                last_at=self._last_at,
                last_error=self._last_error,
                stopped=self._stopped,
            )

    def close(self) -> None:
        """Stop the thread and the worker; what waits stays in the outbox."""
        self._closing = True
        self._wake()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
            if self._thread.is_alive():
                return  # still in its last select: its pipe stays open
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- the thread -----------------------------------------------------------------------
    def _wake(self) -> None:
        # Full (the thread has been woken already), or closed (the daemon is ending).
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")

    def _supersede(self, remote: str) -> None:
        """Give up the latest frames still waiting for ``remote``: a newer one came."""
        for parcel in [p for p in self._queue if p.replace and p.remote == remote]:
            self._queue.remove(parcel)
            self._done(parcel)
            with contextlib.suppress(OSError):
                self.outbox.give_up(parcel, "a newer latest frame")

    def _work(self, first: Callable[[], None]) -> None:
        # Started at once: it logs in ahead, so a wrong key is said before the first frame.
        worker = self._start_worker()
        self._size_replayed()
        try:
            first()
        except Exception:  # the catch-up's own bug: said, and the queue goes on
            log.exception("uploads: catching up after a restart")
        try:
            while not self._closing:
                try:
                    worker = self._pass(worker)
                except Exception:  # a bug here must not end the uploads for the daemon's life
                    log.exception("uploads")
                    worker = self._lost(worker, "the upload queue went wrong; trying again")
        finally:
            if worker is not None:
                worker.end()

    def _size_replayed(self) -> None:
        """The sizes of the parcels the outbox replayed and still waiting (a stat each)."""
        with self._lock:
            replayed = [parcel for parcel in self._queue if parcel.id not in self._sizes]
        sizes = {parcel.id: _size(parcel.file) for parcel in replayed}
        with self._lock:
            waiting = {parcel.id for parcel in self._queue}
            for parcel_id, size in sizes.items():
                if parcel_id in waiting and parcel_id not in self._sizes:
                    self._sizes[parcel_id] = size
                    self._waiting_bytes += size

    def _pass(self, worker: _Worker | None) -> _Worker | None:
        """Hand out what may go, then wait for an answer, a new file or the back-off's end."""
        now = self.clock.now_ns()
        with self._lock:
            ready = (
                bool(self._queue)
                and not self._stopped
                and now >= self._resume_at
                and len(self._flying) < self.config.transfers
            )
        if ready and worker is None:
            worker = self._start_worker()
        if ready and worker is not None:
            self._hand_out(worker)
        timeouts = [self._tell_in_s(now)]
        with self._lock:
            if self._queue and not self._stopped and now < self._resume_at:
                timeouts.append((self._resume_at - now) / NS_PER_S)
        timeout = min((t for t in timeouts if t is not None), default=None)
        watched = [self._wake_read] + ([worker.output] if worker is not None else [])
        readable, _, _ = select.select(watched, [], [], timeout)
        self._tell(due_only=True)
        if self._wake_read in readable:
            os.read(self._wake_read, 4096)
        if worker is not None and worker.output in readable:
            for line in worker.lines():
                self._answer(line)
            if worker.ended:
                worker = self._lost(worker, "the upload worker ended")
        return worker

    def _start_worker(self) -> _Worker | None:
        login = worker_login(self.config, self.setup.user)
        try:
            return _Worker(self.setup.command, self.setup.environ, login)
        except OSError as error:
            self._failed(f"could not start the upload worker: {error.strerror or error}")
            return None

    def _hand_out(self, worker: _Worker) -> None:
        while True:
            with self._lock:
                if not self._queue or len(self._flying) >= self.config.transfers:
                    return
                parcel = self._queue.popleft()
                self._flying[parcel.id] = parcel
                again = parcel.id in self._again
            job = {
                "send": parcel.id,
                "file": parcel.file,
                "remote": parcel.remote,
                "part": parcel.part,
                "replace": parcel.replace,
                "again": again,
            }
            if not worker.send(job):
                return  # its end is read next

    def _answer(self, line: str) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            log.info("upload worker: %s", line.strip()[:300])
            return
        if not isinstance(message, dict):
            return
        if "stopped" in message:
            self._stop(str(message["stopped"]))
            return
        if "connected" in message:
            log.info("uploads: logged in to %s", self.server)
            return
        if "unreachable" in message:
            # Said, not waited for: the first file tries again, with the usual back-off.
            why = str(message["unreachable"])
            log.warning("uploads: %s", why)
            self._note_error(why)
            return
        key = next((k for k in ("sent", "failed", "gone") if k in message), None)
        if key is None:
            return
        with self._lock:
            parcel = self._flying.get(int(message[key]))
        if parcel is None:
            return
        if key == "sent":
            self._sent_one(parcel, int(message["size"]), str(message["sha256"]))
        elif key == "gone":
            why = str(message.get("error"))
            log.warning("upload: %s", why)
            with contextlib.suppress(OSError):
                self.outbox.give_up(parcel, why)
            with self._lock:
                self._done(parcel)
                self._last_error = why
            self.changed()
        else:
            with self._lock:
                del self._flying[parcel.id]
                self._queue.appendleft(parcel)
                self._again.add(parcel.id)
            self._failed(f"{parcel.remote}: {message.get('error')}")

    def _done(self, parcel: Parcel) -> None:
        """``parcel`` no longer waits (the lock held)."""
        self._flying.pop(parcel.id, None)
        self._again.discard(parcel.id)
        self._waiting_bytes -= self._sizes.pop(parcel.id, 0)

    def _sent_one(self, parcel: Parcel, size: int, sha256: str) -> None:
        wall = datetime.fromtimestamp(self.clock.wall_ns() / NS_PER_S).astimezone()
        at = wall.isoformat(timespec="seconds")
        try:
            self.outbox.sent(parcel, size, sha256, at)
        except OSError as error:
            # Not noted: sent again after a restart, where the worker finds it whole.
            log.warning("upload: could not note %s as sent: %s", parcel.remote, error)
        with self._lock:
            self._done(parcel)
            self._sent += 1
            if self._failures:
                log.info("uploads go again: %s sent", parcel.remote)
            self._failures = 0
            self._last_file = parcel.remote
            self._last_at = at
            self._last_error = None
        self._tell()

    def _tell(self, *, due_only: bool = False) -> None:
        """Publish the status, or leave it for a moment when it was published just now
        (``due_only``: only what was left, once its moment has come)."""
        now = self.clock.now_ns()
        with self._lock:
            if due_only and not self._untold:
                return
            if now - self._told_at < PUBLISH_EVERY_NS:
                self._untold = True
                return
            self._told_at, self._untold = now, False
        self.changed()

    def _tell_in_s(self, now: int) -> float | None:
        """Seconds until what was left untold is due; None when nothing is."""
        with self._lock:
            if not self._untold:
                return None
            return max(0.0, (self._told_at + PUBLISH_EVERY_NS - now) / NS_PER_S)

    def _failed(self, why: str) -> None:
        with self._lock:
            self._failures += 1
            wait = backoff_ns(self._failures)
            self._resume_at = self.clock.now_ns() + wait
        log.warning("upload failed: %s; trying again in %.0f s", why, wait / NS_PER_S)
        self._note_error(why)

    def _stop(self, why: str) -> None:
        with self._lock:
            self._stopped = True
            for parcel in self._flying.values():
                self._queue.appendleft(parcel)
            self._flying.clear()
        log.error("uploads stopped: %s", why)
        self._note_error(why)

    def _note_error(self, why: str) -> None:
        with self._lock:
            self._last_error = why
        self.changed()

    def _lost(self, worker: _Worker | None, why: str) -> None:
        """The worker is gone: what it held goes back to the front, after a wait."""
        if worker is not None:
            worker.end()
        with self._lock:
            flying = sorted(self._flying.values(), key=lambda parcel: parcel.id, reverse=True)
            for parcel in flying:
                self._queue.appendleft(parcel)
                self._again.add(parcel.id)
            self._flying.clear()
            stopped = self._stopped
        if not self._closing and not stopped:
            self._failed(why)
        return None


class _Worker:
    """The upload worker process: jobs in on its stdin, answers out on its stdout."""

    def __init__(
        self, command: Sequence[str], environ: Mapping[str, str], server: dict[str, object]
    ) -> None:
        to_child, self._stdin = os.pipe()
        self.output, from_child = os.pipe()
        try:
            self.pid = spawn(command, environ, stdin=to_child, stdout=from_child)
        except OSError:
            for fd in (self._stdin, self.output):
                os.close(fd)
            raise
        finally:
            os.close(to_child)
            os.close(from_child)
        self._buffer = b""
        self.ended = False
        self.send(server)

    def send(self, message: Mapping[str, object]) -> bool:
        """Write one line to the worker; False when it is gone."""
        data = (json.dumps(message) + "\n").encode("utf-8")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._stdin, view) :]
        except OSError:
            return False
        return True

    def lines(self) -> list[str]:
        """The whole lines it has written since last asked (read without waiting)."""
        try:
            chunk = os.read(self.output, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            self.ended = True
        self._buffer += chunk
        *whole, self._buffer = self._buffer.split(b"\n")
        return [line.decode("utf-8", errors="replace") for line in whole]

    def end(self) -> None:
        """Close its stdin (it ends on its own), then make sure it has."""
        with contextlib.suppress(OSError):
            os.close(self._stdin)
        end_group(self.pid, grace_s=2.0)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.output)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
