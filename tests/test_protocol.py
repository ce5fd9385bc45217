"""The contract between the daemon and its clients, on its own: plain calls, no socket.

- Every command, every event and every answer survives the wire: what one side
  encodes, the other decodes into an equal structure, whatever the counts and
  whichever optional fields are set.
- A request the daemon cannot take is refused with one line that says what is wrong
  and how to say it right, never a traceback.
- A subscriber's status follows frame events between state events, and never takes
  its last frame back.
"""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.model import protocol
from core.model.errors import ProtocolError
from core.model.plan import make_plan
from core.model.planner import RunOutlook
from core.model.protocol import (
    COMMANDS,
    EVENTS,
    PROTOCOL_VERSION,
    BatteryStatus,
    CameraEvent,
    CameraStatus,
    Counts,
    DiskStatus,
    EdgeEvent,
    EndDaemon,
    FaultEvent,
    FrameEvent,
    GetStatus,
    Handle,
    Hello,
    HelloReply,
    Make,
    MissedEvent,
    PanelStatus,
    PlanEvent,
    Preview,
    Reply,
    Request,
    Resume,
    RunCamera,
    RunPreview,
    RunStatus,
    Start,
    StateEvent,
    Status,
    Stop,
    Subscribe,
    Subscribed,
    Update,
)
from core.model.records import FRAME_STATUSES, FrameRecord
from core.model.run_state import RunState
from core.model.settings import (
    HIGHEST_NIGHT_ANGLE,
    LOWEST_NIGHT_ANGLE,
    MAX_CLOCK_PPM,
    MAX_DELAY_NS,
    MAX_EXPOSURE_NS,
    MAX_FOCUS_LEAD_NS,
    MAX_FRAMES,
    MAX_INTERVAL_NS,
    MIN_EXPOSURE_NS,
    MIN_INTERVAL_NS,
    Settings,
)
from core.model.windows import When

# -- what the wire may carry ------------------------------------------------------------------
texts = st.text(max_size=24)
whole = st.integers(min_value=-(2**63), max_value=2**63)
"""Monotonic and wall nanoseconds, ids, offsets: any 64-bit value and a little beyond."""
counted = st.integers(min_value=0, max_value=2**40)
numbers = st.floats(allow_nan=False, allow_infinity=False)
ids = st.none() | st.integers(min_value=-(2**53), max_value=2**53) | texts


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


settings_values = st.builds(
    Settings,
    interval_ns=st.integers(MIN_INTERVAL_NS, MAX_INTERVAL_NS),
    power=st.booleans(),
    frames=st.integers(0, MAX_FRAMES),
    delay_ns=st.integers(0, MAX_DELAY_NS),
    exposure_ns=optional(st.integers(MIN_EXPOSURE_NS, MAX_EXPOSURE_NS)),
    focus_lead_ns=st.integers(0, MAX_FOCUS_LEAD_NS),
    clock_ppm=st.floats(-MAX_CLOCK_PPM, MAX_CLOCK_PPM, allow_nan=False),
    between=st.sampled_from(["", "sunset-30min..sunrise+15min", "06:00..20:00"]),
    when=st.sampled_from(When),
    night_angle=st.floats(LOWEST_NIGHT_ANGLE, HIGHEST_NIGHT_ANGLE, allow_nan=False),
    night_interval_ns=st.sampled_from([0]) | st.integers(MIN_INTERVAL_NS, MAX_INTERVAL_NS),
)

walls = st.builds(
    lambda moment, offset: moment.replace(tzinfo=timezone(offset)).isoformat(),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(-14 * 60, 14 * 60).map(lambda minutes: timedelta(minutes=minutes)),
)


@st.composite
def frame_records(draw: st.DrawFn) -> FrameRecord:
    status = draw(st.sampled_from(FRAME_STATUSES))
    fired = {"ok": whole, "error": optional(whole)}.get(status, st.none())
    return FrameRecord(
        frame=draw(counted),
        due_ns=draw(whole),
        fired_ns=draw(fired),
        wall=draw(walls),
        status=status,
        file=draw(optional(st.text(min_size=1, max_size=24))),
        error=draw(optional(texts)),
    )


counts_values = st.builds(
    Counts, ok=counted, missed=counted, errors=counted, files=counted, skipped=counted
)

