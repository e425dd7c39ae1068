"""The tracker never blocks its host, and lost data is flagged (issue 9 defect 1, issue 16
point 6): a FIFO or a read that never returns in place of ``energy_uj``, and a RAPL zone
that vanishes mid-run, on simulated powercap trees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.sensors.powercap_tree import make_powercap_tree

import carbonledger as cl
from carbonledger.sensors import _sysfs

# The bound: `carbonledger run` returns within 10 s of its command's end.
BOUND_S = 10.0
WRAP_UJ = 262_143_328_850


def tree(tmp_path: Path) -> Path:
    return make_powercap_tree(
        tmp_path / "sys",
        {
            "intel-rapl:0": {"name": "package-0", "max_energy_range_uj": WRAP_UJ},
            "intel-rapl:0:0": {"name": "dram", "max_energy_range_uj": WRAP_UJ},
        },
    )


def zone_file(root: Path, zone: str) -> Path:
    return root / "class" / "powercap" / zone / "energy_uj"


def wait_for_run_start(tmp_path: Path) -> None:
    """Until the run's ledger exists (the sensors are open), then a few samples more."""
    ledger = tmp_path / "ledger.sqlite"  # CARBONLEDGER_LEDGER, set by tests/conftest.py
    deadline = time.monotonic() + 60
    while not ledger.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)


def run_cli(
    root: Path, tmp_path: Path, *cmd: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(os.environ, CARBONLEDGER_SYSFS_ROOT=str(root))
    argv = [sys.executable, "-m", "carbonledger.cli.main", "run", "--interval", "0.05"]
    argv += ["--json-out", str(tmp_path / "fp.json"), "--", *cmd]
    t0 = time.monotonic()
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    return p, time.monotonic() - t0


def test_fifo_energy_file_at_start_does_not_hang_run(tmp_path: Path) -> None:
    root = tree(tmp_path)
    fifo = zone_file(root, "intel-rapl:0")
    fifo.unlink()
    os.mkfifo(fifo)
    p, took = run_cli(root, tmp_path, "true")
    assert p.returncode == 0, p.stderr
    assert took < BOUND_S, took
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_fifo_replacing_energy_file_mid_run_does_not_hang_run(tmp_path: Path) -> None:
    root = tree(tmp_path)
    target = zone_file(root, "intel-rapl:0")

    def swap() -> None:
        wait_for_run_start(tmp_path)
        target.unlink()
        os.mkfifo(target)

    t = threading.Thread(target=swap, daemon=True)
    t.start()
    p, took = run_cli(root, tmp_path, "sleep", "3")
    t.join()
    assert p.returncode == 0, p.stderr
    assert took - 3 < BOUND_S, took
    fp = json.loads((tmp_path / "fp.json").read_text())
    assert any("lower bound" in w for w in fp["warnings"]), fp["warnings"]


@pytest.fixture
def never_returning_reads() -> Iterator[threading.Event]:
    """Reads of energy_uj block until the test ends (a stuck driver, a hung file system)."""
    release = threading.Event()

    def reader(path: Path) -> str:
        if path.name == "energy_uj" and stuck.is_set():
            release.wait()
        return _sysfs.raw_read(path)

    stuck = threading.Event()
    previous = _sysfs.set_raw_reader(reader)
    old_timeout, _sysfs.READ_TIMEOUT_S = _sysfs.READ_TIMEOUT_S, 0.2
    try:
        yield stuck
    finally:
        release.set()
        _sysfs.set_raw_reader(previous)
        _sysfs.READ_TIMEOUT_S = old_timeout


def test_track_block_exits_while_reads_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, never_returning_reads: threading.Event
) -> None:
    root = tree(tmp_path)
    monkeypatch.setenv("CARBONLEDGER_SYSFS_ROOT", str(root))
    with cl.track("stuck", interval=0.05, zone="FR") as run:
        never_returning_reads.set()  # from now on every energy_uj read blocks forever
        time.sleep(0.3)
        t0 = time.monotonic()
    took = time.monotonic() - t0
    assert took < BOUND_S, took
    fp = run.footprint()
    assert fp.status == "completed"
    assert any("lower bound" in w for w in fp.warnings), fp.warnings


class Simulator(threading.Thread):
    """A 100 W package counter advancing in real time; the zone can vanish."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root, self.t0, self.halt = root, time.monotonic(), threading.Event()

    def run(self) -> None:
        path = zone_file(self.root, "intel-rapl:0")
        while not self.halt.wait(0.005):
            value = int(100.0 * (time.monotonic() - self.t0) * 1e6) % WRAP_UJ
            tmp = path.with_name("energy_uj.tmp")
            try:
                tmp.write_text(f"{value}\n")
                os.replace(tmp, path)
            except FileNotFoundError:
                return  # the zone is gone


@pytest.mark.slow
def test_zone_vanishing_mid_run_makes_the_total_a_stated_lower_bound(tmp_path: Path) -> None:
    root = make_powercap_tree(
        tmp_path / "sys", {"intel-rapl:0": {"name": "package-0", "max_energy_range_uj": WRAP_UJ}}
    )
    sim = Simulator(root)
    sim.start()

    def vanish() -> None:
        wait_for_run_start(tmp_path)
        time.sleep(2.0)
        sim.halt.set()  # no write may race the removal
        sim.join()
        shutil.rmtree(root / "class" / "powercap" / "intel-rapl:0")

    killer = threading.Thread(target=vanish, daemon=True)
    killer.start()
    p, _ = run_cli(root, tmp_path, "sleep", "7")
    sim.halt.set()
    assert p.returncode == 0, p.stderr
    fp = json.loads((tmp_path / "fp.json").read_text())
    cpu = next(c for c in fp["components"] if c["component"] == "cpu")
    assert cpu["energy_kwh"] * 3.6e6 < 0.6 * 100.0 * fp["duration_s"]  # about 200 of 600 J
    warnings = " ".join(fp["warnings"])
    assert "rapl:package-0" in warnings and "lower bound" in warnings, fp["warnings"]
