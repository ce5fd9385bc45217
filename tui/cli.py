"""The ``lapse`` command: the composition root (docs/architecture.md §1, §2).

It reads the config, builds the rig for ``lapse daemon``, and talks to the
daemon for everything else. Bad input exits with status 2 and one line that
says what is wrong and what is allowed; nothing is changed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from core.after.outputs import made_products
from core.client import (
    Client,
    DaemonRefused,
    as_json,
    daemon_answers,
    ensure_daemon,
    last_words,
)
from core.config import ChoicesFile, Config, load_config
from core.journal import STOPPED_WHILE_DOWN, DamagedRun, Journal, RunInfo
from core.model import protocol
from core.model.after import after_line
from core.model.clock_report import clock_advice, crystal_error_ppm
from core.model.clock_trust import waiting_line
from core.model.durations import (
    DAY_NS,
    MINUTE_NS,
    NS_PER_S,
    format_approx,
    format_duration,
    parse_signed_duration,
    wall_iso,
)
from core.model.errors import (
    ConfigError,
    DurationError,
    LapseError,
    SettingsError,
)
from core.model.hooks import hooks_line
from core.model.panel import panel_line
from core.model.place import Place, parse_place
from core.model.plan import make_plan
from core.model.records import FrameRecord
from core.model.run_state import RunState
from core.model.settings import RUN, Settings
from core.model.toml_text import ECHO_CHARS, cut, echo
from core.model.upload import upload_line
from core.model.windows import Moment, SunEvent, When, parse_moment, tidy_between
from core.paths import Paths, resolve_paths
from tui import after_cli

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CLOSED_PIPE = 141
"""What a shell reports for a command whose reader closed the pipe (128 + SIGPIPE)."""
STOP_INTERRUPTED = "--stop-interrupted"
STOP_WAIT_S = 30.0
"""How long ``lapse stop`` waits for the daemon it started to have ended the run."""
_UNSET: Any = object()
ENVIRONMENT: tuple[tuple[str, str], ...] = (
    ("LAPSE_CONFIG", "the config file (~/.config/lapse/config.toml)"),
    ("LAPSE_STATE_DIR", "the journal and the daemon's log (~/.local/state/lapse)"),
    ("LAPSE_SOCKET", "the daemon's socket ($XDG_RUNTIME_DIR/lapse.sock)"),
    ("LAPSE_HW", "gpio or sim: real or simulated hardware, whatever the config says"),
    ("LAPSE_CAMERA", "usb or virtual: a real USB camera or libgphoto2's virtual one"),
    ("LAPSE_SIM_EDGE_LOG", "a file the simulated rig appends every line edge to"),
    ("LAPSE_GRAPHICS", "kitty, sixel or halfcell: how the screen draws the last frame"),
)
"""Every environment variable lapse reads, as ``lapse --help`` lists them (README too)."""


class UsageError(Exception):
    """Bad input on the command line: exit 2 with this one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (not the usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# Durations and counts out of range (a negative one included) are left to
# Settings.validated, whose message names the range.
def _duration_arg(text: str) -> int:
    try:
        return parse_signed_duration(text)
    except DurationError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _exposure_arg(text: str) -> int | None:
    if text.strip().lower() == "pulse":
        return None
    try:
        return parse_signed_duration(text)
    except DurationError:
        raise argparse.ArgumentTypeError(
            f"{echo(text)} is not an exposure: use pulse, or a bulb time such as 2s or 500ms"
        ) from None


# ASCII digits only, as in a duration: int() and float() would also read "١٠" and "１０".
_WHOLE = re.compile(r"[+-]?[0-9]{1,30}", re.ASCII)
_DECIMAL = re.compile(r"[+-]?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30})", re.ASCII)


def _count_arg(text: str) -> int:
    if not _WHOLE.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(
            f"{echo(text)} is not a number of frames: use a whole number, 0 runs until stopped"
        )
    return int(text)


def _ppm_arg(text: str) -> float:
    if not _DECIMAL.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(
            f"{echo(text)} is not a clock trim: use parts per million, such as 18 or -3.5"
        )
    return float(text)


def _last_arg(text: str) -> int:
    if not _WHOLE.fullmatch(text.strip()) or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"{echo(text)} is not a number of frames to show: use a whole number from 1"
        )
    return int(text)


