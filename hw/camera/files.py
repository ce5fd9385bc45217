"""Frame files on disk: a safe name of lapse's own, ``.part`` then rename, a disk reserve.

The camera's file name is never trusted as a path: it only contributes a
cleaned-up stem and extension to a name lapse makes from the frame number.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import unicodedata
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath

from core.atomic import fsync_directory
from core.model.camera_policy import full_message, short_of_room

PART_SUFFIX = ".part"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,5}")
MAX_STEM = 40

FreeBytes = Callable[[Path], int]


class DiskFull(Exception):
    """There is not room for the file above the reserve; the text says how much there is."""


def free_bytes(folder: Path) -> int:
    """Bytes free for an ordinary user on the disk that holds ``folder``."""
    return shutil.disk_usage(folder).free


def safe_file_name(frame: int, camera_name: str) -> str:
    """``frame-000042-DSC_0042.jpg``: lapse's name for a frame's file, safe in any folder.

    Only the last component of the camera's name is kept, and of it only
    letters, digits, ``_`` and ``-``; control characters and path separators
    (of either kind) can never reach the file system. The extension is one to
    five letters and digits, else ``bin``, and never ``part``: that is the mark
    of a file still being written.
    """
    # Strip folders the Windows way too: a name like "..\\..\\x" means the same to some cards.
    base = PureWindowsPath(PurePosixPath(camera_name).name).name
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    stem, dot, extension = base.rpartition(".")
    if not dot:
        stem, extension = base, ""
    stem = _UNSAFE.sub("_", stem).strip("_-")[:MAX_STEM]
    extension = extension.lower() if _EXTENSION.fullmatch(extension) else "bin"
    if f".{extension}" == PART_SUFFIX:
        # A finished file named like an unfinished one would be taken for a torn download.
        extension = "bin"
    name = f"frame-{frame:06d}"
    if stem:
        name += f"-{stem}"
    return f"{name}.{extension}"


def save_file(
    folder: Path,
    name: str,
    data: bytes,
    *,
    reserve_bytes: int,
    free: FreeBytes = free_bytes,
) -> Path:
    """Write ``data`` as ``folder/name`` durably; raise :class:`DiskFull` to keep the reserve.

    The bytes go to ``name.part`` first, are fsynced, then renamed, so a file
    with a final name is always whole. An existing file is never replaced: a
    second file of the same name gets ``-2``, ``-3``… before its extension.
    """
    shortage = short_of_room(free(folder), reserve_bytes, len(data))
    if shortage is not None:
        raise DiskFull(shortage)
    target = _unused(folder / name)
    part = target.with_name(target.name + PART_SUFFIX)
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(part, target)
    except OSError as error:
        part.unlink(missing_ok=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(full_message(free(folder), reserve_bytes)) from None
        raise
    fsync_directory(folder)
    return target


def _unused(path: Path) -> Path:
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate
