"""The durable run journal, read: ``runs/<id>/run.toml`` and ``runs/<id>/frames.jsonl``.

``run.toml`` holds a run's settings, its anchor on the grid and its state;
``frames.jsonl`` one line per grid slot (:mod:`core.model.records`). Only the
daemon writes them (:mod:`core.daemon.journal_writer`); everything here only
reads, so any client (``lapse log``, the TUI's log screen) may use it while a
daemon writes.

Readers never trust the file: a ``kill -9`` or a power cut can leave a torn
last line (no ``\\n``), and a bad disk a corrupt line in the middle. Both are
skipped, counted and reported, never raised.

Nothing in the journal is reached through a symbolic link: a run folder,
``run.toml`` or ``frames.jsonl`` that is one is refused (a list of runs skips
the run and says so in the log), never followed.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.atomic import NOT_FOLLOWED
from core.model.errors import LapseError
from core.model.fields import Invalid
from core.model.output import output_refusal
from core.model.place import Place
from core.model.protocol import RunCamera
from core.model.records import (
    AMEND_WINDOW,
    FRAME_STATUSES,
    FrameRecord,
    check_wall,
    is_int,
    is_optional_str,
    merge_frames,
    parse_frame_line,
)
from core.model.run_notes import MAX_NOTES_BYTES, NOTES_FILE, read_notes
from core.model.run_state import JOURNAL_STATES
from core.model.settings import Settings
from core.model.toml_text import cut, echo

STOPPED_WHILE_DOWN = "stopped while the daemon was not running"
"""The end reason of a run that ``lapse stop`` ended while no daemon carried it."""

RUNS_FOLDER = "runs"
RUN_FILE = "run.toml"
FRAMES_FILE = "frames.jsonl"
SUMMARY_FILE = "summary.json"
"""A run's counts as of a byte offset of its ``frames.jsonl`` (:class:`FrameTally`): a
cache the daemon keeps, so that nothing reads a journal of millions of lines whole."""
SUMMARY_VERSION = 1

_TAIL_BLOCK = 8192
"""First read size when walking a file backwards; each further read doubles."""

# An id names a folder, and ids arrive from the socket and the command line:
# a leading letter or digit and no slash keep every id inside runs/.
_RUN_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,99}")
_SUFFIXED_ID = re.compile(r"\d{8}-\d{6}-(\d+)")

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC

log = logging.getLogger("lapse.journal")


class LinkRefused(LapseError):
    """A journal file or run folder is a symbolic link: lapse does not follow it."""


def refuse_link(run_id: str, name: str) -> LinkRefused:
    """The one line that refuses ``name`` (a file of run ``run_id``, or its folder)."""
    return LinkRefused(f"run {run_id}: {name} {NOT_FOLLOWED}")


def open_no_follow(path: Path, run_id: str) -> int:
    """Open a run's file for reading; :class:`LinkRefused` when it is a symbolic link."""
    try:
        return os.open(path, _READ_FLAGS)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise refuse_link(run_id, path.name) from None
        raise


@dataclass(frozen=True)
class FrameScan:
    """Everything :meth:`Journal.scan_frames` found in a ``frames.jsonl``."""

    records: tuple[FrameRecord, ...]
    """The readable frames, in file order."""
    skipped: tuple[int, ...] = ()
    """1-based line numbers of complete lines that were not a frame (corrupt, blank)."""
    torn_tail: bool = False
    """The file ends in a fragment without newline (a write cut short); it was ignored."""


