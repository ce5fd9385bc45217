"""Auto exposure through a dusk on the simulated sky (hw.camera.sky), in fake time.

The camera thread is the product's (UsbCamera) on libgphoto2's virtual camera: its
shutter speeds are set on it and read back, each frame is painted as bright as the
real sun at Greenwich (astral) and the settings make it, downloaded, and measured by
lapse's own meter from the JPEG.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from astral.sun import dusk, sunset

from core.clock import sleep_ns
from core.daemon.sky import AstralSky
from core.fake_clock import FakeClock
from core.model.camera import CameraConfig, FileSaved, FrameFailed, Trigger
from core.model.camera_policy import setting_stops, speed_ns
from core.model.durations import NS_PER_MS, NS_PER_S
from core.model.exposure import (
    MID_GREY,
    ExposureConfig,
    ExposureMode,
    iso_number,
    stops_off,
)
from hw.camera.base import CallError, Session
from hw.camera.sky import PICTURE_BYTES, SkyOpener, SkySession, frame_brightness, scene_stops
from hw.camera.usb_camera import BULB_SLICE_NS, OWED_LOOK_MS, UsbCamera
from hw.camera.virtual import use_virtual_camera, wheel_folder
from tests.camera_faults import shoot
from tests.fake_time import REAL_GUARD_S, script
from tests.raw_files import nef_like
from tests.skies import GREENWICH, GREENWICH_OBSERVER, ns_of

INTERVAL_NS = 30 * NS_PER_S
REAL_S_PER_FRAME = 0.25
"""Real seconds a frame of a run in fake time may take before the run counts as hung."""
CARD_PICTURES = 25
"""Pictures one load of the virtual camera's library takes (its card holds 26)."""
AUTO = ExposureConfig(mode=ExposureMode.AUTO)
BULB_SLICE_S = BULB_SLICE_NS / NS_PER_S
GUARD_NS = 300 * NS_PER_MS
"""No setting is made closer than this before a shutter edge (the README's promise)."""


class ClockedLooks:
    """A session whose looks for news that cannot bring a file take their time on the
    fake clock instead of waiting inside libgphoto2 in real time."""

    def __init__(self, inner: Session, clock: FakeClock) -> None:
        self.inner = inner
        self.clock = clock
        self.model = inner.model
        self.owed = 0
        """Pictures taken whose file has not been looked for yet."""
        self.taken = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def trigger(self) -> None:
        if self.taken == CARD_PICTURES:
            # As the virtual card says once it is full: lapse starts the camera again.
            raise CallError("full", "the camera's card is full")
        self.inner.trigger()
        self.taken += 1
        self.owed += 1

    def new_files(self, timeout_ms: int) -> list[tuple[str, str]]:
        if self.owed:
            # The virtual camera's file is due 100 ms (real) after its trigger: one look
            # that long gets it (with its card full, none comes).
            self.owed = 0
            files = self.inner.new_files(max(timeout_ms, 500))
        else:
            files = self.inner.new_files(0)
        if not files:
            sleep_ns(self.clock, timeout_ms * NS_PER_MS)
        return files


class FreshVirtualCameras:
    """Opens libgphoto2's virtual camera from a new copy of its port library each time.

    The virtual card is full after 26 pictures per loaded library (lapse then starts
    the camera again, as on the simulated rig, where a new worker process is a fresh
    library); a copy from another path loads anew, in this one process."""

    def __init__(self, root: Path, clock: FakeClock) -> None:
        self.root = root
        self.clock = clock
        self.opens = itertools.count()

    def __call__(self) -> Session:
        copy = self.root / f"vusb-{next(self.opens)}"
        shutil.copytree(wheel_folder() / "vusb", copy)
        os.environ["IOLIBS"] = str(copy)
        from hw.camera.session import open_session

        return ClockedLooks(open_session(), self.clock)


def shoot_run(
    camera: UsbCamera,
    clock: FakeClock,
    tmp_path: Path,
    *,
    frames: int,
    interval_ns: int,
    measured: Sequence[tuple[str, float]] = (),
) -> list[object]:
    """Fire a run of ``frames`` on ``camera`` in fake time, end it and close the camera:
    every event the camera reported."""
    events: list[object] = []
    folder = tmp_path / "run"
    folder.mkdir()

    def run() -> None:
        shoot(
            camera, clock, folder, events, frames=frames, interval_ns=interval_ns, measured=measured
        )
        camera.end_run()

    try:
        # Each frame is real work (a capture, a download, two fsyncs, a decode): a dusk's
        # 700 frames took 60 s on this shared machine once its disk was busy.
        script(clock, run, guard_s=REAL_GUARD_S + frames * REAL_S_PER_FRAME)
    finally:
        camera.close()
    return events


