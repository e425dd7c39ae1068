"""The Footprint: a run's energy and carbon with provenance, and its JSON form.

``Footprint.to_dict()`` is the ``carbonledger.footprint/1`` schema of DESIGN.md. Energy is
kept in joules and carbon in grams inside; the JSON gives kWh and kgCO2e.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from carbonledger.units import g_to_kg, j_to_kwh

if TYPE_CHECKING:
    from carbonledger.intensity.base import IntensityValue

__all__ = [
    "SCHEMA",
    "Attribution",
    "ComponentEnergy",
    "EmbodiedItem",
    "Footprint",
    "FunctionalUnit",
    "IntensityUsed",
    "SpanFootprint",
]

SCHEMA = "carbonledger.footprint/1"


def _kwh(energy_j: float | None) -> float | None:
    return None if energy_j is None else j_to_kwh(energy_j)


def _kg(mass_g: float | None) -> float | None:
    return None if mass_g is None else g_to_kg(mass_g)


def _pair(interval: tuple[float, float] | None, convert: Any) -> list[float] | None:
    return None if interval is None else [convert(interval[0]), convert(interval[1])]


@dataclass(frozen=True)
class ComponentEnergy:
    """One device's energy in a run: what the sensor saw and the run's share."""

    component: str  # cpu | gpu | ram | other
    device: str  # device_id, e.g. rapl:package-0
    energy_j: float | None
    host_energy_j: float | None
    mean_power_w: float | None
    method: str
    source: str
    uncertainty_rel: float | None
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "device": self.device,
            "name": self.name,
            "energy_kwh": _kwh(self.energy_j),
            "host_energy_kwh": _kwh(self.host_energy_j),
            "mean_power_w": self.mean_power_w,
            "method": self.method,
            "source": self.source,
            "uncertainty_rel": self.uncertainty_rel,
        }


@dataclass(frozen=True)
class EmbodiedItem:
    """Embodied emissions of one piece of hardware, and the run's share of them (SCI M)."""

    item: str
    total_g: float  # TE: the item's whole embodied emissions
    g: float  # the share attributed to this run
    lifetime_years: float
    lifetime_use: float
    share: float  # resources reserved / total resources
    source: str
    uncertainty_rel: float | None = None
    count: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "count": self.count,
            "kgco2e": g_to_kg(self.g),
            "total_kgco2e": g_to_kg(self.total_g),
            "lifetime_years": self.lifetime_years,
            "lifetime_use": self.lifetime_use,
            "share": self.share,
            "source": self.source,
            "uncertainty_rel": self.uncertainty_rel,
        }


@dataclass(frozen=True)
class IntensityUsed:
    """The intensity a footprint was priced with (effective mean when time-aligned)."""

    g_per_kwh: float | None
    zone: str | None
    signal: str
    basis: str
    method: str
    source: str
    time_aligned: bool
    coverage: float | None = None  # share of the run's energy covered by a series
    year: int | None = None
    uncertainty_rel: float | None = None

    @classmethod
    def from_value(
        cls,
        value: IntensityValue,
        *,
        time_aligned: bool = False,
        coverage: float | None = None,
        uncertainty_rel: float | None = None,
    ) -> IntensityUsed:
        """One intensity value used for the whole run (``uncertainty_rel`` overrides its own)."""
        return cls(
            g_per_kwh=value.g_per_kwh,
            zone=value.zone,
            signal=value.signal,
            basis=value.basis,
            method=str(value.method),
            source=value.source,
            time_aligned=time_aligned,
            coverage=coverage,
            year=value.year,
            uncertainty_rel=value.uncertainty_rel if uncertainty_rel is None else uncertainty_rel,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "g_per_kwh": self.g_per_kwh,
            "zone": self.zone,
            "signal": self.signal,
            "basis": self.basis,
            "method": self.method,
            "source": self.source,
            "time_aligned": self.time_aligned,
            "coverage": self.coverage,
            "year": self.year,
            "uncertainty_rel": self.uncertainty_rel,
        }


@dataclass(frozen=True)
class SpanFootprint:
    path: str
    started_at: str | None
    ended_at: str | None
    energy_j: float | None
    total_g: float | None
    energy_interval_j: tuple[float, float] | None = None
    total_interval_g: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "energy_kwh": _kwh(self.energy_j),
            "total_kgco2e": _kg(self.total_g),
            "uncertainty": {
                "energy_kwh": _pair(self.energy_interval_j, j_to_kwh),
                "total_kgco2e": _pair(self.total_interval_g, g_to_kg),
            },
        }


