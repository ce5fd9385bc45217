"""The durable run journal: ``runs/<id>/run.toml`` and ``runs/<id>/frames.jsonl``.

``run.toml`` holds a run's settings, its anchor on the grid and its state; it
is only ever replaced whole through :func:`core.atomic.write_atomic`, so after
a power cut it is the old or the new version. ``frames.jsonl`` gets one JSON
object per line and per grid slot, appended through an ``O_APPEND`` descriptor
and fsynced once per batch.

A slot's line is written when its shutter opens. What a camera says later
(the file it saved, or that it failed the frame) is appended as a whole new
line for the same ``frame``: the last line of a frame is the one that counts,
and readers (:func:`merge_frames`) see one record per slot. Such a later line
is only ever written within :data:`AMEND_WINDOW` frames of the newest slot.

Readers never trust the file: a ``kill -9`` or a power cut can leave a torn
last line (no ``\\n``), and a bad disk a corrupt line in the middle. Both are
skipped, counted and reported, never raised; :meth:`Journal.open_run` cuts a
torn fragment off before a resumed run appends to the file again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any

from core.atomic import fsync_directory, write_atomic
from core.clock import wall_iso
from core.model.durations import NS_PER_S
from core.model.errors import LapseError
from core.model.settings import Settings

FRAME_STATUSES: tuple[str, ...] = ("ok", "missed", "error")
"""``ok``: the shutter fired; ``missed``: the slot was skipped; ``error``: it went wrong."""
RUN_STATES: tuple[str, ...] = ("active", "finished", "stopped", "failed")
"""``active`` runs are the ones a restarted daemon resumes; the others have ended."""

RUNS_FOLDER = "runs"
RUN_FILE = "run.toml"
FRAMES_FILE = "frames.jsonl"

FRAME_KEYS: tuple[str, ...] = (
    "frame",
    "due_ns",
    "fired_ns",
    "wall",
    "status",
    "file",
    "error",
    "lateness_ns",
)
"""The keys of every frames.jsonl line, in the order they are written."""
_REQUIRED_FRAME_KEYS = ("frame", "due_ns", "fired_ns", "wall", "status")

AMEND_WINDOW = 64
"""A frame's line is only ever completed while fewer than this many newer slots exist,
so reading backwards for the newest slot can stop this far below it."""

_TAIL_BLOCK = 8192
"""First read size when walking a file backwards; each further read doubles."""

# An id names a folder, and ids arrive from the socket and the command line:
# a leading letter or digit and no slash keep every id inside runs/.
_RUN_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,99}")
_SUFFIXED_ID = re.compile(r"\d{8}-\d{6}-(\d+)")


def _is_int(value: object) -> bool:
    # bool is an int to Python, never to the journal.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_optional_str(value: object) -> bool:
    return value is None or isinstance(value, str)


def _check_wall(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO-8601 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is not an ISO-8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{name} must carry its time zone: {value!r}")


@dataclass(frozen=True)
class FrameRecord:
    """What happened at one grid slot: one line of ``frames.jsonl``.

    Invariants, checked on construction (:class:`ValueError` otherwise): an
    ``ok`` frame has a ``fired_ns``, a ``missed`` one has none.
    """

    frame: int
    """0-based grid index k: the shutter was due at t0 + k·interval."""
    due_ns: int
    """Monotonic ns at which the shutter was due to open (on the boot that wrote the line)."""
    fired_ns: int | None
    """Monotonic ns at which the shutter output was told to switch on: stamped just before
    the output call (``rig.set_line``), or before the USB trigger was handed to the camera's
    thread; None when missed. When that call returned is the ``edge`` event's ``at_ns``."""
    wall: str
    """Wall time of the slot, ISO-8601 with zone (:func:`core.clock.wall_iso`)."""
    status: str
    """One of :data:`FRAME_STATUSES`."""
    file: str | None = None
    """The file a camera returned, relative to the run folder."""
    error: str | None = None
    """What went wrong, for ``error`` and ``missed`` frames: ``"camera busy"``."""

    def __post_init__(self) -> None:
        if not _is_int(self.frame) or self.frame < 0:
            raise ValueError(f"frame must be a whole number from 0, got {self.frame!r}")
        # due_ns may be negative: after a reboot the slots missed while the Pi
        # was down lie before the new boot's monotonic zero.
        if not _is_int(self.due_ns):
            raise ValueError(f"due_ns must be whole nanoseconds, got {self.due_ns!r}")
        if self.fired_ns is not None and not _is_int(self.fired_ns):
            raise ValueError(f"fired_ns must be whole nanoseconds or null, got {self.fired_ns!r}")
        _check_wall("wall", self.wall)
        if self.status not in FRAME_STATUSES:
            raise ValueError(
                f"status must be one of {', '.join(FRAME_STATUSES)}, got {self.status!r}"
            )
        if self.status == "ok" and self.fired_ns is None:
            raise ValueError("an ok frame must have fired_ns")
        if self.status == "missed" and self.fired_ns is not None:
            raise ValueError("a missed frame cannot have fired_ns")
        if not _is_optional_str(self.file) or self.file == "":
            raise ValueError(f"file must be a path or null, got {self.file!r}")
        if not _is_optional_str(self.error):
            raise ValueError(f"error must be text or null, got {self.error!r}")

    @property
    def lateness_ns(self) -> int | None:
        """How late the shutter fired (fired − due); None when it did not fire."""
        return None if self.fired_ns is None else self.fired_ns - self.due_ns

    def to_dict(self) -> dict[str, Any]:
        """The line's keys and values, in :data:`FRAME_KEYS` order; absent values are None."""
        return {
            "frame": self.frame,
            "due_ns": self.due_ns,
            "fired_ns": self.fired_ns,
            "wall": self.wall,
            "status": self.status,
            "file": self.file,
            "error": self.error,
            "lateness_ns": self.lateness_ns,
        }

    def to_json(self) -> str:
        """One compact line of JSON, without the newline.

        ASCII only, so a byte-level cut can never split a character and every
        raw newline or control character in a text is escaped.
        """
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FrameRecord:
        """Read one decoded line; :class:`ValueError` for anything that is not a frame.

        Unknown keys are ignored so that an older lapse can read a newer
        journal; ``lateness_ns``, when present, must agree with the times.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a frame must be a JSON object, got {type(data).__name__}")
        missing = [key for key in _REQUIRED_FRAME_KEYS if key not in data]
        if missing:
            raise ValueError(f"a frame needs {', '.join(missing)}")
        record = cls(
            frame=data["frame"],
            due_ns=data["due_ns"],
            fired_ns=data["fired_ns"],
            wall=data["wall"],
            status=data["status"],
            file=data.get("file"),
            error=data.get("error"),
        )
        if "lateness_ns" in data and data["lateness_ns"] != record.lateness_ns:
            raise ValueError(
                f"lateness_ns {data['lateness_ns']!r} does not match fired_ns − due_ns"
            )
        return record


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_frame_line(raw: bytes) -> FrameRecord:
    """Read one line of ``frames.jsonl`` (with or without its newline).

    Raises :class:`ValueError` for anything but one complete frame object.
    """
    try:
        # json.loads takes NaN and Infinity unless told not to; a nesting of
        # garbage brackets hits the recursion limit rather than a ValueError.
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deeply to be a frame") from None
    return FrameRecord.from_dict(data)


@dataclass(frozen=True)
class FrameScan:
    """Everything :meth:`Journal.scan_frames` found in a ``frames.jsonl``."""

    records: tuple[FrameRecord, ...]
    """The readable frames, in file order."""
    skipped: tuple[int, ...] = ()
    """1-based line numbers of complete lines that were not a frame (corrupt, blank)."""
    torn_tail: bool = False
    """The file ends in a fragment without newline (a write cut short); it was ignored."""


@dataclass(frozen=True)
class RunInfo:
    """One run as ``run.toml`` describes it."""

    id: str
    """The folder's name: ``"20250614-213000"``, ``"-2"``… when a second was taken."""
    path: Path
    """The run folder."""
    state: str
    """One of :data:`RUN_STATES`."""
    settings: Settings
    """The settings the run started with (and resumes with)."""
    anchor_ns: int
    """Monotonic ns of frame 0's shutter-open (t0) on the boot named by ``boot_id``."""
    anchor_wall_ns: int
    """Wall-clock ns (epoch) at t0: re-anchors the grid after a reboot."""
    boot_id: str
    """The boot on which ``anchor_ns`` is valid."""
    created: str
    """ISO wall time the run was created."""
    rig: str
    """The rig's description, as the UI showed it."""
    ended: str | None = None
    """ISO wall time the run ended; None while active."""
    end_reason: str | None = None
    """Why it ended: ``"all 240 frames taken"``, ``"stopped from the TUI"``…"""

    def __post_init__(self) -> None:
        if self.state not in RUN_STATES:
            raise ValueError(f"state must be one of {', '.join(RUN_STATES)}, got {self.state!r}")
        if not isinstance(self.settings, Settings):
            raise ValueError("settings must be a Settings")
        for name in ("anchor_ns", "anchor_wall_ns"):
            if not _is_int(getattr(self, name)):
                raise ValueError(f"{name} must be whole nanoseconds")
        for name in ("id", "boot_id", "rig"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be text")
        _check_wall("created", self.created)
        if self.ended is not None:
            _check_wall("ended", self.ended)
        if not _is_optional_str(self.end_reason):
            raise ValueError("end_reason must be text")

    @property
    def frames_path(self) -> Path:
        """The run's ``frames.jsonl``."""
        return self.path / FRAMES_FILE

    @property
    def run_file(self) -> Path:
        """The run's ``run.toml``."""
        return self.path / RUN_FILE

    def to_toml_dict(self) -> dict[str, Any]:
        """The content of ``run.toml``: scalars first, then the ``[settings]`` table."""
        data: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "created": self.created,
        }
        # TOML has no null: an active run simply has no end yet.
        if self.ended is not None:
            data["ended"] = self.ended
        if self.end_reason is not None:
            data["end_reason"] = self.end_reason
        data.update(
            rig=self.rig,
            anchor_ns=self.anchor_ns,
            anchor_wall_ns=self.anchor_wall_ns,
            boot_id=self.boot_id,
            settings=self.settings.to_dict(),
        )
        return data

    def _sort_key(self) -> tuple[datetime, int, str]:
        # Ids come from local time, which jumps with DST and zone changes;
        # created carries its zone, so it orders runs truly. Runs created in
        # the same instant are told apart by their "-N" suffix.
        created = datetime.fromisoformat(self.created)
        suffix = _SUFFIXED_ID.fullmatch(self.id)
        return created, int(suffix.group(1)) if suffix else 1, self.id


