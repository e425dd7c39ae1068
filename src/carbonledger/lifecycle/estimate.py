"""Estimate a footprint from hardware and time, when nothing was measured.

    energy      = power × utilisation × device-hours  (+ memory W/GB × GB × hours)
    facility    = energy × PUE
    operational = facility energy × grid intensity
    embodied    = embodied per device × device-hours / (lifetime × lifetime use)   (SCI)

Everything is labelled ``modeled`` (the world-average intensity ``default``) with intervals
from :mod:`carbonledger.lifecycle.uncertainty`. The result is a
:class:`~carbonledger.lifecycle.footprint.Footprint` with ``run_id`` None and
``status`` ``"estimate"``. Method and sources: docs/methodology/lifecycle.md.
"""

from __future__ import annotations

import math

from carbonledger.errors import ConfigError
from carbonledger.intensity.base import IntensityValue
from carbonledger.lifecycle.footprint import ComponentEnergy, EmbodiedItem, Footprint, IntensityUsed
from carbonledger.lifecycle.pue import default_pue
from carbonledger.lifecycle.uncertainty import interval, product_rel, rel_for, sum_rel
from carbonledger.records import PHASES, Method
from carbonledger.units import J_PER_KWH, S_PER_YEAR, hours_to_s, kg_to_g

__all__ = ["DEFAULT_LIFETIME_YEARS", "ESTIMATE_STATUS", "MEMORY_W_PER_GB", "estimate"]

#: Footprint.status of an estimate (a measured run is running|completed|failed|interrupted).
ESTIMATE_STATUS = "estimate"
#: Memory power, W per GB: Green Algorithms (Lannelongue et al. 2021).
MEMORY_W_PER_GB = 0.3725
#: Hardware lifetime when embodied_kg is given without one (as Cloud Carbon Footprint).
DEFAULT_LIFETIME_YEARS = 4.0
PUE_MAX = 5.0


# Sanity bounds, far beyond any real job (carbonledger.limits says why each is where it is).
from carbonledger.limits import (  # noqa: E402
    MAX_DEVICE_HOURS,
    MAX_EMBODIED_KG,
    MAX_HOURS,
    MAX_INTENSITY_G_PER_KWH,
    MAX_LIFETIME_YEARS,
    MAX_MEMORY_GB,
    MAX_POWER_W,
)


