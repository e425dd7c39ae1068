"""Forecast of a run's total from its first units of work (as Carbontracker does).

Linear extrapolation of the energy so far: E_total = E_done × total / done. The interval
combines the measurement uncertainty with the spread of per-unit energies when they are
known (epochs recorded as top-level spans): the remaining units are treated as
independent draws, so their sum's standard deviation is s × √(remaining).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from carbonledger.errors import ConfigError

__all__ = ["Forecast", "forecast_total"]

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Forecast:
    """A run's forecast total energy and carbon with 95 % intervals."""

    done: float
    total: float
    energy_so_far_j: float
    energy_j: float
    energy_interval_j: tuple[float, float]
    carbon_g: float | None
    carbon_interval_g: tuple[float, float] | None
    made_at: float  # unix seconds
    method: str = "linear extrapolation"
    embodied_g: float | None = None  # the hardware's embodied share over the whole run

    @property
    def operational_g(self) -> float | None:
        """The operational part of ``carbon_g`` (which includes embodied, like a run's
        ``total_kgco2e``)."""
        if self.carbon_g is None:
            return None
        return self.carbon_g - (self.embodied_g or 0.0)

    def to_dict(self) -> dict[str, object]:
        kwh = 3.6e6
        return {
            "done": self.done,
            "total": self.total,
            "energy_so_far_kwh": self.energy_so_far_j / kwh,
            "energy_kwh": self.energy_j / kwh,
            "energy_kwh_interval": [v / kwh for v in self.energy_interval_j],
            "operational_kgco2e": None if self.operational_g is None else self.operational_g / 1000,
            "embodied_kgco2e": None if self.embodied_g is None else self.embodied_g / 1000,
            "total_kgco2e": None if self.carbon_g is None else self.carbon_g / 1000,
            "total_kgco2e_interval": None
            if self.carbon_interval_g is None
            else [v / 1000 for v in self.carbon_interval_g],
            "method": self.method,
        }


def forecast_total(
    *,
    done: float,
    total: float,
    energy_so_far_j: float,
    energy_rel: float | None,
    g_per_j: float | None,
    carbon_rel: float | None,
    unit_energies_j: Sequence[float] = (),
    made_at: float = 0.0,
    embodied_g: float | None = None,
    embodied_rel: float | None = None,
) -> Forecast:
    """Extrapolate ``energy_so_far_j`` after ``done`` of ``total`` units of work.

    ``g_per_j`` prices energy (facility intensity per joule, PUE included);
    ``unit_energies_j`` are the energies of completed units, for the spread term;
    ``embodied_g`` is the embodied share of the hardware over the whole forecast run, added
    to the carbon total (as a run's ``total_kgco2e`` includes it).
    """
    if not (done > 0 and total >= done):
        raise ConfigError(f"forecast needs 0 < done <= total, got done={done}, total={total}")
    if energy_so_far_j < 0:
        raise ConfigError("energy so far must not be negative")
    scale = total / done
    energy_j = energy_so_far_j * scale
    remaining = total - done
    # measurement error scales with the total; unit-to-unit spread adds for the remainder
    meas_sd = energy_j * (energy_rel or 0.0) / Z_95
    spread_sd = 0.0
    if len(unit_energies_j) >= 2 and remaining > 0:
        import statistics

        spread_sd = statistics.stdev(unit_energies_j) * math.sqrt(remaining)
    half = Z_95 * math.hypot(meas_sd, spread_sd)
    energy_iv = (max(energy_so_far_j, energy_j - half), energy_j + half)
    carbon_g = carbon_iv = None
    if g_per_j is not None:
        operational_g = energy_j * g_per_j
        rel_energy = half / energy_j if energy_j > 0 else 0.0
        op_half = operational_g * math.hypot(rel_energy, carbon_rel or 0.0)
        emb_half = (embodied_g or 0.0) * (embodied_rel or 0.0)
        carbon_g = operational_g + (embodied_g or 0.0)
        half_g = math.hypot(op_half, emb_half)  # independent parts add in quadrature
        carbon_iv = (max(0.0, carbon_g - half_g), carbon_g + half_g)
    return Forecast(
        done,
        total,
        energy_so_far_j,
        energy_j,
        energy_iv,
        carbon_g,
        carbon_iv,
        made_at,
        embodied_g=embodied_g if g_per_j is not None else None,
    )
