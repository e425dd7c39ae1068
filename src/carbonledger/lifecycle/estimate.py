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
    MAX_DEVICE_COUNT,
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


def _power(
    power_w: float | None, gpu: str | None, cpu: str | None, cores: bool
) -> tuple[float, str, str, str, str | None] | None:
    """(power W per device, component, device name, source, embodied catalog key) of the
    one device named by ``power_w``, ``gpu`` or ``cpu``; None when only CPU cores are given."""
    given = {k: v for k, v in {"power_w": power_w, "gpu": gpu, "cpu": cpu}.items() if v is not None}
    if len(given) > 1 or (not given and not cores):
        names = "give exactly one of power_w, gpu, cpu"
        if given:
            raise ConfigError(f"{names}; got {', '.join(given)}")
        raise ConfigError(f"{names} (or cpu_cores with cpu_core_w)")
    if not given:
        return None
    if power_w is not None:
        p = _number(power_w, "power_w", low_open=True, high=MAX_POWER_W)
        return p, "other", f"{p:g} W device", f"user: {p:g} W per device", None
    from carbonledger.lifecycle.hardware import cpu_tdp, gpu_spec

    if gpu is not None:
        if not isinstance(gpu, str) or not gpu.strip():
            raise ConfigError(f"gpu must be a GPU name, got {gpu!r}")
        spec = gpu_spec(gpu)
        component = "gpu" if spec.kind == "gpu" else "other"  # TPUs are not GPUs
        key = spec.embodied_key or ("gpu-generic" if spec.kind == "gpu" else None)
        source = f"{spec.table_source} (TDP {spec.tdp_w:g} W)"
        return spec.tdp_w, component, spec.name, source, key
    if not isinstance(cpu, str) or not cpu.strip():
        raise ConfigError(f"cpu must be a CPU name, got {cpu!r}")
    tdp, source = cpu_tdp(cpu)
    return tdp, "cpu", cpu, f"{source} (TDP {tdp:g} W)", "cpu-additional"


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


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.3g} %"


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
    cpu_cores: int | None = None,
    cpu_core_w: float | None = None,
    cpu_utilization: float = 1.0,
    psf: float = 1.0,
    include_embodied: bool = True,
    nodes: int | None = None,
    gpus_per_node: int | None = None,
) -> Footprint:
    """The modelled footprint of ``count`` devices for ``hours`` (or of ``device_hours``).

    A whole distributed job: ``nodes`` nodes with ``gpus_per_node`` devices each (named
    by ``gpu`` or ``power_w``) for ``hours`` of wall-clock; ``cpu_cores`` and
    ``memory_gb`` are then per node. The footprint counts every device of every node
    (energy and embodied), and its ``host`` says ``nodes`` and ``gpus_per_node``.

    Devices: at most one of ``power_w`` (W per device), ``gpu`` (a GPU name: its TDP) or
    ``cpu`` (a CPU model: its TDP), ``count`` of them; ``cpu_cores`` × ``cpu_core_w`` (W per
    core, at ``cpu_utilization``) adds CPU cores as Green Algorithms does, alone or beside
    the device; ``memory_gb`` adds 0.3725 W/GB (Green Algorithms). Time: exactly one of
    ``hours`` (wall-clock, each device) or ``device_hours`` (the total; ``count`` must
    then be 1). ``psf`` (Green Algorithms' pragmatic scaling factor, ≥ 1) multiplies the
    time: how many times the computation is run. ``pue``: the user's, else the cloud
    provider's for ``aws:``/``gcp:``/``azure:`` zones, else 1.0 (default). Intensity:
    ``intensity_g_per_kwh``, or the bundled average of ``zone``, or the world average
    (labelled default, with a warning). Embodied (SCI), on by default
    (``include_embodied=False`` turns it off): the catalog's figure of named hardware
    (GPUs, CPU sockets, memory per GB), or ``embodied_kg`` per device, amortised over
    ``lifetime_years`` (default 4) × ``lifetime_use``. The footprint's ``included`` and
    ``excluded`` say what the estimate counts and what it leaves out. Invalid values
    raise :class:`~carbonledger.errors.ConfigError` naming the argument.
    """
    warnings: list[str] = []
    included: list[str] = []
    excluded: list[str] = []
    if not isinstance(name, str) or not name:
        raise ConfigError(f"name must be a non-empty string, got {name!r}")
    if phase not in PHASES:
        raise ConfigError(f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"count must be a whole number ≥ 1, got {count!r}")
    job: dict[str, object] = {}
    if nodes is not None or gpus_per_node is not None:
        count, cpu_cores, memory_gb, job = _whole_job(
            nodes,
            gpus_per_node,
            count=count,
            device=power_w is not None or gpu is not None,
            cpu=cpu,
            hours=hours,
            cpu_cores=cpu_cores,
            memory_gb=memory_gb,
        )
        included.append(
            f"a whole job: {job['nodes']} node(s)"
            + (f" × {job['gpus_per_node']} device(s)" if job.get("gpus_per_node") else "")
            + (", CPU cores and memory of every node" if cpu_cores or memory_gb else "")
        )
    which_time = _exactly_one({"hours": hours, "device_hours": device_hours})
    scale = _number(psf, "psf", low=1.0, high=1e6)
    if which_time == "hours":
        wall_h: float | None = _number(hours, "hours", high=MAX_HOURS)
        dev_h = (wall_h or 0.0) * count * scale
    else:
        if count != 1:
            raise ConfigError(
                "count must be 1 with device_hours (device-hours already count devices)"
            )
        wall_h = None
        dev_h = _number(device_hours, "device_hours", high=MAX_DEVICE_HOURS) * scale
    run_h = None if wall_h is None else wall_h * scale  # wall-clock × PSF
    util = _number(utilization, "utilization", high=1.0)
    if cpu_cores is not None and (
        isinstance(cpu_cores, bool) or not isinstance(cpu_cores, int) or cpu_cores < 1
    ):
        raise ConfigError(f"cpu_cores must be a whole number ≥ 1, got {cpu_cores!r}")
    device = _power(power_w, gpu, cpu, cores=cpu_cores is not None)
    if cpu_core_w is not None and cpu_cores is None:
        raise ConfigError("cpu_core_w needs cpu_cores")
    psf_note = f" × PSF {scale:g}" if scale != 1 else ""

    # energy (J), per component, with their relative errors
    model_rel = rel_for("model")
    components: list[ComponentEnergy] = []
    device_name = "CPU cores"
    embodied_key: str | None = None
    if device is not None:
        device_power_w, component, device_name, power_source, embodied_key = device
        device_j = device_power_w * util * hours_to_s(dev_h)
        components.append(
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
        )
        included.append(
            f"{device_name}: {count if wall_h is not None else dev_h:g}"
            f"{' devices' if wall_h is not None else ' device-hours'} at {_pct(util)} of "
            f"{device_power_w:g} W{psf_note}"
        )
    if cpu_cores is not None:
        if wall_h is None or run_h is None:
            raise ConfigError("cpu_cores needs hours (wall-clock), not device_hours")
        if cpu_core_w is None:
            raise ConfigError("cpu_cores needs cpu_core_w (W per core: the CPU's TDP / cores)")
        core_w = _number(cpu_core_w, "cpu_core_w", low_open=True, high=MAX_POWER_W)
        cpu_util = _number(cpu_utilization, "cpu_utilization", high=1.0)
        cores_w = cpu_cores * core_w * cpu_util
        cores_j = cores_w * hours_to_s(run_h)
        components.append(
            ComponentEnergy(
                component="cpu",
                device="estimate:cpu-cores",
                name=f"{cpu_cores} CPU cores",
                energy_j=cores_j,
                host_energy_j=cores_j,
                mean_power_w=cores_w,
                method=str(Method.MODELED),
                source=f"Green Algorithms: {cpu_cores} cores × {core_w:g} W × usage "
                f"{cpu_util:g} × {run_h:g} h",
                uncertainty_rel=model_rel,
            )
        )
        included.append(f"{cpu_cores} CPU cores at {_pct(cpu_util)} of {core_w:g} W{psf_note}")
    elif not (device is not None and device[1] == "cpu"):
        excluded.append("CPU power (give cpu_cores and cpu_core_w, --cpu-cores/--cpu-core-w)")
    mem_gb: float | None = None
    if memory_gb is not None:
        mem_gb = _number(memory_gb, "memory_gb", high=MAX_MEMORY_GB)
        if wall_h is None or run_h is None:
            raise ConfigError("memory_gb needs hours (wall-clock), not device_hours")
        mem_w = MEMORY_W_PER_GB * mem_gb
        mem_j = mem_w * hours_to_s(run_h)
        components.append(
            ComponentEnergy(
                component="ram",
                device="estimate:ram",
                name=f"{mem_gb:g} GB",
                energy_j=mem_j,
                host_energy_j=mem_j,
                mean_power_w=mem_w,
                method=str(Method.MODELED),
                source=f"Green Algorithms {MEMORY_W_PER_GB} W/GB × {mem_gb:g} GB × {run_h:g} h",
                uncertainty_rel=model_rel,
            )
        )
        included.append(f"memory: {mem_gb:g} GB at {MEMORY_W_PER_GB} W/GB")
    else:
        excluded.append("memory power (give memory_gb, --memory-gb)")
    excluded.append("storage, network, cooling fans and the rest of the host's power")
    energy_j = math.fsum(c.energy_j or 0.0 for c in components)
    energy_rel = sum_rel((c.energy_j or 0.0, c.uncertainty_rel) for c in components)

    # PUE
    if pue is not None:
        pue_value, pue_source, pue_rel = _number(pue, "pue", low=1.0, high=PUE_MAX), "user", 0.0
    elif (found := default_pue(zone)) is not None:
        pue_value, pue_source, pue_rel = found[0], found[1], rel_for("pue_provider")
    else:
        pue_value, pue_source, pue_rel = 1.0, "default: 1.0 (no PUE set; IT energy only)", 0.0
        excluded.append("data-centre overhead (PUE 1.0: give pue, --pue)")
    if pue_value != 1.0:
        included.append(f"data-centre overhead: PUE {pue_value:g} ({pue_source})")

    intensity = _intensity(intensity_g_per_kwh, zone, warnings)
    g_per_kwh = intensity.g_per_kwh or 0.0
    operational_g = energy_j * pue_value / J_PER_KWH * g_per_kwh
    operational_rel = product_rel(energy_rel, pue_rel, intensity.uncertainty_rel)

    embodied = _estimate_embodied(
        device_name=device_name,
        embodied_key=embodied_key,
        count=count,
        dev_h=dev_h,
        run_h=run_h,
        mem_gb=mem_gb,
        embodied_kg=embodied_kg,
        lifetime_years=lifetime_years,
        lifetime_use=lifetime_use,
        include=include_embodied,
        has_device=device is not None,
        warnings=warnings,
        included=included,
        excluded=excluded,
    )
    embodied_g = math.fsum(e.g for e in embodied) if embodied else None

    total_g = operational_g + (embodied_g or 0.0)
    total_rel = sum_rel(
        [(operational_g, operational_rel)] + [(e.g, e.uncertainty_rel) for e in embodied]
    )
    host: dict[str, object] = {"hardware": device_name, "count": count}
    if wall_h is None:
        host = {"hardware": device_name, "device_hours": dev_h}
    if scale != 1:
        host["psf"] = scale
    host.update(job)
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
        included=tuple(included),
        excluded=tuple(excluded),
    )


