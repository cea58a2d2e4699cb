"""The domain model, in the shape of ASTM F3548-21's Volume4D so both API surfaces share it.

Units are in the names or the docstrings: latitudes and longitudes in degrees WGS84, radii in metres along
the ellipsoid, altitudes in metres above the WGS84 ellipsoid (feet accepted with explicit units), times UTC.
These are plain frozen values: construction checks nothing. `deconflict.core.validation` applies the rules
(with the limits and the clock passed in), and the service parses JSON into them strictly through pydantic.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict

__all__ = [
    "Activation",
    "Altitude",
    "Circle",
    "Declaration",
    "DeclarationKind",
    "DeclarationState",
    "LatLngPoint",
    "Polygon",
    "Radius",
    "SeparationMinima",
    "Time",
    "Volume3D",
    "Volume4D",
    "FEET_TO_METRES",
]

FEET_TO_METRES = 0.3048
_STRICT = ConfigDict(strict=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class LatLngPoint:
    """A point on the WGS84 ellipsoid, degrees."""

    __pydantic_config__ = _STRICT

    lat: float
    lng: float


@dataclass(frozen=True, slots=True)
class Polygon:
    """An area bounded by geodesics between consecutive vertices (F3548: shortest paths; no repeated closing vertex)."""

    __pydantic_config__ = _STRICT

    vertices: tuple[LatLngPoint, ...]


@dataclass(frozen=True, slots=True)
class Radius:
    """Distance from a circle's centre along the WGS84 ellipsoid, metres."""

    __pydantic_config__ = _STRICT

    value: float
    units: Literal["M"] = "M"


@dataclass(frozen=True, slots=True)
class Circle:
    """A true circle on the Earth: every point at `radius` metres (geodesic) from `center`."""

    __pydantic_config__ = _STRICT

    center: LatLngPoint
    radius: Radius


@dataclass(frozen=True, slots=True)
class Altitude:
    """An altitude above the WGS84 ellipsoid, in metres (`M`) or feet (`FT`, converted on use)."""

    __pydantic_config__ = _STRICT

    value: float
    reference: Literal["W84"] = "W84"
    units: Literal["M", "FT"] = "M"

    @property
    def metres(self) -> float:
        return self.value * FEET_TO_METRES if self.units == "FT" else self.value

    @classmethod
    def m(cls, value: float) -> Altitude:
        return cls(value=float(value))

    @classmethod
    def ft(cls, value: float) -> Altitude:
        return cls(value=float(value), units="FT")


@dataclass(frozen=True, slots=True)
class Time:
    """An instant, UTC; serialised as RFC 3339."""

    __pydantic_config__ = _STRICT

    value: datetime
    format: Literal["RFC3339"] = "RFC3339"


@dataclass(frozen=True, slots=True)
class Volume3D:
    """An extruded footprint: exactly one of `outline_polygon` or `outline_circle`, between two altitudes."""

    __pydantic_config__ = _STRICT

    altitude_lower: Altitude
    altitude_upper: Altitude
    outline_polygon: Polygon | None = None
    outline_circle: Circle | None = None


@dataclass(frozen=True, slots=True)
class Volume4D:
    """A Volume3D during a closed time window [time_start, time_end]."""

    __pydantic_config__ = _STRICT

    volume: Volume3D
    time_start: Time
    time_end: Time

    @classmethod
    def circle(
        cls,
        lat: float,
        lng: float,
        radius_m: float,
        lower_m: float,
        upper_m: float,
        start: datetime,
        end: datetime,
    ) -> Volume4D:
        """A circle volume from plain numbers (metres, UTC datetimes)."""
        return cls(
            volume=Volume3D(
                altitude_lower=Altitude.m(lower_m),
                altitude_upper=Altitude.m(upper_m),
                outline_circle=Circle(LatLngPoint(lat, lng), Radius(float(radius_m))),
            ),
            time_start=Time(start),
            time_end=Time(end),
        )

    @classmethod
    def polygon(
        cls,
        vertices: list[tuple[float, float]] | tuple[tuple[float, float], ...],
        lower_m: float,
        upper_m: float,
        start: datetime,
        end: datetime,
    ) -> Volume4D:
        """A polygon volume from (lat, lng) pairs, metres and UTC datetimes."""
        return cls(
            volume=Volume3D(
                altitude_lower=Altitude.m(lower_m),
                altitude_upper=Altitude.m(upper_m),
                outline_polygon=Polygon(tuple(LatLngPoint(lat, lng) for lat, lng in vertices)),
            ),
            time_start=Time(start),
            time_end=Time(end),
        )


class DeclarationKind(enum.StrEnum):
    """What a party announces (DESIGN.md)."""

    FLIGHT = "flight"
    ACTIVITY = "activity"
    HAZARD = "hazard"
    PROTECTED = "protected"
    RESTRICTION = "restriction"


class Activation(enum.StrEnum):
    """When a hazard is live: always, or only while an activity intersects it (induced)."""

    ALWAYS = "always"
    INDUCED = "induced"


class DeclarationState(enum.StrEnum):
    """declared -> active -> ended, or cancelled; every change is a new version."""

    DECLARED = "declared"
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class SeparationMinima:
    """How far apart two parties' volumes must stay: laterally (m), vertically (m) and in time (s).

    A separation equal to the minimum counts as a conflict (closed sets: the conservative reading).
    """

    lateral_m: float = 0.0
    vertical_m: float = 0.0
    time_s: float = 0.0

    def widest(self, other: SeparationMinima) -> SeparationMinima:
        """The stricter of two minima, dimension by dimension (two agreements: both apply)."""
        return SeparationMinima(
            max(self.lateral_m, other.lateral_m),
            max(self.vertical_m, other.vertical_m),
            max(self.time_s, other.time_s),
        )


@dataclass(frozen=True, slots=True)
class Declaration:
    """One version of what a party announces: a kind and one or more Volume4D."""

    id: str
    owner: str
    kind: DeclarationKind
    volumes: tuple[Volume4D, ...]
    version: int = 1
    state: DeclarationState = DeclarationState.DECLARED
    activation: Activation = Activation.ALWAYS
    title: str = ""
    extra: dict[str, str] = field(default_factory=dict)
