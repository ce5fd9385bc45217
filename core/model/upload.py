"""Uploads as plain logic: the ``[upload]`` table, where each file goes on the server, the
outbox's lines and what they add up to, and how long to wait after a failure
(docs/architecture.md §14).

The outbox holds names, not copies: a line per file to send (:class:`Parcel`), a line
per file sent or given up. Replayed after a restart (:func:`replay`), it says what is
still to go, so after a kill, a power cut or a day without network every file goes
exactly once.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.model.durations import NS_PER_S
from core.model.fields import Choice, Flag, Kind, Span, Table, Text, Whole
from core.model.planner import format_bytes
from core.model.protocol import UploadStatus
from core.model.records import AMEND_WINDOW


class FrameUploads(StrEnum):
    """Which frames go to the server."""

    EVERY = "every"
    """Every frame, as it is saved, under its own name in the run's folder."""
    LATEST = "latest"
    """Only the newest, always under the same name (for a web page), replaced atomically."""
    NONE = "none"
    """No frames (the renders only, when ``renders`` says so)."""


MAX_TRANSFERS = 4
MAX_LIMIT_KBPS = 1_000_000
FIRST_BACKOFF_NS = 2 * NS_PER_S
LAST_BACKOFF_NS = 300 * NS_PER_S
"""After a failure the queue waits, doubling from the first to the last of these."""


def _is_host(text: str) -> bool:
    return text == "" or (text.isprintable() and " " not in text and not text.startswith("-"))


def _is_name(text: str) -> bool:
    return text.isprintable() and "/" not in text and text not in ("", ".", "..")


def _is_folder(text: str) -> bool:
    return text.isprintable() and ".." not in text.split("/")


def _is_user(text: str) -> bool:
    return text.isprintable() and " " not in text and "@" not in text


@dataclass(frozen=True)
class UploadConfig:
    """Where and what to upload; nothing is uploaded while ``host`` is empty."""

    host: str = ""
    """The SFTP server's name or address; empty: no uploads."""
    port: int = 22
    user: str = ""
    """The login name on the server; empty: the daemon's own user name."""
    key: str = "~/.ssh/id_ed25519"
    """The private key to log in with (key authentication only)."""
    known_hosts: str = "~/.ssh/known_hosts"
    """Where the server's host key must be found: an unknown or changed one is refused."""
    folder: str = "lapse"
    """On the server, relative to the login folder unless it starts with ``/``."""
    frames: FrameUploads = FrameUploads.EVERY
    latest_name: str = "latest.jpg"
    """The newest frame's name on the server with ``frames = "latest"``."""
    renders: bool = True
    """Send the video, keogram and star trails when they are made."""
    transfers: int = 2
    """Files sent at the same time: two keep the link busy while one file's last replies
    and rename come back (on the loopback benchmark one reached 0.6× OpenSSH's ``sftp``)."""
    limit_kbps: int = 0
    """The most the uploads may send, in kB/s (1000 bytes); 0: no limit."""

    @property
    def wanted(self) -> bool:
        """Anything is to be uploaded."""
        return bool(self.host) and (self.frames is not FrameUploads.NONE or self.renders)

    def server(self, user: str) -> str:
        """``user@host:folder`` (``user`` stands in for an empty :attr:`user`)."""
        port = "" if self.port == 22 else f" port {self.port}"
        return f"{self.user or user}@{self.host}:{self.folder}{port}"


def worker_login(config: UploadConfig, user: str) -> dict[str, Any]:
    """The first line the upload worker reads: where and as whom it logs in, and its
    limit (``user`` stands in for an empty :attr:`UploadConfig.user`)."""
    return {
        "host": config.host,
        "port": config.port,
        "user": config.user or user,
        "key": config.key,
        "known_hosts": config.known_hosts,
        "limit_bps": config.limit_kbps * 1000,
    }


UPLOAD = Table(
    "upload",
    (
        Text("host", what='a server\'s name or address, or ""', accepts=_is_host),
        Whole("port", range=Span(Kind.WHOLE, 1, 65535), what="a TCP port"),
        Text("user", what="a login name", accepts=_is_user),
        Text("key", what="the path of a private key file", accepts=str.isprintable),
        Text("known_hosts", what="the path of a known_hosts file", accepts=str.isprintable),
        Text("folder", what="a folder on the server (no ..)", accepts=_is_folder),
        Choice("frames", choices=FrameUploads),
        Text("latest_name", what="a file name (no /)", accepts=_is_name),
        Flag("renders"),
        Whole("transfers", range=Span(Kind.WHOLE, 1, MAX_TRANSFERS), what="a number of files"),
        Whole(
            "limit_kbps",
            range=Span(Kind.WHOLE, 0, MAX_LIMIT_KBPS),
            what="a number of kB/s (0: no limit)",
        ),
    ),
)
"""The ``[upload]`` table: one field an :class:`UploadConfig` field."""