run_statuses = st.builds(
    RunStatus,
    id=texts,
    settings=settings_values,
    folder=texts,
    photos=texts,
    anchor_ns=whole,
    counts=counts_values,
    last_frame=optional(frame_records()),
    resumed=st.booleans(),
    next_frame=optional(counted),
    next_due_ns=optional(whole),
    window=optional(texts),
    window_opens_ns=optional(whole),
    window_closes_ns=optional(whole),
    pace=optional(st.sampled_from(["day", "night"])),
    pace_anchor_ns=optional(whole),
    pace_interval_ns=optional(whole),
)

camera_statuses = st.builds(
    CameraStatus,
    trigger=st.sampled_from(["gpio", "usb"]),
    virtual=st.booleans(),
    connected=st.booleans(),
    model=optional(texts),
    battery=optional(texts),
    fault=optional(texts),
    downloads=st.sampled_from(["on", "off", "paused"]),
    paused=optional(texts),
    saved=counted,
    waiting=counted,
    bulb=optional(st.sampled_from(["usb", "gpio"])),
    shutter_speed=optional(texts),
)

battery_statuses = st.builds(
    BatteryStatus,
    source=texts,
    percent=numbers,
    lasts_ns=optional(whole),
    draw_ma=optional(numbers),
    voltage_v=optional(numbers),
    charging=optional(st.booleans()),
    at_ns=whole,
    draining=st.booleans(),
    error=optional(texts),
)

disk_statuses = st.builds(
    DiskStatus,
    free_bytes=optional(counted),
    reserve_bytes=counted,
    average_file_bytes=optional(numbers),
)

outlooks = st.builds(
    RunOutlook,
    warnings=st.lists(texts, max_size=3).map(tuple),
    notes=st.lists(texts, max_size=3).map(tuple),
    frames_left=optional(counted),
    needs_ns=optional(whole),
    battery_lasts_ns=optional(whole),
    battery_short=st.booleans(),
    frames_fit=optional(counted),
    disk_short=st.booleans(),
)

full_statuses = st.builds(
    Status,
    state=st.sampled_from(RunState),
    now_ns=whole,
    wall_ns=optional(whole),
    rig=texts,
    simulated=st.booleans(),
    outputs=st.dictionaries(st.sampled_from(["power", "focus", "shutter", "led"]), numbers),
    notice=optional(texts),
    run=run_statuses,
    fault=optional(texts),
    camera=camera_statuses,
    battery=battery_statuses,
    disk=disk_statuses,
    outlook=outlooks,
    panel=st.builds(
        PanelStatus,
        switches=st.sampled_from(["positions", "coded", "encoder", ""]),
        value=optional(st.sampled_from([1, 3, 10, 30])),
        unit=optional(st.sampled_from(["s", "min", "h", "d"])),
        power=optional(st.booleans()),
        button=st.booleans(),
        said=texts,
        next_run=st.booleans(),
        signal=st.sampled_from(["fault", "turned", "armed", "dark"]),
    ),
)
"""A status with every part present: run, camera, battery, disk, outlook and the box."""

PLANS = [
    make_plan(Settings(interval_ns=10**9)),
    make_plan(Settings(interval_ns=60 * 10**9, power=True)),
    make_plan(Settings(interval_ns=30 * 10**9, exposure_ns=2 * 10**9, focus_lead_ns=0)),
]
plan_events = st.builds(PlanEvent, run=texts, plan=st.sampled_from(PLANS))

