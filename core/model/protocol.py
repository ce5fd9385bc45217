"""The contract between the daemon and its clients, declared once as typed structures.

Everything that crosses the socket is one of the classes below: the commands
a client sends (:data:`COMMANDS`), the answer each one gets, and the events
the daemon pushes to subscribers (:data:`EVENTS`). The daemon builds them, the
server encodes them (:func:`encode_reply`, :func:`encode_event`), and clients
decode them (:func:`decode_reply`, :func:`decode_event`) back into the same
classes, so a client reads ``status.run.counts.ok``, never a string key.

On the wire it is JSON lines over a unix socket, versioned: a client sends
``{"v": 2, "id": 7, "cmd": "status", "args": {}}``; the daemon answers
``{"v": 2, "id": 7, "ok": true, "result": {…}}`` or ``{"v": 2, "id": 7, "ok":
false, "error": "…"}``, and pushes ``{"v": 2, "event": "frame", "data": {…}}``.
A structure's fields are its JSON keys; an enum travels as its value, a
:class:`~core.model.settings.Settings` and a
:class:`~core.model.records.FrameRecord` in their own human spellings.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, TypeVar

from core.model.errors import LapseError, ProtocolError
from core.model.place import Place
from core.model.plan import Plan
from core.model.planner import RunOutlook
from core.model.records import FrameRecord, check_wall
from core.model.run_state import RunState
from core.model.settings import Settings
from core.model.toml_text import cut, echo

PROTOCOL_VERSION = 2
MAX_LINE_BYTES = 64 * 1024

T = TypeVar("T")


# -- what the daemon reports ---------------------------------------------------------------
@dataclass(frozen=True)
class Counts:
    """How the run's slots went so far, and the files the camera saved."""

    ok: int = 0
    missed: int = 0
    errors: int = 0
    files: int = 0
    """Files downloaded (or kept on the card) for this run's frames."""
    unknown: int = 0
    """Slots the daemon ended around: whether their shutter fired cannot be told."""
    skipped: int = 0
    """Slots outside the run's window: none was meant to fire, and none counts as done."""

    @property
    def done(self) -> int:
        """Slots reached, however they went."""
        return self.ok + self.missed + self.errors + self.unknown


@dataclass(frozen=True)
class RunStatus:
    """The daemon's run: the one going, or the last one when none is."""

    id: str
    """The run's folder name in the journal: ``"20250614-213000"``."""
    settings: Settings
    folder: str
    """The run's folder: its journal, and its photos unless :attr:`photos` says otherwise."""
    photos: str
    """Where a camera's downloaded photos go: :attr:`folder`, or the run's output folder."""
    anchor_ns: int
    """Daemon monotonic ns of frame 0's shutter-open."""
    counts: Counts
    last_frame: FrameRecord | None
    """The newest slot's record."""
    resumed: bool = False
    """The daemon took the run up again after an interruption."""
    next_frame: int | None = None
    """The next slot whose shutter is due, while the run goes on."""
    next_due_ns: int | None = None
    """When that shutter is due (daemon monotonic ns)."""
    window: str | None = None
    """The run's window in words (``sunset-30min..sunrise``); None: it shoots every slot."""
    window_opens_ns: int | None = None
    """When the window next opens (daemon monotonic ns): while it is open, the opening
    after it closes; None when none comes within a year."""
    window_closes_ns: int | None = None
    """While the window is open: when it closes (daemon monotonic ns)."""
    pace: str | None = None
    """With a night interval: ``day`` or ``night``, the pace of the next shutter."""
    pace_anchor_ns: int | None = None
    """That pace's grid: its frames fall ``pace_interval_ns`` apart from here."""
    pace_interval_ns: int | None = None


