"""The SFTP server the upload tests run against (tests/sftp_server.py), tested itself.

Each test is also an example: a client connects as lapse's uploads will, with
asyncssh, key authentication and a checked host key, and the server is broken on
cue (a cut mid-file, a host that refuses, a wrong host key). The last test points
OpenSSH's ``sftp`` at it, as the upload benchmark does for its baseline.
"""

from __future__ import annotations

import asyncio
import random
import stat
import subprocess
import threading
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import pytest

from tests.sftp_server import SftpServer
from tests.system_tools import require_tool

_T = TypeVar("_T")

DEADLINE_S = 20.0
"""No test waits on the server longer than this: a broken server fails, never hangs."""

CONNECTION_LOST = (
    asyncssh.ConnectionLost,
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,
    ConnectionError,
)
"""How a client may learn that its connection is gone, depending on where it is."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SftpServer]:
    with SftpServer(tmp_path / "home", tmp_path / "keys") as running:
        yield running


def run(coro: Awaitable[_T]) -> _T:
    async def bounded() -> _T:
        return await asyncio.wait_for(coro, DEADLINE_S)

    return asyncio.run(bounded())


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def connect(server: SftpServer, **overrides: Any) -> asyncssh.SSHClientConnection:
    """Connect as lapse's uploader does: its key, and the host key checked."""
    options: dict[str, Any] = {
        "port": server.port,
        "username": server.user,
        "client_keys": [str(server.client_key_path)],
        "known_hosts": str(server.known_hosts_path),
        # Nothing from the machine running the tests: no ~/.ssh/config, no agent.
        "config": None,
        "agent_path": None,
    }
    options.update(overrides)
    return asyncssh.connect(server.host, **options)


async def upload(sftp: asyncssh.SFTPClient, path: str, data: bytes) -> None:
    async with sftp.open(path, "wb") as remote:
        await remote.write(data)


async def download(sftp: asyncssh.SFTPClient, path: str) -> bytes:
    async with sftp.open(path, "rb") as remote:
        return await remote.read()


def test_keys_and_known_hosts_are_written_for_the_client(server: SftpServer) -> None:
    key = server.client_key_path
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert key.with_name("client_key.pub").read_text().startswith("ssh-ed25519 ")
    assert server.known_hosts_path.read_text() == (
        f"[127.0.0.1]:{server.port} {server.host_key_public}\n"
    )
    assert server.host_key_public.startswith("ssh-ed25519 ")


def test_a_file_goes_up_and_comes_back_the_same(server: SftpServer) -> None:
    data = payload(300_000)

    async def go() -> None:
        async with connect(server) as conn, conn.start_sftp_client() as sftp:
            await sftp.mkdir("lapse")
            await upload(sftp, "lapse/x.jpg", data)
            assert (await sftp.stat("lapse/x.jpg")).size == len(data)
            assert await download(sftp, "lapse/x.jpg") == data
            # Absolute paths are inside the chroot too, and ".." cannot climb out of it.
            await upload(sftp, "/lapse/y.jpg", b"why")
            await upload(sftp, "../../outside.txt", b"in")
            await sftp.remove("lapse/y.jpg")

    run(go())
    assert (server.home / "lapse" / "x.jpg").read_bytes() == data
    assert not (server.home / "lapse" / "y.jpg").exists()
    assert (server.home / "outside.txt").read_bytes() == b"in"
    assert server.connections == 1
    assert server.bytes_written == len(data) + 3 + 2
    assert server.opened == ["/lapse/x.jpg", "/lapse/y.jpg", "/outside.txt"]
    assert server.renames == 0


def test_a_cut_leaves_at_most_n_bytes_and_the_client_sees_the_connection_go(
    server: SftpServer,
) -> None:
    data = payload(1_000_000)
    n = 100_000
    server.drop_after_bytes(n)

    async def go() -> None:
        async with connect(server) as conn, conn.start_sftp_client() as sftp:
            remote = await sftp.open("big.bin", "wb")
            with pytest.raises(CONNECTION_LOST):
                await remote.write(data)

    run(go())
    on_server = (server.home / "big.bin").read_bytes()
    assert len(on_server) <= n
    assert data.startswith(on_server)
    assert server.drops == 1
    assert server.bytes_written == len(on_server)


