"""libgphoto2's own virtual camera, for the simulated rig (docs/architecture.md §10).

The ``gphoto2`` wheel ships a virtual USB port driver (``libgphoto2/vusb``)
with a PTP camera behind it that serves the JPEGs in ``VCAMERADIR``. Both
variables must be set before libgphoto2 first lists its ports, so this module
only locates the wheel: it never imports ``gphoto2`` itself.
"""

from __future__ import annotations

import base64
import importlib.util
import os
from pathlib import Path

from core.atomic import write_atomic
from core.model.errors import CameraError

SAMPLE_NAME = "lapse-sample.jpg"
# A 160×120 JPEG (a dusk gradient with a yellow block) that lapse made for the
# virtual camera to hand out; 947 bytes, so the wheel needs no image library.
SAMPLE_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA0JCgsKCA0LCgsODg0PEyAVExISEyccHhcgLikxMC4pLSwzOko+MzZG"
    "NywtQFdBRkxOUlNSMj5aYVpQYEpRUk//2wBDAQ4ODhMREyYVFSZPNS01T09PT09PT09PT09PT09PT09PT09PT09P"
    "T09PT09PT09PT09PT09PT09PT09PT09PT0//wAARCAB4AKADASIAAhEBAxEB/8QAGQABAQEBAQEAAAAAAAAAAAAA"
    "AAIGBQQD/8QAMhABAQABAQQEDAcAAAAAAAAAABEBBAIDEtEFBhVTEyIlRFRxc4KSorHBFCEkNEFhgf/EABkBAQEB"
    "AQEBAAAAAAAAAAAAAAADAgQFAf/EACIRAQEBAQEBAAEDBQAAAAAAAAAREgECAwQTFCEiIzIzUf/aAAwDAQACEQMR"
    "AD8AycIuEelpxREIuENERCLhDREQi4Q0REIuENERCLhDREQi4Q0REIuENERCLhDREQi4Q0RUIuES03EQi4Q0REIu"
    "ENERCLhDREQi4Q0REIuENERCLhDREQi4Q0REIuENERCLhDRFQi4RKtxEIuEKREIuEKREIuEKREIuEKREIuEKREIu"
    "EKREIuEKREIuEKREIuEKRcIqER03EwioQ0RMIqENETCKhDREwioQ0RMIqENETCKhDREwioQ0RMIqENETCKhDRFwi"
    "4RLTcRCLhDREQi4Q0REejS6HU6zj/Dbvj4JxeNjEvr9T5R3+q2P3XufdL7fXvjx31xvx5vZ1zew+kfRvn2eZ2H0j"
    "6N8+zzbEcP776f8AOLfo+WO7D6R9G+fZ5vLqtJv9JvMbvUbHBtZxxYxcZ/L/AD1N2zHWbHlDd+yx9crfD8r39Pee"
    "se/lzzy8cWEXCO3SMRCLhDREQi4Q0REIuENEVCLhEtNxEIuENERCLhDRER3urHnPufdxI7nVrzn3fuh+R3+31v58"
    "/qd0B5jpGa6yY8obv2WPrlpWb6xY/X7HssfXLo/F/wBif0/xceEXCPS054iEXCGiIhFwhoiIRcIaIuEVCI6biYRU"
    "IaImEVCGiJjo9E67daHwvhdnbzxycOMfxebwQjPrnPXJ195/H8tB27pe733w45nbul7vffDjmz8Il+h4a31oO3dL"
    "3e++HHNyeldVu9bqdnebrZ2sYxsY2fGx/eebywjXj5+fHbx87671MIqEV0zEwioQ0RMIqENETCKhDRFwgJ1shAKE"
    "IBQhAKEIBQhAKEIBQhAKEIBQhAKP/9k="
)


def wheel_folder() -> Path:
    """The ``libgphoto2`` folder of the installed ``gphoto2`` wheel."""
    spec = importlib.util.find_spec("gphoto2")
    if spec is None or spec.origin is None:
        raise CameraError("the gphoto2 package is not installed; `pip install gphoto2`")
    folder = Path(spec.origin).parent / "libgphoto2"
    if not (folder / "vusb").is_dir():
        raise CameraError(
            f"this gphoto2 package has no virtual camera ({folder / 'vusb'} is missing);"
            " install the gphoto2 wheel from PyPI"
        )
    return folder


def use_virtual_camera(folder: Path) -> Path:
    """Point libgphoto2 at the virtual camera serving JPEGs from ``folder``; return it.

    Writes the sample JPEG when the folder has none, so the camera has
    something to "take". Call before the first camera is opened.
    """
    libgphoto2 = wheel_folder()
    folder.mkdir(parents=True, exist_ok=True)
    if not any(folder.glob("*.jpg")) and not any(folder.glob("*.JPG")):
        write_atomic(folder / SAMPLE_NAME, SAMPLE_JPEG)
    os.environ["VCAMERADIR"] = str(folder)
    os.environ["IOLIBS"] = str(libgphoto2 / "vusb")
    return folder


def use_real_cameras() -> None:
    """Point libgphoto2 at the real USB ports, whatever the environment said before.

    A ``VCAMERADIR`` left in the environment (a test, a demo) would otherwise
    make the wheel load the virtual port driver in place of the real ones.
    """
    libgphoto2 = wheel_folder()
    os.environ.pop("VCAMERADIR", None)
    os.environ["IOLIBS"] = str(libgphoto2 / "iolibs")
