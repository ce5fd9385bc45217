"""Bad input, never a traceback: one clear line, exit status 2, nothing changed.

Durations of thousands of digits or in other scripts' digits, TOML and JSON
nested thousands deep, ports out of range, megabytes echoed into an error line,
and a kiosk opened on a bad config (docs/architecture.md §9).
"""

from __future__ import annotations

import socket

import pytest

from core.model.durations import parse_duration, parse_signed_duration
from core.model.errors import DurationError
from tests.conftest import Lapse
from tui import cli

GOOD_CONFIG = b'[run]\ninterval = "10s"\n'


def refused_in_one_line(
    lapse: Lapse,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
) -> str:
    """Run the real ``lapse`` entry on ``args``; it must refuse in one line with status 2.

    The installation's variables are the process's too, so a daemon that bad input
    wrongly let through would start in the test's own folder, not the user's.
    """
    for name, value in lapse.env.items():
        monkeypatch.setenv(name, value)
    before = lapse.config.read_bytes() if lapse.config.exists() else None
    status = cli.main(list(args), environ=lapse.env)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert status == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err[:500]
    assert lines[0].startswith("lapse: ")
    after = lapse.config.read_bytes() if lapse.config.exists() else None
    assert after == before, "the config file is untouched"
    assert not lapse.socket.exists(), "no daemon was started for bad input"
    return lines[0]


# -- durations ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "9" * 5000 + "s",
        "1." + "5" * 5000 + "s",
        "1" * 31 + "ns",
    ],
    ids=["whole", "fraction", "31-digits"],
)
def test_a_duration_of_thousands_of_digits_is_refused(text: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert "digits" in str(caught.value)
    with pytest.raises(DurationError):
        parse_signed_duration("-" + text)


def test_thirty_digits_are_still_read() -> None:
    # The longest sensible spelling (nanoseconds in full, with zeros to spare) still reads.
    assert parse_duration("0" * 20 + "1000000000ns") == 1_000_000_000
    assert parse_duration("1." + "0" * 28 + "s") == 1_000_000_000


@pytest.mark.parametrize(
    "text",
    ["١٠s", "１０s", "१०s", "1٫5s", "10s١"],
    ids=["arabic-indic", "fullwidth", "devanagari", "arabic-decimal", "trailing"],
)
def test_a_duration_takes_ascii_digits_only(text: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert "is not a duration" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("9" * 5000 + "s", "too many digits"),
        ("١٠s", "is not a duration"),
        ("１０s", "is not a duration"),
    ],
    ids=["digits", "arabic-indic", "fullwidth"],
)
def test_lapse_run_refuses_such_an_interval(
    lapse: Lapse,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    says: str,
) -> None:
    lapse.config.write_bytes(GOOD_CONFIG)
    line = refused_in_one_line(lapse, capsys, monkeypatch, "run", "--interval", value)
    assert says in line
    assert len(line) < 300


@pytest.mark.parametrize(
    "value", ['"' + "9" * 5000 + 's"', '"١٠s"'], ids=["digits", "arabic-indic"]
)
def test_a_config_with_such_an_interval_is_refused(
    lapse: Lapse,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
) -> None:
    lapse.config.write_text(f"[run]\ninterval = {value}\n")
    line = refused_in_one_line(lapse, capsys, monkeypatch, "run", "--interval", "10s")
    assert f"config {lapse.config}: run.interval" in line


# -- the config file --------------------------------------------------------------------------
DEEP = 5000
BAD_CONFIGS = {
    "nested-arrays": ("[run]\ninterval = " + "[" * DEEP + "]" * DEEP + "\n", "nested too deeply"),
    "nested-tables": (
        "[run]\ninterval = " + "{a = " * DEEP + "1" + "}" * DEEP + "\n",
        "nested too deeply",
    ),
    "huge-number": ("[run]\nframes = " + "9" * 5000 + "\n", "too many digits"),
}