@dataclass(frozen=True)
class CameraStatus:
    """The USB camera, when one is configured."""

    trigger: str
    """``gpio`` or ``usb`` (see ``[camera] trigger``)."""
    virtual: bool = False
    connected: bool = False
    model: str | None = None
    battery: str | None = None
    """The camera's own battery, as it reports it (``"75%"``)."""
    fault: str | None = None
    downloads: str = "on"
    """``on``, ``off`` (files stay on the card) or ``paused`` (the disk is full)."""
    paused: str | None = None
    """Why downloads are paused."""
    saved: int = 0
    """Files saved in this run."""
    waiting: int = 0
    """Files seen on the camera and not yet saved."""
    bulb: str | None = None
    """How a bulb exposure is held: ``usb`` or ``gpio``; None for a pulse."""
    shutter_speed: str | None = None
    exposure: str | None = None
    """The shutter speed and ISO auto exposure has set (``1/125 ISO 400``); None when
    the run does not set its exposure."""


@dataclass(frozen=True)
class BatteryStatus:
    """The battery as the daemon reads or models it: the one figure every client shows."""

    source: str
    """``"sysfs BAT0"``, ``"ina219 0x40"``, or ``"model"`` when nothing measures it."""
    percent: float = 0.0
    lasts_ns: int | None = None
    """How long the charge lasts at :attr:`draw_ma` from :attr:`at_ns`; None: not draining
    or unknown."""
    draw_ma: float | None = None
    voltage_v: float | None = None
    charging: bool | None = None
    """True while external power feeds the battery."""
    at_ns: int = 0
    """Daemon monotonic ns the figures are for."""
    draining: bool = False
    """The figures fall with time until the next status (the model during a run): a
    client shows ``percent`` and ``lasts_ns`` moved on by the time since :attr:`at_ns`."""
    error: str | None = None
    """Why the monitor could not be read; the figures are then empty."""

    def at(self, now_ns: int) -> BatteryStatus:
        """The figures at ``now_ns``: a draining battery falls 1 ns of ``lasts`` per ns, and
        its percent with it (both are proportional to the charge left)."""
        if not self.draining or self.lasts_ns is None or self.lasts_ns <= 0:
            return self
        lasts = max(0, self.lasts_ns - max(0, now_ns - self.at_ns))
        return dataclasses.replace(
            self, percent=self.percent * lasts / self.lasts_ns, lasts_ns=lasts, at_ns=now_ns
        )


@dataclass(frozen=True)
class DiskStatus:
    """The disk the frames go to."""

    free_bytes: int | None
    """None when it cannot be told."""
    reserve_bytes: int
    """Kept free for the journal; never counted as room for frames."""
    average_file_bytes: float | None = None
    """The size of a frame, from the files downloaded so far."""


@dataclass(frozen=True)
class AfterStatus:
    """The daemon's work after a run (``[after]``): the video, keogram and star trails it
    makes in a low-priority process of their own."""

    run: str
    """The run the work is for."""
    state: str
    """``working``, ``done`` or ``failed``."""
    product: str | None = None
    """What is being made now (``video``, ``keogram``, ``startrails``); None when done."""
    done: int = 0
    total: int = 0
    """Frames of :attr:`product` done, of so many."""
    files: tuple[str, ...] = ()
    """What the work has made so far, as paths."""
    error: str | None = None
    """What failed, when something did; the run itself is never touched by it."""
    waiting: int = 0
    """Other runs' work waiting its turn."""


@dataclass(frozen=True)
class HooksStatus:
    """The user's commands run on events (``[hooks]``): how they keep up."""

    waiting: int = 0
    """Events waiting for their hook."""
    dropped: int = 0
    """``frame_saved`` events dropped, oldest first, because their queue was full."""
    ran: int = 0
    """Hooks run since the daemon started."""
    failed: int = 0
    """Of those, how many failed or ran out of time."""
    last_error: str | None = None
    """The last failure, in one line: ``frame_saved: exit status 3: no space``."""


@dataclass(frozen=True)
class UploadStatus:
    """The upload queue (``[upload]``): what waits, what went, what went wrong."""

    server: str
    """Where the files go: ``user@host:folder``."""
    waiting: int = 0
    """Files waiting to go (the one going included)."""
    waiting_bytes: int = 0
    """Their size."""
    sent: int = 0
    """Files sent since the daemon started."""
    last_file: str | None = None
    """The last file sent, as it is named on the server."""
    last_at: str | None = None
    """When it was sent: ISO-8601 wall time with its zone."""
    last_error: str | None = None
    """The last thing that went wrong; None once a file has gone since."""
    stopped: bool = False
    """The queue stopped on an error that only the photographer can fix (a key the server
    refuses, a host key not known): it waits for the config to change and a restart."""


