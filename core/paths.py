"""Where lapse keeps its config, its journal and its socket (docs/architecture.md §1)."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SOCKET_PATH_MAX_BYTES = 107
"""The longest path a unix socket can have (Linux keeps 108 bytes, the last a NUL)."""


@dataclass(frozen=True)
class Paths:
    """The files one lapse installation uses."""

    config: Path
    """The TOML config file (``LAPSE_CONFIG``)."""
    state_dir: Path
    """Journal and runs (``LAPSE_STATE_DIR``)."""
    socket: Path
    """The daemon's unix socket (``LAPSE_SOCKET``)."""

    @property
    def daemon_log(self) -> Path:
        """Where a daemon started by a client writes what it says."""
        return self.state_dir / "daemon.log"

    @property
    def choices(self) -> Path:
        """The interface's choices (:class:`core.config.ChoicesFile`): the config file is
        the photographer's and only read."""
        return self.state_dir / "choices.toml"

    @property
    def daemon_lock(self) -> Path:
        """Held by the one daemon that owns the hardware."""
        return self.state_dir / "daemon.lock"


def resolve_paths(environ: Mapping[str, str]) -> Paths:
    """Paths from the ``LAPSE_*`` variables, else the XDG base directories."""
    home = Path(environ.get("HOME") or Path.home())
    config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    state_home = Path(environ.get("XDG_STATE_HOME") or home / ".local" / "state")
    config = Path(environ.get("LAPSE_CONFIG") or config_home / "lapse" / "config.toml")
    state_dir = Path(environ.get("LAPSE_STATE_DIR") or state_home / "lapse")
    if environ.get("LAPSE_SOCKET"):
        socket = Path(environ["LAPSE_SOCKET"])
    elif environ.get("XDG_RUNTIME_DIR"):
        socket = Path(environ["XDG_RUNTIME_DIR"]) / "lapse.sock"
    else:
        socket = state_dir / "lapse.sock"
    return Paths(config=config.expanduser(), state_dir=state_dir.expanduser(), socket=socket)


def socket_path_problem(path: Path) -> str | None:
    """Why ``path`` cannot be the daemon's socket, in one line; None when it can.

    A path too long to bind, or a file or folder already there (lapse never removes
    one: only a stale socket is replaced). Said alike by the daemon and its clients.
    """
    size = len(os.fsencode(path))
    if size > SOCKET_PATH_MAX_BYTES:
        return (
            f"the socket path {path} is too long for a unix socket"
            f" ({size} bytes; at most {SOCKET_PATH_MAX_BYTES}); set LAPSE_SOCKET to a shorter one"
        )
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # nothing there (yet): the daemon binds it, a client finds no daemon
    if stat.S_ISSOCK(mode):
        return None
    kind = "a directory" if stat.S_ISDIR(mode) else "a file"
    return (
        f"the socket path {path} is {kind}, not a socket; lapse leaves it as it is:"
        " move it, or set LAPSE_SOCKET to another path"
    )