EVENT_EXAMPLES: dict[type, st.SearchStrategy[Any]] = {
    StateEvent: st.builds(StateEvent, status=full_statuses),
    PlanEvent: plan_events,
    FrameEvent: st.builds(FrameEvent, run=texts, record=frame_records(), counts=counts_values),
    MissedEvent: st.builds(
        MissedEvent, run=texts, first=counted, last=counted, reason=texts, counts=counts_values
    ),
    EdgeEvent: st.builds(
        EdgeEvent,
        frame=counted,
        line=st.sampled_from(["power", "focus", "shutter"]),
        on=st.booleans(),
        at_ns=whole,
    ),
    FaultEvent: st.builds(FaultEvent, message=texts, frame=optional(counted)),
    CameraEvent: st.builds(CameraEvent, message=texts, fault=st.booleans()),
}
COMMAND_EXAMPLES: dict[type, st.SearchStrategy[Any]] = {
    Hello: st.just(Hello()),
    GetStatus: st.just(GetStatus()),
    Subscribe: st.just(Subscribe()),
    Start: st.builds(
        Start,
        settings=settings_values,
        output=st.none() | texts,
        camera=st.none()
        | st.builds(
            RunCamera,
            trigger=st.none() | st.sampled_from(["gpio", "usb"]),
            shutter_speed=st.none() | st.sampled_from(["1/125", "0.0200s", "30"]),
        ),
        at=st.none()
        | st.sampled_from(["2027-01-15T08:00:00+00:00", "2027-01-15T09:30:00.5+01:00"]),
    ),
    Stop: st.just(Stop()),
    Update: st.builds(Update, frames=st.integers(0, MAX_FRAMES)),
    Preview: st.builds(Preview, settings=settings_values),
    Resume: st.builds(Resume, clock_ok=st.booleans()),
    EndDaemon: st.just(EndDaemon()),
    Make: st.builds(
        Make,
        run=texts,
        products=st.lists(st.sampled_from(["video", "keogram", "startrails"])).map(tuple),
    ),
    Handle: st.builds(
        Handle,
        control=st.sampled_from(["value", "unit", "power", "button", "encoder"]),
        to=texts,
        held_s=st.floats(0, 60),
        bounce=st.integers(0, 20),
    ),
}

answers = st.one_of(
    full_statuses,
    st.builds(Subscribed, status=full_statuses, plan=plan_events),
    st.builds(RunPreview, battery=battery_statuses, outlook=outlooks),
    st.builds(
        HelloReply,
        pid=st.integers(1, 2**22),
        rig=texts,
        simulated=st.booleans(),
        notice=optional(texts),
    ),
)


# -- round trips ------------------------------------------------------------------------------
@given(st.one_of(*COMMAND_EXAMPLES.values()), ids)
def test_every_command_survives_the_wire(command: protocol.Command, request_id: Any) -> None:
    line = protocol.encode_request(command, request_id)
    assert protocol.decode_request(line) == Request(command, request_id)


@given(st.one_of(*EVENT_EXAMPLES.values()))
def test_every_event_survives_the_wire(event: protocol.Event) -> None:
    envelope = protocol.decode(protocol.encode_event(event))
    assert envelope.reply is None
    assert envelope.event == event


@given(answers, ids)
def test_every_answer_survives_the_wire(answer: Any, request_id: Any) -> None:
    line = protocol.encode_reply(request_id, answer)
    envelope = protocol.decode(line, type(answer))
    assert envelope.event is None
    assert envelope.reply == Reply(request_id, answer)
    assert envelope.reply.ok


def test_the_examples_cover_every_command_and_event() -> None:
    # A new command or event that no example draws would never be checked on the wire.
    assert set(COMMAND_EXAMPLES) == set(COMMANDS.values())
    assert set(EVENT_EXAMPLES) == set(EVENTS.values())


def test_a_status_with_every_part_survives_the_wire() -> None:
    settings = Settings(interval_ns=10**10, power=True, frames=240, exposure_ns=2 * 10**9)
    record = FrameRecord(
        frame=12,
        due_ns=5_000,
        fired_ns=5_020,
        wall="2027-01-15T08:00:00+00:00",
        status="ok",
        file="frame-000012-DSC_0012.jpg",
    )
    status = Status(
        state=RunState.RUNNING,
        now_ns=6_000,
        rig="simulated",
        simulated=True,
        outputs={"power": 1.0, "focus": 0.0, "shutter": 0.0, "led": 0.25},
        notice="no GPIO on this machine",
        run=RunStatus(
            id="20270115-075800",
            settings=settings,
            folder="/var/lib/lapse/runs/20270115-075800",
            photos="/media/usb/sunset",
            anchor_ns=-115_000,
            counts=Counts(ok=12, missed=0, errors=1, files=11),
            last_frame=record,
            resumed=True,
            next_frame=13,
            next_due_ns=15_000,
        ),
        fault="camera: busy",
        camera=CameraStatus(trigger="usb", connected=True, model="Nikon D750", saved=11),
        battery=BatteryStatus(source="model", percent=61.5, lasts_ns=3_600, draining=True),
        disk=DiskStatus(free_bytes=10**10, reserve_bytes=50_000_000, average_file_bytes=2.5e7),
        outlook=RunOutlook(
            warnings=("the battery runs out after about 3h",),
            notes=(),
            frames_left=227,
            needs_ns=2_270 * 10**9,
            battery_lasts_ns=3_600,
            battery_short=True,
            frames_fit=398,
            disk_short=False,
        ),
    )
    line = protocol.encode_event(StateEvent(status))
    assert protocol.decode(line).event == StateEvent(status)
    reply = protocol.decode(protocol.encode_reply(3, status), Status).reply
    assert reply is not None and reply.result == status
    assert reply.result.run.counts.done == 13