@dataclass(frozen=True)
class PanelStatus:
    """The box's own controls as the daemon reads them from their pins (``[inputs]``)."""

    switches: str
    """What chooses the interval: ``positions`` or ``coded`` (two switches), ``encoder``,
    or ``""`` (none: the config's interval, with a button or a toggle alone)."""
    value: int | None
    """The VALUE the controls are on (1, 3, 10, 30); None between positions."""
    unit: str | None
    """The UNIT they are on (``s``, ``min``, ``h``, ``d``); None between positions."""
    power: bool | None
    """The power toggle; None when none is wired (the config's power counts)."""
    button: bool
    """A start/stop button is wired."""
    said: str
    """One line: ``10min, power on``, or which switch is between positions."""
    next_run: bool = False
    """A run is going and the controls say otherwise: they are the next run's, the run
    goes on as it was started."""
    signal: str = "dark"
    """What the LED says between a run's phases (:class:`core.model.led.BoxSignal`)."""


@dataclass(frozen=True)
class Status:
    """The snapshot every client shows: the ``status`` answer and the ``state`` event."""

    state: RunState
    now_ns: int
    """The daemon's monotonic clock when this was built."""
    rig: str
    """The rig's description: ``"GPIO (BCM 20/21/16, LED 12)"``, ``"simulated"``."""
    simulated: bool
    outputs: dict[str, float]
    """Each output's level now (0 off, 1 on; the LED in between), read back from the rig."""
    notice: str | None = None
    """Why the rig is simulated, when it is."""
    run: RunStatus | None = None
    fault: str | None = None
    """What went wrong that the photographer should see; cleared when it is over."""
    camera: CameraStatus | None = None
    battery: BatteryStatus | None = None
    disk: DiskStatus | None = None
    outlook: RunOutlook | None = None
    """Whether the battery and the disk last the rest of the run (a live run only)."""
    clock_wait: str | None = None
    """Why the interrupted run waits for a clock it can trust before it resumes (after a
    reboot: ``"the system clock is not synchronised"``); None when it does not wait."""
    wall_ns: int | None = None
    """The daemon's wall clock (epoch ns) at :attr:`now_ns`: what a client dates the
    daemon's times by (a delayed first shutter's clock time)."""
    after: AfterStatus | None = None
    """The latest work after a run (:class:`AfterStatus`); None when there has been none."""
    panel: PanelStatus | None = None
    """The box's switches, toggle and button; None when the box has none (``[inputs]``)."""
    hooks: HooksStatus | None = None
    """The hooks' queue (``[hooks]``); None when no hook is set."""
    upload: UploadStatus | None = None
    """The upload queue (``[upload]``); None when nothing is uploaded."""

    def with_frame(self, event: FrameEvent | MissedEvent) -> Status:
        """This status after a frame or missed event: a subscriber's counts stay current
        between state events. A camera's later news about an older frame updates the
        counts but never takes the last frame back."""
        run = self.run
        if run is None or run.id != event.run:
            return self
        last = run.last_frame
        if isinstance(event, FrameEvent) and (last is None or event.record.frame >= last.frame):
            last = event.record
        camera = self.camera
        if camera is not None:
            camera = dataclasses.replace(camera, saved=event.counts.files)
        run = dataclasses.replace(run, counts=event.counts, last_frame=last)
        return dataclasses.replace(self, run=run, camera=camera)


@dataclass(frozen=True)
class RunPreview:
    """What a run of given settings would meet if started now: the battery and the disk."""

    battery: BatteryStatus
    outlook: RunOutlook


@dataclass(frozen=True)
class HelloReply:
    """Who answers: the daemon's pid and its rig (the version is every message's ``v``)."""

    pid: int
    rig: str
    simulated: bool
    notice: str | None = None