@dataclass(frozen=True)
class FunctionalUnit:
    name: str
    count: float
    g_per_unit: float | None
    interval_g_per_unit: tuple[float, float] | None = None  # the total's interval / count

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": self.count,
            "gco2e_per_unit": self.g_per_unit,
            "gco2e_per_unit_interval": _pair(self.interval_g_per_unit, float),
        }


@dataclass(frozen=True)
class Attribution:
    """How a run's share of a shared host was found (see ``lifecycle/sharing.py``).

    ``method`` is ``alone``, ``even``, ``process-share``, ``remainder`` or ``weighted``;
    the other fields are set only when the run shared the host.
    """

    method: str
    shared_s: float | None = None
    energy_alone_j: float | None = None
    embodied_factor: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"method": self.method}
        if self.shared_s is not None:
            d["shared_s"] = self.shared_s
        if self.energy_alone_j is not None:
            d["energy_alone_kwh"] = j_to_kwh(self.energy_alone_j)
        if self.embodied_factor is not None:
            d["embodied_factor"] = self.embodied_factor
        return d


@dataclass(frozen=True)
class Footprint:
    """Energy and carbon of a run (measured) or an estimate (modelled)."""

    run_id: str | None
    name: str
    phase: str
    status: str
    started_at: str | None  # ISO 8601, UTC
    ended_at: str | None
    duration_s: float | None
    scope: str
    host: dict[str, Any]
    energy_j: float | None  # IT energy, before PUE
    pue: float
    pue_source: str
    intensity: IntensityUsed
    operational_g: float | None
    embodied_g: float | None
    energy_interval_j: tuple[float, float] | None
    total_interval_g: tuple[float, float] | None
    components: tuple[ComponentEnergy, ...] = ()
    embodied: tuple[EmbodiedItem, ...] = ()
    spans: tuple[SpanFootprint, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)
    functional_unit: FunctionalUnit | None = None
    tags: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    shared_with: tuple[str, ...] = ()  # runs that shared the host with this one
    attribution: Attribution | None = None  # how it was split; None: not looked at
    job: dict[str, Any] | None = None  # distributed identity: key, node, rank, local_rank, restart
    included: tuple[str, ...] = ()  # estimates: what the figure counts
    excluded: tuple[str, ...] = ()  # estimates: what it leaves out

    @property
    def facility_energy_j(self) -> float | None:
        return None if self.energy_j is None else self.energy_j * self.pue

    @property
    def total_g(self) -> float | None:
        if self.operational_g is None:
            return None
        return self.operational_g + (self.embodied_g or 0.0)

    @property
    def energy_kwh(self) -> float | None:
        return _kwh(self.energy_j)

    @property
    def total_kgco2e(self) -> float | None:
        return _kg(self.total_g)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "run_id": self.run_id,
            "name": self.name,
            "phase": self.phase,
            "status": self.status,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "scope": self.scope,
            "host": self.host,
            "energy_kwh": _kwh(self.energy_j),
            "pue": self.pue,
            "pue_source": self.pue_source,
            "facility_energy_kwh": _kwh(self.facility_energy_j),
            "intensity": self.intensity.to_dict(),
            "operational_kgco2e": _kg(self.operational_g),
            "embodied_kgco2e": _kg(self.embodied_g),
            "total_kgco2e": _kg(self.total_g),
            "uncertainty": {
                "energy_kwh": _pair(self.energy_interval_j, j_to_kwh),
                "total_kgco2e": _pair(self.total_interval_g, g_to_kg),
            },
            "components": [c.to_dict() for c in self.components],
            "embodied": [e.to_dict() for e in self.embodied],
            "spans": [s.to_dict() for s in self.spans],
            "metrics": dict(self.metrics),
            "tags": dict(self.tags),
            "functional_unit": None
            if self.functional_unit is None
            else self.functional_unit.to_dict(),
            "warnings": list(self.warnings),
            "shared_with": list(self.shared_with),
            "attribution": None if self.attribution is None else self.attribution.to_dict(),
            "job": None if self.job is None else dict(self.job),
            **self._scope_dict(),
        }

    def _scope_dict(self) -> dict[str, Any]:
        """``included``/``excluded`` for estimates (absent from measured runs' JSON)."""
        if not (self.included or self.excluded):
            return {}
        return {"included": list(self.included), "excluded": list(self.excluded)}
