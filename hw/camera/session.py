"""The libgphoto2 session: the only module of lapse that imports ``gphoto2``.

Every gphoto2 error becomes a :class:`CallError` whose kind tells the camera
thread whether to retry, reopen or give up; the messages are for photographers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import gphoto2 as gp

from core.model.camera_policy import bulb_speed
from hw.camera.base import CallError

GVFS_HINT = (
    "another program holds the camera's USB connection; on a desktop this is"
    " nearly always gvfs: run `gio mount -s gphoto2` (or"
    " `systemctl --user stop gvfs-gphoto2-volume-monitor`) and try again"
)
NO_CAMERA = "no camera answers over USB: check the cable, and that the camera is on and awake"
CARD_FULL = (
    "the camera's card is full: make room on it. lapse deletes each file from the card"
    " once it is downloaded, unless camera.keep_on_camera = true or camera.download = false"
)

# libgphoto2's result codes (gphoto2_result.h and gphoto2-port-result.h).
_BUSY = {-110}  # GP_ERROR_CAMERA_BUSY
_CLAIMED = {-53}  # GP_ERROR_IO_USB_CLAIM
_GONE = {
    -7,  # GP_ERROR_IO
    -10,  # GP_ERROR_TIMEOUT
    -31,  # GP_ERROR_IO_INIT
    -34,  # GP_ERROR_IO_READ
    -35,  # GP_ERROR_IO_WRITE
    -51,  # GP_ERROR_IO_USB_CLEAR_HALT
    -52,  # GP_ERROR_IO_USB_FIND
    -105,  # GP_ERROR_MODEL_NOT_FOUND
}
_UNSUPPORTED = {-6}  # GP_ERROR_NOT_SUPPORTED
_FULL = {-115}  # GP_ERROR_NO_SPACE

SHUTTER_SPEED = "shutterspeed"
ISO = "iso"


def call_error(error: gp.GPhoto2Error, doing: str) -> CallError:
    """The :class:`CallError` for a gphoto2 error raised while ``doing`` something."""
    code = error.code
    if code in _BUSY:
        return CallError("busy", f"the camera was busy while {doing}")
    if code in _CLAIMED:
        return CallError("claimed", GVFS_HINT)
    if code in _GONE:
        return CallError("gone", f"the camera stopped answering while {doing} ({error.string})")
    if code in _UNSUPPORTED:
        return CallError("unsupported", f"the camera cannot do this: {doing}")
    if code in _FULL:
        return CallError("full", CARD_FULL)
    return CallError("failed", f"the camera failed while {doing}: {error.string}")


def open_session() -> GphotoSession:
    """Open the first camera libgphoto2 finds; :class:`CallError` when none can be opened."""
    camera = gp.Camera()
    try:
        camera.init()
    except gp.GPhoto2Error as error:
        failure = call_error(error, "opening it")
        if failure.kind == "gone":
            failure = CallError("gone", NO_CAMERA)
        raise failure from None
    return GphotoSession(camera)


class GphotoSession:
    """One open camera (see :class:`hw.camera.base.Session`)."""

    def __init__(
        self,
        camera: Any,
        now_s: Callable[[], float] = time.monotonic,
        sleep_s: Callable[[float], None] = time.sleep,
    ) -> None:
        self._camera = camera
        self._now_s = now_s
        self._sleep_s = sleep_s
        self.model = camera.get_abilities().model

    def battery(self) -> str | None:
        widget = self._widget("batterylevel")
        return None if widget is None else str(widget.get_value())

    def shutter_speeds(self) -> list[str]:
        return self._choices(SHUTTER_SPEED)

    def set_shutter_speed(self, value: str) -> None:
        self._set_and_check(SHUTTER_SPEED, value, "shutter speed", "M or S (Tv)")

    def isos(self) -> list[str]:
        return self._choices(ISO)

    def set_iso(self, value: str) -> None:
        self._set_and_check(ISO, value, "ISO", "M")

    def exposure(self) -> tuple[str | None, str | None]:
        config = self._config()
        shutter, iso = _child(config, SHUTTER_SPEED), _child(config, ISO)
        return (
            None if shutter is None else str(shutter.get_value()),
            None if iso is None else str(iso.get_value()),
        )

    def usb_bulb(self) -> str | None:
        config = self._config()
        if _child(config, "eosremoterelease") is not None:
            return "eosremoterelease"
        # The bulb control alone proves nothing (libgphoto2 offers it to every PTP
        # camera); the camera must also have a Bulb shutter speed to hold it open.
        if _child(config, "bulb") is not None and bulb_speed(self.shutter_speeds()):
            return "bulb"
        return None

    def prepare_bulb(self) -> None:
        speed = bulb_speed(self.shutter_speeds())
        if speed is None:
            raise CallError("unsupported", "the camera has no Bulb shutter speed")
        self.set_shutter_speed(speed)

    def bulb(self, open_: bool) -> None:
        control = self.usb_bulb()
        doing = "opening the shutter" if open_ else "closing the shutter"
        if control == "eosremoterelease":
            self._set(control, "Press Full" if open_ else "Release Full", doing)
        elif control == "bulb":
            self._set(control, 1 if open_ else 0, doing)
        else:
            raise CallError("unsupported", "the camera cannot time a bulb exposure over USB")

    def keep_on_card(self) -> None:
        widget = self._widget("capturetarget")
        if widget is None:
            return
        choices = [widget.get_choice(i) for i in range(widget.count_choices())]
        card = next((c for c in choices if "card" in c.lower()), None)
        if card is not None:
            self._set("capturetarget", card, "choosing the memory card")

    def trigger(self) -> None:
        try:
            self._camera.trigger_capture()
        except gp.GPhoto2Error as error:
            raise call_error(error, "triggering the shutter") from None

    def new_files(self, timeout_ms: int) -> list[tuple[str, str]]:
        files: list[tuple[str, str]] = []
        deadline = self._now_s() + timeout_ms / 1000
        while True:
            # Until a file comes, wait out what is left of the timeout: a camera sends
            # other news too (capture complete, settings changed), often several in a
            # row, and a look must not end at the first of them. Once a file came, take
            # only what is queued already.
            wait = 0 if files else max(0, int((deadline - self._now_s()) * 1000))
            try:
                kind, data = self._camera.wait_for_event(wait)
            except gp.GPhoto2Error as error:
                raise call_error(error, "waiting for its news") from None
            if kind == gp.GP_EVENT_FILE_ADDED:
                files.append((data.folder, data.name))
            elif kind == gp.GP_EVENT_TIMEOUT:
                if not files:
                    # A driver that answers at once instead of waiting is not asked
                    # again before the look is over: looks never spin.
                    self._sleep_s(max(0.0, deadline - self._now_s()))
                return files

    def download(self, folder: str, name: str) -> bytes:
        try:
            file = self._camera.file_get(folder, name, gp.GP_FILE_TYPE_NORMAL)
            return bytes(memoryview(file.get_data_and_size()))
        except gp.GPhoto2Error as error:
            raise call_error(error, f"downloading {name!r}") from None

    def delete(self, folder: str, name: str) -> None:
        try:
            self._camera.file_delete(folder, name)
        except gp.GPhoto2Error as error:
            raise call_error(error, f"deleting {name!r} from its card") from None

    def close(self) -> None:
        with contextlib.suppress(gp.GPhoto2Error):
            self._camera.exit()

    # -- config widgets -----------------------------------------------------------
    def _config(self) -> Any:
        try:
            return self._camera.get_config()
        except gp.GPhoto2Error as error:
            raise call_error(error, "reading its settings") from None

    def _widget(self, name: str) -> Any:
        return _child(self._config(), name)

    def _choices(self, name: str) -> list[str]:
        widget = self._widget(name)
        if widget is None:
            return []
        return [widget.get_choice(i) for i in range(widget.count_choices())]

    def _set_and_check(self, name: str, value: str, said: str, mode: str) -> None:
        self._set(name, value, f"setting the {said} to {value}")
        # Read back: a camera in a mode that fixes the value (auto, a dial the body
        # owns) accepts the call and keeps its own.
        widget = self._widget(name)
        kept = None if widget is None else widget.get_value()
        if kept != value:
            raise CallError(
                "unsupported",
                f"the camera kept its {said} at {kept} instead of {value}; set its"
                f" mode dial to {mode}",
            )

    def _set(self, name: str, value: object, doing: str) -> None:
        config = self._config()
        widget = _child(config, name)
        if widget is None:
            raise CallError("unsupported", f"the camera has no {name} setting ({doing})")
        try:
            widget.set_value(value)
            # The whole tree, not set_single_config: some cameras (the virtual
            # one among them) answer single-widget calls with "bad parameters".
            self._camera.set_config(config)
        except gp.GPhoto2Error as error:
            raise call_error(error, doing) from None


def _child(config: Any, name: str) -> Any:
    try:
        return config.get_child_by_name(name)
    except gp.GPhoto2Error:
        return None
