"""A real SFTP server on loopback, for the tests and benchmarks of lapse's uploads.

:class:`SftpServer` runs asyncssh's SFTP server in a thread of its own, on its own
event loop, so a test can drive an uploader (asyncssh as a client, or OpenSSH's
``sftp`` for a baseline) from its own thread or loop and still reach in to break
the server on cue:

- :meth:`SftpServer.drop_after_bytes` cuts the connection halfway through a file,
  as a network that goes away mid-upload does;
- :meth:`SftpServer.refuse` turns new connections away (a host that is down, or
  one whose sshd hangs up at once) and lets them in again on the same port;
- :meth:`SftpServer.drop_connections` cuts every live connection now.

Files land for real under ``home``, the root the client sees (a chroot): the client
path ``lapse/x.jpg``, or ``/lapse/x.jpg``, is ``home / "lapse" / "x.jpg"`` here.
The server accepts one user, :attr:`SftpServer.user`, with one key, the client key it
generates and writes out next to a ``known_hosts`` naming its host key, so clients
connect exactly as they would to a real host: key authentication, host key checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import threading
from collections.abc import Awaitable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import asyncssh

HOST = "127.0.0.1"
"""Loopback only: the server is for tests on this machine."""
USER = "lapse"
"""The one user name the server accepts."""

_CALL_TIMEOUT_S = 10.0
"""The longest the test thread waits for the server's loop to do something for it."""
_CLOSE_WAIT_S = 3.0
"""The longest close() and drop_connections() wait for connections to finish closing."""

_T = TypeVar("_T")


