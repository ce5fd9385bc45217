"""The daemon's side of the journal: starting a run, reopening one, appending its frames.

Only the daemon writes a journal (:mod:`core.journal` reads it, anywhere).
``run.toml`` is only ever replaced whole through :func:`core.atomic.write_atomic`,
so after a power cut it is the old or the new version. ``frames.jsonl`` gets one
JSON object per line and per grid slot, appended through an ``O_APPEND``
descriptor and fsynced once per batch; an exclusive ``flock`` keeps a second
writer out. :func:`open_run` cuts a torn fragment off (a ``kill -9`` or a power
cut mid-write) before a resumed run appends to the file again.

A full disk must not keep a run's end from being recorded: the state directory
keeps a :class:`SpaceReserve`, a small file that is deleted to make room when
``run.toml`` cannot be written for want of space, and kept again when a run is
created or resumed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from itertools import count
from pathlib import Path

from core.atomic import fsync_directory, write_atomic
from core.journal import (
    FRAMES_FILE,
    SUMMARY_FILE,
    FrameTally,
    Journal,
    RunInfo,
    refuse_link,
    segments_backwards,
)
from core.model.camera import NO_CHOICE
from core.model.durations import NS_PER_S, wall_iso
from core.model.errors import LapseError
from core.model.place import Place
from core.model.protocol import RunCamera
from core.model.records import FrameRecord, parse_frame_line
from core.model.run_notes import NOTES_FILE, note_line
from core.model.run_state import ENDED
from core.model.settings import Settings

ENDED_WORDS = tuple(sorted(state.value for state in ENDED))
"""How ``run.toml`` says a run ended."""

RESERVE_FILE = "space-reserve"
"""The reserve's name in the state directory."""
RESERVE_BYTES = 256 * 1024
"""Room kept for ``run.toml``: a few of its writes need a few KiB; the rest is margin for
whatever else the disk holds (a filesystem's own blocks, a frame line or two)."""
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
"""The errors a full disk (or a full quota) gives."""

log = logging.getLogger("lapse.daemon")


class SpaceReserve:
    """A file of :data:`RESERVE_BYTES` kept in the state directory, given up when a run's
    ``run.toml`` cannot be written on a full disk.

    Without it, a stop on a full disk could not be recorded: ``run.toml`` would
    stay active and the next daemon would resume the run and fire the camera again.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / RESERVE_FILE

    def keep(self) -> bool:
        """Make sure the reserve is on the disk; False (and a line in the log) when it
        cannot be: the run goes on, but a stop on a full disk may not be recorded."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                allocate(fd, RESERVE_BYTES)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)
            log.warning(
                "could not keep %d KiB in reserve (%s): a stop on a full disk may not be recorded",
                RESERVE_BYTES // 1024,
                error.strerror or error,
            )
            return False
        return True

    def release(self) -> bool:
        """Delete the reserve to make room; False when there was none to give up."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        log.warning("the disk is full: the space reserve was given up to record the run")
        return True


def allocate(fd: int, size: int, kept: int = 0) -> None:
    """Give ``fd`` ``size`` bytes of real blocks (a sparse file would free nothing, and a
    write into a hole can fail on a full disk); its first ``kept`` bytes are left as they
    are."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as error:
        if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
        # A filesystem without fallocate: write the blocks.
        os.pwrite(fd, bytes(size - kept), kept)


