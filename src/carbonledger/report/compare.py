"""A/B comparison of two groups of runs, with bootstrap intervals and honest verdicts.

Each quantity (energy, carbon, duration and every numeric metric the two groups share) is
compared by the difference of group means, B − A, with a percentile bootstrap interval:
both groups are resampled with replacement, independently, ``resamples`` times with a
seeded generator (numpy's PCG64 when numpy is installed, else Python's ``random``: the same
seed gives the same interval run to run, not across the two), and the 2.5th and 97.5th
percentiles of the resampled differences bound the 95 % interval (Efron & Tibshirani, *An
Introduction to the Bootstrap*, 1993, ch. 13). A verdict claims a difference only when the
interval excludes 0 on the same side as the point estimate (an interval on the other side,
possible with skewed samples, is reported as no clear difference); with fewer than two runs
in a group no interval is computed and the verdict says so. At least :data:`MIN_RESAMPLES`
resamples are required: with fewer, the 2.5th and 97.5th percentiles are not estimated at
all (one resample gives a zero-width "interval").
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.report.pareto import as_mapping, objective_value

__all__ = [
    "BASE_QUANTITIES",
    "MIN_RESAMPLES",
    "Comparison",
    "bootstrap_mean_difference",
    "compare_groups",
    "percentile",
]

# (key in the footprint dict, label, unit)
BASE_QUANTITIES: tuple[tuple[str, str, str], ...] = (
    ("energy_kwh", "energy", "kWh"),
    ("total_kgco2e", "carbon", "kgCO2e"),
    ("duration_s", "duration", "s"),
)

FEW_RUNS = 5  # below this many runs in a group, the interval is called rough
# Fewest bootstrap resamples accepted: 200 puts ~5 resampled differences beyond each 95 %
# bound; Efron & Tibshirani (1993, §19.3) advise 1000 or more for percentile intervals.
MIN_RESAMPLES = 200


def _direction(difference: float | None, interval: tuple[float, float] | None) -> int:
    """+1 / −1 when the interval excludes 0 on the side of the point estimate, else 0."""
    if difference is None or interval is None:
        return 0
    lo, hi = interval
    if lo > 0 and difference > 0:
        return 1
    if hi < 0 and difference < 0:
        return -1
    return 0


@dataclass(frozen=True)
class Comparison:
    """One quantity compared between group A and group B."""

    quantity: str  # key: energy_kwh, total_kgco2e, duration_s or a metric name
    label: str
    unit: str
    n_a: int
    n_b: int
    missing_a: int  # runs of A without a value for this quantity
    missing_b: int
    mean_a: float | None
    mean_b: float | None
    difference: float | None  # mean_b - mean_a
    relative_difference: float | None  # difference / mean_a (None when mean_a is 0)
    interval: tuple[float, float] | None  # 95 % bootstrap interval of the difference
    verdict: str

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero on the same side as the point estimate."""
        return _direction(self.difference, self.interval) != 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "label": self.label,
            "unit": self.unit,
            "n_a": self.n_a,
            "n_b": self.n_b,
            "missing_a": self.missing_a,
            "missing_b": self.missing_b,
            "mean_a": self.mean_a,
            "mean_b": self.mean_b,
            "difference": self.difference,
            "relative_difference": self.relative_difference,
            "interval_95": None if self.interval is None else list(self.interval),
            "clear_difference": self.significant,
            "verdict": self.verdict,
        }


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ascending values, linear between order statistics."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {q}")
    position = q * (len(sorted_values) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] * (1 - weight) + sorted_values[upper] * weight


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def bootstrap_mean_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``mean(b) − mean(a)``; None with < 2 values in a group."""
    if len(a) < 2 or len(b) < 2:
        return None
    if resamples < MIN_RESAMPLES:
        raise ConfigError(f"resamples must be at least {MIN_RESAMPLES}, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be between 0 and 1, got {confidence}")
    tail = (1.0 - confidence) / 2.0
    try:
        import numpy
    except ImportError:  # the pure-Python resampler: same seed, same interval, run to run
        return _bootstrap_python(a, b, resamples, seed, tail)
    return _bootstrap_numpy(numpy, a, b, resamples, seed, tail)


_BLOCK_VALUES = 2_000_000  # resampled values drawn at once (bounds the memory: ~16 MB)


def _bootstrap_numpy(
    np: Any, a: Sequence[float], b: Sequence[float], resamples: int, seed: int, tail: float
) -> tuple[float, float]:
    """Vectorised: ``resamples`` rows of indices per group, in blocks, from one seeded
    generator (PCG64), so a seed gives the same interval run to run."""
    rng = np.random.default_rng(seed)
    va, vb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    na, nb = len(va), len(vb)
    rows = max(1, _BLOCK_VALUES // (na + nb))
    diffs = np.empty(resamples)
    for lo in range(0, resamples, rows):
        n = min(rows, resamples - lo)
        mean_b = vb[rng.integers(0, nb, size=(n, nb))].mean(axis=1)
        mean_a = va[rng.integers(0, na, size=(n, na))].mean(axis=1)
        diffs[lo : lo + n] = mean_b - mean_a
    low, high = np.quantile(diffs, [tail, 1.0 - tail])  # linear, as percentile()
    return (float(low), float(high))


def _bootstrap_python(
    a: Sequence[float], b: Sequence[float], resamples: int, seed: int, tail: float
) -> tuple[float, float]:
    rng = random.Random(seed)
    na, nb = len(a), len(b)
    diffs = sorted(
        math.fsum(rng.choices(b, k=nb)) / nb - math.fsum(rng.choices(a, k=na)) / na
        for _ in range(resamples)
    )
    return (percentile(diffs, tail), percentile(diffs, 1.0 - tail))


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _verdict(
    label: str,
    unit: str,
    n_a: int,
    n_b: int,
    diff: float | None,
    mean_a: float | None,
    interval: tuple[float, float] | None,
) -> str:
    if diff is None:
        return f"{label}: no values to compare (a group has none)"
    unit_s = f" {unit}" if unit else ""
    rel = f" ({diff / mean_a:+.1%})" if mean_a not in (None, 0.0) else ""
    shown = f"B − A = {diff:+.4g}{unit_s}{rel}"
    if interval is None:
        return (
            f"{label}: {shown}; with {n_a} run(s) in A and {n_b} in B an interval cannot be "
            "computed (need at least 2 runs per group), so this is no evidence of a difference"
        )
    lo, hi = interval
    bounds = f"95 % interval [{_fmt(lo)}, {_fmt(hi)}]{unit_s}"
    rough = "; few runs, so the interval is rough" if min(n_a, n_b) < FEW_RUNS else ""
    direction = _direction(diff, interval)
    if direction > 0:
        return f"{label}: B is higher than A, {shown}, {bounds}{rough}"
    if direction < 0:
        return f"{label}: B is lower than A, {shown}, {bounds}{rough}"
    if lo > 0 or hi < 0:
        return (
            f"{label}: no clear difference, {shown}, {bounds} lies on the other side of 0 "
            f"from the estimate, so the bootstrap is unreliable here{rough}"
        )
    return f"{label}: no clear difference, {shown}, {bounds} includes 0{rough}"


def _values(runs: Sequence[Any], key: str) -> tuple[list[float], int]:
    values = [objective_value(run, key) for run in runs]
    present = [v for v in values if v is not None]
    return present, len(values) - len(present)


def _metric_names(runs: Sequence[Any]) -> set[str]:
    names: set[str] = set()
    for run in runs:
        metrics = as_mapping(run).get("metrics") or {}
        for name, value in metrics.items():
            if not isinstance(value, bool) and isinstance(value, (int, float)):
                names.add(str(name))
    return names


def compare_groups(
    a: Sequence[Any],
    b: Sequence[Any],
    *,
    metrics: Sequence[str] | None = None,
    resamples: int = 10_000,
    seed: int = 0,
) -> list[Comparison]:
    """Compare groups ``a`` and ``b`` (footprint dicts or Footprints) quantity by quantity.

    Compares energy, carbon, duration and ``metrics`` (default: every numeric metric that
    both groups have). Runs lacking a quantity are left out of it and counted as missing.
    """
    if not a or not b:
        raise ConfigError("both groups need at least one run")
    quantities = list(BASE_QUANTITIES)
    metric_names = sorted(_metric_names(a) & _metric_names(b)) if metrics is None else list(metrics)
    base_keys = {key for key, _, _ in BASE_QUANTITIES}
    quantities += [(m, m, "") for m in metric_names if m not in base_keys]
    out: list[Comparison] = []
    for key, label, unit in quantities:
        va, missing_a = _values(a, key)
        vb, missing_b = _values(b, key)
        mean_a = _mean(va) if va else None
        mean_b = _mean(vb) if vb else None
        diff = None if mean_a is None or mean_b is None else mean_b - mean_a
        interval = bootstrap_mean_difference(va, vb, resamples=resamples, seed=seed)
        rel = None if diff is None or not mean_a else diff / mean_a
        out.append(
            Comparison(
                quantity=key,
                label=label,
                unit=unit,
                n_a=len(va),
                n_b=len(vb),
                missing_a=missing_a,
                missing_b=missing_b,
                mean_a=mean_a,
                mean_b=mean_b,
                difference=diff,
                relative_difference=rel,
                interval=interval,
                verdict=_verdict(label, unit, len(va), len(vb), diff, mean_a, interval),
            )
        )
    return out
