"""The upload queue on disk: ``uploads.jsonl`` in the state directory (docs/architecture.md
§14), written as the journal is.

Each change is one JSON line appended: a file to send (``put``, fsynced before the call
returns), a file sent (``sent``, with its size and SHA-256), a file given up
(``given_up``: gone from the Pi, or a newer latest frame took its place). The last two
are not fsynced: one lost to a power cut only makes the file go "again", and the worker
then finds it whole on the server. The lines hold
names, never copies, so the queue cannot fill the disk. After any crash the lines replay
(:func:`core.model.upload.replay`) to what is still to go; a line cut by the crash is
skipped. Once nothing waits and the file has grown past :data:`COMPACT_BYTES`, it is
replaced whole by one line that keeps the numbering going.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

from core.atomic import write_atomic
from core.model.upload import (
    Parcel,
    fresh_line,
    given_up_line,
    note_queued,
    put_line,
    replay,
    sent_line,
    still_seen,
)
from core.outbox import OUTBOX_FILE

log = logging.getLogger("lapse.upload")

COMPACT_BYTES = 1 << 20
"""The outbox is started afresh once nothing waits in it and it is this big."""
MARKS_KEPT = 8
"""The runs whose newest frame queued a fresh outbox keeps."""
SEEN_KEPT = 1024
"""Past this many files remembered as queued, those no catch-up would look at go."""


class Outbox:
    """The durable list of files to send; every method is safe from any thread."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / OUTBOX_FILE
        self._lock = threading.Lock()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        replayed = replay(data.splitlines())
        if replayed.damaged:
            log.warning(
                "%s: %d line(s) could not be read (cut by a crash?); skipped",
                self.path,
                replayed.damaged,
            )
        self._waiting = {parcel.id: parcel for parcel in replayed.waiting}
        self._next = replayed.next_id
        self._marks = replayed.marks
        self._seen = replayed.seen
        self._size = len(data)
        self._cut = bool(data) and not data.endswith(b"\n")
        """The last line was cut by a crash: the next line starts on a line of its own."""

    def waiting(self) -> list[Parcel]:
        """Every parcel still to go, oldest first."""
        with self._lock:
            return list(self._waiting.values())

    def put(
        self,
        file: str,
        remote: str,
        *,
        replace: bool = False,
        run: str = "",
        frame: int | None = None,
    ) -> tuple[Parcel, str | None]:
        """Add a file to send (``run`` and ``frame``: whose frame it is); it is on disk when
        this returns. When it cannot be written (a full disk) it is queued all the same,
        in memory only, and the second value says why: lost only if the daemon stops
        before it goes."""
        with self._lock:
            parcel = Parcel(self._next, file, remote, replace, run, frame)
            self._next += 1
            self._waiting[parcel.id] = parcel
            note_queued(self._marks, self._seen, parcel)
            if len(self._seen) > SEEN_KEPT:
                self._seen = still_seen(self._seen, self._marks)
            try:
                self._append(put_line(parcel))
            except OSError as error:
                return parcel, f"the upload queue could not be saved: {error.strerror or error}"
            return parcel, None

    def mark(self, run: str) -> int | None:
        """The newest frame of ``run`` ever queued; None when none was."""
        with self._lock:
            return self._marks.get(run)

    def knows(self, run: str, frame: int, file: str) -> bool:
        """This frame's file was queued (as far back as a catch-up looks)."""
        with self._lock:
            return (run, frame, file) in self._seen

    def sent(self, parcel: Parcel, size: int, sha256: str, at: str) -> None:
        """``parcel`` is on the server, whole, since ``at`` (ISO-8601 wall time)."""
        self._done(parcel, sent_line(parcel.id, size, sha256, at))

    def give_up(self, parcel: Parcel, why: str) -> None:
        """``parcel`` will not go."""
        self._done(parcel, given_up_line(parcel.id, why))

    def _done(self, parcel: Parcel, line: str) -> None:
        with self._lock:
            if parcel.id not in self._waiting:
                return
            # Not fsynced: a line lost with a power cut only sends its file "again", and the
            # worker then finds it whole on the server (a replacing one goes once more).
            self._append(line, synced=False)
            del self._waiting[parcel.id]
            if not self._waiting and self._size >= COMPACT_BYTES:
                self._compact()

    def _append(self, line: str, *, synced: bool = True) -> None:
        data = (("\n" if self._cut else "") + line + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            before = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if synced:
                    os.fsync(fd)
            except BaseException:
                # A full disk: no torn line is left for the next one to glue onto.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, before)
                raise
        finally:
            os.close(fd)
        self._cut = False
        self._size = before + len(data)

    def _compact(self) -> None:
        # The newest runs' marks go on: a catch-up after the next crash needs them.
        newest = dict(list(self._marks.items())[-MARKS_KEPT:])
        line = fresh_line(self._next, newest) + "\n"
        try:
            write_atomic(self.path, line.encode("utf-8"))
        except OSError as error:
            log.warning("could not start %s afresh: %s", self.path, error)
            return
        self._size = len(line)
        self._marks = newest
        self._seen = still_seen(self._seen, newest)