@dataclass(frozen=True)
class Parcel:
    """One file to send: the outbox's ``put`` line."""

    id: int
    """Its number in the outbox, counting up."""
    file: str
    """The file on the Pi (absolute)."""
    remote: str
    """Its name on the server (under the config's folder, ``/`` separated)."""
    replace: bool = False
    """It replaces whatever has that name (the latest frame): an older such parcel still
    waiting is superseded by it."""
    run: str = ""
    """The run whose frame it is; empty for a render."""
    frame: int | None = None
    """The frame's slot; None for a render."""

    @property
    def part(self) -> str:
        """The name it is written under until whole: hidden, beside the final one, and
        this parcel's own when it replaces (two latest frames never share one)."""
        folder, name = posixpath.split(self.remote)
        suffix = f".{self.id}" if self.replace else ""
        return posixpath.join(folder, f".{name}{suffix}.part")


def frame_remote(config: UploadConfig, run: str, file: str) -> tuple[str, bool] | None:
    """Where a saved frame goes, and whether it replaces: the run's folder, or the latest
    name; None when frames are not uploaded. ``file`` is relative to the run's photos."""
    if config.frames is FrameUploads.EVERY:
        return posixpath.join(config.folder, run, posixpath.basename(file)), False
    if config.frames is FrameUploads.LATEST:
        return posixpath.join(config.folder, config.latest_name), True
    return None


def render_remote(config: UploadConfig, run: str, file: str) -> str | None:
    """Where a made video, keogram or star-trail image goes; None when renders are not
    uploaded."""
    if not config.renders:
        return None
    return posixpath.join(config.folder, run, posixpath.basename(file))


def put_line(parcel: Parcel) -> str:
    """The outbox line that adds ``parcel``."""
    data: dict[str, Any] = {"put": parcel.id, "file": parcel.file, "remote": parcel.remote}
    if parcel.replace:
        data["replace"] = True
    if parcel.frame is not None:
        data["run"], data["frame"] = parcel.run, parcel.frame
    return json.dumps(data, ensure_ascii=False)


def fresh_line(next_id: int, marks: dict[str, int]) -> str:
    """The line a fresh outbox starts with: the next number, and each run's newest frame
    queued (for :func:`catch_up_from` after the next crash)."""
    return json.dumps({"next": next_id, "marks": marks}, ensure_ascii=False)


def sent_line(parcel_id: int, size: int, sha256: str, at: str) -> str:
    """The outbox line that says a parcel is on the server, whole, since ``at`` (ISO-8601
    wall time)."""
    return json.dumps({"sent": parcel_id, "size": size, "sha256": sha256, "at": at})


def given_up_line(parcel_id: int, why: str) -> str:
    """The outbox line that says a parcel will not go (its file is gone, or a newer latest
    frame took its place)."""
    return json.dumps({"given_up": parcel_id, "why": why}, ensure_ascii=False)


@dataclass
class Replayed:
    """What the outbox's lines add up to."""

    waiting: list[Parcel]
    """Parcels neither sent nor given up, in order."""
    next_id: int
    """The number the next parcel gets."""
    sent: int = 0
    damaged: int = 0
    """Lines that could not be read (a line cut by a crash as it was written)."""
    last_sent: tuple[str, str] | None = None
    """The last file sent: its name on the server and when (ISO-8601)."""
    marks: dict[str, int] = field(default_factory=dict)
    """Each run's newest frame ever queued."""
    seen: set[tuple[str, int, str]] = field(default_factory=set)
    """The (run, frame, file) queued of each run's frames from :func:`catch_up_from` of
    its mark on: what a catch-up after a crash need not queue again."""


