"""Battery monitors: the kernel's power-supply class and an INA219 on a UPS HAT.

Each implements :class:`core.model.battery.BatteryReader`. :func:`open_battery_reader`
picks one from the ``[battery]`` table; with ``source = "auto"`` it takes the
first that answers. Importing this module is cheap: smbus2 is imported only
when an I²C bus is opened.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.model.battery import (
    BATTERY,
    NS_PER_HOUR,
    BatteryConfig,
    BatteryModel,
    BatteryReader,
    BatteryReading,
    hours_ns,
    li_ion_percent,
)
from core.model.errors import BatteryError, ConfigError
from core.model.fields import Invalid
from hw.select import MODEL_FILES

POWER_SUPPLY_DIR = Path("sys/class/power_supply")
"""Where the kernel lists power supplies, relative to the root."""

# sysfs ``status`` → BatteryReading.charging. "Full" and "Not charging" mean
# external power holds the battery: it is not draining either.
_STATUS_CHARGING = {
    "Charging": True,
    "Full": True,
    "Not charging": True,
    "Discharging": False,
}


def read_pi_model(root: Path = Path("/")) -> str | None:
    """The board's model string from the device tree (``"Raspberry Pi 4 Model B Rev 1.4"``).

    None when there is none (not a Pi, or a container without the tree).
    """
    for model_file in MODEL_FILES:
        try:
            raw = (root / model_file).read_bytes()
        except OSError:
            continue
        # The device tree's strings end with a NUL.
        return raw.rstrip(b"\0").decode("utf-8", "replace").strip() or None
    return None


def _read_text(path: Path) -> str | None:
    """A sysfs attribute's text, or None when it is missing or cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        # Fuel gauges answer EIO or ENODATA while they settle: say "unknown", not "broken".
        return None


def _read_int(path: Path) -> int | None:
    text = _read_text(path)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


class SysfsBattery:
    """A battery the kernel knows: ``/sys/class/power_supply/<name>/``.

    Reads ``capacity`` (%), ``voltage_now`` (µV), ``current_now`` (µA),
    ``charge_now``/``charge_full`` (µAh), ``energy_now``/``energy_full`` (µWh),
    ``power_now`` (µW) and ``status``, each where the driver gives it. The
    time left comes from charge ÷ current or energy ÷ power when the driver
    reports them, else from the charge left and the model's average draw.
    """

    def __init__(
        self,
        root: Path = Path("/"),
        name: str | None = None,
        *,
        model: BatteryModel | None = None,
    ) -> None:
        self.root = root
        self.sysfs_name = name
        """The supply's folder name; None takes the first of type Battery."""
        self.model = model or BatteryModel()
        """Capacity and draw for a driver that reports neither charge nor current."""
        self.name = "sysfs" if name is None else f"sysfs {name}"

    def folder(self) -> Path:
        """The supply's folder, or :class:`BatteryError` saying why there is none."""
        base = self.root / POWER_SUPPLY_DIR
        if self.sysfs_name is not None:
            folder = base / self.sysfs_name
            if not folder.is_dir():
                raise BatteryError(
                    f"the kernel has no power supply {self.sysfs_name!r} in"
                    f" /{POWER_SUPPLY_DIR} (battery.sysfs_name)"
                )
            return folder
        try:
            # Sorted so that "auto" picks the same battery on every start.
            entries = sorted(base.iterdir())
        except OSError:
            raise BatteryError(
                f"the kernel lists no power supplies (/{POWER_SUPPLY_DIR})"
            ) from None
        for folder in entries:
            if _read_text(folder / "type") == "Battery" and _read_text(folder / "present") != "0":
                return folder
        raise BatteryError(f"the kernel reports no battery in /{POWER_SUPPLY_DIR}")

    def read(self, average_ma: float | None = None) -> BatteryReading:
        """The battery now (see :meth:`core.model.battery.BatteryReader.read`)."""
        folder = self.folder()
        source = f"sysfs {folder.name}"
        capacity = _read_int(folder / "capacity")
        charge_now = _read_int(folder / "charge_now")
        charge_full = _read_int(folder / "charge_full")
        energy_now = _read_int(folder / "energy_now")
        energy_full = _read_int(folder / "energy_full")
        if capacity is not None:
            percent = float(capacity)
        elif charge_now is not None and charge_full:
            percent = 100.0 * charge_now / charge_full
        elif energy_now is not None and energy_full:
            percent = 100.0 * energy_now / energy_full
        else:
            raise BatteryError(
                f"power supply {folder.name} reports no charge level"
                " (no capacity, charge_now or energy_now)"
            )
        percent = min(100.0, max(0.0, percent))

        voltage_uv = _read_int(folder / "voltage_now")
        voltage_v = None if voltage_uv is None else voltage_uv / 1e6
        charging = _STATUS_CHARGING.get(_read_text(folder / "status") or "")
        # The ABI says negative while discharging, but drivers disagree on the
        # sign; the status says the direction, the file only the size.
        current_ua = _read_int(folder / "current_now")
        current_ua = None if current_ua is None else abs(current_ua)
        power_uw = _read_int(folder / "power_now")
        power_uw = None if power_uw is None else abs(power_uw)
        current_ma: float | None = None
        if current_ua is not None:
            current_ma = -current_ua / 1000 if charging else current_ua / 1000

        lasts_ns: int | None = None
        draw_ma: float | None = None
        if charging is not True:
            if charge_now is not None and current_ua:
                lasts_ns = hours_ns(charge_now / current_ua)
                draw_ma = current_ua / 1000
            elif energy_now is not None and power_uw:
                lasts_ns = hours_ns(energy_now / power_uw)
                if current_ua:
                    draw_ma = current_ua / 1000
                elif voltage_uv:
                    draw_ma = 1000 * power_uw / voltage_uv  # µW ÷ µV = A
            else:
                draw_ma = average_ma if average_ma is not None else self.model.pi_ma
                full_mah = charge_full / 1000 if charge_full else self.model.capacity_mah
                if draw_ma > 0:
                    lasts_ns = int(percent / 100 * full_mah / draw_ma * NS_PER_HOUR)
        return BatteryReading(
            percent=percent,
            source=source,
            voltage_v=voltage_v,
            current_ma=current_ma,
            charging=charging,
            lasts_ns=lasts_ns,
            draw_ma=draw_ma,
        )

    def close(self) -> None:
        """Nothing is held open between reads."""


