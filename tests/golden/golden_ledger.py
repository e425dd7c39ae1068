"""A small, varied ledger from a fixed seed: the reference for the golden-output test.

It holds what pricing must get right on any path: gaps (unknown samples), devices with
no reading at all, runs sharing a host (one of process scope), kept intensity series
whose steps cut through samples, spans, metrics, functional units, failed runs.
"""

from __future__ import annotations

import random
from pathlib import Path

from carbonledger.intensity.series import IntensitySeries
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
from carbonledger.store import open_ledger

T0 = 1_709_280_000.0  # 2024-03-01T08:00:00Z
SEED = 20240301

CPU = DeviceInfo("rapl:package-0", Component.CPU, "Xeon", Method.MEASURED, "rapl:package-0", 0.05)
GPU0 = DeviceInfo("nvml:GPU-0", Component.GPU, "NVIDIA H100", Method.MEASURED, "nvml:GPU-0", 0.05)
GPU1 = DeviceInfo("nvml:GPU-1", Component.GPU, "NVIDIA H100", Method.MEASURED, "nvml:GPU-1", 0.05)
RAM = DeviceInfo("ram:model", Component.RAM, "DDR5", Method.MODELED, "ram-model", 0.3)


def build(path: Path, seed: int = SEED) -> list[str]:
    """Write the ledger at ``path``; returns its run ids, oldest first."""
    rng = random.Random(seed)
    ids: list[str] = []
    with open_ledger(path) as ledger:
        for k in range(14):
            run_id = f"{rng.getrandbits(64):016x}{k:02d}"
            ids.append(run_id)
            shared = k in (3, 4, 5)  # three runs overlapping on one host
            start = T0 + (3 * 600.0 + 37.0 if shared else k * 5400.0 + rng.uniform(0, 900))
            if k == 4:
                start += 130.0
            interval = rng.choice((1.0, 5.0, 10.0))
            n = rng.randint(20, 90)
            devices = [CPU, GPU0] + ([GPU1] if k % 3 == 0 else []) + ([RAM] if k % 4 == 1 else [])
            scope = Scope.PROCESS if k == 4 else Scope.MACHINE
            zone = rng.choice(("FR", "DE", "US-CA", None))
            run = RunRecord(
                run_id=run_id,
                name=rng.choice(("train-a", "train-b", "eval")),
                phase=rng.choice(("training", "inference", "data")),
                status=RunStatus.RUNNING,
                started_at=start,
                ended_at=None,
                scope=scope,
                zone=zone,
                pue=rng.choice((None, 1.1, 1.4)),
                interval_s=interval,
                host={"hostname": "shared-node" if shared else f"node-{k}"},
                tags={"team": rng.choice(("a", "b"))} if k % 5 else {},
                settings={"argv": ["python", "train.py", f"--seed={k}"]},
            )
            ledger.create_run(run, devices)
            samples: list[Sample] = []
            for i in range(n):
                a, b = start + i * interval, start + (i + 1) * interval
                if k == 7 and i == n // 2:
                    b = a  # a zero-length sample
                for d in devices:
                    if d is GPU1 and k == 9:
                        samples.append(Sample(d.device_id, a, b, None, None))  # never read
                        continue
                    power = rng.uniform(40, 400) if d.component is Component.GPU else 60.0
                    host = power * (b - a) if rng.random() > 0.06 else None
                    energy = host if scope is Scope.MACHINE or host is None else host * 0.4
                    if host is not None and rng.random() < 0.03:
                        energy = 0.0
                    samples.append(Sample(d.device_id, a, b, host, energy))
            for lo in range(0, len(samples), 37):
                ledger.append_samples(run_id, samples[lo : lo + 37], heartbeat_at=start + n)
            end = start + n * interval
            if k % 2 == 0 and zone is not None:
                step = rng.choice((60.0, 300.0, 3600.0))
                first = start - rng.uniform(0, step) - (0 if k % 4 else step * 2)
                count = int((end - first) / step) + (2 if k % 4 else -1)
                ledger.put_series(
                    run_id,
                    IntensitySeries(
                        times=tuple(first + j * step for j in range(max(1, count))),
                        values_g_per_kwh=tuple(rng.uniform(20, 600) for _ in range(max(1, count))),
                        zone=zone,
                        source="golden-test",
                        estimated=tuple(rng.random() < 0.2 for _ in range(max(1, count))),
                        last_step_s=step,
                    ),
                )
            if k % 3 != 2:
                for j, span_name in enumerate(("load", "fit")):
                    a = start + j * n * interval / 2
                    b = a + n * interval / 2
                    ledger.add_span(
                        run_id,
                        SpanRecord(
                            path=span_name,
                            started_at=a,
                            ended_at=b if k != 6 else None,
                            energy_j={d.device_id: rng.uniform(100, 9000) for d in devices},
                            host_energy_j={d.device_id: rng.uniform(100, 9000) for d in devices},
                        ),
                    )
            ledger.log_metrics(
                run_id, {"accuracy": rng.uniform(0.5, 0.99), "loss": rng.uniform(0.01, 2.0)}
            )
            if k % 2:
                ledger.set_functional_unit(run_id, "images", float(rng.randint(1000, 90000)))
            status = RunStatus.FAILED if k == 11 else RunStatus.COMPLETED
            ledger.finish_run(run_id, status, end, exit_code=1 if k == 11 else 0)
    return ids
