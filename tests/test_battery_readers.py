"""Battery readers on fakes: a sysfs tree under tmp_path, an SMBus that answers as a real one.

Also the ``[battery]`` config table, the Pi's draw by model and the Li-ion curve.
"""

from __future__ import annotations

import errno
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from core.model.battery import (
    BATTERY_KEYS,
    DEFAULT_PI_MA,
    LI_ION_CURVE,
    MAX_CAPACITY_MAH,
    MAX_PI_MA,
    MIN_PI_MA,
    MIN_SHUNT_OHMS,
    NS_PER_HOUR,
    BatteryConfig,
    BatteryModel,
    BatteryReading,
    battery_status,
    li_ion_percent,
    pi_draw_ma,
)
from core.model.durations import HOUR_NS, MINUTE_NS, NS_PER_MS, NS_PER_S
from core.model.errors import BatteryError, ConfigError
from core.model.led import led_level
from core.model.plan import make_plan
from core.model.protocol import BatteryStatus
from core.model.settings import Settings
from hw.battery_readers import (
    Ina219Battery,
    SysfsBattery,
    open_battery_reader,
    open_smbus,
    read_pi_model,
)
from tests.test_import_hygiene import culprits, probe

# --- fakes --------------------------------------------------------------------


def power_supply(root: Path, name: str, **attributes: Any) -> Path:
    """A folder under root/sys/class/power_supply with one file per attribute, as the kernel has."""
    folder = root / "sys" / "class" / "power_supply" / name
    folder.mkdir(parents=True)
    for attribute, value in attributes.items():
        (folder / attribute).write_text(f"{value}\n")
    return folder


def device_tree(root: Path, model: str) -> None:
    folder = root / "proc" / "device-tree"
    folder.mkdir(parents=True)
    (folder / "model").write_bytes(model.encode() + b"\0")


def bus_register(volts: float) -> int:
    """The INA219's bus voltage register: 4 mV steps in bits 15..3, CNVR (bit 1) set."""
    return (round(volts / 0.004) << 3) | 0b10


def shunt_register(volts: float) -> int:
    """The INA219's shunt voltage register: signed, 10 µV steps."""
    return round(volts / 10e-6) & 0xFFFF


class FakeSMBus:
    """An I²C bus with INA219s on it. Words go out low byte first, as SMBus sends them,
    while the chip's registers are big-endian: a reader that forgets to swap reads nonsense."""

    def __init__(self, chips: dict[int, dict[int, int]]) -> None:
        self.chips = chips
        self.writes: list[tuple[int, int, int]] = []
        self.closed = False

    def read_word_data(self, i2c_addr: int, register: int) -> int:
        if self.closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        if i2c_addr not in self.chips:
            raise OSError(121, "Remote I/O error")  # EREMOTEIO: no chip acknowledged
        value = self.chips[i2c_addr][register]
        return ((value & 0xFF) << 8) | (value >> 8)

    def write_word_data(self, i2c_addr: int, register: int, value: int) -> None:
        self.writes.append((i2c_addr, register, value))

    def close(self) -> None:
        self.closed = True


class BusFactory:
    """Opens a fresh FakeSMBus per call and remembers the bus numbers asked for."""

    def __init__(self, chips: dict[int, dict[int, int]]) -> None:
        self.chips = chips
        self.opened: list[int] = []
        self.buses: list[FakeSMBus] = []

    def __call__(self, bus: int) -> FakeSMBus:
        self.opened.append(bus)
        self.buses.append(FakeSMBus(self.chips))
        return self.buses[-1]


def ina219(volts: float, shunt_volts: float) -> dict[int, int]:
    return {0x01: shunt_register(shunt_volts), 0x02: bus_register(volts)}


# --- sysfs ----------------------------------------------------------------------


