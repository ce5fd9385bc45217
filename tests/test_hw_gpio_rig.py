"""GpioRig on real gpiozero devices over MockFactory pins: what each pin is driven to.

A mock pin records a new state only when its level changes, starting with the
level it had as an input (low: these pins float, and float reads as low). So
an active-low output's history starts ``[0, 1]``: input low, then driven to
its inactive level at construction.
"""

from __future__ import annotations

import math

import pytest
from gpiozero import DigitalOutputDevice
from gpiozero.pins.mock import MockFactory, MockPWMPin

from core.model.errors import RigError
from core.model.hardware import HardwareConfig
from core.model.plan import Line
from hw.gpio_rig import LED, GpioRig

PINS = {Line.FOCUS: 20, Line.SHUTTER: 21, Line.POWER: 16, LED: 12}


@pytest.fixture
def factory() -> MockFactory:
    return MockFactory(pin_class=MockPWMPin)


def history(factory: MockFactory, pin: int) -> list[float]:
    """Every level the pin went through (bools and floats compare equal to 0/1)."""
    return [state.state for state in factory.pin(pin).states]


def inactive(active_high: bool) -> int:
    return 0 if active_high else 1


def start(active_high: bool) -> list[float]:
    """A pin's history right after construction: input low, then (active low) driven high."""
    return [0] if active_high else [0, 1]


@pytest.mark.parametrize("active_high", [True, False])
def test_construction_drives_every_output_inactive(factory: MockFactory, active_high: bool) -> None:
    rig = GpioRig(HardwareConfig(active_high=active_high), factory)
    for pin in PINS.values():
        assert history(factory, pin) == start(active_high)
        assert factory.pin(pin).function == "output"
        assert factory.pin(pin).state == inactive(active_high)
    assert all(device.value == 0 for device in rig.devices.values())


@pytest.mark.parametrize("active_high", [True, False])
@pytest.mark.parametrize("line", list(Line))
def test_set_line_drives_only_that_pin(factory: MockFactory, line: Line, active_high: bool) -> None:
    rig = GpioRig(HardwareConfig(active_high=active_high), factory)
    rig.set_line(line, True)
    rig.set_line(line, True)  # no change, so no new state
    rig.set_line(line, False)
    rig.set_line(line, True)
    on = 1 - inactive(active_high)
    off = inactive(active_high)
    assert history(factory, PINS[line]) == [*start(active_high), on, off, on]
    for other, pin in PINS.items():
        if other != line:
            assert history(factory, pin) == start(active_high)


def test_a_frame_of_edges_in_order(factory: MockFactory) -> None:
    """Power, focus, shutter, release: the histories a powered frame leaves on the pins."""
    rig = GpioRig(HardwareConfig(), factory)
    for line, on in [
        (Line.POWER, True),
        (Line.FOCUS, True),
        (Line.SHUTTER, True),
        (Line.SHUTTER, False),
        (Line.FOCUS, False),
        (Line.POWER, False),
    ]:
        rig.set_line(line, on)
    factory.pin(16).assert_states([False, True, False])
    # assert_states zips, so it would pass on a shorter history: compare whole lists too.
    assert history(factory, 16) == [0, 1, 0]
    assert history(factory, 20) == [0, 1, 0]
    assert history(factory, 21) == [0, 1, 0]


@pytest.mark.parametrize(
    ("active_high", "expected"),
    [
        (True, [0, 0.25, 1.0, 0.0]),
        # A PWMLED wired active low puts 1 - brightness on the pin.
        (False, [0, 1.0, 0.75, 0.0, 1.0]),
    ],
)
def test_led_brightness_reaches_the_pwm_pin(
    factory: MockFactory, active_high: bool, expected: list[float]
) -> None:
    rig = GpioRig(HardwareConfig(active_high=active_high), factory)
    for level in (0.25, 1.0, 0.0):
        rig.set_led(level)
    assert history(factory, 12) == expected


@pytest.mark.parametrize(
    ("level", "expected"),
    [(-0.5, 0.0), (1.7, 1.0), (math.inf, 1.0), (-math.inf, 0.0), (math.nan, 0.0), (0.5, 0.5)],
)
def test_led_level_is_clamped(factory: MockFactory, level: float, expected: float) -> None:
    rig = GpioRig(HardwareConfig(), factory)
    rig.set_led(0.1)
    rig.set_led(level)
    assert factory.pin(12).state == expected
    assert rig.devices[LED].value == expected


