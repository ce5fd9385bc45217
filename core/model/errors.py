"""Errors a user can cause, each with a message a photographer understands."""


class LapseError(Exception):
    """Base of every error that is the user's to fix; its text is shown as is."""


class DurationError(LapseError, ValueError):
    """A duration could not be read."""


class SettingsError(LapseError, ValueError):
    """A setting is out of range; the message names the field and the limit."""


class PlanError(SettingsError):
    """The settings cannot be turned into a frame plan (an exposure too long, …)."""


class ConfigError(LapseError):
    """The config file could not be read or does not validate."""


class ProtocolError(LapseError):
    """A message on the daemon socket is malformed or unknown."""


class DaemonUnavailable(LapseError):
    """No daemon answers on the socket."""


class RigError(LapseError):
    """The hardware could not be set up (a pin in use, no GPIO, …)."""


class CameraError(LapseError):
    """The USB camera cannot do what was asked (none answers, no USB bulb, …)."""


class BatteryError(LapseError):
    """A battery monitor cannot be read (no such device, no answer on I²C, …)."""
