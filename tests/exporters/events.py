"""Run events made by hand, for exporter tests that need no tracker."""

from __future__ import annotations

from carbonledger.events import RunStarted
from carbonledger.records import Component, DeviceInfo, Method, RunRecord, RunStatus, Scope

CPU = DeviceInfo("rapl:package-0", Component.CPU, "package-0", Method.MEASURED, "RAPL", 0.05)
GPU = DeviceInfo("nvml:GPU-1", Component.GPU, "A100", Method.MEASURED, "NVML", 0.05)


def started(run_id: str, *, at: float = 1000.0, zone: str | None = "FR") -> RunStarted:
    record = RunRecord(
        run_id=run_id,
        name=f"job-{run_id}",
        phase="training",
        status=RunStatus.RUNNING,
        started_at=at,
        ended_at=None,
        scope=Scope.MACHINE,
        zone=zone,
        pue=None,
        interval_s=1.0,
        host={"hostname": "box", "machine_id": "abc123"},
    )
    return RunStarted(record, (CPU, GPU))