@pytest.mark.parametrize("active_high", [True, False])
def test_release_drives_everything_inactive(factory: MockFactory, active_high: bool) -> None:
    rig = GpioRig(HardwareConfig(active_high=active_high), factory)
    for line in Line:
        rig.set_line(line, True)
    rig.set_led(0.5)
    rig.release()
    on, off = 1 - inactive(active_high), inactive(active_high)
    for line in Line:
        assert history(factory, PINS[line]) == [*start(active_high), on, off]
    assert history(factory, 12) == [*start(active_high), abs(off - 0.5), off]
    rig.release()  # idempotent: nothing left to change
    assert history(factory, 12) == [*start(active_high), abs(off - 0.5), off]
    rig.set_line(Line.SHUTTER, True)  # still usable after a release
    assert factory.pin(21).state == on


def test_release_order_is_inner_to_outer(factory: MockFactory, monkeypatch) -> None:
    rig = GpioRig(HardwareConfig(), factory)
    order: list[str] = []
    for name, device in rig.devices.items():
        real_off = device.off

        def off(name: str = name, real_off=real_off) -> None:
            order.append(name)
            real_off()

        monkeypatch.setattr(device, "off", off)
    rig.release()
    assert order == ["shutter", "focus", "power", "led"]


def test_release_tries_every_output_even_when_one_fails(factory: MockFactory, monkeypatch) -> None:
    rig = GpioRig(HardwareConfig(), factory)
    for line in Line:
        rig.set_line(line, True)

    def broken() -> None:
        raise OSError("line driver fault")

    monkeypatch.setattr(rig.devices[Line.SHUTTER], "off", broken)
    with pytest.raises(RigError, match=r"release GPIO 21 for shutter: line driver fault"):
        rig.release()
    assert factory.pin(20).state == 0
    assert factory.pin(16).state == 0


@pytest.mark.parametrize("active_high", [True, False])
def test_close_releases_then_gives_the_pins_back(factory: MockFactory, active_high: bool) -> None:
    rig = GpioRig(HardwareConfig(active_high=active_high), factory)
    rig.set_line(Line.POWER, True)
    rig.set_line(Line.SHUTTER, True)
    rig.close()
    on, off = 1 - inactive(active_high), inactive(active_high)
    # Driven inactive while still an output, then handed back as an input. A MockPWMPin's
    # close() stops PWM by driving the pin to 0, so an active-low line ends with a 0 that a
    # real Pi's pin (claimed back as a floating input) would not show: see the next tests.
    after_close = [] if active_high else [0]
    assert history(factory, 21) == [*start(active_high), on, off, *after_close]
    assert history(factory, 16) == [*start(active_high), on, off, *after_close]
    assert history(factory, 20) == [*start(active_high), *after_close]
    for pin in PINS.values():
        assert factory.pin(pin).function == "input"
    assert all(device.closed for device in rig.devices.values())
    rig.close()  # a second close is harmless
    rig.release()  # and so is a release after close
    assert history(factory, 21) == [*start(active_high), on, off, *after_close]
    # The pins are free again.
    DigitalOutputDevice(21, pin_factory=factory).close()


def test_close_leaves_active_low_lines_inactive_on_non_pwm_pins() -> None:
    """On plain MockPins (no PWM) closing keeps the inactive level: the 0 above is MockPWMPin's."""
    factory = MockFactory()
    rig = GpioRig(HardwareConfig(active_high=False), factory)
    rig.set_line(Line.SHUTTER, True)
    rig.set_led(0.5)
    rig.close()
    assert history(factory, 21) == [0, 1, 0, 1]
    assert history(factory, 12) == [0, 1, 0, 1]
    for pin in PINS.values():
        assert factory.pin(pin).function == "input"
        assert factory.pin(pin).state == 1


def test_close_stops_pwm_low_even_for_an_active_low_led(factory: MockFactory) -> None:
    """gpiozero's PWMLED.close() sets the pin's frequency to None, which drives it low.

    For an LED wired active low that is "on" at the last moment, on any PWM pin.
    """
    rig = GpioRig(HardwareConfig(active_high=False), factory)
    rig.set_led(0.25)
    rig.close()
    assert history(factory, 12) == [0, 1.0, 0.75, 1.0, 0.0]


