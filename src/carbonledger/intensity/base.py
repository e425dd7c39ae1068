"""Carbon-intensity values with provenance, and the protocol of intensity sources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from carbonledger.errors import DataError
from carbonledger.records import Method

__all__ = ["BASES", "SIGNALS", "IntensitySource", "IntensityValue"]

SIGNALS = ("average", "marginal")
BASES = ("lifecycle", "direct", "unknown")


@dataclass(frozen=True)
class IntensityValue:
    """One grid carbon intensity and where it came from.

    ``method``: ``measured`` for grid data reported for the hour (a series or live provider
    that is not flagged estimated), ``modeled`` for annual averages and estimated data,
    ``default`` for the world average used when no zone is set.
    """

    g_per_kwh: float
    zone: str
    signal: str  # average | marginal
    basis: str  # lifecycle | direct | unknown
    method: Method
    source: str
    year: int | None = None
    uncertainty_rel: float | None = None
    at: float | None = None  # unix seconds the value is for, when it is for a time

    def __post_init__(self) -> None:
        from carbonledger.limits import MAX_INTENSITY_G_PER_KWH

        value = self.g_per_kwh
        if not (isinstance(value, (int, float)) and 0 <= value <= MAX_INTENSITY_G_PER_KWH):
            raise DataError(
                f"intensity {value!r} g/kWh for {self.zone} ({self.source}) is outside "
                f"0..{MAX_INTENSITY_G_PER_KWH:g} g/kWh"
            )

    def to_dict(self) -> dict[str, object]:
        return {
            "g_per_kwh": self.g_per_kwh,
            "zone": self.zone,
            "signal": self.signal,
            "basis": self.basis,
            "method": str(self.method),
            "source": self.source,
            "year": self.year,
            "uncertainty_rel": self.uncertainty_rel,
        }


class IntensitySource(Protocol):
    """A source of intensity for a zone at a time (bundled tables, series, providers)."""

    name: str

    def intensity(self, zone: str, at: float | None = None) -> IntensityValue:
        """The intensity for ``zone`` at unix time ``at`` (now or the table's year if None).

        Raises :class:`~carbonledger.errors.UnknownZoneError` or ``ProviderError``.
        """
        ...