@dataclass
class FrameTally:
    """A run's counts as of :attr:`offset` bytes of its ``frames.jsonl``, merged as
    :func:`~core.model.records.merge_frames` merges (a frame's last line wins).

    Only lines within :data:`~core.model.records.AMEND_WINDOW` slots of the newest are ever
    completed by a later line, so the tally keeps those lines (:attr:`recent`) and nothing
    older: a later line for one of them takes its old line's slots out of the counts and
    puts its own in. That makes it exact whatever offset it is saved at, and small (at
    most a window of lines), which is why it is kept rather than counts of settled frames
    alone: those would need the window's lines read again from the file's tail.
    """

    offset: int = 0
    """The bytes of ``frames.jsonl`` counted: always the end of a line."""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FRAME_STATUSES, 0))
    """Slots of each status."""
    newest: FrameRecord | None = None
    """The newest slot's line (a range's newest slot is its ``last``)."""
    recent: dict[int, FrameRecord] = field(default_factory=dict)
    """The lines a later line may still complete, by frame."""

    def add(self, record: FrameRecord) -> None:
        """Count one more line of the file."""
        earlier = self.recent.get(record.frame)
        if earlier is not None:
            self.counts[earlier.status] -= earlier.slots
        self.counts[record.status] = self.counts.get(record.status, 0) + record.slots
        self.recent[record.frame] = record
        if self.newest is None or record.last_slot >= self.newest.last_slot:
            self.newest = record
        if len(self.recent) > 2 * AMEND_WINDOW:
            self._forget_settled()

    def to_json(self) -> str:
        """The tally as ``summary.json`` holds it."""
        self._forget_settled()
        return json.dumps(
            {
                "version": SUMMARY_VERSION,
                "offset": self.offset,
                "counts": self.counts,
                "newest": None if self.newest is None else self.newest.to_dict(),
                "recent": [record.to_dict() for record in self.recent.values()],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: bytes) -> FrameTally:
        """Read ``summary.json``; :class:`ValueError` saying what is wrong with it."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise ValueError("it is not JSON") from None
        if not isinstance(data, dict) or data.get("version") != SUMMARY_VERSION:
            raise ValueError("it is not a summary this lapse knows")
        offset, counts = data.get("offset"), data.get("counts")
        if not is_int(offset) or offset < 0:
            raise ValueError(f"its offset is not a whole number of bytes: {offset!r}")
        if not isinstance(counts, dict) or not all(
            status in FRAME_STATUSES and is_int(count) and count >= 0
            for status, count in counts.items()
        ):
            raise ValueError("its counts are not whole numbers of known statuses")
        recent, newest = data.get("recent"), data.get("newest")
        if not isinstance(recent, list):
            raise ValueError("it has no list of recent lines")
        tally = cls(offset=offset, counts=dict.fromkeys(FRAME_STATUSES, 0) | counts)
        tally.recent = {record.frame: record for record in map(FrameRecord.from_dict, recent)}
        tally.newest = None if newest is None else FrameRecord.from_dict(newest)
        return tally

    def _forget_settled(self) -> None:
        if self.newest is None:
            return
        settled = self.newest.last_slot - AMEND_WINDOW
        self.recent = {frame: line for frame, line in self.recent.items() if frame > settled}


@dataclass(frozen=True)
class RunInfo:
    """One run as ``run.toml`` describes it."""

    id: str
    """The folder's name: ``"20250614-213000"``, ``"-2"``… when a second was taken."""
    path: Path
    """The run folder."""
    state: str
    """One of :data:`JOURNAL_STATES`."""
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
    output: str | None = None
    """The folder the photos go to when it is not the run's own (``lapse run --output``):
    an absolute path. The journal stays in the run's folder and names it here."""
    camera: RunCamera = field(default_factory=RunCamera)
    """What the run asked of the camera over the config (``--trigger``,
    ``--shutter-speed``): a resume asks it again."""
    place: Place | None = None
    """Where the sun's times of the run's window were computed for, when its window
    follows the sun: a resume computes them for the same place, so the grid's windows
    stay where they were."""

    def __post_init__(self) -> None:
        if self.state not in JOURNAL_STATES:
            allowed = ", ".join(JOURNAL_STATES)
            raise ValueError(f"state must be one of {allowed}, got {self.state!r}")
        if not isinstance(self.settings, Settings):
            raise ValueError("settings must be a Settings")
        for name in ("anchor_ns", "anchor_wall_ns"):
            if not is_int(getattr(self, name)):
                raise ValueError(f"{name} must be whole nanoseconds")
        for name in ("id", "boot_id", "rig"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be text")
        check_wall("created", self.created)
        if self.ended is not None:
            check_wall("ended", self.ended)
        if not is_optional_str(self.end_reason):
            raise ValueError("end_reason must be text")
        if not isinstance(self.camera, RunCamera):
            raise ValueError("camera must be a RunCamera")
        if self.place is not None and not isinstance(self.place, Place):
            raise ValueError("place must be a Place")
        if self.output is not None:
            if not isinstance(self.output, str):
                raise ValueError("output must be text")
            refusal = output_refusal(self.output)
            if refusal is not None:
                raise ValueError(refusal)

    @property
    def frames_path(self) -> Path:
        """The run's ``frames.jsonl``."""
        return self.path / FRAMES_FILE

    @property
    def photos_path(self) -> Path:
        """Where the run's downloaded photos go: :attr:`output`, else the run's folder."""
        return Path(self.output) if self.output else self.path

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
        if self.output is not None:
            data["output"] = self.output
        data.update(
            rig=self.rig,
            anchor_ns=self.anchor_ns,
            anchor_wall_ns=self.anchor_wall_ns,
            boot_id=self.boot_id,
            settings=self.settings.to_dict(),
        )
        if self.camera.chosen:
            # TOML has no null: only what the run asked for.
            data["camera"] = {k: v for k, v in asdict(self.camera).items() if v is not None}
        if self.place is not None:
            data["place"] = self.place.to_dict()
        return data

    def _sort_key(self) -> tuple[datetime, int, str]:
        # Ids come from local time, which jumps with DST and zone changes;
        # created carries its zone, so it orders runs truly. Runs created in
        # the same instant are told apart by their "-N" suffix.
        created = datetime.fromisoformat(self.created)
        suffix = _SUFFIXED_ID.fullmatch(self.id)
        return created, int(suffix.group(1)) if suffix else 1, self.id


@dataclass(frozen=True)
class DamagedRun:
    """A run folder whose ``run.toml`` no longer reads as a run: listed, never left out
    in silence, and never resumed."""

    id: str
    path: Path
    problem: str
    """What is wrong, in one line: ``"run.toml cannot be read (settings: interval …)"``."""
    state: str | None
    """The state ``run.toml`` still says, when that much can be read."""

    @property
    def may_be_active(self) -> bool:
        """Its ``run.toml`` says active, or cannot say: a daemon may have left it running."""
        return self.state is None or self.state == "active"


def _damaged(path: Path, error: OSError | ValueError) -> DamagedRun:
    why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    problem = f"{RUN_FILE} cannot be read ({cut(' '.join(why.split()))})"
    return DamagedRun(id=path.name, path=path, problem=problem, state=_legible_state(path))


def _legible_state(path: Path) -> str | None:
    """The state a ``run.toml`` that fails to read as a run still says, if any."""
    try:
        with os.fdopen(open_no_follow(path / RUN_FILE, path.name), encoding="utf-8") as file:
            state = tomllib.loads(file.read()).get("state")
    except (OSError, ValueError, LinkRefused):
        return None
    return state if state in JOURNAL_STATES else None


def _read_run(path: Path) -> RunInfo:
    """Read ``path/run.toml``; OSError or ValueError (with the reason) when it cannot, and
    :class:`LinkRefused` when it or its folder is a symbolic link."""
    if path.is_symlink():
        raise refuse_link(path.name, "its folder")
    with os.fdopen(open_no_follow(path / RUN_FILE, path.name), encoding="utf-8") as file:
        data = tomllib.loads(file.read())
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
            output=data.get("output"),
            camera=_run_camera(data.get("camera", {})),
            place=_run_place(data.get("place")),
        )
    except KeyError as error:
        raise ValueError(f"run.toml has no {error.args[0]}") from None


def _run_place(table: Any) -> Place | None:
    """A run.toml's ``[place]`` table, or ValueError saying what is wrong with it."""
    if table is None:
        return None
    try:
        return Place.from_dict(table)
    except Invalid as invalid:
        raise ValueError(f"run.toml's {invalid}") from None


def _run_camera(table: Any) -> RunCamera:
    """A run.toml's ``[camera]`` table, or ValueError saying what is wrong with it."""
    if not isinstance(table, dict):
        raise ValueError("run.toml's camera is not a table")
    unknown = sorted(set(table) - {"trigger", "shutter_speed", "auto_exposure"})
    if unknown:
        raise ValueError(f"run.toml's camera has no {', '.join(map(echo, unknown))}")
    texts = {key: value for key, value in table.items() if key != "auto_exposure"}
    if not all(isinstance(value, str) for value in texts.values()):
        raise ValueError("run.toml's camera holds text only, but for auto_exposure")
    try:
        return RunCamera(**table)
    except ValueError as error:
        raise ValueError(f"run.toml's camera: {error}") from None


def segments_backwards(fd: int, end: int) -> Iterator[tuple[int, bytes, bool]]:
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


def frames_backwards(fd: int) -> Iterator[FrameRecord]:
    """The frame lines of ``fd``, last first; a line that is not a frame is passed over.

    Same rule as a forward read: a line is a frame if it parses, whether or not its
    newline made it to disk.
    """
    for _, line, _terminated in segments_backwards(fd, os.fstat(fd).st_size):
        try:
            yield parse_frame_line(line)
        except ValueError:
            continue


def _last_record(path: Path) -> FrameRecord | None:
    """The newest slot's record, read from the end of the file."""
    try:
        fd = open_no_follow(path, path.parent.name)
    except FileNotFoundError:
        return None
    newest: FrameRecord | None = None
    try:
        for record in frames_backwards(fd):
            if newest is None or record.last_slot > newest.last_slot:
                newest = record  # walking backwards, the first line of a frame is its last
            elif record.last_slot <= newest.last_slot - AMEND_WINDOW:
                break  # later lines only complete recent frames: nothing newer lies before
        return newest
    finally:
        os.close(fd)


class Journal:
    """All runs under one state directory: ``<state_dir>/runs/<id>/``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        """The state directory (``LAPSE_STATE_DIR``); created by the first run."""
        self.runs_dir = self.state_dir / RUNS_FOLDER
        """Where the run folders are."""

    def list_runs(self) -> list[RunInfo]:
        """Every readable run, newest first; a folder whose run.toml cannot be read is left
        to :meth:`scan_runs`."""
        return self.scan_runs()[0]

    def damaged_active_run(self) -> DamagedRun | None:
        """The damaged run a daemon may have left active, newer than every readable run:
        the one a starting daemon would have resumed, had it been readable."""
        runs, damaged = self.scan_runs()
        newest = max((run.id for run in runs), default="", key=_id_order)
        return next(
            (run for run in damaged if run.may_be_active and _id_order(run.id) > _id_order(newest)),
            None,
        )

    def scan_runs(self) -> tuple[list[RunInfo], list[DamagedRun]]:
        """The readable runs and the damaged ones, each newest first, from one look at the
        folders (a run that is a link is left out, said once in the log)."""
        try:
            entries = list(self.runs_dir.iterdir())
        except FileNotFoundError:
            return [], []
        runs: list[RunInfo] = []
        damaged: list[DamagedRun] = []
        for path in entries:
            if not _RUN_ID.fullmatch(path.name) or not path.is_dir():
                continue
            try:
                runs.append(_read_run(path))
            except LinkRefused as refused:
                log.warning("%s: left out", refused)
            except FileNotFoundError:
                continue  # a folder a start left before its run.toml: no run at all
            except (OSError, ValueError) as error:
                damaged.append(_damaged(path, error))
        runs.sort(key=RunInfo._sort_key, reverse=True)
        damaged.sort(key=lambda run: _id_order(run.id), reverse=True)
        return runs, damaged

    def get_run(self, run_id: str) -> RunInfo:
        """The run named ``run_id``; :class:`LapseError` if there is none or it cannot be read."""
        path = self._run_path(run_id)
        try:
            return _read_run(path)
        except LinkRefused:
            raise
        except (OSError, ValueError) as error:
            raise LapseError(f"run {run_id} cannot be read ({path / RUN_FILE}): {error}") from None

    def latest_run(self) -> RunInfo | None:
        """The newest run, or None when there is none."""
        runs = self.list_runs()
        return runs[0] if runs else None

    def named_run(self, name: str) -> RunInfo:
        """The run a photographer names: ``latest`` for the newest, else its id;
        :class:`LapseError` when there is none."""
        if name != "latest":
            return self.get_run(name)
        info = self.latest_run()
        if info is None:
            raise LapseError("no runs yet")
        return info

    def active_run(self) -> RunInfo | None:
        """The newest run still active: the one a starting daemon resumes."""
        return next((run for run in self.list_runs() if run.state == "active"), None)

    def scan_frames(self, run_id: str) -> FrameScan:
        """Read every frame of a run, reporting the lines that were not frames."""
        path = self._run_path(run_id) / FRAMES_FILE
        records: list[FrameRecord] = []
        skipped: list[int] = []
        torn = False
        for number, line, terminated in _lines(path, run_id):
            try:
                records.append(parse_frame_line(line))
            except ValueError:
                if terminated:
                    skipped.append(number)
                else:
                    torn = True
        return FrameScan(tuple(records), tuple(skipped), torn)

    def read_frames(self, run_id: str) -> list[FrameRecord]:
        """One record per slot (its last line), in slot order of the file; a gap logged as
        one range is one record (:attr:`FrameRecord.last`); corrupt lines and a torn tail
        are left out."""
        return merge_frames(self.scan_frames(run_id).records)

    def frames(self, run_id: str) -> Iterator[FrameRecord]:
        """The run's records as :meth:`read_frames` has them, yielded as the file is read:
        a journal of millions of lines is never held in memory.

        A record is held back only while a later line may still complete it (within
        :data:`~core.model.records.AMEND_WINDOW` slots of the newest), so memory stays a
        window of lines whatever the file's length.
        """
        held: dict[int, FrameRecord] = {}  # in the order frames first appear
        newest = -1
        for _, line, _terminated in _lines(self._run_path(run_id) / FRAMES_FILE, run_id):
            try:
                record = parse_frame_line(line)
            except ValueError:
                continue
            held[record.frame] = record
            newest = max(newest, record.last_slot)
            while held:
                first = next(iter(held))
                if held[first].last_slot > newest - AMEND_WINDOW:
                    break
                yield held.pop(first)
        yield from held.values()

    def last_frames(self, run_id: str, slots: int) -> list[FrameRecord]:
        """The records of the run's newest ``slots`` slots, oldest first, read from the end
        of the file; a range that reaches into them comes whole."""
        path = self._run_path(run_id) / FRAMES_FILE
        try:
            fd = open_no_follow(path, run_id)
        except FileNotFoundError:
            return []
        found: dict[int, FrameRecord] = {}
        newest: int | None = None
        try:
            for record in frames_backwards(fd):
                newest = record.last_slot if newest is None else max(newest, record.last_slot)
                oldest_wanted = newest - slots + 1
                if record.last_slot < oldest_wanted - AMEND_WINDOW:
                    # Every line before this one was written while the newest slot was
                    # below the slots wanted: none of them is, or completes, one of them.
                    break
                # Walking backwards, the first line of a frame is its last.
                found.setdefault(record.frame, record)
        finally:
            os.close(fd)
        if newest is None:
            return []
        return sorted(
            (record for record in found.values() if record.last_slot > newest - slots),
            key=lambda record: record.frame,
        )

    def last_frame(self, run_id: str) -> FrameRecord | None:
        """The newest slot's record (its last line), found by reading the file from its end;
        it may be a range, whose newest slot is :attr:`FrameRecord.last`."""
        return _last_record(self._run_path(run_id) / FRAMES_FILE)

    def frame_counts(self, run_id: str) -> dict[str, int]:
        """How many frames of each status the run has: ``{"ok": 238, "missed": 2, "error": 0}``."""
        return dict(self.tally(run_id).counts)

    def tally(self, run_id: str) -> FrameTally:
        """The run's counts and newest line, as of the end of its ``frames.jsonl``.

        Read from the run's ``summary.json`` and the lines after its offset, so a journal
        of millions of lines costs what its last lines cost. A summary that does not fit
        the file is said in the log and the whole file is counted instead.
        """
        path = self._run_path(run_id)
        tally = _read_summary(path, run_id)
        for _, line, terminated in _lines(path / FRAMES_FILE, run_id, start=tally.offset):
            if not terminated:
                break  # a torn tail: not a line yet, and not counted
            tally.offset += len(line) + 1
            try:
                tally.add(parse_frame_line(line))
            except ValueError:
                continue
        return tally

    def notes(self, info: RunInfo) -> list[tuple[str, str]]:
        """What the daemon found wrong with the run's journal (``notes.txt``): ``(wall, text)``
        for each note; none when there is no such file or it cannot be read."""
        try:
            fd = open_no_follow(info.path / NOTES_FILE, info.id)
        except (OSError, LapseError):
            return []
        try:
            size = os.fstat(fd).st_size
            start = max(0, size - MAX_NOTES_BYTES)
            data = os.pread(fd, size - start, start)
        except OSError:
            return []
        finally:
            os.close(fd)
        return read_notes(data)

    def _run_path(self, run_id: str) -> Path:
        if isinstance(run_id, str) and _RUN_ID.fullmatch(run_id):
            path = self.runs_dir / run_id
            if path.is_symlink():
                raise refuse_link(run_id, "its folder")
            if path.is_dir():
                return path
        raise LapseError(f"no run named {run_id!r}; `lapse log` lists the runs")


def _id_order(run_id: str) -> tuple[str, int]:
    """Run ids in the order they were taken: ``…-000000`` before ``…-000000-2`` and ``-10``."""
    suffix = _SUFFIXED_ID.fullmatch(run_id)
    return (run_id.rsplit("-", 1)[0], int(suffix.group(1))) if suffix else (run_id, 1)


def _read_summary(folder: Path, run_id: str) -> FrameTally:
    """The run's ``summary.json``, checked against its ``frames.jsonl``; an empty tally (count
    the whole file) when there is none, or, said in the log, when it does not fit."""
    try:
        fd = open_no_follow(folder / SUMMARY_FILE, run_id)
    except FileNotFoundError:
        return FrameTally()
    except (OSError, LinkRefused) as error:
        return _summary_refused(run_id, str(error))
    try:
        with os.fdopen(fd, "rb") as file:
            # A summary is a window of lines: far less than this. Anything more is not one.
            text = file.read(_SUMMARY_MAX_BYTES + 1)
        if len(text) > _SUMMARY_MAX_BYTES:
            raise ValueError("it is too long to be one")
        tally = FrameTally.from_json(text)
        _check_offset(folder / FRAMES_FILE, run_id, tally.offset)
    except (OSError, ValueError) as error:
        return _summary_refused(run_id, str(error))
    return tally


_SUMMARY_MAX_BYTES = 4 * 1024 * 1024


def _check_offset(frames: Path, run_id: str, offset: int) -> None:
    """:class:`ValueError` unless ``offset`` is the end of a line of ``frames``."""
    if offset == 0:
        return
    fd = open_no_follow(frames, run_id)
    try:
        if offset > os.fstat(fd).st_size:
            raise ValueError(f"its offset {offset} is past the end of {FRAMES_FILE}")
        if os.pread(fd, 1, offset - 1) != b"\n":
            raise ValueError(f"its offset {offset} is not the end of a line of {FRAMES_FILE}")
    finally:
        os.close(fd)


def _summary_refused(run_id: str, why: str) -> FrameTally:
    log.warning(
        "run %s: %s does not fit (%s); counting its whole journal", run_id, SUMMARY_FILE, why
    )
    return FrameTally()


def _lines(path: Path, run_id: str, start: int = 0) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(number, line, terminated)`` for each line of ``path`` from byte ``start``
    on (numbered from there); none if it is missing."""
    try:
        fd = open_no_follow(path, run_id)
    except FileNotFoundError:
        return
    with os.fdopen(fd, "rb") as file:
        file.seek(start)
        for number, raw in enumerate(file, 1):
            terminated = raw.endswith(b"\n")
            yield number, raw[:-1] if terminated else raw, terminated
