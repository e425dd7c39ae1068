"""Build realistic footprints, samples, spans and devices for report tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from carbonledger.intensity.series import IntensitySeries
from carbonledger.lifecycle.footprint import (
    ComponentEnergy,
    EmbodiedItem,
    Footprint,
    FunctionalUnit,
    IntensityUsed,
    SpanFootprint,
)
from carbonledger.records import (
    Component,
    DeviceInfo,
    Method,
    RunRecord,
    RunStatus,
    Sample,
    Scope,
    SpanRecord,
)
from carbonledger.report.base import ReportInput

T0 = 1_709_280_000.0  # 2024-03-01T08:00:00Z

HOSTILE = '<script>alert("x")</script>'


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def devices(gpus: int = 2) -> list[DeviceInfo]:
    out = [
        DeviceInfo(
            "rapl:package-0",
            Component.CPU,
            "Intel(R) Xeon(R) Platinum 8380",
            Method.MEASURED,
            "rapl:package-0",
            0.05,
        ),
        DeviceInfo(
            "model:ram", Component.RAM, "DRAM 256 GB", Method.MODELED, "ram-model:0.375W/GB", 0.3
        ),
    ]
    for i in range(gpus):
        out.append(
            DeviceInfo(
                f"nvml:GPU-{i:04d}",
                Component.GPU,
                "NVIDIA A100-SXM4-80GB",
                Method.MEASURED,
                f"nvml:GPU-{i:04d}",
                0.05,
            )
        )
    return out


def power_w(device: DeviceInfo, t: float) -> float:
    rel = t - T0
    if device.component is Component.GPU:
        return 250.0 + 100.0 * math.sin(rel / 300.0)
    if device.component is Component.CPU:
        return 120.0 + 30.0 * math.cos(rel / 200.0)
    return 96.0


def samples(
    devs: Sequence[DeviceInfo],
    *,
    duration_s: float = 3600.0,
    step_s: float = 10.0,
    none_at: Sequence[int] = (),
) -> list[Sample]:
    out: list[Sample] = []
    n = int(duration_s // step_s)
    for device in devs:
        for i in range(n):
            a, b = T0 + i * step_s, T0 + (i + 1) * step_s
            energy = None if i in none_at else power_w(device, a) * step_s
            out.append(Sample(device.device_id, a, b, energy, energy))
    return out


def spans(
    devs: Sequence[DeviceInfo], names: Sequence[str] = ("epoch-1", "epoch-2")
) -> list[SpanRecord]:
    out = []
    width = 3600.0 / max(len(names), 1)
    for i, name in enumerate(names):
        a, b = T0 + i * width, T0 + (i + 1) * width
        out.append(SpanRecord(name, a, b, {d.device_id: 1000.0 for d in devs}))
    return out


def footprint(
    *,
    run_id: str = "r0001abcd",
    name: str = "resnet50",
    phase: str = "training",
    gpus: int = 2,
    duration_s: float = 3600.0,
    energy_j: float | str | None = "auto",
    operational_g: float | str | None = "auto",
    embodied_g: float | None = 12.0,
    zone: str | None = "FR",
    intensity_method: str = "modeled",
    tags: dict[str, str] | None = None,
    metrics: dict[str, Any] | None = None,
    span_names: Sequence[str] = ("epoch-1", "epoch-2"),
    started_at: float = T0,
    host: dict[str, Any] | None = None,
) -> Footprint:
    devs = devices(gpus)
    per_device: dict[str, float | None] = {}
    for sample in samples(devs, duration_s=duration_s):
        per_device[sample.device_id] = (per_device.get(sample.device_id) or 0.0) + (
            sample.energy_j or 0.0
        )
    if energy_j is None:
        per_device = {k: None for k in per_device}
    elif energy_j != "auto":
        per_device = {k: float(energy_j) / len(devs) for k in per_device}
    comps = tuple(
        ComponentEnergy(
            component=str(d.component),
            device=d.device_id,
            name=d.name,
            energy_j=per_device[d.device_id],
            host_energy_j=per_device[d.device_id],
            mean_power_w=None
            if per_device[d.device_id] is None
            else (per_device[d.device_id] or 0.0) / duration_s,
            method=str(d.method),
            source=d.source,
            uncertainty_rel=d.uncertainty_rel,
        )
        for d in devs
    )
    known = [v for v in per_device.values() if v is not None]
    energy_j = sum(known) if known else None
    g_kwh, source = 46.5, "bundled:global_energy_mix.json (Ember 2023)"
    if intensity_method == "default":  # as pricing does when no zone is set
        zone, g_kwh, source = "WORLD", 481.0, "bundled:world (world default: no zone set)"
    if operational_g == "auto":
        operational_g = None if energy_j is None or zone is None else energy_j / 3.6e6 * 1.2 * g_kwh
    total_interval = None
    if operational_g is not None:
        total = operational_g + (embodied_g or 0.0)
        total_interval = (total * 0.8, total * 1.25)
    return Footprint(
        run_id=run_id,
        name=name,
        phase=phase,
        status="completed",
        started_at=iso(started_at),
        ended_at=iso(started_at + duration_s),
        duration_s=duration_s,
        scope="machine",
        host=host
        if host is not None
        else {
            "hostname": "node-17",
            "os": "Linux 6.1.0-18-amd64",
            "python": "3.11.7",
            "cpu": "Intel(R) Xeon(R) Platinum 8380",
            "packages": {"carbonledger": "0.1.0", "torch": "2.2.1"},
        },
        energy_j=energy_j,
        pue=1.2,
        pue_source="settings",
        intensity=IntensityUsed(
            g_per_kwh=None if zone is None else g_kwh,
            zone=zone,
            signal="average",
            basis="lifecycle",
            method=intensity_method,
            source=source if zone else "none",
            time_aligned=False,
            year=2023,
            uncertainty_rel=0.15,
        ),
        operational_g=operational_g,
        embodied_g=embodied_g,
        energy_interval_j=None if energy_j is None else (energy_j * 0.93, energy_j * 1.07),
        total_interval_g=total_interval,
        components=comps,
        embodied=(
            EmbodiedItem(
                "NVIDIA A100-SXM4-80GB", 150_000.0, 10.0, 5.0, 0.8, 1.0, "catalog:a100", 0.5, gpus
            ),
            EmbodiedItem("server chassis", 1_000_000.0, 2.0, 6.0, 0.8, 0.25, "catalog:server", 0.5),
        ),
        spans=tuple(
            SpanFootprint(
                n,
                iso(started_at + i * duration_s / len(span_names)),
                iso(started_at + (i + 1) * duration_s / len(span_names)),
                (energy_j or 0.0) / len(span_names) if energy_j is not None else None,
                None
                if operational_g is None
                else (operational_g + (embodied_g or 0.0)) / len(span_names),
            )
            for i, n in enumerate(span_names)
        ),
        metrics={"accuracy": 0.91, "loss": 0.31} if metrics is None else metrics,
        functional_unit=FunctionalUnit("images", 1_281_167, 65.0 / 1_281_167),
        tags={"team": "vision"} if tags is None else tags,
        warnings=("zone FR: annual average used, not time-aligned",),
    )


def run_record(fp: Footprint) -> RunRecord:
    return RunRecord(
        run_id=fp.run_id or "r",
        name=fp.name,
        phase=fp.phase,
        status=RunStatus.COMPLETED,
        started_at=T0,
        ended_at=T0 + (fp.duration_s or 0.0),
        scope=Scope.MACHINE,
        zone=fp.intensity.zone,
        pue=fp.pue,
        interval_s=10.0,
        host=dict(fp.host),
        tags=dict(fp.tags),
        exit_code=0,
        settings={
            "command": ["python", "train.py", "--epochs", "2"],
            "interval_s": 10.0,
            "zone": fp.intensity.zone,
        },
    )


def series(zone: str = "FR") -> IntensitySeries:
    start = T0 - 6 * 3600
    return IntensitySeries.from_pairs(
        [(start + h * 3600, 40.0 + 15.0 * math.sin(h / 3.0)) for h in range(14)],
        zone=zone,
        signal="average",
        basis="lifecycle",
        source="electricitymaps-csv:FR_2024_hourly.csv",
    )


def report_input(
    fp: Footprint | None = None,
    *,
    with_series: bool = True,
    with_samples: bool = True,
    span_names: Sequence[str] = ("epoch-1", "epoch-2"),
    gpus: int = 2,
) -> ReportInput:
    fp = fp or footprint(gpus=gpus, span_names=span_names)
    devs = devices(gpus)
    rid = fp.run_id or "r"
    return ReportInput(
        footprints=[fp],
        runs=[run_record(fp)],
        devices={rid: devs},
        samples={rid: samples(devs)} if with_samples else {},
        spans={rid: spans(devs, span_names)},
        series=series() if with_series else None,
    )


def hostile_input() -> ReportInput:
    """Every user-supplied string carries a script tag."""
    span_names = (f"epoch{HOSTILE}", f"epoch{HOSTILE}/eval")
    fp = footprint(
        name=f"net{HOSTILE}",
        tags={f"k{HOSTILE}": f"v{HOSTILE}"},
        metrics={f"acc{HOSTILE}": f"{HOSTILE}", "loss": 0.3},
        span_names=span_names,
        host={"hostname": HOSTILE, "os": HOSTILE, "packages": {HOSTILE: HOSTILE}},
    )
    components = tuple(
        replace(c, name=f"{c.name}{HOSTILE}", source=f"{c.source}{HOSTILE}") for c in fp.components
    )
    intensity = replace(fp.intensity, source=f"table{HOSTILE}")
    embodied = tuple(replace(e, item=f"{e.item}{HOSTILE}") for e in fp.embodied)
    fp = replace(
        fp,
        warnings=(HOSTILE,),
        components=components,
        intensity=intensity,
        embodied=embodied,
        pue_source=HOSTILE,
    )
    base = report_input(fp, span_names=span_names)
    run = replace(base.runs[0], settings={"command": ["python", HOSTILE], HOSTILE: HOSTILE})
    return replace(base, runs=[run])