def saved_of(events: list[object]) -> list[FileSaved]:
    """The files saved, in frame order."""
    return sorted((e for e in events if isinstance(e, FileSaved)), key=lambda e: e.frame)


@pytest.fixture
def sky_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "virtual-camera"
    use_virtual_camera(folder)
    return folder


def test_a_dusk_keeps_every_frame_from_the_fifth_within_a_third_of_a_stop(
    tmp_path: Path, sky_folder: Path
) -> None:
    day = datetime(2026, 12, 1, tzinfo=UTC).date()
    sun_down = ns_of(sunset(GREENWICH_OBSERVER, day))
    night = ns_of(dusk(GREENWICH_OBSERVER, day, depression=18))  # astronomical
    start_ns, end_ns = sun_down - 2 * 3600 * NS_PER_S, night + 2 * 3600 * NS_PER_S
    frames = (end_ns - start_ns) // INTERVAL_NS
    clock = FakeClock(wall_start_ns=start_ns)
    opener = SkyOpener(FreshVirtualCameras(tmp_path, clock), sky_folder, GREENWICH, clock)
    camera = UsbCamera(
        CameraConfig(trigger=Trigger.USB), opener, clock=clock, virtual=True, exposure=AUTO
    )
    events = shoot_run(camera, clock, tmp_path, frames=frames, interval_ns=INTERVAL_NS)
    saved = saved_of(events)
    assert [e.frame for e in saved] == list(range(frames)), "every frame saved"
    # The sky really went from day to night over the run.
    sky = AstralSky(GREENWICH)
    assert scene_stops(sky.altitude(start_ns)) > 10
    assert scene_stops(sky.altitude(end_ns)) == -5
    settled = saved[4:]
    off = [stops_off(e.brightness, MID_GREY) for e in settled if e.brightness is not None]
    assert len(off) == len(settled), "every frame measured"
    worst = max(off, key=abs)
    assert abs(worst) <= 1 / 3, f"a frame {worst:+.2f} stops off mid-grey"
    assert all(e.exposure is not None for e in saved)
    evs = [ev for e in settled if (ev := setting_stops(e.exposure or "")) is not None]
    assert len(evs) == len(settled), "every frame's setting reads as stops"
    assert max(abs(b - a) for a, b in itertools.pairwise(evs)) <= 1 / 3 + 0.01
    # The limits: no shutter longer than the interval less the margin, ISO in range.
    for e in saved:
        shutter, _, iso = (e.exposure or "").removeprefix("bulb ").partition(" ISO ")
        assert 0 < (speed_ns(shutter) or 0) <= INTERVAL_NS - AUTO.margin_ns
        assert AUTO.iso_min <= (iso_number(iso) or 0) <= AUTO.iso_max
    # From bright day to night the exposure climbed by most of the sky's range, the night
    # in bulb exposures past the virtual camera's longest timed speed (1 s) at low ISO.
    assert evs[-1] - evs[0] > 12
    night = saved[-1].exposure or ""
    assert night.startswith("bulb "), night
    assert (iso_number(night.partition(" ISO ")[2]) or 0) <= 200, night


def test_the_virtual_cameras_shutter_speed_is_set_and_read_back(sky_folder: Path) -> None:
    clock = FakeClock()
    opener = SkyOpener(FreshVirtualCameras(sky_folder.parent, clock), sky_folder, None, clock)
    session = opener()
    try:
        choices = session.shutter_speeds()
        assert "0.1000s" in choices
        session.set_shutter_speed("0.1000s")
        assert isinstance(session, SkySession)
        assert session.inner.exposure()[0] == "0.1000s", "read back from libgphoto2"
        session.set_iso("3200")
        assert session.exposure() == ("0.1000s", "3200")
    finally:
        session.close()


