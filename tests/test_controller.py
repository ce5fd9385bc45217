"""The run controller on its own: the real RunController, journal and engine on the
simulated rig, in fake time (core.fake_clock), with a stand-in camera where one is needed.

- A run walks idle → starting → waiting → running → its end, and each state is
  published in that order; a daemon shutting down leaves its run interrupted and
  the journal active, for the next daemon to resume.
- A camera that cannot be readied refuses the start and leaves the state as it was.
- One run at a time: a start while one is starting or going is refused, naming it;
  a stop or an update with no run is refused.
- The plan goes out once per run, before any state that names the run.
- ``status`` tells the next shutter while the run goes, and its counts, last frame and
  fault after; with an outlook, the battery is the model's, drained by the run.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from core.daemon.outlook import Outlook
from core.fake_clock import FakeClock
from core.model.battery import BatteryModel, battery_status
from core.model.camera import NO_CHOICE, CameraChanged, Report
from core.model.durations import MINUTE_NS, NS_PER_S, wall_iso
from core.model.errors import CameraError, LapseError, PlanError
from core.model.plan import make_plan
from core.model.protocol import (
    CameraStatus,
    Counts,
    Event,
    PlanEvent,
    RunCamera,
    StateEvent,
    Status,
)
from core.model.run_state import RunState
from core.model.settings import Settings
from tests.fake_time import REAL_GUARD_S, Daemon, Published, script

EVERY_SECOND = Settings(interval_ns=NS_PER_S)
"""A run until stopped: at anchor + 2.5 s frames 0, 1 and 2 have fired."""
THREE_FRAMES = Settings(interval_ns=NS_PER_S, frames=3)

STARTING, WAITING, RUNNING = RunState.STARTING, RunState.WAITING, RunState.RUNNING


class StandInCamera:
    """A USB camera that answers at once, refuses to get ready when told to, and can
    report news at a chosen frame's shutter (as the camera thread would)."""

    trigger = "gpio"
    drives_shutter_line = True

    def __init__(self) -> None:
        self.refusals: list[CameraError] = []
        """Errors the next prepares raise, one each."""
        self.held: threading.Event | None = None
        """While set up, prepare waits (in real time) until this is set."""
        self.preparing = threading.Event()
        self.news: dict[int, CameraChanged] = {}
        """Frame → what the camera says as that frame's shutter opens."""
        self.report: Report | None = None
        self.changed: Callable[[], None] | None = None

    def prepare(
        self,
        settings: Settings,
        choice: RunCamera = NO_CHOICE,
        measured: Sequence[tuple[str, float]] = (),
    ) -> None:
        self.prepared_with = choice
        self.measured_before = list(measured)
        self.preparing.set()
        if self.held is not None:
            assert self.held.wait(REAL_GUARD_S), "the test never let the camera get ready"
        if self.refusals:
            raise self.refusals.pop(0)

    def begin_run(self, folder: Path, report: Report) -> None:
        self.report = report

    def shutter(self, frame: int, on: bool) -> None:
        if on and frame in self.news and self.report is not None:
            self.report(self.news[frame])

    def end_run(self) -> None:
        self.report = None

    def status(self) -> CameraStatus:
        return CameraStatus(trigger="gpio", connected=True)

    def quiet_left_ns(self, now_ns: int) -> int:
        return 0

    def line_hold_ns(self) -> int | None:
        return None

    def watch(self, changed: Callable[[], None]) -> None:
        self.changed = changed

    def close(self) -> None:
        pass


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_daemon(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., Daemon]]:
    made: list[Daemon] = []

    def make(**options: Any) -> Daemon:
        made.append(Daemon(tmp_path / "state", clock, **options))
        return made[-1]

    yield make
    for daemon in made:
        daemon.close()


def running_for(clock: FakeClock, status: Status, ns: int) -> None:
    """Let the run go on until ``ns`` after its frame 0's shutter (from a thread taking part)."""
    assert status.run is not None
    clock.wait_until(status.run.anchor_ns + ns)