def _read_run(path: Path) -> RunInfo:
    """Read ``path/run.toml``; OSError or ValueError (with the reason) when it cannot."""
    data = tomllib.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    settings = data.get("settings")
    if not isinstance(settings, dict):
        raise ValueError("run.toml has no [settings] table")
    try:
        return RunInfo(
            # The folder is what get_run finds a run by; a copied folder keeps
            # the id inside its run.toml, so the folder's name wins.
            id=path.name,
            path=path,
            state=data["state"],
            settings=Settings.from_dict(settings),
            anchor_ns=data["anchor_ns"],
            anchor_wall_ns=data["anchor_wall_ns"],
            boot_id=data["boot_id"],
            created=data["created"],
            rig=data["rig"],
            ended=data.get("ended"),
            end_reason=data.get("end_reason"),
        )
    except KeyError as error:
        raise ValueError(f"run.toml has no {error.args[0]}") from None


def _write_run(info: RunInfo) -> None:
    # tomli_w is not in the standard library: only a writer of run.toml needs it.
    import tomli_w

    write_atomic(info.run_file, tomli_w.dumps(info.to_toml_dict()).encode("utf-8"))


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


def _segments_backwards(fd: int, end: int) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(offset, line, terminated)`` for the lines of ``fd[:end]``, last first.

    ``line`` is without its newline; only the final segment can be
    unterminated (it is then yielded even when empty). Reads start small and
    double, so finding the last line of a 40 MB file reads a few KiB while a
    long stretch of garbage still costs linear time, not quadratic.
    """
    position = end
    buffer = b""
    stop = 0  # buffer[:stop] is file[position:…] not yet yielded
    block = _TAIL_BLOCK
    terminated = False
    while True:
        cut = buffer.rfind(b"\n", 0, stop)
        if cut != -1:
            yield position + cut + 1, buffer[cut + 1 : stop], terminated
            stop = cut
            terminated = True
            continue
        if position == 0:
            yield 0, buffer[:stop], terminated
            return
        size = min(block, position)
        position -= size
        block *= 2
        buffer = _read_at(fd, size, position) + buffer[:stop]
        stop = len(buffer)


def _read_at(fd: int, size: int, offset: int) -> bytes:
    parts = []
    while size > 0:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            raise OSError(f"the journal shrank while it was read (at byte {offset})")
        parts.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(parts)


def merge_frames(records: Sequence[FrameRecord]) -> list[FrameRecord]:
    """One record per slot, in the order the slots first appear: a frame's last line wins."""
    merged: dict[int, FrameRecord] = {}
    for record in records:
        merged[record.frame] = record
    return list(merged.values())


