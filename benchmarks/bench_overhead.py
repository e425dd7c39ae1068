"""Overhead of carbonledger against CodeCarbon, measured side by side in the same run.

What is measured (every figure in a fresh subprocess of the same interpreter, the tools
alternated, repeated; medians and ranges are reported):

1. import time: wall time of ``import carbonledger`` / ``import codecarbon`` inside the
   process (``time.perf_counter`` around the import only), and of what tracking needs
   (``cl.Tracker`` / ``from codecarbon import OfflineEmissionsTracker``); plus one
   ``-X importtime`` run of each for the module breakdown.
2. start-to-first-sample: ``Tracker(...).start()`` / ``OfflineEmissionsTracker(...).start()``
   until the tool holds its first sample (both take it inside ``start()``; the child checks
   ``Sampler.reads >= 1`` / ``_power_measurement_count >= 1`` and would poll if not).
3. extra CPU seconds and extra peak RSS for an idle (``sleep``) and a busy (a fixed amount
   of pure-Python arithmetic, calibrated to take ``busy_s`` CPU seconds without a tracker)
   workload sampled every 1 s: each tool's process against the same script without a
   tracker, run in the same round. CPU = user+sys of the process (all threads) plus the
   subprocesses it waited for; RSS = ``ru_maxrss`` of the process.

Run ``python benchmarks/run_all.py`` (it sets up the peers' virtual environment and writes
RESULTS.md); this module can also run alone with the peers' interpreter:
``benchmarks/.venv-peers/bin/python benchmarks/bench_overhead.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKLOADS = HERE / "workloads.py"
TOOLS = ("carbonledger", "codecarbon")

# targets from the issue
TARGET_IMPORT_S = 0.030
TARGET_START_S = 0.050
TARGET_RATIO = 0.2  # at most a fifth of CodeCarbon's extra CPU and extra memory

# "stdlib" is a reference measured in the same rounds: the standard-library modules that
# any tracker of this design needs; it shows how fast imports are on this machine right now.
STDLIB_FLOOR = "import typing, logging, dataclasses, pathlib, threading"
IMPORT_SNIPPETS: dict[str, dict[str, str]] = {
    "package": {"carbonledger": "import carbonledger", "codecarbon": "import codecarbon"},
    "tracking": {
        "carbonledger": "import carbonledger as cl; cl.Tracker",
        "codecarbon": "from codecarbon import OfflineEmissionsTracker",
        "stdlib": STDLIB_FLOOR,
    },
}


@dataclass
class Config:
    python: str = sys.executable
    src: str | None = None  # import carbonledger from here (a snapshot of a commit)
    reps_import: int = 5
    reps_start: int = 5
    reps_workload: int = 3
    idle_s: float = 15.0
    busy_s: float = 15.0
    parallel_idle: bool = True
    quick: bool = False
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr, flush=True))

    @classmethod
    def quick_config(cls, python: str) -> Config:
        return cls(
            python=python,
            reps_import=2,
            reps_start=2,
            reps_workload=1,
            idle_s=3.0,
            busy_s=3.0,
            quick=True,
        )


# -- running children --------------------------------------------------------------------
def child_env(home: str, src: str | None = None) -> dict[str, str]:
    """The environment without user settings of either tool, with a fresh HOME (and
    ``PYTHONPATH=src`` when carbonledger is to be imported from a snapshot)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CARBONLEDGER_", "CODECARBON_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    env.update(HOME=home, XDG_CONFIG_HOME=f"{home}/.config", XDG_DATA_HOME=f"{home}/.local/share")
    env["XDG_CACHE_HOME"] = f"{home}/.cache"
    if src is not None:
        env["PYTHONPATH"] = src
    return env


