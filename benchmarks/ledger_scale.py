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
c = time.process_time()
code = main(argv)
elapsed = time.perf_counter() - t
cpu = time.process_time() - c
sys.stdout = sys.__stdout__
print(json.dumps({{"code": code, "s": elapsed, "cpu_s": cpu,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
_BASELINE = """
import json, resource, sys
sys.path.insert(0, {src!r})
import carbonledger.cli.main
print(json.dumps({{"rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def command(argv: list[str], repeat: int = 1) -> dict[str, float]:
    """The median wall and CPU times of ``main(argv)`` in fresh processes, and its peak
    RSS (CPU time is the steadier figure on a loaded machine)."""
    times, cpus, rss = [], [], []
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
        cpus.append(data["cpu_s"])
        rss.append(data["rss_mib"])
    return {"s": statistics.median(times), "cpu_s": statistics.median(cpus), "rss_mib": max(rss)}


def baseline_rss() -> float:
    done = subprocess.run(
        [sys.executable, "-c", _BASELINE.format(src=str(ROOT / "src"))],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(done.stdout)["rss_mib"])


def sql_floor(path: Path, sql: str, params: tuple[Any, ...] = (), repeat: int = 3) -> float:
    """The best of ``repeat`` wall timings of one bare query (fetching every row)."""
    return sql_floor_times(path, sql, params, repeat)[0]


def sql_floor_times(
    path: Path, sql: str, params: tuple[Any, ...] = (), repeat: int = 3
) -> tuple[float, float]:
    """The best wall and CPU times of ``repeat`` runs of one bare query."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        conn = sqlite3.connect(path)
        t, c = time.perf_counter(), time.process_time()
        conn.execute(sql, params).fetchall()
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
        conn.close()
    return best, best_cpu


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


# -- the benchmark -----------------------------------------------------------------------
def _ratio(x: float, floor: float) -> str:
    return f"{x / floor:.1f}x" if floor > 0 else "n/a"


def run(full: bool, workdir: Path, html_runs: int = 200) -> dict[str, Any]:
    sizes = (1_000, 10_000, 100_000) if full else (1_000, 5_000)
    big_n = sizes[-1]
    hours = 24.0 if full else 2.0
    compare_n = 1_000 if full else 200
    html_n = min(html_runs, 2 * compare_n)
    results: dict[str, Any] = {"full": full, "growth": [], "targets": []}

    # listings and their growth
    for n in sizes:
        path = workdir / f"runs-{n}.sqlite"
        t = time.perf_counter()
        make_ledger(path, n)
        made = time.perf_counter() - t
        floor, floor_cpu = sql_floor_times(
            path, "SELECT run_id, SUM(host_energy_j), SUM(energy_j) FROM samples GROUP BY run_id"
        )
        runs = command(["runs", "--json", "--ledger", str(path)])
        summary = command(["summary", "--by", "phase", "--json", "--ledger", str(path)])
        row = {
            "runs": n,
            "generate_s": made,
            "floor_s": floor,
            "floor_cpu_s": floor_cpu,
            "runs_json_s": runs["s"],
            "runs_json_cpu_s": runs["cpu_s"],
            "runs_json_rss_mib": runs["rss_mib"],
            "summary_phase_s": summary["s"],
            "summary_phase_cpu_s": summary["cpu_s"],
            "summary_phase_rss_mib": summary["rss_mib"],
        }
        results["growth"].append(row)
        print(
            f"{n:>7} runs: floor {floor * 1e3:8.1f} ms | runs --json {runs['s']:7.2f} s "
            f"({_ratio(runs['s'], floor)}) | summary --by phase {summary['s']:7.2f} s "
            f"({_ratio(summary['s'], floor)}) | CPU: floor {floor_cpu * 1e3:.1f} ms, runs "
            f"{runs['cpu_s']:.2f} s ({_ratio(runs['cpu_s'], floor_cpu)}), summary "
            f"{summary['cpu_s']:.2f} s ({_ratio(summary['cpu_s'], floor_cpu)})",
            flush=True,
        )
    last = results["growth"][-1]
    for key, label in (("runs_json_s", "runs --json"), ("summary_phase_s", "summary --by phase")):
        results["targets"].append(
            {
                "target": f"{label} on {big_n:,} runs at most 3x the SQL aggregate",
                "value_s": last[key],
                "floor_s": last["floor_s"],
                "ratio": last[key] / last["floor_s"],
                "limit": 3.0,
            }
        )

    # one long run
    path = workdir / "long.sqlite"
    run_id = make_long_run(path, hours)
    n_samples = int(hours * 3600) * 8
    floor, floor_cpu = sql_floor_times(
        path,
        "SELECT device_id, SUM(host_energy_j), SUM(energy_j) FROM samples "
        "WHERE run_id = ? GROUP BY device_id",
        (run_id,),
    )
    base = baseline_rss()
    show = command(["show", run_id, "--json", "--ledger", str(path)], repeat=3)
    report = command(["report", run_id, "--format", "json", "--ledger", str(path)], repeat=3)
    print(
        f"long run ({n_samples:,} samples): floor {floor * 1e3:.1f} ms | show {show['s']:.2f} s "
        f"({_ratio(show['s'], floor)}), peak {show['rss_mib']:.0f} MiB (baseline {base:.0f}) | "
        f"report json {report['s']:.2f} s ({_ratio(report['s'], floor)}), "
        f"peak {report['rss_mib']:.0f} MiB | CPU: floor {floor_cpu:.2f} s, show "
        f"{show['cpu_s']:.2f} s, report {report['cpu_s']:.2f} s",
        flush=True,
    )
    results["long_run"] = {
        "samples": n_samples,
        "floor_s": floor,
        "floor_cpu_s": floor_cpu,
        "show_s": show["s"],
        "show_cpu_s": show["cpu_s"],
        "report_json_cpu_s": report["cpu_s"],
        "show_rss_mib": show["rss_mib"],
        "report_json_s": report["s"],
        "report_json_rss_mib": report["rss_mib"],
        "baseline_rss_mib": base,
    }
    for label, m in (("show --json", show), ("report --format json", report)):
        results["targets"].append(
            {
                "target": f"{label} of a {n_samples:,}-sample run under 1 s",
                "value_s": m["s"],
                "limit_s": 1.0,
            }
        )
        results["targets"].append(
            {
                "target": f"{label} of that run under 100 MiB peak RSS",
                "value_mib": m["rss_mib"],
                "limit_mib": 100.0,
            }
        )
        results["targets"].append(
            {
                "target": f"{label} of that run at most 3x the SQL aggregate",
                "value_s": m["s"],
                "floor_s": floor,
                "ratio": m["s"] / floor,
                "limit": 3.0,
            }
        )

    # compare two groups; the HTML report against the JSON one
    path = workdir / f"runs-{2 * compare_n}.sqlite"
    if not path.exists():
        make_ledger(path, 2 * compare_n)
    cmp = command(["compare", "A", "B", "--resamples", "2000", "--json", "--ledger", str(path)])
    sys.path.insert(0, str(ROOT / "src"))
    from carbonledger.report.compare import compare_groups
    from carbonledger.report.frame import load_footprints

    with open_ledger(path) as ledger:
        a = [fp.to_dict() for fp in load_footprints(ledger, name="A").footprints]
        b = [fp.to_dict() for fp in load_footprints(ledger, name="B").footprints]
    t = time.perf_counter()
    compared = compare_groups(a, b, resamples=2000, seed=0)
    compare_only = time.perf_counter() - t
    floor_np = numpy_bootstrap_floor(
        [float(x["energy_kwh"]) for x in a],
        [float(x["energy_kwh"]) for x in b],
        2000,
        len(compared),
    )
    print(
        f"compare {compare_n}+{compare_n} runs, 2000 resamples: command {cmp['s']:.2f} s, "
        f"bootstrap part {compare_only * 1e3:.0f} ms; plain numpy bootstrap of the same "
        f"{len(compared)} quantities {floor_np * 1e3:.0f} ms "
        f"({_ratio(compare_only, floor_np)} / command {_ratio(cmp['s'], floor_np)})",
        flush=True,
    )
    results["compare"] = {
        "runs_per_group": compare_n,
        "command_s": cmp["s"],
        "bootstrap_s": compare_only,
        "numpy_floor_s": floor_np,
    }
    results["targets"].append(
        {
            "target": f"compare of 2 x {compare_n:,} runs, 2,000 resamples, at most 2x plain numpy",
            "value_s": compare_only,
            "floor_s": floor_np,
            "ratio": compare_only / floor_np,
            "limit": 2.0,
            "note": f"bootstrap only; the whole command (pricing {2 * compare_n:,} runs "
            f"from the ledger first) took {cmp['s']:.2f} s",
        }
    )
    if html_n <= 0:  # --html-runs 0: the HTML report is left out
        return results
    with open_ledger(workdir / f"runs-{2 * compare_n}.sqlite") as ledger:
        ids = [r.run_id for r in ledger.list_runs()[:html_n]]
    out = workdir / "report.html"
    js = command(["report", *ids, "--format", "json", "--ledger", str(path)])
    html = command(["report", *ids, "--format", "html", "-o", str(out), "--ledger", str(path)])
    print(
        f"report of {len(ids)} runs: json {js['s']:.2f} s, html {html['s']:.2f} s "
        f"({_ratio(html['s'], js['s'])})",
        flush=True,
    )
    results["report_html"] = {"runs": len(ids), "json_s": js["s"], "html_s": html["s"]}
    results["targets"].append(
        {
            "target": f"report --format html of {len(ids):,} runs at most 10x the JSON report",
            "value_s": html["s"],
            "floor_s": js["s"],
            "ratio": html["s"] / js["s"],
            "limit": 10.0,
        }
    )
    return results


def _met(t: dict[str, Any]) -> bool:
    if "ratio" in t:
        return bool(t["ratio"] <= t["limit"])
    if "limit_s" in t:
        return bool(t["value_s"] < t["limit_s"])
    return bool(t["value_mib"] < t["limit_mib"])


def markdown(results: dict[str, Any], elapsed_s: float) -> str:
    lines = [
        "## The ledger at scale (`benchmarks/ledger_scale.py`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in {elapsed_s:.0f} s "
        f"with `.venv/bin/python benchmarks/ledger_scale.py{' --full' if results['full'] else ''}`"
        f" (Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} cores, shared). Each command ran in a fresh process; the time is "
        "`main()`'s own (interpreter start excluded). Floors are measured in the same run on "
        "the same ledger.",
        "",
        "| target | measured | floor | ratio | limit | |",
        "|---|---|---|---|---|---|",
    ]
    for t in results["targets"]:
        value = f"{t['value_s']:.3f} s" if "value_s" in t else f"{t['value_mib']:.0f} MiB"
        floor = f"{t['floor_s']:.3f} s" if "floor_s" in t else ""
        ratio = f"{t['ratio']:.1f}x" if "ratio" in t else ""
        limit = (
            f"{t['limit']:.0f}x"
            if "limit" in t
            else (f"{t['limit_s']:.0f} s" if "limit_s" in t else f"{t['limit_mib']:.0f} MiB")
        )
        verdict = "met" if _met(t) else "**missed**"
        lines.append(f"| {t['target']} | {value} | {floor} | {ratio} | {limit} | {verdict} |")
    lines += [
        "",
        "Growth (each command against the SQL aggregate over the same ledger):",
        "",
        "| runs | SQL aggregate | runs --json | summary --by phase | CPU: floor, runs, summary "
        "| peak RSS (runs) |",
        "|---|---|---|---|---|---|",
    ]
    for g in results["growth"]:
        lines.append(
            f"| {g['runs']:,} | {g['floor_s'] * 1e3:.1f} ms | {g['runs_json_s']:.2f} s "
            f"({g['runs_json_s'] / g['floor_s']:.0f}x) | {g['summary_phase_s']:.2f} s "
            f"({g['summary_phase_s'] / g['floor_s']:.0f}x) | {g['floor_cpu_s'] * 1e3:.0f} ms, "
            f"{g['runs_json_cpu_s']:.2f} s ({g['runs_json_cpu_s'] / g['floor_cpu_s']:.0f}x), "
            f"{g['summary_phase_cpu_s']:.2f} s "
            f"({g['summary_phase_cpu_s'] / g['floor_cpu_s']:.0f}x) "
            f"| {g['runs_json_rss_mib']:.0f} MiB |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the issue's sizes (100,000 runs)")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md's section")
    parser.add_argument("--json", metavar="PATH", help="raw results here")
    parser.add_argument(
        "--html-runs",
        type=int,
        default=200,
        help="runs in the HTML report (the issue: 2000; 0 leaves it out)",
    )
    args = parser.parse_args()
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="carbonledger-scale-") as tmp:
        results = run(args.full, Path(tmp), args.html_runs)
    text = markdown(results, time.perf_counter() - t)
    print("\n" + text)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.write:
        _write_section(ROOT / "benchmarks" / "RESULTS.md", text)
    return 0


def _write_section(path: Path, section: str) -> None:
    """Replace (or append) this benchmark's section of RESULTS.md."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    head = section.splitlines()[0]
    start = text.find(head)
    if start >= 0:
        nxt = text.find("\n## ", start + len(head))
        text = text[:start] + section + (text[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