def _folder_arg(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("name a folder, such as --output ~/sunset")
    # Absolute here: the daemon does not share this shell's working folder.
    return os.path.abspath(os.path.expanduser(text))


ALIGN_SLACK_NS = 2 * NS_PER_S
"""Room, past the leads, for the start to reach the daemon: the first aligned shutter is
never one the daemon must refuse as too soon."""


def aligned_start(wall_ns: int, interval_ns: int, lead_ns: int, delay_ns: int = 0) -> str:
    """The first wall time at least ``lead_ns`` (and the config's delay) after
    ``wall_ns`` that is a whole multiple of ``interval_ns`` since the epoch (UTC), as
    ``Start.at`` takes it: every Pi whose clock is kept puts its shutters there."""
    earliest = wall_ns + max(lead_ns, delay_ns)
    return wall_iso(-(-earliest // interval_ns) * interval_ns)


def _at_arg(text: str) -> str:
    """``05:30`` (its next coming, in local time) or a date and time; ISO-8601 with the
    zone, as the daemon takes it."""
    return at_time(text, datetime.now().astimezone())


def at_time(text: str, now: datetime) -> str:
    """The wall time ``text`` names, seen from ``now`` (aware, local): ``HH:MM`` or
    ``HH:MM:SS`` is the next such time, a date and time without a zone is local."""
    spelled = text.strip()
    try:
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", spelled):
            clock = datetime.strptime(spelled, "%H:%M:%S" if spelled.count(":") == 2 else "%H:%M")
            moment = now.replace(
                hour=clock.hour, minute=clock.minute, second=clock.second, microsecond=0
            )
            if moment <= now:
                moment += timedelta(days=1)
            return moment.isoformat()
        moment = datetime.fromisoformat(spelled)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{echo(spelled)} is not a time: use 05:30, or a date and time such as 2026-12-01T18:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a time without a zone is this Pi's local time
    return moment.isoformat()


def _at_or_sun_arg(text: str) -> str | Moment:
    """``--at``: a clock time or a date and time (:func:`_at_arg`), or a moment of the sun
    such as ``sunrise-1h``, found at the place once the config is read."""
    if not text.strip().lower().startswith(tuple(SunEvent)):
        return _at_arg(text)
    try:
        return parse_moment(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


SUN_SEARCH_DAYS = 400
"""How far ahead ``--at sunrise`` looks: beyond a polar night or day."""


def sun_start(moment: Moment, place: Place | None, wall_ns: int, lead_ns: int) -> str:
    """The first time ``moment`` comes at ``place`` at least ``lead_ns`` after ``wall_ns``, as
    ``Start.at`` takes it; :class:`UsageError` when the place is unknown or the sun does
    not get there within :data:`SUN_SEARCH_DAYS`."""
    from core.daemon.sky import AstralSky  # astral is loaded only when the sun is asked for

    if place is None or not place.known:
        raise UsageError(
            f"--at {moment.text} needs to know where the rig stands: set [place] latitude"
            " and longitude in the config, or give --place LAT,LON"
        )
    sky = AstralSky(place)
    day = sky.day_of(wall_ns) - timedelta(days=1)
    for _ in range(SUN_SEARCH_DAYS):
        at = sky.moment_ns(moment, day)
        if at is not None and at >= wall_ns + lead_ns:
            return wall_iso(at)
        day += timedelta(days=1)
    raise UsageError(f"{moment.text} does not come in the next {SUN_SEARCH_DAYS} days there")


def _between_arg(text: str) -> str:
    try:
        return tidy_between(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--between: {error}") from None


def _when_arg(text: str) -> When:
    try:
        return When(text.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in When)
        raise argparse.ArgumentTypeError(f"{echo(text)} is not one of {allowed}") from None


def _angle_arg(text: str) -> float:
    # The range is the setting's to say (night's sun angle must be between …).
    if not _DECIMAL.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(
            f"{echo(text)} is not the sun's altitude: use degrees, such as -12"
        )
    return float(text)


def _place_arg(text: str) -> Place:
    try:
        return parse_place(text)
    except SettingsError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _shutter_speed_arg(text: str) -> str:
    try:
        return protocol.RunCamera(shutter_speed=text.strip()).shutter_speed or ""
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _seconds_arg(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise argparse.ArgumentTypeError(f"{echo(text)} is not a number of seconds, such as 1.5")
    return seconds


def _port_arg(text: str) -> int:
    # ASCII digits only, as in a duration: int() would also read "８０００".
    digits = text.strip()
    if digits.isascii() and digits.isdigit() and len(digits) <= 5 and 1 <= int(digits) <= 65535:
        return int(digits)
    raise argparse.ArgumentTypeError(
        f"{echo(text)} is not a port: use a port from 1 to 65535, such as 8000"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lapse",
        description="An intervalometer for the Raspberry Pi. Without a command: the TUI.",
        epilog="environment:\n"
        + "\n".join(f"  {name:<19} {meaning}" for name, meaning in ENVIRONMENT),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--kiosk", action="store_true", help="for a screen at boot: the TUI never quits"
    )
    commands = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    daemon = commands.add_parser("daemon", help="run the engine in the foreground (for systemd)")
    daemon.add_argument(
        "--stop",
        action="store_true",
        help="end the daemon that runs (refused while a run is going: `lapse stop` it first)",
    )
    daemon.add_argument(
        STOP_INTERRUPTED,
        action="store_true",
        help="record an interrupted run as stopped instead of resuming it"
        " (how `lapse stop` ends a run when no daemon runs)",
    )
    commands.add_parser(
        "release", help="drive every output inactive (when no daemon runs; for ExecStopPost)"
    )

    run = commands.add_parser("run", help="start a sequence (starts a daemon if none answers)")
    run.add_argument("--interval", type=_duration_arg, help="e.g. 10s, 3min, 1h30m")
    run.add_argument("--frames", type=_count_arg, help="how many frames; 0 runs until stopped")
    run.add_argument(
        "--power", action=argparse.BooleanOptionalAction, help="switch camera power per frame"
    )
    run.add_argument("--delay", type=_duration_arg, help="wait this long before the first frame")
    run.add_argument(
        "--at",
        type=_at_or_sun_arg,
        metavar="TIME",
        help="open the first shutter at this time: 05:30 (the next one), 2026-12-01T18:00,"
        " or the sun's next sunrise-1h (sunrise, sunset, dawn, dusk)",
    )
    run.add_argument(
        "--between",
        type=_between_arg,
        metavar="WINDOW",
        help="shoot only inside this daily window: sunset..sunrise, sunset-30min..sunrise+15min,"
        " 06:00..20:00 (the other slots are skipped)",
    )
    run.add_argument(
        "--when",
        type=_when_arg,
        metavar="WHEN",
        help="night: shoot only while the sun is below the night angle (-6 unless"
        " --sun-below); day: only while above; always",
    )
    run.add_argument(
        "--night-interval",
        type=_duration_arg,
        metavar="D",
        help="another interval while it is night (the sun below the night angle), each pace"
        " on its own grid from the crossing",
    )
    run.add_argument(
        "--sun-below",
        dest="night_angle",
        type=_angle_arg,
        metavar="DEG",
        help="night is the sun below this altitude in degrees, such as -12 (and, without"
        " --when, shoot only then)",
    )
    run.add_argument(
        "--place",
        type=_place_arg,
        metavar="LAT,LON",
        help="where the rig stands, for the sun's times: 51.48,-0.01 (default: [place])",
    )
    run.add_argument(
        "--align",
        action="store_true",
        help="put the shutters on whole multiples of the interval in clock time (every"
        " minute at :00), the same on every Pi whose clock is kept",
    )
    run.add_argument(
        "--exposure", type=_exposure_arg, default=_UNSET, help="pulse, or a bulb time such as 2s"
    )
    run.add_argument("--focus-lead", type=_duration_arg, help="how long focus leads the shutter")
    run.add_argument("--clock-ppm", type=_ppm_arg, help="this Pi's clock error, e.g. 18.5")
    run.add_argument(
        "--min-power-off",
        type=_duration_arg,
        help="the shortest the camera's power may be off; it stays on between frames that"
        " would leave it off for less (1s)",
    )
    run.add_argument(
        "--trigger",
        choices=protocol.RUN_TRIGGERS,
        help="for this run: fire the camera over USB, or by its wired line and download"
        " over USB (default: [camera] trigger)",
    )
    run.add_argument(
        "--shutter-speed",
        type=_shutter_speed_arg,
        metavar="S",
        help="for this run: one of the camera's own shutter speeds, such as 1/125",
    )
    run.add_argument(
        "--auto-exposure",
        action="store_const",
        const=True,
        help="for this run: set shutter speed and ISO frame by frame from each frame's"
        " brightness, within [exposure]'s limits (default: [exposure] mode)",
    )
    run.add_argument(
        "--output",
        metavar="DIR",
        type=_folder_arg,
        help="save the camera's photos in this folder (the journal stays in the run's folder)",
    )
    run.add_argument("--wait", action="store_true", help="print each frame until the run ends")

    status = commands.add_parser("status", help="what the daemon is doing")
    status.add_argument("--json", action="store_true", help="machine-readable")
    commands.add_parser("stop", help="stop the run and release every output")
    resume = commands.add_parser(
        "resume", help="resume a run that waits for the clock after a reboot"
    )
    resume.add_argument(
        "--clock-ok",
        action="store_true",
        help="the clock is right (check `date`): resume on it now, whatever the system says",
    )
    clock = commands.add_parser(
        "clock", help="whether this Pi's clock is kept, its crystal's error, and lapse's trim"
    )
    clock.add_argument("--json", action="store_true", help="machine-readable")
    web = commands.add_parser("web", help="serve the TUI to a browser on this machine")
    web.add_argument("--port", type=_port_arg, default=8000, help="port on localhost (8000)")
    web.add_argument("--host", default="localhost", help="address to listen on (localhost)")
    log = commands.add_parser("log", help="list runs, or the frames of one run")
    log.add_argument("run", nargs="?", help="a run id from the list, or 'latest'")
    log.add_argument("--json", action="store_true", help="JSON lines")
    log.add_argument("--last", type=_last_arg, metavar="N", help="only the run's newest N frames")
    _add_sim(commands)
    after_cli.add_commands(commands)
    return parser


def _add_sim(commands: Any) -> None:
    """``lapse sim``: a hand on the simulated box's controls."""
    sim = commands.add_parser(
        "sim", help="turn, toggle or press the simulated box's controls ([inputs] on sim pins)"
    )
    moves = sim.add_subparsers(dest="move", metavar="move", parser_class=_Parser, required=True)
    turn = moves.add_parser("turn", help="turn a switch to a position, or the encoder by steps")
    turn.add_argument("control", choices=("value", "unit", "encoder"))
    turn.add_argument(
        "to", help="1, 3, 10, 30 (value); s, min, h, days (unit); between; +N or -N steps"
    )
    toggle = moves.add_parser("toggle", help="flip the power toggle (or set it: on, off)")
    toggle.add_argument("control", choices=("power",))
    toggle.add_argument("to", nargs="?", default="toggle", choices=("on", "off", "toggle"))
    press = moves.add_parser("press", help="press the start/stop button")
    press.add_argument(
        "--hold",
        type=_seconds_arg,
        default=0.1,
        metavar="S",
        help="seconds held down (0.1); 1 stops a run",
    )
    for move in (turn, toggle, press):
        move.add_argument(
            "--bounce", type=int, default=0, metavar="N", help="the contact chatters N times first"
        )


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the ``lapse`` command; returns the exit status."""
    env = os.environ if environ is None else environ
    arguments = sys.argv[1:] if argv is None else argv

    def fail(error: Exception, status: int) -> int:
        return _fail(_cut_arguments(str(error), arguments), status)

    try:
        args = build_parser().parse_args(argv)
        paths = resolve_paths(env)
        if args.command is None:
            return _tui(paths, env, kiosk=args.kiosk)
        if args.command == "daemon" and args.stop:
            if args.stop_interrupted:
                raise UsageError(f"--stop ends the daemon, {STOP_INTERRUPTED} starts one: not both")
            return _end_daemon(paths)
        if args.command == "daemon":
            return _daemon(paths, env, stop_interrupted=args.stop_interrupted)
        if args.command == "release":
            return _release(paths, env)
        if args.command == "web":
            return _web(args)
        if args.command in ("render", "keogram", "startrails"):
            return after_cli.run_command(args, paths.state_dir)
        if args.command == "after":
            return after_cli.after_command(args, paths.state_dir)
        handler = {
            "sim": _sim,
            "run": _run,
            "status": _status,
            "stop": _stop,
            "resume": _resume,
            "log": _log,
            "clock": _clock,
        }[args.command]
        return handler(args, paths)
    except UsageError as error:
        return fail(error, EXIT_USAGE)
    except (ConfigError, SettingsError) as error:
        return fail(error, EXIT_USAGE)
    except DaemonRefused as error:
        return fail(error, EXIT_FAILED)
    except LapseError as error:
        return fail(error, EXIT_FAILED)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`lapse log | head`): end quietly, as a SIGPIPE would.
        return _flushed(EXIT_CLOSED_PIPE)


def _cut_arguments(message: str, arguments: Sequence[str]) -> str:
    """``message`` with every over-long command-line argument it repeats cut short.

    argparse and the journal echo what was typed whole: a 5 MB argument would be a
    5 MB error line.
    """
    for argument in sorted(arguments, key=len, reverse=True):
        for value in (argument, argument.partition("=")[2]):
            if len(value) > ECHO_CHARS:
                message = message.replace(repr(value), echo(value)).replace(value, cut(value))
    return message


def _fail(message: str, status: int) -> int:
    print(f"lapse: {message}", file=sys.stderr)
    return status


def _config(paths: Paths) -> Config:
    return load_config(paths.config)


def _defaults(paths: Paths) -> tuple[Config, Config]:
    """The config file, and it with the interface's choices laid over: a run's defaults
    wherever it starts. A choices file set aside is said on stderr."""
    config = _config(paths)
    chosen, set_aside = ChoicesFile(paths.choices, config).load()
    if set_aside is not None:
        print(f"lapse: {set_aside}", file=sys.stderr)
    return config, chosen


# -- lapse daemon ------------------------------------------------------------------
def _daemon(paths: Paths, env: Mapping[str, str], *, stop_interrupted: bool = False) -> int:
    import logging

    from core.clock import SystemClock
    from core.config import ChoicesFile
    from core.daemon.after import AfterSetup
    from core.daemon.box import BoxSetup
    from core.daemon.delivery import DeliverySetup
    from core.daemon.process import configure_logging, run_daemon
    from core.daemon.uploads import UploadSetup
    from core.model.planner import DEFAULT_RESERVE_BYTES

    config = _config(paths)
    configure_logging()
    clock = SystemClock()

    def make_rig():  # type: ignore[no-untyped-def]
        from hw.select import build_rig  # the composition root is where hw is allowed

        return build_rig(config.hardware, env)

    def make_camera(rig):  # type: ignore[no-untyped-def]
        from hw.select import build_camera

        return build_camera(config, rig, paths.state_dir, env, clock)

    def claim_controls(rig):  # type: ignore[no-untyped-def]
        from hw.select import build_controls

        return build_controls(config.inputs, rig)

    def box_base():  # type: ignore[no-untyped-def]
        # Read at each press: the screens' latest choices (frames, delay) count.
        return ChoicesFile(paths.choices, config).load()[0].run

    def make_battery():  # type: ignore[no-untyped-def]
        from hw.battery_readers import open_battery_reader, read_pi_model

        opened = open_battery_reader(config.battery)
        if opened.why_model:
            logging.getLogger("lapse.daemon").info("battery: the model (%s)", opened.why_model)
        return opened.reader, config.battery.model(read_pi_model())

    # Downloads pause at the camera's reserve: the planner counts the same room.
    reserve = max(DEFAULT_RESERVE_BYTES, config.camera.reserve_mb * 1_000_000)
    run_daemon(
        make_rig,
        clock,
        paths,
        make_camera=make_camera,
        make_battery=make_battery,
        reserve_bytes=reserve if config.camera.enabled else DEFAULT_RESERVE_BYTES,
        stop_interrupted=stop_interrupted,
        place=config.place if config.place.known else None,
        after=AfterSetup(config.after, [sys.executable, "-m", "tui.cli", "after"], dict(env)),
        box=BoxSetup(claim_controls, box_base),
        delivery=DeliverySetup(
            config.hooks,
            dict(env),
            UploadSetup(
                config.upload, [sys.executable, "-m", "core.sftp_worker"], dict(env), _user()
            ),
        ),
    )
    return EXIT_OK


def _user() -> str:
    """The daemon's user name: the login on the server when ``[upload] user`` is empty."""
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _end_daemon(paths: Paths) -> int:
    """End the daemon that answers, and wait until its process is gone."""
    hello = daemon_answers(paths.socket)
    if hello is None:
        print("lapse: no daemon is running")
        return EXIT_OK
    with Client(paths.socket, timeout=STOP_WAIT_S).connect() as client:
        client.end_daemon()
    deadline = time.monotonic() + STOP_WAIT_S
    while _process_exists(hello.pid):
        if time.monotonic() > deadline:
            raise LapseError(f"the daemon (pid {hello.pid}) has not ended after {STOP_WAIT_S:g}s")
        time.sleep(0.05)
    print(f"lapse: the daemon (pid {hello.pid}) has ended; every output is released")
    return EXIT_OK


def _process_exists(pid: int) -> bool:
    """Whether ``pid`` still runs: an exited process its parent has not reaped yet
    (a zombie) has ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _release(paths: Paths, env: Mapping[str, str]) -> int:
    """Drive every output inactive: a Pi GPIO keeps its last level after a ``kill -9``."""
    from core.daemon.process import hold_daemon_lock
    from hw.select import build_rig

    config = _config(paths)
    # Only with the daemon lock: a running daemon owns the outputs and releases them itself.
    lock = hold_daemon_lock(paths)
    try:
        rig, _notice = build_rig(config.hardware, env)
        try:
            rig.release()
            states = ", ".join(f"{name} {value:g}" for name, value in rig.outputs().items())
        finally:
            rig.close()
    finally:
        lock.close()
    print(f"lapse: every output released ({states}); rig: {rig.description}")
    return EXIT_OK


def daemon_command() -> list[str]:
    """How a client starts a daemon in the background: this same interpreter and package."""
    return [sys.executable, "-m", "tui.cli", "daemon"]


# -- lapse (the TUI) ---------------------------------------------------------------------
def _tui(paths: Paths, env: Mapping[str, str], *, kiosk: bool) -> int:
    from tui.app import LapseApp
    from tui.link import SocketLink

    config_error = None
    choices: ChoicesFile | None = None
    try:
        choices = ChoicesFile(paths.choices, _config(paths))
    except ConfigError as error:
        # Open anyway, on defaults, keeping no choices over them: a kiosk that exited
        # would be restarted into the same error, over and over.
        config_error = f"{error}; using defaults, not saving"
        print(f"lapse: {config_error}", file=sys.stderr)
        config = Config()
    else:
        config, set_aside = choices.load()
        if set_aside is not None:
            print(f"lapse: {set_aside}", file=sys.stderr)
    from core.journal import Journal
    from themes import theme_for_terminal

    theme = theme_for_terminal(env) if env.get("TERM") == "linux" else None
    # The kiosk's daemon is systemd's: the TUI never starts one of its own there.
    link = SocketLink(paths, None if kiosk else daemon_command())
    app = LapseApp(
        link,
        config,
        choices,
        kiosk=kiosk,
        theme_name=theme,
        journal=Journal(paths.state_dir),
        config_error=config_error,
    )
    app.run()
    return EXIT_OK


def _web(args: argparse.Namespace) -> int:
    from tui.web import WebServer, is_loopback

    try:
        args.host.encode("idna")
    except UnicodeError:  # a label over 63 characters, say: no resolver would take it
        raise LapseError(f"cannot serve on {echo(args.host)}: not a host name or address") from None
    # Each browser tab runs its own `lapse`: one more client of the same daemon.
    server = WebServer(f"{sys.executable} -m tui.cli", host=args.host, port=args.port)
    print(f"lapse: open {server.url} (Ctrl+C ends it)")
    if not is_loopback(args.host):
        print(
            f"lapse: warning: on {echo(args.host)} the page is reachable from the network,"
            " protected only by the key in that address",
            file=sys.stderr,
        )
    try:
        server.serve()
    except OSError as error:  # a host that does not resolve, a port taken: the address's fault
        reason = error.strerror or str(error)
        raise LapseError(f"cannot serve on {echo(args.host)} port {args.port}: {reason}") from None
    return EXIT_OK


# -- lapse run ------------------------------------------------------------------------
def _run(args: argparse.Namespace, paths: Paths) -> int:
    # The interface's choices are this Pi's defaults too: a run started here with no
    # options is the run the interface would start.
    config, chosen = _defaults(paths)
    settings = settings_from_args(chosen.run, args)
    plan = make_plan(settings)  # refuse an impossible plan here, before any daemon is involved
    if settings.paced:
        make_plan(settings.at_night())
    at = args.at
    if isinstance(at, Moment):
        place = args.place or config.place
        at = sun_start(at, place, time.time_ns(), plan.lead_ns + ALIGN_SLACK_NS)
    if args.align:
        if at is not None:
            raise UsageError("--align places the first shutter itself: not with --at")
        at = aligned_start(
            time.time_ns(), settings.interval_ns, plan.lead_ns + ALIGN_SLACK_NS, settings.delay_ns
        )
    if at is not None:
        if args.delay is not None:
            raise UsageError("--delay and a start time (--at, --align): choose one")
        # The defaults' delay is folded into the time (--align) or gives way to it (--at).
        settings = settings.with_changes(delay_ns=0)
    hello = ensure_daemon(paths, daemon_command())
    with Client(paths.socket).connect() as client:
        if args.wait:
            client.subscribe()
        camera = protocol.RunCamera(
            trigger=args.trigger,
            shutter_speed=args.shutter_speed,
            auto_exposure=args.auto_exposure,
        )
        status = client.start(
            settings, args.output, camera if camera.chosen else None, at, args.place
        )
        print(_started_line(status))
        typed_camera = [
            f"{name} {value}"
            for name, value in (("trigger", args.trigger), ("shutter speed", args.shutter_speed))
            if value
        ] + (["auto exposure"] if args.auto_exposure else [])
        also = other_settings_line(
            settings, config=config.run, given=given_keys(args), more=typed_camera
        )
        if also is not None:
            print(also)
        if status.run is not None:
            print(where_line(status.run, status.camera))
        for warning in status.outlook.warnings if status.outlook else ():
            print(f"Warning: {warning}")
        if hello.notice:
            print(f"Note: {hello.notice}")
        if not args.wait or status.run is None:
            return EXIT_OK
        try:
            lines = FrameLines(
                numbered_of(status.run.settings), files_expected=status.camera is not None
            )
            return _follow(client, status.run.id, lines)
        except KeyboardInterrupt:
            print("Detached; the run goes on (`lapse stop` ends it).")
            return EXIT_INTERRUPTED


RUN_OPTIONS: tuple[tuple[str, str], ...] = (
    ("interval", "interval_ns"),
    ("frames", "frames"),
    ("power", "power"),
    ("delay", "delay_ns"),
    ("exposure", "exposure_ns"),
    ("focus_lead", "focus_lead_ns"),
    ("clock_ppm", "clock_ppm"),
    ("min_power_off", "min_power_off_ns"),
    ("between", "between"),
    ("when", "when"),
    ("night_interval", "night_interval_ns"),
    ("night_angle", "night_angle"),
)
"""Each ``lapse run`` option of a setting: its setting key (the argparse name too) and
:class:`Settings` field."""


def given_keys(args: argparse.Namespace) -> set[str]:
    """The settings typed on the command line."""
    # --exposure pulse parses to None, which must still count as given.
    unset = {key: _UNSET if key == "exposure" else None for key, _ in RUN_OPTIONS}
    return {key for key, _ in RUN_OPTIONS if getattr(args, key) is not unset[key]}


def settings_from_args(base: Settings, args: argparse.Namespace) -> Settings:
    """The defaults (config, then the interface's choices) with the command line's on
    top, validated."""
    given = given_keys(args)
    changes = {field: getattr(args, key) for key, field in RUN_OPTIONS if key in given}
    if "night_angle" in given and "when" not in given:
        changes["when"] = When.NIGHT  # --sun-below -12 alone: shoot while it is
    return base.with_changes(**changes)


STARTED_LINE_KEYS = ("interval", "frames", "power")
"""The settings the started line says in any case."""


def other_settings_line(
    settings: Settings, *, config: Settings, given: set[str], more: Sequence[str] = ()
) -> str | None:
    """``Also: exposure 2s (chosen in the interface), delay 10s``: every other setting
    that is not lapse's default, and where it came from unless it was typed; then
    ``more`` (the camera's choices for this run).

    A bulb time left by the interface, or a delay in the config, is no surprise then.
    """
    said = settings.to_dict()
    default = Settings(interval_ns=settings.interval_ns).to_dict()
    from_config = config.to_dict()
    parts = []
    for entry in RUN.fields:
        key = entry.key
        if key in STARTED_LINE_KEYS or said[key] == default[key]:
            continue
        part = f"{entry.spoken_name} {said[key]}"
        if key not in given:
            from_file = said[key] == from_config[key]
            part += " (the config file)" if from_file else " (chosen in the interface)"
        parts.append(part)
    parts += more
    return "Also: " + ", ".join(parts) if parts else None


def counted(count: int, noun: str) -> str:
    """``1 frame``, ``2 frames``: a count with its noun, singular for one."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def frames_phrase(frames: int) -> str:
    """How many frames a run takes: ``240 frames``, ``1 frame``, or ``until stopped`` (0)."""
    return counted(frames, "frame") if frames else "until stopped"


def _started_line(status: protocol.Status) -> str:
    run = status.run
    assert run is not None  # a start answers with its run
    settings = run.settings
    count = frames_phrase(settings.frames)
    power = "camera power on" if settings.power else "camera power off"
    due = run.next_due_ns if run.next_due_ns is not None else run.anchor_ns
    return (
        f"Run {run.id} started: every {format_duration(settings.interval_ns)}, {count}, {power};"
        f" first shutter {when(max(0, due - status.now_ns))}."
    )


def when(wait_ns: int, now: datetime | None = None) -> str:
    """``in 4.0s``, or past a minute ``in 7h12min, at 05:30:00`` (``now``: the local wall
    clock; a day or more away, the date too)."""
    said = f"in {format_approx(wait_ns)}"
    if wait_ns < MINUTE_NS:
        return said
    moment = (now or datetime.now().astimezone()) + timedelta(microseconds=wait_ns // 1000)
    # To the nearest second: the daemon's clock and this one are read a moment apart.
    moment = (moment + timedelta(milliseconds=500)).replace(microsecond=0)
    shown = moment.strftime("%Y-%m-%d %H:%M:%S" if wait_ns >= DAY_NS else "%H:%M:%S")
    return f"{said}, at {shown}"


class FrameLines:
    """Each frame's line, said once.

    With a USB camera a frame is told twice: when its shutter opens and when its file
    is saved (or the camera failed it). While files are expected an ``ok`` frame's line
    waits for that second word, so it is printed once, with its file.
    """

    def __init__(self, frames: int, *, files_expected: bool) -> None:
        self.frames = frames
        """The run's frame count, followed as an ``update`` changes it."""
        self.files_expected = files_expected
        self._held: dict[int, FrameRecord] = {}

    def take(self, record: FrameRecord) -> list[str]:
        """The lines ``record`` completes: none while its file is still to come."""
        if self.files_expected and record.status == "ok" and record.file is None:
            self._held[record.frame] = record
            return []
        self._held.pop(record.frame, None)
        return [frame_line(record, self.frames)]

    def rest(self) -> list[str]:
        """The frames still waiting for a file when the run ends, as they stand."""
        held, self._held = self._held, {}
        return [frame_line(held[frame], self.frames) for frame in sorted(held)]


def where_line(run: protocol.RunStatus, camera: protocol.CameraStatus | None) -> str:
    """Where a run's photos and journal are, for people."""
    if camera is None or camera.downloads == "off":
        return f"Journal: {run.folder} (the photos stay on the camera's card)"
    if run.photos == run.folder:
        return f"Photos and journal: {run.folder}"
    return f"Photos: {run.photos}  journal: {run.folder}"


def _follow(client: Client, run_id: str, lines: FrameLines) -> int:
    """Print one line per frame until the run ends; the exit status tells how it ended."""
    for event in client.events():
        match event:
            case protocol.FrameEvent(run=run) if run == run_id:
                for line in lines.take(event.record):
                    print(line, flush=True)
            case protocol.MissedEvent(run=run) if run == run_id:
                span = (
                    f"frame {event.first}"
                    if event.first == event.last
                    else f"frames {event.first}–{event.last}"
                )
                print(f"{span} missed: {event.reason}", flush=True)
            case protocol.FaultEvent():
                print(f"fault: {event.message}", flush=True)
            case protocol.CameraEvent():
                print(event.message, flush=True)
            case protocol.StateEvent(status=status) if (
                status.run is not None and status.run.id == run_id
            ):
                lines.frames = numbered_of(status.run.settings)
                if not status.state.live:
                    for line in lines.rest():
                        print(line)
                    print(_ended_line(status))
                    return (
                        EXIT_OK
                        if status.state.ended and status.state is not RunState.FAILED
                        else EXIT_FAILED
                    )
    return EXIT_FAILED


def numbered_of(settings: Settings) -> int:
    """The count a frame's number is said out of (``frame 12/100``): none in a run with a
    window, whose slots outside it are numbered too and do not count."""
    return 0 if settings.windowed else settings.frames


def frame_line(record: FrameRecord, frames: int) -> str:
    """``frame 12/100  due 08:15:12.000000  late 48us  ok`` — one frame for people."""
    number = f"frame {record.frame}" + (f"/{frames}" if frames else "")
    due = _due_clock(record)
    if record.status == "ok":
        tail = f"late {format_approx(record.lateness_ns or 0)}  ok"
    else:
        tail = f"{record.status}" + (f": {record.error}" if record.error else "")
    if record.exposure is not None:
        tail += f"  at {record.exposure}"
    if record.brightness is not None:
        tail += f"  brightness {record.brightness:.0%}"
    if record.file:
        tail += f"  {record.file}"  # last: a script takes the line's end as the file
    return f"{number}  due {due}  {tail}"


def _due_clock(record: FrameRecord) -> str:
    try:
        moment = datetime.fromisoformat(record.wall)
    except ValueError:
        return record.wall
    if record.lateness_ns:
        moment -= timedelta(microseconds=record.lateness_ns / 1000)
    return moment.strftime("%H:%M:%S.%f")


def _ended_line(status: protocol.Status) -> str:
    run = status.run
    counts = run.counts if run is not None else protocol.Counts()
    return (
        f"Run {run.id if run else '?'} {status.state}: {counts.ok} ok,"
        f" {counts.missed} missed, {counts.errors} errors{unknown_part(counts)}."
    )


# -- lapse sim ----------------------------------------------------------------------------
def _sim(args: argparse.Namespace, paths: Paths) -> int:
    if daemon_answers(paths.socket) is None:
        raise LapseError("no daemon is running: start one (`lapse daemon`) with [inputs] wired")
    if args.move == "press":
        control, to = "button", "press"
    else:
        control, to = args.control, args.to
    held_s = args.hold if args.move == "press" else 0.1
    with Client(paths.socket, timeout=10.0 + held_s).connect() as client:
        status = client.handle(control, to, held_s=held_s, bounce=args.bounce)
    print(f"lapse: {panel_line(status.panel)}" if status.panel else "lapse: done")
    return EXIT_OK


# -- lapse status -----------------------------------------------------------------------
def _status(args: argparse.Namespace, paths: Paths) -> int:
    hello = daemon_answers(paths.socket)
    if hello is None:
        journal = Journal(paths.state_dir)
        active = journal.active_run()
        latest = journal.latest_run()
        if args.json:
            print(
                as_json(
                    {
                        "daemon": False,
                        "active_run": _run_json(active, journal),
                        "latest_run": _run_json(latest, journal),
                    }
                )
            )
            return EXIT_FAILED
        print("lapse: the daemon is not running.")
        if active is not None:
            print(
                f"  run {active.id} was interrupted; it resumes when the daemon starts"
                " (`lapse daemon`, or `lapse run`)."
            )
        elif latest is not None:
            print(f"  last run {latest.id}: {latest.state}.")
        return EXIT_FAILED  # "not there", as for every command that needs it
    with Client(paths.socket).connect() as client:
        status = client.status()
    if args.json:
        print(as_json({"daemon": True, **protocol.to_wire(status)}))
        return EXIT_OK
    for line in status_lines(status):
        print(line)
    return EXIT_OK


def status_lines(status: protocol.Status) -> list[str]:
    """The daemon's status for people, a few lines."""
    state = status.state
    rig = "simulated rig" if status.simulated else status.rig
    run = status.run
    if run is None:
        lines = [f"lapse: {state} ({rig})."]
    elif state.live:
        settings = run.settings.to_dict()
        frames = run.settings.frames
        of = f" of {frames}" if frames else ""
        counts = run.counts
        lines = [
            f"lapse: {state} run {run.id} ({rig})"
            + (", resumed after an interruption" if run.resumed else ""),
            f"  every {settings['interval']}, camera power {'on' if settings['power'] else 'off'},"
            f" exposure {settings['exposure']}",
            f"  frames: {counts.ok} ok{of}, {counts.missed} missed, {counts.errors} errors"
            + unknown_part(counts),
        ]
        if run.next_due_ns is not None:
            wait = when(max(0, run.next_due_ns - status.now_ns))
            lines.append(f"  next shutter: frame {run.next_frame} {wait}")
        if run.window is not None:
            lines.append(f"  {window_line(run, status.now_ns)}")
        if run.pace is not None and run.pace_interval_ns is not None:
            pace = format_duration(run.pace_interval_ns)
            night = f"the sun below {settings['night_angle']:g}° is night"
            lines.append(f"  pace: {run.pace}, every {pace} ({night})")
        lines.append(f"  {where_line(run, status.camera)}")
    else:
        counts = run.counts
        lines = [
            f"lapse: run {run.id} {state}: {counts.ok} ok,"
            f" {counts.missed} missed, {counts.errors} errors{unknown_part(counts)}"
            f" ({rig}).",
            f"  {where_line(run, status.camera)}",
        ]
    if status.clock_wait is not None:
        lines += [
            f"  {waiting_line(status.clock_wait)}",
            "  it resumes once the clock is trusted; when `date` is right, `lapse resume"
            " --clock-ok` resumes it now",
        ]
    last = None if run is None else run.last_frame
    if last is not None:
        late = format_approx(last.lateness_ns) + " late" if last.lateness_ns is not None else ""
        lines.append(f"  last frame: {last.frame} {last.status} {late}".rstrip())
    if status.camera is not None:
        lines.append(camera_line(status.camera))
    if status.battery is not None:
        lines.append(battery_line(status.battery, status.now_ns))
    if status.outlook is not None:
        lines += [f"  warning: {text}" for text in status.outlook.warnings]
        lines += [f"  note: {text}" for text in status.outlook.notes]
    if status.after is not None:
        lines.append(f"  {after_line(status.after)}")
    if status.panel is not None:
        lines.append(f"  {panel_line(status.panel)}")
    if status.hooks is not None:
        lines.append(f"  {hooks_line(status.hooks)}")
    if status.upload is not None:
        lines.append(f"  {upload_line(status.upload)}")
    if status.fault:
        lines.append(f"  fault: {status.fault}")
    if status.notice:
        lines.append(f"  note: {status.notice}")
    return lines


def window_line(run: protocol.RunStatus, now_ns: int) -> str:
    """``window: sunset-30min..sunrise, open; closes in 9h12min, at 07:58:27`` (or
    ``closed; opens in …``), ``now_ns`` the status's daemon time."""
    line = f"window: {run.window}"
    if run.window_closes_ns is not None:
        return f"{line}, open; closes {when(max(0, run.window_closes_ns - now_ns))}"
    if run.window_opens_ns is not None:
        return f"{line}, closed; opens {when(max(0, run.window_opens_ns - now_ns))}"
    return f"{line}, closed; it does not open within a year"


def unknown_part(counts: protocol.Counts) -> str:
    """``, 2 unknown`` when slots are unknown (the daemon ended around their shutters), and
    ``, 1,200 skipped outside the window``; nothing when none is, as in most runs."""
    said = f", {counts.unknown} unknown" if counts.unknown else ""
    skipped = counts.skipped
    return said + (f", {skipped:,} skipped outside the window" if skipped else "")


def battery_line(battery: protocol.BatteryStatus, now_ns: int) -> str:
    """``  battery: 82% (sysfs BAT0, 7.90 V), lasts about 9h40min`` or why it cannot be read."""
    if battery.error:
        return f"  battery ({battery.source}): could not read it: {battery.error}"
    shown = battery.at(now_ns)
    details = [shown.source]
    if shown.voltage_v is not None:
        details.append(f"{shown.voltage_v:.2f} V")
    line = f"  battery: {shown.percent:.0f}% ({', '.join(details)})"
    if shown.charging:
        return line + ", on external power"
    if shown.lasts_ns is not None:
        line += f", lasts about {format_approx(shown.lasts_ns)}"
    return line


def camera_line(camera: protocol.CameraStatus) -> str:
    """``  camera (usb): Nikon DSC D3400, battery 75%, 12 files saved`` or why it is away."""
    head = f"  camera ({camera.trigger}"
    head += ", virtual): " if camera.virtual else "): "
    if not camera.connected:
        return head + f"not connected ({camera.fault or 'looking for it'})"
    parts = [camera.model or "unknown model"]
    if camera.battery:
        parts.append(f"battery {camera.battery}")
    if camera.downloads == "off":
        parts.append("files kept on the card")
    else:
        parts.append(f"{camera.saved} files saved")
    if camera.exposure:
        parts.append(f"auto exposure {camera.exposure}")
    if camera.paused:
        parts.append(f"downloads paused: {camera.paused}")
    return head + ", ".join(parts)


def _run_json(info: RunInfo | None, journal: Journal) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "id": info.id,
        "state": info.state,
        "created": info.created,
        "ended": info.ended,
        "end_reason": info.end_reason,
        "rig": info.rig,
        "folder": str(info.path),
        "output": info.output,
        "settings": info.settings.to_dict(),
        "counts": journal.frame_counts(info.id),
    }


# -- lapse clock --------------------------------------------------------------------------
def _clock(args: argparse.Namespace, paths: Paths) -> int:
    from core.clock import read_kernel_clock

    kernel = read_kernel_clock()
    trim, run_id = _trim(paths)
    synchronised = None if kernel is None else kernel.synchronised
    freq = None if kernel is None else kernel.freq_ppm
    if args.json:
        print(
            as_json(
                {
                    "synchronised": synchronised,
                    "kernel_freq_ppm": freq,
                    "crystal_ppm": None if freq is None else crystal_error_ppm(freq),
                    "max_error_us": None if kernel is None else kernel.maxerror_us,
                    "trim_ppm": trim,
                    "trim_run": run_id,
                }
            )
        )
        return EXIT_OK
    if kernel is None:
        said = "the kernel does not say (no adjtimex)"
    elif kernel.synchronised:
        said = f"synchronised (error within {format_approx(kernel.maxerror_us * 1_000)})"
    else:
        said = "not synchronised"
    print(f"system clock: {said}")
    if freq is not None:
        print(
            f"kernel correction: {freq:+.3f} ppm (the crystal's error:"
            f" {crystal_error_ppm(freq):+.3f} ppm)"
        )
    source = f"run {run_id}" if run_id else "the next run's, from the config and your choices"
    print(f"lapse's trim: clock_ppm {trim:+.1f} ({source})")
    print(clock_advice(synchronised, freq, trim))
    return EXIT_OK


def _trim(paths: Paths) -> tuple[float, str | None]:
    """The trim lapse applies now and the run it is of: the running run's, else the next
    run's defaults' (and None)."""
    if daemon_answers(paths.socket) is not None:
        with Client(paths.socket).connect() as client:
            status = client.status()
        if status.state.live and status.run is not None:
            return status.run.settings.clock_ppm, status.run.id
    _config_file, chosen = _defaults(paths)
    return chosen.run.clock_ppm, None


# -- lapse stop ---------------------------------------------------------------------------
def _stop(args: argparse.Namespace, paths: Paths) -> int:
    if daemon_answers(paths.socket) is None:
        return _stop_interrupted(paths)
    with Client(paths.socket, timeout=30).connect() as client:
        return _stop_running(client)


def _stop_running(client: Client) -> int:
    status = client.stop()
    counts = status.run.counts if status.run is not None else protocol.Counts()
    print(
        f"Stopped run {status.run.id if status.run else '?'}: {counted(counts.ok, 'frame')} ok,"
        f" {counts.missed} missed{unknown_part(counts)}; every output is released."
    )
    return EXIT_OK


def _stop_interrupted(paths: Paths) -> int:
    """End the run a daemon left active, through a daemon started to record it stopped.

    Only the daemon writes the journal, and one started this way fires nothing for the
    run. Another client may have started a daemon meanwhile that resumes the run: then
    that one is asked to stop it.
    """
    journal = Journal(paths.state_dir)
    active = journal.active_run()
    if active is None:
        return _fail("no run is going (the daemon is not running)", EXIT_FAILED)
    ensure_daemon(paths, [*daemon_command(), STOP_INTERRUPTED])
    deadline = time.monotonic() + STOP_WAIT_S
    with Client(paths.socket, timeout=30).connect() as client:
        # A daemon that resumes the run answers before it has resumed it: until the
        # run is live or has ended, it is on its way to one or the other.
        while (info := journal.get_run(active.id)).state == "active":
            status = client.status()
            if status.state.live and status.run is not None and status.run.id == active.id:
                return _stop_running(client)
            if time.monotonic() > deadline:
                return _fail(
                    f"run {active.id} neither resumed nor ended; {last_words(paths.daemon_log)}",
                    EXIT_FAILED,
                )
            time.sleep(0.05)
    if info.end_reason == STOPPED_WHILE_DOWN:
        print(f"Stopped run {active.id} (the daemon was not running; no output was on).")
    else:
        print(f"Run {active.id} had already ended: {info.state} ({info.end_reason}).")
    return EXIT_OK


# -- lapse resume -------------------------------------------------------------------------
def _resume(args: argparse.Namespace, paths: Paths) -> int:
    if daemon_answers(paths.socket) is None:
        return _fail(
            "the daemon is not running; it resumes an interrupted run when it starts"
            " (`lapse daemon`)",
            EXIT_FAILED,
        )
    with Client(paths.socket, timeout=30).connect() as client:
        status = client.resume(clock_ok=args.clock_ok)
    run = status.run
    if run is None:
        return _fail(f"no run resumed: the daemon is {status.state}", EXIT_FAILED)
    if not status.state.live:  # every slot left was due while it waited
        print(_ended_line(status))
        return EXIT_OK
    line = f"Resumed run {run.id} on the clock as it is ({datetime.now():%Y-%m-%d %H:%M:%S})"
    if run.next_due_ns is not None:
        wait = format_approx(max(0, run.next_due_ns - status.now_ns))
        line += f"; next shutter: frame {run.next_frame} in {wait}"
    print(line + ".")
    return EXIT_OK


# -- lapse log ------------------------------------------------------------------------------
def _log(args: argparse.Namespace, paths: Paths) -> int:
    journal = Journal(paths.state_dir)
    if args.run is None:
        if args.last is not None:
            raise UsageError("--last needs a run: `lapse log latest --last 20`")
        runs, damaged = journal.scan_runs()
        if args.json:
            for entry in [*map(_damaged_json, damaged), *(_run_json(i, journal) for i in runs)]:
                print(as_json(entry).replace("\n", "").replace("  ", ""))
            return EXIT_OK
        if not runs and not damaged:
            print("No runs yet. Start one with `lapse run --interval 10s`.")
            return EXIT_OK
        # First: a damaged run may be one a daemon left running, and nothing resumes it.
        for broken in damaged:
            print(f"{broken.id}  damaged   {broken.problem}")
        for info in runs:
            counts = journal.frame_counts(info.id)
            uncounted = protocol.Counts(unknown=counts["unknown"], skipped=counts["skipped"])
            print(
                f"{info.id}  {info.state:<9} every {info.settings.to_dict()['interval']:<8}"
                f" {counts.get('ok', 0)} ok, {counts.get('missed', 0)} missed,"
                f" {counts.get('error', 0)} errors{unknown_part(uncounted)}"
            )
            for _, text in journal.notes(info):
                print(f"  {text}")
        queue = _outbox_line(paths)
        if queue:
            print(queue)
        return EXIT_OK
    info = journal.named_run(args.run)
    # Printed as read: a journal of millions of lines is never held whole.
    records = (
        journal.frames(info.id) if args.last is None else journal.last_frames(info.id, args.last)
    )
    if args.json:
        for record in records:
            print(record.to_json())
        return EXIT_OK
    settings = info.settings
    print(
        f"Run {info.id}: {info.state}, every {format_duration(settings.interval_ns)},"
        f" {frames_phrase(settings.frames)}, rig {info.rig}"
    )
    print(f"  folder: {info.path}" + (f"  photos: {info.output}" if info.output else ""))
    made = made_products(info)
    if made:
        print("  made: " + ", ".join(path.name for path in made))
    for wall, text in journal.notes(info):
        print(f"  note ({wall}): {text}")
    for record in records:
        print(log_line(record, numbered_of(settings)))
    return EXIT_OK


def _outbox_line(paths: Paths) -> str:
    """The upload queue for ``lapse log``, read from its file (daemon or none); the daemon's
    last error when one answers. Empty when nothing was ever uploaded."""
    from core.outbox import read_outbox

    try:
        outbox = read_outbox(paths.state_dir)
    except OSError as error:
        return f"uploads: cannot read the queue: {error.strerror or error}"
    if outbox is None:
        return ""
    line = f"uploads: {len(outbox.waiting)} waiting, {outbox.sent:,} sent"
    if outbox.last_sent is not None:
        remote, at = outbox.last_sent
        line += f"; last {remote} at {at}"
    if daemon_answers(paths.socket, timeout=1.0) is not None:
        with contextlib.suppress(LapseError, OSError):
            with Client(paths.socket, timeout=2.0) as client:
                upload = client.status().upload
            if upload is not None and upload.last_error is not None:
                stopped = "STOPPED: " if upload.stopped else ""
                line += f"\n  last error: {stopped}{upload.last_error}"
    return line


def _damaged_json(run: DamagedRun) -> dict[str, Any]:
    return {"id": run.id, "damaged": True, "problem": run.problem, "state": run.state}


def log_line(record: FrameRecord, frames: int) -> str:
    """One line of ``lapse log``: a frame, or a gap logged as one range, said as one line
    (``frames 12–2,600,011 of 3,000,000  from 08:15:12.000000  missed: …``)."""
    if record.last is None:
        return frame_line(record, frames)
    of = f" of {frames:,}" if frames else ""
    why = f": {record.error}" if record.error else ""
    return (
        f"frames {record.frame:,}–{record.last:,}{of}  from {_due_clock(record)}"
        f"  {record.status}{why}"
    )


def entry() -> None:
    """Console-script entry point."""
    try:
        status = main()
    except SystemExit as done:  # argparse's --help and usage errors
        status = EXIT_OK if done.code is None else done.code if isinstance(done.code, int) else 1
    sys.exit(_flushed(status))


def _flushed(status: int) -> int:
    """``status``, once stdout is flushed; :data:`EXIT_CLOSED_PIPE` if its reader went
    away, with nothing more to raise at exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_CLOSED_PIPE
    return status


if __name__ == "__main__":
    entry()
