"""What a run checks while it goes: budgets on the sampling cadence and forecasts."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from carbonledger.lifecycle.uncertainty import sum_rel
from carbonledger.records import DeviceInfo
from carbonledger.sampling.sampler import DeviceTotals
from carbonledger.schedule.budget import Budget
from carbonledger.schedule.forecast import Forecast, forecast_total
from carbonledger.units import J_PER_KWH, g_to_kg

__all__ = ["RunMonitor"]


class RunMonitor:
    """Prices energy so far at the run's average intensity (PUE included) for budgets and
    forecasts, and keeps the energy of completed units of work (top-level spans)."""

    def __init__(
        self,
        *,
        zone: str | None,
        pue: float | None,
        devices: Sequence[DeviceInfo],
        budgets: Sequence[Budget],
        unit_energies_j: list[float] | None = None,
        warn: Callable[[str], None],
    ) -> None:
        self.zone = zone
        self.pue = pue
        self.devices = list(devices)
        self.budgets = list(budgets)
        self._warn = warn
        self.forecasts: list[Forecast] = []
        # energies of completed units of work (top-level spans), kept by the tracker
        self.unit_energies_j = unit_energies_j if unit_energies_j is not None else []
        self._price: tuple[float, float, float | None] | None = None

    def price(self) -> tuple[float, float, float | None]:
        """(PUE, average g/kWh, the intensity's relative uncertainty)."""
        if self._price is None:
            from carbonledger.lifecycle.pricing import average_intensity, resolve_pue

            average = average_intensity(self.zone)
            self._price = (
                resolve_pue(self.pue, self.zone).value,
                average.g_per_kwh,
                average.uncertainty_rel,
            )
        return self._price

    @staticmethod
    def energy_j(totals: Mapping[str, DeviceTotals]) -> float:
        return sum(t.energy_j for t in totals.values())

    def check_budgets(self, totals: Mapping[str, DeviceTotals]) -> None:
        energy_j = self.energy_j(totals)
        kg: float | None
        try:
            pue, g_per_kwh, _ = self.price()
            kg = g_to_kg(energy_j * pue / J_PER_KWH * g_per_kwh)
        except Exception as exc:
            self._warn(f"budget cannot price energy ({exc}); carbon budgets are not checked")
            kg = None
        for budget in self.budgets:
            budget.update(spent_kwh=energy_j / J_PER_KWH, spent_kgco2e=kg)

    def forecast(self, totals: Mapping[str, DeviceTotals], done: float, total: float) -> Forecast:
        energy_j = self.energy_j(totals)
        rels = [
            (totals[d.device_id].energy_j, d.uncertainty_rel)
            for d in self.devices
            if d.device_id in totals
        ]
        energy_rel = sum_rel(rels) if sum(e for e, _ in rels) > 0 else None
        g_per_j: float | None
        try:
            pue, g_per_kwh, intensity_rel = self.price()
            g_per_j = pue * g_per_kwh / J_PER_KWH
        except Exception:
            g_per_j, intensity_rel = None, None
        forecast = forecast_total(
            done=done,
            total=total,
            energy_so_far_j=energy_j,
            energy_rel=energy_rel,
            g_per_j=g_per_j,
            carbon_rel=intensity_rel,
            unit_energies_j=list(self.unit_energies_j),
            made_at=time.time(),
        )
        self.forecasts.append(forecast)
        for budget in self.budgets:
            budget.update_forecast(
                energy_kwh=forecast.energy_j / J_PER_KWH,
                kgco2e=None if forecast.carbon_g is None else g_to_kg(forecast.carbon_g),
            )
        return forecast

    def forecast_error_metrics(self, totals: Mapping[str, DeviceTotals]) -> dict[str, float]:
        """How far the run's first forecast was off, as metrics (empty without a forecast)."""
        if not self.forecasts:
            return {}
        first = self.forecasts[0]
        actual_j = self.energy_j(totals)
        metrics = {
            "forecast.done": first.done,
            "forecast.total": first.total,
            "forecast.energy_kwh": first.energy_j / J_PER_KWH,
        }
        if actual_j > 0:
            metrics["forecast.error_pct"] = 100.0 * (first.energy_j - actual_j) / actual_j
        return metrics
