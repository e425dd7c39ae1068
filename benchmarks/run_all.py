"""Run the overhead and simulation benchmarks and write their section of ``benchmarks/RESULTS.md``.

    python benchmarks/run_all.py            # full run, about 4-5 minutes on 2 cores
    python benchmarks/run_all.py --quick    # smoke run, under a minute; writes RESULTS-quick.md

The peers run in their own virtual environment, ``benchmarks/.venv-peers`` (git-ignored),
created here when missing: CodeCarbon from PyPI and this checkout (editable) in the same
environment, so both tools run under the same interpreter and nothing leaks into the
project's ``.venv``. ``bench_overhead.py`` measures; ``bench_simulate.py``, when present,
runs separately with the project's interpreter and its output is appended. Only the
``run_all`` section of RESULTS.md is rewritten; the other benchmarks' sections are kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS = HERE / ".venv-peers"
CODECARBON_REQUIREMENT = "codecarbon==3.3.2"  # pinned so that reruns compare like with like

sys.path.insert(0, str(HERE))
import bench_overhead  # noqa: E402  (a sibling script, not a package)
from results_md import write_section  # noqa: E402

# -- environment -----------------------------------------------------------------------


def peers_python() -> Path:
    return PEERS / "bin" / "python"


def _probe_peers(python: Path) -> dict[str, Any] | None:
    code = (
        "import json, importlib.metadata as md, carbonledger, codecarbon, psutil\n"
        "print(json.dumps({'carbonledger': md.version('carbonledger'),"
        " 'carbonledger_path': carbonledger.__file__,"
        " 'codecarbon': md.version('codecarbon'), 'psutil': md.version('psutil')}))\n"
    )
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None
    info: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return info


def ensure_peers(requirement: str, log: Any) -> dict[str, Any]:
    """Create ``.venv-peers`` with CodeCarbon and this checkout if it is missing or stale."""
    python = peers_python()
    if not python.exists():
        log(f"creating {PEERS.relative_to(REPO)} ...")
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    info = _probe_peers(python)
    wanted = requirement.partition("==")[2]
    here = str(REPO / "src")
    stale = (
        info is None
        or not str(info["carbonledger_path"]).startswith(here)
        or (wanted and info["codecarbon"] != wanted)
    )
    if stale:
        log(f"installing {requirement} and this checkout into {PEERS.relative_to(REPO)} ...")
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", requirement, "-e", str(REPO)],
            check=True,
        )
        info = _probe_peers(python)
        if info is None:
            raise SystemExit("run_all.py: the peers' environment cannot import both tools")
    assert info is not None
    return info


def machine_info(python: Path, versions: dict[str, Any]) -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    pyver = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    commit = _git("rev-parse", "--short", "HEAD")
    rapl = Path("/sys/class/powercap/intel-rapl").exists()
    nvidia = any(Path(p).exists() for p in ("/dev/nvidia0", "/proc/driver/nvidia"))
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "os": platform.platform(),
        "python": pyver,
        "carbonledger": versions["carbonledger"],
        "commit": commit or "unknown",
        "codecarbon": versions["codecarbon"],
        "psutil": versions["psutil"],
        "rapl": rapl,
        "nvidia": nvidia,
    }


def _git(*args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip()


def export_commit(rev: str, dest: Path) -> None:
    """Write ``src/`` of commit ``rev`` under ``dest`` (``git archive``; the work tree and
    the index are not touched)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "src"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise SystemExit(f"run_all.py: git archive {rev} failed: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)


def run_simulate(quick: bool, log: Any) -> dict[str, Any] | None:
    """Run ``bench_simulate.py`` (owned separately) with the project's interpreter."""
    script = HERE / "bench_simulate.py"
    if not script.exists():
        return None
    project_python = REPO / ".venv" / "bin" / "python"
    python = str(project_python) if project_python.exists() else sys.executable
    cmd = [python, str(script)]
    if quick:
        helptext = subprocess.run([*cmd, "--help"], capture_output=True, text=True, check=False)
        if "--quick" in helptext.stdout:
            cmd.append("--quick")
    log("bench_simulate.py ...")
    t0 = time.time()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=600, cwd=REPO, check=False
        )
    except subprocess.TimeoutExpired:
        return {"command": _display(cmd), "returncode": None, "output": "timed out after 600 s"}
    output = (proc.stdout + ("\n" + proc.stderr if proc.returncode else "")).strip()
    return {
        "command": _display(cmd),
        "returncode": proc.returncode,
        "output": "\n".join(output.splitlines()[-60:]),
        "elapsed_s": time.time() - t0,
    }