def _last_record(path: Path) -> FrameRecord | None:
    """The newest slot's record, read from the end of the file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    newest: FrameRecord | None = None
    try:
        for _, line, _terminated in _segments_backwards(fd, os.fstat(fd).st_size):
            # Same rule as a forward read: a line is a frame if it parses,
            # whether or not its newline made it to disk.
            try:
                record = parse_frame_line(line)
            except ValueError:
                continue
            if newest is None or record.frame > newest.frame:
                newest = record  # walking backwards, the first line of a frame is its last
            elif record.frame <= newest.frame - AMEND_WINDOW:
                break  # later lines only complete recent frames: nothing newer lies before
        return newest
    finally:
        os.close(fd)


class RunWriter:
    """Appends to one run's ``frames.jsonl`` and ends the run.

    Holds an exclusive ``flock`` on the file for its lifetime, so a second
    daemon cannot interleave lines with this one. Thread-safe; use it as a
    context manager or call :meth:`close`.
    """

    def __init__(self, info: RunInfo, fd: int, dropped_bytes: int = 0) -> None:
        self.info = info
        """The run as its ``run.toml`` now says (updated by :meth:`finish`)."""
        self.dropped_bytes = dropped_bytes
        """Bytes of a torn last line cut off when the run was reopened (0: none)."""
        self._fd: int | None = fd
        self._lock = threading.Lock()

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

        If the write fails part-way (a full disk), the file is cut back to
        where it was, so no torn line is left for the next append to glue onto.
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
            except BaseException:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size_before)
                raise
            os.fsync(fd)

    def finish(self, state: str, reason: str, ended_wall_ns: int) -> None:
        """End the run: rewrite ``run.toml`` atomically with ``state``, the time and ``reason``.

        The first end wins: once the run has ended, further calls change
        nothing, so a "failed" is never overwritten by the "stopped" of the
        clean-up that follows. If the write fails, :attr:`info` is unchanged.
        """
        if state not in RUN_STATES or state == "active":
            ended_states = ", ".join(s for s in RUN_STATES if s != "active")
            raise ValueError(f"a run ends as one of {ended_states}, not {state!r}")
        if not isinstance(reason, str):
            raise ValueError(f"the end reason must be text, got {reason!r}")
        with self._lock:
            if self.info.state != "active":
                return
            ended = replace(
                self.info, state=state, ended=wall_iso(ended_wall_ns), end_reason=reason
            )
            _write_run(ended)
            self.info = ended

    def update_settings(self, settings: Settings) -> RunInfo:
        """Record settings changed during the run (its frame count) in ``run.toml``."""
        with self._lock:
            updated = replace(self.info, settings=settings)
            _write_run(updated)
            self.info = updated
            return updated

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


def _open_frames(path: Path, run_id: str, *, create: bool) -> int:
    flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_CREAT
    if create:
        flags |= os.O_EXCL
    fd = os.open(path, flags, 0o644)
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
    offset, line, terminated = next(_segments_backwards(fd, size))
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


class Journal:
    """All runs under one state directory: ``<state_dir>/runs/<id>/``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        """The state directory (``LAPSE_STATE_DIR``); created by the first run."""
        self.runs_dir = self.state_dir / RUNS_FOLDER
        """Where the run folders are."""

    def create_run(
        self,
        *,
        settings: Settings,
        anchor_ns: int,
        anchor_wall_ns: int,
        boot_id: str,
        created_wall_ns: int,
        rig: str,
    ) -> RunWriter:
        """Start a new run: its folder, ``run.toml`` (state active) and an empty ``frames.jsonl``.

        The id is the local creation time, ``YYYYMMDD-HHMMSS``, with ``-2``,
        ``-3``… appended when that folder exists. Every new directory entry is
        fsynced before this returns.
        """
        settings = settings.validated()
        created = wall_iso(created_wall_ns)
        base = datetime.fromtimestamp(created_wall_ns // NS_PER_S).strftime("%Y%m%d-%H%M%S")
        # Check every field before anything touches the disk.
        info = RunInfo(
            id="",
            path=self.runs_dir,
            state="active",
            settings=settings,
            anchor_ns=anchor_ns,
            anchor_wall_ns=anchor_wall_ns,
            boot_id=boot_id,
            created=created,
            rig=rig,
        )
        _make_dirs(self.runs_dir)
        for number in count(1):
            run_id = base if number == 1 else f"{base}-{number}"
            path = self.runs_dir / run_id
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
            fd = _open_frames(info.frames_path, run_id, create=True)
            os.fsync(fd)
            # write_atomic fsyncs the run folder: that makes frames.jsonl's
            # entry durable too.
            _write_run(info)
            fsync_directory(self.runs_dir)
        except BaseException:
            if fd is not None:
                os.close(fd)
            # A folder without run.toml is skipped by readers anyway; tidy up.
            with contextlib.suppress(OSError):
                info.run_file.unlink(missing_ok=True)
                info.frames_path.unlink(missing_ok=True)
                path.rmdir()
            raise
        return RunWriter(info, fd)

    def open_run(self, run_id: str) -> RunWriter:
        """Reopen an active run to append to it (resume after a restart).

        A torn last line is cut off first (see :attr:`RunWriter.dropped_bytes`).
        Raises :class:`LapseError` for an unknown run or one that has ended.
        """
        info = self.get_run(run_id)
        if info.state != "active":
            raise LapseError(
                f"run {info.id} has already ended ({info.state}); only an active run resumes"
            )
        existed = info.frames_path.exists()
        fd = _open_frames(info.frames_path, info.id, create=False)
        try:
            if not existed:
                fsync_directory(info.path)
            dropped = _repair_tail(fd)
        except BaseException:
            os.close(fd)
            raise
        return RunWriter(info, fd, dropped)

    def list_runs(self) -> list[RunInfo]:
        """Every readable run, newest first; a folder whose run.toml cannot be read is skipped."""
        try:
            entries = list(self.runs_dir.iterdir())
        except FileNotFoundError:
            return []
        runs = []
        for path in entries:
            if not _RUN_ID.fullmatch(path.name) or not path.is_dir():
                continue
            try:
                runs.append(_read_run(path))
            except (OSError, ValueError):
                continue
        runs.sort(key=RunInfo._sort_key, reverse=True)
        return runs

    def get_run(self, run_id: str) -> RunInfo:
        """The run named ``run_id``; :class:`LapseError` if there is none or it cannot be read."""
        path = self._run_path(run_id)
        try:
            return _read_run(path)
        except (OSError, ValueError) as error:
            raise LapseError(f"run {run_id} cannot be read ({path / RUN_FILE}): {error}") from None

    def latest_run(self) -> RunInfo | None:
        """The newest run, or None when there is none."""
        runs = self.list_runs()
        return runs[0] if runs else None

    def active_run(self) -> RunInfo | None:
        """The newest run still active: the one a starting daemon resumes."""
        return next((run for run in self.list_runs() if run.state == "active"), None)

    def scan_frames(self, run_id: str) -> FrameScan:
        """Read every frame of a run, reporting the lines that were not frames."""
        path = self._run_path(run_id) / FRAMES_FILE
        records: list[FrameRecord] = []
        skipped: list[int] = []
        torn = False
        for number, line, terminated in _lines(path):
            try:
                records.append(parse_frame_line(line))
            except ValueError:
                if terminated:
                    skipped.append(number)
                else:
                    torn = True
        return FrameScan(tuple(records), tuple(skipped), torn)

    def read_frames(self, run_id: str) -> list[FrameRecord]:
        """One record per slot (its last line), in slot order of the file; corrupt lines
        and a torn tail are left out."""
        return merge_frames(self.scan_frames(run_id).records)

    def last_frame(self, run_id: str) -> FrameRecord | None:
        """The newest slot's record (its last line), found by reading the file from its end."""
        return _last_record(self._run_path(run_id) / FRAMES_FILE)

    def frame_counts(self, run_id: str) -> dict[str, int]:
        """How many frames of each status the run has: ``{"ok": 238, "missed": 2, "error": 0}``."""
        counts = dict.fromkeys(FRAME_STATUSES, 0)
        for record in merge_frames(self.scan_frames(run_id).records):
            counts[record.status] += 1
        return counts

    def _run_path(self, run_id: str) -> Path:
        if isinstance(run_id, str) and _RUN_ID.fullmatch(run_id):
            path = self.runs_dir / run_id
            if path.is_dir():
                return path
        raise LapseError(f"no run named {run_id!r}; `lapse log` lists the runs")


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(number, line, terminated)`` for each line of ``path``; none if it is missing."""
    try:
        with open(path, "rb") as file:
            for number, raw in enumerate(file, 1):
                terminated = raw.endswith(b"\n")
                yield number, raw[:-1] if terminated else raw, terminated
    except FileNotFoundError:
        return
