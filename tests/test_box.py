"""The box's own controls through a real daemon on mock pins (README "Physical controls"):
its switches, power toggle and button moved by `lapse sim` (the daemon drives its own
gpiozero mock pins as a hand would), every client told, the LED's signals."""

from __future__ import annotations

import dataclasses
import re
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from core.client import Client
from core.clock import SystemClock
from core.config import ChoicesFile, config_from_dict, load_config
from core.daemon.box import Box, SharedLed
from core.daemon.controller import RunController
from core.journal import Journal
from core.model import protocol
from core.model.durations import NS_PER_S
from core.model.errors import LapseError
from core.model.hardware import HardwareConfig
from core.model.inputs import InputsConfig
from core.model.run_state import RunState
from core.model.settings import Settings
from core.paths import resolve_paths
from hw.box_inputs import BoxInputs
from hw.sim import make_sim_rig
from tests.conftest import REPO, Lapse

SWITCHES = """
[inputs]
value_pins = [5, 6, 13, 19]
unit_pins = [26, 7]
power_pin = 24
button_pin = 23
"""
"""VALUE wired by positions, UNIT by a 2-bit code: both wirings in one box."""
ENCODER = """
[run]
interval = "1min"
[inputs]
encoder_pins = [17, 27]
button_pin = 22
"""


def box(lapse: Lapse, inputs: str = SWITCHES) -> None:
    lapse.config.write_text(inputs, encoding="utf-8")
    lapse.start_daemon()


def handle(lapse: Lapse, control: str, to: str, **kwargs: Any) -> protocol.Status:
    with lapse.client() as client:
        return client.handle(control, to, **kwargs)


def status(lapse: Lapse) -> protocol.Status:
    with lapse.client() as client:
        return client.status()


def panel(lapse: Lapse) -> protocol.PanelStatus:
    shown = status(lapse).panel
    assert shown is not None
    return shown


