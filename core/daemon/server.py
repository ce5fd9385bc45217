"""The daemon's socket server: JSON lines over a unix socket, many clients at once.

It runs on the main thread's asyncio loop and never touches the hardware:
commands go to the :class:`RunController`; events come back from the
controller's journal thread through :meth:`Server.publish`. The contract's
structures (:mod:`core.model.protocol`) are turned into bytes here and only
here. A slow or dead client is dropped, never waited for, and idle ones cannot
fill the daemon's places or its file descriptors (docs/architecture.md §6).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import resource
import socket
import stat
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from core.daemon.controller import RunController
from core.model import protocol
from core.model.camera import NO_CHOICE
from core.model.errors import LapseError, ProtocolError

log = logging.getLogger("lapse.daemon")
T = TypeVar("T")

MAX_CLIENT_BACKLOG = 1 << 20
"""A subscriber with this much unsent data is too slow to keep: it is dropped."""
MAX_TOTAL_BACKLOG = 1 << 24
"""All subscribers' unsent data together: past it the furthest behind are dropped, so
hundreds that never read cost this much memory, not hundreds of backlogs."""
MAX_CLIENTS = 768
"""Connections served at once. A newcomer past it takes the place of the idlest
connection that has not subscribed and has no command in hand: a place is made rather
than kept in reserve, because idle connections would fill a reserve as well."""
MAX_SUBSCRIBERS = 640
"""Subscribers at once: fewer than :data:`MAX_CLIENTS`, so that a request (`lapse stop`)
always finds a connection to take the place of."""
FDS_KEPT = 128
"""File descriptors left to the daemon's own files (journal, camera, pins, logs): the
cap is lowered to fit under the process's limit, so clients alone never exhaust it."""
IDLE_TIMEOUT_S = 60.0
"""A connection that has not subscribed and sends nothing for this long is closed."""
OUT_OF_FDS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
"""What ``accept`` fails with when the process or the system is out of descriptors."""


def fitted_cap(wanted: int) -> int:
    """``wanted`` connections, or fewer when the limit on open files would not hold them
    and :data:`FDS_KEPT` (half the limit at least stays the daemon's)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, max(soft - FDS_KEPT, soft // 2)))


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


def _hang_up(writer: asyncio.StreamWriter) -> None:
    """Close a connection; what the client has not read yet is thrown away, since waiting
    for a client that does not read would keep its descriptor for ever."""
    if writer.transport.get_write_buffer_size():
        writer.transport.abort()
    else:
        writer.close()


CLOSE_WAIT_S = 2.0
"""How long closing waits for the clients' tasks to end once their connections are closed."""


class _Peer:
    """What the cap needs to know of a connection being served."""

    __slots__ = ("busy", "ends_daemon", "heard_at")

    def __init__(self, heard_at: float) -> None:
        self.heard_at = heard_at
        """The loop's time when the client last sent a line or had its answer."""
        self.busy = False
        """A command of its is being answered: it is not idle, however long that takes."""
        self.ends_daemon = False
        """It asked the daemon to end: the daemon ends once that answer is sent."""