# -- events: what the daemon pushes to subscribers ----------------------------------------
@dataclass(frozen=True)
class StateEvent:
    """The status changed: a run started, ended, the camera came or went."""

    name: ClassVar[str] = "state"
    status: Status


@dataclass(frozen=True)
class PlanEvent:
    """A run began (or was resumed): the edges of each of its frames, sent once per run."""

    name: ClassVar[str] = "plan"
    run: str
    plan: Plan


@dataclass(frozen=True)
class FrameEvent:
    """A slot's record, as journaled; the same frame again when the camera adds to it."""

    name: ClassVar[str] = "frame"
    run: str
    record: FrameRecord
    counts: Counts


@dataclass(frozen=True)
class MissedEvent:
    """Slots ``first``..``last`` were due before the engine could reach them."""

    name: ClassVar[str] = "missed"
    run: str
    first: int
    last: int
    reason: str
    counts: Counts


@dataclass(frozen=True)
class EdgeEvent:
    """An output switched (for timing probes; the TUI draws the plan against the clock)."""

    name: ClassVar[str] = "edge"
    frame: int
    line: str
    on: bool
    at_ns: int


@dataclass(frozen=True)
class FaultEvent:
    """Something went wrong that the photographer should see; the run goes on."""

    name: ClassVar[str] = "fault"
    message: str
    frame: int | None = None


@dataclass(frozen=True)
class CameraEvent:
    """The camera's news: a fault, its return, downloads paused or resumed."""

    name: ClassVar[str] = "camera"
    message: str
    fault: bool


Event = StateEvent | PlanEvent | FrameEvent | MissedEvent | EdgeEvent | FaultEvent | CameraEvent


@dataclass(frozen=True)
class Subscribed:
    """The answer to ``subscribe``: where things stand, and the plan of the run going."""

    status: Status
    plan: PlanEvent | None = None


# -- commands: what a client sends -----------------------------------------------------
@dataclass(frozen=True)
class Hello:
    """Who is there: the daemon's pid and rig."""

    name: ClassVar[str] = "hello"
    answer: ClassVar[type] = HelloReply


@dataclass(frozen=True)
class GetStatus:
    """The run's state, counts, the next shutter, the last frame, battery, disk and faults."""

    name: ClassVar[str] = "status"
    answer: ClassVar[type] = Status


@dataclass(frozen=True)
class Subscribe:
    """Receive events on this connection from now on; answered with the status and the
    plan of the run going, if any (the plan is sent once per run: here and in ``plan``)."""

    name: ClassVar[str] = "subscribe"
    answer: ClassVar[type] = Subscribed


RUN_TRIGGERS = ("gpio", "usb")
"""What a run may ask its camera's trigger to be (``off`` is no camera at all)."""
MAX_SHUTTER_SPEED_CHARS = 32


@dataclass(frozen=True)
class RunCamera:
    """What one run asks of the camera over the config's ``[camera]`` table (``lapse
    run --trigger``, ``--shutter-speed``); None keeps the table's."""

    trigger: str | None = None
    """``gpio`` or ``usb``."""
    shutter_speed: str | None = None
    """One of the camera's own shutter-speed choices (``"1/125"``)."""
    auto_exposure: bool | None = None
    """Whether lapse sets the exposure frame by frame (``[exposure] mode``)."""

    def __post_init__(self) -> None:
        if self.auto_exposure is not None and not isinstance(self.auto_exposure, bool):
            raise ValueError(f"auto_exposure must be true or false, not {echo(self.auto_exposure)}")
        if self.trigger is not None and self.trigger not in RUN_TRIGGERS:
            allowed = " or ".join(RUN_TRIGGERS)
            raise ValueError(f"trigger must be {allowed}, not {echo(self.trigger)}")
        speed = self.shutter_speed
        if speed is not None and not (
            speed.strip() and speed.isprintable() and len(speed) <= MAX_SHUTTER_SPEED_CHARS
        ):
            raise ValueError(
                f"shutter speed must be one of the camera's own, such as 1/125, not {echo(speed)}"
            )

    @property
    def chosen(self) -> bool:
        """Whether the run asks anything of its own."""
        return (
            self.trigger is not None
            or self.shutter_speed is not None
            or self.auto_exposure is not None
        )