def test_sysfs_reads_capacity_voltage_current_and_time_from_charge(tmp_path: Path) -> None:
    power_supply(
        tmp_path,
        "BAT0",
        type="Battery",
        status="Discharging",
        capacity=80,
        voltage_now=7_400_000,  # µV
        current_now=500_000,  # µA
        charge_now=4_000_000,  # µAh
        charge_full=5_000_000,
    )
    reading = SysfsBattery(tmp_path).read(average_ma=123.0)
    assert reading == BatteryReading(
        percent=80.0,
        source="sysfs BAT0",
        voltage_v=7.4,
        current_ma=500.0,
        charging=False,
        lasts_ns=8 * HOUR_NS,  # 4000 mAh at 500 mA; the model's 123 mA is not used
        draw_ma=500.0,
    )


def test_sysfs_current_sign_follows_the_status_not_the_driver(tmp_path: Path) -> None:
    # The ABI says negative while discharging; many drivers say positive. Both mean the same.
    power_supply(
        tmp_path, "BAT0", type="Battery", status="Discharging", capacity=50,
        current_now=-250_000, charge_now=1_000_000,
    )  # fmt: skip
    reading = SysfsBattery(tmp_path).read()
    assert reading.current_ma == 250.0
    assert reading.lasts_ns == 4 * HOUR_NS


def test_sysfs_time_from_energy_and_power(tmp_path: Path) -> None:
    power_supply(
        tmp_path, "BAT1", type="Battery", status="Discharging",
        energy_now=20_000_000, energy_full=40_000_000,  # µWh
        power_now=5_000_000, voltage_now=10_000_000,  # µW, µV
    )  # fmt: skip
    reading = SysfsBattery(tmp_path).read()
    assert reading.percent == 50.0  # no capacity file: energy_now / energy_full
    assert reading.lasts_ns == 4 * HOUR_NS
    assert reading.draw_ma == pytest.approx(500.0)  # 5 W at 10 V


def test_sysfs_percent_from_charge_when_there_is_no_capacity(tmp_path: Path) -> None:
    power_supply(
        tmp_path, "BAT0", type="Battery", status="Discharging",
        charge_now=1_500_000, charge_full=6_000_000,
    )  # fmt: skip
    reading = SysfsBattery(tmp_path).read(average_ma=250.0)
    assert reading.percent == 25.0
    # No current: 25 % of charge_full (6000 mAh) at the model's 250 mA.
    assert reading.lasts_ns == 6 * HOUR_NS
    assert reading.draw_ma == 250.0


def test_sysfs_falls_back_to_the_models_capacity_and_draw(tmp_path: Path) -> None:
    power_supply(tmp_path, "BAT0", type="Battery", status="Discharging", capacity=50)
    model = BatteryModel(capacity_mah=10_000.0, pi_ma=500.0)
    reader = SysfsBattery(tmp_path, model=model)
    assert reader.read(average_ma=250.0).lasts_ns == 20 * HOUR_NS  # 5000 mAh at 250 mA
    assert reader.read().lasts_ns == 10 * HOUR_NS  # no plan: the Pi's own 500 mA


def test_sysfs_zero_current_while_discharging_uses_the_model(tmp_path: Path) -> None:
    power_supply(
        tmp_path, "BAT0", type="Battery", status="Discharging", capacity=50,
        current_now=0, charge_now=2_000_000,
    )  # fmt: skip
    reading = SysfsBattery(tmp_path, model=BatteryModel(capacity_mah=4000.0)).read(500.0)
    assert reading.lasts_ns == 4 * HOUR_NS  # 50 % of 4000 mAh at 500 mA


@pytest.mark.parametrize("status", ["Charging", "Full", "Not charging"])
def test_sysfs_on_external_power_has_no_time_to_run_out(tmp_path: Path, status: str) -> None:
    power_supply(
        tmp_path, "BAT0", type="Battery", status=status, capacity=90,
        current_now=300_000, charge_now=4_000_000,
    )  # fmt: skip
    reading = SysfsBattery(tmp_path).read(average_ma=250.0)
    assert reading.charging is True
    assert reading.lasts_ns is None
    assert reading.current_ma == -300.0  # flowing in