# -- requests the daemon refuses --------------------------------------------------------------
def request(**message: Any) -> bytes:
    return json.dumps({"v": PROTOCOL_VERSION, **message}).encode() + b"\n"


def refusal(line: bytes) -> str:
    with pytest.raises(ProtocolError) as refused:
        protocol.decode_request(line)
    message = str(refused.value)
    assert "\n" not in message, "one line"
    return message


ALL_COMMANDS = "hello, status, subscribe, start, stop, update, preview, resume, end, make, handle"


@pytest.mark.parametrize(
    "line",
    [
        b"status please\n",
        b"{'v': 2}\n",
        b'{"v": 2, "cmd": "status"\n',
        b"\xff\xfe\n",
        b"[" * 100_000,
    ],
    ids=["words", "single-quotes", "cut-short", "not-utf8", "nested-deep"],
)
def test_a_line_that_is_not_json_is_refused(line: bytes) -> None:
    assert refusal(line) == "not a JSON message; send one JSON object per line"


@pytest.mark.parametrize("line", [b"[1, 2]", b'"status"', b"7", b"null"])
def test_a_message_that_is_not_an_object_is_refused(line: bytes) -> None:
    assert refusal(line) == "a message must be a JSON object"


@pytest.mark.parametrize(("version", "said"), [(1, "1"), (3, "3"), ("2", "'2'"), (None, "None")])
def test_another_protocol_version_is_refused_naming_ours(version: Any, said: str) -> None:
    line = json.dumps({"v": version, "cmd": "status"}).encode()
    assert refusal(line) == f"protocol version {said} is not spoken here; use 2"


def test_a_message_without_a_version_is_refused() -> None:
    assert refusal(b'{"cmd": "status"}') == "protocol version None is not spoken here; use 2"


@pytest.mark.parametrize(("name", "said"), [("launch", "'launch'"), (5, "5"), (None, "None")])
def test_an_unknown_command_is_refused_listing_the_commands(name: Any, said: str) -> None:
    assert refusal(request(cmd=name)) == f"unknown command {said}; commands are {ALL_COMMANDS}"


def test_a_message_with_no_command_is_refused_listing_the_commands() -> None:
    assert refusal(request(id=1)) == f"unknown command None; commands are {ALL_COMMANDS}"


@pytest.mark.parametrize("args", [[], "frames=5", 5, None])
def test_args_that_are_not_an_object_are_refused(args: Any) -> None:
    assert refusal(request(cmd="update", args=args)) == "args must be a JSON object"


def test_an_unknown_arg_is_refused_listing_what_the_command_takes() -> None:
    start = request(cmd="start", args={"settings": {"interval": "10s"}, "speed": 2})
    assert refusal(start) == (
        "start args has no speed; it takes settings, output, camera, at, place"
    )
    hello = request(cmd="hello", args={"verbose": True, "again": 1})
    assert refusal(hello) == "hello args has no again, verbose; it takes nothing"


def test_update_says_that_only_frames_can_change_during_a_run() -> None:
    line = request(cmd="update", args={"frames": 500, "interval": "5s", "power": True})
    assert refusal(line) == (
        "interval, power cannot change during a run (the grid would move);"
        " stop and start a new run. Only frames can change now"
    )


