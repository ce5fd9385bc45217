"""Where the rig stands: what the sun's times are computed for (``[place]``, ``--place``).

The time zone is the system's: windows by the clock (``06:00..20:00``) are local
times, as ``date`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.model.errors import SettingsError
from core.model.fields import Invalid, Kind, Number, Span, Table
from core.model.toml_text import echo

LATITUDE = Span(Kind.NUMBER, -90, 90, unit="degrees")
LONGITUDE = Span(Kind.NUMBER, -180, 180, unit="degrees")
ELEVATION = Span(Kind.NUMBER, -500, 9_000, unit="m")


@dataclass(frozen=True)
class Place:
    """A point on the Earth: degrees north and east (south and west negative), metres up."""

    latitude: float | None = None
    longitude: float | None = None
    elevation: float = 0.0
    """Metres above sea level: the horizon lies lower from a hill, so the sun sets later."""

    def __post_init__(self) -> None:
        try:
            PLACE.check(self)
        except Invalid as invalid:
            raise ValueError(str(invalid)) from None
        if (self.latitude is None) != (self.longitude is None):
            missing = "longitude" if self.longitude is None else "latitude"
            raise ValueError(f"place gives one coordinate without the other: add {missing}")

    @property
    def known(self) -> bool:
        """Both coordinates are set."""
        return self.latitude is not None and self.longitude is not None

    @property
    def text(self) -> str:
        """``51.48N 0.00E``, as status lines say it; ``not set`` when unknown."""
        if self.latitude is None or self.longitude is None:
            return "not set"
        north = "N" if self.latitude >= 0 else "S"
        east = "E" if self.longitude >= 0 else "W"
        return f"{abs(self.latitude):.2f}{north} {abs(self.longitude):.2f}{east}"

    def to_dict(self) -> dict[str, Any]:
        """Plain values, as the config's ``[place]`` and ``run.toml`` write them."""
        return PLACE.write(self)

    @classmethod
    def from_dict(cls, data: Any) -> Place:
        """A ``[place]`` table; :class:`Invalid` naming the key for a bad value or a
        latitude without a longitude."""
        values = PLACE.read(data)
        try:
            return cls(**values)
        except ValueError as error:
            raise Invalid(str(error).removeprefix("place "), key="place") from None


PLACE = Table(
    "place",
    (
        Number("latitude", range=LATITUDE, what="degrees north (south negative)", optional=True),
        Number("longitude", range=LONGITUDE, what="degrees east (west negative)", optional=True),
        Number("elevation", range=ELEVATION, what="metres above sea level"),
    ),
)
"""The config's ``[place]``: the rig's latitude, longitude and elevation."""


def parse_place(text: str) -> Place:
    """``"51.48,-0.01"`` or ``"51.48,-0.01,40"`` (the ``--place`` option) as a :class:`Place`;
    :class:`SettingsError` saying what a place looks like otherwise."""
    example = "a place is LATITUDE,LONGITUDE in degrees (south and west negative), such as"
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (2, 3):
        raise SettingsError(f"{example} 51.48,-0.01; got {echo(text)}")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise SettingsError(f"{example} 51.48,-0.01; got {echo(text)}") from None
    keys = ("latitude", "longitude", "elevation")
    try:
        return Place.from_dict(dict(zip(keys, numbers, strict=False)))
    except Invalid as invalid:
        raise SettingsError(f"--place: {invalid.spoken}") from None
