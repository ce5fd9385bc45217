"""The config file (TOML): run defaults, hardware pins, UI choices.

Read with ``tomllib``; written with ``tomli-w`` through :func:`write_atomic`.
A file that fails to parse or validate is reported with its path, the key and
the reason, and is never overwritten by defaults.

The layout, every table and key optional::

    [run]           # the keys of core.model.settings.SETTING_KEYS
    interval = "1min"
    [hardware]
    backend = "auto"
    focus_pin = 20
    [camera]        # a USB camera (hw/camera); trigger = "off" needs none
    trigger = "usb"
    [battery]       # core.model.battery.BatteryConfig: which monitor, the model's figures
    source = "auto"
    [ui]
    theme = "default"
    [ui.keys]       # binding id = key
    start = "s"
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from core.atomic import write_atomic
from core.model.battery import BatteryConfig
from core.model.camera import TRIGGERS, CameraConfig
from core.model.durations import MINUTE_NS, NS_PER_S, format_duration, parse_duration
from core.model.errors import ConfigError, DurationError, SettingsError
from core.model.settings import SETTING_KEYS, Settings
from core.model.toml_text import toml_key, toml_value

BACKENDS = ("auto", "gpio", "sim")

# BCM numbers of the GPIO lines on the 40-pin header.
MIN_PIN = 0
MAX_PIN = 27


@dataclass(frozen=True)
class HardwareConfig:
    """Which rig the daemon builds, and how it is wired (docs/architecture.md §10 for the pins)."""

    backend: str = "auto"
    """``auto`` (GPIO when the machine has it, else simulated), ``gpio`` or ``sim``."""
    focus_pin: int = 20
    """BCM number of the focus opto-isolator's input."""
    shutter_pin: int = 21
    """BCM number of the shutter opto-isolator's input."""
    power_pin: int = 16
    """BCM number of the camera-power opto-isolator's (or relay's) input."""
    led_pin: int = 12
    """BCM number of the status LED; GPIO 12 can do hardware PWM."""
    active_high: bool = True
    """False when the opto-isolators are wired to switch on a low output."""


@dataclass(frozen=True)
class UiConfig:
    """Choices of the TUI."""

    theme: str = "default"
    """``default``, ``night-vision`` or ``console``."""
    keys: dict[str, str] = field(default_factory=dict)
    """Binding id → key(s), overriding the TUI's defaults."""


@dataclass(frozen=True)
class Config:
    """The whole config file."""

    run: Settings = field(default_factory=lambda: Settings(interval_ns=MINUTE_NS))
    """The settings a new run starts from (the switches' last positions)."""
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    battery: BatteryConfig = field(default_factory=BatteryConfig)
    ui: UiConfig = field(default_factory=UiConfig)


TABLES = ("run", "hardware", "camera", "battery", "ui")
HARDWARE_KEYS: tuple[str, ...] = tuple(f.name for f in fields(HardwareConfig))
PIN_KEYS: tuple[str, ...] = ("focus_pin", "shutter_pin", "power_pin", "led_pin")
UI_KEYS: tuple[str, ...] = tuple(f.name for f in fields(UiConfig))
CAMERA_KEYS: tuple[str, ...] = (
    "trigger",
    "download",
    "shutter_speed",
    "wired",
    "call_timeout",
    "reserve_mb",
)
MIN_CALL_TIMEOUT_NS = 1 * NS_PER_S
MAX_CALL_TIMEOUT_NS = 300 * NS_PER_S
MAX_RESERVE_MB = 1_000_000
"""A terabyte: more than any card a Pi boots from."""


def pin_clash(pins: Mapping[str, int]) -> tuple[str, str] | None:
    """The first two outputs, in order, given the same pin; None when each has its own.

    The config reader and the GPIO rig (which may be handed a config built in
    code) both refuse a clash, each in its own words.
    """
    seen: dict[int, str] = {}
    for name, pin in pins.items():
        if pin in seen:
            return seen[pin], name
        seen[pin] = name
    return None