@pytest.mark.parametrize(
    ("name", "example"),
    [
        ("start", '{"settings": {"interval": "10s", "frames": 240}}'),
        ("preview", '{"settings": {"interval": "10s", "frames": 240}}'),
        ("update", '{"frames": 500}'),
    ],
)
def test_a_missing_arg_is_refused_with_an_example(name: str, example: str) -> None:
    needed = "settings" if name != "update" else "frames"
    assert refusal(request(cmd=name, args={})) == f"{name} needs args.{needed}, e.g. {example}"
    assert refusal(request(cmd=name)) == f"{name} needs args.{needed}, e.g. {example}"


@pytest.mark.parametrize(
    ("frames", "said"), [(True, "True"), ("500", "'500'"), (5.5, "5.5"), (None, "None")]
)
def test_frames_that_are_not_a_whole_number_are_refused(frames: Any, said: str) -> None:
    line = request(cmd="update", args={"frames": frames})
    assert refusal(line) == f"update args.frames must be a whole number, not {said}"


def test_settings_that_are_not_an_object_are_refused() -> None:
    line = request(cmd="start", args={"settings": "10s"})
    assert refusal(line) == "start args.settings must be an object, not '10s'"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"interval": "1ms"}, "interval must be between 10ms and 365d, got 1ms"),
        ({"interval": "10s", "power": 1}, "power must be true or false, got 1"),
        ({"interval": 10}, 'interval must be a duration in quotes, such as "10s"; got 10'),
        (
            {"interval": "10s", "frames": "240"},
            'frames must be a whole number (0 runs until stopped), got "240"',
        ),
        ({"frames": 240}, 'interval is required, e.g. interval = "10s"'),
        (
            {"interval": "10s", "shutter": "1/250"},
            "unknown setting 'shutter'; known settings are interval, power, frames, delay,"
            " exposure, focus_lead, clock_ppm, min_power_off, between, when, night_interval,"
            " night_angle",
        ),
    ],
    ids=["too-short", "int-for-bool", "int-for-duration", "text-for-int", "no-interval", "unknown"],
)
def test_bad_settings_are_refused_with_the_settings_message(
    settings: dict[str, Any], message: str
) -> None:
    assert refusal(request(cmd="start", args={"settings": settings})) == message
    assert refusal(request(cmd="preview", args={"settings": settings})) == message


@pytest.mark.parametrize("request_id", [True, 1.5, [1], {"n": 1}])
def test_an_id_that_is_not_a_number_or_text_is_refused(request_id: Any) -> None:
    assert refusal(request(id=request_id, cmd="status")) == "id must be a number or a string"


@pytest.mark.parametrize("request_id", [0, -3, 2**70, "", "tui-7"])
def test_a_number_or_text_is_an_id(request_id: Any) -> None:
    decoded = protocol.decode_request(request(id=request_id, cmd="status"))
    assert decoded == Request(GetStatus(), request_id)


# -- ids of messages that failed --------------------------------------------------------------
@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"garbage",
        b"\xff\xfe",
        b'{"id": 7',
        b"[7]",
        b'"7"',
        b'{"id": true}',
        b'{"id": [7]}',
        b'{"id": 7.5}',
        b'{"id": null}',
        b"[" * 100_000,
    ],
)
def test_garbage_has_no_id(line: bytes) -> None:
    assert protocol.request_id_of(line) is None


def test_a_failed_message_keeps_its_id_for_the_refusal() -> None:
    line = request(id="tui-7", cmd="launch")
    assert protocol.request_id_of(line) == "tui-7"
    assert protocol.request_id_of({"id": 12, "cmd": 5}) == 12
    assert protocol.request_id_of({"cmd": "status"}) is None


# -- what a client reads ----------------------------------------------------------------------
def test_an_unknown_event_is_refused_by_name() -> None:
    line = json.dumps({"v": PROTOCOL_VERSION, "event": "eclipse", "data": {}}).encode()
    with pytest.raises(ProtocolError, match=r"^unknown event 'eclipse'$"):
        protocol.decode(line)
    line = json.dumps({"v": PROTOCOL_VERSION, "event": 5, "data": {}}).encode()
    with pytest.raises(ProtocolError, match=r"^unknown event 5$"):
        protocol.decode(line)


