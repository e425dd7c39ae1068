"""Distributed-job benchmarks.

``python benchmarks/job_bench.py [--hours H ...] [--seconds S] [--ledger URL] [--keep]``

1. The tracker's CPU per node at a 1 s interval with 8 (fake) GPUs and a CPU, as the
   measurer of a job (the gated sensors and the lock included): CPU seconds of this
   process per wall second while idle, in % of one core. Target < 1 %.
2. ``carbonledger job`` on a 64-node x 8-GPU job sampled every 1 s for ``--hours``
   (a day is 24): 64 x 8 runs (one per rank; local rank 0 measures the node's 8 GPUs and
   its CPU, the others are standby), an hourly intensity series kept with every run (so
   pricing is time-aligned), sample times off the hour by 0.37 s (so a sample crosses
   every hour's end); the job starts on a whole UTC hour, as provider series do, so the
   store answers from the sums it keeps per 300 s cell (``--unaligned``: 800 s later, so
   it scans every sample instead). The ledger (SQLite file, or ``--ledger postgresql://...``) is
   written in bulk: runs through the ledger API, samples with ``executemany`` /
   ``COPY`` in large batches (the schema's own columns; the tracker's path is measured
   by ``ledger_ingest.py``). Timed in a fresh process each: ``job_footprint`` alone, and
   the whole ``carbonledger job KEY --json --no-sacct`` command (which first runs
   SQLite's ``quick_check`` over the file, as every reading command does). Target < 5 s
   for a day.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NODES, GPUS = 64, 8
T0 = 1_699_999_200.0  # a whole UTC hour, as provider series are (--unaligned: 800 s later)
OFFSET_S = 0.37
KEY = "bench"


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


def build(
    url: str, hours: float, nodes: int = NODES, gpus: int = GPUS, shift_s: float = 0.0
) -> int:
    """Write the job into the ledger at ``url``; the number of samples. ``shift_s``
    moves the whole job (and its series) off the whole hour."""
    t0 = T0 + shift_s
    from carbonledger.intensity.series import IntensitySeries
    from carbonledger.records import Component, JobInfo, RunRecord, RunStatus, Scope
    from carbonledger.sensors.fake import fake_device
    from carbonledger.store import open_ledger

    steps = int(hours * 3600)
    end = t0 + OFFSET_S + steps
    series = IntensitySeries(
        times=tuple(t0 + 3600.0 * h for h in range(int(hours) + 2)),
        values_g_per_kwh=tuple(40.0 + 5.0 * (h % 24) for h in range(int(hours) + 2)),
        zone="FR",
        last_step_s=3600.0,
    )
    devices = [fake_device(f"nvml:GPU-{i:04d}", Component.GPU) for i in range(gpus)]
    devices.append(fake_device("rapl:package-0", Component.CPU))
    ids = [d.device_id for d in devices]
    led = open_ledger(url)
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
                job=JobInfo(KEY, f"node{n:03d}", n * gpus + local, local, 0, "slurm"),
            )
            led.create_run(run, devices)
            led.put_series(run.run_id, series)  # type: ignore[attr-defined]
            led.finish_run(run.run_id, RunStatus.COMPLETED, end)
    led.close()

    def rows(n: int) -> object:
        run_id = f"r{n:03d}0"
        for k in range(steps):
            a = t0 + OFFSET_S + k
            for i, d in enumerate(ids):
                e = 250.0 + 10.0 * i + (k % 17)
                yield (run_id, d, a, a + 1.0, e, e)

    if url.startswith("postgresql://"):
        import psycopg

        from carbonledger.store.postgres import _conninfo

        with psycopg.connect(_conninfo(url), autocommit=True) as conn:
            for n in range(nodes):
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        "COPY samples (run_id, device_id, t_start, t_end, host_energy_j, "
                        "energy_j) FROM STDIN"
                    ) as copy,
                ):
                    for row in rows(n):  # type: ignore[attr-defined]
                        copy.write_row(row)
            conn.execute("ANALYZE samples")
    else:
        import sqlite3

        path = url.removeprefix("sqlite://")
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA synchronous = OFF")
        for n in range(nodes):
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO samples (run_id, device_id, t_start, t_end, host_energy_j, "
                "energy_j) VALUES (?, ?, ?, ?, ?, ?)",
                rows(n),  # type: ignore[arg-type]
            )
            conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    return nodes * steps * len(ids)


_FOOTPRINT = """
import sys, time
t = time.perf_counter()
from carbonledger.distributed.job import job_footprint
from carbonledger.store import open_ledger
led = open_ledger(sys.argv[1])
job = job_footprint(led, sys.argv[2], sample_by_sample=sys.argv[3] == "1")
led.close()
print(time.perf_counter() - t, job.energy_j, job.total_g)
"""


def time_footprint(url: str, *, sample_by_sample: bool = False) -> tuple[float, float]:
    """(seconds inside a fresh process, energy) of ``job_footprint``."""
    out = subprocess.run(
        [sys.executable, "-c", _FOOTPRINT, url, KEY, "1" if sample_by_sample else "0"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def time_command(url: str) -> float:
    """Wall seconds of ``carbonledger job KEY --json --no-sacct`` in a fresh process."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "carbonledger", "job", KEY, "--json", "--no-sacct"],
        check=True,
        capture_output=True,
        env={**os.environ, "CARBONLEDGER_LEDGER": url},
    )
    return time.perf_counter() - start