def test_a_cut_happens_once_unless_repeated(server: SftpServer) -> None:
    data = payload(200_000)
    server.drop_after_bytes(50_000)

    async def try_upload(path: str) -> bool:
        try:
            async with connect(server) as conn, conn.start_sftp_client() as sftp:
                await upload(sftp, path, data)
        except CONNECTION_LOST:
            return False
        return True

    assert run(try_upload("one.bin")) is False
    assert run(try_upload("two.bin")) is True
    assert (server.home / "two.bin").read_bytes() == data

    server.drop_after_bytes(50_000, repeat=True)
    assert run(try_upload("three.bin")) is False
    assert run(try_upload("four.bin")) is False
    server.drop_after_bytes(None)
    assert run(try_upload("five.bin")) is True
    assert server.drops == 3


@pytest.mark.parametrize("mode", ["r+b", "ab"])
def test_a_second_connection_resumes_where_the_cut_left_off(server: SftpServer, mode: str) -> None:
    data = payload(700_000, seed=7)
    server.drop_after_bytes(250_000)

    async def go() -> None:
        async with connect(server) as conn, conn.start_sftp_client() as sftp:
            remote = await sftp.open("frame.jpg", "wb")
            with pytest.raises(CONNECTION_LOST):
                await remote.write(data)

        async with connect(server) as conn, conn.start_sftp_client() as sftp:
            have = (await sftp.stat("frame.jpg")).size
            assert have is not None
            assert 0 < have <= 250_000
            # "r+b" writes at the offset given; "ab" opens with O_APPEND on the server.
            async with sftp.open("frame.jpg", mode) as remote:
                await remote.write(data[have:], have)
            assert await download(sftp, "frame.jpg") == data

    run(go())
    assert (server.home / "frame.jpg").read_bytes() == data
    assert server.connections == 2
    assert server.bytes_written == len(data)
    assert server.opened == ["/frame.jpg", "/frame.jpg"]