@pytest.mark.parametrize(("text", "says"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_config_nested_thousands_deep_is_refused(
    lapse: Lapse,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    says: str,
) -> None:
    lapse.config.write_text(text)
    line = refused_in_one_line(lapse, capsys, monkeypatch, "run", "--interval", "10s")
    assert line.startswith(f"lapse: config {lapse.config}: not valid TOML: ")
    assert says in line


# -- lapse web --port -------------------------------------------------------------------------
@pytest.mark.parametrize("port", ["0", "65536", "70000", "-1", "http", "８０００", "9" * 5000])
def test_lapse_web_refuses_a_port_out_of_range(
    lapse: Lapse,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    port: str,
) -> None:
    from textual_serve.server import Server

    def never(server: Server) -> None:
        raise AssertionError(f"served on port {server.port}")

    monkeypatch.setattr(Server, "serve", never)
    line = refused_in_one_line(lapse, capsys, monkeypatch, "web", "--port", port)
    assert "a port from 1 to 65535" in line
    assert len(line) < 300


@pytest.mark.parametrize("port", ["1", "8000", "65535"])
def test_lapse_web_takes_any_port_in_range(
    lapse: Lapse, monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    from textual_serve.server import Server

    served: list[int] = []
    monkeypatch.setattr(Server, "serve", lambda server: served.append(server.port))
    assert cli.main(["web", "--port", port], environ=lapse.env) == 0
    assert served == [int(port)]


# -- megabytes echoed into an error line --------------------------------------------------------
HUGE = "x" * 5_000_000
ECHOED = "x" * 79 + "…"
"""What a message shows of :data:`HUGE`: its first characters and an ellipsis."""


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--interval", HUGE],
        ["run", f"--interval={HUGE}"],
        ["run", "--interval", "10s", "--frames", HUGE],
        ["run", "--interval", "10s", "--exposure", HUGE],
        ["run", "--interval", "10s", "--clock-ppm", HUGE],
        ["run", "--interval", "10s", HUGE],
        [HUGE],
        ["web", "--port", HUGE],
    ],
    ids=["interval", "interval=", "frames", "exposure", "clock-ppm", "extra", "command", "port"],
)
def test_a_huge_argument_is_echoed_cut_short(
    lapse: Lapse,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    lapse.config.write_bytes(GOOD_CONFIG)
    line = refused_in_one_line(lapse, capsys, monkeypatch, *args)
    assert len(line) < 400, line[:500]
    assert ECHOED in line


def test_a_huge_run_name_is_echoed_cut_short(
    lapse: Lapse, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["log", HUGE], environ=lapse.env) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert len(err) < 400 and ECHOED in err, err[:500]


HUGE_CONFIGS = {
    "duration": f'[run]\ninterval = "{HUGE}"\n',
    "choice": f'[ui]\ntheme = "{HUGE}"\n',
    "bare-key": f"[run]\n{HUGE} = 1\n",
    "quoted-key": f'[run]\n"{HUGE} " = 1\n',
    "table": f"[{HUGE}]\n",
    "number": f'[run]\nframes = "{HUGE}"\n',
}


@pytest.mark.parametrize("text", HUGE_CONFIGS.values(), ids=HUGE_CONFIGS.keys())
def test_a_huge_config_value_is_echoed_cut_short(
    lapse: Lapse,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
) -> None:
    lapse.config.write_text(text)
    line = refused_in_one_line(lapse, capsys, monkeypatch, "run", "--interval", "10s")
    assert line.startswith(f"lapse: config {lapse.config}: ")
    assert len(line) < 400, line[:500]
    assert ECHOED in line


# -- the socket -------------------------------------------------------------------------------
def _start(settings: str) -> bytes:
    return b'{"v": 2, "id": 7, "cmd": "start", "args": {"settings": ' + settings.encode() + b"}}\n"


SOCKET_LINES = {
    "nested-json": (b'{"v": 2, "id": 7, "cmd": "status", "args": ' + b"[" * DEEP, "not a JSON"),
    "nested-settings": (_start('{"interval": ' + "[" * 900 + "]" * 900 + "}"), "interval"),
    "digits": (_start('{"interval": "' + "9" * 5000 + 's"}'), "too many digits"),
    "arabic-indic": (_start('{"interval": "١٠s"}'), "is not a duration"),
    "long-value": (_start('{"interval": "' + "x" * 60_000 + '"}'), ECHOED),
    "long-command": (b'{"v": 2, "id": 7, "cmd": "' + b"x" * 60_000 + b'"}', ECHOED),
    "long-version": (b'{"v": "' + b"x" * 60_000 + b'", "id": 7}', ECHOED),
    "long-frames": (
        b'{"v": 2, "id": 7, "cmd": "update", "args": {"frames": "' + b"x" * 60_000 + b'"}}',
        ECHOED,
    ),
    "long-key": (
        b'{"v": 2, "id": 7, "cmd": "update", "args": {"' + b"x" * 60_000 + b'": 1}}',
        ECHOED,
    ),
}


def test_the_daemon_refuses_each_bad_line_in_one_short_line_and_goes_on(lapse: Lapse) -> None:
    import json
    import socket

    lapse.start_daemon()
    for name, (line, says) in SOCKET_LINES.items():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.settimeout(10)
            raw.connect(str(lapse.socket))
            raw.sendall(line.rstrip(b"\n") + b"\n")
            answer = raw.makefile("rb").readline()
        assert answer.endswith(b"\n") and len(answer) < 1000, (name, answer[:500])
        reply = json.loads(answer)
        assert reply["ok"] is False, name
        assert says in reply["error"], (name, reply["error"])
    # Nothing started, and the daemon answers as before.
    assert lapse.journal.list_runs() == []
    with lapse.client() as client:
        assert not client.status().state.live
    assert "Traceback" not in lapse.daemon_output()


# -- the kiosk --------------------------------------------------------------------------------
KIOSK_CONFIGS = {
    "not-toml": (b"[run\n", "not valid TOML"),
    "unknown-key": (b"[run]\nshutter = 3\n", "run.shutter is not a known key"),
    "nested-arrays": (BAD_CONFIGS["nested-arrays"][0].encode(), "nested too deeply"),
    "nested-tables": (BAD_CONFIGS["nested-tables"][0].encode(), "nested too deeply"),
    "huge-number": (BAD_CONFIGS["huge-number"][0].encode(), "too many digits"),
    "digits": (b'[run]\ninterval = "' + b"9" * 5000 + b's"\n', "too many digits"),
    "huge-value": (HUGE_CONFIGS["choice"].encode(), ECHOED),
    "not-utf8": (b'[run]\ninterval = "10\xffs"\n', "not UTF-8"),
}


@pytest.mark.parametrize(("config", "says"), KIOSK_CONFIGS.values(), ids=KIOSK_CONFIGS.keys())
def test_the_kiosk_shows_a_bad_config_on_its_screen_and_stays_open(
    lapse: Lapse,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    config: bytes,
    says: str,
) -> None:
    from textual.widgets import Static

    from tui.app import LapseApp

    # The daemon is systemd's and read a good config; then the file went bad.
    lapse.config.write_bytes(GOOD_CONFIG)
    lapse.start_daemon()
    lapse.config.write_bytes(config)
    seen: list[tuple[str, object, bool]] = []
    run = LapseApp.run

    async def look_and_leave(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        for _ in range(400):  # bounded: 20 s
            if app.hello is not None and app.status is not None:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        message = str(app.screen.query_one("#message", Static).render())
        seen.append((message, app.choices, app.is_running))
        app.exit()

    def headless(app: LapseApp) -> None:
        run(app, headless=True, size=(200, 15), auto_pilot=look_and_leave)

    monkeypatch.setattr(LapseApp, "run", headless)
    assert cli.main(["--kiosk"], environ=lapse.env) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert len(err.splitlines()) == 1 and says in err, err[:500]
    [(message, choices, running)] = seen
    assert message == err.strip().removeprefix("lapse: "), "the same line, on the screen"
    assert says in message and len(message) < 400
    assert choices is None and running, "open on defaults, keeping no choices"
    assert lapse.config.read_bytes() == config


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b'{"v": 2, "event": "fault", "data": ' + b"[" * DEEP + b"]" * DEEP + b"}", "not a JSON"),
        (b'{"v": 2, "id": 1, "ok": true, "result": ' + b"9" * 5000 + b"}", "not a JSON"),
        (
            b'{"v": 2, "event": "fault", "data": {"message": ' + b"[" * 900 + b"]" * 900 + b"}}",
            "must be text",
        ),
        (b'{"v": 2, "event": "' + b"x" * 60_000 + b'"}', ECHOED),
        (
            b'{"v": 2, "event": "fault", "data": {"message": 1, "' + b"x" * 60_000 + b'": 1}}',
            ECHOED,
        ),
    ],
    ids=["nested", "digits", "nested-field", "long-event", "long-key"],
)
def test_a_client_refuses_a_bad_line_from_the_daemon_in_one_short_line(
    line: bytes, says: str
) -> None:
    from core.model import protocol
    from core.model.errors import ProtocolError

    for answers in (None, protocol.Status):
        with pytest.raises(ProtocolError) as caught:
            protocol.decode(line, answers)
        message = str(caught.value)
        assert says in message and len(message) < 400 and "\n" not in message


