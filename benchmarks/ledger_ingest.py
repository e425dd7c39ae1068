"""Ledger ingestion for a 64-node x 8-GPU job at 1 s sampling, and a node tracker's CPU.

What is measured (a throwaway PostgreSQL server, started like the tests do, on this
machine; nothing else of the machine is reserved):

1. **Rows per second** into PostgreSQL and into one SQLite file: 64 simulated nodes
   (threads, each with its own ledger connection and run on its own host) append the
   samples of a node with 8 GPUs + CPU + RAM (10 devices) in flushes of 10 s (100 rows per
   flush, as a tracker with ``flush_interval_s=10`` writes them), as fast as they can.
   For PostgreSQL also the idempotent upload (``merge_samples``, what spool syncs use).
   The job needs 64 x 10 = 640 rows/s; the headroom is the measured rate over that.
2. **A node tracker's CPU**: a ``Tracker`` with 8 fake GPUs + a fake CPU at 1 s interval,
   writing to PostgreSQL through its spool (default ``flush_interval_s``), for
   ``--tracker-s`` seconds; process CPU (user+sys, all threads) while tracking, minus the
   same process sleeping as long without a tracker, as a share of one core.

``.venv/bin/python benchmarks/ledger_ingest.py [--quick]`` prints the figures and writes
them into the ``ledger_ingest`` section of RESULTS.md (and RESULTS-ledger-ingest.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.store.pgserver: the throwaway server
sys.path.insert(0, str(HERE))
from results_md import write_section  # noqa: E402  (a sibling module)

NODES, GPUS, DEVICES_PER_NODE = 64, 8, 10
JOB_ROWS_PER_S = NODES * DEVICES_PER_NODE
TARGET_CPU_SHARE = 0.01


def _devices() -> list[Any]:
    from carbonledger.records import Component
    from carbonledger.sensors.fake import fake_device

    return [
        *(fake_device(f"nvml:GPU-{g}", Component.GPU) for g in range(GPUS)),
        fake_device("rapl:package-0", Component.CPU),
        fake_device("model:ram", Component.RAM),
    ]


def ingest(open_ledger: Callable[[], Any], flushes: int, *, merge: bool = False) -> float:
    """Rows per second for 64 node threads appending ``flushes`` flushes of 10 s each."""
    from carbonledger.records import Sample
    from carbonledger.testing import contract_run

    devices = _devices()
    barrier = threading.Barrier(NODES + 1)
    errors: list[BaseException] = []
    rows = NODES * flushes * 10 * DEVICES_PER_NODE

    def node(i: int) -> None:
        try:
            led = open_ledger()
            run = contract_run(hostname=f"bench-node-{i:02d}")
            led.create_run(run, devices)
            batches = [
                [
                    Sample(d.device_id, run.started_at + t, run.started_at + t + 1, 300.0, 300.0)
                    for t in range(f * 10, f * 10 + 10)
                    for d in devices
                ]
                for f in range(flushes)
            ]
            write = led.merge_samples if merge else led.append_samples
            barrier.wait()
            for batch in batches:
                write(run.run_id, batch, time.time())
            led.close()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=node, args=(i,)) for i in range(NODES)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return rows / elapsed


def tracker_cpu(url: str, seconds: float) -> dict[str, float]:
    """Extra CPU share of one core for a tracker of 9 fake devices at 1 s into ``url``."""
    import carbonledger as cl
    from carbonledger.sensors.fake import FakeSensor

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    devices = _devices()[:-1]  # 8 GPUs + CPU
    c0, t0 = cpu(), time.perf_counter()
    time.sleep(seconds)
    idle = (cpu() - c0) / (time.perf_counter() - t0)
    sensor = FakeSensor(devices, {d.device_id: 300.0 for d in devices})
    tracker = cl.Tracker(name="bench-node", interval=1.0, ledger=url, sensors=[sensor])
    tracker.start()
    c0, t0 = cpu(), time.perf_counter()
    time.sleep(seconds)
    busy = (cpu() - c0) / (time.perf_counter() - t0)
    tracker.stop()
    return {"tracker_cpu_share": busy, "idle_cpu_share": idle, "extra_cpu_share": busy - idle}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (smoke test)")
    parser.add_argument("--tracker-s", type=float, default=None)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    flushes = 3 if args.quick else 15
    seconds = args.tracker_s or (10.0 if args.quick else 60.0)

    from tests.store.pgserver import fresh_schema_url, start_server

    from carbonledger.store import open_ledger

    server = start_server()
    results: dict[str, Any] = {
        "nodes": NODES,
        "gpus_per_node": GPUS,
        "devices_per_node": DEVICES_PER_NODE,
        "job_rows_per_s": JOB_ROWS_PER_S,
        "flush_rows": 10 * DEVICES_PER_NODE,
        "flushes_per_node": flushes,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, PostgreSQL {server.bin_dir.parent.name}",
    }
    try:
        url = fresh_schema_url(server)
        open_ledger(url).close()  # create the schema once, outside the timing
        results["postgres_rows_per_s"] = ingest(lambda: open_ledger(url, pool_size=1), flushes)
        url2 = fresh_schema_url(server)
        open_ledger(url2).close()
        results["postgres_merge_rows_per_s"] = ingest(
            lambda: open_ledger(url2, pool_size=1), flushes, merge=True
        )
        with tempfile.TemporaryDirectory() as folder:
            path = f"{folder}/bench.sqlite"
            open_ledger(path).close()
            results["sqlite_rows_per_s"] = ingest(lambda: open_ledger(path), flushes)
            os.environ["XDG_STATE_HOME"] = f"{folder}/state"
            results.update(tracker_cpu(fresh_schema_url(server), seconds))
        results["tracker_s"] = seconds
    finally:
        server.remove()
    for key in ("postgres_rows_per_s", "postgres_merge_rows_per_s", "sqlite_rows_per_s"):
        results[key.replace("rows_per_s", "headroom")] = results[key] / JOB_ROWS_PER_S
    text = render(results)
    print(text)
    if not args.no_write:
        (HERE / "RESULTS-ledger-ingest.json").write_text(json.dumps(results, indent=2) + "\n")
        write_section(HERE / "RESULTS.md", "ledger_ingest", text)
    return 0


def render(r: dict[str, Any]) -> str:
    ok = "met" if r["extra_cpu_share"] < TARGET_CPU_SHARE else "NOT met"
    return "\n".join(
        [
            "## Ledger ingestion: a 64-node x 8-GPU job at 1 s (`ledger_ingest.py`)",
            "",
            f"Machine: {r['machine']}. {r['nodes']} simulated nodes (threads, one connection "
            f"each) append {r['flushes_per_node']} flushes of {r['flush_rows']} rows "
            f"(10 s x {r['devices_per_node']} devices); the job needs "
            f"{r['job_rows_per_s']} rows/s.",
            "",
            "| ledger | rows/s | headroom over the job |",
            "|---|---:|---:|",
            f"| PostgreSQL, COPY (`append_samples`) | {r['postgres_rows_per_s']:,.0f} | "
            f"{r['postgres_headroom']:,.0f}x |",
            f"| PostgreSQL, idempotent upload (`merge_samples`) | "
            f"{r['postgres_merge_rows_per_s']:,.0f} | {r['postgres_merge_headroom']:,.0f}x |",
            f"| SQLite, one file, 64 writers | {r['sqlite_rows_per_s']:,.0f} | "
            f"{r['sqlite_headroom']:,.0f}x |",
            "",
            f"A node's tracker (8 fake GPUs + CPU, 1 s, PostgreSQL through its spool), "
            f"{r['tracker_s']:.0f} s: {100 * r['tracker_cpu_share']:.2f} % of one core while "
            f"tracking, {100 * r['idle_cpu_share']:.2f} % idle, extra "
            f"**{100 * r['extra_cpu_share']:.2f} %** (target < 1 %: {ok}).",
            "",
            "Trackers write live with `append_samples` (COPY); the idempotent upload is what "
            "spool syncs and `merge` use. Rows/s are one run on a shared machine, not a "
            "median: the order of magnitude is the finding. The test server runs with fsync "
            "off (a throwaway), so PostgreSQL figures omit disk flush latency.",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
