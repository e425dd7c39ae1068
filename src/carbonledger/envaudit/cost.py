"""Modelled energy and carbon of moving the unused bytes of an environment or image.

Energy = bytes × transfers × electricity intensity of data transmission. The factor is
Aslan, Mayers, Koomey & France (2018), *Electricity Intensity of Internet Data
Transmission: Untangling the Estimates*, J. Ind. Ecol. 22(4):785-798,
doi:10.1111/jiec.12630: 0.06 kWh/GB for 2015 (core and fixed-line access networks,
developed countries), halving about every 2 years since 2000. It is extrapolated to the
year of the transfer; the interval runs from a quarter of that (the marginal energy of
extra traffic is far below the average: Mytton, Lundén & Malmodin (2024), J. Ind. Ecol.
28(4):966-980, doi:10.1111/jiec.13512) up to a halving only every 4 years. Storage is not
estimated: no sourced factor per byte-year was found (``None``, said so). Everything here
is ``modeled``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TRANSFER_SOURCE",
    "TransferCost",
    "transfer_cost",
    "transfer_kwh_per_gb",
]

TRANSFER_SOURCE = (
    "Aslan et al. 2018, J. Ind. Ecol. 22(4):785-798, doi:10.1111/jiec.12630: 0.06 kWh/GB in "
    "2015, halving every 2 years (interval: ÷4 for marginal traffic, Mytton et al. 2024 "
    "doi:10.1111/jiec.13512; up to halving every 4 years)"
)
_BASE_YEAR = 2015
_BYTES_PER_GB = 1e9  # the decimal GB of the source
_BASE_KWH_PER_GB = 0.06


def transfer_kwh_per_gb(year: float) -> tuple[float, float, float]:
    """(low, central, high) kWh per GB (10⁹ bytes) moved over the internet in ``year``."""
    years = max(0.0, year - _BASE_YEAR)
    central = _BASE_KWH_PER_GB * 2.0 ** (-years / 2.0)
    high = _BASE_KWH_PER_GB * 2.0 ** (-years / 4.0)
    return central / 4.0, central, high


@dataclass(frozen=True)
class TransferCost:
    """What moving ``bytes_`` ``transfers`` times costs (all ``modeled``)."""

    bytes_: int
    transfers: int
    year: int
    energy_kwh: float
    energy_interval_kwh: tuple[float, float]
    intensity_g_per_kwh: float | None
    intensity_zone: str | None
    intensity_method: str | None
    intensity_source: str | None
    kgco2e: float | None
    kgco2e_interval: tuple[float, float] | None
    method: str = "modeled"
    source: str = TRANSFER_SOURCE
    storage_kwh: float | None = None
    storage_note: str = "storage not estimated: no sourced energy factor per byte stored"

    def to_dict(self) -> dict[str, Any]:
        return {
            "bytes": self.bytes_,
            "transfers": self.transfers,
            "year": self.year,
            "energy_kwh": self.energy_kwh,
            "energy_interval_kwh": list(self.energy_interval_kwh),
            "intensity": {
                "g_per_kwh": self.intensity_g_per_kwh,
                "zone": self.intensity_zone,
                "method": self.intensity_method,
                "source": self.intensity_source,
            },
            "kgco2e": self.kgco2e,
            "kgco2e_interval": None if self.kgco2e_interval is None else list(self.kgco2e_interval),
            "method": self.method,
            "source": self.source,
            "storage_kwh": self.storage_kwh,
            "storage_note": self.storage_note,
        }


def transfer_cost(
    bytes_: int,
    transfers: int,
    *,
    zone: str | None = None,
    year: int | None = None,
) -> TransferCost:
    """Energy (and carbon, priced with the bundled intensity of ``zone``, or the world
    default when no zone is known) of moving ``bytes_`` ``transfers`` times."""
    from carbonledger.intensity.bundled import bundled_intensity, world_default

    if year is None:
        year = time.gmtime().tm_year
    low, central, high = transfer_kwh_per_gb(year)
    gb = bytes_ * transfers / _BYTES_PER_GB
    intensity = world_default() if zone is None else bundled_intensity(zone)
    rel = intensity.uncertainty_rel or 0.0
    g = intensity.g_per_kwh
    kg = gb * central * g / 1000.0
    kg_interval = (gb * low * g * max(0.0, 1 - rel) / 1000.0, gb * high * g * (1 + rel) / 1000.0)
    return TransferCost(
        bytes_=bytes_,
        transfers=transfers,
        year=year,
        energy_kwh=gb * central,
        energy_interval_kwh=(gb * low, gb * high),
        intensity_g_per_kwh=g,
        intensity_zone=intensity.zone,
        intensity_method=str(intensity.method),
        intensity_source=intensity.source,
        kgco2e=kg,
        kgco2e_interval=kg_interval,
    )
