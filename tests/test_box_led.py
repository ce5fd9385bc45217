"""The LED speaks for the box (README "The LED"): its signals as plain logic, and the LED
shared between the engine's phases and the box's signal on the real gpiozero rig."""

from __future__ import annotations

import itertools

import pytest
from gpiozero.pins.mock import MockFactory

from core.daemon.box import SharedLed
from core.model.durations import NS_PER_S
from core.model.hardware import HardwareConfig
from core.model.led import (
    BOX_BLINKS,
    BoxSignal,
    box_fault,
    box_signal,
    led_changes,
    next_signal_change,
    signal_level,
)
from core.model.plan import Line, make_plan
from core.model.protocol import CameraStatus, DiskStatus, Status
from core.model.run_state import RunState
from core.model.settings import Settings
from hw.gpio_rig import LED, GpioRig
from hw.sim import _SimPin

IDLE = Status(state=RunState.IDLE, now_ns=0, rig="sim", simulated=True, outputs={})


def pattern(signal: BoxSignal, period_ns: int) -> list[tuple[int, float]]:
    """Every (time, level) the signal goes through in one period from 0."""
    steps = [(0, signal_level(signal, 0))]
    at = next_signal_change(signal, 0)
    while at is not None and at < period_ns:
        steps.append((at, signal_level(signal, at)))
        at = next_signal_change(signal, at)
    return steps


@pytest.mark.parametrize("signal", list(BOX_BLINKS))
def test_each_signal_changes_only_where_it_says_and_repeats(signal: BoxSignal) -> None:
    blinks = BOX_BLINKS[signal]
    steps = pattern(signal, blinks.period_ns)
    assert len(steps) == 2 * blinks.flashes  # on and off, each flash
    assert [level for _, level in steps] == [blinks.level, 0.0] * blinks.flashes
    for (at, level), (later, _) in itertools.pairwise(steps):
        # Nothing changes between two changes.
        assert signal_level(signal, (at + later) // 2) == level
    assert pattern(signal, 2 * blinks.period_ns)[len(steps) :][0][0] == blinks.period_ns


def test_the_signals_are_told_apart_from_each_other_and_from_the_phases() -> None:
    shapes = {signal: tuple(pattern(signal, BOX_BLINKS[signal].period_ns)) for signal in BOX_BLINKS}
    assert len(set(shapes.values())) == len(shapes)
    assert signal_level(BoxSignal.DARK, 123) == 0.0
    assert next_signal_change(BoxSignal.DARK, 123) is None
    # A fault's flashes are all full, the focus lead's climb: never the same.
    plan = make_plan(Settings(interval_ns=10 * NS_PER_S))
    focus_levels = {level for _, level in led_changes(plan) if 0 < level < 1}
    assert focus_levels and BOX_BLINKS[BoxSignal.FAULT].level == 1.0


def test_the_worst_news_wins() -> None:
    assert box_signal(fault="disk: full", running=True, turned=True, armed=True) is BoxSignal.FAULT
    assert box_signal(fault=None, running=True, turned=True, armed=True) is BoxSignal.TURNED
    assert box_signal(fault=None, running=True, turned=False, armed=True) is BoxSignal.DARK
    assert box_signal(fault=None, running=False, turned=False, armed=True) is BoxSignal.ARMED
    assert box_signal(fault=None, running=False, turned=False, armed=False) is BoxSignal.DARK


def test_a_fault_is_the_clock_the_camera_the_disk_or_the_run() -> None:
    assert box_fault(IDLE) is None
    waiting = Status(**{**IDLE.__dict__, "clock_wait": "the system clock is not synchronised"})
    assert box_fault(waiting) == "clock: the system clock is not synchronised"
    lost = CameraStatus(trigger="usb", fault="the camera is not on USB")
    assert box_fault(Status(**{**IDLE.__dict__, "camera": lost})) == (
        "camera: the camera is not on USB"
    )
    full = DiskStatus(free_bytes=10, reserve_bytes=100)
    assert box_fault(Status(**{**IDLE.__dict__, "disk": full})) == "disk: full"
    room = DiskStatus(free_bytes=10**9, reserve_bytes=100)
    assert box_fault(Status(**{**IDLE.__dict__, "disk": room})) is None
    assert box_fault(Status(**{**IDLE.__dict__, "fault": "shutter output failed"})) == (
        "shutter output failed"
    )


@pytest.fixture
def shared() -> SharedLed:
    rig = GpioRig(HardwareConfig(), MockFactory(pin_class=_SimPin), simulated=True)
    return SharedLed(rig)


def led(shared: SharedLed) -> float:
    return float(shared.rig.devices[LED].value)  # type: ignore[attr-defined]


def test_the_signal_shows_between_phases_and_a_phase_always_wins(shared: SharedLed) -> None:
    shared.show_signal(0.2)
    assert led(shared) == 0.2  # no run: the signal
    shared.set_line(Line.FOCUS, True)
    assert led(shared) == 0.2  # the cycle has begun; its first LED step comes with it
    shared.set_led(0.25)
    assert led(shared) == 0.25  # the focus flash
    shared.show_signal(0.0)
    shared.show_signal(0.2)
    assert led(shared) == 0.25  # the signal waits while a phase has the LED
    shared.set_led(0.0)
    assert led(shared) == 0.0  # dark between flashes, the focus line still on
    shared.set_line(Line.FOCUS, False)
    shared.set_led(0.0)  # the cycle's last step: the LED back to idle
    assert led(shared) == 0.2  # the signal is back at once
    shared.set_line(Line.POWER, True)
    shared.show_signal(0.5)
    assert led(shared) == 0.2  # the camera powered: still the phase's
    shared.release()
    assert led(shared) == 0.0
    shared.show_signal(1.0)
    assert led(shared) == 1.0
    assert shared.outputs()["led"] == 1.0
    assert shared.description.startswith("simulated")
