"""A fault-injecting wrapper around libgphoto2's virtual camera, in fake time.

The virtual camera is real libgphoto2 (PTP over the wheel's vusb driver); it
cannot be made to hang, report busy or vanish on demand, so this wrapper does
that around it, keyed on the frame the camera thread is working on.

Everything runs on a :class:`FakeClock`: the camera thread, its I/O thread
and the wrapper's hangs wait on it, so a call that hangs for 30 s costs no
real time and every test sees the same order of events on every run. A
look for new files that finds none takes its timeout on the clock, as it
would on a real camera.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gphoto2 as gp

from core.clock import Event, sleep_ns
from core.fake_clock import FakeClock
from core.model.camera import CameraConfig, CameraEvent
from core.model.durations import NS_PER_MS
from core.model.settings import Settings
from hw.camera.base import CallError, Session
from hw.camera.session import call_error
from hw.camera.usb_camera import UsbCamera
from hw.camera.virtual import use_virtual_camera, wheel_folder
from tests.fake_time import REAL_GUARD_S


@dataclass
class World:
    """What the camera does, frame by frame; the test sets it up, the wrapper obeys."""

    clock: FakeClock = field(default_factory=FakeClock)
    """The time everything here runs on."""
    frame: int | None = None
    """The frame the camera thread is on (set as it takes each shutter)."""
    gone: Callable[[int | None], bool] = lambda frame: False
    hang_trigger_at: int | None = None
    card_full_from: int | None = None
    """From this frame on, the card has no room: every trigger fails as libgphoto2's
    GP_ERROR_NO_SPACE does (a real card; the virtual one fills per process)."""
    hang_download_at: int | None = None
    refuse_download_at: int | None = None
    """The file of this frame cannot be read from the camera (deleted on the card)."""
    hang_s: float = 30.0
    busy_answers: dict[int, int] = field(default_factory=dict)
    """Frame → how many times its trigger is answered "busy" first."""
    rename: Callable[[str], str] | None = None
    late_files: Callable[[int | None], bool] = lambda frame: False
    """While true for the frame the camera thread is on, new files are held back and handed
    over at a later look (a camera slow to save: files come after the next trigger)."""
    raw_and_jpeg: bool = False
    """Each shot is two files of one stem, a RAW and then the virtual camera's JPEG."""
    triggers: list[tuple[int | None, int]] = field(default_factory=list)
    """(frame, the clock's ns) of every trigger call that reached the camera."""
    deleted: list[str] = field(default_factory=list)
    """The names of the files deleted from the camera's card, in order."""
    opens: int = 0
    opened_at: list[int] = field(default_factory=list)
    """The clock's ns at each attempt to open the camera."""
    asleep: Callable[[int | None], bool] = lambda frame: False
    """While true for the frame the camera thread is on, the camera answers over USB but
    takes no picture (a body asleep, or one the shutter line does not reach)."""
    release: Event = field(init=False)
    """Set at the end of a test to let a hung call return."""
    wakes: list[int] = field(default_factory=list)
    """The clock's ns at each of the camera thread's wake-ups (see :class:`WatchedCamera`)."""
    usb_bulb: bool = False
    """The camera holds its shutter open over USB (a bulb control and a Bulb speed); its
    picture comes once the shutter closes, as a real camera's does."""
    bulb_calls: list[tuple[int | None, bool, int]] = field(default_factory=list)
    """(frame, opening, the clock's ns) of every bulb call that reached the camera."""
    battery_ns: int = 0
    """How long reading the battery takes (a real camera's settings: up to half a second)."""
    looks: list[tuple[int | None, int, int]] = field(default_factory=list)
    """(frame, the clock's ns, timeout in ms) of every look for new files."""
    download_gate: threading.Event | None = None
    """When given, every download waits (in real time) until it is set: the camera is
    busy sending the file, and fake time stands still meanwhile."""
    at_download_gate: threading.Event = field(default_factory=threading.Event)
    """Set once a download waits at :attr:`download_gate`."""

    def __post_init__(self) -> None:
        self.release = self.clock.event()

    def check(self) -> None:
        if self.gone(self.frame):
            raise CallError("gone", "the camera stopped answering (cable pulled)")

    def hang(self) -> None:
        self.release.wait(self.hang_s)