# -- counts and trims in ASCII digits ------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "text", "says"),
    [
        ("--frames", "١٠", "is not a number of frames"),
        ("--frames", "１０", "is not a number of frames"),
        ("--frames", "1_000", "is not a number of frames"),
        ("--frames", "9" * 5000, "is not a number of frames"),
        ("--clock-ppm", "١٨", "is not a clock trim"),
        ("--clock-ppm", "nan", "is not a clock trim"),
        ("--clock-ppm", "1e400", "is not a clock trim"),
    ],
    ids=["arabic-frames", "fullwidth-frames", "underscores", "digits", "arabic-ppm", "nan", "huge"],
)
def test_counts_and_trims_take_ascii_digits_only(
    lapse: Lapse,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    option: str,
    text: str,
    says: str,
) -> None:
    line = refused_in_one_line(lapse, capsys, monkeypatch, "run", "--interval", "10s", option, text)
    assert says in line and len(line) < 300


# -- lapse web on an address it cannot use ---------------------------------------------------
def test_lapse_web_on_a_port_in_use_says_so_in_one_line(
    lapse: Lapse, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in lapse.env.items():
        monkeypatch.setenv(name, value)
    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = cli.main(["web", "--port", str(port)], environ=lapse.env)
    out, err = capsys.readouterr()
    assert status == 1 and "Traceback" not in out + err
    (line,) = err.splitlines()
    assert line.startswith(f"lapse: cannot serve on 'localhost' port {port}: ")
    assert "in use" in err


def test_lapse_web_on_a_host_no_resolver_takes_says_so_in_one_line(
    lapse: Lapse, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in lapse.env.items():
        monkeypatch.setenv(name, value)
    status = cli.main(["web", "--host", "a" * 300, "--port", "8123"], environ=lapse.env)
    out, err = capsys.readouterr()
    assert status == 1 and "Traceback" not in out + err
    assert out == "", "no address is printed for a host it cannot serve on"
    (line,) = err.splitlines()
    assert line.endswith("…': not a host name or address") and len(line) < 150
