"""Files that are always either the old or the new version, even after a power cut."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NOT_FOLLOWED = "is a symbolic link, and lapse does not follow links in its journal"
"""Why a journal file or folder that is a symbolic link is refused (an ``OSError``'s
``strerror``, so whoever says the error says this)."""


def write_atomic(path: Path, data: bytes, *, follow_symlinks: bool = True) -> None:
    """Write ``data`` to ``path`` via a fsynced temporary file renamed over it.

    The directory is fsynced too, so the rename itself survives a power cut. With
    ``follow_symlinks`` a symlinked ``path`` is written through (a dotfiles manager's
    config); without, a ``path`` or a folder that is a symbolic link is refused with an
    ``OSError`` (``ELOOP``) and nothing is written.
    """
    path = Path(path)
    if follow_symlinks:
        path = path.resolve()
    else:
        for checked in (path, path.parent):
            if checked.is_symlink():
                raise OSError(errno.ELOOP, NOT_FOLLOWED, str(checked))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, synced=True) as temporary:
        # A new file of our own, never something already at that name (a link planted
        # there would be written through).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(temporary, flags, 0o666), "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())


@contextmanager
def atomic_output(path: Path, *, synced: bool = False) -> Iterator[Path]:
    """A temporary name beside ``path`` for a writer that wants a file name (an encoder, an
    image library): fsynced (unless the writer has, ``synced``) and renamed to ``path``
    when the block ends, and removed when it raises, Ctrl+C included, so nothing
    half-written is ever found under ``path``. The directory is fsynced after."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        yield temporary
        if not synced:
            with open(temporary, "rb") as file:
                os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