def _run(
    cmd: Sequence[str], env: dict[str, str], timeout_s: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def _last_json(proc: subprocess.CompletedProcess[str], what: str) -> dict[str, Any]:
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"{what} exited {proc.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run_workload(
    cfg: Config, env: dict[str, str], mode: str, tool: str, **opts: float
) -> dict[str, Any]:
    cmd = [cfg.python, str(WORKLOADS), mode, tool]
    for key, value in opts.items():
        cmd += [f"--{key}", str(value)]
    limit = 120.0 + 3 * max(opts.get("seconds", 0.0), cfg.busy_s)
    return _last_json(_run(cmd, env, limit), f"{mode} {tool}")


def _rotations(items: Sequence[str], reps: int) -> list[list[str]]:
    """Round i runs the items rotated by i, so no tool always goes first."""
    n = len(items)
    return [[items[(i + j) % n] for j in range(n)] for i in range(reps)]


# -- 1. import time ----------------------------------------------------------------------
def _import_code(snippet: str) -> str:
    return (
        "import time\n"
        "c0, t0 = time.process_time(), time.perf_counter()\n"
        f"{snippet}\n"
        "t1, c1 = time.perf_counter(), time.process_time()\n"
        "import sys\n"
        "print(repr(t1 - t0), repr(c1 - c0), len(sys.modules))\n"
    )


_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def _importtime(cfg: Config, env: dict[str, str], snippet: str) -> dict[str, tuple[int, int, int]]:
    """module -> (self us, cumulative us, depth) from ``-X importtime``."""
    proc = _run([cfg.python, "-X", "importtime", "-c", snippet], env, 60)
    out: dict[str, tuple[int, int, int]] = {}
    for line in proc.stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if m:
            out[m.group(4)] = (int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2)
    return out


