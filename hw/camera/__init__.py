"""The USB camera (libgphoto2): sessions, the camera thread, files, the virtual camera.

Only :mod:`hw.camera.session` imports ``gphoto2``; :func:`open_camera` imports
it when a camera is actually wanted, so the GPIO-only daemon never loads it.
"""

from __future__ import annotations

from pathlib import Path

from core.clock import Clock
from core.model.camera import CameraConfig
from hw.camera.usb_camera import UsbCamera


def open_camera(
    config: CameraConfig, clock: Clock, *, virtual_folder: Path | None = None
) -> UsbCamera:
    """The camera ``config`` asks for, on its own thread timed by ``clock``; the camera
    itself may still be away.

    With ``virtual_folder`` it is libgphoto2's virtual camera serving JPEGs
    from that folder (the simulated rig).
    """
    from hw.camera.virtual import use_real_cameras, use_virtual_camera

    if virtual_folder is not None:
        use_virtual_camera(virtual_folder)
    else:
        use_real_cameras()
    from hw.camera.session import open_session

    return UsbCamera(config, open_session, clock=clock, virtual=virtual_folder is not None)
