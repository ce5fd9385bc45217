"""Bad input on the command line: status 2, one clear line, nothing changed.

(docs/architecture.md §9)
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys

import pytest

from core.config import ChoicesFile, load_config
from core.paths import resolve_paths
from tests.conftest import Lapse

GOOD_CONFIG = b'[run]\ninterval = "10s"\n\n[hardware]\nfocus_pin = 20\n'


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--interval", "0"], "interval must be between 10ms and 365d, got 0s"),
        (["--interval", "banana"], "'banana' is not a duration: use a duration such as 500ms"),
        (
            ["--interval", "10s", "--frames", "-1"],
            "frames must be between 0 (until stopped) and 100,000,000, got -1",
        ),
        (["--interval", "10s", "--frames", "ten"], "'ten' is not a number of frames"),
        (["--interval", "1min", "--exposure", "2min"], "the longest is 56s"),
        (
            ["--interval", "10s", "--power", "--exposure", "9s"],
            "the longest is 7s166ms (2s333ms to wake the camera, 500ms to save the frame)",
        ),
        (["--interval", "3s", "--power"], "needs an interval of at least 10s"),
        (["--interval", "1s", "--exposure", "soon"], "use pulse, or a bulb time such as 2s"),
        (["--interval", "1s", "--clock-ppm", "900"], "clock trim must be between -500 and +500"),
        (["--interval", "1s", "--bogus"], "unrecognized arguments: --bogus"),
        (["--interval", "1s", "--output", " "], "name a folder, such as --output ~/sunset"),
        (
            ["--interval", "1s", "--trigger", "off"],
            "invalid choice: 'off' (choose from 'gpio', 'usb')",
        ),
        (["--interval", "1s", "--shutter-speed", " "], "shutter speed must be one of the camera's"),
        (["--interval", "1s", "--between", "sunset"], "--between: 'sunset' is not a window"),
        (["--interval", "1s", "--between", "sunsett..sunrise"], "'sunsett' is not a clock time"),
        (["--interval", "1s", "--between", "19:60..06:00"], "'19:60' is not a time of day"),
        (["--interval", "1s", "--when", "dusk"], "'dusk' is not one of always, night, day"),
        (
            ["--interval", "1s", "--night-interval", "5ms"],
            "night interval must be 0s (the interval) or at least 10ms, got 5ms",
        ),
        (
            ["--interval", "1min", "--power", "--night-interval", "3s"],
            "needs an interval of at least 10s",
        ),
        (
            ["--interval", "1s", "--sun-below", "-30"],
            "night's sun angle must be between -18 and +10 degrees, got -30",
        ),
        (["--interval", "1s", "--sun-below", "low"], "'low' is not the sun's altitude"),
        (["--interval", "1s", "--place", "51.5"], "a place is LATITUDE,LONGITUDE in degrees"),
        (["--interval", "1s", "--place", "91,0"], "--place: latitude must be"),
        (["--interval", "1s", "--at", "sunrise+1d"], "the offset in 'sunrise+1d' must be under"),
        (
            ["--interval", "1s", "--at", "sunrise-1h"],
            "--at sunrise-1h needs to know where the rig stands: set [place]",
        ),
    ],
)
def test_bad_run_arguments(lapse: Lapse, args: list[str], says: str) -> None:
    lapse.config.write_bytes(GOOD_CONFIG)
    result = lapse.cli("run", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert lines[0].startswith("lapse: ")
    assert lapse.config.read_bytes() == GOOD_CONFIG, "the config file is untouched"
    assert not lapse.socket.exists(), "no daemon was started for bad input"


@pytest.mark.parametrize(
    ("config", "says"),
    [
        (b'[run]\nframes = "ten"\n', "run.frames must be a whole number"),
        (b"[run]\nshutter = 3\n", "run.shutter is not a known key; known keys are interval"),
        (b"[hardware]\nfocus_pin = true\n", "hardware.focus_pin"),
        (b"[cameras]\n", "cameras"),
        (b"[run\n", "not valid TOML"),
    ],
)
def test_bad_config_is_reported_and_left_alone(lapse: Lapse, config: bytes, says: str) -> None:
    lapse.config.write_bytes(config)
    result = lapse.cli("run", "--interval", "10s")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(lapse.config) in lines[0] and says in lines[0]
    assert lapse.config.read_bytes() == config, "never overwritten by defaults"
    daemon = lapse.cli("daemon")
    assert daemon.returncode == 2 and says in daemon.stderr
    assert lapse.config.read_bytes() == config


def test_bad_environment_and_commands(lapse: Lapse) -> None:
    lapse.env["LAPSE_HW"] = "quantum"
    result = lapse.cli("daemon")
    assert result.returncode == 2
    assert result.stderr == "lapse: LAPSE_HW must be gpio or sim, not 'quantum'\n"
    unknown = lapse.cli("explode")
    assert unknown.returncode == 2 and "invalid choice: 'explode'" in unknown.stderr
    log = lapse.cli("log", "no-such-run")
    assert log.returncode == 1 and "no run named" in log.stderr


def test_status_and_log_without_a_daemon(lapse: Lapse) -> None:
    status = lapse.cli("status")
    assert status.returncode == 1 and "the daemon is not running" in status.stdout
    as_json = lapse.cli("status", "--json")
    assert as_json.returncode == 1 and '"daemon": false' in as_json.stdout
    log = lapse.cli("log")
    assert log.returncode == 0 and "No runs yet" in log.stdout


def test_release_drives_outputs_inactive_only_without_a_daemon(lapse: Lapse) -> None:
    released = lapse.cli("release")
    assert released.returncode == 0, released.stderr
    assert "every output released (focus 0, shutter 0, power 0, led 0)" in released.stdout
    lapse.start_daemon()
    refused = lapse.cli("release")
    assert refused.returncode == 1
    assert "another lapse daemon already owns the hardware" in refused.stderr


def test_counts_of_one_say_frame_and_a_run_until_stopped_says_so(lapse: Lapse) -> None:
    lapse.start_daemon()
    one = lapse.cli("run", "--interval", "100ms", "--frames", "1", "--wait")
    assert one.returncode == 0, one.stderr
    assert ", 1 frame, camera power" in one.stdout, one.stdout
    endless = lapse.cli("run", "--interval", "1s", "--frames", "0")
    assert ", until stopped, camera power" in endless.stdout, endless.stdout
    stopped = lapse.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert re.search(r": (1 frame|(0|[2-9]|\d\d+) frames) ok,", stopped.stdout), stopped.stdout
    log = lapse.cli("log", "latest")
    assert "until stopped, rig" in log.stdout and "until stopped frames" not in log.stdout


def test_lapse_run_starts_from_the_interfaces_choices_and_says_each_setting_not_default(
    lapse: Lapse,
) -> None:
    lapse.config.write_text('[run]\ninterval = "1min"\ndelay = "10s"\n')
    paths = resolve_paths(lapse.env)
    config = load_config(paths.config)
    # What the settings screen keeps when the photographer sets a bulb time there.
    chosen = dataclasses.replace(config, run=config.run.with_changes(exposure_ns=2 * 10**9))
    ChoicesFile(paths.choices, config).save(chosen)
    lapse.start_daemon()
    started = lapse.cli("run", "--focus-lead", "1s")
    assert started.returncode == 0, started.stderr
    lines = started.stdout.splitlines()
    assert "every 1min, until stopped, camera power off" in lines[0]
    assert lines[1] == (
        "Also: delay 10s (the config file), exposure 2s (chosen in the interface), focus lead 1s"
    )
    assert lapse.client().status().run.settings.exposure_ns == 2 * 10**9
    assert lapse.cli("stop").returncode == 0
    # Typed, a setting is said without a source; lapse's defaults are not said at all.
    plain = lapse.cli("run", "--exposure", "pulse", "--delay", "0s", "--focus-lead", "4s")
    assert plain.returncode == 0, plain.stderr
    assert not plain.stdout.splitlines()[1].startswith("Also:")


def test_an_output_folder_without_a_camera_to_fill_it_is_refused(lapse: Lapse) -> None:
    lapse.start_daemon()
    no_camera = lapse.cli("run", "--interval", "1s", "--trigger", "usb")
    assert no_camera.returncode == 1
    assert no_camera.stderr == (
        'lapse: this daemon has no camera to set: set [camera] trigger to "usb" or "gpio"'
        " in the config, then start the daemon again\n"
    )
    refused = lapse.cli("run", "--interval", "1s", "--output", "photos")
    assert refused.returncode == 1
    assert refused.stderr == (
        "lapse: an output folder needs a USB camera to download the photos into it"
        " (set [camera] trigger in the config); without one they stay on its card\n"
    )
    assert lapse.journal.list_runs() == [] and not (lapse.root / "photos").exists()


@pytest.mark.parametrize("args", [["--help"], ["log"], ["status"]])
def test_a_reader_that_goes_away_ends_the_command_quietly(lapse: Lapse, args: list[str]) -> None:
    # `lapse log | head -1`: the pipe is closed before lapse has written.
    reader, writer = os.pipe()
    os.close(reader)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tui.cli", *args],
            env=lapse.env,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
        )
    finally:
        os.close(writer)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.returncode in (0, 141), result.returncode