def _has_job(url: str) -> bool:
    """Whether the ledger at ``url`` already holds the benchmark's job."""
    from carbonledger.store import open_ledger

    if not url.startswith("postgresql://") and not Path(url.removeprefix("sqlite://")).exists():
        return False
    with open_ledger(url) as led:
        return bool(led.job_runs(KEY))  # type: ignore[attr-defined]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--hours", type=float, nargs="+", default=[1.0])
    p.add_argument("--seconds", type=float, default=20.0, help="tracker CPU window (0: skip)")
    p.add_argument("--ledger", help="a postgresql:// URL or SQLite path (default: temporary)")
    p.add_argument("--keep", action="store_true", help="reuse/keep --ledger (built once)")
    p.add_argument("--reference", action="store_true", help="also time sample by sample")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument(
        "--unaligned",
        action="store_true",
        help="series off the whole hour (the store scans samples instead of its kept cells)",
    )
    args = p.parse_args()
    if args.seconds > 0:
        print(
            "tracker CPU, 8 GPUs + CPU at 1 s, as a job's measurer: "
            f"{tracker_cpu(args.seconds):.2f} % of one core"
        )
    for hours in args.hours:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.ledger or str(Path(tmp) / f"job-{hours:g}h.sqlite")
            if not url.startswith("postgresql://"):
                url = f"sqlite://{Path(url.removeprefix('sqlite://')).resolve()}"
            path = Path(url.removeprefix("sqlite://"))
            if not (args.keep and _has_job(url)):
                start = time.perf_counter()
                rows = build(url, hours, shift_s=800.0 if args.unaligned else 0.0)
                print(f"built {hours:g} h: {rows} samples in {time.perf_counter() - start:.0f} s")
            size = (
                "" if url.startswith("postgresql://") else f", {path.stat().st_size / 1e9:.2f} GB"
            )
            times = sorted(time_footprint(url)[0] for _ in range(args.repeat))
            commands = sorted(time_command(url) for _ in range(args.repeat))
            print(
                f"64 nodes x 8 GPUs, {hours:g} h at 1 s{size}: job_footprint "
                f"{times[len(times) // 2]:.2f} s (min {times[0]:.2f}, max {times[-1]:.2f}); "
                f"`carbonledger job` {commands[len(commands) // 2]:.2f} s "
                f"(min {commands[0]:.2f}, max {commands[-1]:.2f})"
            )
            if args.reference:
                ref, _ = time_footprint(url, sample_by_sample=True)
                print(f"  sample by sample (the previous path): {ref:.2f} s")
            if args.keep and not url.startswith("postgresql://"):
                print(f"  kept {path}")


if __name__ == "__main__":
    main()
