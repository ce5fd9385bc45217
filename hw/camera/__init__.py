"""The USB camera (libgphoto2): sessions, the camera thread, files, the virtual camera.

Only :mod:`hw.camera.session` imports ``gphoto2``, and only in a camera worker
process (:mod:`hw.camera.worker`): the daemon itself never loads libgphoto2.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.clock import Clock
from core.model.camera import CameraConfig
from core.model.durations import NS_PER_S
from core.model.exposure import ExposureConfig
from core.model.place import Place
from hw.camera.base import Session
from hw.camera.sky import SkyOpener
from hw.camera.usb_camera import UsbCamera


def open_camera(
    config: CameraConfig,
    clock: Clock,
    *,
    virtual_folder: Path | None = None,
    exposure: ExposureConfig | None = None,
    place: Place | None = None,
) -> UsbCamera:
    """The camera ``config`` asks for, on its own thread timed by ``clock``; the camera
    itself may still be away. ``exposure`` is the ``[exposure]`` table.

    With ``virtual_folder`` it is libgphoto2's virtual camera serving JPEGs
    from that folder (the simulated rig), painted with the sky over ``place``
    (:mod:`hw.camera.sky`; a steady day when it has no place). Its simulated body
    holds Bulb over USB when ``[exposure]`` is auto, for the night's long exposures;
    otherwise it has no Bulb, as many bodies do, so a fixed bulb time tries the wired
    line's route.
    """
    from hw.camera.virtual import use_real_cameras, use_virtual_camera
    from hw.camera.worker import WorkerOpener

    virtual = virtual_folder is not None
    if virtual_folder is not None:
        use_virtual_camera(virtual_folder)
    else:
        use_real_cameras()
    # libgphoto2 runs in a camera worker process (its environment is the one set above):
    # a call that hangs or crashes there costs that worker, never the daemon.
    open_session: Callable[[], Session] = WorkerOpener(
        config.call_timeout_ns / NS_PER_S, virtual=virtual
    )
    if virtual_folder is not None:
        bulb = exposure is not None and exposure.auto
        open_session = SkyOpener(open_session, virtual_folder, place, clock, bulb=bulb)
    return UsbCamera(config, open_session, clock=clock, virtual=virtual, exposure=exposure)
