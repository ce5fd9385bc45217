"""Every numeric setting keeps its documented range, in the config file and on the command line.

Each key of ``core.model.limits.LIMITS`` is accepted at both ends of its range and
refused just outside them with one line that names the key, the range and
what was given; the README's Configuration block states the same ranges; and
``lapse run``'s flags keep the run's ranges (exit 2, one line, no traceback).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from core.config import Config, config_to_dict, load_config
from core.model.durations import format_duration
from core.model.errors import ConfigError
from core.model.fields import Kind
from core.model.hooks import HookEvent
from core.model.limits import LIMITS, Limit
from core.model.settings import Settings
from tests.conftest import REPO, Lapse
from tui import cli

EDGES = ("just below", "low", "high", "just above")
ACCEPTED = {"just below": False, "low": True, "high": True, "just above": False}


def edge(limit: Limit, which: str) -> int | float:
    """The value at one edge of ``limit``: the ends it accepts and the nearest it refuses."""
    if limit.kind is Kind.NUMBER:
        low, high = float(limit.low), float(limit.high)
        return {
            "just below": low if limit.above_low else math.nextafter(low, -math.inf),
            "low": math.nextafter(low, math.inf) if limit.above_low else low,
            "high": high,
            "just above": math.nextafter(high, math.inf),
        }[which]
    # Whole numbers, durations in nanoseconds and addresses all step by one.
    low, high = int(limit.low), int(limit.high)
    return {"just below": low - 1, "low": low, "high": high, "just above": high + 1}[which]


def spelled(limit: Limit, value: int | float) -> str:
    """``value`` as a TOML file and a message write it (durations without their quotes)."""
    if limit.kind is Kind.DURATION:
        return format_duration(int(value))
    if limit.kind is Kind.ADDRESS:
        return f"0x{int(value):02X}"
    if limit.kind is Kind.NUMBER:
        return repr(float(value))  # exactly: 500.00000000000006 is not 500
    return str(value)


def names_figure(message: str, figure: str) -> bool:
    """True when ``figure`` stands in ``message`` as a number of its own, not inside another."""
    return re.search(rf"(?<![\w.,]){re.escape(figure)}(?!\w|[.,]\d)", message) is not None


def assert_names_the_range(limit: Limit, message: str) -> None:
    for end in (limit.low, limit.high):
        assert names_figure(message, limit.spell(end)), (limit.spell(end), message)


def field_of(section: object, name: str) -> Any:
    """The value of key ``name`` as ``section`` holds it (a duration in its ``_ns`` field)."""
    return getattr(section, name if hasattr(section, name) else f"{name}_ns")


COMPANION = {"place.latitude": "longitude = 0.0\n", "place.longitude": "latitude = 0.0\n"}
"""Another key a row's table needs: a place gives both of its coordinates or neither."""

ROWS = [
    pytest.param(limit, which, id=f"{limit.key}-{which.replace(' ', '-')}")
    for limit in LIMITS
    for which in EDGES
]


@pytest.mark.parametrize(("limit", "which"), ROWS)
def test_a_config_key_keeps_its_range(tmp_path: Path, limit: Limit, which: str) -> None:
    table, name = limit.key.split(".")
    value = edge(limit, which)
    text = spelled(limit, value)
    written = f'"{text}"' if limit.kind is Kind.DURATION else text
    path = tmp_path / "config.toml"
    path.write_text(f"[{table}]\n{name} = {written}\n{COMPANION.get(limit.key, '')}")
    if ACCEPTED[which]:
        assert field_of(getattr(load_config(path), table), name) == value
        return
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"config {path}: {limit.key}"), message
    assert "\n" not in message
    assert_names_the_range(limit, message)
    assert f"got {text}" in message or f'got "{text}"' in message, message


@pytest.mark.parametrize("spelled_zero", ["0s", "0ms", "0h"])
def test_a_zero_exposure_is_refused_not_taken_for_a_pulse(
    tmp_path: Path, spelled_zero: str
) -> None:
    # A bulb time of nothing is a slip, not a way of saying "pulse": refused with the range.
    path = tmp_path / "config.toml"
    path.write_text(f'[run]\nexposure = "{spelled_zero}"\n')
    with pytest.raises(ConfigError, match=r"run\.exposure must be between 1ms and 1d, got 0s"):
        load_config(path)


def test_every_numeric_key_has_a_row() -> None:
    # A key added to a table later must be placed: in LIMITS, or here as not a number.
    not_numbers = {
        "run.power",
        "hardware.backend",
        "hardware.active_high",
        "inputs.value_pins",
        "inputs.unit_pins",
        "inputs.encoder_pins",
        "camera.trigger",
        "camera.download",
        "camera.keep_on_camera",
        "camera.shutter_speed",
        "camera.wired",
        "exposure.mode",
        "battery.source",
        "battery.sysfs_name",
        "ui.theme",
        "run.between",
        "run.when",
        "ui.keys",
        "after.video",
        "after.keogram",
        "after.startrails",
        "after.daily_at",
        *(f"hooks.{event}" for event in HookEvent),
        "upload.host",
        "upload.user",
        "upload.key",
        "upload.known_hosts",
        "upload.folder",
        "upload.frames",
        "upload.latest_name",
        "upload.renders",
    }
    full = config_to_dict(Config())
    full["battery"].update(pi_model_ma=500.0, sysfs_name="BAT0")  # None leaves them out
    full["place"].update(latitude=51.48, longitude=-0.01)
    full["inputs"].update(power_pin=24, button_pin=23)
    keys = {f"{table}.{key}" for table, values in full.items() for key in values}
    assert keys - not_numbers == {limit.key for limit in LIMITS}
    assert len(LIMITS) == len({limit.key for limit in LIMITS})


