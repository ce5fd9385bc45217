"""The config file (TOML): run defaults, hardware pins, UI choices.

Read with ``tomllib``; written with ``tomli-w`` through :func:`write_atomic`.
A file that fails to parse or validate is reported with its path, the key and
the reason, and is never overwritten by defaults.

The layout, every table and key optional::

    [run]           # core.model.settings.RUN
    interval = "1min"
    [hardware]      # core.model.hardware.HARDWARE
    backend = "auto"
    focus_pin = 20
    [inputs]        # core.model.inputs.INPUTS: the box's switches and button
    button_pin = 23
    [camera]        # core.model.camera.CAMERA: a USB camera; trigger = "off" needs none
    trigger = "usb"
    [battery]       # core.model.battery.BATTERY: which monitor, the model's figures
    source = "auto"

    [place]         # core.model.place.PLACE: where the rig stands, for the sun's times
    latitude = 51.48
    longitude = -0.01
    [ui]            # core.model.ui.UI
    theme = "default"
    [ui.keys]       # binding id = key
    start_stop = "s"
    [after]         # core.model.after.AFTER: what the daemon makes when a run ends
    video = true
    [hooks]         # core.model.hooks.HOOKS: the user's commands run on events
    frame_saved = ["/home/pi/bin/copy-frame"]
    [upload]        # core.model.upload.UPLOAD: an SFTP server the files go to
    host = "example.org"

Each table's keys are declared once, in the model (:mod:`core.model.fields`),
and checked by the same code; this module reads and writes the file.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.atomic import write_atomic
from core.model.after import AFTER, AfterConfig
from core.model.battery import BATTERY, BatteryConfig
from core.model.camera import CAMERA, CameraConfig
from core.model.durations import MINUTE_NS
from core.model.errors import ConfigError, SettingsError
from core.model.exposure import EXPOSURE, ExposureConfig
from core.model.fields import Invalid, Table
from core.model.hardware import HARDWARE, HardwareConfig, check_pins_distinct
from core.model.hooks import HOOKS, HooksConfig
from core.model.inputs import INPUTS, InputsConfig, check_inputs
from core.model.place import PLACE, Place
from core.model.settings import RUN, Settings
from core.model.toml_text import toml_key
from core.model.ui import UI, UiConfig
from core.model.upload import UPLOAD, UploadConfig


@dataclass(frozen=True)
class Config:
    """The whole config file."""

    run: Settings = field(default_factory=lambda: Settings(interval_ns=MINUTE_NS))
    """The settings a new run starts from (the switches' last positions)."""
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    inputs: InputsConfig = field(default_factory=InputsConfig)
    """The box's own controls: switches, a button, an encoder (unset: none wired)."""
    camera: CameraConfig = field(default_factory=CameraConfig)
    battery: BatteryConfig = field(default_factory=BatteryConfig)
    exposure: ExposureConfig = field(default_factory=ExposureConfig)
    place: Place = field(default_factory=Place)
    """Where the rig stands: the sun's times for a run's window (unset: no window by it)."""
    ui: UiConfig = field(default_factory=UiConfig)
    after: AfterConfig = field(default_factory=AfterConfig)
    """What the daemon makes when a run ends (a video, a keogram, star trails)."""
    hooks: HooksConfig = field(default_factory=HooksConfig)
    """The user's commands run on events (unset: none)."""
    upload: UploadConfig = field(default_factory=UploadConfig)
    """The SFTP server the files go to (unset: none)."""


TABLES: tuple[Table, ...] = (
    RUN,
    HARDWARE,
    INPUTS,
    CAMERA,
    EXPOSURE,
    BATTERY,
    PLACE,
    UI,
    AFTER,
    HOOKS,
    UPLOAD,
)
"""The file's tables in its order; each fills the :class:`Config` attribute of its name."""


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
    data = _read_toml(path)
    return Config() if data is None else config_from_dict(data, path)


def _read_toml(path: Path) -> dict[str, Any] | None:
    """The parsed TOML file at ``path``; None when there is none. :class:`ConfigError`
    naming the file and the reason when it cannot be read or is not TOML."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
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
    except RecursionError:
        # tomllib reads nested arrays and tables by recursion: thousands deep exhaust it.
        reason = "arrays or tables are nested too deeply to read"
        raise ConfigError(_message(path, f"not valid TOML: {reason}")) from None
    except ValueError:
        # Python refuses to read an integer of more than 4,300 digits (a TOMLDecodeError
        # is a ValueError too, but is caught above).
        reason = "a number has too many digits to read"
        raise ConfigError(_message(path, f"not valid TOML: {reason}")) from None
    return data


def save_config(path: Path, config: Config) -> None:
    """Write ``config`` to ``path`` whole, so the file is the old or the new one after a crash.

    The config is checked first, each value as :func:`load_config` would give
    it and the whole as it would read it, and a :class:`ConfigError` is raised
    without writing anything if it does not validate: a saved file always
    loads back equal to ``config``.
    """
    import tomli_w  # lazily: core imports the standard library only

    path = Path(path)
    try:
        # Each value exactly as a load gives it ("console", not " Console"), then
        # the whole as a load reads it (two pins on one line).
        for table in TABLES:
            table.check(getattr(config, table.name))
        data = config_to_dict(config)
        config_from_dict(data, path)
    except Invalid as invalid:
        raise ConfigError(f"{_message(path, str(invalid))}; nothing was saved") from None
    except ConfigError as error:
        raise ConfigError(f"{error}; nothing was saved") from None
    write_atomic(path, tomli_w.dumps(data).encode("utf-8"))


@dataclass(frozen=True)
class ChoicesFile:
    """What the photographer chose in the interface, kept in lapse's own file.

    The config file is the photographer's: lapse only reads it, so its comments
    and spellings (``0x42``) stay as written. The switches' positions, the
    settings screen's choices and the theme go to ``choices.toml`` in the state
    directory instead, as the keys that differ from the config file, and are
    read after it: a key edited in the config file later still counts unless a
    choice was made for it since.
    """

    path: Path
    base: Config
    """The config file's settings, which the choices are laid over."""

    def load(self) -> tuple[Config, str | None]:
        """The config with the choices on top, and None; or the config alone and one line
        saying why the choices were set aside (they are lapse's own, never worth a refusal)."""
        try:
            data = _read_toml(self.path) or {}
            config = _with_choices(self.base, data)
        except (ConfigError, Invalid) as error:
            # _read_toml names the file as a config file; this one is lapse's own.
            reason = str(error).removeprefix(f"config {self.path}: ")
            return self.base, f"choices {self.path}: {reason}; the config file's settings are used"
        return config, None

    def save(self, chosen: Config) -> None:
        """Keep what ``chosen`` says that the config file does not; raises :class:`OSError`
        (the disk) or :class:`ConfigError` (a value a load would refuse)."""
        import tomli_w  # lazily: core imports the standard library only

        base_run, run = RUN.write(self.base.run), RUN.write(chosen.run)
        data: dict[str, Any] = {}
        changed = {key: value for key, value in run.items() if base_run.get(key) != value}
        if changed:
            data["run"] = changed
        if chosen.ui.theme != self.base.ui.theme:
            data["ui"] = {"theme": UI.write(chosen.ui)["theme"]}
        try:
            if _with_choices(self.base, data) != chosen:
                raise Invalid("cannot hold these choices as given", key="choices")
        except Invalid as invalid:
            raise ConfigError(f"choices {self.path}: {invalid}; nothing was saved") from None
        write_atomic(self.path, tomli_w.dumps(data).encode("utf-8"))


def _with_choices(base: Config, data: Mapping[str, Any]) -> Config:
    """``base`` with a choices file's ``[run]`` and ``[ui] theme`` laid over it."""
    for name in data:
        if name not in (RUN.name, UI.name):
            raise Invalid("is not a table the choices keep; they keep [run] and [ui]", key=name)
    ui = data.get(UI.name, {})
    if isinstance(ui, Mapping) and set(ui) - {"theme"}:
        raise Invalid("keeps only the theme", key=UI.name)
    theme = UI.read(ui).get("theme", base.ui.theme)
    return replace(
        base, run=_read_run(data.get(RUN.name, {}), base.run), ui=replace(base.ui, theme=theme)
    )


def config_to_dict(config: Config) -> dict[str, Any]:
    """The file's layout as plain TOML values: ``{"run": …, "hardware": …, "ui": …}``."""
    return {table.name: table.write(getattr(config, table.name)) for table in TABLES}


def config_from_dict(data: Mapping[str, Any], path: Path | str) -> Config:
    """Validate the parsed file ``data``; missing tables and keys keep the defaults.

    ``path`` is only named in the :class:`ConfigError` messages.
    """
    try:
        return _read_config(data)
    except Invalid as invalid:
        raise ConfigError(_message(Path(path), str(invalid))) from None


def _read_config(data: Mapping[str, Any]) -> Config:
    names = tuple(table.name for table in TABLES)
    for name in data:
        if name not in names:
            known = ", ".join(f"[{table}]" for table in names)
            raise Invalid(f"is not a known table; known tables are {known}", key=toml_key(name))
    run = _read_run(data.get("run", {}), Config().run)
    hardware_table = data.get(HARDWARE.name, {})
    hardware = _read_hardware(hardware_table)
    return Config(
        run=run,
        hardware=hardware,
        inputs=_read_inputs(data.get(INPUTS.name, {}), hardware, hardware_table),
        camera=CameraConfig(**CAMERA.read(data.get("camera", {}))),
        exposure=ExposureConfig(**EXPOSURE.read(data.get("exposure", {}))),
        battery=BatteryConfig(**BATTERY.read(data.get("battery", {}))),
        place=Place.from_dict(data.get("place", {})),
        ui=UiConfig(**UI.read(data.get("ui", {}))),
        after=AfterConfig(**AFTER.read(data.get("after", {}))),
        hooks=HooksConfig(**HOOKS.read(data.get(HOOKS.name, {}))),
        upload=UploadConfig(**UPLOAD.read(data.get(UPLOAD.name, {}))),
    )


def _read_run(table: Any, base: Settings) -> Settings:
    RUN.read(table)  # each key on its own, named as the file names it: run.frames
    try:
        return Settings.from_dict(dict(table), base=base)
    except SettingsError as error:
        # Every key passed on its own: a rule across keys failed, and the table is to blame.
        raise Invalid(str(error), key=RUN.name, sentence=True) from None


def _read_inputs(table: Any, hardware: HardwareConfig, given: Any) -> InputsConfig:
    inputs = InputsConfig(**INPUTS.read(table))
    check_inputs(inputs, hardware, given)
    return inputs


def _read_hardware(table: Any) -> HardwareConfig:
    hardware = HardwareConfig(**HARDWARE.read(table))
    check_pins_distinct(hardware, given=table)
    return hardware


def _message(path: Path, text: str) -> str:
    """``config <path>: <text>``, forced onto one line for logs and the status bar."""
    shown = str(path)
    if not shown.isprintable():
        shown = json.dumps(shown)
    return " ".join(f"config {shown}: {text}".splitlines())
