"""The USB path end to end: a real daemon, real libgphoto2, its own virtual camera.

``LAPSE_HW=sim`` with ``camera.trigger = "usb"`` gives the daemon the gphoto2
wheel's virtual camera (docs/architecture.md §10): real PTP over the vusb port driver.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image, ImageStat

from core.daemon.engine import WOKE_LATE
from core.journal import RunInfo
from core.model.durations import NS_PER_S, parse_duration
from core.model.exposure import MID_GREY, stops_off
from core.model.protocol import EdgeEvent, StateEvent
from core.model.records import FrameRecord
from core.model.settings import Settings
from hw.camera.sky import steady_day_picture
from tests.conftest import Lapse

SKY = steady_day_picture()
"""What the simulated rig's camera serves with no place and no auto exposure."""


def use_camera(lapse: Lapse, more: str = "", **keys: object) -> None:
    lines = ["[camera]"] + [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    lapse.config.write_text("\n".join(lines) + "\n" + more)


def camera_status(lapse: Lapse) -> dict:
    result = lapse.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["camera"]


def camera_run(
    lapse: Lapse, trigger: str, interval: str, frames: int
) -> tuple[subprocess.CompletedProcess[str], RunInfo, list[FrameRecord]]:
    """A daemon with ``trigger`` and one ``lapse run --wait``: its output, run and frames."""
    use_camera(lapse, trigger=trigger)
    lapse.start_daemon()
    timeout = 60 + frames * parse_duration(interval) / NS_PER_S
    result = lapse.cli(
        "run", "--interval", interval, "--frames", str(frames), "--wait", timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run = lapse.journal.latest_run()
    assert run is not None and run.state == "finished"
    return result, run, lapse.journal.read_frames(run.id)


def taken(records: list[FrameRecord]) -> list[FrameRecord]:
    """The frames the engine fired, each ``ok``. A frame may be missed only because the
    timing thread itself woke over a millisecond late (a shared test machine that stalls
    a virtual CPU: bench/timing.py counts how often); never for the camera's sake."""
    stalled = [r for r in records if r.status == "missed" and r.error == WOKE_LATE]
    fired = [r for r in records if r not in stalled]
    assert [(r.status, r.error) for r in fired] == [("ok", None)] * len(fired)
    assert len(stalled) <= 1, f"{len(stalled)} frames missed: the machine stalled"
    return fired


def test_a_10_frame_usb_run_downloads_10_files_named_in_the_journal(lapse: Lapse) -> None:
    # A real daemon on the real clock: 1 s leaves the camera thread half a second before
    # a trigger counts as stale, room enough on a loaded machine (the exact fault
    # sequences are tests/test_camera_faults.py's, in fake time).
    result, run, records = camera_run(lapse, "usb", "1s", 10)
    records = taken(records)
    names = [r.file for r in records]
    assert all(name is not None for name in names)
    assert len(set(names)) == len(records)
    on_disk = sorted(p.name for p in run.path.iterdir() if p.name.startswith("frame-"))
    assert on_disk == sorted(names)  # type: ignore[type-var]
    for record in records:
        assert record.file is not None and record.file.startswith(f"frame-{record.frame:06d}-")
        # The bytes the virtual camera served: the simulated rig's steady day.
        assert (run.path / record.file).read_bytes() == SKY
    # Each frame's brightness, measured as it was saved: the picture's mean luminance, as
    # a full decode of it says (it has no thumbnail: an eighth-size decode).
    with Image.open(io.BytesIO(SKY)) as sample:
        mean = ImageStat.Stat(sample.convert("L")).mean[0] / 255
    assert all(r.brightness is not None and abs(r.brightness - mean) < 0.02 for r in records)
    log = lapse.cli("log", run.id).stdout
    assert f"  brightness {records[0].brightness:.0%}  frame-000000-" in log, log
    assert not any(p.suffix == ".part" for p in run.path.iterdir())
    # `--wait` says each frame once, when its file is saved, naming it.
    frame_lines = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("frame ") and " missed: " not in line
    ]
    assert [line.split()[1] for line in frame_lines] == [f"{r.frame}/10" for r in records]
    assert all(line.endswith(f"  {name}") for line, name in zip(frame_lines, names, strict=True))


def test_model_and_battery_reach_status_json(lapse: Lapse) -> None:
    use_camera(lapse, trigger="usb")
    lapse.start_daemon()
    camera = lapse.wait_for(
        lambda: (c := camera_status(lapse))["connected"] and c, what="the camera to connect"
    )
    assert camera["model"] == "Nikon DSC D750"  # the virtual camera says it is one
    assert camera["battery"] == "50%"
    assert camera["trigger"] == "usb" and camera["virtual"] is True
    text = lapse.cli("status").stdout
    assert "camera (usb, virtual): Nikon DSC D750, battery 50%" in text


def test_usb_bulb_on_a_camera_without_it_is_refused_clearly(lapse: Lapse) -> None:
    use_camera(lapse, trigger="usb")
    lapse.start_daemon()
    result = lapse.cli("run", "--interval", "10s", "--exposure", "2s")
    assert result.returncode != 0
    assert "cannot time a bulb exposure over USB" in result.stderr
    assert "camera.wired = true" in result.stderr
    assert "Traceback" not in result.stderr
    assert lapse.journal.list_runs() == []  # nothing was started
    assert lapse.cli("status", "--json").returncode == 0


def test_usb_bulb_falls_back_to_the_wired_shutter_line(lapse: Lapse) -> None:
    use_camera(lapse, trigger="usb", wired=True, call_timeout="1s")
    lapse.start_daemon()
    with lapse.client() as client:
        client.subscribe()
        with lapse.client() as starter:
            starter.start(Settings.from_dict({"interval": "1s", "exposure": "300ms", "frames": 2}))
        held: list[EdgeEvent] = []
        for event in client.events(timeout=30):
            if isinstance(event, EdgeEvent) and event.line == "shutter":
                held.append(event)
            if isinstance(event, StateEvent) and event.status.state == "finished":
                break
    # The shutter line was held for the exposure, on the simulated pins.
    opens = [e.at_ns for e in held if e.on]
    closes = [e.at_ns for e in held if not e.on]
    assert len(opens) == len(closes) == 2
    for opened, closed in zip(opens, closes, strict=True):
        assert closed - opened > 290_000_000  # at_ns is stamped after each switch
    assert camera_status(lapse)["bulb"] == "gpio"


def test_no_camera_configured_loads_no_gphoto2(lapse: Lapse) -> None:
    daemon = lapse.start_daemon()
    assert camera_status(lapse) is None
    maps = Path(f"/proc/{daemon.pid}/maps").read_text()
    assert "libgphoto2" not in maps


def camera_workers(daemon_pid: int) -> list[int]:
    """The daemon's children that are camera workers (``python -m hw.camera.worker``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == daemon_pid and b"hw.camera.worker" in argv:
            found.append(int(entry.name))
    return found


def test_libgphoto2_is_loaded_by_a_camera_worker_never_by_the_daemon(lapse: Lapse) -> None:
    use_camera(lapse, trigger="gpio")
    daemon = lapse.start_daemon()
    lapse.wait_for(lambda: camera_status(lapse)["connected"], what="the camera to connect")
    assert "libgphoto2" not in Path(f"/proc/{daemon.pid}/maps").read_text()
    # The worker with the camera, and on the simulated rig the spare started ahead.
    lapse.wait_for(lambda: len(camera_workers(daemon.pid)) == 2, what="the spare worker")

    def loaded() -> bool:
        maps = [Path(f"/proc/{worker}/maps").read_text() for worker in camera_workers(daemon.pid)]
        return all("libgphoto2" in text for text in maps)

    lapse.wait_for(loaded, what="libgphoto2 in the workers")
    assert "libgphoto2" not in Path(f"/proc/{daemon.pid}/maps").read_text()
    for worker in camera_workers(daemon.pid):
        # A worker never competes with the timing thread: it runs at the ordinary policy.
        assert os.sched_getscheduler(worker) == os.SCHED_OTHER


def test_a_daemon_killed_takes_its_camera_worker_with_it(lapse: Lapse) -> None:
    use_camera(lapse, trigger="usb")
    daemon = lapse.start_daemon()
    lapse.wait_for(lambda: len(camera_workers(daemon.pid)) == 2, what="the worker and its spare")
    workers = camera_workers(daemon.pid)
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(10)

    def gone(worker: int) -> bool:
        try:
            stat = Path(f"/proc/{worker}/stat").read_text()
        except OSError:
            return True
        return stat.rpartition(")")[2].split()[0] == "Z"

    # Nothing left holding the camera's USB for the next daemon.
    lapse.wait_for(lambda: all(gone(w) for w in workers), what="the workers to end with it")


def test_the_simulated_shutter_line_reaches_the_virtual_camera(lapse: Lapse) -> None:
    _, run, records = camera_run(lapse, "gpio", "1s", 3)
    assert [r.status for r in records] == ["ok"] * 3
    for record in records:
        assert record.file is not None, record
        assert (run.path / record.file).read_bytes() == SKY


def test_a_usb_run_goes_past_the_virtual_cards_26_pictures(lapse: Lapse) -> None:
    # libgphoto2's virtual camera calls its card full after 26 captures in a process:
    # the simulated rig starts the worker again and the frame is taken.
    frames = 30
    _, run, records = camera_run(lapse, "usb", "500ms", frames)
    fired = taken(records)
    assert sum(r.frame > 26 for r in fired) >= 2  # taken after the worker started again
    on_disk = [p for p in run.path.iterdir() if p.name.startswith("frame-")]
    assert len(on_disk) == len(fired)
    assert camera_status(lapse)["fault"] is None


def test_the_shutter_speed_is_one_of_the_cameras_own(lapse: Lapse) -> None:
    use_camera(lapse, trigger="usb", shutter_speed="1/125")
    lapse.start_daemon()
    refused = lapse.cli("run", "--interval", "1s")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert 'camera.shutter_speed "1/125" is not one of this camera' in refused.stderr
    assert "0.0200s" in refused.stderr  # the choices it does have are listed
    assert lapse.journal.list_runs() == []


def test_a_shutter_speed_longer_than_the_interval_is_refused(lapse: Lapse) -> None:
    use_camera(lapse, trigger="usb", shutter_speed="1.0000s")
    lapse.start_daemon()
    refused = lapse.cli("run", "--interval", "500ms")
    assert "does not fit in the interval" in refused.stderr
    started = lapse.cli("run", "--interval", "2s", "--frames", "2", "--wait", timeout=60)
    assert started.returncode == 0, started.stderr
    assert camera_status(lapse)["shutter_speed"] == "1.0000s"  # read back from the camera
    run = lapse.journal.latest_run()
    assert run is not None
    assert all(r.status == "ok" and r.file for r in lapse.journal.read_frames(run.id))


def test_when_no_camera_answers_it_says_so_plainly(lapse: Lapse) -> None:
    # A real USB camera on this machine's simulated rig: there is none to find.
    use_camera(lapse, trigger="usb")
    lapse.env["LAPSE_CAMERA"] = "usb"
    lapse.start_daemon()
    camera = lapse.wait_for(lambda: (c := camera_status(lapse))["fault"] and c, what="a fault")
    assert camera["connected"] is False
    assert camera["fault"].startswith("no camera answers over USB: check the cable")
    assert "not connected (no camera answers over USB" in lapse.cli("status").stdout
    refused = lapse.cli("run", "--interval", "1s")
    assert refused.returncode != 0 and "no camera answers over USB" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert lapse.journal.list_runs() == []


def test_a_bad_lapse_camera_is_one_line(lapse: Lapse) -> None:
    use_camera(lapse, trigger="usb")
    lapse.env["LAPSE_CAMERA"] = "webcam"
    result = lapse.cli("daemon", timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "lapse: LAPSE_CAMERA must be usb or virtual, not 'webcam'"
    )


def test_output_puts_the_photos_in_another_folder_and_the_journal_names_it(
    lapse: Lapse,
) -> None:
    use_camera(lapse, trigger="usb")
    lapse.start_daemon()
    # Relative to the shell's folder, as a photographer types it; the daemon is told it
    # absolute.
    result = lapse.cli(
        "run", "--interval", "1s", "--frames", "3", "--output", "sunset/day1", "--wait", timeout=90
    )
    assert result.returncode == 0, result.stdout + result.stderr
    photos = lapse.root / "sunset" / "day1"
    run = lapse.journal.latest_run()
    assert run is not None and run.output == str(photos)
    assert f"output = {json.dumps(str(photos))}" in run.run_file.read_text()
    names = [r.file for r in lapse.journal.read_frames(run.id)]
    assert sorted(p.name for p in photos.iterdir()) == sorted(names)  # type: ignore[type-var]
    assert not any(p.name.startswith("frame-") for p in run.path.iterdir())
    assert f"Photos: {photos}  journal: {run.path}" in result.stdout.splitlines()[1]
    assert f"Photos: {photos}  journal: {run.path}" in lapse.cli("status").stdout
    assert f"  folder: {run.path}  photos: {photos}" in lapse.cli("log", "latest").stdout


def test_an_output_folder_that_cannot_be_written_is_refused_before_the_run(
    lapse: Lapse,
) -> None:
    use_camera(lapse, trigger="usb")
    lapse.start_daemon()
    blocker = lapse.root / "a-file"
    blocker.write_text("")
    refused = lapse.cli("run", "--interval", "1s", "--output", str(blocker / "photos"))
    assert refused.returncode == 1
    assert refused.stderr == f"lapse: cannot save photos in {blocker}/photos: Not a directory\n"
    assert lapse.journal.list_runs() == []
    # A run without one says where its photos and journal are.
    started = lapse.cli("run", "--interval", "1s", "--frames", "1")
    run = lapse.journal.latest_run()
    assert run is not None and run.output is None
    assert started.stdout.splitlines()[1] == f"Photos and journal: {run.path}"


def test_a_run_asks_for_its_own_trigger_and_shutter_speed(lapse: Lapse) -> None:
    use_camera(lapse, trigger="gpio")
    lapse.start_daemon()
    refused = lapse.cli("run", "--interval", "1s", "--shutter-speed", "1/125")
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "lapse: the run's shutter speed \"1/125\" is not one of this camera's (Nikon DSC D750)"
    ), refused.stderr
    assert lapse.journal.list_runs() == [], "nothing was started"
    result = lapse.cli(
        "run", "--interval", "1s", "--frames", "2", "--trigger", "usb",
        "--shutter-speed", "0.0200s", "--wait", timeout=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Also: trigger usb, shutter speed 0.0200s" in result.stdout.splitlines()
    camera = camera_status(lapse)
    assert (camera["trigger"], camera["shutter_speed"]) == ("usb", "0.0200s")
    run = lapse.journal.latest_run()
    assert run is not None
    assert 'trigger = "usb"' in run.run_file.read_text()
    assert all(r.status == "ok" and r.file for r in lapse.journal.read_frames(run.id))


def test_auto_exposure_on_the_simulated_sky_journals_each_frames_setting(lapse: Lapse) -> None:
    # A place where it is midnight now, on the real clock: at a twilight the camera's own
    # setting may already give mid-grey and nothing would move (this failed at sunrise in
    # London). Auto exposure settles on mid-grey and each frame's line says the setting.
    now = datetime.now(UTC)
    midnight_longitude = (-(now.hour + now.minute / 60) * 15 + 180) % 360 - 180
    place = f"[place]\nlatitude = 0.0\nlongitude = {midnight_longitude:.2f}\n"
    use_camera(lapse, place, trigger="usb")
    lapse.start_daemon()
    result = lapse.cli(
        "run", "--interval", "2s", "--frames", "8", "--auto-exposure", "--wait", timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "auto exposure" in result.stdout
    run = lapse.journal.latest_run()
    assert run is not None and run.state == "finished"
    assert run.camera.auto_exposure is True, "the run's choice is kept for a resume"
    records = lapse.journal.read_frames(run.id)
    assert [r.status for r in records] == ["ok"] * 8
    assert all(r.exposure for r in records), records
    assert len({r.exposure for r in records}) > 1, "the exposure moved from the camera's own"
    last = records[-1]
    assert last.brightness is not None
    assert abs(stops_off(last.brightness, MID_GREY)) <= 1 / 3
    log = lapse.cli("log", run.id).stdout
    assert f"  at {last.exposure}  brightness {last.brightness:.0%}  frame-000007-" in log, log
    status = lapse.cli("status").stdout
    assert f"auto exposure {last.exposure}" in status, status


def test_auto_exposure_with_a_fixed_shutter_speed_is_refused_in_one_line(lapse: Lapse) -> None:
    use_camera(lapse, trigger="usb", shutter_speed="0.0100s")
    lapse.start_daemon()
    result = lapse.cli("run", "--interval", "2s", "--auto-exposure")
    assert result.returncode != 0
    assert "auto exposure chooses the shutter speed itself: drop camera.shutter_speed" in (
        result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
