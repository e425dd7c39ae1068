"""Back-test carbon-aware scheduling on an intensity history (Dodge et al. 2022, §5).

For a job of duration D started at every step of a series whose window ``[t, t + D + E]``
lies inside the series, and allowed to finish up to E later, compare the plan of each
policy with starting at once:

- ``flexible_start``: best contiguous window; ``pause_resume``: best slots (no minimum).
- savings of one job = ``100 × (baseline − planned) / baseline`` with baseline the mean
  over ``[t, t + D]``; the summary is the mean over start times, percentiles, min and max.

On a uniform series whose step divides D and E (hourly data, whole hours) this is
vectorised with numpy (imported here, never at ``import carbonledger``): window sums for
flexible start with a sliding minimum, and a sliding k-smallest sum (``numpy.partition``
on a strided view) for pause and resume. Other series fall back to the exact per-job
planner of :mod:`carbonledger.schedule.planner`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carbonledger.errors import ConfigError, DataError
from carbonledger.intensity.series import IntensitySeries
from carbonledger.limits import MAX_INTENSITY_G_PER_KWH
from carbonledger.schedule.planner import plan_zone, savings_pct
from carbonledger.schedule.timeparse import format_duration, format_time

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = ["PERCENTILES", "PolicyStats", "Simulation", "job_savings_pct", "simulate"]

PERCENTILES = (5, 25, 50, 75, 95)
Progress = Callable[[int, int], None]
_CHUNK = 4096


@dataclass(frozen=True)
class PolicyStats:
    """Savings of one policy over all simulated jobs, in % against starting at once."""

    n_jobs: int
    mean_savings_pct: float
    total_savings_pct: float  # 100 × (1 − Σ planned / Σ baseline): all jobs together
    percentiles_pct: tuple[float, ...]  # at PERCENTILES
    min_pct: float
    max_pct: float
    mean_g_per_kwh: float  # mean over jobs of each plan's mean intensity

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "n_jobs": self.n_jobs,
            "mean_savings_pct": self.mean_savings_pct,
            "total_savings_pct": self.total_savings_pct,
        }
        data.update({f"p{p}": v for p, v in zip(PERCENTILES, self.percentiles_pct, strict=True)})
        data.update(
            {"min": self.min_pct, "max": self.max_pct, "mean_g_per_kwh": self.mean_g_per_kwh}
        )
        return data


@dataclass(frozen=True)
class Simulation:
    """The result of :func:`simulate`; per-job figures are kept for checks and plots."""

    zone: str
    basis: str
    duration_s: float
    extra_s: float
    step_s: float
    start_times: tuple[float, ...]
    baseline_g_per_kwh: tuple[float, ...]
    flexible_g_per_kwh: tuple[float, ...]
    pause_resume_g_per_kwh: tuple[float, ...]
    flexible_start: PolicyStats
    pause_resume: PolicyStats
    vectorised: bool

    @property
    def n_jobs(self) -> int:
        return len(self.start_times)

    def to_dict(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "basis": self.basis,
            "duration_s": self.duration_s,
            "extra_s": self.extra_s,
            "step_s": self.step_s,
            "n_jobs": self.n_jobs,
            "first_start": format_time(self.start_times[0]),
            "last_start": format_time(self.start_times[-1]),
            "baseline_mean_g_per_kwh": sum(self.baseline_g_per_kwh) / self.n_jobs,
            "method": "modeled",
            "flexible_start": self.flexible_start.to_dict(),
            "pause_resume": self.pause_resume.to_dict(),
        }


def simulate(
    series: IntensitySeries,
    *,
    duration_s: float,
    extra_s: float,
    progress: Progress | None = None,
    vectorise: bool | None = None,
) -> Simulation:
    """Simulate both policies for a job started at every step of ``series``.

    ``vectorise`` None picks the numpy path when the series allows it; False forces the
    per-job planner (for checks); True raises :class:`ConfigError` when it cannot be used.
    Raises :class:`DataError` when no job window fits in the series.
    """
    np = _numpy()
    if not duration_s > 0 or not extra_s >= 0:
        raise ConfigError(
            f"simulate needs a duration > 0 and extra time ≥ 0, got {duration_s!r}, {extra_s!r}"
        )
    peak = max(series.values_g_per_kwh)
    if peak > MAX_INTENSITY_G_PER_KWH:  # beyond any grid; would overflow the sums
        raise DataError(
            f"intensity series for {series.zone}: value {peak:g} g/kWh is above the "
            f"{MAX_INTENSITY_G_PER_KWH:g} g/kWh limit (carbonledger.limits)"
        )
    window_s = duration_s + extra_s
    times = np.asarray(series.times, dtype=np.float64)
    starts = times[times + window_s <= series.end + 1e-9 * max(1.0, abs(series.end))]
    if starts.size == 0:
        raise DataError(
            f"intensity series for {series.zone} ({format_time(series.start)} to "
            f"{format_time(series.end)}) is shorter than one job window of "
            f"{format_duration(window_s)}"
        )
    units = _uniform_units(series, duration_s, extra_s)
    if vectorise and units is None:
        raise ConfigError(
            "the vectorised simulation needs a uniform series whose step divides "
            "the duration and the extra time"
        )
    if units is not None and vectorise is not False:
        base, flex, pause = _vectorised(series, units[0], units[1], int(starts.size), progress)
        vectorised = True
    else:
        base, flex, pause = _per_job(series, starts, duration_s, extra_s, progress)
        vectorised = False
    return Simulation(
        zone=series.zone,
        basis=series.basis,
        duration_s=duration_s,
        extra_s=extra_s,
        step_s=series.step_s,
        start_times=tuple(float(t) for t in starts),
        baseline_g_per_kwh=tuple(float(x) for x in base),
        flexible_g_per_kwh=tuple(float(x) for x in flex),
        pause_resume_g_per_kwh=tuple(float(x) for x in pause),
        flexible_start=_stats(base, flex),
        pause_resume=_stats(base, pause),
        vectorised=vectorised,
    )


def job_savings_pct(sim: Simulation, policy: str) -> tuple[float, ...]:
    """Each simulated job's savings in % for ``policy`` (flexible_start | pause_resume)."""
    planned = sim.flexible_g_per_kwh if policy == "flexible_start" else sim.pause_resume_g_per_kwh
    return tuple(savings_pct(b, p) for b, p in zip(sim.baseline_g_per_kwh, planned, strict=True))


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy comes with the report extra
        raise ConfigError("simulate needs numpy: pip install numpy") from None
    return numpy