def test_a_refusal_reads_as_a_reply_that_is_not_ok() -> None:
    line = protocol.encode_refusal(4, "no run is going")
    reply = protocol.decode(line, Status).reply
    assert reply == Reply(4, error="no run is going")
    assert not reply.ok and reply.result is None


def test_a_refusal_without_words_still_says_it_was_refused() -> None:
    line = json.dumps({"v": PROTOCOL_VERSION, "id": 4, "ok": False}).encode()
    assert protocol.decode(line).reply == Reply(4, error="the daemon refused")


def test_an_answer_of_the_wrong_shape_is_refused_naming_the_place() -> None:
    wire = protocol.to_wire(_status_with_counts())
    wire["simulated"] = 1
    with pytest.raises(ProtocolError, match=r"^result\.simulated must be true or false, not 1$"):
        line = json.dumps({"v": PROTOCOL_VERSION, "id": 1, "ok": True, "result": wire})
        protocol.decode(line.encode(), Status)


def test_unknown_keys_deep_inside_a_structure_are_refused_with_their_path() -> None:
    wire = protocol.to_wire(_status_with_counts())
    wire["run"]["counts"]["x"] = 1
    with pytest.raises(ProtocolError) as refused:
        protocol.from_wire(Status, wire, "status")
    assert (
        str(refused.value)
        == "status.run.counts has no x; it takes ok, missed, errors, files, unknown, skipped"
    )
    line = protocol.encode_event(StateEvent(_status_with_counts()))
    event = json.loads(line)
    event["data"]["status"]["run"]["counts"]["x"] = 1
    with pytest.raises(ProtocolError, match=r"^state event\.status\.run\.counts has no x;"):
        protocol.decode(json.dumps(event).encode())


def test_a_missing_field_is_refused_with_its_path() -> None:
    wire = protocol.to_wire(_status_with_counts())
    del wire["run"]["anchor_ns"]
    with pytest.raises(ProtocolError, match=r"^status\.run needs anchor_ns$"):
        protocol.from_wire(Status, wire, "status")


def test_a_frame_that_breaks_its_rules_is_refused_with_its_path() -> None:
    wire = protocol.to_wire(_status_with_counts(last=_record(4)))
    wire["run"]["last_frame"]["fired_ns"] = None  # an ok frame that never fired
    with pytest.raises(ProtocolError, match=r"^status\.run\.last_frame: an ok frame must have"):
        protocol.from_wire(Status, wire, "status")


def test_a_state_the_daemon_does_not_have_is_refused_listing_the_states() -> None:
    wire = protocol.to_wire(_status_with_counts())
    wire["state"] = "paused"
    with pytest.raises(ProtocolError) as refused:
        protocol.from_wire(Status, wire, "status")
    assert str(refused.value) == (
        "status.state must be one of idle, starting, waiting, running, interrupted,"
        " finished, stopped, failed, not 'paused'"
    )


# -- a subscriber's status between state events -----------------------------------------------
RUN = "20270115-075800"
FIVE_DONE = Counts(ok=5, files=3)


def _record(frame: int, **changes: Any) -> FrameRecord:
    values: dict[str, Any] = {
        "frame": frame,
        "due_ns": frame * 1_000,
        "fired_ns": frame * 1_000 + 7,
        "wall": datetime(2027, 1, 15, 8, 0, frame, tzinfo=UTC).isoformat(),
        "status": "ok",
    }
    return FrameRecord(**(values | changes))


def _status_with_counts(
    counts: Counts = FIVE_DONE,
    last: FrameRecord | None = None,
    camera: CameraStatus | None = None,
) -> Status:
    return Status(
        state=RunState.RUNNING,
        now_ns=9_000,
        rig="simulated",
        simulated=True,
        outputs={"power": 0.0},
        run=RunStatus(
            id=RUN,
            settings=Settings(interval_ns=10**9),
            folder=f"/runs/{RUN}",
            photos=f"/runs/{RUN}",
            anchor_ns=0,
            counts=counts,
            last_frame=last,
        ),
        camera=camera,
    )


