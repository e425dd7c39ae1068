"""What pricing many runs computes once: the PUE and average intensity of each zone and
PUE, and the embodied items of each set of hardware.

Embodied emissions are linear in the time the hardware is held (SCI's M), so the items
found for one run's devices, preset and host share serve every run with the same ones:
only each item's grams are recomputed for the run's duration, by the same formula
(:func:`~carbonledger.lifecycle.embodied.sci_embodied_g`). The numbers are the ones
pricing each run alone gives, bit for bit; a memo lives as long as one listing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from carbonledger.intensity.base import IntensityValue
from carbonledger.lifecycle.footprint import EmbodiedItem
from carbonledger.lifecycle.plan import PricingPlan, PUEChoice, average_intensity, resolve_pue
from carbonledger.records import Component, DeviceInfo
from carbonledger.units import S_PER_YEAR

__all__ = ["PricingMemo"]

_MAX_KEYS = 4096  # distinct zones or hardware sets kept (a listing has few)


class PricingMemo:
    """Per-listing caches for :func:`~carbonledger.lifecycle.pricing.footprint_for_run`."""

    def __init__(self) -> None:
        self._intensity: dict[tuple[Any, ...], tuple[PUEChoice, IntensityValue]] = {}
        self._embodied: dict[tuple[Any, ...], tuple[tuple[EmbodiedItem, ...], tuple[str, ...]]]
        self._embodied = {}

    def pue_and_average(
        self, zone: str | None, pue: float | None
    ) -> tuple[PUEChoice, IntensityValue]:
        """:func:`resolve_pue` and :func:`average_intensity` of a run (errors not kept)."""
        key = (zone, pue)
        found = self._intensity.get(key)
        if found is None:
            found = (resolve_pue(pue, zone), average_intensity(zone))
            if len(self._intensity) < _MAX_KEYS:
                self._intensity[key] = found
        return found

    def embodied(
        self,
        plan: PricingPlan,
        devices: Sequence[DeviceInfo],
        duration_s: float | None,
        notes: list[str],
    ) -> tuple[EmbodiedItem, ...]:
        """``plan.embodied(devices, duration_s, notes)``, from the items of an earlier run
        on the same hardware when there is one."""
        if duration_s is None:
            return ()
        if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float)):
            return plan.embodied(devices, duration_s, notes)
        if not (math.isfinite(duration_s) and duration_s >= 0):
            return plan.embodied(devices, duration_s, notes)  # raises as it did
        key = _hardware_key(plan, devices)
        found = self._embodied.get(key)
        if found is None:
            own: list[str] = []
            items = plan.embodied(devices, duration_s, own)
            notes.extend(own)
            if len(self._embodied) < _MAX_KEYS:
                self._embodied[key] = (items, tuple(own))
            return items
        items, warnings = found
        notes.extend(warnings)
        return tuple(_for_duration(item, float(duration_s)) for item in items)


def _hardware_key(plan: PricingPlan, devices: Sequence[DeviceInfo]) -> tuple[Any, ...]:
    """Everything :func:`~carbonledger.lifecycle.embodied.embodied_for_run` reads: the
    preset, the host's share, whether any device was seen, and each GPU's model and share
    of its board, in order."""
    from carbonledger.lifecycle.embodied import gpu_share, host_share

    host: Mapping[str, Any] | None = dict(plan.host) if plan.host is not None else None
    gpus = tuple((d.name, gpu_share(d)) for d in devices if d.component == Component.GPU)
    return (plan.embodied_preset, host_share(host), bool(devices), gpus)


def _for_duration(item: EmbodiedItem, duration_s: float) -> EmbodiedItem:
    """The item held for ``duration_s``: SCI's ``TE × time / (lifetime × use) × share``,
    written as :func:`~carbonledger.lifecycle.embodied.sci_embodied_g` computes it (the
    item's numbers were checked when it was first made; ``duration_s`` by the caller)."""
    g = (
        item.total_g
        * duration_s
        / (item.lifetime_years * S_PER_YEAR * item.lifetime_use)
        * item.share
    )
    return EmbodiedItem(
        item=item.item,
        total_g=item.total_g,
        g=g,
        lifetime_years=item.lifetime_years,
        lifetime_use=item.lifetime_use,
        share=item.share,
        source=item.source,
        uncertainty_rel=item.uncertainty_rel,
        count=item.count,
    )