def _whole(value: object, name: str, high: float) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ConfigError(f"{name} must be a whole number ≥ 1 and ≤ {high:g}, got {value!r}")
    return value


def _whole_job(
    nodes: int | None,
    gpus_per_node: int | None,
    *,
    count: int,
    device: bool,
    cpu: str | None,
    hours: float | None,
    cpu_cores: int | None,
    memory_gb: float | None,
) -> tuple[int, int | None, float | None, dict[str, object]]:
    """(devices, CPU cores, memory GB, host facts) of a whole job of ``nodes`` nodes."""
    if nodes is None:
        raise ConfigError("gpus_per_node needs nodes (--nodes)")
    n = _whole(nodes, "nodes", MAX_DEVICE_COUNT)
    if count != 1:
        raise ConfigError("give nodes and gpus_per_node, or count, not both")
    if hours is None:
        raise ConfigError("nodes needs hours (the job's wall-clock), not device_hours")
    if cpu is not None:
        raise ConfigError(
            "with nodes, name GPUs (gpu or power_w, with gpus_per_node) and give CPUs as "
            "cpu_cores with cpu_core_w per node"
        )
    job: dict[str, object] = {"nodes": n}
    devices = 1
    if device:
        if gpus_per_node is None:
            raise ConfigError("nodes with gpu or power_w needs gpus_per_node (--gpus-per-node)")
        per = _whole(gpus_per_node, "gpus_per_node", MAX_DEVICE_COUNT)
        devices = n * per
        if devices > MAX_DEVICE_COUNT:
            raise ConfigError(f"nodes × gpus_per_node must be ≤ {MAX_DEVICE_COUNT:g}")
        job["gpus_per_node"] = per
    elif gpus_per_node is not None:
        raise ConfigError("gpus_per_node needs gpu or power_w (the devices' power)")
    if cpu_cores is not None:
        if isinstance(cpu_cores, bool) or not isinstance(cpu_cores, int) or cpu_cores < 1:
            raise ConfigError(f"cpu_cores must be a whole number ≥ 1, got {cpu_cores!r}")
        job["cpu_cores_per_node"] = cpu_cores
        cpu_cores *= n
    if memory_gb is not None:
        job["memory_gb_per_node"] = _number(memory_gb, "memory_gb", high=MAX_MEMORY_GB)
        memory_gb = float(memory_gb) * n
    return devices, cpu_cores, memory_gb, job