def test_sysfs_unknown_status_still_estimates(tmp_path: Path) -> None:
    power_supply(tmp_path, "BAT0", type="Battery", status="Unknown", capacity=100)
    reading = SysfsBattery(tmp_path, model=BatteryModel(capacity_mah=1000.0)).read(100.0)
    assert reading.charging is None
    assert reading.lasts_ns == 10 * HOUR_NS


def test_sysfs_capacity_is_clamped(tmp_path: Path) -> None:
    power_supply(tmp_path, "BAT0", type="Battery", status="Full", capacity=104)
    assert SysfsBattery(tmp_path).read().percent == 100.0


def test_sysfs_picks_the_first_present_battery(tmp_path: Path) -> None:
    power_supply(tmp_path, "AC", type="Mains", online=1)
    power_supply(tmp_path, "BAT0", type="Battery", present=0, capacity=10)
    power_supply(tmp_path, "BAT1", type="Battery", status="Discharging", capacity=70)
    power_supply(tmp_path, "BAT2", type="Battery", status="Discharging", capacity=30)
    reading = SysfsBattery(tmp_path).read()
    assert (reading.source, reading.percent) == ("sysfs BAT1", 70.0)
    named = SysfsBattery(tmp_path, "BAT2")
    assert named.name == "sysfs BAT2"
    assert named.read().percent == 30.0


def test_sysfs_errors_say_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(BatteryError, match=r"lists no power supplies"):
        SysfsBattery(tmp_path).read()
    power_supply(tmp_path, "AC", type="Mains", online=1)
    with pytest.raises(BatteryError, match=r"^the kernel reports no battery in "):
        SysfsBattery(tmp_path).read()
    with pytest.raises(BatteryError, match=r"no power supply 'BAT9' .*\(battery\.sysfs_name\)"):
        SysfsBattery(tmp_path, "BAT9").read()
    power_supply(tmp_path, "BAT0", type="Battery", status="Discharging", voltage_now=7_000_000)
    with pytest.raises(BatteryError, match=r"BAT0 reports no charge level"):
        SysfsBattery(tmp_path).read()


def test_sysfs_unreadable_attribute_counts_as_missing(tmp_path: Path) -> None:
    folder = power_supply(tmp_path, "BAT0", type="Battery", status="Discharging", capacity=60)
    (folder / "current_now").mkdir()  # reading it raises IsADirectoryError, an OSError
    (folder / "voltage_now").write_text("not a number\n")
    reading = SysfsBattery(tmp_path).read(100.0)
    assert reading.percent == 60.0
    assert reading.voltage_v is None
    assert reading.current_ma is None


# --- INA219 -------------------------------------------------------------------


def test_ina219_discharging_reads_volts_current_percent_and_time() -> None:
    # 7.6 V on two cells is 3.8 V a cell: 42.5 % on the curve (3.79 V 40 %, 3.83 V 50 %).
    # -50 mV across 0.1 Ω is 500 mA out of the pack.
    factory = BusFactory({0x42: ina219(7.6, -0.050)})
    reader = Ina219Battery(factory, 0x42, 0.1, 2, 3000.0)
    reading = reader.read()
    assert reading.voltage_v == pytest.approx(7.6)
    assert reading.current_ma == pytest.approx(500.0)
    assert reading.percent == pytest.approx(42.5)
    assert reading.charging is False
    assert reading.draw_ma == pytest.approx(500.0)
    # 42.5 % of 3000 mAh = 1275 mAh at 500 mA: 2.55 h.
    assert reading.lasts_ns == pytest.approx(2.55 * NS_PER_HOUR, rel=1e-9)
    assert reading.source == "ina219 0x42"
    assert factory.opened == [1]


