"""Choose and build the rig from the config and the environment (``LAPSE_HW``).

Importing this module is cheap: gpiozero and the rig modules are imported
only when a rig is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from core.clock import Clock
from core.model.camera import Camera
from core.model.errors import ConfigError, RigError
from core.model.fields import Invalid
from core.model.hardware import HARDWARE, HardwareConfig
from core.model.inputs import InputsConfig
from core.model.rig import Controls, Rig

if TYPE_CHECKING:
    from gpiozero.pins import Factory

    from core.config import Config

ENV_VAR = "LAPSE_HW"
"""Overrides ``hardware.backend`` for one run: ``gpio`` or ``sim``."""
ENV_CHOICES = ("gpio", "sim")
NO_GPIO_NOTICE = "No GPIO on this machine: the rig is simulated."

GPIOCHIP = Path("dev/gpiochip0")
MODEL_FILES = (Path("proc/device-tree/model"), Path("sys/firmware/devicetree/base/model"))
"""Where the device tree names the board, relative to the root; either may be missing."""

# Tried in this order when GPIOZERO_PIN_FACTORY does not name one: lgpio works
# on every Pi (the 5 included) and can do PWM; RPi.GPIO can too on older Pis;
# gpiozero's pure-Python NativeFactory needs nothing installed but has no PWM.
_FACTORIES = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
    "native": ("gpiozero.pins.native", "NativeFactory"),
}
# Named by GPIOZERO_PIN_FACTORY only (remote GPIO through a pigpio daemon).
_NAMED_FACTORIES = {**_FACTORIES, "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory")}


def machine_has_gpio(root: Path = Path("/")) -> bool:
    """Whether this is a Raspberry Pi with a GPIO chip, judged from files under ``root``.

    Only looks at files: no device is opened and nothing is imported, so it
    is safe to call anywhere. Tests pass a fake tree as ``root``.
    """
    if not (root / GPIOCHIP).exists():
        return False
    for model_file in MODEL_FILES:
        try:
            model = (root / model_file).read_bytes()
        except OSError:
            continue
        if b"Raspberry Pi" in model:
            return True
    return False


def build_rig(
    hardware: HardwareConfig, environ: Mapping[str, str], *, root: Path = Path("/")
) -> tuple[Rig, str | None]:
    """Build the rig the config and ``LAPSE_HW`` ask for, and a notice for every screen.

    The notice says why the rig is simulated; it is None when real GPIO is
    driven. ``auto`` simulates only on a machine without GPIO: on a Pi whose
    pins cannot be claimed it raises rather than quietly shoot nothing.
    ``root`` is where :func:`machine_has_gpio` looks (a fake tree in tests).
    Raises :class:`ConfigError` for an unknown backend (bad input) and
    :class:`RigError` for unusable GPIO.
    """
    backend, source = _chosen_backend(hardware, environ)
    if backend == "auto":
        if not machine_has_gpio(root):
            return _sim_rig(hardware), NO_GPIO_NOTICE
        backend = "gpio"
    if backend == "sim":
        return _sim_rig(hardware), f"The rig is simulated ({source})."
    return _gpio_rig(hardware, environ), None


VIRTUAL_CAMERA_FOLDER = "virtual-camera"
"""Under the state directory: the JPEGs the simulated rig's virtual camera hands out."""
CAMERA_ENV_VAR = "LAPSE_CAMERA"
"""``usb`` (a real camera) or ``virtual``; by default virtual exactly when the rig is simulated."""
CAMERA_ENV_CHOICES = ("usb", "virtual")


