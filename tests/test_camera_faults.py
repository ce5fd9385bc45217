"""Camera faults cost frames, never the run or a GPIO edge (docs/architecture.md §9).

The whole daemon side runs in this process: the real RunController and
engine on the simulated rig (gpiozero mock pins), the real camera thread on
libgphoto2's virtual camera, and a wrapper that makes that camera hang,
answer "busy" or vanish at a chosen frame. All of it runs on one fake clock
(tests/camera_faults.py), so a 30 s hang takes no real time, every slot's
shutter is stamped exactly at its due time, and each run of a test sees
the same events in the same order.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.daemon.controller import RunController
from core.journal import Journal
from core.model.camera import NO_CHOICE, CameraConfig, FileSaved
from core.model.durations import NS_PER_MS, NS_PER_S
from core.model.hardware import HardwareConfig
from core.model.protocol import CameraEvent, EdgeEvent, RunCamera
from core.model.records import FrameRecord
from core.model.run_state import RunState
from core.model.settings import Settings
from hw.camera.usb_camera import (
    FILE_EVENT_MS,
    FRAME_QUIET_NS,
    OWED_LOOK_MS,
    QUIET_LOOK_NS,
    TRIGGER_GUARD_NS,
)
from hw.sim import make_sim_rig
from tests.camera_faults import World, faulty_camera
from tests.fake_time import REAL_GUARD_S, E, Published, script

INTERVAL_NS = 400 * NS_PER_MS


class Rig:
    """One in-process daemon: controller, simulated rig, camera, journal, published events."""

    def __init__(self, tmp_path: Path, world: World, config: CameraConfig, **camera: Any) -> None:
        self.world = world
        self.clock = world.clock
        self.sim = make_sim_rig(HardwareConfig())
        # The virtual camera takes its picture when the simulated shutter line opens: the
        # camera thread does it, as the product wires it (no opto link to fake here).
        self.rig = self.sim
        self.camera = faulty_camera(world, config, tmp_path / "virtual-camera", **camera)
        self.journal = Journal(tmp_path / "state")
        # These runs end only by finishing: a stop would be a failure, not an end.
        self.published = Published(self.clock, ends=(RunState.FINISHED,))
        self.controller = RunController(
            self.rig, self.clock, self.journal, self.published, camera=self.camera
        )

    def run(
        self, frames: int, exposure_ns: int | None = None, camera: RunCamera = NO_CHOICE
    ) -> tuple[str, list[FrameRecord]]:
        settings = Settings(interval_ns=INTERVAL_NS, frames=frames, exposure_ns=exposure_ns)
        self.published.clear()
        # Time waits for this thread while it starts the run, then runs on without it.
        with self.clock.taking_part():
            status = self.controller.start(settings, camera=camera)
        self.published.wait_for_end()
        assert status.run is not None
        return status.run.id, self.journal.read_frames(status.run.id)

    def events(self, kind: type[E]) -> list[E]:
        return self.published.of(kind)

    def close(self) -> None:
        self.world.release.set()
        self.camera.close()
        self.sim.close()


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Any]:
    made: list[Rig] = []

    def make(world: World, config: CameraConfig, **camera: Any) -> Rig:
        made.append(Rig(tmp_path, world, config, **camera))
        return made[-1]

    yield make
    for rig in made:
        rig.close()


def usb(**changes: Any) -> CameraConfig:
    return CameraConfig(trigger="usb", call_timeout_ns=1 * NS_PER_S, **changes)


def assert_on_the_grid(records: list[FrameRecord], frames: int) -> None:
    """Every slot was reached by the engine, exactly on time (fake time), in order."""
    assert [r.frame for r in records] == list(range(frames))
    for record in records:
        if record.status == "missed":
            continue
        assert record.fired_ns == record.due_ns, record


def test_a_usb_run_downloads_every_frame(make_rig: Any) -> None:
    rig = make_rig(World(), usb())
    run_id, records = rig.run(6)
    assert_on_the_grid(records, 6)
    assert [r.status for r in records] == ["ok"] * 6
    folder = rig.journal.get_run(run_id).path
    for record in records:
        assert record.file is not None and record.file.startswith(f"frame-{record.frame:06d}-")
        assert (folder / record.file).read_bytes()[:2] == b"\xff\xd8"
    assert [frame for frame, _ in rig.world.triggers] == list(range(6))


def test_work_that_can_wait_waits_while_a_frame_is_taken_and_no_longer(tmp_path: Path) -> None:
    """From a shutter's opening until its file is saved the camera asks the daemon's other
    work to wait (a millisecond at a time), for at most FRAME_QUIET_NS."""
    gate = threading.Event()
    world = World(download_gate=gate)
    clock = world.clock
    camera = faulty_camera(world, CameraConfig(trigger="usb"), tmp_path / "virtual")
    run = tmp_path / "run"
    run.mkdir()
    events: list[Any] = []
    left: dict[str, int] = {}

    def steps() -> None:
        camera.prepare(Settings(interval_ns=NS_PER_S))
        camera.begin_run(run, events.append)
        left["before the shutter"] = camera.quiet_left_ns(clock.now_ns())
        opened = clock.now_ns()
        camera.shutter(0, True)
        assert world.at_download_gate.wait(REAL_GUARD_S)
        # The file is on its way; fake time stands still while this thread is busy.
        left["downloading"] = camera.quiet_left_ns(clock.now_ns())
        left["near the bound"] = camera.quiet_left_ns(opened + FRAME_QUIET_NS - 300_000)
        left["past the bound"] = camera.quiet_left_ns(opened + FRAME_QUIET_NS)
        gate.set()
        deadline = time.monotonic() + REAL_GUARD_S
        while camera.quiet_left_ns(opened) and time.monotonic() < deadline:
            time.sleep(0.001)
        left["saved"] = camera.quiet_left_ns(opened)
        camera.shutter(0, False)
        camera.end_run()

    try:
        script(clock, steps)
    finally:
        gate.set()
        camera.close()
    assert left == {
        "before the shutter": 0,
        "downloading": QUIET_LOOK_NS,
        "near the bound": 300_000,
        "past the bound": 0,
        "saved": 0,
    }
    assert [event.frame for event in events if isinstance(event, FileSaved)] == [0]


@pytest.mark.parametrize("gone", [(), (1, 2)], ids=["present", "back-at-frame-3"])
def test_a_usb_bulb_closes_on_time_while_its_file_is_awaited(
    make_rig: Any, gone: tuple[int, ...]
) -> None:
    # The file of a bulb frame is owed from the opening, and the camera thread looks for it
    # in waits inside libgphoto2 (each as long as it waits when nothing comes); it reads
    # the battery (at connecting, in a run's first frame, and after finding the camera
    # back). None may delay the opening or run into the closing, which no other wire times.
    exposure_ns = 105 * NS_PER_MS
    world = World(usb_bulb=True, battery_ns=200 * NS_PER_MS, gone=lambda frame: frame in gone)
    rig = make_rig(world, usb())
    _run_id, records = rig.run(5, exposure_ns=exposure_ns)
    assert_on_the_grid(records, 5)
    taken = [r for r in records if r.frame not in gone]
    assert [r.status for r in taken] == ["ok"] * len(taken)
    assert all(r.file for r in taken)
    opened = {frame: at for frame, opening, at in world.bulb_calls if opening}
    closed = {frame: at for frame, opening, at in world.bulb_calls if not opening}
    assert [opened[r.frame] for r in taken] == [r.due_ns for r in taken]
    assert [closed[r.frame] - opened[r.frame] for r in taken] == [exposure_ns] * len(taken)


@pytest.mark.parametrize("keep", [False, True])
def test_each_file_leaves_the_card_once_it_is_on_disk_unless_kept(
    make_rig: Any, keep: bool
) -> None:
    world = World()
    rig = make_rig(world, usb(keep_on_camera=keep))
    run_id, records = rig.run(4)
    folder = rig.journal.get_run(run_id).path
    on_disk = [record.file for record in records]
    assert all(name and (folder / name).is_file() for name in on_disk)
    if keep:
        assert world.deleted == []
    else:
        # The camera's own names, each deleted after its frame's file was whole on disk.
        assert len(world.deleted) == 4
        for record, deleted in zip(records, world.deleted, strict=True):
            assert record.file is not None and record.file.endswith(f"-{deleted[:-4]}.jpg")


def test_a_trigger_that_hangs_30s_delays_no_frame_and_ends_nothing(make_rig: Any) -> None:
    world = World(hang_trigger_at=2, hang_s=30.0)
    rig = make_rig(world, usb())
    started = world.clock.now_ns()
    run_id, records = rig.run(8)
    assert rig.published.ended_ns is not None
    took = (rig.published.ended_ns - started) / NS_PER_S
    # The engine reached every slot on time, and the run ended long before the hang did.
    assert_on_the_grid(records, 8)
    assert took < 15, f"the run waited for the hung camera ({took:.1f}s)"
    # Frame 2's trigger hung: it fails at the call's bound (1 s). Frame 3 came while the
    # camera thread waited that out: too stale to fire. From frame 4 the camera is still
    # stuck, and each frame is refused at once. Each says why; none has a file.
    assert [r.status for r in records] == ["ok", "ok", "error", "missed"] + ["error"] * 4
    assert "did not answer within 1s" in (records[2].error or "")
    assert "still busy with an earlier call" in (records[3].error or "")
    assert all("has not answered for" in (r.error or "") for r in records[4:])
    assert all(r.file is None for r in records[2:])
    # The GPIO lines kept their rhythm: a focus edge for every frame, on pins.
    focus_on = [e for e in rig.events(EdgeEvent) if e.line == "focus" and e.on]
    assert [e.frame for e in focus_on] == list(range(8))
    assert rig.journal.get_run(run_id).state == "finished"


def test_a_download_that_hangs_leaves_the_gpio_shutter_on_time(make_rig: Any) -> None:
    world = World(hang_download_at=1, hang_s=30.0)
    rig = make_rig(world, CameraConfig(trigger="gpio", call_timeout_ns=1 * NS_PER_S))
    _run_id, records = rig.run(8)
    assert_on_the_grid(records, 8)
    # The opto line fired every frame, on the grid.
    shutter = [e for e in rig.events(EdgeEvent) if e.line == "shutter" and e.on]
    assert [e.frame for e in shutter] == list(range(8))
    pin = rig.sim.pin_factory.pin(21)
    assert sum(1 for _, level in pin.states if level) >= 8
    # Frame 0's file came over USB. Frame 1's download hung: its file stays on the
    # card, and its line says where. The camera is out until that call returns, so
    # the later frames get no file, and each says so.
    assert records[0].file is not None and records[0].file.startswith("frame-000000-")
    assert records[1].status == "ok"
    assert records[1].file is not None and records[1].file.startswith("card:"), records[1]
    assert [r.status for r in records[2:]] == ["error"] * 6
    assert all("no file came from the camera" in (r.error or "") for r in records[2:])
    assert "did not answer within 1s" in " ".join(m.message for m in rig.events(CameraEvent))


def test_gpio_mode_downloads_what_the_line_fired(make_rig: Any) -> None:
    rig = make_rig(World(), CameraConfig(trigger="gpio"))
    _run_id, records = rig.run(5)
    assert [r.status for r in records] == ["ok"] * 5
    assert [r.file is not None and r.file.startswith(f"frame-{r.frame:06d}-") for r in records] == [
        True
    ] * 5


def test_a_run_may_ask_for_its_own_trigger_and_speed_and_the_next_has_the_configs(
    make_rig: Any,
) -> None:
    rig = make_rig(World(), CameraConfig(trigger="gpio", call_timeout_ns=1 * NS_PER_S))
    line = rig.sim.pin_factory.pin(21)
    asked = RunCamera(trigger="usb", shutter_speed="0.0200s")
    run_id, records = rig.run(3, camera=asked)
    assert [r.status for r in records] == ["ok"] * 3 and all(r.file for r in records)
    assert not any(level for _, level in line.states), "over USB: the line never fired"
    assert [frame for frame, _ in rig.world.triggers] == [0, 1, 2]
    shown = rig.camera.status()
    assert (shown.trigger, shown.shutter_speed) == ("usb", "0.0200s")
    assert rig.journal.get_run(run_id).camera == asked, "run.toml keeps it for a resume"
    # The next run asks nothing: the config's gpio again, the line fires the shutter.
    _run_id, records = rig.run(3)
    assert [r.status for r in records] == ["ok"] * 3
    assert sum(1 for _, level in line.states if level) >= 3
    assert rig.camera.status().trigger == "gpio"


def test_a_frame_whose_file_never_comes_says_so_and_the_end_does_not_wait_for_it(
    make_rig: Any,
) -> None:
    # The line fires every frame, but from frame 2 the camera takes no picture.
    world = World(asleep=lambda frame: frame is not None and frame >= 2)
    rig = make_rig(world, CameraConfig(trigger="gpio", call_timeout_ns=10 * NS_PER_S))
    _run_id, records = rig.run(6)
    assert_on_the_grid(records, 6)
    assert [r.status for r in records] == ["ok", "ok"] + ["error"] * 4
    assert all(r.file for r in records[:2])
    wait = "no file came from the camera within 2s"  # 400 ms frames: the 2 s floor
    assert all(wait in (r.error or "") and r.file is None for r in records[2:]), records
    # The end of the run waits for the last frame's file no longer than any frame does.
    assert rig.published.ended_ns is not None
    waited = rig.published.ended_ns - records[-1].due_ns
    assert waited <= 2 * NS_PER_S + INTERVAL_NS, f"{waited / NS_PER_S:.1f}s"


def test_a_full_card_is_said_once_with_the_fix_and_each_frame_says_why(
    make_rig: Any,
) -> None:
    # A real camera (not the simulated rig's): its card is not emptied behind its back.
    world = World(card_full_from=2)
    rig = make_rig(world, usb(), virtual=False)
    _run_id, records = rig.run(6)
    assert_on_the_grid(records, 6)
    assert [r.status for r in records] == ["ok", "ok"] + ["error"] * 4
    assert all("the camera's card is full" in (r.error or "") for r in records[2:])
    faults = [m.message for m in rig.events(CameraEvent) if m.fault]
    assert len([m for m in faults if "card is full" in m]) == 1, faults
    assert "keep_on_camera" in faults[0]  # the fix, in the same line
    assert world.opens == 1, "a full card is not a lost camera: no reopening"


def test_busy_is_retried_and_the_frame_is_taken(make_rig: Any) -> None:
    world = World(busy_answers={1: 2, 3: 1})
    rig = make_rig(world, usb())
    _run_id, records = rig.run(5)
    assert [r.status for r in records] == ["ok"] * 5
    assert all(r.file for r in records)
    attempts = [frame for frame, _ in world.triggers]
    assert attempts == [0, 1, 1, 1, 2, 3, 3, 4]


def test_a_camera_that_vanishes_for_5_frames_and_returns(make_rig: Any) -> None:
    # Reading its battery takes time, as a real camera's settings do.
    world = World(
        gone=lambda frame: frame is not None and 3 <= frame <= 7, battery_ns=150 * NS_PER_MS
    )
    rig = make_rig(world, usb())
    run_id, records = rig.run(12)
    assert_on_the_grid(records, 12)
    statuses = [r.status for r in records]
    assert statuses == ["ok"] * 3 + ["error"] * 5 + ["ok"] * 4
    # The frame that finds it back is taken on time: its battery is read after the trigger.
    triggers = dict(world.triggers)
    assert [triggers[r.frame] for r in records if r.status == "ok"] == [
        r.due_ns for r in records if r.status == "ok"
    ]
    for record in records:
        if record.status == "ok":
            assert record.file is not None, record
        else:
            assert record.file is None
            assert "camera" in (record.error or "") or "cable" in (record.error or ""), record
    # The UI was told when it went and when it came back, in that order.
    news = [(m.fault, m.message) for m in rig.events(CameraEvent)]
    gone_at = next(i for i, (fault, _) in enumerate(news) if fault)
    back_at = next(i for i, (fault, m) in enumerate(news) if not fault and "back" in m)
    assert gone_at < back_at
    assert rig.journal.get_run(run_id).state == "finished"
    assert rig.controller.status().fault is None


def test_a_camera_gone_for_good_wakes_its_thread_once_a_frame_not_in_a_spin(
    make_rig: Any,
) -> None:
    # Gone from frame 3 to the end of a 40-frame run (16 s: longer than the idle look's
    # 5 s, after which the thread once had nothing left to wait for).
    frames = 40
    world = World(gone=lambda frame: frame is not None and frame >= 3)
    rig = make_rig(world, usb())
    _run_id, records = rig.run(frames)
    assert_on_the_grid(records, frames)
    assert [r.status for r in records] == ["ok"] * 3 + ["error"] * (frames - 3)
    gone_from = records[3].due_ns
    ended = records[-1].due_ns + INTERVAL_NS
    wakes = [at for at in world.wakes if gone_from <= at <= ended]
    # Per frame: the press, the look for files it asks for, the release; no more.
    assert len(wakes) <= 3 * (frames - 3) + 3, f"{len(wakes)} wake-ups in {frames - 3} frames"
    tries = [at for at in world.opened_at if gone_from <= at <= ended]
    assert len(tries) <= frames - 3, "one attempt to open the camera per frame, at most"


def test_a_look_for_an_owed_file_spans_the_time_to_the_next_trigger(make_rig: Any) -> None:
    # libgphoto2's wait returns the moment the camera's news comes, so the look for a
    # frame's file is one long wait (seen at once, no round trips), up to half the room
    # before the next trigger: a wait that finds nothing can take twice its timeout.
    world = World()
    rig = make_rig(world, usb())
    _run_id, records = rig.run(4)
    assert [r.status for r in records] == ["ok"] * 4
    due = [r.due_ns for r in records]
    for frame in range(3):
        looks = [(at, ms) for _f, at, ms in world.looks if due[frame] <= at < due[frame + 1]]
        at, ms = looks[0]
        room_ms = (due[frame + 1] - at - TRIGGER_GUARD_NS) // NS_PER_MS
        assert ms == min(OWED_LOOK_MS, room_ms // 2) > FILE_EVENT_MS, (frame, looks)
        for at, ms in looks:
            assert at + 2 * ms * NS_PER_MS <= due[frame + 1] - TRIGGER_GUARD_NS
        # Once the file is in, looks are short again: jobs for the thread wait for them.
        assert len(looks) > 1 and all(ms <= FILE_EVENT_MS for _at, ms in looks[1:]), looks


def test_a_file_the_camera_will_not_hand_over_is_left_and_the_rest_come(make_rig: Any) -> None:
    rig = make_rig(World(refuse_download_at=1), usb())
    _run_id, records = rig.run(4)
    assert [r.status for r in records] == ["ok"] * 4  # the frame was taken; its file is on the card
    assert [r.file is not None for r in records] == [True, False, True, True]
    news = " ".join(m.message for m in rig.events(CameraEvent))
    assert "frame 1's file stays on the camera" in news


def shots_by_frame(folder: Path) -> dict[int, list[str]]:
    """Frame → the names its files had on the camera (``GPH_0101.jpg``), from the run folder."""
    shots: dict[int, list[str]] = {}
    for path in sorted(folder.glob("frame-*")):
        match = re.fullmatch(r"frame-(\d{6})-(.+)", path.name)
        assert match, path.name
        shots.setdefault(int(match[1]), []).append(match[2])
    return shots


def test_files_that_come_after_the_next_trigger_go_to_their_own_frames(make_rig: Any) -> None:
    # The camera is slow to save frames 1 and 2: their files (a RAW and a JPEG each) come
    # only after frame 3's trigger. Each file still lands as its own frame's, and the
    # looks for them never hold up a trigger.
    world = World(late_files=lambda frame: frame in (1, 2), raw_and_jpeg=True)
    rig = make_rig(world, usb())
    run_id, records = rig.run(5)
    assert_on_the_grid(records, 5)
    assert [r.status for r in records] == ["ok"] * 5
    shots = shots_by_frame(rig.journal.get_run(run_id).path)
    assert sorted(shots) == list(range(5))
    numbers = []
    for frame, names in shots.items():
        # One shot per frame: its RAW and its JPEG, of one stem.
        stems = {name.rpartition(".")[0] for name in names}
        assert len(stems) == 1 and sorted(n.rpartition(".")[2] for n in names) == ["jpg", "nef"]
        numbers.append(int(stems.pop().rpartition("_")[2]))
        assert records[frame].file == f"frame-{frame:06d}-{names[0].rpartition('.')[0]}.jpg"
    assert numbers == sorted(numbers), f"later frames, later shots: {numbers}"
    # Every trigger reached the camera at its slot: no look ran into one.
    assert world.triggers == [(r.frame, r.due_ns) for r in records]


def test_a_trigger_taken_more_than_half_an_interval_late_is_missed_not_fired(
    make_rig: Any,
) -> None:
    # Frame 2's trigger is answered "busy" four times: the retries (0.05 + 0.1 + 0.2 +
    # 0.4 s) take the camera thread 0.75 s past frame 2's slot. Frame 3's trigger, waiting
    # meanwhile, is then 0.35 s late: more than half the 0.4 s interval, so it is logged
    # missed rather than fired on the heels of frame 2's.
    world = World(busy_answers={2: 4})
    rig = make_rig(world, usb())
    _run_id, records = rig.run(6)
    assert_on_the_grid(records, 6)
    assert [r.status for r in records] == ["ok", "ok", "ok", "missed", "ok", "ok"]
    assert "still busy with an earlier call" in (records[3].error or "")
    assert [frame for frame, _ in world.triggers] == [0, 1, 2, 2, 2, 2, 2, 4, 5]


def test_a_camera_that_hangs_for_a_while_is_used_again_once_it_answers(make_rig: Any) -> None:
    # Frame 2's trigger hangs for 1.9 s against a 1.1 s bound. The frames the camera is
    # stuck for cost frames; once the hung call has returned, the camera is opened again
    # and the run's later frames are taken, with their files.
    world = World(hang_trigger_at=2, hang_s=1.9)
    config = CameraConfig(trigger="usb", call_timeout_ns=1_100 * NS_PER_MS)
    rig = make_rig(world, config)
    _run_id, records = rig.run(12)
    assert_on_the_grid(records, 12)
    statuses = [r.status for r in records]
    assert statuses[:2] == ["ok", "ok"] and "ok" not in statuses[2:7], statuses
    assert statuses[7:] == ["ok"] * 5, statuses
    assert all(r.file is not None for r in records[7:])
    assert world.opens >= 2, "the camera was opened again"
    assert rig.controller.status().fault is None
