"""Bulb on the wired line: auto exposure's night frames held open by the shutter line.

With ``trigger = "gpio"`` the camera is fired by the opto line, and a camera set to
Bulb keeps its shutter open as long as the line holds it. Auto exposure chooses each
frame's setting on the camera's thread; the engine asks for it as the frame is armed
(``Camera.line_hold_ns``) and holds the shutter and focus lines that long, on the grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.clock import sleep_ns
from core.daemon.engine import ARM_LEAD_NS, Engine
from core.fake_clock import FakeClock
from core.model.camera import CameraConfig, Trigger
from core.model.durations import NS_PER_S
from core.model.errors import PlanError
from core.model.exposure import MID_GREY, stops_off
from core.model.plan import (
    SAVE_TIME_NS,
    Line,
    held_open,
    longest_exposure_ns,
    longest_hold_ns,
    make_plan,
)
from core.model.protocol import EdgeEvent
from core.model.records import FrameRecord
from core.model.scheduler import Grid, Scheduler
from core.model.settings import Settings
from hw.camera.sky import SkyOpener, SkySession
from hw.camera.usb_camera import UsbCamera
from tests.fake_time import Daemon, script
from tests.rigs import RecordingRig
from tests.skies import GREENWICH, ns_of
from tests.test_sky_exposure import (
    AUTO,
    BulbRecorder,
    FreshVirtualCameras,
    held_by_the_body,
    sky_folder,  # noqa: F401 (a fixture)
)

S = NS_PER_S
INTERVAL_NS = 30 * S


def off_at(plan_edges: tuple, line: Line) -> int:
    (edge,) = [e for e in plan_edges if e.line is line and not e.on]
    return edge.offset_ns


@pytest.mark.parametrize(
    ("interval_s", "power"), [(30, False), (30, True), (120, True)], ids=["no power", "kept", "off"]
)
def test_a_plan_held_open_releases_shutter_and_focus_at_the_hold(
    interval_s: int, power: bool
) -> None:
    interval = interval_s * S
    settings = Settings(interval_ns=interval, power=power)
    plan = make_plan(settings)
    hold = longest_hold_ns(settings)
    held = held_open(plan, hold)
    assert held.bulb and held.release_ns == hold
    assert off_at(held.edges, Line.SHUTTER) == off_at(held.edges, Line.FOCUS) == hold
    assert [e for e in held.edges if e.on] == [e for e in plan.edges if e.on], "openings stay"
    offsets = [edge.offset_ns for edge in held.edges]
    assert offsets == sorted(offsets)
    assert held.span_ns <= interval, "the longest hold still fits the interval"
    if power and not plan.power_stays_on:
        save = SAVE_TIME_NS * min(interval, 60 * S) // (60 * S)
        power_off = off_at(held.edges, Line.POWER)
        assert power_off == hold + save, "the frame is saved before the camera goes off"
        assert interval + held.edges[0].offset_ns - power_off == settings.min_power_off_ns
    elif power:
        assert held.power_off_ns == plan.power_off_ns, "power kept on as the plan keeps it"
    # Within what a fixed bulb may be.
    assert hold <= longest_exposure_ns(settings)
    make_plan(replace(settings, exposure_ns=longest_exposure_ns(settings)))
    with pytest.raises(PlanError):
        make_plan(replace(settings, exposure_ns=longest_exposure_ns(settings) + 1))


class HoldingCamera:
    """A camera on the wired line asking for a hold per frame, as auto exposure's bulb
    does; it notes when each was asked."""

    trigger = "gpio"
    drives_shutter_line = True

    def __init__(self, clock: FakeClock, holds: list[int | None]) -> None:
        self.clock = clock
        self.holds = holds
        self.asked: list[int] = []
        self.edges: list[tuple[int, int, bool]] = []

    def line_hold_ns(self) -> int | None:
        self.asked.append(self.clock.now_ns())
        return self.holds[len(self.asked) - 1]

    def shutter(self, frame: int, on: bool) -> None:
        self.edges.append((self.clock.now_ns(), frame, on))


def test_the_engine_holds_the_line_as_long_as_the_camera_asks_as_the_frame_is_armed() -> None:
    clock = FakeClock()
    rig = RecordingRig(clock)
    interval = 120 * S  # camera power goes off between frames
    settings = Settings(interval_ns=interval, power=True, frames=4)
    plan = make_plan(settings)
    assert not plan.power_stays_on
    anchor = clock.now_ns() + 20 * S
    grid = Grid(anchor, interval)
    holds = [None, 7 * S, longest_hold_ns(settings), None]
    camera = HoldingCamera(clock, holds)
    engine = Engine(rig, clock, Scheduler(plan, grid, frames=4), lambda _: None, camera=camera)  # type: ignore[arg-type]
    engine.run()
    assert camera.asked == [grid.due_ns(k) - ARM_LEAD_NS for k in range(4)], "asked at arming"
    assert rig.openings() == [grid.due_ns(k) for k in range(4)], "the grid holds"
    for frame, hold in enumerate(holds):
        due = grid.due_ns(frame)
        span = [
            (t - due, what, on)
            for t, what, on in rig.calls
            if -14 * S <= t - due < interval - 14 * S
        ]
        release = plan.release_ns if hold is None else hold
        assert (release, "shutter", False) in span, (frame, span)
        assert (release, "focus", False) in span, (frame, span)
        (power_off,) = [t for t, what, on in span if what == "power" and on is False]
        assert power_off == max(plan.power_off_ns or 0, release + SAVE_TIME_NS)
        # Every step before the opening is the plan's own.
        before = [(t, what, on) for t, what, on in span if t < 0 and what != "led"]
        assert before == [(e.offset_ns, e.line.value, True) for e in plan.edges if e.offset_ns < 0]
    # The camera hears the shutter's release when the line lets go.
    closes = [t for t, _, on in camera.edges if not on]
    assert closes[1] - grid.due_ns(1) == 7 * S


class NoUsbBulb(BulbRecorder):
    """A body with a Bulb speed that cannot be held open over USB (many can't): only the
    wired line can time its bulbs."""

    def usb_bulb(self) -> str | None:
        return None


MIDNIGHT = ns_of(datetime(2026, 12, 2, 0, 0, tzinfo=UTC))


def on_the_line(
    tmp_path: Path, folder: Path, altitude: Callable[[int], float], file_delay_s: int = 0
) -> tuple[UsbCamera, Daemon, list[BulbRecorder]]:
    """The simulated rig's daemon in fake time from midnight, its camera on the wired line
    under a sky whose sun is at ``altitude(wall_ns)``, with auto exposure; the sessions
    of the simulated body, recorded."""
    clock = FakeClock(wall_start_ns=MIDNIGHT)
    sky = SkyOpener(FreshVirtualCameras(tmp_path, clock), folder, GREENWICH, clock)
    sessions: list[BulbRecorder] = []

    def open_recorded() -> BulbRecorder:
        inner = sky().inner
        session = SkySession(inner, folder, altitude=altitude, wall_ns=clock.wall_ns)
        sessions.append(NoUsbBulb(session, clock, file_delay_s * S))
        return sessions[-1]

    camera = UsbCamera(
        CameraConfig(trigger=Trigger.GPIO), open_recorded, clock=clock, virtual=True, exposure=AUTO
    )
    return camera, Daemon(tmp_path / "state", clock, camera=camera), sessions


@pytest.mark.parametrize(
    ("power", "file_delay_s"), [(False, 0), (True, 10)], ids=["plain", "power, late files"]
)
def test_a_night_on_the_wired_line_is_shot_in_bulbs_held_by_the_engine(
    tmp_path: Path,
    sky_folder: Path,  # noqa: F811 (the fixture)
    power: bool,
    file_delay_s: int,
) -> None:
    # A dawn come early over the simulated rig, its sun rising a tenth of a degree a frame
    # from 19° down: the virtual camera's longest timed speed (1 s) is far too short, so
    # the night is shot in bulbs, each held by the engine on the shutter line. With
    # camera power the longest is shorter (the camera wakes and saves within the frame);
    # with files told of late, a frame is measured while the next one's bulb is held:
    # its setting waits for the line to let go.
    def dawn(wall_ns: int) -> float:
        return -19.0 + 0.1 * (wall_ns - MIDNIGHT) / INTERVAL_NS

    camera, daemon, sessions = on_the_line(tmp_path, sky_folder, dawn, file_delay_s)
    frames = 30
    settings = Settings(interval_ns=INTERVAL_NS, frames=frames, power=power)
    try:
        run_id = daemon.start(settings).run.id
        daemon.published.wait_for_end()
        records = daemon.journal.read_frames(run_id)
    finally:
        daemon.close()
        camera.close()
    assert [(r.frame, r.status) for r in records] == [(k, "ok") for k in range(frames)]
    assert all(r.file for r in records), [r.error for r in records if not r.file]
    edges = daemon.published.of(EdgeEvent)
    opened = {e.frame: e.at_ns for e in edges if e.line == "shutter" and e.on}
    released = {e.frame: e.at_ns for e in edges if e.line == "shutter" and not e.on}
    line_held = [(released[k] - opened[k]) / S for k in range(frames)]
    said = [r.exposure or "" for r in records]
    bulbs = [k for k in range(frames) if said[k].startswith("bulb ")]
    assert len(bulbs) >= frames - 4, said
    assert len({said[k] for k in bulbs}) >= 3, "the bulbs shortened as the sky brightened"
    for k in bulbs:
        seconds = float(said[k].split()[1].removesuffix("s"))
        assert line_held[k] == pytest.approx(seconds, abs=0.051), (k, said[k])
    longest = (INTERVAL_NS - AUTO.margin_ns) / S
    assert max(line_held) <= min(longest, longest_hold_ns(settings) / S)
    # The simulated body took each picture as the line let go, as long as it was held.
    assert held_by_the_body(sessions) == pytest.approx([line_held[k] for k in bulbs], abs=0.051)
    last = records[-1]
    assert last.brightness is not None
    assert abs(stops_off(last.brightness, MID_GREY)) <= 1 / 3, last


def test_a_held_frame_keeps_camera_power_on_when_the_plan_does() -> None:
    clock = FakeClock()
    rig = RecordingRig(clock)
    settings = Settings(interval_ns=INTERVAL_NS, power=True, frames=3)
    plan = make_plan(settings)
    assert plan.power_stays_on
    grid = Grid(clock.now_ns() + 20 * S, INTERVAL_NS)
    hold = longest_hold_ns(settings)
    camera = HoldingCamera(clock, [hold] * 3)
    engine = Engine(rig, clock, Scheduler(plan, grid, frames=3), lambda _: None, camera=camera)  # type: ignore[arg-type]
    engine.run()
    shutter_held = [
        t - grid.due_ns(k)
        for k, t in enumerate(t for t, what, on in rig.calls if what == "shutter" and on is False)
    ]
    assert shutter_held == [hold] * 3
    power_offs = [t for t, what, on in rig.calls if what == "power" and on is False]
    assert power_offs == [grid.due_ns(2) + (plan.power_off_ns or 0)], "off once, after the last"


def test_a_stop_while_the_line_holds_a_bulb_lets_go_and_keeps_the_frame(
    tmp_path: Path,
    sky_folder: Path,  # noqa: F811 (the fixture)
) -> None:
    camera, daemon, sessions = on_the_line(tmp_path, sky_folder, lambda _: -19.0)
    clock = daemon.clock

    def stop_in_a_bulb() -> None:
        run_id = daemon.controller.start(Settings(interval_ns=INTERVAL_NS)).run.id
        edges = daemon.published.of
        while not [e for e in edges(EdgeEvent) if e.frame == 6 and e.line == "shutter" and e.on]:
            sleep_ns(clock, S)
        sleep_ns(clock, 5 * S)
        daemon.controller.stop()
        records.extend(daemon.journal.read_frames(run_id))

    records: list[FrameRecord] = []
    try:
        script(clock, stop_in_a_bulb)
    finally:
        daemon.close()
        camera.close()
    assert records[-1].frame == 6 and records[-1].status == "ok"
    assert records[-1].file and (records[-1].exposure or "").startswith("bulb "), records[-1]
    held = held_by_the_body(sessions)
    assert 5 <= held[-1] <= 7, "let go as the stop released the line"


def test_on_the_wired_line_the_shutter_switches_before_the_camera_hears_of_it() -> None:
    # Handing the camera an edge wakes its thread, which then wants the GIL: the line,
    # which is the shutter, is switched first (measured: the edge's p99 with the camera
    # at work went from 1.1 and 2.5 ms to 0.34 and 0.37 ms).
    clock = FakeClock()
    rig = RecordingRig(clock)
    heard: list[tuple[object, ...]] = []

    class LineCamera(HoldingCamera):
        def shutter(self, frame: int, on: bool) -> None:
            heard.append((rig.calls[-1][1:], on))

    settings = Settings(interval_ns=INTERVAL_NS, frames=3)
    grid = Grid(clock.now_ns() + 10 * S, INTERVAL_NS)
    camera = LineCamera(clock, [None] * 3)
    scheduler = Scheduler(make_plan(settings), grid, frames=3)
    Engine(rig, clock, scheduler, lambda _: None, camera=camera).run()  # type: ignore[arg-type]
    assert heard == [(("shutter", on), on) for _ in range(3) for on in (True, False)]
