"""The daemon's socket path: a path that cannot be a socket, and a socket another
daemon answers on (docs/architecture.md §1).

- A regular file, a directory or a path longer than a unix socket can have: the
  daemon refuses to start with one line naming the path and what is wrong (exit 1,
  no traceback) and leaves what is there as it was; a client says the same line.
- A socket another daemon answers on (with a state directory of its own, hence a lock
  of its own) is never removed as stale: the second daemon refuses to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.client import daemon_answers
from core.daemon.server import Server
from core.model.errors import LapseError
from core.model.protocol import Hello
from core.paths import SOCKET_PATH_MAX_BYTES
from tests.conftest import REPO, Lapse
from tests.test_server import Connection, StandInController
from tui.cli import main

TOO_LONG = SOCKET_PATH_MAX_BYTES + 1


def run_main(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """``lapse ARGS`` in this process: its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args), environ=env)
    return status, out.getvalue(), err.getvalue()


def long_socket_path(root: Path) -> Path:
    """A socket path in ``root`` one byte longer than a unix socket allows."""
    name = "s" * (TOO_LONG - len(os.fsencode(root)) - 1)
    path = root / name
    assert len(os.fsencode(path)) == TOO_LONG
    return path


@pytest.fixture
def bad_paths(lapse: Lapse) -> Iterator[dict[str, tuple[Path, str]]]:
    """Each kind of bad path, made in the installation's folder, and what is said of it."""
    file = lapse.root / "notes.sock"
    file.write_text("the photographer's notes")
    folder = lapse.root / "a-folder"
    folder.mkdir()
    (folder / "keep.txt").write_text("kept")
    long = long_socket_path(lapse.root)
    yield {
        "file": (file, f"the socket path {file} is a file, not a socket"),
        "directory": (folder, f"the socket path {folder} is a directory, not a socket"),
        "too-long": (
            long,
            f"the socket path {long} is too long for a unix socket"
            f" ({TOO_LONG} bytes; at most {SOCKET_PATH_MAX_BYTES})",
        ),
    }


KINDS = ["file", "directory", "too-long"]


def assert_left_alone(bad_paths: dict[str, tuple[Path, str]]) -> None:
    file, _ = bad_paths["file"]
    folder, _ = bad_paths["directory"]
    assert file.read_text() == "the photographer's notes"
    assert (folder / "keep.txt").read_text() == "kept"


@pytest.mark.parametrize("kind", KINDS)
def test_the_daemon_refuses_a_socket_path_it_cannot_use_in_one_line(
    lapse: Lapse, bad_paths: dict[str, tuple[Path, str]], kind: str
) -> None:
    path, said = bad_paths[kind]
    lapse.env["LAPSE_SOCKET"] = str(path)
    daemon = lapse.cli("daemon", timeout=20)
    assert daemon.returncode == 1
    assert "Traceback" not in daemon.stderr
    (line,) = daemon.stderr.strip().splitlines()
    assert line.startswith(f"lapse: {said}"), line
    assert_left_alone(bad_paths)


@pytest.mark.parametrize("command", [["status"], ["run", "--interval", "1s"]], ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_a_client_says_the_same_line_and_starts_nothing(
    lapse: Lapse, bad_paths: dict[str, tuple[Path, str]], kind: str, command: list[str]
) -> None:
    path, said = bad_paths[kind]
    env = {**lapse.env, "LAPSE_SOCKET": str(path)}
    status, out, err = run_main(*command, env=env)
    assert status == 1
    assert out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith(f"lapse: {said}"), line
    assert not (lapse.state_dir / "daemon.log").exists(), "no daemon was started"
    assert_left_alone(bad_paths)


def test_a_path_of_the_longest_length_is_a_socket(lapse: Lapse) -> None:
    too_long = long_socket_path(lapse.root)
    path = too_long.with_name(too_long.name[:-1])
    assert len(os.fsencode(path)) == SOCKET_PATH_MAX_BYTES
    lapse.env["LAPSE_SOCKET"] = str(path)
    lapse.start_daemon()
    status = lapse.cli("status")
    assert status.returncode == 0 and "the daemon is not running" not in status.stdout


def test_a_second_daemon_on_the_same_socket_leaves_the_first_answering(lapse: Lapse) -> None:
    first = lapse.start_daemon()
    before = daemon_answers(lapse.socket)
    assert before is not None and before.pid == first.pid
    # Another installation (its own state directory, so its own lock) told the same socket.
    env = {**lapse.env, "LAPSE_STATE_DIR": str(lapse.root / "other-state")}
    second = subprocess.run(
        [sys.executable, "-m", "tui.cli", "daemon"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 1
    assert "Traceback" not in second.stderr
    (line,) = second.stderr.strip().splitlines()
    assert line == (
        f"lapse: another lapse daemon answers on {lapse.socket};"
        " stop it, or give this one another LAPSE_SOCKET"
    )
    after = daemon_answers(lapse.socket)
    assert after is not None and after.pid == first.pid, "the first daemon's socket is gone"
    assert first.poll() is None


def test_a_stale_socket_is_still_replaced(lapse: Lapse) -> None:
    # What a daemon killed with -9 leaves behind: a socket file nobody listens on.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(str(lapse.socket))
    process = lapse.start_daemon()
    hello = daemon_answers(lapse.socket)
    assert hello is not None and hello.pid == process.pid


async def test_a_server_never_removes_a_socket_another_server_answers_on(tmp_path: Path) -> None:
    path = tmp_path / "lapse.sock"
    first = Server(StandInController(), path)  # type: ignore[arg-type]
    await first.start()
    try:
        second = Server(StandInController(), path)  # type: ignore[arg-type]
        with pytest.raises(LapseError, match=f"^another lapse daemon answers on {path};"):
            await second.start()
        reader, writer = await asyncio.open_unix_connection(str(path))
        connection = Connection(reader, writer)
        assert (await connection.ask(Hello())).ok, "the first server still answers"
        connection.close()
    finally:
        await first.close()