@dataclass(frozen=True)
class Start:
    """Start a run with these settings (interval, power, frames, …)."""

    name: ClassVar[str] = "start"
    answer: ClassVar[type] = Status
    example: ClassVar[str] = '{"settings": {"interval": "10s", "frames": 240}}'
    settings: Settings
    output: str | None = None
    """An absolute folder for the photos a camera downloads; None: the run's folder."""
    camera: RunCamera | None = None
    """The trigger and shutter speed this run asks for, over the config's."""
    at: str | None = None
    """When the first shutter opens: an ISO-8601 wall time with its zone (``lapse run
    --at``), in place of a delay; None: as soon as the delay and the leads allow."""
    place: Place | None = None
    """Where the rig stands, for a window by the sun (``--place``); None: the config's."""

    def __post_init__(self) -> None:
        if self.at is not None:
            check_wall("at", self.at)


@dataclass(frozen=True)
class Stop:
    """Stop the run and release every output; answered once they are released."""

    name: ClassVar[str] = "stop"
    answer: ClassVar[type] = Status


@dataclass(frozen=True)
class Update:
    """Change the running run's frame count (the other settings would move the grid)."""

    name: ClassVar[str] = "update"
    answer: ClassVar[type] = Status
    unknown_args: ClassVar[str] = (
        "{} cannot change during a run (the grid would move); stop and start a new run."
        " Only frames can change now"
    )
    example: ClassVar[str] = '{"frames": 500}'
    frames: int


@dataclass(frozen=True)
class Preview:
    """Would the battery and the disk last a run of these settings, started now?"""

    name: ClassVar[str] = "preview"
    answer: ClassVar[type] = RunPreview
    example: ClassVar[str] = Start.example
    settings: Settings


@dataclass(frozen=True)
class Resume:
    """Resume the run that waits for the clock: once the clock is trusted, or at once on
    the photographer's word that it is right (``clock_ok``)."""

    name: ClassVar[str] = "resume"
    answer: ClassVar[type] = Status
    example: ClassVar[str] = '{"clock_ok": true}'
    clock_ok: bool


@dataclass(frozen=True)
class EndDaemon:
    """End the daemon, once no run is going (refused while one is): it releases every
    output, answers, and exits."""

    name: ClassVar[str] = "end"
    answer: ClassVar[type] = Status


@dataclass(frozen=True)
class Make:
    """Make a run's video, keogram or star trails now, in the daemon's low-priority work
    after runs (its progress is the status's ``after``)."""

    name: ClassVar[str] = "make"
    answer: ClassVar[type] = Status
    example: ClassVar[str] = '{"run": "20261201-053000", "products": ["video"]}'
    run: str
    products: tuple[str, ...]


@dataclass(frozen=True)
class Handle:
    """Move one of the simulated box's controls as a hand would (a simulated rig only):
    turn a switch or the encoder, set the power toggle, press the button."""

    name: ClassVar[str] = "handle"
    answer: ClassVar[type] = Status
    example: ClassVar[str] = '{"control": "value", "to": "10"}'
    control: str
    """``value``, ``unit``, ``power``, ``button`` or ``encoder``."""
    to: str
    """A position (``10``, ``min``), ``on``/``off``/``toggle``, ``press``, or steps (``+3``)."""
    held_s: float = 0.1
    """How long a press holds the button down."""
    bounce: int = 0
    """How many times the contact chatters before it settles."""


Command = (
    Hello
    | GetStatus
    | Subscribe
    | Start
    | Stop
    | Update
    | Preview
    | Resume
    | EndDaemon
    | Make
    | Handle
)


COMMANDS: dict[str, type[Command]] = {command.name: command for command in typing.get_args(Command)}
"""Every command by its wire name."""
EVENTS: dict[str, type[Event]] = {event.name: event for event in typing.get_args(Event)}
"""Every event by its wire name."""


