"""What the camera thread needs from one open camera, without importing gphoto2.

:class:`Session` is implemented by :class:`hw.camera.session.GphotoSession`
(libgphoto2) and, in tests, by wrappers that inject the faults a real camera
cannot be made to produce on demand (a call that hangs, a cable pulled).
"""

from __future__ import annotations

from typing import Protocol


class CallError(Exception):
    """A camera call failed; ``kind`` says what the camera thread should do about it.

    - ``busy``: try again shortly (the camera is still saving);
    - ``gone``: no camera answers (unplugged, off, asleep): reopen later;
    - ``claimed``: another program holds the USB device (gvfs on a desktop);
    - ``unsupported``: this camera cannot do it; retrying will not help;
    - ``full``: the camera's card has no room for another picture;
    - ``hung``: the call did not return within its bound;
    - ``failed``: anything else; the camera is reopened before the next frame.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Session(Protocol):
    """One open camera. Every method may raise :class:`CallError`; none is thread-safe,
    so only the camera's own I/O thread calls them."""

    model: str
    """The camera's name as libgphoto2 knows it: ``"Nikon DSC D3400"``."""

    def battery(self) -> str | None:
        """The camera's own battery level as it reports it (``"75%"``), or None."""
        ...

    def shutter_speeds(self) -> list[str]:
        """The camera's shutter-speed choices, in its own spelling; empty if it has none."""
        ...

    def set_shutter_speed(self, value: str) -> None:
        """Set one of :meth:`shutter_speeds`."""
        ...

    def isos(self) -> list[str]:
        """The camera's ISO choices, in its own spelling; empty if it has no ISO setting."""
        ...

    def set_iso(self, value: str) -> None:
        """Set one of :meth:`isos`."""
        ...

    def exposure(self) -> tuple[str | None, str | None]:
        """The shutter speed and ISO the camera is set to now (None: it has no such setting)."""
        ...

    def usb_bulb(self) -> str | None:
        """The control that times a bulb exposure over USB (``bulb`` on Nikon,
        ``eosremoterelease`` on Canon), or None when this camera has none."""
        ...

    def prepare_bulb(self) -> None:
        """Set the camera to Bulb so that :meth:`bulb` can open and close the shutter."""
        ...

    def bulb(self, open_: bool) -> None:
        """Open (press) or close (release) the shutter of a bulb exposure."""
        ...

    def keep_on_card(self) -> None:
        """Have the camera save its files to its memory card rather than its RAM."""
        ...

    def trigger(self) -> None:
        """Take a picture with the camera's own settings and return at once."""
        ...

    def new_files(self, timeout_ms: int) -> list[tuple[str, str]]:
        """Files the camera has added since the last call, as ``(folder, name)``.

        Waits at most ``timeout_ms`` for the first file (other news the camera
        sends on the way does not end the wait), then takes every event
        already queued.
        """
        ...

    def download(self, folder: str, name: str) -> bytes:
        """The content of one file on the camera."""
        ...

    def delete(self, folder: str, name: str) -> None:
        """Remove one file from the camera's card (once its download is safely on disk)."""
        ...

    def close(self) -> None:
        """End the session (the camera is free for another program)."""
        ...