def test_a_painted_frame_is_as_bright_as_the_sky_and_the_settings_make_it(
    sky_folder: Path,
) -> None:
    clock = FakeClock()
    opener = SkyOpener(FreshVirtualCameras(sky_folder.parent, clock), sky_folder, None, clock)
    session = opener()
    try:
        session.set_shutter_speed("0.0001s")
        session.set_iso("250")
        session.trigger()
        (taken,) = session.new_files(2000)
        data = session.download(*taken)
    finally:
        session.close()
    assert len(data) == PICTURE_BYTES
    picture = sky_folder.parent / "taken.jpg"
    picture.write_bytes(data)
    from core.brightness import jpeg_brightness

    expected = frame_brightness(30.0, 0.0001, 250)
    measured = jpeg_brightness(picture)
    assert measured is not None
    assert abs(stops_off(measured, expected)) < 0.05


class RawAndJpeg(ClockedLooks):
    """A camera set to RAW+JPEG whose JPEG takes most of the interval to download (a busy
    USB 2 bus); the RAW comes after it. Notes when each shutter fires and each setting is
    made, on the fake clock, in the order the camera is told."""

    def __init__(self, inner: Session, clock: FakeClock, download_ns: int) -> None:
        super().__init__(inner, clock)
        self.download_ns = download_ns
        self.calls: list[tuple[str, int]] = []
        """("fire" or "set", when)."""

    def trigger(self) -> None:
        self.calls.append(("fire", self.clock.now_ns()))
        super().trigger()

    def new_files(self, timeout_ms: int) -> list[tuple[str, str]]:
        files = super().new_files(timeout_ms)
        return [twin for folder, name in files for twin in ((folder, name), (folder, raw(name)))]

    def download(self, folder: str, name: str) -> bytes:
        if name.endswith(".NEF"):
            return b"a RAW file lapse does not measure"
        data = self.inner.download(folder, name)
        sleep_ns(self.clock, self.download_ns)
        return data

    def delete(self, folder: str, name: str) -> None:
        if not name.endswith(".NEF"):
            self.inner.delete(folder, name)

    def set_shutter_speed(self, speed: str) -> None:
        self.calls.append(("set", self.clock.now_ns()))
        self.inner.set_shutter_speed(speed)


def raw(name: str) -> str:
    return name.rsplit(".", 1)[0] + ".NEF"


def test_a_setting_is_never_made_within_the_guard_before_a_shutter(
    tmp_path: Path, sky_folder: Path
) -> None:
    # Each JPEG's download ends 200 ms before the next shutter, and the frame's RAW still
    # waits: the setting the JPEG leads to waits until that shutter has fired.
    interval_ns = 2 * NS_PER_S
    clock = FakeClock(wall_start_ns=1_800_000_000 * NS_PER_S)
    sessions: list[RawAndJpeg] = []

    cameras = FreshVirtualCameras(tmp_path, clock)

    def open_slow() -> Session:
        fresh = cameras()
        assert isinstance(fresh, ClockedLooks)
        slow = RawAndJpeg(fresh.inner, clock, interval_ns - 200 * NS_PER_MS)
        sessions.append(slow)
        return slow

    opener = SkyOpener(open_slow, sky_folder, None, clock)
    config = CameraConfig(trigger=Trigger.USB)
    camera = UsbCamera(config, opener, clock=clock, virtual=True, exposure=AUTO)
    events = shoot_run(camera, clock, tmp_path, frames=12, interval_ns=interval_ns)
    (session,) = sessions
    saved = [e for e in events if isinstance(e, FileSaved)]
    assert len(saved) == 24, "every frame's RAW and JPEG saved"
    calls = session.calls
    assert calls[0][0] == "set", "the run's start setting, before any shutter"
    changes = [index for index, (what, _) in enumerate(calls[1:], start=1) if what == "set"]
    assert len(changes) >= 3, "auto exposure settled over several frames"
    for index in changes:
        made = calls[index][1]
        following = [when for what, when in calls[index:] if what == "fire"]
        if following:
            room = following[0] - made
            assert room >= GUARD_NS, f"a setting made {room / 1e6:.0f} ms before a shutter"


class RawOnly(ClockedLooks):
    """A camera set to RAW only: each picture comes as a NEF holding the sky's JPEG as its
    preview, as a Nikon's does."""

    def __init__(self, inner: Session, clock: FakeClock) -> None:
        super().__init__(inner, clock)
        self.jpeg_of: dict[str, str] = {}

    def new_files(self, timeout_ms: int) -> list[tuple[str, str]]:
        files = super().new_files(timeout_ms)
        self.jpeg_of.update((raw(name), name) for _, name in files)
        return [(folder, raw(name)) for folder, name in files]

    def download(self, folder: str, name: str) -> bytes:
        return nef_like(self.inner.download(folder, self.jpeg_of[name]))

    def delete(self, folder: str, name: str) -> None:
        self.inner.delete(folder, self.jpeg_of.pop(name))