def test_ina219_register_bytes_are_swapped() -> None:
    # 7.6 V is register 0x3B62; unswapped it would read 0x623B: 100.935 V.
    assert bus_register(7.6) == 0x3B62
    bus = FakeSMBus({0x42: ina219(7.6, 0.0)})
    assert bus.read_word_data(0x42, 0x02) == 0x623B
    reading = Ina219Battery(lambda _bus: bus, 0x42).read()
    assert reading.voltage_v == pytest.approx(7.6)


def test_ina219_reads_and_never_writes() -> None:
    factory = BusFactory({0x42: ina219(8.0, -0.02)})
    reader = Ina219Battery(factory, 0x42)
    reader.read()
    reader.read()
    assert factory.buses[0].writes == []
    assert factory.opened == [1]  # one bus, kept open between reads
    reader.close()
    assert factory.buses[0].closed


@pytest.mark.parametrize(
    ("shunt_volts", "current_ma"),
    [(0.030, -300.0), (0.0002, -2.0), (-0.0004, 4.0)],
    ids=["charging", "held-full", "noise"],
)
def test_ina219_not_draining_has_no_time_to_run_out(shunt_volts: float, current_ma: float) -> None:
    reading = Ina219Battery(BusFactory({0x42: ina219(8.3, shunt_volts)}), 0x42).read(250.0)
    assert reading.charging is True
    assert reading.lasts_ns is None
    assert reading.current_ma == pytest.approx(current_ma)


def test_ina219_shunt_and_cells_scale_the_figures() -> None:
    # A 0.01 Ω shunt: -5 mV is 500 mA. One cell at 4.2 V is full.
    reading = Ina219Battery(BusFactory({0x40: ina219(4.2, -0.005)}), 0x40, 0.01, 1, 1000.0).read()
    assert reading.current_ma == pytest.approx(500.0)
    assert reading.percent == 100.0
    assert reading.lasts_ns == pytest.approx(2 * NS_PER_HOUR)


def test_ina219_on_the_smallest_shunt_allowed_reads_a_number() -> None:
    # The fullest shunt register, -327.68 mV, across a milliohm: 327.68 A, absurd but finite.
    # Below the floor the current overflowed to infinity, and the time left to zero.
    chip = {0x01: 0x8000, 0x02: bus_register(7.6)}
    reading = Ina219Battery(BusFactory({0x42: chip}), 0x42, MIN_SHUNT_OHMS).read()
    assert reading.current_ma == pytest.approx(327_680.0)
    assert reading.lasts_ns is not None and reading.lasts_ns > 0


@pytest.mark.parametrize("pi_ma", [MIN_PI_MA, MAX_PI_MA])
@pytest.mark.parametrize("capacity", [math.nextafter(0.0, 1.0), MAX_CAPACITY_MAH])
def test_the_model_at_the_ends_of_its_config_says_how_long(pi_ma: float, capacity: float) -> None:
    # A draw near zero made the time left too large for an integer: OverflowError, no reading.
    config = BatteryConfig.from_dict({"pi_model_ma": pi_ma, "capacity_mah": capacity})
    reading = config.model().estimate(None, running_ns=0, frames_left=None)
    assert reading.percent == 100.0
    assert reading.lasts_ns == int(capacity / pi_ma * NS_PER_HOUR)


def test_ina219_with_no_chip_raises_and_reopens_next_time() -> None:
    factory = BusFactory({0x40: ina219(7.6, -0.05)})
    reader = Ina219Battery(factory, 0x42, bus=3)
    with pytest.raises(BatteryError, match=r"^no INA219 at 0x42 on I²C bus 3 \(nothing answers\)"):
        reader.read()
    assert factory.buses[0].closed
    factory.chips[0x42] = ina219(7.6, -0.05)  # the HAT was reseated
    assert reader.read().percent == pytest.approx(42.5)
    assert factory.opened == [3, 3]