# --- the README ------------------------------------------------------------------------------


def readme_comments() -> dict[str, str]:
    """``{"run.interval": "10ms … 365d", …}``: each key's comment in the Configuration block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    comments: dict[str, str] = {}
    table = ""
    for line in block.splitlines():
        header = re.match(r"\[([\w.]+)\]", line)
        if header:
            table = header.group(1)
            continue
        # "# pi_model_ma = 500.0 # …" is a key with no default value: the same rule applies.
        key = re.match(r"#?\s*(\w+)\s*=[^#]*#\s*(.*)", line)
        if key:
            comments[f"{table}.{key.group(1)}"] = key.group(2)
    return comments


@pytest.mark.parametrize("limit", LIMITS, ids=[limit.key for limit in LIMITS])
def test_the_readme_states_each_range(limit: Limit) -> None:
    comment = readme_comments().get(limit.key)
    assert comment is not None, f"README's Configuration block has no comment on {limit.key}"
    assert limit.text in comment, f"{limit.key}: README says {comment!r}, the code {limit.text!r}"


def test_the_limits_are_spelled_as_people_write_them() -> None:
    by_key = {limit.key: limit.text for limit in LIMITS}
    assert by_key["run.interval"] == "10ms … 365d"
    assert by_key["run.clock_ppm"] == "-500 … +500 ppm"
    assert by_key["run.frames"] == "0 … 100,000,000"
    assert by_key["hardware.led_pin"] == "0 … 27"
    assert by_key["camera.call_timeout"] == "1s … 5min"
    assert by_key["battery.capacity_mah"] == "above 0, up to 1,000,000 mAh"
    assert by_key["battery.i2c_address"] == "0x40 … 0x4F"
    assert by_key["battery.shunt_ohms"] == "0.001 … 100 ohms"


# --- lapse run's flags -----------------------------------------------------------------------

FLAGS = {
    "run.interval": "--interval",
    "run.frames": "--frames",
    "run.delay": "--delay",
    "run.exposure": "--exposure",
    "run.focus_lead": "--focus-lead",
    "run.clock_ppm": "--clock-ppm",
    "run.min_power_off": "--min-power-off",
    "run.night_angle": "--sun-below",
    "run.night_interval": "--night-interval",
}
SAID = {
    "run.focus_lead": "focus lead",
    "run.clock_ppm": "clock trim",
    "run.min_power_off": "minimum power-off",
    "run.night_angle": "night's sun angle",
    "run.night_interval": "night interval",
}
"""What the one line calls a setting whose key it does not spell."""
ROOM = {"run.exposure": ["--interval", "2d"]}
"""Other flags a row needs: a 1d exposure fits only a longer interval."""

FLAG_ROWS = [
    pytest.param(limit, which, id=f"{FLAGS[limit.key]}-{which.replace(' ', '-')}")
    for limit in LIMITS
    if limit.key in FLAGS
    for which in EDGES
]


def test_every_run_limit_has_a_flag() -> None:
    assert {limit.key for limit in LIMITS if limit.key.startswith("run.")} == set(FLAGS)


class DaemonAsked(Exception):
    """``lapse run`` got past every check of its input and went on to find a daemon."""


@pytest.mark.parametrize(("limit", "which"), [row for row in FLAG_ROWS if ACCEPTED[row.values[1]]])
def test_a_flag_accepts_both_ends(
    lapse: Lapse, monkeypatch: pytest.MonkeyPatch, limit: Limit, which: str
) -> None:
    value = edge(limit, which)
    planned: list[Settings] = []
    real_make_plan = cli.make_plan

    def make_plan(settings: Settings) -> Any:
        planned.append(settings)
        return real_make_plan(settings)

    def ensure_daemon(*args: Any) -> Any:
        raise DaemonAsked

    monkeypatch.setattr(cli, "make_plan", make_plan)
    monkeypatch.setattr(cli, "ensure_daemon", ensure_daemon)
    argv = ["run", f"{FLAGS[limit.key]}={spelled(limit, value)}", *ROOM.get(limit.key, [])]
    with pytest.raises(DaemonAsked):
        cli.main(argv, environ=lapse.env)
    settings = planned[0]  # a night interval's night is planned after it
    assert field_of(settings, limit.key.split(".")[1]) == value


@pytest.mark.parametrize(
    ("limit", "which"), [row for row in FLAG_ROWS if not ACCEPTED[row.values[1]]]
)
def test_a_flag_refuses_just_outside(lapse: Lapse, limit: Limit, which: str) -> None:
    text = spelled(limit, edge(limit, which))
    result = lapse.cli("run", f"{FLAGS[limit.key]}={text}", *ROOM.get(limit.key, []))
    assert result.returncode == 2, result
    assert result.stdout == "" and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("lapse: "), line
    said = SAID.get(limit.key, limit.key.split(".")[1])
    assert said in line and f"got {text}" in line, line
    assert_names_the_range(limit, line)
    assert not lapse.socket.exists(), "no daemon was started for bad input"