class SMBusLike(Protocol):
    """The part of ``smbus2.SMBus`` the INA219 reader uses (tests pass a fake)."""

    def read_word_data(self, i2c_addr: int, register: int) -> int:
        """Read a 16-bit register; SMBus sends the low byte first."""
        ...

    def close(self) -> None:
        """Release the bus."""
        ...


BusFactory = Callable[[int], SMBusLike]
"""Opens I²C bus number N (``/dev/i2c-N``)."""


def open_smbus(bus: int) -> SMBusLike:
    """``smbus2.SMBus(bus)``, or :class:`BatteryError` in words a photographer can act on."""
    try:
        from smbus2 import SMBus  # lazily: importing hw stays cheap
    except ImportError:
        raise BatteryError(
            "reading an INA219 needs the smbus2 package (pip install smbus2)"
        ) from None
    try:
        return SMBus(bus)
    except FileNotFoundError:
        raise BatteryError(
            f"there is no I²C bus {bus} (/dev/i2c-{bus}): turn I²C on (raspi-config,"
            " Interface Options) or set battery.i2c_bus"
        ) from None
    except PermissionError:
        raise BatteryError(
            f"no permission to use /dev/i2c-{bus}: add this user to the i2c group"
        ) from None
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise BatteryError(f"cannot open I²C bus {bus}: {reason}") from None


# INA219 registers (TI datasheet SBOS448, section 8.6).
INA219_SHUNT_VOLTAGE = 0x01
"""Signed, 10 µV a step."""
INA219_BUS_VOLTAGE = 0x02
"""Bits 15..3: the voltage in 4 mV steps; bits 1 and 0 are flags."""
SHUNT_VOLTS_PER_STEP = 10e-6
BUS_VOLTS_PER_STEP = 0.004
IDLE_MA = 5.0
"""A drain below this is noise (the shunt's step is 0.1 mA at 0.1 Ω): external power
holds the battery, and a Pi alone draws far more."""
CELL_VOLTS_PLAUSIBLE = (2.5, 4.4)
"""Outside this a reading is not a Li-ion cell: a wrong cell count, or another chip."""


# What Linux's I²C drivers answer when no chip acknowledges the address
# (EREMOTEIO is Linux's own; the fallback keeps this importable elsewhere).
_NO_ANSWER = (getattr(errno, "EREMOTEIO", 121), errno.ENXIO, errno.EIO)


def _swap_bytes(word: int) -> int:
    """SMBus words arrive low byte first; the INA219 sends its registers high byte first."""
    return ((word & 0xFF) << 8) | ((word >> 8) & 0xFF)