def test_ina219_voltage_that_is_no_li_ion_pack() -> None:
    # Two cells' worth read as one cell; and a chip reading nothing.
    with pytest.raises(BatteryError, match=r"reads 7\.60 V, not a 1-cell .*battery\.cells"):
        Ina219Battery(BusFactory({0x42: ina219(7.6, -0.05)}), 0x42, cells=1).read()
    with pytest.raises(
        BatteryError, match=r"reads 0\.00 V, not a 2-cell Li-ion pack \(5\.0–8\.8 V\)"
    ):
        Ina219Battery(BusFactory({0x42: ina219(0.0, 0.0)}), 0x42).read()


def test_open_smbus_errors_are_battery_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BatteryError, match=r"there is no I²C bus 250 \(/dev/i2c-250\)"):
        open_smbus(250)
    monkeypatch.setitem(sys.modules, "smbus2", None)  # as if not installed
    with pytest.raises(BatteryError, match=r"needs the smbus2 package"):
        open_smbus(1)


def test_importing_the_readers_loads_no_bus_library() -> None:
    report = probe(["hw.battery_readers"], forbidden=("smbus2", "gpiozero", "textual", "gphoto2"))
    assert report["forbidden"] == {}, culprits(report["forbidden"])


# --- the model -------------------------------------------------------------------


def test_the_model_counts_the_pi_each_line_and_the_led_for_the_time_each_is_on() -> None:
    # README: the model takes the Pi's draw, and the opto and LED currents for the time
    # each is on. A powered minute: power -14 s … +46 s, focus -4 s … +3 s and shutter
    # 0 … +3 s are 70 s of opto current; the LED counts at the brightness it shows,
    # integrated here from its own function in 1 ms steps (each of its changes in a
    # powered minute falls on a whole millisecond).
    plan = make_plan(Settings(interval_ns=MINUTE_NS, power=True))
    model = BatteryModel(pi_ma=400.0, opto_ma=10.0, led_ma=15.0)
    first, last = plan.edges[0].offset_ns, plan.edges[-1].offset_ns
    led_ns = sum(led_level(plan, t) for t in range(first, last, NS_PER_MS)) * NS_PER_MS
    assert 0 < led_ns < 70 * NS_PER_S
    expected = (400.0 * MINUTE_NS + 10.0 * 70 * NS_PER_S + 15.0 * led_ns) / NS_PER_HOUR
    assert model.charge_per_cycle_mah(plan) == pytest.approx(expected, rel=1e-9)


def test_the_model_never_reads_below_empty() -> None:
    plan = make_plan(Settings(interval_ns=MINUTE_NS, power=True))
    model = BatteryModel(capacity_mah=1000.0)
    full = model.estimate(plan, running_ns=0, frames_left=None)
    assert full.percent == 100.0 and full.lasts_ns is not None
    spent = model.estimate(plan, running_ns=2 * full.lasts_ns, frames_left=10)
    assert (spent.percent, spent.lasts_ns) == (0.0, 0)
    assert spent.outlasts_battery


def test_the_model_without_a_plan_drains_at_the_pis_draw() -> None:
    # With no run the daemon's figure is the Pi alone: full, lasting capacity ÷ draw.
    model = BatteryModel(capacity_mah=1000.0, pi_ma=500.0)
    idle = model.estimate(None, running_ns=0, frames_left=None)
    assert (idle.percent, idle.lasts_ns, idle.needs_ns) == (100.0, 2 * HOUR_NS, None)
    spent = model.estimate(None, running_ns=5 * HOUR_NS, frames_left=None)
    assert (spent.percent, spent.lasts_ns) == (0.0, 0)


