"""Uncertainty arithmetic (pure functions) and the default relative errors by method.

Relative errors are one-sigma-like fractions (0.1 = ±10 %). Independent terms combine in
quadrature: for a product of terms the relative errors add in quadrature (first order); for
a sum the absolute errors do. Every number in :data:`UNCERTAINTY_REL` is justified, with its
sources, in ``docs/methodology/lifecycle.md``; they are judgements from the literature, not
statistical estimates, and say how far a figure may plausibly be off.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from types import MappingProxyType

from carbonledger.errors import ConfigError

__all__ = [
    "UNCERTAINTY_REL",
    "combine_rel",
    "embodied_rel",
    "interval",
    "product_rel",
    "rel_for",
    "rel_of_interval",
    "sum_interval",
    "sum_rel",
]

#: Default relative errors, by how a figure was obtained (see docs/methodology/lifecycle.md).
UNCERTAINTY_REL: MappingProxyType[str, float] = MappingProxyType(
    {
        # energy, by method
        "energy_counter": 0.05,  # RAPL / NVML cumulative energy counters
        "power_sampling": 0.10,  # integrated instantaneous power readings
        "model": 0.30,  # TDP × utilisation, W/GB × GB, or a user-given power
        "default": 0.50,  # a default power for hardware we could not identify
        # grid intensity, by kind
        "intensity_hourly": 0.10,  # an hourly series reported for the hour
        "intensity_hourly_estimated": 0.20,  # an hourly series flagged estimated
        "intensity_annual": 0.15,  # one annual average (also a user-given intensity)
        "intensity_world_default": 0.80,  # the world average standing in for "unknown"
        # PUE
        "pue_provider": 0.05,  # a provider's fleet-wide PUE applied to one region
        # embodied emissions, by source type
        "embodied_lca": 0.30,  # a manufacturer's product carbon footprint / LCA
        "embodied_literature": 0.50,  # a published estimate (e.g. BLOOM's 150 kg per A100)
        "embodied_model": 0.50,  # a modelling tool's coefficient (e.g. CCF / Teads)
        "embodied_default": 1.00,  # a placeholder we could not verify
    }
)


def rel_for(key: str) -> float:
    """The default relative error for ``key`` of :data:`UNCERTAINTY_REL`."""
    try:
        return UNCERTAINTY_REL[key]
    except KeyError:
        raise ConfigError(
            f"unknown uncertainty key {key!r}; known: {', '.join(sorted(UNCERTAINTY_REL))}"
        ) from None


def embodied_rel(source_type: str) -> float:
    """Relative error of an embodied figure by its source type (lca|literature|model|default)."""
    return rel_for(f"embodied_{source_type}")


def _check_rel(rel: float, name: str) -> float:
    if isinstance(rel, bool) or not isinstance(rel, (int, float)):
        raise ConfigError(f"{name} must be a number, got {rel!r}")
    if not (math.isfinite(rel) and rel >= 0):
        raise ConfigError(f"{name} must be a finite number ≥ 0, got {rel}")
    return float(rel)


def combine_rel(*rels: float | None) -> float | None:
    """Independent relative errors in quadrature: √(Σ rᵢ²). ``None`` if any is unknown."""
    if any(r is None for r in rels):
        return None
    return math.sqrt(
        sum(_check_rel(r, f"relative error #{i}") ** 2 for i, r in enumerate(rels) if r is not None)
    )


def product_rel(*rels: float | None) -> float | None:
    """Relative error of a product (or quotient) of independent terms (first order)."""
    return combine_rel(*rels)


def sum_rel(terms: Iterable[tuple[float, float | None]]) -> float | None:
    """Relative error of a sum of independent terms ``(value, relative error)``.

    Absolute errors add in quadrature: √(Σ (vᵢ·rᵢ)²) / |Σ vᵢ|. ``None`` when a term's error
    is unknown, or when the sum is zero while some term is not.
    """
    values: list[float] = []
    absolute_sq = 0.0
    for i, (value, rel) in enumerate(terms):
        if rel is None:
            return None
        if not math.isfinite(value):
            raise ConfigError(f"term #{i} must be finite, got {value}")
        absolute_sq += (value * _check_rel(rel, f"relative error of term #{i}")) ** 2
        values.append(value)
    total = math.fsum(values)
    if total == 0:
        return 0.0 if absolute_sq == 0 else None
    return math.sqrt(absolute_sq) / abs(total)


def interval(value: float | None, rel: float | None) -> tuple[float, float] | None:
    """``value × (1 ∓ rel)``, floored at 0 for non-negative values; ``None`` if unknown."""
    if value is None or rel is None:
        return None
    rel = _check_rel(rel, "relative error")
    low, high = value * (1 - rel), value * (1 + rel)
    if value >= 0:
        low = max(0.0, low)
    return (min(low, high), max(low, high))


def rel_of_interval(value: float | None, bounds: Sequence[float] | None) -> float | None:
    """The relative half-width of ``bounds`` around ``value`` (the larger side, so an
    interval floored at 0 is not read as narrower than it is); None if unknown."""
    if value is None or not bounds or len(bounds) != 2:
        return None
    low, high = float(bounds[0]), float(bounds[1])
    if value == 0:
        return 0.0 if low == high == 0 else None
    return max(abs(high - value), abs(value - low)) / abs(value)


def sum_interval(
    terms: Iterable[tuple[float | None, Sequence[float] | None]],
) -> tuple[float, float] | None:
    """The interval of a sum of independent figures ``(value, [low, high])``.

    Absolute errors add in quadrature (:func:`sum_rel`); None when any value or interval
    is unknown, or when there is nothing to sum."""
    pairs: list[tuple[float, float | None]] = []
    for value, bounds in terms:
        if value is None:
            return None
        pairs.append((float(value), rel_of_interval(value, bounds)))
    if not pairs:
        return None
    total = math.fsum(v for v, _ in pairs)
    return interval(total, sum_rel(pairs))