def _number(
    value: object, name: str, *, low: float = 0.0, low_open: bool = False, high: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    v = float(value)
    ok = math.isfinite(v) and (v > low if low_open else v >= low)
    if high is not None:
        ok = ok and v <= high
    if not ok:
        bound = f"> {low:g}" if low_open else f"≥ {low:g}"
        if high is not None:
            bound += f" and ≤ {high:g}"
        raise ConfigError(f"{name} must be {bound}, got {value}")
    return v


def _exactly_one(names: dict[str, object]) -> str:
    given = [k for k, v in names.items() if v is not None]
    if len(given) != 1:
        opts = ", ".join(names)
        if given:
            raise ConfigError(f"give exactly one of {opts}; got {', '.join(given)}")
        raise ConfigError(f"give exactly one of {opts}")
    return given[0]


def _power(power_w: float | None, gpu: str | None, cpu: str | None) -> tuple[float, str, str, str]:
    """(power W per device, component, device name, source)."""
    which = _exactly_one({"power_w": power_w, "gpu": gpu, "cpu": cpu})
    if which == "power_w":
        p = _number(power_w, "power_w", low_open=True, high=MAX_POWER_W)
        return p, "other", f"{p:g} W device", f"user: {p:g} W per device"
    from carbonledger.lifecycle.hardware import cpu_tdp, gpu_spec

    if which == "gpu":
        if not isinstance(gpu, str) or not gpu.strip():
            raise ConfigError(f"gpu must be a GPU name, got {gpu!r}")
        spec = gpu_spec(gpu)
        component = "gpu" if spec.kind == "gpu" else "other"  # TPUs are not GPUs
        return spec.tdp_w, component, spec.name, f"{spec.table_source} (TDP {spec.tdp_w:g} W)"
    if not isinstance(cpu, str) or not cpu.strip():
        raise ConfigError(f"cpu must be a CPU name, got {cpu!r}")
    tdp, source = cpu_tdp(cpu)
    return tdp, "cpu", cpu, f"{source} (TDP {tdp:g} W)"


def _intensity(
    intensity_g_per_kwh: float | None, zone: str | None, warnings: list[str]
) -> IntensityUsed:
    if intensity_g_per_kwh is not None and zone is not None:
        raise ConfigError("give intensity_g_per_kwh or zone, not both")
    if intensity_g_per_kwh is not None:
        g = _number(intensity_g_per_kwh, "intensity_g_per_kwh", high=MAX_INTENSITY_G_PER_KWH)
        return IntensityUsed(
            g_per_kwh=g,
            zone=None,
            signal="average",
            basis="unknown",
            method=str(Method.MODELED),
            source=f"user: {g:g} gCO2e/kWh",
            time_aligned=False,
            uncertainty_rel=rel_for("intensity_annual"),
        )
    from carbonledger.intensity.bundled import bundled_intensity, world_default

    value: IntensityValue
    if zone is not None:
        if not isinstance(zone, str) or not zone.strip():
            raise ConfigError(f"zone must be a zone name, got {zone!r}")
        value = bundled_intensity(zone)
        rel = (
            value.uncertainty_rel
            if value.uncertainty_rel is not None
            else rel_for("intensity_annual")
        )
    else:
        value = world_default()
        rel = (
            value.uncertainty_rel
            if value.uncertainty_rel is not None
            else rel_for("intensity_world_default")
        )
        warnings.append(
            f"no zone or intensity given: priced at the world average "
            f"({value.g_per_kwh:g} gCO2e/kWh); pass zone= (--zone) or "
            f"intensity_g_per_kwh= (--intensity)"
        )
    return IntensityUsed.from_value(value, uncertainty_rel=rel)


def estimate(
    *,
    power_w: float | None = None,
    gpu: str | None = None,
    cpu: str | None = None,
    count: int = 1,
    hours: float | None = None,
    device_hours: float | None = None,
    utilization: float = 1.0,
    memory_gb: float | None = None,
    pue: float | None = None,
    intensity_g_per_kwh: float | None = None,
    zone: str | None = None,
    embodied_kg: float | None = None,
    lifetime_years: float | None = None,
    lifetime_use: float = 1.0,
    name: str = "estimate",
    phase: str = "other",
) -> Footprint:
    """The modelled footprint of ``count`` devices for ``hours`` (or of ``device_hours``).

    Give exactly one of ``power_w`` (W per device), ``gpu`` (a GPU name: its TDP) or ``cpu``
    (a CPU model: its TDP); exactly one of ``hours`` (wall-clock, each of ``count``
    devices) or ``device_hours`` (the total, e.g. GPU-hours; ``count`` must then be 1).
    ``memory_gb`` adds 0.3725 W/GB over ``hours`` (Green Algorithms). ``pue``: the user's,
    else the cloud provider's for ``aws:``/``gcp:``/``azure:`` zones, else 1.0 (default).
    Intensity: ``intensity_g_per_kwh``, or the bundled average of ``zone``, or the world
    average (labelled default, with a warning). ``embodied_kg`` is per device, amortised
    over ``lifetime_years`` × ``lifetime_use`` (SCI). Invalid values raise
    :class:`~carbonledger.errors.ConfigError` naming the argument.
    """
    warnings: list[str] = []
    if not isinstance(name, str) or not name:
        raise ConfigError(f"name must be a non-empty string, got {name!r}")
    if phase not in PHASES:
        raise ConfigError(f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"count must be a whole number ≥ 1, got {count!r}")
    which_time = _exactly_one({"hours": hours, "device_hours": device_hours})
    if which_time == "hours":
        wall_h: float | None = _number(hours, "hours", high=MAX_HOURS)
        dev_h = (wall_h or 0.0) * count
    else:
        if count != 1:
            raise ConfigError(
                "count must be 1 with device_hours (device-hours already count devices)"
            )
        wall_h = None
        dev_h = _number(device_hours, "device_hours", high=MAX_DEVICE_HOURS)
    util = _number(utilization, "utilization", high=1.0)
    device_power_w, component, device_name, power_source = _power(power_w, gpu, cpu)

    # energy (J), per component, with their relative errors
    model_rel = rel_for("model")
    device_j = device_power_w * util * hours_to_s(dev_h)
    components = [
        ComponentEnergy(
            component=component,
            device=f"estimate:{component}",
            name=device_name,
            energy_j=device_j,
            host_energy_j=device_j,
            mean_power_w=device_power_w * util * count if wall_h is not None else None,
            method=str(Method.MODELED),
            source=f"{power_source} × utilisation {util:g} × {dev_h:g} device-hours",
            uncertainty_rel=model_rel,
        )
    ]
    if memory_gb is not None:
        mem_gb = _number(memory_gb, "memory_gb", high=MAX_MEMORY_GB)
        if wall_h is None:
            raise ConfigError("memory_gb needs hours (wall-clock), not device_hours")
        mem_w = MEMORY_W_PER_GB * mem_gb
        mem_j = mem_w * hours_to_s(wall_h)
        components.append(
            ComponentEnergy(
                component="ram",
                device="estimate:ram",
                name=f"{mem_gb:g} GB",
                energy_j=mem_j,
                host_energy_j=mem_j,
                mean_power_w=mem_w,
                method=str(Method.MODELED),
                source=f"Green Algorithms {MEMORY_W_PER_GB} W/GB × {mem_gb:g} GB × {wall_h:g} h",
                uncertainty_rel=model_rel,
            )
        )
    energy_j = math.fsum(c.energy_j or 0.0 for c in components)
    energy_rel = sum_rel((c.energy_j or 0.0, c.uncertainty_rel) for c in components)

    # PUE
    if pue is not None:
        pue_value, pue_source, pue_rel = _number(pue, "pue", low=1.0, high=PUE_MAX), "user", 0.0
    elif (found := default_pue(zone)) is not None:
        pue_value, pue_source, pue_rel = found[0], found[1], rel_for("pue_provider")
    else:
        pue_value, pue_source, pue_rel = 1.0, "default: 1.0 (no PUE set; IT energy only)", 0.0

    intensity = _intensity(intensity_g_per_kwh, zone, warnings)
    g_per_kwh = intensity.g_per_kwh or 0.0
    operational_g = energy_j * pue_value / J_PER_KWH * g_per_kwh
    operational_rel = product_rel(energy_rel, pue_rel, intensity.uncertainty_rel)

    # embodied (SCI), per device
    embodied: tuple[EmbodiedItem, ...] = ()
    if embodied_kg is not None:
        kg = _number(embodied_kg, "embodied_kg", high=MAX_EMBODIED_KG)
        if lifetime_years is None:
            life = DEFAULT_LIFETIME_YEARS
            warnings.append(
                f"embodied_kg given without lifetime_years: amortised over "
                f"{DEFAULT_LIFETIME_YEARS:g} years (default)"
            )
        else:
            life = _number(lifetime_years, "lifetime_years", low_open=True, high=MAX_LIFETIME_YEARS)
        use = _number(lifetime_use, "lifetime_use", low_open=True, high=1.0)
        per_device_g = kg_to_g(kg)
        emb_g = per_device_g * hours_to_s(dev_h) / (life * S_PER_YEAR * use)
        embodied = (
            EmbodiedItem(
                item=f"{device_name} ({dev_h:g} device-hours)",
                total_g=per_device_g * (count if wall_h is not None else 1),
                g=emb_g,
                lifetime_years=life,
                lifetime_use=use,
                share=1.0,
                source=f"user: {kg:g} kgCO2e per device",
                uncertainty_rel=rel_for("embodied_literature"),
                count=float(count),
            ),
        )
    elif lifetime_years is not None:
        raise ConfigError("lifetime_years needs embodied_kg")
    else:
        _number(lifetime_use, "lifetime_use", low_open=True, high=1.0)
    embodied_g = math.fsum(e.g for e in embodied) if embodied else None

    total_g = operational_g + (embodied_g or 0.0)
    total_rel = sum_rel(
        [(operational_g, operational_rel)] + [(e.g, e.uncertainty_rel) for e in embodied]
    )
    host: dict[str, object] = {"hardware": device_name, "count": count}
    if wall_h is None:
        host = {"hardware": device_name, "device_hours": dev_h}
    return Footprint(
        run_id=None,
        name=name,
        phase=phase,
        status=ESTIMATE_STATUS,
        started_at=None,
        ended_at=None,
        duration_s=hours_to_s(wall_h) if wall_h is not None else None,
        scope="machine",
        host=host,
        energy_j=energy_j,
        pue=pue_value,
        pue_source=pue_source,
        intensity=intensity,
        operational_g=operational_g,
        embodied_g=embodied_g,
        energy_interval_j=interval(energy_j, energy_rel),
        total_interval_g=interval(total_g, total_rel),
        components=tuple(components),
        embodied=embodied,
        tags={"kind": "estimate"},
        warnings=tuple(warnings),
    )
