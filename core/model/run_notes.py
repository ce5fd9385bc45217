"""A run's notes: ``runs/<id>/notes.txt``, what the daemon found wrong with the run's own
journal when it resumed it (a damaged last line), kept for ``lapse log``.

One line per note, ``<wall time> <text>``, appended by the daemon; plain values here, the
file is the daemon's (:mod:`core.daemon.journal_writer`) and ``lapse log``'s to read.
"""

from __future__ import annotations

NOTES_FILE = "notes.txt"
MAX_NOTES_BYTES = 64 * 1024
"""Only this much of the file's end is read: a note is a line, not a log."""


def note_line(wall: str, text: str) -> bytes:
    """One note as it is appended: its wall time, its text on one line, a newline."""
    flat = " ".join(text.split())
    return f"{wall} {flat}\n".encode("utf-8", "replace")


def read_notes(data: bytes) -> list[tuple[str, str]]:
    """The ``(wall, text)`` of each whole note in ``data``; a torn or unreadable line is
    left out."""
    notes = []
    for raw in data.split(b"\n")[:-1]:
        wall, _, text = raw.decode("utf-8", "replace").partition(" ")
        if text:
            notes.append((wall, text))
    return notes