class RunWriter:
    """Appends to one run's ``frames.jsonl`` and ends the run.

    Holds an exclusive ``flock`` on the file for its lifetime, so a second
    daemon cannot interleave lines with this one. Thread-safe; use it as a
    context manager or call :meth:`close`.
    """

    def __init__(
        self,
        info: RunInfo,
        fd: int,
        dropped_bytes: int = 0,
        reserve: SpaceReserve | None = None,
    ) -> None:
        self.info = info
        """The run as its ``run.toml`` now says (updated by :meth:`finish`)."""
        self.dropped_bytes = dropped_bytes
        """Bytes of a torn last line cut off when the run was reopened (0: none)."""
        self.reserve = reserve
        """Given up when ``run.toml`` cannot be written on a full disk."""
        self._fd: int | None = fd
        self._lock = threading.Lock()
        self.size = os.fstat(fd).st_size
        """The bytes of ``frames.jsonl`` written so far: every line appended ends here."""

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._fd is None

    def append(self, records: Sequence[FrameRecord]) -> None:
        """Write ``records`` as lines, then fsync once: the batch is durable on return.

        If the write or the fsync fails (a full disk), the file is cut back to
        where it was, so no torn line is left for the next append to glue onto,
        and a batch tried again is never written twice.
        """
        if not records:
            return
        data = "".join(record.to_json() + "\n" for record in records).encode("ascii")
        with self._lock:
            fd = self._open_fd()
            size_before = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size_before)
                raise
            self.size = size_before + len(data)

    def save_summary(self, tally: FrameTally) -> bool:
        """Replace the run's ``summary.json`` with ``tally``; False when it cannot be written
        (a full disk): it is a cache, readers then count from an older one or the whole file."""
        try:
            write_atomic(
                self.info.path / SUMMARY_FILE,
                tally.to_json().encode("ascii"),
                follow_symlinks=False,
            )
        except OSError as error:
            log.debug("could not save %s of run %s: %s", SUMMARY_FILE, self.info.id, error)
            return False
        return True

    def finish(self, state: str, reason: str, ended_wall_ns: int) -> None:
        """End the run: rewrite ``run.toml`` atomically with ``state``, the time and ``reason``.

        The first end wins: once the run has ended, further calls change
        nothing, so a "failed" is never overwritten by the "stopped" of the
        clean-up that follows. On a full disk the space reserve is given up to make room;
        if the write fails all the same, :attr:`info` is unchanged.
        """
        if state not in ENDED_WORDS:
            ended_states = ", ".join(ENDED_WORDS)
            raise ValueError(f"a run ends as one of {ended_states}, not {state!r}")
        if not isinstance(reason, str):
            raise ValueError(f"the end reason must be text, got {reason!r}")
        with self._lock:
            if self.info.state != "active":
                return
            ended = replace(
                self.info, state=state, ended=wall_iso(ended_wall_ns), end_reason=reason
            )
            _write_run(ended, self.reserve)
            self.info = ended

    def update_settings(self, settings: Settings) -> RunInfo:
        """Record settings changed during the run (its frame count) in ``run.toml``."""
        with self._lock:
            updated = replace(self.info, settings=settings)
            _write_run(updated, self.reserve)
            self.info = updated
            return updated

    def add_note(self, text: str, wall_ns: int) -> None:
        """Append ``text`` to the run's ``notes.txt`` (for ``lapse log``), durably; never
        through a link."""
        folder = os.open(self.info.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(NOTES_FILE, flags, 0o644, dir_fd=folder)
            try:
                os.write(fd, note_line(wall_iso(wall_ns), text))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.fsync(folder)
        finally:
            os.close(folder)

    def close(self) -> None:
        """Close the file (and release the lock). Safe to call twice."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _open_fd(self) -> int:
        if self._fd is None:
            raise ValueError(f"the journal of run {self.info.id} is closed")
        return self._fd


def create_run(
    journal: Journal,
    *,
    settings: Settings,
    anchor_ns: int,
    anchor_wall_ns: int,
    boot_id: str,
    created_wall_ns: int,
    rig: str,
    output: str | None = None,
    camera: RunCamera = NO_CHOICE,
    place: Place | None = None,
) -> RunWriter:
    """Start a new run: its folder, ``run.toml`` (state active) and an empty ``frames.jsonl``.

    The id is the local creation time, ``YYYYMMDD-HHMMSS``, with ``-2``,
    ``-3``… appended when that folder exists. Every new directory entry is
    fsynced before this returns. The state directory's space reserve is kept first.
    """
    settings = settings.validated()
    created = wall_iso(created_wall_ns)
    base = datetime.fromtimestamp(created_wall_ns // NS_PER_S).strftime("%Y%m%d-%H%M%S")
    # Check every field before anything touches the disk.
    info = RunInfo(
        id="",
        path=journal.runs_dir,
        state="active",
        settings=settings,
        anchor_ns=anchor_ns,
        anchor_wall_ns=anchor_wall_ns,
        boot_id=boot_id,
        created=created,
        rig=rig,
        output=output,
        camera=camera,
        place=place,
    )
    _make_dirs(journal.runs_dir)
    reserve = SpaceReserve(journal.state_dir)
    reserve.keep()
    for number in count(1):
        run_id = base if number == 1 else f"{base}-{number}"
        path = journal.runs_dir / run_id
        try:
            # mkdir is the claim: two creators in the same second cannot
            # both get one id.
            path.mkdir()
        except FileExistsError:
            continue
        break
    info = replace(info, id=run_id, path=path)
    fd = None
    try:
        fd = _open_frames(info.path, run_id, create=True)
        os.fsync(fd)
        # write_atomic fsyncs the run folder: that makes frames.jsonl's
        # entry durable too.
        _write_run(info)
        fsync_directory(journal.runs_dir)
    except BaseException:
        if fd is not None:
            os.close(fd)
        # A folder without run.toml is skipped by readers anyway; tidy up.
        with contextlib.suppress(OSError):
            info.run_file.unlink(missing_ok=True)
            info.frames_path.unlink(missing_ok=True)
            path.rmdir()
        raise
    return RunWriter(info, fd, reserve=reserve)


def open_run(journal: Journal, run_id: str) -> RunWriter:
    """Reopen an active run to append to it (resume after a restart).

    A torn last line is cut off first (see :attr:`RunWriter.dropped_bytes`), and the
    state directory's space reserve is kept. Raises :class:`LapseError` for an unknown
    run or one that has ended.
    """
    info = journal.get_run(run_id)
    if info.state != "active":
        raise LapseError(
            f"run {info.id} has already ended ({info.state}); only an active run resumes"
        )
    existed = info.frames_path.exists()
    fd = _open_frames(info.path, info.id, create=False)
    try:
        if not existed:
            fsync_directory(info.path)
        dropped = _repair_tail(fd)
    except BaseException:
        os.close(fd)
        raise
    reserve = SpaceReserve(journal.state_dir)
    reserve.keep()
    return RunWriter(info, fd, dropped, reserve)


def open_in_run_folder(folder: Path, run_id: str, name: str, flags: int) -> int:
    """Open ``name`` in run ``run_id``'s ``folder`` with ``flags`` (mode 0644 when created);
    a link (the folder or the file) is refused with :class:`~core.journal.LinkRefused`,
    never followed."""
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR) and folder.is_symlink():
            raise refuse_link(run_id, "its folder") from None
        raise
    try:
        # Opened inside the folder just checked: a folder swapped for a link meanwhile
        # is not followed either.
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=folder_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise refuse_link(run_id, name) from None
        raise
    finally:
        os.close(folder_fd)


def _open_frames(folder: Path, run_id: str, *, create: bool) -> int:
    """Open the run's ``frames.jsonl`` to append, locked; a link (the folder or the file) is
    refused with :class:`~core.journal.LinkRefused`, never followed."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT
    if create:
        flags |= os.O_EXCL
    fd = open_in_run_folder(folder, run_id, FRAMES_FILE, flags)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LapseError(f"run {run_id} is being written by another lapse daemon") from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _repair_tail(fd: int) -> int:
    """Make the file end on a newline; return how many bytes of a torn line were cut."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0
    offset, line, terminated = next(segments_backwards(fd, size))
    if terminated or not line:
        return 0
    try:
        parse_frame_line(line)
    except ValueError:
        # A fragment: cut it, so the next record starts on a line of its own.
        os.ftruncate(fd, offset)
        os.fsync(fd)
        return size - offset
    # The whole record made it but its newline did not: keep the frame.
    os.write(fd, b"\n")
    os.fsync(fd)
    return 0


def _write_run(info: RunInfo, reserve: SpaceReserve | None = None) -> None:
    """Replace ``run.toml``; on a full disk give up ``reserve`` to make room, and try again."""
    # tomli_w is not in the standard library: only a writer of run.toml needs it.
    import tomli_w

    data = tomli_w.dumps(info.to_toml_dict()).encode("utf-8")
    try:
        write_atomic(info.run_file, data, follow_symlinks=False)
    except OSError as error:
        if error.errno not in NO_SPACE or reserve is None or not reserve.release():
            raise
        write_atomic(info.run_file, data, follow_symlinks=False)


def _make_dirs(directory: Path) -> None:
    """Create ``directory`` and missing parents, fsyncing each new entry's parent."""
    missing: list[Path] = []
    probe = directory
    while not probe.is_dir():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        fsync_directory(path.parent)