# -- states -----------------------------------------------------------------------------------
def test_a_stopped_run_walks_through_its_states_in_order(
    make_daemon: Callable[..., Daemon], clock: FakeClock
) -> None:
    daemon = make_daemon()
    controller = daemon.controller
    assert controller.status().state is RunState.IDLE
    seen: dict[str, RunState] = {}

    def steps() -> None:
        started = controller.start(EVERY_SECOND)
        seen["started"] = controller.status().state
        running_for(clock, started, 2 * NS_PER_S + NS_PER_S // 2)
        seen["firing"] = controller.status().state
        seen["stopped"] = controller.stop().state

    script(clock, steps)
    assert seen == {"started": WAITING, "firing": RUNNING, "stopped": RunState.STOPPED}
    assert daemon.states() == [STARTING, WAITING, RUNNING, RunState.STOPPED]
    (run,) = daemon.journal.list_runs()
    assert run.state == "stopped"


def test_a_run_with_a_frame_count_ends_finished(make_daemon: Callable[..., Daemon]) -> None:
    daemon = make_daemon()
    run_id = daemon.start(THREE_FRAMES).run.id
    daemon.published.wait_for_end()
    assert daemon.states() == [STARTING, WAITING, RUNNING, RunState.FINISHED]
    assert daemon.controller.status().state is RunState.FINISHED
    assert daemon.journal.get_run(run_id).state == "finished"


def test_a_daemon_shutting_down_leaves_its_run_interrupted_and_active(
    make_daemon: Callable[..., Daemon], clock: FakeClock
) -> None:
    daemon = make_daemon()

    def steps() -> None:
        started = daemon.controller.start(EVERY_SECOND)
        running_for(clock, started, 2 * NS_PER_S + NS_PER_S // 2)
        daemon.controller.shutdown()

    script(clock, steps)
    assert daemon.controller.status().state is RunState.INTERRUPTED
    assert daemon.states() == [STARTING, WAITING, RUNNING, RunState.INTERRUPTED]
    active = daemon.journal.active_run()
    assert active is not None and active.state == "active" and active.ended is None
    status = daemon.controller.status()
    assert status.run is not None and status.run.id == active.id
    assert status.run.counts.ok == 3


# -- a camera that cannot be readied ----------------------------------------------------------
def test_a_camera_that_cannot_get_ready_refuses_the_start_and_changes_nothing(
    make_daemon: Callable[..., Daemon],
) -> None:
    camera = StandInCamera()
    camera.refusals.append(CameraError("no camera answers on USB; is it on and plugged in?"))
    daemon = make_daemon(camera=camera)
    with pytest.raises(CameraError, match=r"^no camera answers on USB; is it on and plugged in\?$"):
        daemon.start(THREE_FRAMES)
    assert daemon.controller.status().state is RunState.IDLE
    assert daemon.states() == [STARTING, RunState.IDLE]
    status = daemon.controller.status()
    assert (status.state, status.run) == (RunState.IDLE, None)
    assert daemon.journal.list_runs() == [], "no run folder for a run that never began"
    assert daemon.published.of(PlanEvent) == []
    # The photographer plugs the camera in and tries again.
    daemon.start(THREE_FRAMES)
    daemon.published.wait_for_end()
    assert daemon.states()[-4:] == [STARTING, WAITING, RUNNING, RunState.FINISHED]


def test_after_a_refused_start_the_last_run_is_shown_as_it_ended(
    make_daemon: Callable[..., Daemon], clock: FakeClock
) -> None:
    camera = StandInCamera()
    daemon = make_daemon(camera=camera, published=Published(clock, ends=()))
    controller = daemon.controller

    def steps() -> None:
        started = controller.start(EVERY_SECOND)
        running_for(clock, started, NS_PER_S + NS_PER_S // 2)
        controller.stop()

    script(clock, steps)
    before = controller.status()
    camera.refusals.append(CameraError("the camera's card is full"))
    with pytest.raises(CameraError, match="card is full"):
        daemon.start(EVERY_SECOND)
    assert controller.status().state is RunState.STOPPED
    assert daemon.states()[-3:] == [RunState.STOPPED, STARTING, RunState.STOPPED]
    starting = daemon.published.of(StateEvent)[-2].status
    assert (starting.state, starting.run) == (STARTING, None), "not drawn from the last run"
    after = controller.status()
    assert (after.state, after.run, after.fault) == (before.state, before.run, before.fault)
    assert len(daemon.journal.list_runs()) == 1
    assert daemon.start(EVERY_SECOND).state is WAITING


# -- one run at a time ------------------------------------------------------------------------
def test_a_start_while_one_is_being_started_is_refused(
    make_daemon: Callable[..., Daemon],
) -> None:
    camera = StandInCamera()
    camera.held = threading.Event()
    daemon = make_daemon(camera=camera)
    first: list[Status] = []
    starting = threading.Thread(target=lambda: first.append(daemon.controller.start(THREE_FRAMES)))
    starting.start()
    try:
        assert camera.preparing.wait(REAL_GUARD_S)
        assert daemon.controller.status().state is STARTING
        with pytest.raises(LapseError) as refused:
            daemon.controller.start(EVERY_SECOND)
        assert str(refused.value) == "a run is being started; wait a moment and ask again"
        with pytest.raises(LapseError) as stop_refused:
            daemon.controller.stop()
        assert str(stop_refused.value) == "a run is being started; stop it once it has started"
    finally:
        camera.held.set()
        starting.join(REAL_GUARD_S)
    assert first and first[0].state is WAITING, "the first start went on regardless"
    daemon.published.wait_for_end()
    assert len(daemon.journal.list_runs()) == 1


def test_a_start_while_a_run_goes_is_refused_naming_the_run(
    make_daemon: Callable[..., Daemon], clock: FakeClock
) -> None:
    daemon = make_daemon()
    controller = daemon.controller
    refusals: dict[RunState, str] = {}

    def refused_start() -> None:
        with pytest.raises(LapseError) as refused:
            controller.start(Settings(interval_ns=MINUTE_NS))
        refusals[controller.status().state] = str(refused.value)

    def steps() -> None:
        started = controller.start(EVERY_SECOND.with_changes(delay_ns=5 * NS_PER_S))
        refused_start()
        running_for(clock, started, NS_PER_S // 2)
        refused_start()
        controller.stop()

    script(clock, steps)
    (run,) = daemon.journal.list_runs()
    said = f"a run is already going (run {run.id}, every 1s); stop it first with `lapse stop`"
    assert refusals == {WAITING: said, RUNNING: said}
    assert len(daemon.published.of(PlanEvent)) == 1
    assert run.settings == EVERY_SECOND.with_changes(delay_ns=5 * NS_PER_S)


def test_a_stop_with_no_run_is_refused(make_daemon: Callable[..., Daemon]) -> None:
    daemon = make_daemon()
    with pytest.raises(LapseError, match=r"^no run is going$"):
        daemon.controller.stop()
    daemon.start(THREE_FRAMES)
    daemon.published.wait_for_end()
    with pytest.raises(LapseError, match=r"^no run is going$"):
        daemon.controller.stop()
    assert daemon.controller.status().state is RunState.FINISHED


def test_an_update_with_no_run_is_refused(make_daemon: Callable[..., Daemon]) -> None:
    daemon = make_daemon()
    said = r"^no run is going; settings are given with start$"
    with pytest.raises(LapseError, match=said):
        daemon.controller.update(500)
    run_id = daemon.start(THREE_FRAMES).run.id
    daemon.published.wait_for_end()
    with pytest.raises(LapseError, match=said):
        daemon.controller.update(500)
    assert daemon.journal.get_run(run_id).settings.frames == 3


# -- the plan ---------------------------------------------------------------------------------
def first_state_naming(events: list[Event], run_id: str) -> int:
    return next(
        index
        for index, event in enumerate(events)
        if isinstance(event, StateEvent)
        and event.status.run is not None
        and event.status.run.id == run_id
    )


def test_the_plan_goes_out_once_per_run_before_any_state_that_names_the_run(
    make_daemon: Callable[..., Daemon], clock: FakeClock, tmp_path: Path
) -> None:
    daemon = make_daemon(published=Published(clock, ends=()))
    controller = daemon.controller
    runs: list[tuple[str, Settings]] = []
    plans_while_going: list[PlanEvent | None] = []

    def steps() -> None:
        first = controller.start(THREE_FRAMES)
        runs.append((first.run.id, THREE_FRAMES))
        plans_while_going.append(controller.subscribed().plan)
        clock.wait_until(first.run.anchor_ns + 10 * NS_PER_S)  # long finished
        powered = Settings(interval_ns=MINUTE_NS, power=True)
        second = controller.start(powered)
        runs.append((second.run.id, powered))
        running_for(clock, second, MINUTE_NS)
        plans_while_going.append(controller.subscribed().plan)
        controller.shutdown()

    script(clock, steps)
    # The next daemon takes the interrupted run up again: its plan goes out once more.
    resumed = make_daemon(published=Published(clock, ends=()))
    with clock.taking_part():
        assert resumed.controller.resume() is not None
        plans_while_going.append(resumed.controller.subscribed().plan)
        resumed.controller.shutdown()
    for published, (run_id, settings) in [
        (daemon.published, runs[0]),
        (daemon.published, runs[1]),
        (resumed.published, runs[1]),
    ]:
        events = published.events
        plans = [event for event in events if isinstance(event, PlanEvent) and event.run == run_id]
        assert plans == [PlanEvent(run_id, make_plan(settings))]
        assert events.index(plans[0]) < first_state_naming(events, run_id)
    assert plans_while_going == [PlanEvent(run_id, make_plan(s)) for run_id, s in runs + runs[1:]]


def test_subscribers_get_the_plan_only_while_a_run_goes(
    make_daemon: Callable[..., Daemon],
) -> None:
    daemon = make_daemon()
    idle = daemon.controller.subscribed()
    assert (idle.status.state, idle.plan) == (RunState.IDLE, None)
    daemon.start(THREE_FRAMES)
    daemon.published.wait_for_end()
    ended = daemon.controller.subscribed()
    assert (ended.status.state, ended.plan) == (RunState.FINISHED, None)
    assert ended.status.run is not None


class CameraTellingOfItsNews(StandInCamera):
    """A camera whose thread has news the moment a run begins: its battery reading, a
    reconnection, downloads that were paused by the last run and are no longer."""

    def begin_run(self, folder: Path, report: Report) -> None:
        super().begin_run(folder, report)
        assert self.changed is not None
        threading.Thread(target=self.changed, name="camera", daemon=True).start()


class PlanTakesAMoment(Published):
    """Publishing a plan takes as long as the camera's news needs to go out: the order in
    which two threads' events leave is up to the scheduler, and this is one of its orders."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock, ends=())
        self._named: dict[str, threading.Event] = {}

    def _run_named(self, run_id: str) -> threading.Event:
        return self._named.setdefault(run_id, threading.Event())

    def __call__(self, event: Event) -> None:
        if isinstance(event, PlanEvent):
            self._run_named(event.run).wait(2.0)
        super().__call__(event)
        if isinstance(event, StateEvent) and event.status.run is not None:
            self._run_named(event.status.run.id).set()


def test_the_plan_goes_out_before_the_cameras_news_of_the_new_run(
    make_daemon: Callable[..., Daemon], clock: FakeClock
) -> None:
    daemon = make_daemon(camera=CameraTellingOfItsNews(), published=PlanTakesAMoment(clock))
    run_id = daemon.start(EVERY_SECOND).run.id
    events = daemon.published.events
    (plan,) = daemon.published.of(PlanEvent)
    assert events.index(plan) < first_state_naming(events, run_id)


# -- status -----------------------------------------------------------------------------------
def test_status_names_the_next_shutter_while_the_run_goes_and_the_counts_after(
    make_daemon: Callable[..., Daemon], clock: FakeClock
) -> None:
    daemon = make_daemon()
    controller = daemon.controller
    seen: dict[str, Status] = {}

    def steps() -> None:
        seen["waiting"] = controller.start(EVERY_SECOND.with_changes(delay_ns=3 * NS_PER_S))
        running_for(clock, seen["waiting"], 2 * NS_PER_S + NS_PER_S // 2)
        seen["running"] = controller.status()
        seen["stopped"] = controller.stop()

    script(clock, steps)
    anchor = seen["waiting"].run.anchor_ns
    assert anchor >= seen["waiting"].now_ns + 3 * NS_PER_S, "the delay is waited out"
    waiting, running, stopped = seen["waiting"].run, seen["running"].run, seen["stopped"].run
    assert (waiting.next_frame, waiting.next_due_ns) == (0, anchor)
    assert (waiting.counts, waiting.last_frame) == (Counts(), None)
    assert (running.next_frame, running.next_due_ns) == (3, anchor + 3 * NS_PER_S)
    assert running.counts == Counts(ok=3)
    assert (stopped.next_frame, stopped.next_due_ns) == (None, None)
    assert stopped.counts == Counts(ok=3)
    assert stopped.last_frame == daemon.journal.last_frame(stopped.id)
    assert stopped.last_frame is not None and stopped.last_frame.frame == 2
    assert controller.status().run == stopped, "shown until the next run"


def test_status_shows_the_ledgers_fault_while_the_run_goes_and_after(
    make_daemon: Callable[..., Daemon], clock: FakeClock
) -> None:
    camera = StandInCamera()
    said = "camera: the camera stopped answering (cable pulled)"
    camera.news[1] = CameraChanged(message=said, fault=True)
    daemon = make_daemon(camera=camera)
    controller = daemon.controller
    faults: list[str | None] = []

    def steps() -> None:
        started = controller.start(EVERY_SECOND)
        faults.append(started.fault)
        running_for(clock, started, NS_PER_S + NS_PER_S // 2)
        faults.append(controller.status().fault)
        faults.append(controller.stop().fault)
        camera.news.clear()
        faults.append(controller.start(EVERY_SECOND).fault)
        controller.stop()

    script(clock, steps)
    assert faults == [None, said, said, None], "a new run starts without the last one's fault"


def model_battery(tmp_path: Path, clock: FakeClock) -> tuple[Outlook, BatteryModel]:
    # 100 mAh at the Pi's 400 mA: about a quarter of an hour.
    model = BatteryModel(capacity_mah=100.0)
    return Outlook(None, model, tmp_path / "frames", clock, reserve_bytes=0), model


def test_with_no_monitor_the_battery_is_the_model_drained_while_the_run_goes(
    make_daemon: Callable[..., Daemon], clock: FakeClock, tmp_path: Path
) -> None:
    outlook, model = model_battery(tmp_path, clock)
    daemon = make_daemon(outlook=outlook)
    controller = daemon.controller
    settings = Settings(interval_ns=MINUTE_NS, frames=60)
    plan = make_plan(settings)
    seen: list[Status] = [controller.status()]

    def steps() -> None:
        started = controller.start(settings)
        seen.append(started)
        for minutes in (2, 5):
            running_for(clock, started, minutes * MINUTE_NS + NS_PER_S)
            seen.append(controller.status())
        seen.append(controller.stop())

    script(clock, steps)
    idle, waiting, two, five, stopped = seen
    # The run draws from frame 0's first lead (focus comes on 4 s before the shutter).
    lead = plan.lead_ns
    assert lead == 4 * NS_PER_S
    for status, plan_run, running_ns in [
        (idle, None, 0),
        (waiting, plan, 0),
        (two, plan, lead + 2 * MINUTE_NS + NS_PER_S),
        (five, plan, lead + 5 * MINUTE_NS + NS_PER_S),
        (stopped, None, 0),
    ]:
        live = status.state.live
        estimate = model.estimate(plan_run, running_ns=running_ns, frames_left=None)
        assert status.battery == battery_status(estimate, at_ns=status.now_ns, draining=live)
        assert status.disk is not None and status.disk.reserve_bytes == 0
        assert (status.outlook is not None) is live
    assert idle.battery.source == "model"
    assert waiting.battery.percent == 100.0
    assert 100.0 > two.battery.percent > five.battery.percent
    for status in (waiting, two, five):
        assert status.outlook.battery_short
        assert status.outlook.warnings[0].startswith("the battery lasts about")
    assert five.outlook.frames_left == 54


def test_a_run_preview_is_answered_with_or_without_a_run(
    make_daemon: Callable[..., Daemon], clock: FakeClock, tmp_path: Path
) -> None:
    outlook, _ = model_battery(tmp_path, clock)
    daemon = make_daemon(outlook=outlook)
    controller = daemon.controller
    asked = Settings(interval_ns=MINUTE_NS, power=True, frames=600)
    plan = make_plan(asked)
    # Each preview beside what the outlook says of the same settings at the same moment.
    previews = [(controller.preview(asked), outlook.preview(asked, plan))]

    def steps() -> None:
        started = controller.start(EVERY_SECOND)
        running_for(clock, started, 2 * NS_PER_S)
        previews.append((controller.preview(asked), outlook.preview(asked, plan)))
        assert controller.status().state is RUNNING, "a preview leaves the run alone"
        controller.stop()

    script(clock, steps)
    for preview, expected in previews:
        assert preview == expected
        assert preview.outlook.battery_short and not preview.battery.draining
    assert previews[0][0].battery.at_ns < previews[1][0].battery.at_ns
    with pytest.raises(PlanError, match="exposure"):
        controller.preview(Settings(interval_ns=NS_PER_S, exposure_ns=2 * NS_PER_S))


def test_a_daemon_without_an_outlook_says_so_for_a_preview(
    make_daemon: Callable[..., Daemon],
) -> None:
    daemon = make_daemon()
    with pytest.raises(LapseError, match=r"^this daemon watches neither battery nor disk$"):
        daemon.controller.preview(EVERY_SECOND)
    status = daemon.controller.status()
    assert (status.battery, status.disk, status.outlook) == (None, None, None)


# -- a start at a time --------------------------------------------------------------------------
def test_a_run_started_at_a_time_opens_its_first_shutter_at_that_time(
    make_daemon: Callable[..., Daemon], clock: FakeClock
) -> None:
    daemon = make_daemon()
    now, in_an_hour = clock.now_ns(), clock.wall_ns() + 3_600 * NS_PER_S
    status = daemon.start(THREE_FRAMES, at=wall_iso(in_an_hour))
    assert status.run is not None and status.state is WAITING
    assert status.run.anchor_ns == now + 3_600 * NS_PER_S, "the grid is placed there"
    info = daemon.journal.get_run(status.run.id)
    assert info.anchor_wall_ns == in_an_hour
    daemon.published.wait_for_end()
    records = daemon.journal.read_frames(status.run.id)
    assert records[0].wall == wall_iso(in_an_hour), "frame 0 opened at the time asked"


@pytest.mark.parametrize(
    ("seconds_away", "settings", "says"),
    [
        (-60, THREE_FRAMES, "has passed: the first shutter needs"),
        (0.05, THREE_FRAMES, "is too soon: the first shutter needs"),
        (400 * 86_400, THREE_FRAMES, "is more than 365d away"),
        (3_600, THREE_FRAMES.with_changes(delay_ns=NS_PER_S), "a start time and a delay cannot"),
    ],
    ids=["passed", "too-soon", "too-far", "and-a-delay"],
)
def test_a_start_time_that_cannot_be_kept_is_refused_and_changes_nothing(
    make_daemon: Callable[..., Daemon],
    clock: FakeClock,
    seconds_away: float,
    settings: Settings,
    says: str,
) -> None:
    daemon = make_daemon()
    at = wall_iso(clock.wall_ns() + round(seconds_away * NS_PER_S))
    with pytest.raises(LapseError, match=re.escape(says)):
        daemon.start(settings, at=at)
    assert daemon.controller.status().state is RunState.IDLE
    assert daemon.journal.list_runs() == []