class SftpServer:
    """An SFTP server on ``127.0.0.1`` in a thread, with faults to inject on cue.

    Use it as a context manager (or call :meth:`start` and :meth:`close`)::

        with SftpServer(tmp_path / "home", tmp_path / "keys") as server:
            async with asyncssh.connect(
                server.host, port=server.port, username=server.user,
                client_keys=[server.client_key_path],
                known_hosts=str(server.known_hosts_path),
            ) as conn, conn.start_sftp_client() as sftp:
                await sftp.put(local, "lapse/x.jpg")

    Every fault setter and counter may be used from any thread at any time.
    """

    def __init__(self, home: Path, keys_dir: Path, *, user: str = USER) -> None:
        """Make the keys and write the client's key files; the server starts in :meth:`start`.

        ``home`` (made if missing) is the root the client sees. ``keys_dir`` (made if
        missing) receives ``client_key`` (private, mode 0600), ``client_key.pub`` and,
        once the port is known, ``known_hosts``.
        """
        self._home = Path(home)
        self._home.mkdir(parents=True, exist_ok=True)
        self._keys_dir = Path(keys_dir)
        self._keys_dir.mkdir(parents=True, exist_ok=True)
        self._user = user

        self._host_key = asyncssh.generate_private_key("ssh-ed25519", comment="lapse-test-host")
        self._client_key = asyncssh.generate_private_key("ssh-ed25519", comment="lapse-test-client")
        _write_private(self.client_key_path, self._client_key.export_private_key("openssh"))
        self.client_key_path.with_name("client_key.pub").write_bytes(
            self._client_key.export_public_key("openssh")
        )

        # Everything below the lock is touched by both the test thread and the loop.
        self._lock = threading.Lock()
        self._drop_after: int | None = None
        self._drop_repeat = False
        self._refusing = False
        self._hangup = False
        self._connections = 0
        self._bytes_written = 0
        self._renames = 0
        self._drops = 0
        self._opened: list[str] = []

        # Only ever touched on the server's loop.
        self._live: set[asyncssh.SSHServerConnection] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None

        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    # ---- the address and the files a client needs --------------------------------

    @property
    def host(self) -> str:
        """The address the server listens on: ``127.0.0.1``."""
        return HOST

    @property
    def port(self) -> int:
        """The TCP port, picked free at :meth:`start` and kept until :meth:`close`."""
        if self._port is None:
            raise RuntimeError("the SFTP server has not started: no port yet")
        return self._port

    @property
    def user(self) -> str:
        """The only user name the server lets in."""
        return self._user

    @property
    def home(self) -> Path:
        """The folder the client sees as ``/``."""
        return self._home

    @property
    def client_key_path(self) -> Path:
        """The client's private key (OpenSSH format, mode 0600); ``.pub`` beside it."""
        return self._keys_dir / "client_key"

    @property
    def known_hosts_path(self) -> Path:
        """A ``known_hosts`` naming ``[127.0.0.1]:PORT`` with the server's host key."""
        return self._keys_dir / "known_hosts"

    @property
    def host_key_public(self) -> str:
        """The server's public host key, as OpenSSH writes it (``ssh-ed25519 AAAA… comment``)."""
        return self._host_key.export_public_key("openssh").decode("ascii").strip()

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for ``asyncssh.connect`` that reach this server and nothing else.

        Besides the address, user, key and ``known_hosts``, they keep the caller's
        ``~/.ssh/config`` and ssh-agent out of it, so a test does not depend on the
        machine it runs on.
        """
        return {
            "host": self.host,
            "port": self.port,
            "username": self.user,
            "client_keys": [str(self.client_key_path)],
            "known_hosts": str(self.known_hosts_path),
            "agent_path": None,
            "config": None,
        }

    def wrong_known_hosts(self, path: Path) -> Path:
        """Write at ``path`` a ``known_hosts`` for this address with some other host key.

        A client that trusts it must refuse the server ("host key not verifiable"),
        as it would if the host were replaced or the connection intercepted.
        """
        other = asyncssh.generate_private_key("ssh-ed25519", comment="not-this-host")
        public = other.export_public_key("openssh").decode("ascii").strip()
        path = Path(path)
        path.write_text(f"{_host_pattern(self.port)} {public}\n")
        return path

    # ---- life ---------------------------------------------------------------------

    def start(self) -> SftpServer:
        """Start the loop's thread, listen on a free port, and write ``known_hosts``."""
        if self._thread is not None:
            raise RuntimeError("the SFTP server is already started")
        if self._closed:
            raise RuntimeError("the SFTP server was closed; make a new one")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(loop, ready), name="sftp-server", daemon=True
        )
        self._loop, self._thread = loop, thread
        thread.start()
        ready.wait(_CALL_TIMEOUT_S)
        try:
            self._port = self._call(self._listen(0))
            self.known_hosts_path.write_text(
                f"{_host_pattern(self._port)} {self.host_key_public}\n"
            )
            # A refuse() asked for before start() holds from the first connection on.
            self._call(self._sync_listening())
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop listening, cut every connection, stop the loop and join its thread.

        Every wait is bounded, so a wedged connection cannot hang a test's teardown.
        Closing twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            # Best effort: whatever goes wrong here, the loop is still stopped below.
            with contextlib.suppress(Exception):
                self._call(self._shutdown(), timeout=_CLOSE_WAIT_S + 2)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
            thread.join(_CLOSE_WAIT_S + 2)

    def __enter__(self) -> SftpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- faults -------------------------------------------------------------------

    def drop_after_bytes(self, n: int | None, *, repeat: bool = False) -> None:
        """Cut the whole connection once a single open file would pass ``n`` bytes written.

        The write that crosses ``n`` has its first bytes, up to ``n`` for that open file,
        written; the rest is not, and the SSH connection is aborted without a goodbye,
        as a dropped network would leave it. The count is per open (a resumed upload
        opens again and starts from 0). One cut, then the setting clears itself,
        unless ``repeat`` (then every open file is cut at ``n``). ``None`` disarms it.
        """
        if n is not None and n < 0:
            raise ValueError(f"drop_after_bytes needs n ≥ 0, not {n}")
        with self._lock:
            self._drop_after = n
            self._drop_repeat = repeat and n is not None

    def refuse(self, on: bool, *, hangup: bool = False) -> None:
        """Turn new connections away while ``on``; existing ones carry on.

        By default the server stops listening, so a connect fails at once with
        ``ConnectionRefusedError`` (a host up without its sshd). With ``hangup``, the
        server keeps listening but aborts each new connection as it is accepted, before
        the SSH handshake (an sshd that hangs up): the client sees the connection reset
        or lost. Connections turned away are not counted. ``refuse(False)`` listens
        again on the same port, since the client's ``known_hosts`` names that port.
        Returns once the change holds.
        """
        with self._lock:
            self._refusing = on
            self._hangup = on and hangup
        if self._thread is not None and not self._closed:
            self._call(self._sync_listening())

    def drop_connections(self) -> int:
        """Abort every live connection now; returns how many there were.

        Returns once they are closed on the server's side (or after a bounded wait).
        """
        return self._call(self._abort_all())

    # ---- counters -----------------------------------------------------------------

    @property
    def connections(self) -> int:
        """TCP connections accepted and let through so far (hung-up ones are not counted)."""
        with self._lock:
            return self._connections

    @property
    def bytes_written(self) -> int:
        """File bytes written to disk so far, over every file and connection."""
        with self._lock:
            return self._bytes_written

    @property
    def renames(self) -> int:
        """Rename requests so far, plain and ``posix-rename@openssh.com``, failed ones too."""
        with self._lock:
            return self._renames

    @property
    def drops(self) -> int:
        """Connections cut by :meth:`drop_after_bytes` so far."""
        with self._lock:
            return self._drops

    @property
    def opened(self) -> list[str]:
        """Files opened for writing, in order, as the client sees them (``/lapse/x.jpg``).

        A copy: the server keeps its own list.
        """
        with self._lock:
            return list(self._opened)

    # ---- on the server's loop -----------------------------------------------------

    def _run(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            # Whatever asyncssh still has running (a session mid-request) is cancelled
            # and given a moment, so the loop closes without "task destroyed" noise.
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(asyncio.wait(tasks, timeout=1.0))
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _call(self, coro: Awaitable[_T], timeout: float = _CALL_TIMEOUT_S) -> _T:
        """Run ``coro`` on the server's loop and wait for its result, from another thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            raise RuntimeError("the SFTP server has not started")
        if threading.current_thread() is thread:
            # Waiting here on our own loop would wait forever.
            raise RuntimeError("SftpServer's controls are for other threads, not its own loop")
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(coro), loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    async def _listen(self, port: int) -> int:
        self._acceptor = await asyncssh.listen(
            HOST,
            port,
            server_factory=lambda: _Connection(self),
            server_host_keys=[self._host_key],
            sftp_factory=lambda chan: _Session(chan, self),
            allow_scp=False,
            password_auth=False,
            kbdint_auth=False,
            # No Kerberos: it would look up this machine's name and credentials.
            gss_host=None,
            # Same port again after refuse(False), while old connections may linger on it.
            reuse_address=True,
        )
        return self._acceptor.get_port()

    async def _sync_listening(self) -> None:
        with self._lock:
            listen = not (self._refusing and not self._hangup)
        if listen and self._acceptor is None:
            await self._listen(self.port)
        elif not listen and self._acceptor is not None:
            # Closing the listening socket is immediate: from here a connect is refused.
            # Not wait_closed(): from Python 3.12 it also waits for live connections.
            self._acceptor.close()
            self._acceptor = None

    async def _abort_all(self) -> int:
        live = list(self._live)
        for conn in live:
            conn.abort()
        if live:
            await asyncio.wait(
                [asyncio.ensure_future(c.wait_closed()) for c in live], timeout=_CLOSE_WAIT_S
            )
        return len(live)

    async def _shutdown(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            self._acceptor = None
        await self._abort_all()

    # ---- called by the connections and sessions, on the loop ----------------------

    def _admit(self, conn: asyncssh.SSHServerConnection) -> bool:
        with self._lock:
            if self._refusing:
                return False
            self._connections += 1
        self._live.add(conn)
        return True

    def _gone(self, conn: asyncssh.SSHServerConnection) -> None:
        self._live.discard(conn)

    def _is_client_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._user and key.public_data == self._client_key.public_data

    def _note_open(self, path: str) -> None:
        with self._lock:
            self._opened.append(path)

    def _note_rename(self) -> None:
        with self._lock:
            self._renames += 1

    def _note_written(self, n: int) -> None:
        with self._lock:
            self._bytes_written += n

    def _allowance(self, written: int, size: int) -> int | None:
        """How much of a write of ``size`` to a file with ``written`` bytes may land.

        ``None``: all of it, no cut. A number: write that much, then cut.
        """
        with self._lock:
            limit = self._drop_after
            if limit is None or written + size <= limit:
                return None
            if not self._drop_repeat:
                self._drop_after = None
            self._drops += 1
            return max(0, limit - written)


class _Connection(asyncssh.SSHServer):
    """One client connection: lets it in (or hangs up) and checks its user and key."""

    def __init__(self, owner: SftpServer) -> None:
        self._owner = owner
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        if self._owner._admit(conn):
            self._conn = conn
        else:
            # refuse(True, hangup=True): accepted by TCP, then cut before the handshake.
            conn.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._owner._gone(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # Checked here rather than with authorized_client_keys, which would take the
        # key for any user name: a client with the wrong user must fail as on a real host.
        return self._owner._is_client_key(username, key)


class _Session(asyncssh.SFTPServer):
    """One SFTP session: asyncssh's own file operations under the chroot, counted.

    asyncssh maps every client path, relative or absolute, inside ``chroot`` (with
    ``..`` folded away first), for the default open, stat, mkdir, remove, rename and
    posix_rename alike, so the overrides here only count and cut.
    """

    def __init__(self, chan: asyncssh.SSHServerChannel, owner: SftpServer) -> None:
        super().__init__(chan, chroot=os.fsencode(owner.home))
        self._owner = owner
        self._written: dict[object, int] = {}
        """Bytes written through each file this session opened for writing."""
        self._cut = False

    def _check_alive(self) -> None:
        # Requests that reached the server before a cut may still be read from its
        # buffers; none of them may touch the files, or the cut would not be clean.
        if self._cut:
            raise asyncssh.SFTPConnectionLost("connection cut by the test server")

    def _client_path(self, path: bytes) -> str:
        text = path.decode("utf-8", "surrogateescape")
        return posixpath.normpath(posixpath.join("/", text))

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        self._check_alive()
        file_obj = super().open(path, pflags, attrs)
        if pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_APPEND):
            self._written[file_obj] = 0
            self._owner._note_open(self._client_path(path))
        return file_obj

    def open56(
        self, path: bytes, desired_access: int, flags: int, attrs: asyncssh.SFTPAttrs
    ) -> object:
        # SFTP v5 and later open through here; asyncssh's client and OpenSSH speak v3.
        self._check_alive()
        file_obj = super().open56(path, desired_access, flags, attrs)
        if desired_access & (asyncssh.ACE4_WRITE_DATA | asyncssh.ACE4_APPEND_DATA):
            self._written[file_obj] = 0
            self._owner._note_open(self._client_path(path))
        return file_obj

    def close(self, file_obj: object) -> None:
        self._written.pop(file_obj, None)
        super().close(file_obj)

    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        self._check_alive()
        before = self._written.get(file_obj, 0)
        allowed = self._owner._allowance(before, len(data))
        if allowed is None:
            count = _written_count(super().write(file_obj, offset, data))
            self._written[file_obj] = before + count
            self._owner._note_written(count)
            return count

        if allowed:
            count = _written_count(super().write(file_obj, offset, data[:allowed]))
            self._written[file_obj] = before + count
            self._owner._note_written(count)
        self._cut = True
        conn = self.connection
        # abort(), not close(): no disconnect message and no flush, as a dead network.
        conn.abort()
        # No answer to this write: wait for the connection to be gone, so the client
        # never hears that any part of it landed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(conn.wait_closed(), _CLOSE_WAIT_S)
        raise asyncssh.SFTPConnectionLost("connection cut by the test server")

    def remove(self, path: bytes) -> None:
        self._check_alive()
        super().remove(path)

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._check_alive()
        super().mkdir(path, attrs)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        # SFTP v3's rename: fails if newpath exists (asyncssh checks before renaming).
        self._check_alive()
        self._owner._note_rename()
        super().rename(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        # posix-rename@openssh.com: os.replace, so an existing newpath is replaced at once.
        self._check_alive()
        self._owner._note_rename()
        super().posix_rename(oldpath, newpath)


def _written_count(result: object) -> int:
    # The default write is synchronous and returns what os.write wrote (an int).
    if not isinstance(result, int):
        raise TypeError(f"asyncssh's SFTPServer.write returned {result!r}, not a count")
    return result


async def _as_coroutine(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


def _host_pattern(port: int) -> str:
    # known_hosts names a host on a port other than 22 as [host]:port.
    return f"[{HOST}]:{port}"


def _write_private(path: Path, data: bytes) -> None:
    # Made 0600 from the start (ssh refuses a private key others can read), and fixed
    # up if the file was already there with looser permissions.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


__all__ = ["HOST", "USER", "SftpServer"]