class FaultySession:
    """A :class:`Session` that passes through to the virtual camera, with faults."""

    def __init__(self, inner: Session, world: World) -> None:
        self.inner = inner
        self.world = world
        self.model = inner.model
        self._real_names: dict[str, str] = {}
        self._held: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def checked(*args: Any) -> Any:
            self.world.check()
            return method(*args)

        return checked

    def trigger(self) -> None:
        world = self.world
        world.check()
        if world.frame == world.hang_trigger_at:
            world.hang()
        if world.card_full_from is not None and (world.frame or 0) >= world.card_full_from:
            world.triggers.append((world.frame, world.clock.now_ns()))
            raise call_error(gp.GPhoto2Error(gp.GP_ERROR_NO_SPACE), "triggering the shutter")
        left = world.busy_answers.get(world.frame, 0) if world.frame is not None else 0
        if left:
            world.busy_answers[world.frame] = left - 1  # type: ignore[index]
            world.triggers.append((world.frame, world.clock.now_ns()))
            raise CallError("busy", "the camera was busy while triggering the shutter")
        world.triggers.append((world.frame, world.clock.now_ns()))
        if not world.asleep(world.frame):
            self.inner.trigger()

    def battery(self) -> str | None:
        self.world.check()
        sleep_ns(self.world.clock, self.world.battery_ns)
        return self.inner.battery()

    def usb_bulb(self) -> str | None:
        self.world.check()
        return "bulb" if self.world.usb_bulb else self.inner.usb_bulb()

    def prepare_bulb(self) -> None:
        self.world.check()
        if not self.world.usb_bulb:
            self.inner.prepare_bulb()

    def bulb(self, open_: bool) -> None:
        world = self.world
        world.check()
        if not world.usb_bulb:
            self.inner.bulb(open_)
            return
        world.bulb_calls.append((world.frame, open_, world.clock.now_ns()))
        if not open_:
            self.inner.trigger()  # the picture is taken when the exposure ends

    def new_files(self, timeout_ms: int) -> list[tuple[str, str]]:
        self.world.check()
        world = self.world
        world.looks.append((world.frame, world.clock.now_ns(), timeout_ms))
        self._held += self.inner.new_files(timeout_ms)
        files: list[tuple[str, str]] = []
        if not world.late_files(world.frame):
            files, self._held = self._held, []
        if not files:
            # libgphoto2 waited for an event that did not come: that wait takes time.
            sleep_ns(world.clock, timeout_ms * NS_PER_MS)
        shown_files = []
        for folder, name in files:
            if world.raw_and_jpeg:
                raw = name.rpartition(".")[0] + ".nef"
                self._real_names[raw] = name  # the RAW is fetched as the JPEG's bytes
                shown_files.append((folder, raw))
            shown_files.append((folder, name))
        rename = world.rename
        if rename is None:
            return shown_files
        renamed = []
        for folder, name in shown_files:
            shown = rename(name)
            self._real_names[shown] = self._real_names.get(name, name)
            renamed.append((folder, shown))
        return renamed

    def download(self, folder: str, name: str) -> bytes:
        world = self.world
        world.check()
        if world.frame == world.hang_download_at:
            world.hang()
        if world.download_gate is not None:
            world.at_download_gate.set()
            assert world.download_gate.wait(REAL_GUARD_S), "the test never let the file come"
        if world.frame == world.refuse_download_at:
            raise CallError("unsupported", f"the camera cannot do this: downloading {name!r}")
        # A renamed file is still fetched under the virtual camera's own name.
        return self.inner.download(folder, self._real_names.get(name, name))

    def delete(self, folder: str, name: str) -> None:
        self.world.check()
        if self.world.raw_and_jpeg and name.endswith(".nef"):
            return  # a stand-in RAW: its bytes are the JPEG's, which goes on its own turn
        self.inner.delete(folder, self._real_names.get(name, name))
        self.world.deleted.append(name)

    def close(self) -> None:
        self.inner.close()


SPIN_WAKES = 100
"""Wake-ups at one instant of fake time that betray a thread that never waits."""


class WatchedCamera(UsbCamera):
    """The real camera thread, telling the world which frame it is working on and when it
    wakes up."""

    def __init__(self, world: World, *args: Any, **kwargs: Any) -> None:
        self.world = world
        super().__init__(*args, **kwargs)

    def _wait_s(self) -> float | None:
        wait = super()._wait_s()
        wakes = self.world.wakes
        wakes.append(self.world.clock.now_ns())
        if len(wakes) > SPIN_WAKES and wakes[-SPIN_WAKES] == wakes[-1]:
            # A spin: fake time stands still while this thread never blocks. Let it
            # move, so the test ends and counts the wake-ups instead of hanging.
            return 0.01
        return wait

    def _shutter(self, job: Any) -> None:
        if job.on:
            self.world.frame = job.frame
        super()._shutter(job)


def fresh_virtual_camera(folder: Path) -> None:
    """Point libgphoto2 at a virtual camera of its own, with an empty card.

    The virtual camera counts its captures in a variable of its port library
    and declares its card full after 26 per process; a fresh copy of that
    library (loaded anew from another path) starts again from zero, so every
    test, and every repeat of it in one process, gets the whole card.
    """
    use_virtual_camera(folder)
    port_library = folder.parent / f"{folder.name}-vusb"
    shutil.copytree(wheel_folder() / "vusb", port_library, dirs_exist_ok=True)
    os.environ["IOLIBS"] = str(port_library)


def faulty_camera(world: World, config: CameraConfig, folder: Path, **kwargs: Any) -> WatchedCamera:
    """A camera thread on a fresh virtual camera (serving JPEGs from ``folder``), with
    faults, on the world's clock."""
    fresh_virtual_camera(folder)
    from hw.camera.session import open_session

    def open_faulty() -> Session:
        world.opens += 1
        world.opened_at.append(world.clock.now_ns())
        world.check()
        return FaultySession(open_session(), world)

    kwargs.setdefault("virtual", True)
    return WatchedCamera(world, config, open_faulty, clock=world.clock, **kwargs)


def events_of(kind: type, events: list[CameraEvent]) -> list[Any]:
    return [event for event in events if isinstance(event, kind)]


def shoot(
    camera: UsbCamera,
    clock: FakeClock,
    folder: Path,
    events: list[Any],
    *,
    frames: int,
    interval_ns: int,
    measured: Sequence[tuple[str, float]] = (),
) -> None:
    """Prepare a run into ``folder`` (a resumed one's with its ``measured`` frames) and
    fire frames 0..frames−1 as the engine would, one shutter press and release every
    ``interval_ns`` on ``clock``; call it from a thread taking part in that clock
    (:func:`script`)."""
    camera.prepare(Settings(interval_ns=interval_ns), measured=measured)
    camera.begin_run(folder, events.append)
    for frame in range(frames):
        camera.shutter(frame, True)
        camera.shutter(frame, False)
        sleep_ns(clock, interval_ns)
