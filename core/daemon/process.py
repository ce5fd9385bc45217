"""The daemon's process: the one owner of the hardware (docs/architecture.md §1, §9).

:func:`run_daemon` takes a ready-built rig (the composition root builds it
from config), holds the daemon lock, resumes an interrupted run (or, asked to,
records it as stopped without firing anything), serves the socket, and on
SIGTERM, SIGINT or SIGHUP releases every output and leaves the run resumable.
A Python exception anywhere still releases the outputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from core.clock import Clock
from core.daemon.after import AfterSetup, AfterWork
from core.daemon.box import Box, BoxSetup
from core.daemon.collector import freeze_survivors
from core.daemon.controller import RunController
from core.daemon.delivery import Delivery, DeliverySetup
from core.daemon.engine import (
    SUPPORT_PRIORITY,
    hand_over_the_gil_quickly,
    request_realtime_priority,
)
from core.daemon.outlook import Outlook
from core.daemon.server import Server, refuse_if_answered
from core.daemon.watchdog import LoopBeat, watchdog_for
from core.journal import STOPPED_WHILE_DOWN, Journal
from core.model.battery import BatteryModel, BatteryReader
from core.model.camera import Camera
from core.model.errors import LapseError
from core.model.place import Place
from core.model.planner import DEFAULT_RESERVE_BYTES
from core.model.protocol import Event
from core.model.rig import Rig
from core.paths import Paths, socket_path_problem

log = logging.getLogger("lapse.daemon")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def hold_daemon_lock(paths: Paths) -> IO[str]:
    """Take the lock that makes this the only daemon; raise if another holds it."""
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    lock = open(paths.daemon_lock, "a+", encoding="ascii")  # noqa: SIM115 - held for life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise LapseError(
            f"another lapse daemon already owns the hardware (pid {holder});"
            " `lapse status` talks to it"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def refuse_unusable_socket(path: Path) -> None:
    """Raise :class:`LapseError` when the daemon could not serve on ``path``: it cannot be
    a socket (a file, a folder, too long), or another daemon answers there."""
    problem = socket_path_problem(path)
    if problem is not None:
        raise LapseError(problem)
    if path.is_socket():
        refuse_if_answered(path)


def run_daemon(
    make_rig: Callable[[], tuple[Rig, str | None]],
    clock: Clock,
    paths: Paths,
    *,
    make_camera: Callable[[Rig], Camera | None] | None = None,
    make_battery: Callable[[], tuple[BatteryReader | None, BatteryModel]] | None = None,
    reserve_bytes: int = DEFAULT_RESERVE_BYTES,
    stop_interrupted: bool = False,
    place: Place | None = None,
    after: AfterSetup | None = None,
    box: BoxSetup | None = None,
    delivery: DeliverySetup | None = None,
) -> None:
    """Serve until a stop signal; the rig is closed (outputs released) however this ends.

    ``make_rig`` is called once the daemon lock is held, so a second daemon
    never touches the pins the first one owns. It returns the rig and a notice
    to show (the rig is simulated) or None. ``make_camera``, given the rig,
    returns the USB camera to use, or None for the GPIO lines only;
    ``make_battery`` the battery monitor (None: the model stands in) and the model.
    ``reserve_bytes`` of the disk are never counted as room for frames.
    With ``stop_interrupted`` an interrupted run is recorded as stopped, not resumed.
    ``place``: where the rig stands (the config's ``[place]``), for windows by the sun.
    ``after``: what to make when a run ends (``[after]``), and how to start the work.
    ``box``: how to claim the box's own controls (``[inputs]``) on the rig's pins.
    ``delivery``: the hooks to run and the server to upload to (``[hooks]``, ``[upload]``).
    """
    lock = hold_daemon_lock(paths)
    # Before any thread starts: the timing thread must get the GIL back inside its spin.
    hand_over_the_gil_quickly()
    try:
        # Before the rig: a daemon that cannot serve must not touch the pins.
        refuse_unusable_socket(paths.socket)
        rig, notice = make_rig()
        if notice:
            log.warning("%s", notice)
        camera: Camera | None = None
        the_box: Box | None = None
        try:
            # Before the server's and the run's threads start, so that they inherit it;
            # the timing thread then goes higher.
            if request_realtime_priority(SUPPORT_PRIORITY):
                log.info("real-time scheduling: timing thread above the daemon's other threads")
            camera = make_camera(rig) if make_camera is not None else None
            if box is not None:
                the_box = box.build(rig, clock)
                if the_box is not None:
                    rig = the_box.led  # the LED is shared with the box's signal from now on
            reader, model = make_battery() if make_battery is not None else (None, BatteryModel())
            outlook = Outlook(reader, model, paths.state_dir, clock, reserve_bytes=reserve_bytes)
            # Everything the daemon keeps for life is built: out of the collector's way.
            freeze_survivors()
            asyncio.run(
                _serve(
                    rig,
                    camera,
                    outlook,
                    clock,
                    paths,
                    notice,
                    stop_interrupted,
                    place,
                    after,
                    the_box,
                    delivery,
                )
            )
        finally:
            try:
                if the_box is not None:
                    the_box.close()
            finally:
                try:
                    _release_and_close(rig)
                finally:
                    if camera is not None:
                        camera.close()
    finally:
        lock.close()


def _release_and_close(rig: Rig) -> None:
    """Release and say so (read back from the outputs, not assumed), then close."""
    try:
        rig.release()
        states = ", ".join(f"{name} {value:g}" for name, value in rig.outputs().items())
        log.info("outputs released: %s", states)
    finally:
        rig.close()


async def _serve(
    rig: Rig,
    camera: Camera | None,
    outlook: Outlook,
    clock: Clock,
    paths: Paths,
    notice: str | None,
    stop_interrupted: bool,
    place: Place | None,
    after: AfterSetup | None = None,
    box: Box | None = None,
    delivery_setup: DeliverySetup | None = None,
) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stopping.set)
    server: Server | None = None
    journal = Journal(paths.state_dir)
    delivery = None
    if delivery_setup is not None and delivery_setup.wanted:
        delivery = Delivery(
            delivery_setup, journal, clock, changed=lambda: controller.publish_state()
        )
    work = None
    if after is not None:
        work = AfterWork(
            after.config,
            after.command,
            after.environ,
            journal,
            clock,
            changed=lambda: controller.publish_state(),
            active_run=lambda: controller.active_info(),
            made=None if delivery is None else delivery.made,
        )

    def publish(event: Event) -> None:
        if server is not None:
            server.publish(event)
        if delivery is not None:
            delivery.hear(event)

    controller = RunController(
        rig,
        clock,
        journal,
        publish,
        notice=notice,
        camera=camera,
        outlook=outlook,
        place=place,
        after=work,
        box=box,
        delivery=delivery,
    )
    if box is not None:
        box.start(controller)
    if delivery is not None:
        delivery.start()
    if work is not None and work.wanted:
        work.start()  # for the daily products; otherwise it starts with its first job
    if stop_interrupted:
        # Before the socket answers: the client that asked finds the run stopped
        # when it first hears from this daemon, never running.
        _stop_interrupted(controller)
    server = Server(
        controller, paths.socket, hold_off=controller.quiet_left_ns, on_end=stopping.set
    )
    beat = LoopBeat(clock)
    notifier, watchdog = watchdog_for(clock, os.environ, [beat.stalled, controller.timing_stalled])
    await server.start()
    try:
        if not stop_interrupted:
            _resume(controller)
        ready = f"ready on {paths.socket}; rig: {rig.description}"
        if camera is not None:
            shown = camera.status()
            ready += f"; camera ({camera.trigger}): {shown.model or shown.fault or 'looking'}"
        ready += f"; battery: {outlook.reader.name if outlook.reader else 'the model'}"
        log.info("%s", ready)
        # Ready once the daemon can fire: its rig, its socket and any resumed run.
        beat.start(loop)
        if notifier is not None:
            notifier.send(f"READY=1\nSTATUS={ready}")
        if watchdog is not None:
            watchdog.start()
        await stopping.wait()
        log.info("stopping: releasing the outputs; an active run resumes at the next start")
    finally:
        if watchdog is not None:
            watchdog.stop()
        beat.stop()
        if notifier is not None:
            notifier.send("STOPPING=1")
        await loop.run_in_executor(None, controller.shutdown)
        if work is not None:
            await loop.run_in_executor(None, work.close)
        if delivery is not None:
            await loop.run_in_executor(None, delivery.close)
        await server.close()
        for signum in STOP_SIGNALS:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)


def _resume(controller: RunController) -> None:
    try:
        resumed = controller.resume()
    except (LapseError, OSError) as error:
        log.error("could not resume the interrupted run: %s", error)
    else:
        if resumed is not None:
            log.info("resumed run %s at frame %s", resumed.id, resumed.next_frame)


def _stop_interrupted(controller: RunController) -> None:
    try:
        ended = controller.end_interrupted(STOPPED_WHILE_DOWN)
    except (LapseError, OSError) as error:
        log.error("could not record the interrupted run as stopped: %s", error)
    else:
        if ended is not None:
            log.info(
                "run %s recorded as stopped (%s); it does not resume", ended.id, STOPPED_WHILE_DOWN
            )


def configure_logging() -> None:
    """One plain line per message on stderr: systemd's journal or the daemon log."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="lapse daemon: %(message)s")
