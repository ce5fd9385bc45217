"""The upload worker: the process that sends the daemon's files to the SFTP server, through
asyncssh (docs/architecture.md §14).

The daemon starts it (``python -m core.sftp_worker``) in the ordinary scheduling class,
and it lowers itself to nice 10 so that the camera's downloads come first; SSH's crypto
and the hashing never share the daemon's interpreter. The two speak JSON lines:

- stdin, first line: the server (``host``, ``port``, ``user``, ``key``,
  ``known_hosts``, ``limit_bps``); then one line per file to send: ``{"send": id,
  "file", "remote", "part", "replace", "again"}``.
- stdout: first ``{"connected": true}`` or ``{"unreachable": why}`` (it logs in as soon
  as it starts); then one line per file: ``{"sent": id, "size", "sha256"}``;
  ``{"failed": id, "error"}`` (the network, the server: try again later); ``{"gone":
  id, "error"}`` (the file is no longer on the Pi); or, once, ``{"stopped": why}``:
  what only the photographer can fix (a key the server refuses, a host key that is not
  known or has changed, a key file that cannot be read). The worker sends nothing more
  after that.

Each file is written under its ``part`` name (hidden, beside the final one), in
requests of :data:`CHUNK` with :data:`IN_FLIGHT` of them unanswered at a time, and
renamed over the final name once whole (``posix-rename@openssh.com``: atomic, replacing).
A file sent ``again`` (after a failure or a restart) first looks at the server: if its
final name already holds it whole, it was sent before the daemon could note it; else
what is under the part name is kept up to :data:`REWIND` before its end (every request
before that was answered), when the bytes just before that point are the file's, and
the rest follows.
End of stdin (the daemon gone or closing) ends the worker at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import posixpath
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHUNK = 1 << 18
"""Bytes per SFTP write request: asyncssh sends a write no bigger than the server's limit
as one request, so a file goes as many of these, :data:`IN_FLIGHT` at a time."""
IN_FLIGHT = 8
"""Write requests sent before the first is answered: the link never waits for a reply."""
REWIND = CHUNK * IN_FLIGHT
"""A cut transfer resumes this far before the end of what reached the server: every
request further back was answered, so those bytes are there whatever order the server
wrote the last ones in."""
TAIL_CHECK = 1 << 16
"""Before resuming, this many bytes before the resume point are compared."""
CONNECT_TIMEOUT_S = 20.0
KEEPALIVE_S = 15.0
"""A server gone silent is noticed after three keepalives unanswered."""
CALL_TIMEOUT_S = 120.0
"""The longest one SFTP request (a write of one chunk included) may take: a server whose
SSH answers keepalives but whose SFTP session hangs fails the file, which is tried again."""


AES_FIRST = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)
"""The ciphers asked for, best first, on a CPU with AES instructions: there AES-GCM is one
OpenSSL call a packet, where ChaCha20-Poly1305 (asyncssh's first choice) is two; on the
loopback benchmark it sent about 1.5× the bytes for the same CPU. A CPU without them (a
Pi 4's Cortex-A72) keeps asyncssh's own order."""


def ciphers(cpuinfo: str) -> list[str] | None:
    """The ciphers to ask for given ``/proc/cpuinfo``'s text; None: asyncssh's own order."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features") and "aes" in value.split():
            return list(AES_FIRST)
    return None


def _cpu_ciphers() -> list[str] | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            return ciphers(info.read())
    except OSError:
        return None


class Stopped(Exception):
    """Only the photographer can fix this: the worker stops."""


class Gone(Exception):
    """The file is no longer on the Pi."""


class RateLimit:
    """At most ``bytes_per_s`` on average, shared by every transfer; none when 0. It
    starts empty, so ``n`` bytes never go faster than ``n / bytes_per_s``."""

    def __init__(self, bytes_per_s: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = bytes_per_s
        self._clock = clock
        self._free_at = clock()

    @property
    def chunk(self) -> int:
        """Bytes per write: small enough that the limit is kept smoothly."""
        return CHUNK if self.rate == 0 else max(4096, min(CHUNK, self.rate // 4))

    async def take(self, size: int) -> None:
        """Wait until ``size`` more bytes may go."""
        if self.rate == 0:
            return
        now = self._clock()
        self._free_at = max(self._free_at, now) + size / self.rate
        wait = self._free_at - now
        if wait > 0:
            await asyncio.sleep(wait)


class Worker:
    """One SSH connection, opened when a file comes and again after it is lost."""

    def __init__(self, server: dict[str, Any], say: Callable[[dict[str, Any]], None]) -> None:
        self.server = server
        self.say = say
        self.limit = RateLimit(int(server.get("limit_bps", 0)))
        self._connection: Any = None
        self._sftp: Any = None
        self._connecting = asyncio.Lock()
        self._folders: set[str] = set()
        self.stopped = False

    async def send(self, job: dict[str, Any]) -> None:
        """Send one file and say how it went."""
        import asyncssh

        parcel = int(job["send"])
        try:
            size, digest = await self._send(job)
        except Stopped as why:
            if not self.stopped:
                self.stopped = True
                self.say({"stopped": str(why)})
        except Gone as why:
            self.say({"gone": parcel, "error": str(why)})
        except (TimeoutError, OSError, asyncssh.Error, EOFError) as error:
            await self._drop()
            self.say({"failed": parcel, "error": _said(error)})
        else:
            self.say({"sent": parcel, "size": size, "sha256": digest})

    async def connect_ahead(self) -> None:
        """Log in before the first file comes: a key or host key that is wrong is said at
        once, and the first file does not wait for the connection."""
        import asyncssh

        try:
            await self._client()
        except Stopped as why:
            self.stopped = True
            self.say({"stopped": str(why)})
        except (TimeoutError, OSError, asyncssh.Error, EOFError) as error:
            await self._drop()
            self.say({"unreachable": _said(error)})
        else:
            self.say({"connected": True})

    async def _send(self, job: dict[str, Any]) -> tuple[int, str]:
        import asyncssh

        file, remote, part = str(job["file"]), str(job["remote"]), str(job["part"])
        try:
            local = open(file, "rb")  # noqa: SIM115 - closed below, across awaits
        except FileNotFoundError:
            raise Gone(f"{file} is no longer on the Pi") from None
        with local:
            size = os.fstat(local.fileno()).st_size
            sftp = await self._client()
            folder = posixpath.dirname(remote)
            if folder and folder not in self._folders:
                await _bounded(sftp.makedirs(folder, exist_ok=True))
                self._folders.add(folder)
            offset = 0
            if job.get("again"):
                # A replacing file is sent whole again: the final name may hold an older one.
                if not job.get("replace") and await self._already_there(sftp, remote, part, size):
                    return size, _digest(local, 0, size).hexdigest()
                offset = await self._resume_from(sftp, local, part, size)
            digest = _digest(local, 0, offset)
            out = await _bounded(sftp.open(part, "r+b" if offset else "wb", encoding=None))
            try:
                at = await self._write(out, local, offset, digest)
            finally:
                await _bounded(out.close())
            if at != size:
                raise OSError(f"{file} changed size while it was sent ({size} → {at} bytes)")
            try:
                await _bounded(sftp.posix_rename(part, remote))
            except asyncssh.SFTPOpUnsupported:
                with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                    await _bounded(sftp.remove(remote))
                await _bounded(sftp.rename(part, remote))
            return size, digest.hexdigest()

    async def _write(self, out: Any, local: Any, offset: int, digest: Any) -> int:
        """Send ``local`` from ``offset`` on, :data:`IN_FLIGHT` requests at a time, each
        bounded in time; the offset reached."""
        flying: set[asyncio.Future[Any]] = set()
        local.seek(offset)
        at = offset
        try:
            while chunk := local.read(self.limit.chunk):
                await self.limit.take(len(chunk))
                if len(flying) >= IN_FLIGHT:
                    done, flying = await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
                    for request in done:
                        request.result()  # its error, if it failed
                flying.add(asyncio.ensure_future(_bounded(out.write(chunk, at))))
                digest.update(chunk)
                at += len(chunk)
            for request in asyncio.as_completed(flying):
                await request
        finally:
            for request in flying:
                request.cancel()
        return at

    async def _already_there(self, sftp: Any, remote: str, part: str, size: int) -> bool:
        """The final name holds a file this size and no part waits: it went, whole, before
        the daemon could note it (a rename is the last step)."""
        import asyncssh

        try:
            await _bounded(sftp.stat(part))
            return False
        except asyncssh.SFTPNoSuchFile:
            pass
        try:
            return (await _bounded(sftp.stat(remote))).size == size
        except asyncssh.SFTPNoSuchFile:
            return False

    async def _resume_from(self, sftp: Any, local: Any, part: str, size: int) -> int:
        """Where to go on from: :data:`REWIND` before the end of the bytes already under
        the part name, when the bytes before that match the file's; else 0 (the part is
        written afresh)."""
        import asyncssh

        try:
            have = (await _bounded(sftp.stat(part))).size or 0
        except asyncssh.SFTPNoSuchFile:
            return 0
        resume = have - REWIND
        if resume <= 0 or have > size:
            return 0
        start = max(0, resume - TAIL_CHECK)
        held = await _bounded(sftp.open(part, "rb", encoding=None))
        try:
            theirs = await _bounded(held.read(resume - start, start))
        finally:
            await _bounded(held.close())
        return resume if theirs == _read(local, start, resume - start) else 0

    async def _client(self) -> Any:
        import asyncssh

        async with self._connecting:
            if self._sftp is not None:
                return self._sftp
            if self.stopped:
                raise Stopped("stopped")  # said once already: never log in again
            server = self.server
            key_path = str(Path(server["key"]).expanduser())
            hosts_path = str(Path(server["known_hosts"]).expanduser())
            try:
                key = asyncssh.read_private_key(key_path)
            except (OSError, asyncssh.KeyImportError) as error:
                raise Stopped(f"cannot use the key {key_path}: {_said(error)}") from None
            try:
                known = asyncssh.read_known_hosts(hosts_path)
            except (OSError, ValueError) as error:
                raise Stopped(f"cannot read the known hosts {hosts_path}: {_said(error)}") from None
            try:
                self._connection = await asyncssh.connect(
                    server["host"],
                    int(server["port"]),
                    username=server["user"],
                    client_keys=[key],
                    known_hosts=known,
                    agent_path=None,
                    password_auth=False,
                    kbdint_auth=False,
                    encryption_algs=_cpu_ciphers() or (),
                    connect_timeout=CONNECT_TIMEOUT_S,
                    keepalive_interval=KEEPALIVE_S,
                    keepalive_count_max=3,
                )
            except asyncssh.HostKeyNotVerifiable as error:
                raise Stopped(
                    f"the server's host key is not in {hosts_path} or does not match it"
                    f" ({_said(error)}): check it, add it, and start the daemon again"
                ) from None
            except OSError as error:
                raise ConnectionError(
                    f"cannot reach {server['host']} port {server['port']}:"
                    f" {os.strerror(error.errno) if error.errno else _said(error)}"
                ) from None
            except asyncssh.PermissionDenied:
                raise Stopped(
                    f"the server refused the key {key_path} for {server['user']}: add its"
                    " public half to the server's authorized_keys, then start the daemon again"
                ) from None
            self._sftp = await self._connection.start_sftp_client()
            return self._sftp

    async def _drop(self) -> None:
        connection, self._connection, self._sftp = self._connection, None, None
        self._folders.clear()
        if connection is not None:
            connection.abort()

    async def close(self) -> None:
        """Let go of the connection."""
        await self._drop()


def _read(local: Any, start: int, length: int) -> bytes:
    local.seek(start)
    return local.read(length)


def _digest(local: Any, start: int, length: int) -> Any:
    """A SHA-256 begun with ``length`` bytes of ``local`` from ``start``, read a chunk at a
    time (a video resumed a gigabyte in is not held whole)."""
    digest = hashlib.sha256()
    local.seek(start)
    left = length
    while left > 0 and (chunk := local.read(min(CHUNK, left))):
        digest.update(chunk)
        left -= len(chunk)
    return digest


async def _bounded(call: Any) -> Any:
    """``call`` awaited for :data:`CALL_TIMEOUT_S` at most (:class:`TimeoutError`)."""
    return await asyncio.wait_for(call, CALL_TIMEOUT_S)


def _said(error: BaseException) -> str:
    text = " ".join(str(error).split())
    reason = getattr(error, "reason", None)
    if not text and isinstance(reason, str):
        text = reason
    return text or type(error).__name__


async def serve(stdin: asyncio.StreamReader, say: Callable[[dict[str, Any]], None]) -> None:
    """Read the server, then files to send, until stdin ends."""
    first = await stdin.readline()
    if not first:
        return
    worker = Worker(json.loads(first), say)
    tasks: set[asyncio.Task[None]] = {asyncio.create_task(worker.connect_ahead())}
    try:
        while line := await stdin.readline():
            if worker.stopped:
                continue
            task = asyncio.create_task(worker.send(json.loads(line)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()
        await worker.close()


def _quiet_after_a_cut(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A connection lost mid-file fails the file, which says so; asyncssh's own write
    requests still in flight then fail too, in tasks nobody awaits: not worth a traceback
    in the daemon's log. Anything else is the loop's to report."""
    import asyncssh

    if isinstance(context.get("exception"), OSError | asyncssh.Error):
        return
    loop.default_exception_handler(context)


def main() -> int:
    """The worker's program: JSON lines in on stdin, out on stdout."""
    with contextlib.suppress(OSError):
        os.nice(10)

    def say(message: dict[str, Any]) -> None:
        # The daemon gone (killed as a file went): nothing to tell, and stdin ends next.
        with contextlib.suppress(BrokenPipeError, ValueError):
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_quiet_after_a_cut)
        reader = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        await serve(reader, say)

    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