def _display(cmd: list[str]) -> str:
    out = []
    for part in cmd:
        if part.startswith(str(REPO) + os.sep):
            part = part[len(str(REPO)) + 1 :]
        out.append(shlex.quote(part))
    return " ".join(out)


# -- RESULTS.md --------------------------------------------------------------------------


def _ms(stat: dict[str, Any], digits: int = 1) -> str:
    return _range(stat, 1e3, digits)


def _range(stat: dict[str, Any], scale: float = 1.0, digits: int = 1) -> str:
    if stat["median"] is None:
        return "n/a"
    med = f"{stat['median'] * scale:.{digits}f}"
    if stat["n"] <= 1:
        return med
    return f"{med} [{stat['min'] * scale:.{digits}f}, {stat['max'] * scale:.{digits}f}]"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _met(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "unknown"}[met]


def render(result: dict[str, Any], machine: dict[str, Any], command: str, simulate: Any) -> str:
    s = result["summary"]
    raw = result["raw"]
    cfg = result["config"]
    cl, cc = "carbonledger", "codecarbon"
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines: list[str] = []
    add = lines.append
    add("# Overhead: carbonledger against CodeCarbon")
    add("")
    if cfg["quick"]:
        add("**Quick smoke run** (few repetitions, 3 s workloads): not the published figures.")
        add("")
    add(f"Measured {now}, in {result['elapsed_s']:.0f} s, with:")
    add("")
    add("```sh")
    add(command)
    add("```")
    add("")
    add("## Machine")
    add("")
    add(f"- CPU: {machine['cpu']}, {machine['cores']} cores; memory {machine['memory_gib']} GiB")
    add(f"- OS: {machine['os']}; Python {machine['python']} (both tools, one interpreter)")
    add(
        f"- carbonledger {machine['carbonledger']} ({machine['source']}), "
        f"CodeCarbon {machine['codecarbon']} (PyPI), psutil {machine['psutil']}"
    )
    rapl = "present" if machine["rapl"] else "absent"
    gpu = "present" if machine["nvidia"] else "absent"
    add(f"- RAPL {rapl}, NVIDIA GPU {gpu}: what each tool tracked here:")
    for tool in (cl, cc):
        devices = next((r.get("devices") for r in raw["start"][tool] if "devices" in r), None)
        add(f"  - {tool}: {', '.join(devices) if devices else 'n/a'}")
    load = result.get("loadavg")
    if load:
        add(
            f"- load average (1 min) before {load['before']:.2f}, after {load['after']:.2f}: the "
            "machine is shared, so CPU-time differences of a few tens of ms are noise"
        )
    add("")
    add("## Targets")
    add("")
    add("| target | carbonledger | limit | |")
    add("|---|---|---|---|")
    for t in s["targets"]:
        if t["unit"] == "s":
            value = "n/a" if t["value"] is None else f"{t['value'] * 1e3:.1f} ms"
            limit = f"{t['limit'] * 1e3:.0f} ms"
        else:
            value = f"ratio {_ratio(t['value'])}"
            limit = f"ratio {t['limit']:.2f}"
        add(f"| {t['target']} | {value} | {limit} | {_met(t['met'])} |")
    add("")
    add(
        f"Figures are medians with [min, max] over the repetitions ({cfg['reps_import']} for "
        f"import and start, {cfg['reps_workload']} for the workloads), each in a fresh process."
    )
    add("")
    add("## Import time (ms, inside the process)")
    add("")
    add("| what | carbonledger wall | CPU | CodeCarbon wall | CPU | ratio (wall) |")
    add("|---|---|---|---|---|---|")
    labels = {
        "package": ("`import carbonledger`", "`import codecarbon`"),
        "tracking": (
            "`import carbonledger as cl; cl.Tracker`",
            "`from codecarbon import OfflineEmissionsTracker`",
        ),
    }
    for kind, by_tool in s["import"].items():
        a, b = by_tool[cl], by_tool[cc]
        ca, cb = s["import_cpu"][kind][cl], s["import_cpu"][kind][cc]
        r = None if not a["median"] or not b["median"] else a["median"] / b["median"]
        add(
            f"| {labels[kind][0]} vs {labels[kind][1]} | {_ms(a)} | {_ms(ca)} | {_ms(b)} "
            f"| {_ms(cb)} | {_ratio(r)} |"
        )
    floor = s["import"]["tracking"].get("stdlib")
    if floor is not None:
        floor_cpu = s["import_cpu"]["tracking"]["stdlib"]
        add(
            f"| reference, same rounds: `{bench_overhead.STDLIB_FLOOR}` | {_ms(floor)} "
            f"| {_ms(floor_cpu)} | | | |"
        )
    add("")
    add(
        "Wall is what the issue's target is about; CPU (`time.process_time()` around the "
        "import) does not grow when other processes hold the cores, so it is the steadier "
        "figure on a shared machine."
    )
    add("")
    it = raw["import"]["importtime"]
    add(
        "`-X importtime` of what tracking needs (one run each, self times summed, "
        "interpreter start-up excluded):"
    )
    add("")
    for tool in (cl, cc):
        b = it[tool]
        packages = ", ".join(f"{p} {us / 1e3:.1f}" for p, us in b["packages"][:6])
        add(
            f"- {tool}: {b['modules']} modules, {b['total_self_us'] / 1e3:.1f} ms; "
            f"by package (ms): {packages}"
        )
    add("")
    top = it[cl]["top_level"]
    if top:
        add(
            "carbonledger's largest imports (cumulative ms, as `-X importtime` nests them): "
            + ", ".join(f"`{m}` {us / 1e3:.1f}" for m, us in top[:8])
        )
        add("")
    add("## Start to first sample (ms)")
    add("")
    add("| | constructor | `start()` | `start()` CPU | start() call to first sample | `stop()` |")
    add("|---|---|---|---|---|---|")
    for tool in (cl, cc):
        st = s["start"][tool]
        add(
            f"| {tool} | {_ms(st['init_s'])} | {_ms(st['start_s'])} | "
            f"{_ms(st['start_cpu_s'])} | {_ms(st['first_sample_s'])} | {_ms(st['stop_s'])} |"
        )
    add("")
    add(
        "Both tools take their first reading inside `start()`: carbonledger's sampler reads every "
        "sensor before starting its thread (`Sampler.reads >= 1` when `start()` returns), and "
        "CodeCarbon 3.x calls `_measure_power_and_energy()` at the end of `start()` "
        "(`_power_measurement_count >= 1`). The harness checks this after `start()` returns and "
        "would poll otherwise. carbonledger's `stop()` includes pricing the footprint from the "
        "ledger; CodeCarbon's includes computing its emissions."
    )
    add("")
    prof = raw.get("profile", {})
    if any("profile_top" in prof.get(t, {}) for t in (cl, cc)):
        add(
            "Where `start()` goes (one `cProfile` run of the main thread, cumulative ms; the "
            "profiler inflates the times, the shares are what matter; CodeCarbon's hardware "
            "detection runs in a thread pool, so its main thread only waits for it):"
        )
        add("")
        for tool, n in ((cl, 16), (cc, 6)):
            p = prof.get(tool, {})
            if "profile_top" not in p:
                add(f"- {tool}: {p.get('error', 'n/a')}")
                continue
            add(f"- {tool}:")
            for ct, label in p["profile_top"][:n]:
                add(f"  - {ct * 1e3:.1f} `{label}`")
        add("")
    add(
        f"## Extra CPU and memory, 1 s interval (idle {cfg['idle_s']:.0f} s, busy "
        f"{cfg['busy_s']:.0f} s of CPU)"
    )
    add("")
    add(
        "| workload | tool | extra CPU (ms) | of which other threads (ms) | of which "
        "subprocesses (ms) | sampling, steady (CPU ms/s) | extra peak RSS (MiB) "
        "| difference of process totals (ms) | extra wall (ms) | readings |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|")
    for mode in ("idle", "busy"):
        w = s["workloads"][mode]
        base = w["baseline"]
        add(
            f"| {mode} | baseline (no tracker) | | | | | RSS {_range(base['maxrss_mib'])} "
            f"| CPU {_range(base['cpu_s'], 1e3, 0)} (the work: "
            f"{_range(base['work_cpu_s'], 1e3, 0)}) | wall {_range(base['wall_s'], 1e3, 0)} | |"
        )
        for tool in (cl, cc):
            x = w[tool]
            add(
                f"| {mode} | {tool} | {_range(x['extra_cpu_s'], 1e3, 0)} | "
                f"{_range(x['tracker_threads_cpu_s'], 1e3, 0)} | "
                f"{_range(x['children_cpu_s'], 1e3, 0)} | "
                f"{_range(x['sampling_cpu_ms_per_s'], 1, 2)} | "
                f"{_range(x['extra_rss_mib'])} | {_range(x['extra_cpu_raw_s'], 1e3, 0)} | "
                f"{_range(x['extra_wall_s'], 1e3, 0)} | {_range(x['reads'], 1, 0)} |"
            )
    add("")
    add("| ratio carbonledger / CodeCarbon | idle | busy |")
    add("|---|---|---|")
    for metric, label in (("extra_cpu_s", "extra CPU"), ("extra_rss_mib", "extra peak RSS")):
        add(
            f"| {label} | {_ratio(s['ratios'][f'idle.{metric}'])} "
            f"| {_ratio(s['ratios'][f'busy.{metric}'])} |"
        )
    add("")
    wl = raw["workloads"]
    add(
        "Extra CPU = user+sys CPU of the whole process (all threads, finished ones included) "
        "plus that of the subprocesses it waited for, less the main thread's CPU while it ran "
        "the workload, minus the same for the baseline run of the same round. So it holds "
        "everything the tool added: importing it, the constructor, `start()`, the sampling "
        "threads, `stop()` and its subprocesses. The main thread's own CPU for the workload is "
        "left out because it is noise here: the same fixed work took "
        f"{_range(s['workloads']['busy']['baseline']['work_cpu_s'], 1e3, 0)} ms of CPU in the "
        "baseline runs: on this shared virtual machine the CPU time of a fixed job varies that "
        "much from run to run. *Difference of process totals* is the plain difference without "
        "that correction; for the busy workload it carries that noise. What the correction "
        "leaves out, a tracker slowing the main thread itself (GIL hand-offs, caches), would "
        "show as *extra wall* (compare it with the spread of the baseline's wall time). *Other "
        "threads* is the CPU outside the main thread over the whole process (including threads "
        "that have exited, such as CodeCarbon's hardware-detection pool). *Sampling, steady* "
        "is the CPU outside the main thread between the return of `start()` and the end of "
        "the workload, per second: the cost of sampling itself. Extra peak RSS = `ru_maxrss` "
        "minus the "
        f"baseline's. The busy workload is a fixed amount of work ({wl['busy_units']} units of "
        "pure-Python integer arithmetic, calibrated at the start of the run to take the nominal "
        "CPU time without a tracker). The idle runs of one round (baseline and both tools) "
        "run at the same time, staggered by 0.3 s; busy runs one at a time."
    )
    add("")
    add("## What each tool did")
    add("")
    for tool in (cl, cc):
        runs = [r for mode in ("idle", "busy") for r in wl[mode][tool]] + raw["start"][tool]
        ok = [r for r in runs if "error" not in r]
        subprocs = sorted(
            {
                Path(p.split("(", 1)[1].split(",", 1)[0].strip("'\" ")).name
                for r in ok
                for p in r.get("subprocesses", [])
            }
        )
        network = sorted({n for r in ok for n in r.get("network", [])})
        heavy = sorted({m for r in ok for m in r.get("heavy_modules", [])})
        modules = max((r.get("modules", 0) for r in ok), default=0)
        threads = max((r.get("threads_during") or 0 for r in ok), default=0)
        warnings = sorted({w for r in ok for w in r.get("warnings", [])})
        errors = sorted({r["error"] for r in runs if "error" in r})
        add(
            f"- **{tool}**: {modules} modules loaded, up to {threads} threads; "
            f"heavy modules: {', '.join(heavy) or 'none'}; "
            f"subprocesses: {', '.join(subprocs) or 'none'}; "
            f"network attempts: {len(network) or 'none'}"
        )
        for w in warnings:
            add(f"  - warning: {w}")
        for e in errors:
            add(f"  - error: {e}")
    add("")
    add(
        "CodeCarbon runs as `OfflineEmissionsTracker(country_iso_code='FRA', measure_power_secs=1, "
        "tracking_mode='machine', output_methods=[], log_level='error')`: no file, API or "
        "Prometheus output, no geolocation request. carbonledger runs as "
        "`cl.Tracker('bench', zone='FR', interval=1.0, ledger=<temporary file>)`: it writes its "
        "SQLite ledger, as it always does. The harness blocks any socket connection through an "
        "audit hook and counts the attempts."
    )
    if simulate is not None:
        add("")
        add("## Simulation benchmark (`bench_simulate.py`)")
        add("")
        add("```sh")
        add(simulate["command"])
        add("```")
        add("")
        add(f"Exit code {simulate['returncode']}. Output (last lines):")
        add("")
        add("```")
        add(simulate["output"])
        add("```")
    add("")
    add("Method and caveats: `benchmarks/README.md`.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks and write RESULTS.md.")
    parser.add_argument("--quick", action="store_true", help="smoke run (writes RESULTS-quick.md)")
    parser.add_argument("--serial", action="store_true", help="run idle workloads one at a time")
    parser.add_argument("--no-simulate", action="store_true", help="skip bench_simulate.py")
    parser.add_argument(
        "--commit",
        metavar="REV",
        help="measure a snapshot of this commit (git archive) instead of the working tree, "
        "so that edits made during the run do not mix in",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="first wait up to S seconds for the 1-min load average to fall below 1",
    )
    parser.add_argument(
        "--codecarbon",
        default=CODECARBON_REQUIREMENT,
        help=f"pip requirement (default {CODECARBON_REQUIREMENT})",
    )
    parser.add_argument(
        "-o", "--output", help="where to write the Markdown (default benchmarks/RESULTS.md)"
    )
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    versions = ensure_peers(args.codecarbon, log)
    python = peers_python()
    machine = machine_info(python, versions)
    cfg = (
        bench_overhead.Config.quick_config(str(python))
        if args.quick
        else bench_overhead.Config(python=str(python))
    )
    cfg.parallel_idle = not args.serial
    cfg.log = log
    snapshot = None
    if args.commit:
        snapshot = tempfile.TemporaryDirectory(prefix="clbench-src-")
        export_commit(args.commit, Path(snapshot.name))
        cfg.src = str(Path(snapshot.name) / "src")
        machine["commit"] = _git("rev-parse", "--short", args.commit)
        machine["source"] = f"snapshot of commit {machine['commit']}"
    else:
        dirty = _git("status", "--porcelain", "--", "src")
        state = "with uncommitted changes in src/" if dirty else "no uncommitted changes in src/"
        machine["source"] = f"working tree at commit {machine['commit']} ({state})"
    deadline = time.time() + args.wait_quiet
    while os.getloadavg()[0] >= 1.0 and time.time() < deadline:
        log(f"waiting for a quieter machine (load {os.getloadavg()[0]:.2f}) ...")
        time.sleep(min(30.0, max(1.0, deadline - time.time())))
    before = os.getloadavg()[0]
    result = bench_overhead.run(cfg)
    result["loadavg"] = {"before": before, "after": os.getloadavg()[0]}
    if snapshot is not None:
        used = {
            r.get("tool_file", "")
            for r in result["raw"]["start"]["carbonledger"]
            if "error" not in r
        }
        if not all(f.startswith(str(cfg.src)) for f in used):
            raise SystemExit(f"run_all.py: carbonledger was not imported from the snapshot: {used}")
        snapshot.cleanup()
    simulate = None if args.no_simulate else run_simulate(args.quick, log)
    interpreter = (
        sys.executable if sys.executable.startswith(str(REPO)) else Path(sys.executable).name
    )
    script = str(Path(__file__).resolve())
    command = _display([interpreter, script, *(argv if argv is not None else sys.argv[1:])])
    output = (
        Path(args.output)
        if args.output
        else HERE / ("RESULTS-quick.md" if args.quick else "RESULTS.md")
    )
    write_section(output, "run_all", render(result, machine, command, simulate))
    output.with_suffix(".json").write_text(
        json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8"
    )
    bench_overhead.print_summary(result)
    log(f"wrote {output.relative_to(REPO) if output.is_relative_to(REPO) else output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
