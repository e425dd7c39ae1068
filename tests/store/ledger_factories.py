"""Record builders shared by the ledger tests."""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Any

import psutil

from carbonledger.records import Component, DeviceInfo, Method, RunRecord, RunStatus, Scope


def this_host(pid: int | None = None) -> dict[str, Any]:
    pid = os.getpid() if pid is None else pid
    return {
        "hostname": socket.gethostname(),
        "pid": pid,
        "pid_create_time": psutil.Process(pid).create_time(),
    }


def make_run(
    run_id: str | None = None,
    *,
    started_at: float | None = None,
    status: RunStatus = RunStatus.RUNNING,
    host: dict[str, Any] | None = None,
    pid: int | None = None,
    heartbeat_at: float | None = None,
    name: str = "job",
) -> RunRecord:
    started = time.time() if started_at is None else started_at
    return RunRecord(
        run_id=run_id or uuid.uuid4().hex,
        name=name,
        phase="training",
        status=status,
        started_at=started,
        ended_at=None,
        scope=Scope.MACHINE,
        zone="FR",
        pue=1.2,
        interval_s=1.0,
        host=this_host() if host is None else host,
        tags={"team": "vision"},
        pid=os.getpid() if pid is None else pid,
        heartbeat_at=started if heartbeat_at is None else heartbeat_at,
        settings={"interval_s": 1.0, "sensors": None, "argv": ["train.py"]},
    )


DEVICES = [
    DeviceInfo("rapl:package-0", Component.CPU, "Xeon", Method.MEASURED, "rapl:package-0", 0.05),
    DeviceInfo(
        "nvml:GPU-1",
        Component.GPU,
        "H100",
        Method.MEASURED,
        "nvml:GPU-1",
        0.05,
        {"uuid": "GPU-1", "tdp_w": 700},
    ),
    DeviceInfo("model:ram", Component.RAM, "RAM 64 GB", Method.MODELED, "ram-model", 0.3),
]
