"""A whole job planned: the best window (:func:`carbonledger.schedule.planner.plan`) and
the job's modelled footprint there and if started at once.

The job (``nodes`` × ``gpus_per_node`` devices for the plan's duration, see
:func:`carbonledger.lifecycle.estimate.estimate`) draws even power, so its operational
carbon in a window is its facility energy × the window's mean intensity; embodied
emissions do not depend on when it runs. Both footprints are estimates (``modeled``),
with the estimate's intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.lifecycle.footprint import Footprint
from carbonledger.schedule.planner import Plan

__all__ = ["JobPlan", "plan_job"]


@dataclass(frozen=True)
class JobPlan:
    """The plan, and the job's footprint at the planned window and at starting now."""

    plan: Plan
    planned: Footprint
    start_now: Footprint

    @property
    def saved_g(self) -> float | None:
        if self.planned.total_g is None or self.start_now.total_g is None:
            return None
        return self.start_now.total_g - self.planned.total_g

    def to_dict(self) -> dict[str, Any]:
        """The plan's JSON with ``job``: both footprints and the carbon saved (kg)."""
        data = self.plan.to_dict()
        saved = self.saved_g
        data["job"] = {
            "planned": self.planned.to_dict(),
            "start_now": self.start_now.to_dict(),
            "saved_kgco2e": None if saved is None else saved / 1000.0,
        }
        return data


def plan_job(plan: Plan, **job: Any) -> JobPlan:
    """The job described by ``job`` (:func:`~carbonledger.lifecycle.estimate.estimate`'s
    arguments: ``nodes``, ``gpus_per_node``, ``gpu`` or ``power_w``, ``utilization``,
    ``cpu_cores``, ``cpu_core_w``, ``memory_gb``, ``pue``, ...; not its time, intensity
    or zone, which come from the plan) estimated over ``plan``'s window and from now."""
    from carbonledger.lifecycle.estimate import estimate

    taken = {"hours", "device_hours", "intensity_g_per_kwh", "zone", "psf"} & set(job)
    if taken:
        raise ConfigError(
            f"{', '.join(sorted(taken))}: a planned job's time and intensity come from the plan"
        )
    hours = plan.duration_s / 3600.0

    def at(g_per_kwh: float, what: str) -> Footprint:
        fp = estimate(hours=hours, intensity_g_per_kwh=g_per_kwh, **job)
        used = replace(
            fp.intensity,
            zone=plan.zone,
            basis=plan.basis,
            signal=plan.signal,
            source=f"{plan.source}: mean over {what}",
        )
        return replace(fp, intensity=used)

    return JobPlan(
        plan=plan,
        planned=at(plan.mean_g_per_kwh, "the planned window"),
        start_now=at(plan.baseline_mean_g_per_kwh, "the window starting at once"),
    )
