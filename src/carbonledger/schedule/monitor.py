"""What a run checks while it goes: budgets on every batch of samples, and forecasts.

:class:`RunMonitor` is a consumer of run events (a sink). It prices each sample through
the run's :class:`~carbonledger.lifecycle.plan.PricingPlan`, the same path the final
footprint takes, so a budget sees the carbon the footprint will report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from carbonledger.events import BaseSink, RunStopping
from carbonledger.lifecycle.plan import PricingPlan
from carbonledger.lifecycle.uncertainty import sum_rel
from carbonledger.records import DeviceInfo, Sample, SpanRecord
from carbonledger.schedule.budget import Budget
from carbonledger.schedule.forecast import Forecast, forecast_total
from carbonledger.units import J_PER_KWH, g_to_kg

__all__ = ["RunMonitor"]


class RunMonitor(BaseSink):
    """Budgets and forecasts of one run: energy and carbon so far, from its samples."""

    name = "budgets"

    def __init__(
        self,
        *,
        plan: Callable[[], PricingPlan],
        devices: Sequence[DeviceInfo],
        budgets: Sequence[Budget],
        started_at: float,
        warn: Callable[[str], None],
        log_metrics: Callable[[dict[str, float]], None] | None = None,
        clock: Callable[[], float] = time.time,
        price_each_sample: bool = True,
    ) -> None:
        self._plan_factory = plan
        self._plan: PricingPlan | None = None
        self._plan_failed = False
        self.devices = list(devices)
        self.budgets = list(budgets)
        self.started_at = started_at
        self._warn = warn
        self._log_metrics = log_metrics
        self._clock = clock
        self._lock = threading.Lock()
        self.energy_by_device_j: dict[str, float] = {}
        # Budgets and time-aligned series need each sample priced as it comes; otherwise a
        # forecast prices the energy so far at one average when it is asked for, which is
        # the same number, and the sampler thread does no pricing at all.
        self.price_each_sample = price_each_sample
        self._operational_g = 0.0
        self.forecasts: list[Forecast] = []
        self.unit_energies_j: list[float] = []  # completed units of work (top-level spans)
        self._embodied_rate: float | None = None

    # -- pricing --------------------------------------------------------------------------
    def plan(self) -> PricingPlan | None:
        """The run's pricing plan (None, with one warning, when it cannot be made)."""
        if self._plan is None and not self._plan_failed:
            try:
                self._plan = self._plan_factory()
                self._embodied_rate = self._plan.embodied_g_per_s(self.devices)
            except Exception as exc:
                self._plan_failed = True
                self._warn(f"budget cannot price energy ({exc}); carbon budgets are not checked")
        return self._plan

    @property
    def energy_j(self) -> float:
        return sum(self.energy_by_device_j.values())

    @property
    def operational_g(self) -> float:
        """Operational grams of the energy so far, priced as the footprint prices it."""
        if self.price_each_sample:
            return self._operational_g
        plan = self.plan()
        if plan is None:
            return 0.0
        return self.energy_j * plan.pue.value * plan.average.g_per_kwh / J_PER_KWH

    def embodied_g(self, elapsed_s: float) -> float | None:
        """Embodied grams accrued over ``elapsed_s``; None when they cannot be known."""
        if self._embodied_rate is None:
            return None
        return self._embodied_rate * max(0.0, elapsed_s)

    def spent_kgco2e(self, now: float | None = None) -> float | None:
        """Operational plus embodied emissions so far, as a run's total counts them."""
        if self.plan() is None:
            return None
        elapsed = (now if now is not None else self._clock()) - self.started_at
        embodied = self.embodied_g(elapsed)  # unknown: operational only (a lower bound)
        return g_to_kg(self.operational_g + (embodied or 0.0))

    # -- events ---------------------------------------------------------------------------
    def on_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        plan = self.plan() if self.price_each_sample else None
        with self._lock:
            for sample in samples:
                if sample.energy_j is None:
                    continue
                device = sample.device_id
                self.energy_by_device_j[device] = (
                    self.energy_by_device_j.get(device, 0.0) + sample.energy_j
                )
                if plan is not None:
                    carbon = plan.grams(sample)
                    if carbon is not None:
                        self._operational_g += carbon.g
        if self.budgets:
            self.check_budgets()

    def on_span(self, run_id: str, span: SpanRecord) -> None:
        known = [v for v in span.energy_j.values() if v is not None]
        if "/" not in span.path and known and len(known) == len(span.energy_j):
            self.unit_energies_j.append(sum(known))

    def on_stopping(self, event: RunStopping) -> None:
        metrics = self.forecast_error_metrics()
        if metrics and self._log_metrics is not None:
            self._log_metrics(metrics)

    # -- budgets and forecasts ------------------------------------------------------------
    def check_budgets(self) -> None:
        kg = self.spent_kgco2e()
        kwh = self.energy_j / J_PER_KWH
        for budget in self.budgets:
            budget.update(spent_kwh=kwh, spent_kgco2e=kg)

    def forecast(self, done: float, total: float) -> Forecast:
        """Extrapolate the run after ``done`` of ``total`` units (the samples up to now)."""
        energy_j = self.energy_j
        by_device = dict(self.energy_by_device_j)
        rels = [(by_device.get(d.device_id, 0.0), d.uncertainty_rel) for d in self.devices]
        energy_rel = sum_rel(rels) if sum(e for e, _ in rels) > 0 else None
        plan = self.plan()
        g_per_j = intensity_rel = embodied_g = None
        if plan is not None:
            # the carbon of the energy so far, per joule: time-aligned where a series is
            g_per_j = (
                self.operational_g / energy_j
                if energy_j > 0
                else plan.pue.value * plan.average.g_per_kwh / J_PER_KWH
            )
            intensity_rel = (
                plan.series.uncertainty_rel
                if plan.series is not None
                else plan.average.uncertainty_rel
            )
            now = self._clock()
            if done > 0:
                embodied_g = self.embodied_g((now - self.started_at) * total / done)
        forecast = forecast_total(
            done=done,
            total=total,
            energy_so_far_j=energy_j,
            energy_rel=energy_rel,
            g_per_j=g_per_j,
            carbon_rel=intensity_rel,
            unit_energies_j=list(self.unit_energies_j),
            made_at=self._clock(),
            embodied_g=embodied_g,
            embodied_rel=_embodied_rel(plan, self.devices),
        )
        self.forecasts.append(forecast)
        for budget in self.budgets:
            budget.update_forecast(
                energy_kwh=forecast.energy_j / J_PER_KWH,
                kgco2e=None if forecast.carbon_g is None else g_to_kg(forecast.carbon_g),
            )
        return forecast

    def forecast_error_metrics(self) -> dict[str, float]:
        """How far the run's first forecast was off, as metrics (empty without a forecast)."""
        if not self.forecasts:
            return {}
        first = self.forecasts[0]
        actual_j = self.energy_j
        metrics = {
            "forecast.done": first.done,
            "forecast.total": first.total,
            "forecast.energy_kwh": first.energy_j / J_PER_KWH,
        }
        if actual_j > 0:
            metrics["forecast.error_pct"] = 100.0 * (first.energy_j - actual_j) / actual_j
        return metrics


def _embodied_rel(plan: PricingPlan | None, devices: Sequence[DeviceInfo]) -> float | None:
    if plan is None:
        return None
    try:
        items = plan.embodied(devices, 3600.0, [])
    except Exception:
        return None
    terms = [(item.g, item.uncertainty_rel) for item in items]
    return sum_rel(terms) if sum(g for g, _ in terms) > 0 else None