def bench_import(cfg: Config, env: dict[str, str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for kind, snippets in IMPORT_SNIPPETS.items():
        names = list(snippets)
        for tool in names:  # warm-up: byte-compile and fill the page cache
            _run([cfg.python, "-c", snippets[tool]], env, 120)
        times: dict[str, list[float]] = {t: [] for t in names}
        cpu: dict[str, list[float]] = {t: [] for t in names}
        modules: dict[str, int] = {}
        for order in _rotations(names, cfg.reps_import):
            for tool in order:
                proc = _run([cfg.python, "-c", _import_code(snippets[tool])], env, 120)
                if proc.returncode != 0:
                    results.setdefault("errors", []).append(
                        f"{kind} {tool}: {proc.stderr.strip()[-300:]}"
                    )
                    continue
                wall, used, count = proc.stdout.split()
                times[tool].append(float(wall))
                cpu[tool].append(float(used))
                modules[tool] = int(count)
        results[kind] = {
            t: {"s": times[t], "cpu_s": cpu[t], "modules": modules.get(t)} for t in names
        }
    # -X importtime breakdown of what tracking needs, without the interpreter's own imports
    startup = _importtime(cfg, env, "pass")
    breakdown: dict[str, Any] = {}
    for tool in TOOLS:
        table = _importtime(cfg, env, IMPORT_SNIPPETS["tracking"][tool])
        own = {m: v for m, v in table.items() if m not in startup}
        top_level = sorted(((m, v[1]) for m, v in own.items() if v[2] == 0), key=lambda x: -x[1])
        heavy_self = sorted(((m, v[0]) for m, v in own.items()), key=lambda x: -x[1])
        breakdown[tool] = {
            "total_self_us": sum(v[0] for v in own.values()),
            "modules": len(own),
            "top_level": top_level[:8],
            "top_self": heavy_self[:10],
            "packages": _package_totals(own),
        }
    results["importtime"] = breakdown
    return results


def _package_totals(own: dict[str, tuple[int, int, int]]) -> list[tuple[str, int]]:
    """Self time summed by top-level package, largest first."""
    totals: dict[str, int] = {}
    for module, (self_us, _, _) in own.items():
        package = module.split(".", 1)[0]
        totals[package] = totals.get(package, 0) + self_us
    return sorted(totals.items(), key=lambda x: -x[1])[:10]


# -- 2. start-to-first-sample -----------------------------------------------------------
def bench_start(cfg: Config, env: dict[str, str]) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in TOOLS}
    for tool in TOOLS:  # warm-up (compiles lazily imported modules)
        run_workload(cfg, env, "start", tool)
    for order in _rotations(TOOLS, cfg.reps_start):
        for tool in order:
            runs[tool].append(run_workload(cfg, env, "start", tool))
    return runs


def profile_start(cfg: Config, env: dict[str, str]) -> dict[str, Any]:
    """One cProfile run of each tool's ``start()``: where a slow start goes."""
    return {tool: run_workload(cfg, env, "profile", tool) for tool in TOOLS}


# -- 3. extra CPU and RSS under idle and busy workloads -----------------------------------
def calibrate(cfg: Config, env: dict[str, str]) -> float:
    result = run_workload(cfg, env, "calibrate", "none", seconds=2.0 if not cfg.quick else 1.0)
    if "error" in result:
        raise RuntimeError(result["error"])
    return float(result["units_per_s"])


def bench_workloads(cfg: Config, env: dict[str, str]) -> dict[str, Any]:
    variants = ("none", *TOOLS)
    out: dict[str, Any] = {}
    units_per_s = calibrate(cfg, env)
    units = max(1, round(units_per_s * cfg.busy_s))
    out["busy_units"] = units
    out["busy_units_per_s"] = units_per_s
    for mode in ("idle", "busy"):
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for i, order in enumerate(_rotations(variants, cfg.reps_workload)):
            cfg.log(f"  {mode} round {i + 1}/{cfg.reps_workload}: {', '.join(order)}")
            if mode == "idle" and cfg.parallel_idle:
                # idle processes barely compete for the CPU: run a round's variants together
                with ThreadPoolExecutor(len(order)) as pool:
                    futures = {}
                    for variant in order:
                        futures[variant] = pool.submit(
                            run_workload, cfg, env, "idle", variant, seconds=cfg.idle_s
                        )
                        time.sleep(0.3)
                    for variant in order:
                        runs[variant].append(futures[variant].result())
            else:
                for variant in order:
                    if mode == "idle":
                        runs[variant].append(
                            run_workload(cfg, env, "idle", variant, seconds=cfg.idle_s)
                        )
                    else:
                        runs[variant].append(run_workload(cfg, env, "busy", variant, units=units))
        out[mode] = runs
    return out


# -- summarising --------------------------------------------------------------------------
def stats(values: Sequence[float | None]) -> dict[str, float | int | None]:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def _cpu(run: dict[str, Any]) -> float | None:
    if "error" in run:
        return None
    return float(run["cpu_total_s"]) + float(run.get("cpu_children_s", 0.0))


def _cpu_outside_work(run: dict[str, Any]) -> float | None:
    """Process and subprocess CPU less the main thread's CPU while it did the workload."""
    total = _cpu(run)
    if total is None or run.get("workload_main_cpu_s") is None:
        return None
    return total - float(run["workload_main_cpu_s"])


def _paired(
    tool_runs: list[dict[str, Any]],
    base_runs: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], float | None],
) -> list[float | None]:
    out: list[float | None] = []
    for t, b in zip(tool_runs, base_runs, strict=True):
        kt, kb = key(t), key(b)
        out.append(None if kt is None or kb is None else kt - kb)
    return out


def _get(name: str, scale: float = 1.0) -> Callable[[dict[str, Any]], float | None]:
    def key(run: dict[str, Any]) -> float | None:
        value = run.get(name)
        return None if value is None or "error" in run else float(value) * scale

    return key


def _background_cpu(run: dict[str, Any]) -> float | None:
    if "error" in run:
        return None
    return float(run["cpu_total_s"]) - float(run["cpu_main_s"])