def load_config(path: Path) -> Config:
    """Read the config file at ``path``; a missing file gives the defaults.

    Nothing is written, not even for a missing file. Raises
    :class:`ConfigError` with a one-line message naming the file, the key and
    the reason for a file that cannot be read, is not UTF-8 or TOML, or does
    not validate. After a ``ConfigError`` the caller must not call
    :func:`save_config` for this path: the file is the user's to fix, and
    saving defaults over it would lose their settings.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(_message(path, f"cannot read the file: {reason.lower()}")) from None
    try:
        # utf-8-sig: Windows editors may prepend a byte-order mark, which TOML
        # does not expect but which hides nothing.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        bad = raw[error.start : error.start + 1].hex()
        raise ConfigError(
            _message(path, f"line {line} is not UTF-8 text (byte 0x{bad}); save it as UTF-8")
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(_message(path, f"not valid TOML: {error}")) from None
    return config_from_dict(data, path)


def save_config(path: Path, config: Config) -> None:
    """Write ``config`` to ``path`` whole, so the file is the old or the new one after a crash.

    The config is checked first as :func:`load_config` would check it, and
    a :class:`ConfigError` is raised without writing anything if it does not
    validate: a saved file always loads back equal to ``config``.
    """
    import tomli_w  # lazily: core imports the standard library only

    path = Path(path)
    data = config_to_dict(config)
    try:
        config_from_dict(data, path)
    except ConfigError as error:
        raise ConfigError(f"{error}; nothing was saved") from None
    write_atomic(path, tomli_w.dumps(data).encode("utf-8"))


def config_to_dict(config: Config) -> dict[str, Any]:
    """The file's layout as plain TOML values: ``{"run": …, "hardware": …, "ui": …}``."""
    hardware = config.hardware
    return {
        "run": config.run.to_dict(),
        "hardware": {name: getattr(hardware, name) for name in HARDWARE_KEYS},
        "camera": camera_to_dict(config.camera),
        "battery": config.battery.to_dict(),
        "ui": {"theme": config.ui.theme, "keys": dict(config.ui.keys)},
    }


def config_from_dict(data: Mapping[str, Any], path: Path | str) -> Config:
    """Validate the parsed file ``data``; missing tables and keys keep the defaults.

    ``path`` is only named in the :class:`ConfigError` messages.
    """
    try:
        return _read_config(data)
    except _Invalid as invalid:
        raise ConfigError(_message(Path(path), str(invalid))) from None


