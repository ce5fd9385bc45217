"""The config file: defaults, round-trip, one-line errors naming file and key, atomic save."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import (
    Config,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
from core.model import settings as run_limits
from core.model.battery import BatteryConfig
from core.model.camera import CameraConfig
from core.model.durations import NS_PER_MS, NS_PER_S
from core.model.errors import ConfigError, SettingsError
from core.model.exposure import ExposureConfig, ExposureMode
from core.model.hardware import Backend, HardwareConfig
from core.model.hooks import HooksConfig
from core.model.inputs import InputsConfig
from core.model.place import Place
from core.model.settings import SETTING_KEYS, Settings
from core.model.ui import BindingId, ThemeName, UiConfig
from core.model.upload import FrameUploads, UploadConfig
from core.model.windows import When

REPO = Path(__file__).resolve().parent.parent

FULL_FILE = """\
[run]
interval = "10s"
power = true
frames = 240
delay = "1h30min"
exposure = "2s"
focus_lead = "500ms"
clock_ppm = 18.5
between = "Sunset - 30min..sunrise"
when = "night"
night_angle = -12

[hardware]
backend = "sim"
focus_pin = 5
shutter_pin = 6
power_pin = 13
led_pin = 18
active_high = false

[inputs]
value_pins = [17, 27, 22, 23]
unit_pins = [24, 25]
power_pin = 26
button_pin = 19

[camera]
trigger = "usb"
download = false
keep_on_camera = true
shutter_speed = "1/125"
wired = true
call_timeout = "5s"
reserve_mb = 500

[exposure]
mode = "auto"
target = 0.4
step_ev = 0.5
iso_max = 12800
margin = "2s"

[battery]
source = "ina219"
capacity_mah = 5000.0
i2c_address = 0x40
cells = 1

[place]
latitude = -33.87
longitude = 151.21
elevation = 40

[ui]
theme = "night-vision"

[ui.keys]
start_stop = "s"
quit = "ctrl+x"

[hooks]
frame_saved = ["/home/pi/bin/copy-frame", "--fast"]
run_ended = ["/usr/bin/logger", "lapse run ended"]
timeout = "10s"
queue = 50