def test_a_raw_only_run_is_exposed_from_its_previews(tmp_path: Path, sky_folder: Path) -> None:
    clock = FakeClock(wall_start_ns=1_800_000_000 * NS_PER_S)

    cameras = FreshVirtualCameras(tmp_path, clock)

    def open_raw() -> Session:
        fresh = cameras()
        assert isinstance(fresh, ClockedLooks)
        return RawOnly(fresh.inner, clock)

    opener = SkyOpener(open_raw, sky_folder, None, clock)
    config = CameraConfig(trigger=Trigger.USB)
    camera = UsbCamera(config, opener, clock=clock, virtual=True, exposure=AUTO)
    events = shoot_run(camera, clock, tmp_path, frames=10, interval_ns=2 * NS_PER_S)
    saved = saved_of(events)
    assert [e.file[-4:] for e in saved] == [".nef"] * 10
    assert all(e.brightness is not None for e in saved), "each measured from its preview"
    last = saved[-1].brightness
    assert last is not None and abs(stops_off(last, MID_GREY)) <= 1 / 3


def test_a_resumed_run_starts_at_the_setting_its_last_frame_was_taken_at(
    tmp_path: Path, sky_folder: Path
) -> None:
    # The camera was switched off while lapse was down and came back at its own setting;
    # the run's frames before the stop said 1/10000 s at ISO 160 gave mid-grey.
    clock = FakeClock(wall_start_ns=1_800_000_000 * NS_PER_S)
    opener = SkyOpener(FreshVirtualCameras(tmp_path, clock), sky_folder, None, clock)
    camera = UsbCamera(
        CameraConfig(trigger=Trigger.USB), opener, clock=clock, virtual=True, exposure=AUTO
    )
    before = [("0.0001s ISO 160", MID_GREY)] * 12
    events = shoot_run(camera, clock, tmp_path, frames=6, interval_ns=2 * NS_PER_S, measured=before)
    saved = saved_of(events)
    assert [e.exposure for e in saved] == ["0.0001s ISO 160"] * 6, "no settling again"


class BulbRecorder:
    """The simulated body's session, noting on the fake clock when its bulb opens and
    closes and when a setting is made, in the order the camera is told."""

    def __init__(self, inner: SkySession, clock: FakeClock, file_delay_ns: int = 0) -> None:
        self.inner = inner
        self.clock = clock
        self.model = inner.model
        self.file_delay_ns = file_delay_ns
        """How long after its picture a file is told of (a camera slow to write its card:
        into the next frame's exposure)."""
        self._coming: list[tuple[int, tuple[str, str]]] = []
        self.calls: list[tuple[str, int]] = []

    def new_files(self, timeout_ms: int) -> list[tuple[str, str]]:
        now = self.clock.now_ns()
        self._coming += [(now + self.file_delay_ns, f) for f in self.inner.new_files(timeout_ms)]
        ready = [file for due, file in self._coming if due <= self.clock.now_ns()]
        self._coming = [(due, file) for due, file in self._coming if file not in ready]
        return ready

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def bulb(self, open_: bool) -> None:
        self.calls.append(("open" if open_ else "close", self.clock.now_ns()))
        self.inner.bulb(open_)

    def prepare_bulb(self) -> None:
        self.calls.append(("set", self.clock.now_ns()))
        self.inner.prepare_bulb()

    def set_shutter_speed(self, value: str) -> None:
        self.calls.append(("set", self.clock.now_ns()))
        self.inner.set_shutter_speed(value)

    def set_iso(self, value: str) -> None:
        self.calls.append(("set", self.clock.now_ns()))
        self.inner.set_iso(value)


def held_by_the_body(sessions: Sequence[BulbRecorder]) -> list[float]:
    """How long the simulated body held each bulb open, in seconds, in order; no setting
    may be made while one is, and none is left open."""
    calls = [call for session in sessions for call in session.calls]
    held: list[float] = []
    opened_at: int | None = None
    for what, when in calls:
        if what == "open":
            opened_at = when
        elif what == "close":
            assert opened_at is not None
            held.append((when - opened_at) / NS_PER_S)
            opened_at = None
        else:
            assert opened_at is None, "a setting made while the shutter was held open"
    assert opened_at is None, "a bulb left open"
    return held


