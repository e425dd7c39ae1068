"""The HTML report at scale: ``report --format html`` against ``report --format json`` of
the same runs, in one run, on ledgers of 200 and 2,000 runs.

    .venv/bin/python benchmarks/html_scale.py            # 200 and 2,000 runs, ~a minute
    .venv/bin/python benchmarks/html_scale.py --write    # also RESULTS.md's section

Each command runs in a fresh child process (``ledger_scale.command``: the child times
``main()`` itself, interpreter start excluded), ``--repeat`` times, and the median is
kept; JSON and HTML alternate so that load on a shared machine falls on both. The target
(issue 12): the HTML report of 2,000 runs takes at most 10x the JSON report's time. Beside
it, the charts' own cost is measured in this process: the four charts of one ledger-sized
run, and of a run at the chart bound (2,000 points per device, 8 devices).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ledger_scale import GPUS8, ROOT, command, make_ledger  # noqa: E402

from carbonledger.store import open_ledger  # noqa: E402

HEADING = "## HTML report at scale (`html_scale.py`)"
BEFORE = "## Framework callbacks"
LIMIT = 10.0


def measure(path: Path, ids: list[str], workdir: Path, repeat: int) -> dict[str, float]:
    """Median seconds of the JSON and the HTML report of ``ids`` (alternating runs)."""
    js: list[float] = []
    page: list[float] = []
    for _ in range(repeat):
        out = workdir / "r.json"
        js.append(
            command(["report", *ids, "--format", "json", "-o", str(out), "--ledger", str(path)])[
                "s"
            ]
        )
        out = workdir / "r.html"
        page.append(
            command(["report", *ids, "--format", "html", "-o", str(out), "--ledger", str(path)])[
                "s"
            ]
        )
    size = (workdir / "r.html").stat().st_size
    return {
        "json_s": statistics.median(js),
        "html_s": statistics.median(page),
        "html_mib": size / 2**20,
    }


def chart_costs(repeat: int = 20) -> dict[str, float]:
    """Milliseconds for one run's four charts: a short run, and one at the chart bound."""
    from carbonledger.intensity.series import IntensitySeries
    from carbonledger.records import Sample
    from carbonledger.report import charts

    sys.path.insert(0, str(ROOT / "tests" / "report"))
    from factories import footprint  # the report tests' realistic footprint

    fp = footprint(gpus=8)
    t0 = 1_709_280_000.0
    series = IntensitySeries(
        times=tuple(t0 - 6 * 3600 + 3600 * h for h in range(40)),
        values_g_per_kwh=tuple(40.0 + 10 * (h % 7) for h in range(40)),
        zone="FR",
        source="benchmark",
        last_step_s=3600.0,
    )

    def run(samples: list[Sample]) -> float:
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            charts.power_chart(fp, samples, GPUS8, ())
            charts.energy_by_component_chart(fp)
            charts.intensity_chart(series, fp, samples)
            charts.carbon_split_chart(fp)
            best = min(best, time.perf_counter() - t)
        return best * 1e3

    short = [
        Sample(d.device_id, t0 + 10 * i, t0 + 10 * (i + 1), 3000.0, 3000.0)
        for d in GPUS8[:2]
        for i in range(6)
    ]
    step = 86400.0 / 2000
    bound = [
        Sample(d.device_id, t0 + step * i, t0 + step * (i + 1), 400 * step, 400 * step)
        for d in GPUS8
        for i in range(2000)
    ]
    return {"short_ms": run(short), "bound_ms": run(bound)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,2000", help="runs per ledger (comma-separated)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per command (median)")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md's section")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="carbonledger-html-") as tmp:
        workdir = Path(tmp)
        for n in sizes:
            path = workdir / f"runs-{n}.sqlite"
            make_ledger(path, n)
            with open_ledger(path) as ledger:
                ids = [r.run_id for r in ledger.list_runs()]
            got = measure(path, ids, workdir, args.repeat)
            got["runs"] = n
            got["ratio"] = got["html_s"] / got["json_s"]
            rows.append(got)
            print(
                f"{n:>6,} runs: json {got['json_s']:.3f} s, html {got['html_s']:.3f} s "
                f"({got['ratio']:.1f}x; page {got['html_mib']:.1f} MiB)",
                flush=True,
            )
    costs = chart_costs()
    print(
        f"charts of one run: {costs['short_ms']:.2f} ms (6 samples x 2 devices), "
        f"{costs['bound_ms']:.1f} ms (2,000 points x 8 devices)",
        flush=True,
    )
    text = markdown(rows, costs, time.perf_counter() - started, args.repeat)
    print("\n" + text)
    if args.write:
        write_section(ROOT / "benchmarks" / "RESULTS.md", text)
    return 0


def markdown(
    rows: list[dict[str, Any]], costs: dict[str, float], elapsed_s: float, repeat: int
) -> str:
    load = os.getloadavg()[0]
    lines = [
        HEADING,
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in {elapsed_s:.0f} s "
        f"with `.venv/bin/python benchmarks/html_scale.py` (Python {sys.version.split()[0]}, "
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} cores shared with other work: "
        f"load average {load:.1f} at the end). Ledgers from `ledger_scale.make_ledger` (two "
        "devices, six 10 s samples each per run); every run of the ledger in one report. "
        f"Each figure is the median of {repeat} fresh processes, JSON and HTML alternating; "
        "the time is `main()`'s own.",
        "",
        "| runs | report --format json | report --format html | ratio | limit | page | |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = "met" if r["ratio"] <= LIMIT else "**missed**"
        if r["runs"] < 2000:
            verdict = ""
        lines.append(
            f"| {r['runs']:,} | {r['json_s']:.3f} s | {r['html_s']:.3f} s | {r['ratio']:.1f}x "
            f"| {LIMIT:.0f}x | {r['html_mib']:.1f} MiB | {verdict} |"
        )
    lines += [
        "",
        f"The four charts of one run cost {costs['short_ms']:.2f} ms for a ledger run above "
        f"and {costs['bound_ms']:.1f} ms at the chart bound (2,000 points per device, 8 "
        "devices: what a run of any length is downsampled to), best of 20 in one process. "
        "They are inline SVG written directly (`report/svg.py`); before, matplotlib drew "
        "them (about 0.4 s a run), and the HTML report of 200 runs took 128x the JSON one "
        "(section *The ledger at scale* above). What is left of the ratio is the HTML "
        "page's own sections and what only HTML reads: each run's downsampled samples and "
        "spans.",
    ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's section of RESULTS.md, or add it before ``BEFORE``."""
    text = path.read_text(encoding="utf-8")
    start = text.find(HEADING)
    if start >= 0:
        nxt = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + ("\n" + text[nxt + 1 :] if nxt >= 0 else "")
    else:
        at = text.find(BEFORE)
        if at < 0:
            text = text.rstrip() + "\n\n" + section
        else:
            text = text[:at] + section + "\n" + text[at:]
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