def replay(lines: list[bytes]) -> Replayed:
    """The outbox's state from its lines, in the order written."""
    waiting: dict[int, Parcel] = {}
    found = Replayed([], 1)
    for raw in lines:
        entry = _entry(raw)
        if entry is None:
            found.damaged += 1
            continue
        if "put" in entry:
            frame = entry.get("frame")
            parcel = Parcel(
                int(entry["put"]),
                str(entry["file"]),
                str(entry["remote"]),
                bool(entry.get("replace", False)),
                str(entry.get("run", "")),
                None if frame is None else int(frame),
            )
            waiting[parcel.id] = parcel
            found.next_id = max(found.next_id, parcel.id + 1)
            note_queued(found.marks, found.seen, parcel)
        elif "sent" in entry:
            parcel = waiting.pop(int(entry["sent"]), None)
            if parcel is not None:
                found.sent += 1
                found.last_sent = (parcel.remote, str(entry.get("at", "")))
        elif "given_up" in entry:
            waiting.pop(int(entry["given_up"]), None)
        else:  # the line a fresh outbox starts with
            found.next_id = max(found.next_id, int(entry["next"]))
            for run, frame in dict(entry.get("marks") or {}).items():
                found.marks[str(run)] = max(found.marks.get(str(run), -1), int(frame))
    found.waiting = sorted(waiting.values(), key=lambda parcel: parcel.id)
    found.seen = still_seen(found.seen, found.marks)
    return found


def note_queued(marks: dict[str, int], seen: set[tuple[str, int, str]], parcel: Parcel) -> None:
    """Count ``parcel``, a frame's file, in a run's mark and what was queued."""
    if parcel.frame is None:
        return
    marks[parcel.run] = max(marks.get(parcel.run, -1), parcel.frame)
    seen.add((parcel.run, parcel.frame, parcel.file))


def still_seen(seen: set[tuple[str, int, str]], marks: dict[str, int]) -> set[tuple[str, int, str]]:
    """Of the (run, frame, file) queued, those a catch-up would look at: of a run with a
    mark, from :func:`catch_up_from` it on (a week's run at 1 s would otherwise hold
    every frame)."""
    return {key for key in seen if key[0] in marks and key[1] >= catch_up_from(marks[key[0]])}


def catch_up_from(mark: int | None) -> int:
    """The first frame a catch-up after a crash looks at in a run whose newest frame queued
    is ``mark`` (None: none was): a file may come up to :data:`AMEND_WINDOW` frames after
    its frame's line, so one queued that far back may be one the crash lost."""
    return 0 if mark is None else max(0, mark - AMEND_WINDOW)


def _entry(raw: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    try:
        if "put" in entry:
            int(entry["put"])
            if not isinstance(entry["file"], str) or not isinstance(entry["remote"], str):
                return None
        elif "sent" in entry:
            int(entry["sent"])
        elif "given_up" in entry:
            int(entry["given_up"])
        else:
            int(entry["next"])
            {str(run): int(frame) for run, frame in dict(entry.get("marks") or {}).items()}
        if entry.get("frame") is not None:
            int(entry["frame"])
    except (KeyError, TypeError, ValueError):
        return None
    return entry


def backoff_ns(failures: int) -> int:
    """How long to wait after ``failures`` failures in a row (1 or more)."""
    return min(LAST_BACKOFF_NS, FIRST_BACKOFF_NS << min(failures - 1, 20))


def upload_line(status: UploadStatus) -> str:
    """The upload queue in one line, for ``lapse status`` and the log screen: ``upload to
    pi@sky.example.org:lapse: 3 waiting (24 MB), 120 sent, last at 21:04:05; error: …``."""
    head = f"upload to {status.server}: "
    if status.stopped:
        return head + f"STOPPED: {status.last_error} ({status.waiting} waiting)"
    parts = [f"{status.waiting} waiting"]
    if status.waiting:
        parts[0] += f" ({format_bytes(status.waiting_bytes)})"
    parts.append(f"{status.sent} sent")
    if status.last_at is not None:
        parts.append(f"last at {_clock_time(status.last_at)}")
    line = head + ", ".join(parts)
    if status.last_error is not None:
        line += f"; error: {status.last_error}"
    return line


def upload_brief(status: UploadStatus) -> str:
    """The upload queue in a few words, for the 40-column screen: ``up: 3 waiting``,
    ``up: all sent 21:04``, ``up: STOPPED (key refused…)``."""
    if status.stopped:
        return f"up: STOPPED: {status.last_error}"
    if status.last_error is not None and status.waiting:
        return f"up: {status.waiting} waiting, failing"
    if status.waiting:
        return f"up: {status.waiting} waiting"
    if status.last_at is not None:
        return f"up: all sent {_clock_time(status.last_at)[:5]}"
    return "up: nothing yet"


def _clock_time(iso: str) -> str:
    """``21:04:05`` of an ISO-8601 wall time."""
    return iso.partition("T")[2][:8] or iso
