"""Speed of ``carbonledger simulate`` on the real hourly traces (Electricity Maps, 2023–2024).

    .venv/bin/python benchmarks/bench_simulate.py [--duration 6h] [--extra 24h] [--sample 200]

For each trace: the time to load it, the vectorised simulation (both policies, every start
time), and the exact per-job planner on a sample of start times, extrapolated to the whole
year, so the two are compared in the same run. Traces: ``<repo>/../shared/data/grid/hourly``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

from carbonledger.intensity.series_csv import load_series
from carbonledger.schedule.planner import plan_zone
from carbonledger.schedule.simulate import simulate
from carbonledger.schedule.timeparse import parse_duration, parse_extra

HOURLY = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "grid" / "hourly"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="6h")
    parser.add_argument("--extra", default="24h")
    parser.add_argument("--sample", type=int, default=200, help="per-job planner sample size")
    parser.add_argument("--repeat", type=int, default=3, help="best of N vectorised runs")
    args = parser.parse_args()
    files = sorted(HOURLY.glob("*_hourly.csv"))
    if not files:
        print(f"no traces in {HOURLY}", file=sys.stderr)
        return 1
    duration_s = parse_duration(args.duration)
    extra_s = parse_extra(args.extra, duration_s)
    print(
        f"job {args.duration} + {args.extra}; best of {args.repeat}; per-job planner on "
        f"{args.sample} sampled starts, extrapolated"
    )
    print(
        f"{'trace':<28}{'steps':>7}{'jobs':>7}{'load s':>9}{'vector s':>10}"
        f"{'per-job s':>11}{'speed-up':>10}"
    )
    vector_times, ratios = [], []
    rng = random.Random(0)
    for path in files:
        t0 = time.perf_counter()
        series = load_series(path, basis="lifecycle")
        load_s = time.perf_counter() - t0
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            sim = simulate(series, duration_s=duration_s, extra_s=extra_s)
            best = min(best, time.perf_counter() - t0)
        sample = rng.sample(range(sim.n_jobs), min(args.sample, sim.n_jobs))
        t0 = time.perf_counter()
        for i in sample:
            t = sim.start_times[i]
            deadline = t + duration_s + extra_s
            plan_zone(series, duration_s=duration_s, earliest=t, deadline=deadline)
            plan_zone(
                series, duration_s=duration_s, earliest=t, deadline=deadline, interruptible=True
            )
        per_job_s = (time.perf_counter() - t0) / len(sample) * sim.n_jobs
        vector_times.append(best)
        ratios.append(per_job_s / best)
        print(
            f"{path.stem:<28}{len(series):>7}{sim.n_jobs:>7}{load_s:>9.3f}{best:>10.4f}"
            f"{per_job_s:>11.2f}{per_job_s / best:>9.0f}x"
        )
    print(
        f"vectorised: median {statistics.median(vector_times):.4f} s, "
        f"max {max(vector_times):.4f} s per trace-year; "
        f"median speed-up over the per-job planner {statistics.median(ratios):.0f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