class _Invalid(Exception):
    """A value failed; carries the message text after ``config <path>:``."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key} {reason}")


def _read_config(data: Mapping[str, Any]) -> Config:
    _check_known(data, TABLES, prefix=None, what="table")
    defaults = Config()
    return Config(
        run=_read_run(_table(data, "run"), defaults.run),
        hardware=_read_hardware(_table(data, "hardware")),
        camera=_read_camera(_table(data, "camera")),
        battery=_read_battery(_table(data, "battery")),
        ui=_read_ui(_table(data, "ui")),
    )


def _read_run(table: Mapping[str, Any], base: Settings) -> Settings:
    # Checked here rather than left to Settings.from_dict so the message has the
    # same shape as for the other tables.
    _check_known(table, SETTING_KEYS, prefix="run", what="key")
    try:
        return Settings.from_dict(dict(table), base=base)
    except SettingsError as error:
        whole_table_error = str(error)
    # SettingsError does not say which key failed; the first key that fails on
    # its own is the one to name. Should none fail alone, the table is to blame.
    for key, value in table.items():
        try:
            Settings.from_dict({key: value}, base=base)
        except SettingsError as error:
            raise _Invalid(*_run_key_message(key, str(error))) from None
    raise _Invalid("run:", whole_table_error)


def _run_key_message(key: str, text: str) -> tuple[str, str]:
    """Split a SettingsError text into (dotted key, reason), reusing its wording."""
    # "frames must be …" reads as "run.frames must be …"; texts that name the
    # setting in other words ("clock trim must be …") keep them after "run.clock_ppm:".
    if text.startswith(f"{key} "):
        return f"run.{key}", text[len(key) + 1 :]
    if text.startswith(f"{key}: "):
        return f"run.{key}:", text[len(key) + 2 :]
    return f"run.{key}:", text


def _read_hardware(table: Mapping[str, Any]) -> HardwareConfig:
    _check_known(table, HARDWARE_KEYS, prefix="hardware", what="key")
    defaults = HardwareConfig()
    backend = _choice(table, "hardware", "backend", defaults.backend, BACKENDS)
    pins: dict[str, int] = {}
    for name in PIN_KEYS:
        pin = table.get(name, getattr(defaults, name))
        # bool is a subclass of int: `focus_pin = true` must not read as GPIO 1.
        if isinstance(pin, bool) or not isinstance(pin, int) or not MIN_PIN <= pin <= MAX_PIN:
            raise _Invalid(
                f"hardware.{name}",
                f"must be a GPIO number {MIN_PIN}–{MAX_PIN}, got {toml_value(pin)}",
            )
        pins[name] = pin
        clash = pin_clash(pins)
        if clash is not None:
            other = clash[0]
            default = "" if other in table else " (its default)"
            raise _Invalid(
                f"hardware.{name}",
                f"is GPIO {pin}, already used by hardware.{other}{default};"
                f" the four pins {', '.join(PIN_KEYS)} must be distinct",
            )
    active_high = _flag(table, "hardware", "active_high", defaults.active_high)
    return HardwareConfig(backend=backend, active_high=active_high, **pins)


def camera_to_dict(camera: CameraConfig) -> dict[str, Any]:
    """The ``[camera]`` table as the file spells it."""
    return {
        "trigger": camera.trigger,
        "download": camera.download,
        "shutter_speed": camera.shutter_speed,
        "wired": camera.wired,
        "call_timeout": format_duration(camera.call_timeout_ns),
        "reserve_mb": camera.reserve_mb,
    }


def _read_camera(table: Mapping[str, Any]) -> CameraConfig:
    _check_known(table, CAMERA_KEYS, prefix="camera", what="key")
    defaults = CameraConfig()
    trigger = _choice(table, "camera", "trigger", defaults.trigger, TRIGGERS)
    flags = {
        name: _flag(table, "camera", name, getattr(defaults, name))
        for name in ("download", "wired")
    }
    speed = table.get("shutter_speed", defaults.shutter_speed)
    if not isinstance(speed, str) or not speed.isprintable():
        raise _Invalid(
            "camera.shutter_speed",
            'must be one of the camera\'s shutter speeds such as "1/125", or "";'
            f" got {toml_value(speed)}",
        )
    timeout_ns = defaults.call_timeout_ns
    if "call_timeout" in table:
        raw = table["call_timeout"]
        limits = (
            f"from {format_duration(MIN_CALL_TIMEOUT_NS)} to {format_duration(MAX_CALL_TIMEOUT_NS)}"
        )
        try:
            if not isinstance(raw, str):
                raise DurationError("not text")
            timeout_ns = parse_duration(raw)
        except DurationError:
            raise _Invalid(
                "camera.call_timeout",
                f'must be a duration such as "10s" ({limits}), got {toml_value(raw)}',
            ) from None
        if not MIN_CALL_TIMEOUT_NS <= timeout_ns <= MAX_CALL_TIMEOUT_NS:
            raise _Invalid("camera.call_timeout", f"must be {limits}, got {toml_value(raw)}")
    reserve = table.get("reserve_mb", defaults.reserve_mb)
    if (
        isinstance(reserve, bool)
        or not isinstance(reserve, int)
        or not 0 <= reserve <= MAX_RESERVE_MB
    ):
        raise _Invalid(
            "camera.reserve_mb",
            f"must be a whole number of megabytes from 0 to {MAX_RESERVE_MB:,},"
            f" got {toml_value(reserve)}",
        )
    return CameraConfig(
        trigger=trigger,
        shutter_speed=speed.strip(),
        call_timeout_ns=timeout_ns,
        reserve_mb=reserve,
        **flags,
    )


def _read_battery(table: Mapping[str, Any]) -> BatteryConfig:
    try:
        return BatteryConfig.from_dict(table)
    except ConfigError as error:
        # Its text is "battery.<key> <reason>": the same shape as the other tables'.
        raise _Invalid(*str(error).split(" ", 1)) from None


def _read_ui(table: Mapping[str, Any]) -> UiConfig:
    _check_known(table, UI_KEYS, prefix="ui", what="key")
    defaults = UiConfig()
    theme = table.get("theme", defaults.theme)
    if not isinstance(theme, str) or not theme.strip():
        raise _Invalid(
            "ui.theme", f'must be a theme name such as "default", got {toml_value(theme)}'
        )
    keys = table.get("keys", defaults.keys)
    if not isinstance(keys, Mapping):
        raise _Invalid(
            "ui.keys",
            f'must be a table of binding id = key, such as start = "s"; got {toml_value(keys)}',
        )
    for binding, key in keys.items():
        if not isinstance(binding, str) or not binding.strip():
            raise _Invalid(
                f"ui.keys.{toml_key(binding)}", "is not a binding id; use a name such as start"
            )
        if not isinstance(key, str) or not key.strip():
            raise _Invalid(
                f"ui.keys.{toml_key(binding)}",
                f'must be a key such as "s" or "ctrl+s", got {toml_value(key)}',
            )
    return UiConfig(theme=theme, keys=dict(keys))


def _choice(
    table: Mapping[str, Any], prefix: str, key: str, default: str, choices: tuple[str, ...]
) -> str:
    """``table[key]`` (or ``default``), which must be one of ``choices``."""
    value = table.get(key, default)
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(toml_value(name) for name in choices)
        raise _Invalid(f"{prefix}.{key}", f"must be one of {allowed}, got {toml_value(value)}")
    return value


def _flag(table: Mapping[str, Any], prefix: str, key: str, default: bool) -> bool:
    """``table[key]`` (or ``default``), which must be true or false."""
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise _Invalid(f"{prefix}.{key}", f"must be true or false, got {toml_value(value)}")
    return value


def _table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, Mapping):
        raise _Invalid(
            name, f"must be a table, written [{name}] on a line of its own; got {toml_value(table)}"
        )
    return table


def _check_known(
    table: Mapping[str, Any], known: tuple[str, ...], *, prefix: str | None, what: str
) -> None:
    for key in table:
        if key not in known:
            dotted = toml_key(key) if prefix is None else f"{prefix}.{toml_key(key)}"
            names = (
                ", ".join(f"[{name}]" for name in known) if what == "table" else ", ".join(known)
            )
            raise _Invalid(dotted, f"is not a known {what}; known {what}s are {names}")


def _message(path: Path, text: str) -> str:
    """``config <path>: <text>``, forced onto one line for logs and the status bar."""
    shown = str(path)
    if not shown.isprintable():
        shown = json.dumps(shown)
    return " ".join(f"config {shown}: {text}".splitlines())