def _sampling_rate(run: dict[str, Any]) -> float | None:
    """CPU ms per wall second used outside the main thread while the workload ran."""
    if "error" in run or run.get("workload_other_threads_cpu_s") is None:
        return None
    return 1e3 * float(run["workload_other_threads_cpu_s"]) / float(run["workload_wall_s"])


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """Medians, ranges, ratios carbonledger/CodeCarbon, and targets met or missed."""
    s: dict[str, Any] = {
        "import": {},
        "import_cpu": {},
        "start": {},
        "workloads": {},
        "ratios": {},
        "targets": [],
    }
    imp = raw["import"]
    for kind in IMPORT_SNIPPETS:
        s["import"][kind] = {t: stats(imp[kind][t]["s"]) for t in IMPORT_SNIPPETS[kind]}
        s["import_cpu"][kind] = {t: stats(imp[kind][t]["cpu_s"]) for t in IMPORT_SNIPPETS[kind]}
    for t in TOOLS:
        runs = raw["start"][t]
        s["start"][t] = {
            "init_s": stats([r.get("init_s") for r in runs]),
            "start_s": stats([r.get("start_s") for r in runs]),
            "start_cpu_s": stats([r.get("start_cpu_s") for r in runs]),
            "first_sample_s": stats([r.get("first_sample_s") for r in runs]),
            "stop_s": stats([r.get("stop_s") for r in runs]),
            "sampled_in_start": all(
                r.get("samples_after_start", 0) >= 1 for r in runs if "error" not in r
            ),
            "errors": [r["error"] for r in runs if "error" in r],
        }
    wl = raw["workloads"]
    for mode in ("idle", "busy"):
        base = wl[mode]["none"]
        s["workloads"][mode] = {
            "baseline": {
                "cpu_s": stats([_cpu(r) for r in base]),
                "work_cpu_s": stats([_get("workload_main_cpu_s")(r) for r in base]),
                "maxrss_mib": stats([_get("maxrss_kib", 1 / 1024)(r) for r in base]),
                "wall_s": stats([_get("workload_wall_s")(r) for r in base]),
            }
        }
        for t in TOOLS:
            runs = wl[mode][t]
            s["workloads"][mode][t] = {
                "extra_cpu_s": stats(_paired(runs, base, _cpu_outside_work)),
                "extra_cpu_raw_s": stats(_paired(runs, base, _cpu)),
                "tracker_threads_cpu_s": stats(_paired(runs, base, _background_cpu)),
                "children_cpu_s": stats([_get("cpu_children_s")(r) for r in runs]),
                "sampling_cpu_ms_per_s": stats([_sampling_rate(r) for r in runs]),
                "extra_rss_mib": stats(_paired(runs, base, _get("maxrss_kib", 1 / 1024))),
                "extra_wall_s": stats(_paired(runs, base, _get("workload_wall_s"))),
                "reads": stats([_get("reads_before_stop")(r) for r in runs]),
                "errors": [r["error"] for r in runs if "error" in r],
            }

    # ratios and targets
    def med(x: dict[str, Any]) -> float | None:
        value = x["median"]
        return None if value is None else float(value)

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or b <= 0 else a / b

    for mode in ("idle", "busy"):
        w = s["workloads"][mode]
        for metric in ("extra_cpu_s", "extra_rss_mib"):
            s["ratios"][f"{mode}.{metric}"] = ratio(
                med(w["carbonledger"][metric]), med(w["codecarbon"][metric])
            )
    s["ratios"]["import.tracking"] = ratio(
        med(s["import"]["tracking"]["carbonledger"]), med(s["import"]["tracking"]["codecarbon"])
    )
    s["ratios"]["start.start_s"] = ratio(
        med(s["start"]["carbonledger"]["start_s"]), med(s["start"]["codecarbon"]["start_s"])
    )

    def target(name: str, value: float | None, limit: float, unit: str) -> None:
        met = None if value is None else value <= limit
        s["targets"].append(
            {"target": name, "value": value, "limit": limit, "unit": unit, "met": met}
        )

    target(
        "import carbonledger + cl.Tracker under 30 ms",
        med(s["import"]["tracking"]["carbonledger"]),
        TARGET_IMPORT_S,
        "s",
    )
    target(
        "Tracker.start() to first sample under 50 ms",
        med(s["start"]["carbonledger"]["first_sample_s"]),
        TARGET_START_S,
        "s",
    )
    for mode in ("idle", "busy"):
        target(
            f"{mode}: extra CPU at most 1/5 of CodeCarbon's",
            s["ratios"][f"{mode}.extra_cpu_s"],
            TARGET_RATIO,
            "ratio",
        )
        target(
            f"{mode}: extra peak RSS at most 1/5 of CodeCarbon's",
            s["ratios"][f"{mode}.extra_rss_mib"],
            TARGET_RATIO,
            "ratio",
        )
    return s