@contextmanager
def listening(lapse: Lapse, clients: int = 2) -> Iterator[list[list[protocol.PanelStatus]]]:
    """Subscribed clients in the background; each list gets every box status it is told."""
    heard: list[list[protocol.PanelStatus]] = [[] for _ in range(clients)]
    subscribers = [Client(lapse.socket, timeout=30).connect() for _ in range(clients)]
    for client in subscribers:
        client.subscribe()

    def listen(client: Client, into: list[protocol.PanelStatus]) -> None:
        try:
            for event in client.events():
                if isinstance(event, protocol.StateEvent) and event.status.panel is not None:
                    into.append(event.status.panel)
        except (OSError, LapseError):
            return  # closed when the test is done

    threads = [
        threading.Thread(target=listen, args=pair, daemon=True)
        for pair in zip(subscribers, heard, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        yield heard
    finally:
        for client in subscribers:
            client.shutdown()
        for thread in threads:
            thread.join(5)


def changes(heard: list[protocol.PanelStatus]) -> list[str]:
    """What the box said, each time it said something new."""
    said: list[str] = []
    for shown in heard:
        if not said or said[-1] != shown.said:
            said.append(shown.said)
    return said


def test_turning_the_switches_tells_every_client(lapse: Lapse) -> None:
    box(lapse)
    assert panel(lapse).said == "VALUE between positions"  # the wiper rests on none
    with listening(lapse) as heard:
        handle(lapse, "value", "10")
        handle(lapse, "unit", "min")
        handle(lapse, "power", "on")
        for each in heard:
            lapse.wait_for(
                lambda each=each: each and each[-1].said == "10min, power on", what="the turn"
            )
    shown = panel(lapse)
    assert (shown.switches, shown.value, shown.unit, shown.power) == ("positions", 10, "min", True)
    assert shown.signal == "armed"
    lines = lapse.cli("status").stdout
    assert "box: 10min, power on" in lines
    assert lapse.cli("status", "--json").stdout.count('"said": "10min, power on"') == 1


def test_a_press_starts_a_run_with_the_switches_settings(lapse: Lapse) -> None:
    box(lapse)
    handle(lapse, "value", "10")
    handle(lapse, "unit", "s")
    handle(lapse, "power", "on")
    handle(lapse, "button", "press")
    now = lapse.wait_for(lambda: (s := status(lapse)).state.live and s, what="the run")
    assert now.run is not None
    assert (now.run.settings.interval_ns, now.run.settings.power) == (10 * NS_PER_S, True)
    assert now.panel is not None and not now.panel.next_run
    # The LED shows the run's phases: the focus flashes, the shutter, the power's blink.
    lapse.wait_for(lambda: status(lapse).outputs["led"] > 0, what="the LED lit by a phase")
    assert "the box's button starts a run: 10s, power on" in lapse.daemon_output()


def test_a_press_the_run_refuses_is_said_to_every_client(lapse: Lapse) -> None:
    box(lapse)
    handle(lapse, "value", "3")
    handle(lapse, "unit", "s")
    handle(lapse, "power", "on")  # 3 s is too short for the camera to wake
    with Client(lapse.socket, timeout=30).connect() as client:
        client.subscribe()
        handle(lapse, "button", "press")
        fault = next(e for e in client.events() if isinstance(e, protocol.FaultEvent))
    assert fault.message.startswith(
        "the box's button could not start a run: camera power control needs an interval"
    )
    assert status(lapse).state is RunState.IDLE


def test_a_switch_between_positions_never_starts_a_run(lapse: Lapse) -> None:
    box(lapse)
    handle(lapse, "value", "between")
    shown = handle(lapse, "button", "press")
    assert shown.state is RunState.IDLE
    assert shown.panel is not None and shown.panel.said == "VALUE between positions"
    assert shown.panel.signal == "dark"  # not armed: a press does nothing
    assert "the button starts nothing: VALUE between positions" in lapse.daemon_output()
    assert lapse.journal.latest_run() is None


def test_turning_a_switch_during_a_run_leaves_its_grid_and_says_so(lapse: Lapse) -> None:
    box(lapse)
    handle(lapse, "value", "1")
    handle(lapse, "unit", "s")
    handle(lapse, "button", "press")
    before = lapse.wait_for(lambda: (s := status(lapse)).run and s.state.live and s)
    handle(lapse, "value", "30")
    handle(lapse, "unit", "min")
    lapse.wait_for(lambda: status(lapse).run.counts.ok >= 3, what="frames after the turn")
    after = status(lapse)
    assert after.run is not None and before.run is not None
    assert after.run.id == before.run.id
    assert after.run.settings == before.run.settings
    assert after.run.anchor_ns == before.run.anchor_ns
    assert after.panel is not None
    assert after.panel.next_run and after.panel.signal == "turned"
    assert (
        "30min, power off (the next run's; this run goes on as started)"
        in lapse.cli("status").stdout
    )
    # Every frame still on the run's 1 s grid.
    records = list(lapse.journal.frames(after.run.id))
    dues = [record.due_ns for record in records if record.status == "ok"]
    assert all((due - after.run.anchor_ns) % NS_PER_S == 0 for due in dues)


def test_a_long_press_stops_a_run_and_a_short_one_does_not(lapse: Lapse) -> None:
    box(lapse)
    handle(lapse, "value", "1")
    handle(lapse, "unit", "s")
    handle(lapse, "button", "press")
    lapse.wait_for(lambda: status(lapse).state.live, what="the run")
    assert handle(lapse, "button", "press", held_s=0.3).state.live
    assert status(lapse).state.live  # a knock is not a stop
    handle(lapse, "button", "press", held_s=1.4)
    ended = lapse.wait_for(lambda: (s := status(lapse)).state.ended and s, what="the stop")
    assert ended.state is RunState.STOPPED


@pytest.mark.parametrize(("control", "to"), [("value", "10"), ("unit", "h"), ("power", "on")])
def test_a_chattering_contact_is_one_change(lapse: Lapse, control: str, to: str) -> None:
    box(lapse)
    handle(lapse, "value", "1")
    handle(lapse, "unit", "s")
    with listening(lapse, clients=1) as heard:
        handle(lapse, control, to, bounce=12)
        lapse.wait_for(lambda: heard[0], what="the change")
        lapse.wait_for(lambda: status(lapse).panel is not None)  # anything late has come
    assert len(changes(heard[0])) == 1, changes(heard[0])
    assert len(heard[0]) == 1


def test_an_encoder_steps_through_the_presets_and_stops_at_the_ends(lapse: Lapse) -> None:
    box(lapse, ENCODER)
    shown = panel(lapse)
    assert (shown.switches, shown.value, shown.unit) == ("encoder", 1, "min")  # the config's
    assert handle(lapse, "encoder", "+2").panel.said == "10min, power off"  # type: ignore[union-attr]
    assert handle(lapse, "encoder", "+2").panel.said == "1h, power off"  # type: ignore[union-attr]
    assert handle(lapse, "encoder", "-20").panel.said == "1s, power off"  # type: ignore[union-attr]
    assert handle(lapse, "encoder", "+40").panel.said == "30d, power off"  # type: ignore[union-attr]
    handle(lapse, "encoder", "-14")  # 3 s
    handle(lapse, "button", "press")
    run = lapse.wait_for(lambda: status(lapse).run, what="the run")
    assert run.settings.interval_ns == 3 * NS_PER_S


def test_moves_that_cannot_be_are_one_line(lapse: Lapse) -> None:
    box(lapse)
    for args, words in [
        (("turn", "value", "7"), "the VALUE switch has 1, 3, 10, 30 (or between); not '7'"),
        (("turn", "encoder", "+1"), "no encoder is wired ([inputs] encoder_pins)"),
        (("turn", "unit", "between"), "the UNIT switch is coded: it always reads a position"),
        (("press", "--hold", "99"), "a press is held 0 to 60 s; not 99"),
        (("toggle", "power", "--bounce", "1000"), "a contact chatters 0 to 100 times; not 1000"),
        (
            ("turn", "value", "x" * 5000),
            f"the VALUE switch has 1, 3, 10, 30 (or between); not '{'x' * 79}…'",
        ),
    ]:
        result = lapse.cli("sim", *args)
        assert result.returncode == 1, args
        assert result.stderr == f"lapse: {words}\n", args
    result = lapse.cli("sim", "press", "--hold", "nan")
    assert result.returncode == 2
    assert result.stderr == (
        "lapse: argument --hold: 'nan' is not a number of seconds, such as 1.5"
        " (see `lapse sim press --help`)\n"
    )
    assert result.stderr.count("\n") == 1
    assert status(lapse).state is RunState.IDLE


def test_a_box_without_inputs_says_how_to_wire_them(lapse: Lapse) -> None:
    lapse.start_daemon()
    result = lapse.cli("sim", "press")
    assert result.returncode == 1
    assert "name their pins in [inputs]" in result.stderr
    assert result.stderr.count("\n") == 1
    assert status(lapse).panel is None


def test_the_config_refuses_an_input_on_an_output_pin(lapse: Lapse) -> None:
    lapse.config.write_text("[inputs]\nbutton_pin = 21\n", encoding="utf-8")
    result = lapse.cli("daemon")
    assert result.returncode == 2
    assert result.stderr.endswith(
        "inputs.button_pin uses GPIO 21, already hardware.shutter_pin (its default);"
        " an input needs a pin of its own\n"
    )


def test_the_readmes_worked_examples_are_configs_lapse_takes() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Physical controls", 1)[1].split("\n## ", 1)[0]
    examples = re.findall(r"```toml\n(.*?)```", section, re.S)
    assert len(examples) == 3
    wirings = set()
    for example in examples:
        inputs = config_from_dict(tomllib.loads(example), "README.md").inputs
        wirings.add(inputs.switches)
        assert inputs.button_pin is not None
    assert wirings == {"positions", "coded", "encoder"}


def test_without_a_power_toggle_the_button_takes_the_screens_power(lapse: Lapse) -> None:
    box(lapse, "[inputs]\nvalue_pins = [5, 6]\nunit_pins = [13, 19]\nbutton_pin = 26\n")
    handle(lapse, "value", "10")
    paths = resolve_paths(lapse.env)
    config = load_config(paths.config)
    chosen = Settings(interval_ns=NS_PER_S, power=True, frames=7)
    ChoicesFile(paths.choices, config).save(dataclasses.replace(config, run=chosen))
    # ^ what a screen keeps when its toggle is set on
    handle(lapse, "button", "press")
    run = lapse.wait_for(lambda: status(lapse).run, what="the run")
    assert (run.settings.interval_ns, run.settings.power, run.settings.frames) == (
        10 * NS_PER_S,
        True,
        7,
    )


class RealPins(BoxInputs):
    """Inputs the daemon takes for real switches: the one thing mock pins cannot be."""

    @property
    def simulated(self) -> bool:
        return False


def test_real_switches_refuse_a_simulated_hand(tmp_path: Path) -> None:
    rig = make_sim_rig(HardwareConfig())
    inputs = InputsConfig(value_pins=(5, 6), unit_pins=(13, 19), button_pin=26)
    controls = RealPins(inputs, rig.pin_factory)
    clock = SystemClock()
    box = Box(controls, SharedLed(rig), clock, lambda: Settings(interval_ns=NS_PER_S))
    controller = RunController(rig, clock, Journal(tmp_path), lambda event: None, box=box)
    box.start(controller)
    try:
        before = controls.levels()
        with pytest.raises(LapseError, match=r"^these are real switches and a real button"):
            controller.handle("value", "10", held_s=0, bounce=0)
        with pytest.raises(LapseError, match=r"^these are real switches"):
            controls.drive("button", "down")
        assert controls.levels() == before
        assert controller.status_state() is RunState.IDLE
    finally:
        box.close()
        rig.close()
