"""Distributed-job benchmarks: ``python benchmarks/job_bench.py [--hours H] [--seconds S]``.

1. The tracker's CPU per node at a 1 s interval with 8 (fake) GPUs and a CPU, as the
   measurer of a job (the gated sensors and the lock included): CPU seconds of this
   process per wall second while idle, in % of one core. Target < 1 %.
2. ``carbonledger job`` (``job_footprint``) on a 64-node x 8-GPU job sampled every 1 s
   for ``--hours`` (a day is 24; the ledger is generated in bulk): seconds. Target < 5 s
   for a day.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def tracker_cpu(seconds: float) -> float:
    import carbonledger as cl
    from carbonledger.records import Component
    from carbonledger.sensors.fake import FakeSensor, fake_device

    devices = [fake_device(f"fake:gpu-{i}", Component.GPU) for i in range(8)]
    devices.append(fake_device("fake:cpu-0", Component.CPU))
    sensor = FakeSensor(devices, {d.device_id: 100.0 for d in devices})
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CARBONLEDGER_LOCK_DIR"] = str(Path(tmp) / "locks")
        tracker = cl.Tracker(
            "bench",
            ledger=Path(tmp) / "l.sqlite",
            interval=1.0,
            zone="FR",
            sensors=[sensor],
            job="bench-job",
        )
        tracker.start()
        time.sleep(2.0)
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(seconds)
        cpu1, wall1 = time.process_time(), time.monotonic()
        tracker.stop()
    return 100.0 * (cpu1 - cpu0) / (wall1 - wall0)


def job_time(hours: float, nodes: int = 64, gpus: int = 8) -> tuple[float, int]:
    from carbonledger.distributed.job import job_footprint
    from carbonledger.records import Component, JobInfo, RunRecord, RunStatus, Sample, Scope
    from carbonledger.sensors.fake import fake_device
    from carbonledger.store import open_ledger

    t0 = 1_700_000_000.0
    steps = int(hours * 3600)
    rows = 0
    with tempfile.TemporaryDirectory() as tmp:
        led = open_ledger(Path(tmp) / "job.sqlite")
        devices = [fake_device(f"nvml:GPU-{i:04d}", Component.GPU) for i in range(gpus)]
        devices.append(fake_device("rapl:package-0", Component.CPU))
        for n in range(nodes):
            for local in range(gpus):
                run = RunRecord(
                    run_id=f"r{n:03d}{local}",
                    name="train",
                    phase="training",
                    status=RunStatus.RUNNING,
                    started_at=t0,
                    ended_at=None,
                    scope=Scope.MACHINE,
                    zone="FR",
                    pue=1.2,
                    interval_s=1.0,
                    host={"hostname": f"node{n:03d}", "machine_id": f"m{n:03d}"},
                    job=JobInfo("bench", f"node{n:03d}", n * gpus + local, local, 0, "slurm"),
                )
                led.create_run(run, devices if local == 0 else [])
                if local == 0:
                    batch = [
                        Sample(d.device_id, t0 + k, t0 + k + 1, 300.0, 300.0)
                        for k in range(steps)
                        for d in devices
                    ]
                    led.append_samples(run.run_id, batch, t0 + steps)
                    rows += len(batch)
                led.finish_run(run.run_id, RunStatus.COMPLETED, t0 + steps)
        start = time.perf_counter()
        job_footprint(led, "bench")
        elapsed = time.perf_counter() - start
        led.close()
    return elapsed, rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()
    print(
        "tracker CPU, 8 GPUs + CPU at 1 s, as a job's measurer: "
        f"{tracker_cpu(args.seconds):.2f} % of one core"
    )
    elapsed, rows = job_time(args.hours)
    print(
        f"carbonledger job, 64 nodes x 8 GPUs, {args.hours:g} h at 1 s ({rows} samples): "
        f"{elapsed:.2f} s"
    )


if __name__ == "__main__":
    main()
