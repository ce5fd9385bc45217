"""A run's shutter marks on disk: ``runs/<id>/shutter.marks`` (docs/architecture.md §7).

The file is a ring of fixed-size records (:mod:`core.model.marks`), given its
blocks when the run is created, so a full disk never stops a mark; each mark is
one ``pwrite`` in place, without an fsync: it is in the page cache when the call
returns, which a ``kill -9`` does not undo. Opened like ``frames.jsonl``, inside
the run folder and never through a symbolic link.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from core.daemon.journal_writer import allocate, open_in_run_folder
from core.model.marks import MARK_BYTES, MARK_SLOTS, Mark, read_ring, slot_offset

MARKS_FILE = "shutter.marks"
RING_BYTES = MARK_SLOTS * MARK_BYTES

log = logging.getLogger("lapse.daemon")


class MarksFile:
    """One run's marks: read once when the run resumes, then written by its timing thread."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    @classmethod
    def open(cls, folder: Path, run_id: str) -> MarksFile:
        """Open (or create) the run's marks file with all its blocks; :class:`OSError` when it
        cannot be, :class:`~core.journal.LinkRefused` for a link."""
        fd = open_in_run_folder(folder, run_id, MARKS_FILE, os.O_RDWR | os.O_CREAT)
        try:
            size = os.fstat(fd).st_size
            if size < RING_BYTES:
                allocate(fd, RING_BYTES, kept=size)
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd)

    def read(self) -> dict[int, Mark]:
        """Every mark the ring holds, by frame."""
        data = b""
        while len(data) < RING_BYTES:
            chunk = os.pread(self._fd, RING_BYTES - len(data), len(data))
            if not chunk:
                break
            data += chunk
        return read_ring(data)

    def write(self, mark: Mark) -> None:
        """Put ``mark`` in its slot of the ring (one ``pwrite``, no fsync)."""
        os.pwrite(self._fd, mark.encode(), slot_offset(mark.frame))

    def close(self) -> None:
        """Close the file; safe to call twice."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


def open_marks(folder: Path, run_id: str) -> MarksFile | None:
    """The run's marks file, or None (and a line in the log) when it cannot be had: the run
    goes on, but a daemon killed just after a shutter may journal that frame unknown."""
    try:
        return MarksFile.open(folder, run_id)
    except OSError as error:
        log.warning(
            "run %s: could not keep %s (%s): a frame fired just before a crash may be"
            " journaled missed",
            run_id,
            MARKS_FILE,
            error.strerror or error,
        )
        return None