def test_a_reading_becomes_the_status_every_client_shows() -> None:
    # The daemon's one battery figure: a monitor's reading as read, never drained by time.
    reading = BatteryReading(
        percent=60.0, source="ina219 0x42", voltage_v=7.8, charging=False,
        lasts_ns=HOUR_NS, draw_ma=300.0,
    )  # fmt: skip
    status = battery_status(reading, at_ns=5, draining=False)
    assert status == BatteryStatus(
        source="ina219 0x42", percent=60.0, lasts_ns=HOUR_NS, draw_ma=300.0, voltage_v=7.8,
        charging=False, at_ns=5,
    )  # fmt: skip
    plan = make_plan(Settings(interval_ns=MINUTE_NS, power=True))
    model = BatteryModel().estimate(plan, running_ns=HOUR_NS, frames_left=None)
    modelled = battery_status(model, at_ns=5, draining=True)
    assert (modelled.source, modelled.draw_ma, modelled.voltage_v) == (
        "model",
        model.average_ma,
        None,
    )
    assert modelled.draining


# --- choosing a reader --------------------------------------------------------


def test_auto_prefers_a_sysfs_battery(tmp_path: Path) -> None:
    power_supply(tmp_path, "BAT0", type="Battery", status="Discharging", capacity=40)
    factory = BusFactory({0x42: ina219(7.6, -0.05)})
    opened = open_battery_reader(BatteryConfig(), root=tmp_path, bus_factory=factory)
    assert isinstance(opened.reader, SysfsBattery) and opened.why_model is None
    assert factory.opened == []  # the INA219 was never asked


def test_auto_takes_the_ina219_when_sysfs_has_no_battery(tmp_path: Path) -> None:
    power_supply(tmp_path, "AC", type="Mains", online=1)
    factory = BusFactory({0x41: ina219(7.6, -0.05)})
    config = BatteryConfig(i2c_address=0x41, i2c_bus=4, cells=2, capacity_mah=3000.0)
    reader = open_battery_reader(config, root=tmp_path, bus_factory=factory).reader
    assert isinstance(reader, Ina219Battery)
    assert reader.name == "ina219 0x41 on I²C bus 4"
    assert factory.opened == [4]
    assert reader.read().lasts_ns == pytest.approx(2.55 * NS_PER_HOUR)


def test_auto_falls_back_to_the_model_and_says_why(tmp_path: Path) -> None:
    device_tree(tmp_path, "Raspberry Pi Zero 2 W Rev 1.0")
    factory = BusFactory({})
    opened = open_battery_reader(
        BatteryConfig(capacity_mah=2400.0), root=tmp_path, bus_factory=factory
    )
    assert opened.reader is None  # the daemon's model stands in
    assert opened.why_model is not None
    assert "lists no power supplies" in opened.why_model
    assert "no INA219 at 0x42 on I²C bus 1" in opened.why_model
    assert factory.buses[0].closed  # the failed probe let go of the bus
    # The model the daemon then uses is this Pi's (what `lapse daemon` builds).
    assert BatteryConfig(capacity_mah=2400.0).model(read_pi_model(tmp_path)) == BatteryModel(
        capacity_mah=2400.0, pi_ma=120.0
    )
    assert BatteryConfig(pi_model_ma=90.0).model(read_pi_model(tmp_path)).pi_ma == 90.0


def test_a_named_source_is_used_without_a_trial_read(tmp_path: Path) -> None:
    factory = BusFactory({})
    sysfs = open_battery_reader(
        BatteryConfig(source="sysfs", sysfs_name="BAT7"), root=tmp_path
    ).reader
    assert isinstance(sysfs, SysfsBattery)
    with pytest.raises(BatteryError, match="BAT7"):
        sysfs.read()
    chip = open_battery_reader(
        BatteryConfig(source="ina219"), root=tmp_path, bus_factory=factory
    ).reader
    assert isinstance(chip, Ina219Battery)
    assert factory.opened == []
    power_supply(tmp_path, "BAT0", type="Battery", status="Discharging", capacity=40)
    model = open_battery_reader(BatteryConfig(source="model"), root=tmp_path)
    assert model.reader is None and model.why_model is None  # asked for: nothing to explain
    assert BatteryConfig().model(read_pi_model(tmp_path)).pi_ma == DEFAULT_PI_MA