def test_resuming_through_a_cut_on_every_connection_gets_there(server: SftpServer) -> None:
    data = payload(400_000, seed=3)
    server.drop_after_bytes(64_000, repeat=True)

    async def go() -> int:
        attempts = 0
        while True:
            attempts += 1
            try:
                async with connect(server) as conn, conn.start_sftp_client() as sftp:
                    if not await sftp.exists("slow.jpg"):
                        await upload(sftp, "slow.jpg", b"")
                    have = (await sftp.stat("slow.jpg")).size or 0
                    async with sftp.open("slow.jpg", "r+b") as remote:
                        await remote.write(data[have:], have)
                    return attempts
            except CONNECTION_LOST:
                assert attempts < 20

    attempts = run(go())
    assert (server.home / "slow.jpg").read_bytes() == data
    # 64 000 bytes at most per connection, and a cut whenever more was left.
    assert attempts == -(-len(data) // 64_000)


def test_refuse_turns_connections_away_and_lets_them_back_on_the_same_port(
    server: SftpServer,
) -> None:
    port = server.port

    async def go() -> None:
        async with connect(server) as conn, conn.start_sftp_client() as sftp:
            server.refuse(True)
            with pytest.raises(ConnectionRefusedError):
                await connect(server)
            # The connection made before carries on.
            await upload(sftp, "still.txt", b"here")

            server.refuse(True, hangup=True)
            with pytest.raises(CONNECTION_LOST):
                await connect(server)

        server.refuse(False)
        assert server.port == port
        async with connect(server) as conn, conn.start_sftp_client() as sftp:
            assert await download(sftp, "still.txt") == b"here"

    run(go())
    # The refused and hung-up connections never got in.
    assert server.connections == 2


def test_drop_connections_cuts_the_live_ones(server: SftpServer) -> None:
    async def go() -> None:
        async with connect(server) as conn, conn.start_sftp_client() as sftp:
            await sftp.stat(".")
            assert server.drop_connections() == 1
            with pytest.raises(CONNECTION_LOST):
                await sftp.stat(".")
        async with connect(server) as conn, conn.start_sftp_client() as sftp:
            await sftp.stat(".")

    run(go())
    assert server.connections == 2


def test_posix_rename_replaces_an_existing_file_and_plain_rename_does_not(
    server: SftpServer,
) -> None:
    async def go() -> None:
        async with connect(server) as conn, conn.start_sftp_client() as sftp:
            await sftp.mkdir("lapse")
            await upload(sftp, "lapse/x.jpg", b"old")
            await upload(sftp, "lapse/x.jpg.part", b"new")
            with pytest.raises(asyncssh.SFTPError):
                await sftp.rename("lapse/x.jpg.part", "lapse/x.jpg")
            await sftp.posix_rename("/lapse/x.jpg.part", "lapse/x.jpg")
            assert await download(sftp, "lapse/x.jpg") == b"new"
            assert not await sftp.exists("lapse/x.jpg.part")

    run(go())
    assert (server.home / "lapse" / "x.jpg").read_bytes() == b"new"
    assert not (server.home / "lapse" / "x.jpg.part").exists()
    assert server.renames == 2


def test_a_client_that_knows_another_host_key_refuses_the_server(
    server: SftpServer, tmp_path: Path
) -> None:
    wrong = server.wrong_known_hosts(tmp_path / "wrong_known_hosts")

    async def go() -> None:
        with pytest.raises(asyncssh.HostKeyNotVerifiable):
            await connect(server, known_hosts=str(wrong))

    run(go())
    assert server.connections == 1


def test_only_the_generated_key_and_user_get_in(server: SftpServer, tmp_path: Path) -> None:
    stranger = asyncssh.generate_private_key("ssh-ed25519")

    async def go() -> None:
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(server, client_keys=[stranger])
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(server, username="root")
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(server, client_keys=[], password="lapse")

    run(go())


def test_close_cuts_live_connections_and_ends_the_thread(tmp_path: Path) -> None:
    server = SftpServer(tmp_path / "home", tmp_path / "keys").start()

    async def go() -> None:
        async with connect(server) as conn, conn.start_sftp_client() as sftp:
            await sftp.stat(".")
            server.close()
            with pytest.raises(CONNECTION_LOST):
                await sftp.stat(".")

    try:
        run(go())
    finally:
        server.close()
    server.close()
    assert not [t for t in threading.enumerate() if t.name == "sftp-server" and t.is_alive()]


def test_openssh_sftp_puts_files_in_batch_mode(server: SftpServer, tmp_path: Path) -> None:
    sftp = require_tool("sftp", "openssh-client")
    local = tmp_path / "local"
    local.mkdir()
    files = {f"frame_{i:05d}.jpg": payload(50_000 * (i + 1), seed=i) for i in range(3)}
    for name, data in files.items():
        (local / name).write_bytes(data)
    batch = tmp_path / "batch"
    batch.write_text(
        "mkdir lapse\n" + "".join(f"put {local / name} lapse/{name}\n" for name in files)
    )

    done = subprocess.run(
        [
            sftp,
            "-b", str(batch),
            "-i", str(server.client_key_path),
            # Nothing from the machine's own ssh setup: its config, agent or hosts.
            "-F", "/dev/null",
            "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={server.known_hosts_path}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes",
            "-P", str(server.port),
            f"{server.user}@{server.host}",
        ],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    for name, data in files.items():
        assert (server.home / "lapse" / name).read_bytes() == data
    assert server.opened == [f"/lapse/{name}" for name in files]
    assert server.bytes_written == sum(len(data) for data in files.values())
