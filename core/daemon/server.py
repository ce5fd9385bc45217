"""The daemon's socket server: JSON lines over a unix socket, many clients at once.

It runs on the main thread's asyncio loop and never touches the hardware:
commands go to the :class:`RunController`; events come back from the
controller's journal thread through :meth:`Server.publish`. The contract's
structures (:mod:`core.model.protocol`) are turned into bytes here and only
here. A slow or dead client is dropped, never waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
from pathlib import Path
from typing import Any

from core.daemon.controller import RunController
from core.model import protocol
from core.model.errors import LapseError, ProtocolError

log = logging.getLogger("lapse.daemon")

MAX_CLIENT_BACKLOG = 1 << 20
"""A subscriber with this much unsent data is too slow to keep: it is dropped."""


def refuse_if_answered(path: Path) -> None:
    """Raise :class:`LapseError` when something listens on the unix socket ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)  # a listener with a full backlog answers EAGAIN: still alive
    try:
        probe.connect(str(path))
    except BlockingIOError:
        pass
    except OSError:
        return  # refused, or gone: nobody listens
    finally:
        probe.close()
    raise LapseError(
        f"another lapse daemon answers on {path}; stop it, or give this one another LAPSE_SOCKET"
    )


class Server:
    """Answers commands and fans events out to subscribers."""

    def __init__(self, controller: RunController, socket_path: Path) -> None:
        self.controller = controller
        self.socket_path = socket_path
        self.loop: asyncio.AbstractEventLoop | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        """Every connection being served: close hangs up on each."""
        self._subscribers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Bind the socket (mode 0660) and begin accepting clients."""
        self.loop = asyncio.get_running_loop()
        path = self.socket_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(path.lstat().st_mode):
                # The daemon lock is per state directory: another installation's daemon
                # may be listening here. Only a socket nobody answers on is stale.
                refuse_if_answered(path)
                path.unlink()
        old_umask = os.umask(0o117)  # born 0660: no window where others could connect
        try:
            self._server = await asyncio.start_unix_server(
                self._serve_client, path=str(path), limit=protocol.MAX_LINE_BYTES
            )
        finally:
            os.umask(old_umask)

    async def close(self) -> None:
        """Stop accepting, hang up on every client and remove the socket."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._clients):
            writer.close()
        self._clients.clear()
        self._subscribers.clear()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    def publish(self, event: protocol.Event) -> None:
        """Send ``event`` to every subscriber; callable from any thread."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        message = protocol.encode_event(event)  # once, however many subscribers
        with contextlib.suppress(RuntimeError):  # the loop closed under us: shutting down
            loop.call_soon_threadsafe(self._broadcast, message)

    def _broadcast(self, message: bytes) -> None:
        for writer in list(self._subscribers):
            transport = writer.transport
            if transport.is_closing() or transport.get_write_buffer_size() > MAX_CLIENT_BACKLOG:
                self._subscribers.discard(writer)
                writer.close()
                continue
            writer.write(message)

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._clients.add(writer)
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:
                    # Longer than MAX_LINE_BYTES: answer, then hang up; the rest is unframed.
                    writer.write(protocol.encode_refusal(None, "message too long"))
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                writer.write(await self._answer(line, writer))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._clients.discard(writer)
            self._subscribers.discard(writer)
            writer.close()

    async def _answer(self, line: bytes, writer: asyncio.StreamWriter) -> bytes:
        try:
            request = protocol.decode_request(line)
        except ProtocolError as error:
            return protocol.encode_refusal(protocol.request_id_of(line), str(error))
        name = request.command.name
        try:
            result = await self._run_command(request.command, writer)
        except LapseError as error:
            return protocol.encode_refusal(request.id, str(error))
        except OSError as error:  # the journal's disk: say so, keep serving
            where = f" ({error.filename})" if error.filename else ""
            return protocol.encode_refusal(
                request.id, f"{name} failed: {error.strerror or error}{where}"
            )
        except Exception as error:  # a bug must not cost the other clients or the run
            log.exception("command %s failed", name)
            return protocol.encode_refusal(request.id, f"{name} failed inside lapse: {error!r}")
        return protocol.encode_reply(request.id, result)

    async def _run_command(self, command: protocol.Command, writer: asyncio.StreamWriter) -> Any:
        controller = self.controller
        loop = asyncio.get_running_loop()
        match command:
            case protocol.Hello():
                return protocol.HelloReply(
                    pid=os.getpid(),
                    rig=controller.rig.description,
                    simulated=controller.rig.simulated,
                    notice=controller.notice,
                )
            case protocol.GetStatus():
                return controller.status()
            case protocol.Subscribe():
                self._subscribers.add(writer)
                return controller.subscribed()
            case protocol.Start(settings=settings):
                # A camera may take a few bounded calls to get ready: keep serving meanwhile.
                return await loop.run_in_executor(None, controller.start, settings)
            case protocol.Stop():
                # Joining the threads takes a moment; the loop keeps serving meanwhile.
                return await loop.run_in_executor(None, controller.stop)
            case protocol.Update(frames=frames):
                return controller.update(frames)
            case protocol.Preview(settings=settings):
                return controller.preview(settings)
        raise ProtocolError(f"unknown command {command!r}")  # decode_request prevents this