def test_an_unknown_source_built_in_code_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"battery\.source must be one of"):
        open_battery_reader(BatteryConfig(source="usb"), root=tmp_path)


def test_read_pi_model(tmp_path: Path) -> None:
    assert read_pi_model(tmp_path) is None
    device_tree(tmp_path, "Raspberry Pi 4 Model B Rev 1.4")
    assert read_pi_model(tmp_path) == "Raspberry Pi 4 Model B Rev 1.4"


# --- the Pi's draw and the Li-ion curve ----------------------------------------


@pytest.mark.parametrize(
    ("model", "ma"),
    [
        ("Raspberry Pi 5 Model B Rev 1.0", 800.0),
        ("Raspberry Pi 500 Rev 1.0", 800.0),
        ("Raspberry Pi 400 Rev 1.0", 800.0),
        ("Raspberry Pi 4 Model B Rev 1.4\0", 600.0),
        ("Raspberry Pi Compute Module 4 Rev 1.0", 600.0),
        ("Raspberry Pi 3 Model B Plus Rev 1.3", 500.0),
        ("Raspberry Pi 3 Model A Plus Rev 1.0", 350.0),
        ("Raspberry Pi 3 Model B Rev 1.2", 400.0),
        ("Raspberry Pi 2 Model B Rev 1.1", 350.0),
        ("Raspberry Pi Zero 2 W Rev 1.0", 120.0),
        ("Raspberry Pi Zero W Rev 1.1", 150.0),
        ("Raspberry Pi Zero Rev 1.3", 100.0),
        ("Raspberry Pi Model B Plus Rev 1.2", 330.0),
        ("Raspberry Pi Model B Rev 2", 500.0),
        ("Radxa ROCK 5B", DEFAULT_PI_MA),
        ("", DEFAULT_PI_MA),
        (None, DEFAULT_PI_MA),
    ],
)
def test_pi_draw_by_model(model: str | None, ma: float) -> None:
    assert pi_draw_ma(model) == ma


def test_li_ion_curve() -> None:
    assert li_ion_percent(3.0) == 0.0
    assert li_ion_percent(2.0) == 0.0
    assert li_ion_percent(4.2) == 100.0
    assert li_ion_percent(4.35) == 100.0
    assert li_ion_percent(3.81) == pytest.approx(45.0)
    volts = [v for v, _ in LI_ION_CURVE]
    percents = [p for _, p in LI_ION_CURVE]
    assert volts == sorted(volts) and percents == sorted(percents)
    samples = [li_ion_percent(3.0 + i * 0.01) for i in range(121)]
    assert samples == sorted(samples)


# --- the [battery] table ----------------------------------------------------


def test_battery_config_defaults_and_round_trip() -> None:
    assert BatteryConfig.from_dict({}) == BatteryConfig()
    assert BatteryConfig().to_dict() == {
        "source": "auto",
        "capacity_mah": 10_000.0,
        "i2c_bus": 1,
        "i2c_address": 0x42,
        "shunt_ohms": 0.1,
        "cells": 2,
    }
    full = BatteryConfig.from_dict(
        {
            "source": "ina219",
            "capacity_mah": 3000,  # TOML integers are numbers too
            "pi_model_ma": 150,
            "sysfs_name": "BAT1",
            "i2c_bus": 0,
            "i2c_address": 0x43,
            "shunt_ohms": 0.01,
            "cells": 1,
        }
    )
    assert full.capacity_mah == 3000.0 and isinstance(full.capacity_mah, float)
    assert full.pi_model_ma == 150.0
    assert BatteryConfig.from_dict(full.to_dict()) == full
    assert set(full.to_dict()) == set(BATTERY_KEYS)