# -- entry points -------------------------------------------------------------------------
def run(cfg: Config) -> dict[str, Any]:
    """Run every measurement; returns {"config", "raw", "summary", "elapsed_s"}."""
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="clbench-home-") as home:
        env = child_env(home, cfg.src)
        cfg.log("import time ...")
        raw_import = bench_import(cfg, env)
        cfg.log("start-to-first-sample ...")
        raw_start = bench_start(cfg, env)
        raw_profile = profile_start(cfg, env)
        cfg.log("idle and busy workloads ...")
        raw_workloads = bench_workloads(cfg, env)
    raw = {
        "import": raw_import,
        "start": raw_start,
        "profile": raw_profile,
        "workloads": raw_workloads,
    }
    config = {k: v for k, v in asdict(cfg).items() if k != "log"}
    return {"config": config, "raw": raw, "summary": summarise(raw), "elapsed_s": time.time() - t0}


def _fmt(x: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x * scale:.{digits}f}"


def print_summary(result: dict[str, Any], out: Any = sys.stdout) -> None:
    s = result["summary"]
    for kind, by_tool in s["import"].items():
        cl, cc = by_tool["carbonledger"]["median"], by_tool["codecarbon"]["median"]
        print(
            f"import {kind:9s} carbonledger {_fmt(cl, 1e3)} ms   codecarbon {_fmt(cc, 1e3)} ms",
            file=out,
        )
    for t in TOOLS:
        st = s["start"][t]
        start_ms = _fmt(st["start_s"]["median"], 1e3)
        first_ms = _fmt(st["first_sample_s"]["median"], 1e3)
        print(f"start {t:13s} start() {start_ms} ms, first sample {first_ms} ms", file=out)
    for mode in ("idle", "busy"):
        for t in TOOLS:
            w = s["workloads"][mode][t]
            cpu_ms = _fmt(w["extra_cpu_s"]["median"], 1e3, 0)
            rss_mib = _fmt(w["extra_rss_mib"]["median"], 1, 1)
            print(f"{mode} {t:13s} extra CPU {cpu_ms} ms, extra RSS {rss_mib} MiB", file=out)
    for name, value in s["ratios"].items():
        print(f"ratio carbonledger/codecarbon {name}: {_fmt(value, 1, 3)}", file=out)
    for tgt in s["targets"]:
        state = {True: "MET", False: "MISSED", None: "UNKNOWN"}[tgt["met"]]
        print(
            f"target {state:7s} {tgt['target']} ({_fmt(tgt['value'], 1, 4)} vs {tgt['limit']})",
            file=out,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: few repetitions, 3 s workloads"
    )
    parser.add_argument("--serial", action="store_true", help="run idle workloads one at a time")
    parser.add_argument("--json", metavar="PATH", help="write raw figures and summary as JSON")
    args = parser.parse_args(argv)
    cfg = Config.quick_config(sys.executable) if args.quick else Config(python=sys.executable)
    cfg.parallel_idle = not args.serial
    result = run(cfg)
    print_summary(result)
    if args.json:
        Path(args.json).write_text(
            json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