class Ina219Battery:
    """A Li-ion pack behind an INA219, as on Waveshare's UPS HATs.

    Reads the bus and shunt voltage registers only; it never writes the
    chip's configuration, because the HAT's own software may share it and
    the power-on configuration already measures both continuously. The
    current is worked out here (shunt volts ÷ ohms), so the calibration
    register does not matter either. The charge comes from the per-cell
    voltage on :data:`core.model.battery.LI_ION_CURVE`.

    Current flowing into the pack reads positive on the Waveshare HATs
    (their own examples and Home Assistant integrations take a positive
    current as charging); this reader follows that wiring.
    """

    def __init__(
        self,
        bus_factory: BusFactory = open_smbus,
        address: int = 0x42,
        shunt_ohms: float = 0.1,
        cells: int = 2,
        capacity_mah: float = 10_000.0,
        *,
        bus: int = 1,
    ) -> None:
        self.bus_factory = bus_factory
        self.address = address
        self.shunt_ohms = shunt_ohms
        self.cells = cells
        self.capacity_mah = capacity_mah
        self.bus_number = bus
        self.name = f"ina219 0x{address:02X} on I²C bus {bus}"
        self._bus: SMBusLike | None = None

    def _read_register(self, register: int) -> int:
        if self._bus is None:
            self._bus = self.bus_factory(self.bus_number)
        return _swap_bytes(self._bus.read_word_data(self.address, register))

    def read(self, average_ma: float | None = None) -> BatteryReading:
        """The battery now (see :meth:`core.model.battery.BatteryReader.read`).

        ``average_ma`` is not needed: the INA219 measures the current.
        """
        try:
            bus_word = self._read_register(INA219_BUS_VOLTAGE)
            shunt_word = self._read_register(INA219_SHUNT_VOLTAGE)
        except OSError as error:
            # Reopen next time: the HAT may have been reseated.
            self.close()
            if error.errno in _NO_ANSWER:
                why = "nothing answers"
            else:
                why = (error.strerror or str(error)).lower()
            raise BatteryError(
                f"no INA219 at 0x{self.address:02X} on I²C bus {self.bus_number} ({why});"
                " check battery.i2c_address (i2cdetect -y 1 lists what answers)"
            ) from None
        voltage_v = (bus_word >> 3) * BUS_VOLTS_PER_STEP
        if shunt_word & 0x8000:
            shunt_word -= 0x10000
        into_pack_ma = shunt_word * SHUNT_VOLTS_PER_STEP / self.shunt_ohms * 1000
        drain_ma = -into_pack_ma

        cell_v = voltage_v / self.cells
        low, high = CELL_VOLTS_PLAUSIBLE
        if not low <= cell_v <= high:
            raise BatteryError(
                f"the INA219 at 0x{self.address:02X} reads {voltage_v:.2f} V, not a"
                f" {self.cells}-cell Li-ion pack"
                f" ({low * self.cells:.1f}–{high * self.cells:.1f} V);"
                " check battery.cells, and that the battery is in"
            )
        percent = li_ion_percent(cell_v)
        if drain_ma > IDLE_MA:
            charging = False
            lasts_ns: int | None = hours_ns(percent / 100 * self.capacity_mah / drain_ma)
            draw_ma: float | None = drain_ma
        else:
            charging, lasts_ns, draw_ma = True, None, None
        return BatteryReading(
            percent=percent,
            source=f"ina219 0x{self.address:02X}",
            voltage_v=voltage_v,
            current_ma=drain_ma,
            charging=charging,
            lasts_ns=lasts_ns,
            draw_ma=draw_ma,
        )

    def close(self) -> None:
        """Release the bus; the next read opens it again."""
        bus, self._bus = self._bus, None
        if bus is not None:
            # Closing a bus whose device vanished must not hide the error that got us here.
            with contextlib.suppress(OSError):
                bus.close()


@dataclass(frozen=True)
class OpenedBattery:
    """What :func:`open_battery_reader` found."""

    reader: BatteryReader | None
    """The monitor to read; None: none is fitted or asked for, the daemon uses the model."""
    why_model: str | None = None
    """Why ``auto`` fell back to the model (every monitor's answer), for the daemon's log."""


def open_battery_reader(
    config: BatteryConfig,
    *,
    root: Path = Path("/"),
    bus_factory: BusFactory | None = None,
) -> OpenedBattery:
    """The monitor ``config.source`` asks for.

    ``auto`` reads each monitor once and takes the first that answers: a
    battery the kernel knows, then an INA219, else none (the model, with
    the reasons). A named source is returned without a trial read: a HAT
    may answer later, and each read says what is wrong meanwhile. ``model``
    asks for no monitor. ``root`` is where sysfs and the device tree are
    looked for and ``bus_factory`` opens an I²C bus (fakes in tests).
    """
    try:
        BATTERY.check(config)  # a config built in code has not been through the file's check
    except Invalid as invalid:
        raise ConfigError(str(invalid)) from None
    if config.source == "model":
        return OpenedBattery(None)
    model = config.model(read_pi_model(root))
    sysfs = SysfsBattery(root, config.sysfs_name, model=model)
    ina219 = Ina219Battery(
        bus_factory or open_smbus,
        config.i2c_address,
        config.shunt_ohms,
        config.cells,
        config.capacity_mah,
        bus=config.i2c_bus,
    )
    if config.source == "sysfs":
        return OpenedBattery(sysfs)
    if config.source == "ina219":
        return OpenedBattery(ina219)
    reasons: list[str] = []
    for reader in (sysfs, ina219):
        try:
            reader.read()
        except BatteryError as error:
            reader.close()
            reasons.append(str(error))
            continue
        return OpenedBattery(reader)
    return OpenedBattery(None, "no battery monitor answered: " + "; ".join(reasons))