def test_battery_config_model_uses_the_override_or_the_board() -> None:
    assert BatteryConfig(capacity_mah=5000.0).model("Raspberry Pi 4 Model B Rev 1.1") == (
        BatteryModel(capacity_mah=5000.0, pi_ma=600.0)
    )
    assert BatteryConfig(pi_model_ma=250.0).model("Raspberry Pi 4 Model B").pi_ma == 250.0


BAD_VALUES = [
    ("source", "usb", 'must be one of "auto", "sysfs", "ina219", "model", got "usb"'),
    ("source", 1, 'must be one of "auto", "sysfs", "ina219", "model", got 1'),
    ("capacity_mah", 0, "must be a number of mAh above 0 and up to 1,000,000, got 0"),
    ("capacity_mah", -5.5, "got -5.5"),
    ("capacity_mah", "10000", 'got "10000"'),
    ("capacity_mah", True, "got true"),
    ("capacity_mah", math.inf, "got inf"),
    ("capacity_mah", math.nan, "got nan"),
    ("capacity_mah", 2_000_000, "up to 1,000,000, got 2000000"),
    ("pi_model_ma", 0, "must be a number of mA from 10 to 10,000, got 0"),
    ("pi_model_ma", 0.5, "got 0.5"),  # amps, not mA
    ("pi_model_ma", "fast", 'got "fast"'),
    ("sysfs_name", "", 'must be the name of a folder in /sys/class/power_supply, such as "BAT0"'),
    ("sysfs_name", "../../etc", 'got "../../etc"'),
    ("sysfs_name", "..", 'got ".."'),
    ("sysfs_name", 0, "got 0"),
    ("i2c_bus", -1, "must be an I²C bus number from 0 to 255, got -1"),
    ("i2c_bus", 256, "got 256"),
    ("i2c_bus", 1.0, "got 1.0"),
    ("i2c_bus", True, "got true"),
    ("i2c_address", 0x30, "must be an INA219 address from 0x40 to 0x4F, got 0x30"),
    ("i2c_address", 0x50, "got 0x50"),
    ("i2c_address", -1, "got -1"),
    ("i2c_address", False, "got false"),
    ("i2c_address", "0x42", 'got "0x42"; write it without quotes, as i2c_address = 0x42'),
    ("shunt_ohms", 0, "must be a number of ohms from 0.001 to 100, got 0"),
    ("shunt_ohms", 1e-300, "got 1e-300"),
    ("shunt_ohms", -0.1, "got -0.1"),
    ("shunt_ohms", [0.1], "got an array"),
    ("cells", 0, "must be a number of Li-ion cells from 1 to 8, got 0"),
    ("cells", 9, "got 9"),
    ("cells", 2.0, "got 2.0"),
    ("cells", {"n": 2}, "got a table"),
]


@pytest.mark.parametrize(("key", "value", "reason"), BAD_VALUES)
def test_battery_config_names_the_bad_key(key: str, value: Any, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        BatteryConfig.from_dict({key: value})
    message = str(caught.value)
    assert message.startswith(f"battery.{key} ")
    assert reason in message
    assert "\n" not in message


def test_every_battery_key_is_checked() -> None:
    assert {key for key, _, _ in BAD_VALUES} == set(BATTERY_KEYS)


def test_battery_config_refuses_unknown_keys_and_non_tables() -> None:
    with pytest.raises(ConfigError) as caught:
        BatteryConfig.from_dict({"capacity": 3000})
    assert str(caught.value) == (
        "battery.capacity is not a known key; known keys are source, capacity_mah,"
        " pi_model_ma, sysfs_name, i2c_bus, i2c_address, shunt_ohms, cells"
    )
    with pytest.raises(ConfigError, match=r'^battery\."odd key" is not a known key'):
        BatteryConfig.from_dict({"odd key": 1})
    with pytest.raises(ConfigError, match=r"^battery must be a table, written \[battery\].*got 5$"):
        BatteryConfig.from_dict(5)  # type: ignore[arg-type]
