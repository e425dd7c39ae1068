"""Put small, complete runs into a real ledger for tests of the cross-run reports."""

from __future__ import annotations

from typing import Any

from carbonledger.records import Component, DeviceInfo, Method, RunRecord, RunStatus, Sample, Scope
from carbonledger.store.base import Ledger

T0 = 1_709_280_000.0  # 2024-03-01T08:00:00Z

DEVICES = [
    DeviceInfo("rapl:package-0", Component.CPU, "Xeon", Method.MEASURED, "rapl:package-0", 0.05),
    DeviceInfo("nvml:GPU-1", Component.GPU, "NVIDIA H100", Method.MEASURED, "nvml:GPU-1", 0.05),
]


def add_run(
    ledger: Ledger,
    run_id: str,
    name: str,
    *,
    power_w: float = 300.0,
    duration_s: float = 60.0,
    started_at: float = T0,
    phase: str = "training",
    zone: str | None = "FR",
    tags: dict[str, str] | None = None,
    metrics: dict[str, Any] | None = None,
    status: RunStatus = RunStatus.COMPLETED,
) -> None:
    """A finished run: both devices at ``power_w`` for ``duration_s`` in 10 s samples."""
    run = RunRecord(
        run_id=run_id,
        name=name,
        phase=phase,
        status=RunStatus.RUNNING,
        started_at=started_at,
        ended_at=None,
        scope=Scope.MACHINE,
        zone=zone,
        pue=1.2,
        interval_s=10.0,
        host={"hostname": "test"},
        tags=tags or {},
        settings={"argv": ["python", "train.py"]},
    )
    ledger.create_run(run, DEVICES)
    samples = []
    steps = max(1, int(duration_s // 10))
    for i in range(steps):
        a, b = started_at + i * 10, started_at + (i + 1) * 10
        for device in DEVICES:
            samples.append(Sample(device.device_id, a, b, power_w * 10, power_w * 10))
    ledger.append_samples(run_id, samples, heartbeat_at=started_at + duration_s)
    if metrics:
        ledger.log_metrics(run_id, metrics)
    ledger.finish_run(run_id, status, started_at + duration_s, exit_code=0)