def _uniform_units(
    series: IntensitySeries, duration_s: float, extra_s: float
) -> tuple[int, int] | None:
    """(k, w): the duration and the extra time in steps, when the series is uniform."""
    step = series.step_s
    times = series.times
    for a, b in itertools.pairwise(times):
        if abs((b - a) - step) > 1e-9 * step:
            return None
    k, w = duration_s / step, extra_s / step
    if abs(k - round(k)) > 1e-9 or abs(w - round(w)) > 1e-9 or round(k) < 1:
        return None  # not whole steps (or a duration shorter than one step)
    return round(k), round(w)


def _vectorised(
    series: IntensitySeries, k: int, w: int, n_jobs: int, progress: Progress | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-job means (baseline, flexible start, pause and resume) in g/kWh, vectorised."""
    np = _numpy()
    from numpy.lib.stride_tricks import sliding_window_view

    values = np.asarray(series.values_g_per_kwh, dtype=np.float64)
    sums = sliding_window_view(values, k).sum(axis=1)  # job started at each step
    base = sums[:n_jobs]
    flex = sliding_window_view(sums, w + 1).min(axis=1)[:n_jobs]
    windows = sliding_window_view(values, k + w)
    pause = np.empty(n_jobs, dtype=np.float64)
    for lo in range(0, n_jobs, _CHUNK):
        hi = min(lo + _CHUNK, n_jobs)
        part = np.partition(windows[lo:hi], k - 1, axis=1)
        pause[lo:hi] = part[:, :k].sum(axis=1)
        if progress is not None:
            progress(hi, n_jobs)
    return base / k, flex / k, pause / k


def _per_job(
    series: IntensitySeries,
    starts: FloatArray,
    duration_s: float,
    extra_s: float,
    progress: Progress | None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The same figures from the exact planner, one job at a time."""
    np = _numpy()
    n = int(starts.size)
    base, flex, pause = np.empty(n), np.empty(n), np.empty(n)
    for i, t in enumerate(starts.tolist()):
        deadline = min(t + duration_s + extra_s, series.end)
        p_flex = plan_zone(series, duration_s=duration_s, earliest=t, deadline=deadline)
        p_pause = plan_zone(
            series, duration_s=duration_s, earliest=t, deadline=deadline, interruptible=True
        )
        base[i] = p_flex.baseline_mean_g_per_kwh
        flex[i] = p_flex.mean_g_per_kwh
        pause[i] = p_pause.mean_g_per_kwh
        if progress is not None and (i + 1 == n or (i + 1) % 256 == 0):
            progress(i + 1, n)
    return base, flex, pause


def _stats(base: FloatArray, planned: FloatArray) -> PolicyStats:
    np = _numpy()
    safe = np.where(base > 0, base, 1.0)
    savings = np.where(base > 0, 100.0 * (base - planned) / safe, 0.0)
    total_base = float(base.sum())
    if not (np.isfinite(savings).all() and np.isfinite(total_base)):
        raise DataError("the simulation overflowed: intensity values out of range")
    return PolicyStats(
        n_jobs=int(savings.size),
        mean_savings_pct=float(savings.mean()),
        total_savings_pct=(
            100.0 * (1.0 - float(planned.sum()) / total_base) if total_base > 0 else 0.0
        ),
        percentiles_pct=tuple(float(x) for x in np.percentile(savings, PERCENTILES)),
        min_pct=float(savings.min()),
        max_pct=float(savings.max()),
        mean_g_per_kwh=float(planned.mean()),
    )
