"""The ledger at scale: reading commands against the database's own floor, in one run.

    .venv/bin/python benchmarks/ledger_scale.py            # small sizes, a few minutes
    .venv/bin/python benchmarks/ledger_scale.py --full     # 100,000 runs; 690k-sample run
    .venv/bin/python benchmarks/ledger_scale.py --full --write   # also RESULTS.md's section

Every figure is a wall time measured here, next to its floor measured in the same run on
the same ledger: the bare SQL aggregate (``SELECT run_id, SUM(...) GROUP BY run_id``) for
listings and one run, a plain numpy bootstrap of the same numbers for ``compare``, the
JSON report for the HTML one. Commands run in a fresh child process each (what a user
waits for, interpreter start excluded: the child times ``main()`` itself) and report
their peak RSS. Ledgers are generated with ``executemany`` straight into the schema the
store created (rows encoded by the store's own encoders).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from carbonledger.records import (  # noqa: E402
    Component,
    DeviceInfo,
    Method,
    RunRecord,
    RunStatus,
    Scope,
)
from carbonledger.store import open_ledger  # noqa: E402
from carbonledger.store._rows import RUN_COLUMNS, RUN_FIELDS, encode_device, encode_run  # noqa: E402

T0 = 1_700_000_000.0
PHASES = ("training", "inference", "data", "evaluation")
DEVICES = [
    DeviceInfo("rapl:package-0", Component.CPU, "Xeon", Method.MEASURED, "rapl", 0.05),
    DeviceInfo("nvml:GPU-0", Component.GPU, "NVIDIA H100", Method.MEASURED, "nvml", 0.05),
]
GPUS8 = [
    DeviceInfo(f"nvml:GPU-{i}", Component.GPU, "NVIDIA H100", Method.MEASURED, "nvml", 0.05)
    for i in range(8)
]


# -- generating ledgers ------------------------------------------------------------------
def _run(run_id: str, k: int, start: float, end: float, name: str) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        name=name,
        phase=PHASES[k % len(PHASES)],
        status=RunStatus.COMPLETED,
        started_at=start,
        ended_at=end,
        scope=Scope.MACHINE,
        zone="FR" if k % 3 else "DE",
        pue=1.2,
        interval_s=10.0,
        host={"hostname": f"node-{k}"},  # one host per run: nobody shares
        tags={"team": "ab"[k % 2]},
        settings={"argv": ["python", "train.py"]},
        exit_code=0,
    )


def make_ledger(path: Path, runs: int, samples_per_device: int = 6, seed: int = 1) -> None:
    """``runs`` finished runs of two devices, ``samples_per_device`` 10 s samples each;
    names ``A``/``B`` alternate (for compare), one host per run."""
    rng = random.Random(seed)
    open_ledger(path).close()  # the schema, by the store
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    run_rows, device_rows, sample_rows, metric_rows = [], [], [], []
    for k in range(runs):
        run_id = f"{rng.getrandbits(128):032x}"
        start = T0 + k * 37.0
        end = start + samples_per_device * 10.0
        encoded = encode_run(_run(run_id, k, start, end, "AB"[k % 2]))
        run_rows.append(tuple(encoded[f] for f in RUN_FIELDS))
        device_rows += [encode_device(run_id, i, d) for i, d in enumerate(DEVICES)]
        for i in range(samples_per_device):
            a = start + i * 10.0
            for d in DEVICES:
                power = 60.0 if d.component is Component.CPU else rng.uniform(100, 700)
                sample_rows.append((run_id, d.device_id, a, a + 10.0, power * 10, power * 10))
        metric_rows.append((run_id, "accuracy", "float", rng.uniform(0.5, 0.99), 1, end))
        if len(sample_rows) > 200_000:
            _flush(conn, run_rows, device_rows, sample_rows, metric_rows)
    _flush(conn, run_rows, device_rows, sample_rows, metric_rows)
    conn.execute("COMMIT")
    conn.close()


def _flush(conn: sqlite3.Connection, *tables: list[Any]) -> None:
    runs, devices, samples, metrics = tables
    conn.executemany(
        f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * len(RUN_FIELDS))})", runs
    )
    conn.executemany(
        "INSERT INTO devices (run_id, position, device_id, component, name, method, source, "
        "uncertainty_rel, details_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        devices,
    )
    conn.executemany(
        "INSERT INTO samples (run_id, device_id, t_start, t_end, host_energy_j, energy_j) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        samples,
    )
    conn.executemany(
        "INSERT INTO metrics (run_id, name, kind, value, step, logged_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        metrics,
    )
    for table in tables:
        table.clear()


def make_long_run(path: Path, hours: float, seed: int = 2) -> str:
    """One run of 8 GPUs sampled every second for ``hours``, with an hourly series."""
    from carbonledger.intensity.series import IntensitySeries

    rng = random.Random(seed)
    run_id = "long" + f"{rng.getrandbits(96):024x}"
    seconds = int(hours * 3600)
    with open_ledger(path) as ledger:
        run = _run(run_id, 1, T0, T0 + seconds, "long")
        ledger.create_run(run, GPUS8)
        ledger.put_series(
            run_id,
            IntensitySeries(
                times=tuple(T0 - 600 + 3600 * h for h in range(int(hours) + 2)),
                values_g_per_kwh=tuple(rng.uniform(30, 120) for _ in range(int(hours) + 2)),
                zone="FR",
                source="benchmark",
                last_step_s=3600.0,
            ),
        )
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    rows = []
    for t in range(seconds):
        a = T0 + t
        for d in GPUS8:
            e = rng.uniform(200, 700)
            rows.append((run_id, d.device_id, a, a + 1.0, e, e))
        if len(rows) > 200_000:
            conn.executemany(
                "INSERT INTO samples (run_id, device_id, t_start, t_end, host_energy_j, "
                "energy_j) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            rows.clear()
    conn.executemany(
        "INSERT INTO samples (run_id, device_id, t_start, t_end, host_energy_j, energy_j) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    conn.close()
    return run_id


# -- measuring ---------------------------------------------------------------------------
_CHILD = """
import io, json, os, resource, sys, time
sys.path.insert(0, {src!r})
from carbonledger.cli.main import main
argv = json.loads(sys.argv[1])
out = io.StringIO() if argv[0] != "-" else None
sys.stdout = open(os.devnull, "w")
t = time.perf_counter()
code = main(argv)
elapsed = time.perf_counter() - t
sys.stdout = sys.__stdout__
print(json.dumps({{"code": code, "s": elapsed,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
_BASELINE = """
import json, resource, sys
sys.path.insert(0, {src!r})
import carbonledger.cli.main
print(json.dumps({{"rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def command(argv: list[str], repeat: int = 1) -> dict[str, float]:
    """The median wall time of ``main(argv)`` in fresh processes, and its peak RSS."""
    times, rss = [], []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", _CHILD.format(src=str(ROOT / "src")), json.dumps(argv)],
            capture_output=True,
            text=True,
            check=False,
        )
        line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        if done.returncode or not line:
            raise SystemExit(f"{argv}: failed: {done.stderr[-2000:]}")
        data = json.loads(line)
        if data["code"] != 0:
            raise SystemExit(f"{argv}: exit {data['code']}: {done.stderr[-2000:]}")
        times.append(data["s"])
        rss.append(data["rss_mib"])
    return {"s": statistics.median(times), "rss_mib": max(rss)}


def baseline_rss() -> float:
    done = subprocess.run(
        [sys.executable, "-c", _BASELINE.format(src=str(ROOT / "src"))],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(done.stdout)["rss_mib"])


def sql_floor(path: Path, sql: str, params: tuple[Any, ...] = (), repeat: int = 3) -> float:
    """The best of ``repeat`` timings of one bare query (fetching every row)."""
    best = float("inf")
    for _ in range(repeat):
        conn = sqlite3.connect(path)
        t = time.perf_counter()
        conn.execute(sql, params).fetchall()
        best = min(best, time.perf_counter() - t)
        conn.close()
    return best


def numpy_bootstrap_floor(a: list[float], b: list[float], resamples: int, quantities: int) -> float:
    """A plain numpy bootstrap of the difference of means, ``quantities`` times."""
    import numpy as np

    t = time.perf_counter()
    for q in range(quantities):
        rng = np.random.default_rng(q)
        va, vb = np.asarray(a), np.asarray(b)
        ia = rng.integers(0, len(va), size=(resamples, len(va)))
        ib = rng.integers(0, len(vb), size=(resamples, len(vb)))
        np.quantile(vb[ib].mean(axis=1) - va[ia].mean(axis=1), [0.025, 0.975])
    return time.perf_counter() - t
