"""Which rig is built: LAPSE_HW, hardware.backend, and GPIO detection on fake trees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from core.model.errors import ConfigError, RigError
from core.model.hardware import HardwareConfig
from core.model.plan import Line
from core.model.rig import Rig
from hw.gpio_rig import GpioRig
from hw.select import NO_GPIO_NOTICE, build_rig, machine_has_gpio, make_pin_factory
from hw.sim import make_sim_rig


def fake_tree(root: Path, *, gpiochip: bool, model: bytes | None, where: str = "proc") -> Path:
    if gpiochip:
        (root / "dev").mkdir()
        (root / "dev" / "gpiochip0").touch()
    if model is not None:
        folder = root / ("proc/device-tree" if where == "proc" else "sys/firmware/devicetree/base")
        folder.mkdir(parents=True)
        # The device tree's strings end with a NUL.
        (folder / "model").write_bytes(model + b"\0")
    return root


PI_MODEL = b"Raspberry Pi 4 Model B Rev 1.4"


@pytest.mark.parametrize(
    ("gpiochip", "model", "where", "expected"),
    [
        (True, PI_MODEL, "proc", True),
        (True, b"Raspberry Pi 5 Model B Rev 1.0", "sys", True),
        (True, None, "proc", False),  # a GPIO chip, but not a Pi (a PC's or another board's)
        (True, b"Radxa ROCK 5B", "proc", False),
        (False, PI_MODEL, "proc", False),  # a Pi without the chardev (container, old kernel)
        (False, None, "proc", False),
    ],
)
def test_machine_has_gpio_on_fake_trees(
    tmp_path: Path, gpiochip: bool, model: bytes | None, where: str, expected: bool
) -> None:
    root = fake_tree(tmp_path, gpiochip=gpiochip, model=model, where=where)
    assert machine_has_gpio(root) is expected


def test_lapse_hw_sim_overrides_the_config() -> None:
    rig, notice = build_rig(HardwareConfig(backend="gpio"), {"LAPSE_HW": "sim"})
    assert isinstance(rig, GpioRig)
    assert rig.simulated
    assert notice == "The rig is simulated (LAPSE_HW=sim)."
    assert rig.description.startswith("simulated (no GPIO): ")
    rig.close()


@pytest.mark.parametrize("value", ["bogus", "auto", "mock", "1"])
def test_lapse_hw_other_values_are_refused(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_rig(HardwareConfig(backend="sim"), {"LAPSE_HW": value})
    assert str(caught.value) == f"LAPSE_HW must be gpio or sim, not {value!r}"


def test_lapse_hw_is_case_blind_and_empty_means_unset() -> None:
    rig, notice = build_rig(HardwareConfig(backend="gpio"), {"LAPSE_HW": " SIM "})
    assert rig.simulated
    rig.close()
    rig, notice = build_rig(HardwareConfig(backend="sim"), {"LAPSE_HW": ""})
    assert notice == 'The rig is simulated (hardware.backend = "sim").'
    rig.close()


def test_auto_without_gpio_simulates_and_says_so(tmp_path: Path) -> None:
    root = fake_tree(tmp_path, gpiochip=False, model=PI_MODEL)
    rig, notice = build_rig(HardwareConfig(backend="auto"), {}, root=root)
    assert rig.simulated
    assert notice == NO_GPIO_NOTICE == "No GPIO on this machine: the rig is simulated."
    rig.close()


def test_config_backend_sim() -> None:
    rig, notice = build_rig(HardwareConfig(backend="sim", shutter_pin=5, active_high=False), {})
    assert rig.simulated
    assert notice == 'The rig is simulated (hardware.backend = "sim").'
    assert isinstance(rig, GpioRig)
    rig.set_line(Line.SHUTTER, True)
    assert [s.state for s in rig.pin_factory.pin(5).states] == [0, 1, 0]
    rig.close()


def test_unknown_config_backend() -> None:
    with pytest.raises(
        ConfigError, match=r'hardware.backend must be one of "auto", "gpio", "sim", got "usb"'
    ):
        build_rig(HardwareConfig(backend="usb"), {})


def block_gpio_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make lgpio and RPi.GPIO unimportable, as on a PC (a None in sys.modules blocks it)."""
    for name in ("lgpio", "RPi", "RPi.GPIO", "gpiozero.pins.lgpio", "gpiozero.pins.rpigpio"):
        monkeypatch.setitem(sys.modules, name, None)


needs_no_gpio = pytest.mark.skipif(
    machine_has_gpio(), reason="this machine has GPIO: the native factory would claim real pins"
)


@needs_no_gpio
def test_gpio_without_gpio_says_why_and_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    block_gpio_libraries(monkeypatch)
    with pytest.raises(RigError) as caught:
        build_rig(HardwareConfig(backend="auto"), {"LAPSE_HW": "gpio"})
    message = str(caught.value)
    assert message.startswith("no GPIO here (lgpio: ")
    assert "rpigpio: " in message
    assert "native: " in message
    assert message.endswith("; use LAPSE_HW=sim to simulate")
    assert "\n" not in message


@needs_no_gpio
def test_auto_on_a_pi_uses_gpio_rather_than_quietly_simulating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block_gpio_libraries(monkeypatch)
    root = fake_tree(tmp_path, gpiochip=True, model=PI_MODEL)
    with pytest.raises(RigError, match="no GPIO here"):
        build_rig(HardwareConfig(backend="auto"), {}, root=root)


@pytest.mark.parametrize("name", ["bogus", "mock"])
def test_gpiozero_pin_factory_must_name_a_real_one(name: str) -> None:
    with pytest.raises(ConfigError, match=r"GPIOZERO_PIN_FACTORY must be one of lgpio, rpigpio"):
        make_pin_factory({"GPIOZERO_PIN_FACTORY": name})


def test_make_sim_rig_gives_each_rig_its_own_pins() -> None:
    first = make_sim_rig(HardwareConfig())
    second = make_sim_rig(HardwareConfig())  # same pins, no "in use" clash
    assert isinstance(first.pin_factory, MockFactory)
    assert first.pin_factory is not second.pin_factory
    first.set_led(0.25)
    second.set_line(Line.FOCUS, True)
    assert [s.state for s in first.pin_factory.pin(12).states] == [0, 0.25]
    assert [s.state for s in first.pin_factory.pin(20).states] == [0]
    assert [s.state for s in second.pin_factory.pin(20).states] == [0, 1]
    first.close()
    second.close()
    # The factory outlives the rig, so the histories can still be read.
    assert [s.state for s in first.pin_factory.pin(12).states] == [0, 0.25, 0]


def test_sim_rig_is_a_rig() -> None:
    rig: Rig = make_sim_rig(HardwareConfig())
    assert rig.simulated is True
    rig.close()


def test_importing_hw_select_loads_no_gpiozero() -> None:
    code = "import sys, hw.select; print('gpiozero' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