def describe(kind: type) -> str:
    """The first line of a command's or event's docstring: what ``--help`` texts say."""
    return (kind.__doc__ or "").strip().splitlines()[0]


# -- the codec ------------------------------------------------------------------------------
def to_wire(value: Any) -> Any:
    """``value`` as plain JSON data: structures as objects, enums as their values."""
    if isinstance(value, Settings | FrameRecord):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [to_wire(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_wire(item) for key, item in value.items()}
    return value


def from_wire(kind: Any, data: Any, where: str = "message") -> Any:
    """Read ``data`` as a ``kind`` (a class or a type hint such as ``int | None``).

    Raises :class:`ProtocolError` naming the place (``status.run.counts.ok``)
    and what was expected. Unknown keys are refused, so a misspelt argument is
    an error rather than silently ignored.
    """
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(kind)
        if data is None and type(None) in options:
            return None
        real = [option for option in options if option is not type(None)]
        if len(real) == 1:
            return from_wire(real[0], data, where)
        for option in real:
            try:
                return from_wire(option, data, where)
            except ProtocolError:
                continue
        raise ProtocolError(f"{where} is not any of {', '.join(map(_name, real))}")
    if origin is tuple:
        item_kind = typing.get_args(kind)[0]
        return tuple(
            from_wire(item_kind, item, f"{where}[{i}]")
            for i, item in enumerate(_expect(list, data, where))
        )
    if origin is dict:
        _, value_kind = typing.get_args(kind)
        return {
            _expect(str, key, where): from_wire(value_kind, item, f"{where}.{key}")
            for key, item in _expect(dict, data, where).items()
        }
    if kind is Any:
        return data
    if kind is Settings:
        try:
            return Settings.from_dict(_expect(dict, data, where))
        except LapseError as error:
            raise ProtocolError(str(error)) from None
    if kind is FrameRecord:
        try:
            return FrameRecord.from_dict(_expect(dict, data, where))
        except ValueError as error:
            raise ProtocolError(f"{where}: {error}") from None
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(data)
        except ValueError:
            allowed = ", ".join(str(member.value) for member in kind)
            raise ProtocolError(f"{where} must be one of {allowed}, not {echo(data)}") from None
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _structure(kind, _expect(dict, data, where), where)
    if kind is float:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
        raise ProtocolError(f"{where} must be a number, not {echo(data)}")
    if kind in (int, str, bool):
        return _expect(kind, data, where)
    if kind is type(None):
        if data is None:
            return None
        raise ProtocolError(f"{where} must be null, not {echo(data)}")
    raise TypeError(f"the protocol cannot carry {kind!r}")  # a bug in a declaration above


def _structure(kind: type[T], data: dict[str, Any], where: str) -> T:
    declared = {f.name: f for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(declared))
    if unknown:
        allowed = ", ".join(declared) or "nothing"
        raise ProtocolError(f"{where} has no {_names(unknown)}; it takes {allowed}")
    hints = _hints(kind)
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        if name in data:
            values[name] = from_wire(hints[name], data[name], f"{where}.{name}")
        elif (
            declaration.default is dataclasses.MISSING
            and declaration.default_factory is dataclasses.MISSING
        ):
            raise ProtocolError(f"{where} needs {name}")
    try:
        return kind(**values)
    except (TypeError, ValueError) as error:
        raise ProtocolError(f"{where}: {error}") from None


@cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _expect(kind: type[T], data: Any, where: str) -> T:
    # bool is an int to Python, never to the protocol.
    if not isinstance(data, kind) or (kind is int and isinstance(data, bool)):
        raise ProtocolError(f"{where} must be {_name(kind)}, not {echo(data)}")
    return data


def _names(keys: list[str]) -> str:
    """Keys a message refuses, each cut short: a line holds up to 64 KiB of them."""
    return cut(", ".join(cut(key) for key in keys))


def _name(kind: Any) -> str:
    return {
        int: "a whole number",
        str: "text",
        bool: "true or false",
        dict: "an object",
        list: "a list",
    }.get(kind, getattr(kind, "__name__", str(kind)))


# -- lines ----------------------------------------------------------------------------------
RequestId = int | str | None


@dataclass(frozen=True)
class Request:
    """One command from a client, with the id its answer carries."""

    command: Command
    id: RequestId = None


@dataclass(frozen=True)
class Reply:
    """The daemon's answer to one request: a result, or a refusal for the photographer."""

    id: RequestId
    result: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the command was done."""
        return self.error is None


@dataclass(frozen=True)
class Envelope:
    """One decoded line from the daemon: an event, or the reply to a request."""

    event: Event | None = None
    reply: Reply | None = None


def _line(message: dict[str, Any]) -> bytes:
    return (json.dumps({"v": PROTOCOL_VERSION, **message}, separators=(",", ":")) + "\n").encode()


def encode_request(command: Command, request_id: RequestId = None) -> bytes:
    """A client's command as one line."""
    return _line({"id": request_id, "cmd": command.name, "args": to_wire(command)})


def encode_reply(request_id: RequestId, result: Any) -> bytes:
    """A successful answer: ``result`` is one of the structures above."""
    return _line({"id": request_id, "ok": True, "result": to_wire(result)})


def encode_refusal(request_id: RequestId, message: str) -> bytes:
    """A refusal; the connection and the run go on."""
    return _line({"id": request_id, "ok": False, "error": message})


def encode_event(event: Event) -> bytes:
    """An event pushed to subscribers."""
    return _line({"event": event.name, "data": to_wire(event)})


def _json_object(line: bytes) -> dict[str, Any]:
    """Parse one line into a JSON object carrying our protocol version."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("not a JSON message; send one JSON object per line") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    version = message.get("v")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"protocol version {echo(version)} is not spoken here; use {PROTOCOL_VERSION}"
        )
    return message


def decode_request(line: bytes) -> Request:
    """Parse a client's command, or raise :class:`ProtocolError` saying what is wrong."""
    message = _json_object(line)
    request_id = request_id_of(message)
    if "id" in message and message["id"] is not None and request_id is None:
        raise ProtocolError("id must be a number or a string")
    name = message.get("cmd")
    command = COMMANDS.get(name) if isinstance(name, str) else None
    if command is None:
        raise ProtocolError(f"unknown command {echo(name)}; commands are {', '.join(COMMANDS)}")
    args = message.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError("args must be a JSON object")
    declared = dataclasses.fields(command)
    unknown = sorted(set(args) - {f.name for f in declared})
    template = getattr(command, "unknown_args", None)
    if unknown and template is not None:
        raise ProtocolError(template.format(_names(unknown)))
    # An argument with a default may be left out (``start``'s ``output``).
    missing = [
        f.name
        for f in declared
        if f.name not in args
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ProtocolError(f"{name} needs args.{missing[0]}, e.g. {command.example}")
    return Request(from_wire(command, args, f"{name} args"), request_id)


def request_id_of(message: Any) -> RequestId:
    """The id of a message (decoded, or a line that failed to decode), for the reply."""
    if isinstance(message, bytes):
        try:
            message = json.loads(message)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None
    if isinstance(message, dict):
        found = message.get("id")
        if isinstance(found, int | str) and not isinstance(found, bool):
            return found
    return None


def decode(line: bytes, answers: type | None = None) -> Envelope:
    """Parse a line from the daemon: an event, or a reply whose result is an ``answers``
    (None leaves the result as plain data). :class:`ProtocolError` for anything else."""
    message = _json_object(line)
    if "event" in message:
        kind = EVENTS.get(message["event"]) if isinstance(message["event"], str) else None
        if kind is None:
            raise ProtocolError(f"unknown event {echo(message['event'])}")
        return Envelope(event=from_wire(kind, message.get("data"), f"{kind.name} event"))
    request_id = request_id_of(message)
    if message.get("ok") is True:
        result = message.get("result")
        if answers is not None:
            result = from_wire(answers, result, "result")
        return Envelope(reply=Reply(request_id, result))
    error = message.get("error")
    return Envelope(reply=Reply(request_id, error=str(error or "the daemon refused")))