[upload]
host = "sky.example.org"
port = 2222
user = "pi"
key = "/home/pi/.ssh/lapse"
known_hosts = "/home/pi/.ssh/known_hosts"
folder = "/srv/sky"
frames = "latest"
latest_name = "now.jpg"
renders = false
transfers = 2
limit_kbps = 500
"""

FULL_CONFIG = Config(
    run=Settings(
        interval_ns=10 * NS_PER_S,
        power=True,
        frames=240,
        delay_ns=90 * 60 * NS_PER_S,
        exposure_ns=2 * NS_PER_S,
        focus_lead_ns=500 * NS_PER_MS,
        clock_ppm=18.5,
        between="sunset-30min..sunrise",
        when=When.NIGHT,
        night_angle=-12.0,
    ),
    hardware=HardwareConfig(
        backend="sim", focus_pin=5, shutter_pin=6, power_pin=13, led_pin=18, active_high=False
    ),
    inputs=InputsConfig(
        value_pins=(17, 27, 22, 23), unit_pins=(24, 25), power_pin=26, button_pin=19
    ),
    camera=CameraConfig(
        trigger="usb",
        download=False,
        keep_on_camera=True,
        shutter_speed="1/125",
        wired=True,
        call_timeout_ns=5 * NS_PER_S,
        reserve_mb=500,
    ),
    exposure=ExposureConfig(
        mode=ExposureMode.AUTO, target=0.4, step_ev=0.5, iso_max=12800, margin_ns=2 * NS_PER_S
    ),
    battery=BatteryConfig(source="ina219", capacity_mah=5000.0, i2c_address=0x40, cells=1),
    place=Place(latitude=-33.87, longitude=151.21, elevation=40.0),
    ui=UiConfig(theme="night-vision", keys={"start_stop": "s", "quit": "ctrl+x"}),
    hooks=HooksConfig(
        frame_saved=("/home/pi/bin/copy-frame", "--fast"),
        run_ended=("/usr/bin/logger", "lapse run ended"),
        timeout_ns=10 * NS_PER_S,
        queue=50,
    ),
    upload=UploadConfig(
        host="sky.example.org",
        port=2222,
        user="pi",
        key="/home/pi/.ssh/lapse",
        known_hosts="/home/pi/.ssh/known_hosts",
        folder="/srv/sky",
        frames=FrameUploads.LATEST,
        latest_name="now.jpg",
        renders=False,
        transfers=2,
        limit_kbps=500,
    ),
)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return tmp_path / "lapse" / "config.toml"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


# --- loading ---------------------------------------------------------------


def test_missing_file_gives_defaults_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert load_config(path) == Config()
    assert list(tmp_path.iterdir()) == []


def test_missing_directory_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "config.toml"
    assert load_config(path) == Config()
    assert not (tmp_path / "no").exists()


def test_empty_file_gives_defaults(config_path: Path) -> None:
    assert load_config(write(config_path, "")) == Config()


def test_defaults_match_the_design() -> None:
    config = Config()
    assert config.run.interval_ns == 60 * NS_PER_S
    assert (config.hardware.focus_pin, config.hardware.shutter_pin) == (20, 21)
    assert (config.hardware.power_pin, config.hardware.led_pin) == (16, 12)
    assert config.hardware.backend in tuple(Backend)


def test_full_file_loads(config_path: Path) -> None:
    assert load_config(write(config_path, FULL_FILE)) == FULL_CONFIG


def test_missing_keys_keep_their_defaults(config_path: Path) -> None:
    write(config_path, '[run]\nframes = 10\n[hardware]\nled_pin = 18\n[ui.keys]\nquit = "q"\n')
    config = load_config(config_path)
    defaults = Config()
    assert config.run == defaults.run.with_changes(frames=10)
    assert config.hardware == HardwareConfig(led_pin=18)
    assert config.ui == UiConfig(keys={"quit": "q"})


def test_pulse_exposure_and_integer_ppm(config_path: Path) -> None:
    write(config_path, '[run]\nexposure = "pulse"\nclock_ppm = -3\n')
    run = load_config(config_path).run
    assert run.exposure_ns is None
    assert run.clock_ppm == -3.0


def test_choices_are_enum_members_that_read_as_their_strings(config_path: Path) -> None:
    config = load_config(write(config_path, FULL_FILE))
    held = (config.hardware.backend, config.camera.trigger, config.battery.source, config.ui.theme)
    assert held == ("sim", "usb", "ina219", "night-vision")
    assert [f"{choice}" for choice in held] == ["sim", "usb", "ina219", "night-vision"]
    assert json.dumps(held) == '["sim", "usb", "ina219", "night-vision"]'
    assert {"sim": "simulated"}[config.hardware.backend] == "simulated"
    assert isinstance(config.ui.theme, ThemeName)
    assert Config().run.to_dict()["exposure"] == "pulse"
    assert type(Config().run.to_dict()["exposure"]) is str


def test_byte_order_mark_is_accepted(config_path: Path) -> None:
    write(config_path, b'\xef\xbb\xbf[ui]\ntheme = "console"\n')
    assert load_config(config_path).ui.theme == "console"


# --- saving ----------------------------------------------------------------


def test_round_trip(config_path: Path) -> None:
    save_config(config_path, FULL_CONFIG)
    assert load_config(config_path) == FULL_CONFIG


def test_round_trip_of_defaults(config_path: Path) -> None:
    save_config(config_path, Config())
    assert load_config(config_path) == Config()


def test_saved_file_has_the_documented_layout(config_path: Path) -> None:
    save_config(config_path, FULL_CONFIG)
    data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    assert set(data) == {
        "run",
        "hardware",
        "inputs",
        "camera",
        "exposure",
        "battery",
        "place",
        "hooks",
        "upload",
        "ui",
        "after",
    }
    assert data["exposure"] == {
        "mode": "auto",
        "target": 0.4,
        "step_ev": 0.5,
        "smoothing": 0.5,
        "iso_min": 100,
        "iso_max": 12800,
        "margin": "2s",
    }
    assert data["place"] == {"latitude": -33.87, "longitude": 151.21, "elevation": 40.0}
    assert data["run"]["between"] == "sunset-30min..sunrise"
    assert data["battery"] == {
        "source": "ina219",
        "capacity_mah": 5000.0,
        "i2c_address": 0x40,
        "i2c_bus": 1,
        "shunt_ohms": 0.1,
        "cells": 1,
    }
    assert data["camera"] == {
        "trigger": "usb",
        "download": False,
        "keep_on_camera": True,
        "shutter_speed": "1/125",
        "wired": True,
        "call_timeout": "5s",
        "reserve_mb": 500,
    }
    assert tuple(data["run"]) == SETTING_KEYS
    assert data["run"]["interval"] == "10s"
    assert data["run"]["delay"] == "1h30min"
    assert data["hardware"]["focus_pin"] == 5
    assert data["ui"] == {"theme": "night-vision", "keys": {"start_stop": "s", "quit": "ctrl+x"}}
    assert data == config_to_dict(FULL_CONFIG)


def test_load_then_save_keeps_the_values(config_path: Path) -> None:
    write(config_path, FULL_FILE)
    save_config(config_path, load_config(config_path))
    assert load_config(config_path) == FULL_CONFIG


def test_save_creates_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "config.toml"
    save_config(path, FULL_CONFIG)
    assert load_config(path) == FULL_CONFIG


def test_save_leaves_no_temporary_files(config_path: Path) -> None:
    save_config(config_path, FULL_CONFIG)
    save_config(config_path, Config())
    assert [entry.name for entry in config_path.parent.iterdir()] == ["config.toml"]


def test_save_replaces_an_existing_file_whole(config_path: Path) -> None:
    # A longer old file: a save that wrote in place would leave its tail behind.
    write(config_path, FULL_FILE + "\n" + "# padding\n" * 200)
    save_config(config_path, Config())
    assert load_config(config_path) == Config()
    assert "padding" not in config_path.read_text(encoding="utf-8")
    assert [entry.name for entry in config_path.parent.iterdir()] == ["config.toml"]


def test_failed_rename_leaves_the_old_file_intact(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(config_path, FULL_FILE)
    before = config_path.read_bytes()

    def power_cut(*args: object) -> None:
        raise OSError("simulated failure before the rename")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="simulated"):
        save_config(config_path, Config())
    assert config_path.read_bytes() == before
    assert [entry.name for entry in config_path.parent.iterdir()] == ["config.toml"]


def test_failed_fsync_leaves_the_old_file_intact(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(config_path, FULL_FILE)
    before = config_path.read_bytes()

    def disk_error(descriptor: int) -> None:
        raise OSError("simulated I/O error while writing")

    monkeypatch.setattr(os, "fsync", disk_error)
    with pytest.raises(OSError, match="simulated"):
        save_config(config_path, Config())
    assert config_path.read_bytes() == before
    assert [entry.name for entry in config_path.parent.iterdir()] == ["config.toml"]


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (Config(hardware=HardwareConfig(focus_pin=40)), "hardware.focus_pin"),
        (Config(hardware=HardwareConfig(led_pin=21)), "hardware.led_pin"),
        (Config(hardware=HardwareConfig(backend="pi")), "hardware.backend"),
        (Config(ui=UiConfig(theme="")), "ui.theme"),
        (Config(ui=UiConfig(keys={"start_stop": ""})), "ui.keys.start_stop"),
        # A load reads " Console" as console: saved, it would not load back equal.
        (Config(ui=UiConfig(theme=" Console")), "ui.theme"),  # type: ignore[arg-type]
        (Config(run=Settings(interval_ns=1)), "run.interval"),
    ],
)
def test_save_refuses_an_invalid_config_and_writes_nothing(
    config_path: Path, config: Config, key: str
) -> None:
    write(config_path, FULL_FILE)
    before = config_path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        save_config(config_path, config)
    assert_one_line_naming(str(caught.value), config_path, key)
    assert "nothing was saved" in str(caught.value)
    assert config_path.read_bytes() == before


pins = st.permutations(range(28)).map(lambda order: order[:4])

valid_settings = st.builds(
    Settings,
    interval_ns=st.integers(run_limits.MIN_INTERVAL_NS, run_limits.MAX_INTERVAL_NS),
    power=st.booleans(),
    frames=st.integers(0, run_limits.MAX_FRAMES),
    delay_ns=st.integers(0, run_limits.MAX_DELAY_NS),
    exposure_ns=st.none() | st.integers(run_limits.MIN_EXPOSURE_NS, run_limits.MAX_EXPOSURE_NS),
    focus_lead_ns=st.integers(0, run_limits.MAX_FOCUS_LEAD_NS),
    clock_ppm=st.floats(-run_limits.MAX_CLOCK_PPM, run_limits.MAX_CLOCK_PPM),
)

non_blank = st.text(min_size=1).filter(str.strip)

valid_configs = st.builds(
    lambda run, backend, pin_numbers, active_high, theme, keys: Config(
        run=run,
        hardware=HardwareConfig(backend, *pin_numbers, active_high=active_high),
        ui=UiConfig(theme=theme, keys=keys),
    ),
    valid_settings,
    st.sampled_from(Backend),
    pins,
    st.booleans(),
    st.sampled_from(ThemeName),
    st.dictionaries(st.sampled_from(BindingId), non_blank, max_size=5),
)


# No deadline: each example writes and fsyncs a file, which a busy disk can hold up
# for longer than hypothesis's 200 ms (seen: 448 ms in a full run on a shared machine).
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(config=valid_configs)
def test_round_trip_property(tmp_path: Path, config: Config) -> None:
    path = tmp_path / "config.toml"
    save_config(path, config)
    assert load_config(path) == config


@given(config=valid_configs)
def test_dict_halves_round_trip(config: Config) -> None:
    assert config_from_dict(config_to_dict(config), "config.toml") == config


# --- errors ----------------------------------------------------------------


def assert_one_line_naming(message: str, path: Path, key: str) -> None:
    assert message.startswith(f"config {path}: "), message
    assert key in message, message
    assert f"{key} :" not in message, message
    assert "\n" not in message and "\r" not in message, message


BAD_FILES = [
    # (file text, dotted key, a word of the reason)
    ('interval = "10s"\n', "interval", "[run]"),
    ('[camera]\nmodel = "x"\n', "camera.model", "trigger, download"),
    ('[camera]\ntrigger = "wifi"\n', "camera.trigger", '"off", "gpio", "usb"'),
    ("[camera]\ndownload = 1\n", "camera.download", "true or false"),
    ('[camera]\nwired = "yes"\n', "camera.wired", "true or false"),
    ("[camera]\nshutter_speed = 125\n", "camera.shutter_speed", "1/125"),
    ('[camera]\ncall_timeout = "0s"\n', "camera.call_timeout", "from 1s to 5min"),
    ("[camera]\ncall_timeout = 10\n", "camera.call_timeout", "duration"),
    ("[camera]\nreserve_mb = -5\n", "camera.reserve_mb", "megabytes"),
    ('[cameras]\ntrigger = "usb"\n', "cameras", "[camera]"),
    ('[battery]\nsource = "solar"\n', "battery.source", "auto"),
    ("[battery]\ncells = 0\n", "battery.cells", "1"),
    ("[battery]\nvolts = 5\n", "battery.volts", "capacity_mah"),
    ("battery = 5\n", "battery", "table"),
    ("run = 5\n", "run", "table"),
    ('hardware = "gpio"\n', "hardware", "table"),
    ("ui = [1, 2]\n", "ui", "an array"),
    ('[run]\nintervall = "10s"\n', "run.intervall", "interval, power, frames"),
    ('[run]\ninterval = "10x"\n', "run.interval", "duration"),
    ("[run]\ninterval = 10\n", "run.interval", "in quotes"),
    ('[run]\ninterval = "1ms"\n', "run.interval", "10ms"),
    ("[run]\ninterval = 2024-01-01\n", "run.interval", "duration"),
    ("[run]\nframes = -1\n", "run.frames", "100,000,000"),
    ('[run]\nframes = "ten"\n', "run.frames", "whole number"),
    ("[run]\nframes = true\n", "run.frames", "whole number"),
    ("[run]\nframes = 2.5\n", "run.frames", "whole number"),
    ('[run]\npower = "yes"\n', "run.power", "true or false"),
    ("[run]\npower = 1\n", "run.power", "true or false"),
    ('[run]\ndelay = "-1s"\n', "run.delay", "between 0s and 365d, got -1s"),
    ('[run]\ndelay = "--1s"\n', "run.delay", "'--1s' is not a duration"),
    ('[run]\nexposure = "long"\n', "run.exposure", "pulse"),
    ('[run]\nexposure = "2d"\n', "run.exposure", "1d"),
    ('[run]\nfocus_lead = "20s"\n', "run.focus_lead", "10s"),
    ("[run]\nclock_ppm = 1000\n", "run.clock_ppm", "500"),
    ('[run]\nclock_ppm = "18"\n', "run.clock_ppm", "number"),
    ("[run]\nclock_ppm = nan\n", "run.clock_ppm", "parts per million"),
    ('[run]\nframes = 5\nfocus_lead = "1min"\n', "run.focus_lead", "10s"),
    ("[hardware]\nfocus = 5\n", "hardware.focus", "focus_pin, shutter_pin"),
    ('[hardware]\nbackend = "pi"\n', "hardware.backend", '"auto", "gpio", "sim"'),
    ("[hardware]\nbackend = 1\n", "hardware.backend", '"auto"'),
    ('[hardware]\nbackend = "GPIO"\n', "hardware.backend", '"gpio"'),
    ('[hardware]\nfocus_pin = "twenty"\n', "hardware.focus_pin", '0–27, got "twenty"'),
    ("[hardware]\nfocus_pin = true\n", "hardware.focus_pin", "0–27, got true"),
    ("[hardware]\nshutter_pin = false\n", "hardware.shutter_pin", "0–27"),
    ("[hardware]\npower_pin = 28\n", "hardware.power_pin", "0–27, got 28"),
    ("[hardware]\nled_pin = -1\n", "hardware.led_pin", "0–27, got -1"),
    ("[hardware]\nled_pin = 12.0\n", "hardware.led_pin", "0–27, got 12.0"),
    ("[hardware]\nfocus_pin = 5\nshutter_pin = 5\n", "hardware.shutter_pin", "distinct"),
    ("[hardware]\nled_pin = 20\n", "hardware.led_pin", "hardware.focus_pin (its default)"),
    ("[hardware]\nactive_high = 1\n", "hardware.active_high", "true or false"),
    ('[hardware]\nactive_high = "no"\n', "hardware.active_high", "true or false"),
    ('[ui]\ncolour = "red"\n', "ui.colour", "theme, keys"),
    ('[ui]\ntheme = ""\n', "ui.theme", "theme name"),
    ('[ui]\ntheme = "  "\n', "ui.theme", "theme name"),
    ("[ui]\ntheme = 3\n", "ui.theme", "got 3"),
    ('[ui]\nkeys = "s"\n', "ui.keys", "binding id = key"),
    ('[ui.keys]\nstart_stop = ""\n', "ui.keys.start_stop", "key such as"),
    ("[ui.keys]\nstart_stop = 5\n", "ui.keys.start_stop", "got 5"),
    ('[ui.keys]\nstart_stop = ["s"]\n', "ui.keys.start_stop", "an array"),
    ('[ui.keys]\n"" = "s"\n', 'ui.keys.""', "binding id"),
    ('[hardware]\n"focus\\npin" = 5\n', 'hardware."focus\\npin"', "not a known key"),
    ('[hardware]\nbackend = "sim\\nulated"\n', "hardware.backend", '"sim\\nulated"'),
    ("[inputs]\nbutton_pin = 20\n", "inputs.button_pin", "already hardware.focus_pin"),
    ("[inputs]\npower_pin = 5\nbutton_pin = 5\n", "inputs.button_pin", "inputs.power_pin"),
    (
        "[inputs]\nvalue_pins = [5, 6]\nunit_pins = [13, 6]\n",
        "inputs.unit_pins",
        "already used by inputs.value_pins",
    ),
    ("[inputs]\nvalue_pins = [5, 6]\n", "inputs.unit_pins", "wired together"),
    (
        "[inputs]\nvalue_pins = [5, 6]\nunit_pins = [13, 19]\nencoder_pins = [17, 27]\n",
        "inputs.encoder_pins",
        "wire one or the other",
    ),
    ("[inputs]\nvalue_pins = [5, 6, 13]\nunit_pins = [17, 27]\n", "inputs.value_pins", "4"),
    ('[hooks]\nframe_saved = "cp $LAPSE_FILE /mnt"\n', "hooks.frame_saved", "no shell"),
    ('[hooks]\nfault = ["", "x"]\n', "hooks.fault", "start with the program"),
    ("[hooks]\nrun_ended = [1]\n", "hooks.run_ended", "list of words"),
    ('[hooks]\ntimeout = "0s"\n', "hooks.timeout", "from 1s to 1h"),
    ("[hooks]\nqueue = 0\n", "hooks.queue", "number of events"),
    ('[hooks]\nframe_done = ["/bin/true"]\n', "hooks.frame_done", "not a known key"),
    ('[upload]\nhost = "a b"\n', "upload.host", "a server's name"),
    ("[upload]\nport = 0\n", "upload.port", "TCP port"),
    ('[upload]\nfolder = "../etc"\n', "upload.folder", "no .."),
    ('[upload]\nframes = "some"\n', "upload.frames", '"every", "latest", "none"'),
    ('[upload]\nlatest_name = "a/b.jpg"\n', "upload.latest_name", "no /"),
    ("[upload]\ntransfers = 9\n", "upload.transfers", "from 1 to 4"),
    ("[upload]\nlimit_kbps = -1\n", "upload.limit_kbps", "kB/s"),
]


@pytest.mark.parametrize(("text", "key", "reason"), BAD_FILES)
def test_invalid_file_names_path_key_and_reason(
    config_path: Path, text: str, key: str, reason: str
) -> None:
    write(config_path, text)
    before = config_path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    message = str(caught.value)
    assert_one_line_naming(message, config_path, key)
    assert reason in message, message
    assert config_path.read_bytes() == before


def test_message_format_example(config_path: Path) -> None:
    write(config_path, '[hardware]\nfocus_pin = "twenty"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    assert str(caught.value) == (
        f'config {config_path}: hardware.focus_pin must be a GPIO number 0–27, got "twenty"'
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[run\ninterval = "10s"\n', "line 1"),
        ("[run]\ninterval = 10s\n", "line 2"),
        ("[run]\nframes = 1\nframes = 2\n", "line 3"),
        ('[ui]\ntheme = "unterminated\n', "line 2"),
    ],
)
def test_toml_syntax_error_names_the_line(config_path: Path, text: str, where: str) -> None:
    write(config_path, text)
    before = config_path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    message = str(caught.value)
    assert_one_line_naming(message, config_path, "not valid TOML")
    assert where in message and "column" in message, message
    assert config_path.read_bytes() == before


def test_file_that_is_not_utf8(config_path: Path) -> None:
    write(config_path, b'[ui]\ntheme = "caf\xe9"\n')
    before = config_path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    message = str(caught.value)
    assert_one_line_naming(message, config_path, "UTF-8")
    assert "line 2" in message and "0xe9" in message, message
    assert config_path.read_bytes() == before


def read_config(path: Path) -> str:
    """``"loaded"``, or the text of the :class:`ConfigError` that reading ``path`` raised."""
    try:
        load_config(path)
    except ConfigError as error:
        return str(error)
    return "loaded"


def read_config_as_nobody(path: Path) -> str:
    """:func:`read_config` in a child process that drops root for the user ``nobody``.

    Root reads any file whatever its mode, so as root the test reads as
    someone else; a forked child needs nothing of the checkout on disk.
    """
    try:
        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
    except KeyError:
        uid = gid = 65534
    # Read once as root first: what reading imports lazily (the utf-8-sig codec) comes
    # from a standard library that nobody may not be allowed to read.
    read_config(path)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            os.write(write_end, read_config(path).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        said = pipe.read().decode()
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0, "the child could not read as nobody"
    return said


def test_unreadable_file() -> None:
    read = read_config_as_nobody if os.geteuid() == 0 else read_config
    # A folder of its own that anyone may pass through, so only the file's mode decides.
    folder = Path(tempfile.mkdtemp(prefix="lapse-config-"))
    try:
        folder.chmod(0o711)
        path = write(folder / "config.toml", FULL_FILE)
        path.chmod(0o644)
        assert read(path) == "loaded", "the reader can read the file when its mode allows"
        path.chmod(0)
        assert_one_line_naming(read(path), path, "permission denied")
        path.chmod(0o600)
        assert path.read_text(encoding="utf-8") == FULL_FILE
    finally:
        shutil.rmtree(folder)


def test_path_that_is_a_directory(config_path: Path) -> None:
    config_path.mkdir(parents=True)
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    assert_one_line_naming(str(caught.value), config_path, "cannot read")


def test_path_with_a_newline_stays_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path / "odd\nname.toml", "[run]\nframes = -1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert "odd\\nname.toml" in message and "run.frames" in message


def test_run_error_no_single_key_explains_names_the_table(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A future check across keys (say, exposure against interval) fails only
    # for the whole table; the message then names [run] rather than a wrong key.
    real_from_dict = Settings.from_dict

    def across_keys(data: dict[str, object], base: Settings | None = None) -> Settings:
        if len(data) > 1:
            raise SettingsError("exposure must be shorter than the interval")
        return real_from_dict(data, base=base)

    monkeypatch.setattr(Settings, "from_dict", staticmethod(across_keys))
    write(config_path, '[run]\ninterval = "1s"\nexposure = "2s"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    assert str(caught.value) == (
        f"config {config_path}: run: exposure must be shorter than the interval"
    )


def test_config_from_dict_names_the_given_path() -> None:
    with pytest.raises(ConfigError, match=r"^config elsewhere\.toml: hardware\.led_pin "):
        config_from_dict({"hardware": {"led_pin": 99}}, "elsewhere.toml")


# --- import hygiene ----------------------------------------------------------


def test_import_loads_no_third_party_module() -> None:
    code = (
        "import sys, core.config\n"
        "heavy = {'tomli_w', 'textual', 'gpiozero', 'gphoto2'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