def build_camera(
    config: Config, rig: Rig, state_dir: Path, environ: Mapping[str, str], clock: Clock
) -> Camera | None:
    """The USB camera ``config.camera`` asks for, or None when its trigger is ``off``.

    A simulated rig gets libgphoto2's virtual camera, so the whole USB path
    can be tried without a camera, and its pictures show the simulated sky over
    ``config.place`` (:mod:`hw.camera.sky`); ``LAPSE_CAMERA`` chooses otherwise (a
    real camera on a laptop's simulated rig). gphoto2 is imported only here.
    """
    camera = config.camera
    if not camera.enabled:
        return None
    wanted = environ.get(CAMERA_ENV_VAR, "").strip().lower()
    if wanted and wanted not in CAMERA_ENV_CHOICES:
        allowed = " or ".join(CAMERA_ENV_CHOICES)
        raise ConfigError(f"{CAMERA_ENV_VAR} must be {allowed}, not {wanted!r}")
    virtual = wanted == "virtual" if wanted else rig.simulated
    from hw.camera import open_camera

    folder = state_dir / VIRTUAL_CAMERA_FOLDER if virtual else None
    return open_camera(
        camera, clock, virtual_folder=folder, exposure=config.exposure, place=config.place
    )


def _chosen_backend(hardware: HardwareConfig, environ: Mapping[str, str]) -> tuple[str, str]:
    """The backend and where it was set, for the notice."""
    # An empty LAPSE_HW (``LAPSE_HW= lapse``) means "not set", as shells use it.
    override = environ.get(ENV_VAR, "").strip()
    if override:
        if override.lower() not in ENV_CHOICES:
            allowed = " or ".join(ENV_CHOICES)
            raise ConfigError(f"{ENV_VAR} must be {allowed}, not {override!r}")
        return override.lower(), f"{ENV_VAR}={override.lower()}"
    try:
        HARDWARE.check(hardware)  # a config built in code has not been through the file's check
    except Invalid as invalid:
        raise ConfigError(str(invalid)) from None
    return hardware.backend, f'hardware.backend = "{hardware.backend}"'


def _sim_rig(hardware: HardwareConfig) -> Rig:
    from hw.sim import make_sim_rig

    return make_sim_rig(hardware)


def _gpio_rig(hardware: HardwareConfig, environ: Mapping[str, str]) -> Rig:
    from hw.gpio_rig import GpioRig

    factory = make_pin_factory(environ)
    try:
        return GpioRig(hardware, factory, close_factory=True)
    except BaseException:
        # The rig never owned it: close it here, or its chip handle leaks.
        factory.close()
        raise


def make_pin_factory(environ: Mapping[str, str]) -> Factory:
    """A gpiozero pin factory for real GPIO, or :class:`RigError` saying why there is none.

    ``GPIOZERO_PIN_FACTORY`` (gpiozero's own variable) picks one by name;
    otherwise lgpio, RPi.GPIO and gpiozero's native factory are tried in turn.
    """
    wanted = environ.get("GPIOZERO_PIN_FACTORY", "").strip().lower()
    if wanted:
        if wanted not in _NAMED_FACTORIES:
            allowed = ", ".join(_NAMED_FACTORIES)
            raise ConfigError(
                f"GPIOZERO_PIN_FACTORY must be one of {allowed} for real GPIO, not {wanted!r};"
                f" use {ENV_VAR}=sim to simulate"
            )
        candidates = {wanted: _NAMED_FACTORIES[wanted]}
    else:
        candidates = _FACTORIES
    reasons: list[str] = []
    for name, (module_name, class_name) in candidates.items():
        try:
            factory_class = getattr(importlib.import_module(module_name), class_name)
            return factory_class()
        except Exception as exc:
            # A missing library (ImportError), not a Pi (RuntimeError, PinUnknownPi),
            # no access to /dev/gpiochip* (lgpio.error, OSError): all mean "not this one".
            text = " ".join(str(exc).split()) or type(exc).__name__
            reasons.append(f"{name}: {text}")
    raise RigError(f"no GPIO here ({'; '.join(reasons)}); use {ENV_VAR}=sim to simulate")


def build_controls(inputs: InputsConfig, rig: Rig) -> Controls | None:
    """The box's own controls (``[inputs]``) as inputs on the rig's pins, or None when none
    is wired. On the simulated rig they are its mock pins, which ``lapse sim`` moves."""
    if not inputs.wired:
        return None
    from hw.box_inputs import BoxInputs

    factory = getattr(rig, "pin_factory", None)
    if factory is None:
        raise RigError("this rig has no pins for the box's controls ([inputs])")
    return BoxInputs(inputs, factory)
