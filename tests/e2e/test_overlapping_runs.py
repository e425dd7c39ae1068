"""The issue's acceptance check for shared hosts: two and three overlapping
``carbonledger run -- sleep N`` on a simulated 100 W powercap tree (package 90 W + DRAM
10 W), started and stopped at different times and sharing one ledger, together account
for the tree's energy over their union within 5 %, each naming the others; ``summary``
agrees. A run killed with SIGKILL keeps its recorded part and no more."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.sensors.powercap_tree import make_powercap_tree

from carbonledger.lifecycle.footprint import Footprint
from carbonledger.lifecycle.pricing import footprint_for_run
from carbonledger.lifecycle.sharing import share_for_run
from carbonledger.records import RunRecord, RunStatus
from carbonledger.store import open_ledger

WRAP_UJ = 100_000_000  # 100 J
POWERS_W = {"intel-rapl:0": 90.0, "intel-rapl:0:0": 60.0, "intel-rapl:0:1": 10.0}
TREE_W = 100.0  # package + DRAM (the core domain is inside the package)


class PowercapSimulator(threading.Thread):
    """Rewrites each zone's energy_uj every few ms as power × elapsed time, wrapped."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.t0 = time.monotonic()
        self.halt = threading.Event()

    def write_all(self) -> None:
        elapsed = time.monotonic() - self.t0
        for zone, power in POWERS_W.items():
            value = int(power * elapsed * 1e6) % WRAP_UJ
            path = self.root / "class" / "powercap" / zone / "energy_uj"
            tmp = path.with_suffix(".tmp")
            tmp.write_text(f"{value}\n")
            os.replace(tmp, path)

    def run(self) -> None:
        while not self.halt.wait(0.002):
            self.write_all()


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A running simulated tree; yields the environment that points carbonledger at it."""
    root = make_powercap_tree(
        tmp_path / "sys",
        {
            "intel-rapl:0": {"name": "package-0", "max_energy_range_uj": WRAP_UJ},
            "intel-rapl:0:0": {"name": "core", "max_energy_range_uj": WRAP_UJ},
            "intel-rapl:0:1": {"name": "dram", "max_energy_range_uj": WRAP_UJ},
        },
    )
    sim = PowercapSimulator(root)
    sim.write_all()
    sim.start()
    env = dict(
        os.environ,
        CARBONLEDGER_SYSFS_ROOT=str(root),
        CARBONLEDGER_LEDGER=str(tmp_path / "shared.sqlite"),
        CARBONLEDGER_FLUSH_INTERVAL="0.5",
        CARBONLEDGER_ZONE="FR",
    )
    yield env
    sim.halt.set()
    sim.join()


def start_run(env: dict[str, str], name: str, sleep_s: float, out: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "carbonledger.cli.main", "run", "--name", name]
    cmd += ["--interval", "0.25", "--quiet", "--json-out", str(out), "--", "sleep", str(sleep_s)]
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so a test can kill it with its child
    )


def run_schedule(
    env: dict[str, str], tmp_path: Path, schedule: list[tuple[str, float, float]]
) -> dict[str, Path]:
    """Start each (name, start offset s, sleep s) on time; wait for all; their JSON paths."""
    procs: dict[str, subprocess.Popen[str]] = {}
    outs: dict[str, Path] = {}
    t0 = time.monotonic()
    try:
        for name, offset, sleep_s in schedule:
            time.sleep(max(0.0, t0 + offset - time.monotonic()))
            outs[name] = tmp_path / f"{name}.json"
            procs[name] = start_run(env, name, sleep_s, outs[name])
        for name, p in procs.items():
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, f"{name}: {err}"
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    return outs


def union_s(runs: list[RunRecord]) -> float:
    total, end = 0.0, float("-inf")
    for r in sorted(runs, key=lambda r: r.started_at):
        assert r.ended_at is not None
        if r.ended_at > end:
            total += r.ended_at - max(r.started_at, end)
            end = r.ended_at
    return total


def priced(env: dict[str, str]) -> tuple[list[RunRecord], dict[str, Footprint]]:
    with open_ledger(Path(env["CARBONLEDGER_LEDGER"])) as ledger:
        runs = ledger.list_runs()
        return runs, {r.name: footprint_for_run(ledger, r.run_id) for r in runs}


def summary_energy_j(env: dict[str, str]) -> float:
    p = subprocess.run(
        [sys.executable, "-m", "carbonledger.cli.main", "summary", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    total: float = json.loads(p.stdout)["total"]["energy_kwh"] * 3.6e6
    return total


def check_shared(env: dict[str, str], names: list[str]) -> dict[str, Footprint]:
    runs, fps = priced(env)
    assert sorted(fps) == sorted(names)
    ids = {r.name: r.run_id for r in runs}
    host_j = TREE_W * union_s(runs)
    parts_j = sum(fp.energy_j or 0.0 for fp in fps.values())
    assert parts_j == pytest.approx(host_j, rel=0.05)
    assert summary_energy_j(env) == pytest.approx(host_j, rel=0.05)
    alone_j = sum(TREE_W * (r.duration_s or 0.0) for r in runs)
    assert alone_j > 1.2 * host_j  # without sharing this would have double counted
    for name, fp in fps.items():
        d = fp.to_dict()
        assert sorted(d["shared_with"]) == sorted(ids[n] for n in names if n != name)
        assert d["attribution"]["method"] == "even"
        assert any("shared this host" in w for w in d["warnings"])
        by = {c["component"]: c for c in d["components"]}
        assert by["cpu"]["method"] == "measured"
        # the device as the sensor saw it is kept beside the run's part
        assert by["cpu"]["host_energy_kwh"] > by["cpu"]["energy_kwh"]
    return fps


@pytest.mark.slow
def test_two_overlapping_runs_share_the_tree(tree: dict[str, str], tmp_path: Path) -> None:
    outs = run_schedule(tree, tmp_path, [("first", 0.0, 5.0), ("second", 2.5, 5.0)])
    check_shared(tree, ["first", "second"])
    # the run that ended last priced itself after the other had finished: it names it
    last = json.loads(outs["second"].read_text())
    assert len(last["shared_with"]) == 1


@pytest.mark.slow
def test_three_overlapping_runs_share_the_tree(tree: dict[str, str], tmp_path: Path) -> None:
    schedule = [("a", 0.0, 6.0), ("b", 1.5, 4.0), ("c", 3.0, 5.0)]
    run_schedule(tree, tmp_path, schedule)
    check_shared(tree, ["a", "b", "c"])


@pytest.mark.slow
def test_a_killed_run_keeps_its_recorded_part(tree: dict[str, str], tmp_path: Path) -> None:
    survivor = start_run(tree, "survivor", 7.0, tmp_path / "survivor.json")
    time.sleep(1.0)
    victim = start_run(tree, "victim", 30.0, tmp_path / "victim.json")
    try:
        time.sleep(3.5)
        os.killpg(victim.pid, signal.SIGKILL)  # the tracker and its sleep, mid-run
        victim.wait(timeout=30)
        _, err = survivor.communicate(timeout=120)
        assert survivor.returncode == 0, err
    finally:
        for p in (survivor, victim):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    runs, fps = priced(tree)
    by_name = {r.name: r for r in runs}
    assert by_name["victim"].status is RunStatus.INTERRUPTED
    assert fps["victim"].shared_with == (by_name["survivor"].run_id,)
    assert fps["survivor"].shared_with == (by_name["victim"].run_id,)
    assert (fps["victim"].energy_j or 0.0) > 0  # its recorded part still counts
    host_j = TREE_W * union_s(runs)
    parts_j = (fps["victim"].energy_j or 0.0) + (fps["survivor"].energy_j or 0.0)
    assert parts_j == pytest.approx(host_j, rel=0.05)
    assert summary_energy_j(tree) == pytest.approx(host_j, rel=0.05)
    # after the victim's last sample, the survivor is charged the whole tree again
    with open_ledger(Path(tree["CARBONLEDGER_LEDGER"])) as ledger:
        last_t = max(s.t_end for s in ledger.samples(by_name["victim"].run_id))
        own = ledger.samples(by_name["survivor"].run_id)
        sharing = share_for_run(ledger, by_name["survivor"], own)
    after = [(s0, s1) for s0, s1 in zip(own, sharing.samples, strict=True) if s0.t_start >= last_t]
    assert after and all(s1.energy_j == s0.energy_j for s0, s1 in after)