def night_camera(
    tmp_path: Path,
    sky_folder: Path,
    file_delay_ns: int = 0,
    altitude: Callable[[int], float] | None = None,
) -> tuple[UsbCamera, FakeClock, list[Any]]:
    """The simulated body under a moonless midnight at Greenwich, or a sky whose sun is at
    ``altitude(wall_ns)``; its sessions recorded."""
    midnight = ns_of(datetime(2026, 12, 2, 0, 0, tzinfo=UTC))
    clock = FakeClock(wall_start_ns=midnight)
    sky = SkyOpener(FreshVirtualCameras(tmp_path, clock), sky_folder, GREENWICH, clock)
    sessions: list[BulbRecorder] = []

    def open_recorded() -> Session:
        session = sky()
        if altitude is not None:
            session = SkySession(
                session.inner, sky_folder, altitude=altitude, wall_ns=clock.wall_ns
            )
        sessions.append(BulbRecorder(session, clock, file_delay_ns))
        return sessions[-1]

    camera = UsbCamera(
        CameraConfig(trigger=Trigger.USB), open_recorded, clock=clock, virtual=True, exposure=AUTO
    )
    return camera, clock, sessions


@pytest.mark.parametrize("file_delay_s", [0, 10])
def test_a_night_is_shot_in_bulb_and_no_setting_changes_while_it_is_open(
    tmp_path: Path, sky_folder: Path, file_delay_s: int
) -> None:
    # A dawn come early, its sun rising a tenth of a degree a frame from 19° down: bulbs
    # of 20 s and more that shorten as it brightens. With files told of late, a frame is
    # measured while the next one's bulb is open: its setting waits for it to close.
    midnight = ns_of(datetime(2026, 12, 2, 0, 0, tzinfo=UTC))

    def dawn(wall_ns: int) -> float:
        return -19.0 + 0.1 * (wall_ns - midnight) / INTERVAL_NS

    camera, clock, sessions = night_camera(
        tmp_path, sky_folder, file_delay_s * NS_PER_S, altitude=dawn
    )
    frames = 60
    events = shoot_run(camera, clock, tmp_path, frames=frames, interval_ns=INTERVAL_NS)
    saved = saved_of(events)
    assert [e.frame for e in saved] == list(range(frames)), "every frame saved"
    failed = [e for e in events if isinstance(e, FrameFailed)]
    assert failed == [], "a bulb's file is awaited from its closing, not its opening"
    last = saved[-1]
    assert (last.exposure or "").startswith("bulb "), last.exposure
    assert last.brightness is not None and abs(stops_off(last.brightness, MID_GREY)) <= 1 / 3
    held = held_by_the_body(sessions)
    assert held, "bulb exposures were made"
    settings = [e.exposure for e in saved[4:] if (e.exposure or "").startswith("bulb ")]
    assert len(set(settings)) >= 3, "the bulbs shortened as the sky brightened"
    # Each held as long as its setting said, to the millisecond, and never past the limit.
    bulbs = [e.exposure for e in saved if (e.exposure or "").startswith("bulb ")]
    said = [float((text or "").split()[1].removesuffix("s")) for text in bulbs]
    assert held == pytest.approx(said, abs=0.051)
    assert max(held) <= (INTERVAL_NS - AUTO.margin_ns) / NS_PER_S


def test_a_stop_during_a_bulb_closes_it_at_once(tmp_path: Path, sky_folder: Path) -> None:
    camera, clock, sessions = night_camera(tmp_path, sky_folder)
    events: list[object] = []
    run_folder = tmp_path / "run"
    run_folder.mkdir()

    def shoot_then_stop() -> None:
        shoot(camera, clock, run_folder, events, frames=8, interval_ns=INTERVAL_NS)
        camera.shutter(8, True)
        camera.shutter(8, False)
        sleep_ns(clock, 3 * NS_PER_S)
        camera.end_run()

    try:
        script(clock, shoot_then_stop)
    finally:
        camera.close()
    calls = [call for session in sessions for call in session.calls]
    opens = [when for what, when in calls if what == "open"]
    closes = [when for what, when in calls if what == "close"]
    assert len(opens) == len(closes), "no bulb left open"
    # Taken up within one slice of the wait and one look for files (the thread's jobs
    # wait for neither longer).
    held_s = (closes[-1] - opens[-1]) / NS_PER_S
    assert 3 <= held_s <= 3 + BULB_SLICE_S + OWED_LOOK_MS / 1000, held_s