def test_the_counts_follow_frame_and_missed_events() -> None:
    status = _status_with_counts(last=_record(4))
    after_frame = status.with_frame(FrameEvent(RUN, _record(5), Counts(ok=6, files=3)))
    assert after_frame.run.counts == Counts(ok=6, files=3)
    assert after_frame.run.last_frame == _record(5)
    missed = MissedEvent(RUN, 6, 8, "the engine was late", Counts(ok=6, missed=3, files=3))
    after_missed = after_frame.with_frame(missed)
    assert after_missed.run.counts == Counts(ok=6, missed=3, files=3)
    assert after_missed.run.last_frame == _record(5), "a missed event carries no record"
    assert after_missed.state is status.state and after_missed.now_ns == status.now_ns


def test_news_about_an_older_frame_never_takes_the_last_frame_back() -> None:
    status = _status_with_counts(last=_record(9))
    older = _record(7, file="frame-000007-DSC_0007.jpg")
    after = status.with_frame(FrameEvent(RUN, older, Counts(ok=5, files=4)))
    assert after.run.last_frame == _record(9)
    assert after.run.counts == Counts(ok=5, files=4), "the counts follow all the same"


def test_news_about_the_last_frame_replaces_it() -> None:
    status = _status_with_counts(last=_record(9))
    failed = _record(9, status="error", error="the camera lost frame 9")
    after = status.with_frame(FrameEvent(RUN, failed, Counts(ok=4, errors=1, files=3)))
    assert after.run.last_frame == failed


def test_the_first_frame_becomes_the_last_frame() -> None:
    status = _status_with_counts(counts=Counts(), last=None)
    after = status.with_frame(FrameEvent(RUN, _record(0), Counts(ok=1)))
    assert after.run.last_frame == _record(0)


def test_another_runs_events_change_nothing() -> None:
    status = _status_with_counts(last=_record(4), camera=CameraStatus(trigger="usb", saved=3))
    other = "20270114-210000"
    assert status.with_frame(FrameEvent(other, _record(5), Counts(ok=99, files=99))) == status
    assert status.with_frame(MissedEvent(other, 5, 6, "late", Counts(missed=2))) == status
    idle = Status(state=RunState.IDLE, now_ns=0, rig="simulated", simulated=True, outputs={})
    assert idle.with_frame(FrameEvent(RUN, _record(0), Counts(ok=1))) == idle


def test_the_cameras_saved_files_follow_the_counts() -> None:
    status = _status_with_counts(last=_record(4), camera=CameraStatus(trigger="usb", saved=3))
    after = status.with_frame(FrameEvent(RUN, _record(5, file="f.jpg"), Counts(ok=6, files=4)))
    assert after.camera == CameraStatus(trigger="usb", saved=4)
    without_camera = _status_with_counts(last=_record(4))
    after = without_camera.with_frame(FrameEvent(RUN, _record(5), Counts(ok=6, files=4)))
    assert after.camera is None


# -- the lists of names -----------------------------------------------------------------------
def test_events_and_commands_name_every_class_of_their_unions_and_nothing_else() -> None:
    event_classes = typing.get_args(protocol.Event)
    command_classes = typing.get_args(protocol.Command)
    assert sorted(EVENTS) == sorted(kind.name for kind in event_classes)
    assert sorted(COMMANDS) == sorted(kind.name for kind in command_classes)
    assert set(EVENTS.values()) == set(event_classes)
    assert set(COMMANDS.values()) == set(command_classes)
    assert all(EVENTS[kind.name] is kind for kind in event_classes), "no two share a name"
    assert all(COMMANDS[kind.name] is kind for kind in command_classes), "no two share a name"


def test_a_start_time_without_its_zone_is_refused() -> None:
    start = request(cmd="start", args={"settings": {"interval": "10s"}, "at": "2026-12-01T18:00"})
    assert "at must carry its time zone" in refusal(start)


@pytest.mark.parametrize(
    ("camera", "says"),
    [
        ({"trigger": "off"}, "trigger must be gpio or usb, not 'off'"),
        ({"shutter_speed": ""}, "shutter speed must be one of the camera's own"),
        ({"shutter_speed": "1/125\n"}, "shutter speed must be one of the camera's own"),
        ({"iso": 100}, "has no iso; it takes trigger, shutter_speed"),
    ],
)
def test_a_bad_camera_choice_is_refused_in_one_line(camera: dict[str, Any], says: str) -> None:
    start = request(cmd="start", args={"settings": {"interval": "10s"}, "camera": camera})
    assert says in refusal(start)
