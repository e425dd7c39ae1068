"""One pricing path: the single place that decides how a run's energy becomes carbon.

A :class:`PricingPlan` holds the PUE, the intensity (a time series, or one average) and
the embodied preset of a run. The final footprint (:mod:`carbonledger.lifecycle.pricing`)
and the in-run budgets and forecasts (:mod:`carbonledger.schedule.monitor`) both price
through it, sample by sample, so they agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carbonledger.intensity.base import IntensityValue
from carbonledger.intensity.series import IntensitySeries
from carbonledger.records import DeviceInfo, Sample
from carbonledger.units import J_PER_KWH

if TYPE_CHECKING:
    from carbonledger.lifecycle.footprint import EmbodiedItem

__all__ = [
    "PUEChoice",
    "PricingPlan",
    "SampleCarbon",
    "average_intensity",
    "plan_for",
    "resolve_pue",
    "sample_carbon",
]


@dataclass(frozen=True)
class PUEChoice:
    value: float
    source: str


def resolve_pue(explicit: float | None, zone: str | None) -> PUEChoice:
    """Explicit PUE > the cloud provider's published PUE for its regions > 1.0 (default)."""
    if explicit is not None:
        return PUEChoice(explicit, "user")
    if zone:
        from carbonledger.lifecycle.pue import default_pue

        found = default_pue(zone)
        if found is not None:
            return PUEChoice(found[0], found[1])
    return PUEChoice(1.0, "default: none set, IT energy only")


def average_intensity(zone: str | None) -> IntensityValue:
    """The bundled annual average for ``zone``, or the world average labelled default.

    A provider-native zone (``watttime:CAISO_NORTH``), coordinates, or a zone only a
    provider object knows use the bundled zone the provider-zone table maps to it, else the
    world default, whose source says that no bundled zone stands for ``zone``. (Zones typed
    by users are checked before a run starts: ``preflight.validate``.)"""
    from carbonledger.intensity.bundled import bundled_intensity, world_default
    from carbonledger.intensity.provider_zones import bundled_zone_for

    if zone is None:
        return world_default()
    key = bundled_zone_for(zone)
    if key is not None:
        return bundled_intensity(key)
    return world_default(f"no bundled zone stands for {zone!r}")


@dataclass(frozen=True)
class SampleCarbon:
    """Operational carbon of one sample: grams, and the joules a series covered."""

    g: float
    covered_j: float


def sample_carbon(
    sample: Sample, pue: float, series: IntensitySeries | None, average: IntensityValue
) -> SampleCarbon | None:
    """Grams of one sample's facility energy, time-aligned over the part of the sample a
    series covers and at ``average`` elsewhere; None for a sample without energy."""
    if sample.energy_j is None:
        return None
    facility_kwh = sample.energy_j * pue / J_PER_KWH
    if series is None:
        return SampleCarbon(facility_kwh * average.g_per_kwh, 0.0)
    if sample.t_end > sample.t_start:
        integral, covered_s = series.integral(sample.t_start, sample.t_end)
        share = covered_s / (sample.t_end - sample.t_start)
        mean = integral / covered_s if covered_s > 0 else 0.0
    else:
        value = series.value_at(sample.t_start)
        share, mean = (1.0, value) if value is not None else (0.0, 0.0)
    grams = facility_kwh * share * mean + facility_kwh * (1 - share) * average.g_per_kwh
    return SampleCarbon(grams, sample.energy_j * share)


@dataclass(frozen=True)
class PricingPlan:
    """How a run is priced: PUE, intensity (``series`` when time-aligned, else ``average``),
    the embodied preset (None: the catalog's defaults for the devices) and the host facts
    that set the run's share of the server (a VM's or container's share of its host)."""

    pue: PUEChoice
    average: IntensityValue
    series: IntensitySeries | None = None
    embodied_preset: str | None = None
    host: Mapping[str, Any] | None = None

    def grams(self, sample: Sample) -> SampleCarbon | None:
        """Operational carbon of one sample under this plan."""
        return sample_carbon(sample, self.pue.value, self.series, self.average)

    def embodied(
        self, devices: Sequence[DeviceInfo], duration_s: float | None, notes: list[str]
    ) -> tuple[EmbodiedItem, ...]:
        """Embodied emissions of the hardware held for ``duration_s`` (SCI's M)."""
        if duration_s is None:
            return ()
        from carbonledger.lifecycle.embodied import embodied_for_run

        result = embodied_for_run(
            devices,
            duration_s,
            preset=self.embodied_preset,
            host=dict(self.host) if self.host is not None else None,
        )
        notes.extend(result.warnings)
        return tuple(result.items)

    def embodied_g_per_s(self, devices: Sequence[DeviceInfo]) -> float | None:
        """The rate at which holding ``devices`` accrues embodied emissions (linear in time)."""
        notes: list[str] = []
        try:
            items = self.embodied(devices, 3600.0, notes)
        except Exception:
            return None
        return sum(item.g for item in items) / 3600.0


def plan_for(
    zone: str | None,
    pue: float | None,
    *,
    series: IntensitySeries | None = None,
    embodied_preset: str | None = None,
    host: Mapping[str, Any] | None = None,
) -> PricingPlan:
    """The plan for a run in ``zone`` with an explicit ``pue`` (None: the default rule)."""
    return PricingPlan(
        resolve_pue(pue, zone), average_intensity(zone), series, embodied_preset, host
    )