def test_close_closes_the_others_when_one_close_fails(factory: MockFactory, monkeypatch) -> None:
    rig = GpioRig(HardwareConfig(), factory)
    rig.set_line(Line.SHUTTER, True)

    def broken() -> None:
        raise OSError("stuck")

    monkeypatch.setattr(rig.devices[Line.FOCUS], "close", broken)
    with pytest.raises(RigError, match=r"close GPIO 20 for focus: stuck"):
        rig.close()
    assert history(factory, 21) == [0, 1, 0]
    for name in (Line.SHUTTER, Line.POWER, LED):
        assert rig.devices[name].closed
        DigitalOutputDevice(PINS[name], pin_factory=factory).close()
    rig.close()  # already closed: nothing raised the second time


def test_use_after_close_is_an_error(factory: MockFactory) -> None:
    rig = GpioRig(HardwareConfig(), factory)
    rig.close()
    with pytest.raises(RigError, match="closed"):
        rig.set_line(Line.SHUTTER, True)
    with pytest.raises(RigError, match="closed"):
        rig.set_led(1.0)


def test_close_factory_closes_the_factory_too(factory: MockFactory) -> None:
    rig = GpioRig(HardwareConfig(), factory, close_factory=True)
    rig.close()
    assert factory.pins == {}


@pytest.mark.parametrize(
    ("taken", "key"),
    [
        (21, "hardware.shutter_pin"),
        (16, "hardware.power_pin"),
        (12, "hardware.led_pin"),
    ],
)
def test_a_pin_in_use_names_pin_and_key_and_frees_the_rest(
    factory: MockFactory, taken: int, key: str
) -> None:
    blocker = DigitalOutputDevice(taken, pin_factory=factory)
    with pytest.raises(RigError) as caught:
        GpioRig(HardwareConfig(), factory)
    message = str(caught.value)
    assert message.startswith(f"cannot use GPIO {taken} for ")
    assert f"({key})" in message
    assert "already uses it" in message
    assert "\n" not in message
    # Everything built before the failing pin was closed, so it can be claimed again.
    for pin in PINS.values():
        if pin != taken:
            DigitalOutputDevice(pin, pin_factory=factory).close()
    blocker.close()


def test_a_pin_the_board_lacks(factory: MockFactory) -> None:
    with pytest.raises(RigError) as caught:
        GpioRig(HardwareConfig(power_pin=99), factory)
    assert str(caught.value) == (
        "cannot use GPIO 99 for power (hardware.power_pin): this board has no such GPIO"
    )
    for pin in (20, 21):
        DigitalOutputDevice(pin, pin_factory=factory).close()


def test_two_outputs_on_one_pin_are_refused_before_anything_is_claimed(
    factory: MockFactory,
) -> None:
    with pytest.raises(RigError) as caught:
        GpioRig(HardwareConfig(power_pin=20), factory)
    message = str(caught.value)
    assert "GPIO 20" in message
    assert "hardware.focus_pin" in message
    assert "hardware.power_pin" in message
    assert all(factory.pin(pin).function == "input" for pin in PINS.values())


def test_without_pwm_the_led_is_on_or_off() -> None:
    """A factory without PWM (like gpiozero's NativeFactory) still gives a working LED."""
    factory = MockFactory()  # plain MockPin: PWM unsupported
    rig = GpioRig(HardwareConfig(), factory)
    assert "LED 12 on/off" in rig.description
    for level in (0.3, 0.0, 1.0, 0.05, -1.0):
        rig.set_led(level)
    assert history(factory, 12) == [0, 1, 0, 1, 0]
    rig.close()


@pytest.mark.parametrize(
    ("active_high", "simulated", "description"),
    [
        (True, False, "GPIO: focus 20, shutter 21, power 16, LED 12 (active high)"),
        (False, False, "GPIO: focus 20, shutter 21, power 16, LED 12 (active low)"),
        (True, True, "simulated (no GPIO): focus 20, shutter 21, power 16, LED 12"),
    ],
)
def test_description(
    factory: MockFactory, active_high: bool, simulated: bool, description: str
) -> None:
    rig = GpioRig(HardwareConfig(active_high=active_high), factory, simulated=simulated)
    assert rig.description == description
    assert rig.simulated is simulated


def test_pins_come_from_the_config(factory: MockFactory) -> None:
    hardware = HardwareConfig(focus_pin=5, shutter_pin=6, power_pin=13, led_pin=18)
    rig = GpioRig(hardware, factory)
    assert rig.description.startswith("GPIO: focus 5, shutter 6, power 13, LED 18")
    rig.set_line(Line.SHUTTER, True)
    assert factory.pin(6).state == 1
    rig.set_led(0.5)
    assert factory.pin(18).state == 0.5