def _estimate_embodied(
    *,
    device_name: str,
    embodied_key: str | None,
    count: int,
    dev_h: float,
    run_h: float | None,
    mem_gb: float | None,
    embodied_kg: float | None,
    lifetime_years: float | None,
    lifetime_use: float,
    include: bool,
    has_device: bool,
    warnings: list[str],
    included: list[str],
    excluded: list[str],
) -> tuple[EmbodiedItem, ...]:
    """SCI embodied items: TE × time reserved / (lifetime × lifetime use), per item."""
    use = _number(lifetime_use, "lifetime_use", low_open=True, high=1.0)
    if lifetime_years is not None:
        life = _number(lifetime_years, "lifetime_years", low_open=True, high=MAX_LIFETIME_YEARS)
    else:
        life = DEFAULT_LIFETIME_YEARS
    if not include:
        if embodied_kg is not None:
            raise ConfigError("embodied_kg contradicts include_embodied=False (--no-embodied)")
        excluded.append("embodied emissions (turned off)")
        return ()
    # (item, TE g per unit, units, time reserved h, source, relative error)
    parts: list[tuple[str, float, float, float, str, float]] = []
    if embodied_kg is not None:
        kg = _number(embodied_kg, "embodied_kg", high=MAX_EMBODIED_KG)
        units = float(count if run_h is not None else 1)
        parts.append(
            (
                f"{device_name} ({dev_h:g} device-hours)",
                kg_to_g(kg),
                units,
                dev_h / units,
                f"user: {kg:g} kgCO2e per device",
                rel_for("embodied_literature"),
            )
        )
    elif embodied_key is not None:
        from carbonledger.lifecycle.hardware import catalog_entry

        entry = catalog_entry(embodied_key)
        units = float(count if run_h is not None else 1)
        parts.append(
            (
                f"{device_name} ({dev_h:g} device-hours)",
                kg_to_g(entry.kgco2e),
                units,
                dev_h / units,
                f"embodied-catalog:{entry.key}: {entry.source}",
                entry.uncertainty_rel,
            )
        )
    elif has_device:
        excluded.append(
            f"embodied emissions of {device_name} (no catalog figure: give embodied_kg, "
            "--embodied-kg)"
        )
    if mem_gb is not None and run_h is not None and mem_gb > 0:
        from carbonledger.lifecycle.hardware import catalog_entry

        entry = catalog_entry("dram-per-gb")
        parts.append(
            (
                f"memory ({mem_gb:g} GB)",
                kg_to_g(entry.kgco2e) * mem_gb,
                1.0,
                run_h,
                f"embodied-catalog:{entry.key}: {entry.source}",
                entry.uncertainty_rel,
            )
        )
    if not parts:
        if lifetime_years is not None:
            raise ConfigError("lifetime_years needs embodied_kg (or named hardware)")
        return ()
    items = []
    for item, te_g, units, reserved_h, source, rel in parts:
        items.append(
            EmbodiedItem(
                item=item,
                total_g=te_g * units,
                g=te_g * units * hours_to_s(reserved_h) / (life * S_PER_YEAR * use),
                lifetime_years=life,
                lifetime_use=use,
                share=1.0,
                source=source,
                uncertainty_rel=rel,
                count=units,
            )
        )
        included.append(f"embodied: {item}, amortised over {life:g} years × {use:g} use")
    if lifetime_years is None:
        what = "embodied_kg given" if embodied_kg is not None else "embodied emissions"
        warnings.append(
            f"{what} without lifetime_years: amortised over {DEFAULT_LIFETIME_YEARS:g} years "
            "(default)"
        )
    excluded.append("embodied emissions of the host (chassis, motherboard, storage, network)")
    return tuple(items)
