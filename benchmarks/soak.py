"""Soak test: a long tracked run on a simulated powercap tree, with faults injected on a schedule.

Not part of the unit suite. The parent process simulates a RAPL tree (package 40 W, DRAM
6 W, counters wrapping every 1000 J, so the package wraps every 25 s) and injects faults;
the child is ``carbonledger run --interval 0.05 -- sleep DURATION`` reading that tree.
Every ``--report-every`` seconds it prints a row: the child's RSS, its CPU use over the
period (per cent of one core), and the ledger's size (database plus WAL) and growth rate.

Faults, repeated every ``--cycle`` seconds (default 120 s), at these offsets:

*  10 s  garbage in the package counter for 1 s (``not-a-number``);
*  30 s  the DRAM zone vanishes for 15 s (longer than the sampler's 10 s gap threshold);
*  60 s  the package's ``energy_uj`` is replaced by a FIFO for 5 s (a read that would block);
*  80 s  the package counter jumps by an impossible amount once (a reset or misread);
* always the counters wrap (100 J range), so every interval crosses wraps correctly.

Usage::

    python benchmarks/soak.py --minutes 35 --report-every 300 [--json PATH]

At the end it checks that the run finished, prints the footprint's energy against the
simulated energy (gaps make it a stated lower bound) and its warnings.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

WRAP_UJ = (
    1_000_000_000  # 1000 J: wraps every 25 s at 40 W; 0.5 s is the shortest wrap period at 2 kW
)
POWERS_W = {"intel-rapl:0": 40.0, "intel-rapl:0:0": 6.0}
NAMES = {"intel-rapl:0": "package-0", "intel-rapl:0:0": "dram"}
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = resource.getpagesize()


def make_tree(root: Path) -> Path:
    powercap = root / "class" / "powercap"
    (powercap / "intel-rapl").mkdir(parents=True)
    (powercap / "intel-rapl" / "enabled").write_text("1\n")
    for zone, name in NAMES.items():
        d = powercap / zone
        d.mkdir()
        (d / "name").write_text(f"{name}\n")
        (d / "max_energy_range_uj").write_text(f"{WRAP_UJ}\n")
        (d / "energy_uj").write_text("0\n")
    return powercap


class Simulator(threading.Thread):
    """Writes each zone's counter every 5 ms; faults switch a zone's behaviour for a while."""

    def __init__(self, powercap: Path, cycle_s: float) -> None:
        super().__init__(daemon=True)
        self.powercap = powercap
        self.cycle_s = cycle_s
        self.t0 = time.monotonic()
        self.halt = threading.Event()
        self.jump_uj = 0
        self.jumped_cycle = -1
        self.events: list[str] = []

    def write(self, zone: str, text: str) -> None:
        path = self.powercap / zone / "energy_uj"
        tmp = path.with_name("energy_uj.tmp")
        try:
            tmp.write_text(text)
            os.replace(tmp, path)
        except FileNotFoundError:
            pass  # zone vanished

    def fault_state(self, elapsed: float) -> str:
        offset = elapsed % self.cycle_s
        if 10 <= offset < 11:
            return "garbage"
        if 30 <= offset < 45:
            return "vanished"
        if 60 <= offset < 65:
            return "fifo"
        if 80 <= offset < 81:
            return "jump"
        return "ok"

    def run(self) -> None:
        state = "ok"
        hidden = self.powercap / "hidden-dram"
        pkg = self.powercap / "intel-rapl:0" / "energy_uj"
        while not self.halt.wait(0.005):
            elapsed = time.monotonic() - self.t0
            new = self.fault_state(elapsed)
            if new != state:
                self.events.append(f"{elapsed:8.1f} s {state} -> {new}")
                if new == "vanished":
                    os.rename(self.powercap / "intel-rapl:0:0", hidden)
                if state == "vanished":
                    os.rename(hidden, self.powercap / "intel-rapl:0:0")
                if new == "fifo":
                    pkg.unlink(missing_ok=True)
                    os.mkfifo(pkg)
                if state == "fifo":
                    pkg.unlink(missing_ok=True)
                if new == "jump":
                    cycle = int(elapsed // self.cycle_s)
                    if cycle != self.jumped_cycle:
                        self.jumped_cycle = cycle
                        self.jump_uj += WRAP_UJ // 2  # 500 J in a few ms: impossible
                state = new
            for zone, power in POWERS_W.items():
                if zone == "intel-rapl:0" and state in ("garbage", "fifo"):
                    if state == "garbage":
                        self.write(zone, "not-a-number\n")
                    continue
                value = (
                    int(power * elapsed * 1e6) + (self.jump_uj if zone == "intel-rapl:0" else 0)
                ) % WRAP_UJ
                self.write(zone, f"{value}\n")


@dataclass
class Row:
    elapsed_min: float
    rss_mb: float
    cpu_pct_period: float
    cpu_pct_total: float
    ledger_mb: float  # database + WAL
    wal_mb: float
    ledger_mb_per_h: float


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 1e6


def ledger_mb(path: Path, suffixes: tuple[str, ...] = ("", "-wal")) -> float:
    total = 0
    for suffix in suffixes:
        p = Path(str(path) + suffix)
        if p.exists():
            total += p.stat().st_size
    return total / 1e6


def sample_count(path: Path) -> int | None:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT count(*) FROM samples").fetchone()[0])
    except sqlite3.Error:
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--report-every", type=float, default=300.0, help="seconds between rows")
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--cycle", type=float, default=120.0, help="seconds between fault rounds")
    ap.add_argument("--json", type=Path, help="write the rows and summary here")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="carbonledger-soak-"))
    powercap = make_tree(work / "sys")
    ledger = work / "ledger.sqlite"
    fp_path = work / "footprint.json"
    duration_s = args.minutes * 60
    sim = Simulator(powercap, args.cycle)
    sim.start()
    env = dict(os.environ, CARBONLEDGER_SYSFS_ROOT=str(work / "sys"))
    cmd = [
        sys.executable, "-m", "carbonledger.cli.main", "run", "--name", "soak",
        "--scope", "machine", "--zone", "FR", "--interval", str(args.interval),
        "--ledger", str(ledger), "--json-out", str(fp_path), "--", "sleep", str(duration_s),
    ]  # fmt: skip
    t_start = time.monotonic()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rows: list[Row] = []
    print(f"soak: {args.minutes:g} min at {args.interval} s, faults every {args.cycle:g} s; {work}")
    print(f"{'min':>6} {'RSS MB':>8} {'CPU % (period)':>15} {'CPU % (all)':>12} "
          f"{'ledger MB':>10} {'of it WAL':>10} {'MB/h':>7}")  # fmt: skip
    last_t, last_cpu = t_start, 0.0
    next_row = t_start + args.report_every
    try:
        while child.poll() is None:
            time.sleep(0.5)
            now = time.monotonic()
            if now < next_row:
                continue
            next_row += args.report_every
            try:
                cpu, rss = proc_cpu_s(child.pid), proc_rss_mb(child.pid)
            except (OSError, IndexError):
                break
            size = ledger_mb(ledger)
            elapsed = now - t_start
            row = Row(
                elapsed_min=elapsed / 60,
                rss_mb=rss,
                cpu_pct_period=100 * (cpu - last_cpu) / (now - last_t),
                cpu_pct_total=100 * cpu / elapsed,
                ledger_mb=size,
                wal_mb=ledger_mb(ledger, ("-wal",)),
                ledger_mb_per_h=size / (elapsed / 3600),
            )
            rows.append(row)
            last_t, last_cpu = now, cpu
            print(f"{row.elapsed_min:6.1f} {row.rss_mb:8.1f} {row.cpu_pct_period:15.2f} "
                  f"{row.cpu_pct_total:12.2f} {row.ledger_mb:10.2f} {row.wal_mb:10.2f} "
                  f"{row.ledger_mb_per_h:7.2f}",
                  flush=True)  # fmt: skip
        out, err = child.communicate(timeout=60)
    finally:
        sim.halt.set()
        if child.poll() is None:
            child.kill()
    wall_s = time.monotonic() - t_start
    summary: dict[str, object] = {
        "exit_code": child.returncode,
        "wall_s": wall_s,
        "exit_lag_s": wall_s - duration_s,
        "ledger_mb": ledger_mb(ledger),  # closed: the WAL is checkpointed into the database
        "ledger_mb_per_h": ledger_mb(ledger) / (wall_s / 3600),
        "samples": sample_count(ledger),
        "fault_events": len(sim.events),
    }
    if fp_path.exists():
        fp = json.loads(fp_path.read_text())
        simulated_j = sum(POWERS_W.values()) * (fp["duration_s"] or 0)
        measured_j = (fp["energy_kwh"] or 0) * 3.6e6
        summary.update(
            energy_j=measured_j,
            simulated_j=simulated_j,
            energy_fraction=measured_j / simulated_j if simulated_j else None,
            warnings=fp["warnings"],
        )
    else:
        summary["stderr_tail"] = err.decode(errors="replace")[-2000:]
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(
            json.dumps({"rows": [asdict(r) for r in rows], "summary": summary}, indent=2)
        )
    shutil.rmtree(work, ignore_errors=True)
    del out
    return 0 if child.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