class Server:
    """Answers commands and fans events out to subscribers."""

    def __init__(
        self,
        controller: RunController,
        socket_path: Path,
        *,
        max_clients: int = MAX_CLIENTS,
        max_subscribers: int = MAX_SUBSCRIBERS,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        hold_off: Callable[[], int] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.controller = controller
        self.on_end = on_end
        """Ends the daemon (``end``); None: this daemon is not ended by a client."""
        self.hold_off = hold_off
        """Nanoseconds a command should wait before it is answered (a shutter about to
        open wants the GIL); None: commands never wait."""
        self.socket_path = socket_path
        self.max_clients = fitted_cap(max_clients)
        # One place at least is never a subscriber's, however low the file limit.
        self.max_subscribers = min(max_subscribers, max(1, self.max_clients - 1))
        self.idle_timeout_s = idle_timeout_s
        self.loop: asyncio.AbstractEventLoop | None = None
        self._clients: dict[asyncio.StreamWriter, _Peer] = {}
        """Every connection being served: close hangs up on each."""
        self._subscribers: set[asyncio.StreamWriter] = set()
        self._serving: set[asyncio.Task[None]] = set()
        """Each client's task: close ends them, so none is left for the loop's shutdown."""
        self._pending: list[bytes] = []
        """Events published and not yet handed to the loop to send, oldest first."""
        self._pending_lock = threading.Lock()
        self._server: asyncio.AbstractServer | None = None
        self._out_of_fds = False
        """Accepting failed for want of descriptors and has not succeeded since."""
        self._asyncio_handler: Callable[..., object] | None = None
        """The loop's exception handler before this server's, given back on close."""

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
        self._asyncio_handler = self.loop.get_exception_handler()
        self.loop.set_exception_handler(self._loop_exception)
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
        if self.loop is not None and not self.loop.is_closed():
            self.loop.set_exception_handler(self._asyncio_handler)
        for writer in list(self._clients):
            # Unsent events are thrown away: a close that waited to send them to a client
            # that does not read would never end its connection, nor its task.
            _hang_up(writer)
        self._clients.clear()
        self._subscribers.clear()
        # Each client's task ends on its own once its connection is closed (its reader
        # sees the end). Left to the loop's shutdown, each would be cancelled, and Python
        # 3.11's streams report a cancelled client task as a traceback in the daemon's
        # log: a stop is not a crash. Cancelling them here would report the same.
        if self._serving:
            await asyncio.wait(list(self._serving), timeout=CLOSE_WAIT_S)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    def publish(self, event: protocol.Event) -> None:
        """Send ``event`` to every subscriber; callable from any thread."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        message = protocol.encode_event(event)  # once, however many subscribers
        with self._pending_lock:
            self._pending.append(message)
            if len(self._pending) > 1:
                return  # the loop has been asked to send them already
        with contextlib.suppress(RuntimeError):  # the loop closed under us: shutting down
            loop.call_soon_threadsafe(self._send_pending)

    def _send_pending(self) -> None:
        """Send every event published since the last call, as one write per subscriber:
        a journal batch's events cost one pass over the subscribers, not one each."""
        with self._pending_lock:
            messages, self._pending = self._pending, []
        self._broadcast(b"".join(messages))

    def _broadcast(self, message: bytes) -> None:
        behind: list[tuple[int, asyncio.StreamWriter]] = []
        total = 0
        for writer in list(self._subscribers):
            transport = writer.transport
            if transport.is_closing() or transport.get_write_buffer_size() > MAX_CLIENT_BACKLOG:
                self._drop(writer)
                continue
            writer.write(message)
            unsent = transport.get_write_buffer_size()
            if unsent:
                behind.append((unsent, writer))
                total += unsent
        if total <= MAX_TOTAL_BACKLOG:
            return
        # Furthest behind first: they hold the most and are the least likely to catch up.
        for unsent, writer in sorted(behind, key=lambda pair: pair[0], reverse=True):
            self._drop(writer)
            total -= unsent
            if total <= MAX_TOTAL_BACKLOG:
                return

    def _drop(self, writer: asyncio.StreamWriter) -> None:
        """Hang up on a subscriber too far behind and throw its unsent events away:
        closing would keep them until it read them, which it may never do."""
        self._subscribers.discard(writer)
        writer.transport.abort()

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Say once per spell that accepting ran out of descriptors (asyncio says it at
        every retry); anything else goes to asyncio's own handler."""
        error = context.get("exception")
        if not (isinstance(error, OSError) and error.errno in OUT_OF_FDS):
            if self._asyncio_handler is not None:
                self._asyncio_handler(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        if not self._out_of_fds:
            self._out_of_fds = True
            log.warning(
                "out of file descriptors (%s): new clients wait until one closes;"
                " the run and the clients connected go on",
                error.strerror or error,
            )

    def _make_room(self) -> bool:
        """Make a place for a newcomer if the cap is reached; False when none can be made."""
        if len(self._clients) < self.max_clients:
            return True
        idle = [
            (peer.heard_at, writer)
            for writer, peer in self._clients.items()
            if not peer.busy and writer not in self._subscribers
        ]
        if not idle:
            return False
        _, idlest = min(idle, key=lambda pair: pair[0])
        idlest.write(
            protocol.encode_refusal(None, "closed to make room for another client; connect again")
        )
        _hang_up(idlest)
        del self._clients[idlest]  # its own task ends on the hang-up
        return True

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self._out_of_fds:
            self._out_of_fds = False
            log.info("accepting clients again")
        if not self._make_room():
            refusal = f"too many clients ({self.max_clients}); close one"
            writer.write(protocol.encode_refusal(None, refusal))
            _hang_up(writer)
            return
        loop = asyncio.get_running_loop()
        peer = self._clients[writer] = _Peer(loop.time())
        task = asyncio.current_task()
        if task is not None:
            self._serving.add(task)
        try:
            while True:
                try:
                    line = await self._quiet_bounded(writer, reader.readline())
                except ValueError:
                    # Longer than MAX_LINE_BYTES: answer, then hang up; the rest is unframed.
                    writer.write(protocol.encode_refusal(None, "message too long"))
                    break
                except TimeoutError:
                    said = f"closed: nothing said for {self.idle_timeout_s:g}s"
                    writer.write(protocol.encode_refusal(None, said))
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                peer.busy = True
                try:
                    await self._after_the_shutter()
                    answer = await self._answer(line, writer)
                finally:
                    peer.busy = False
                writer.write(answer)
                await self._quiet_bounded(writer, writer.drain())
                peer.heard_at = loop.time()
                if peer.ends_daemon and self.on_end is not None:
                    # Only now: the daemon's end hangs up on every client, this one too.
                    self.on_end()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            if self._clients.get(writer) is peer:
                del self._clients[writer]
            self._subscribers.discard(writer)
            _hang_up(writer)
            self._serving.discard(task)  # type: ignore[arg-type]

    async def _after_the_shutter(self) -> None:
        """Wait while a shutter about to open wants the GIL: an answer a few milliseconds
        later costs a client nothing, a GIL held past the shutter costs a frame."""
        if self.hold_off is None:
            return
        while (left := self.hold_off()) > 0:
            await asyncio.sleep(left / 1e9)

    async def _quiet_bounded(self, writer: asyncio.StreamWriter, waiting: Awaitable[T]) -> T:
        """Wait for the client (a line, or room to send), for at most the idle timeout
        unless it has subscribed: a subscriber only listens."""
        if writer in self._subscribers:
            return await waiting
        return await asyncio.wait_for(waiting, self.idle_timeout_s)

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
                cap = self.max_subscribers
                if writer not in self._subscribers and len(self._subscribers) >= cap:
                    raise LapseError(f"too many subscribers ({cap}); close one")
                self._subscribers.add(writer)
                return controller.subscribed()
            case protocol.Start(
                settings=settings, output=output, camera=camera, at=at, place=place
            ):
                # A camera may take a few bounded calls to get ready: keep serving meanwhile.
                return await loop.run_in_executor(
                    None, controller.start, settings, output, camera or NO_CHOICE, at, place
                )
            case protocol.Stop():
                # Joining the threads takes a moment; the loop keeps serving meanwhile.
                return await loop.run_in_executor(None, controller.stop)
            case protocol.Update(frames=frames):
                return controller.update(frames)
            case protocol.Preview(settings=settings):
                return controller.preview(settings)
            case protocol.EndDaemon():
                status = controller.status()
                if self.on_end is None:
                    raise LapseError("this daemon is not ended by a client")
                if status.state.live:
                    raise LapseError(
                        f"a run is {status.state}: stop it first (`lapse stop`),"
                        " then end the daemon"
                    )
                self._clients[writer].ends_daemon = True
                return status
            case protocol.Make(run=run, products=products):
                return controller.make(run, products)
            case protocol.Handle(control=control, to=to, held_s=held_s, bounce=bounce):
                # A press is held for a while: keep serving meanwhile.
                return await loop.run_in_executor(
                    None,
                    lambda: controller.handle(control, to, held_s=held_s, bounce=bounce),
                )
            case protocol.Resume(clock_ok=clock_ok):
                # Resuming readies the camera (bounded calls): keep serving meanwhile.
                return await loop.run_in_executor(
                    None, lambda: controller.resume_waiting(clock_ok=clock_ok)
                )
        raise ProtocolError(f"unknown command {command!r}")  # decode_request prevents this
