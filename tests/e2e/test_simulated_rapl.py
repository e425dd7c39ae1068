"""The issue's acceptance check: `carbonledger run` on a simulated powercap tree whose
counters advance in real time at known powers (package 40 W with a core sub-domain inside
it, DRAM 6 W, counters wrapping every 100 J) reports CPU 40 W and RAM 6 W, measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.sensors.powercap_tree import make_powercap_tree

WRAP_UJ = 100_000_000  # 100 J
POWERS_W = {"intel-rapl:0": 40.0, "intel-rapl:0:0": 25.0, "intel-rapl:0:1": 6.0}


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
            os.replace(tmp, path)  # atomic, like a sysfs read

    def run(self) -> None:
        while not self.halt.wait(0.002):
            self.write_all()


@pytest.mark.slow
def test_simulated_rapl_run_reports_known_powers(tmp_path: Path) -> None:
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
    out = tmp_path / "fp.json"
    env = dict(os.environ, CARBONLEDGER_SYSFS_ROOT=str(root))
    try:
        p = subprocess.run(
            [
                sys.executable,
                "-m",
                "carbonledger.cli.main",
                "run",
                "--scope",
                "machine",
                "--interval",
                "0.5",
                "--json-out",
                str(out),
                "--",
                "sleep",
                "6",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        sim.halt.set()
        sim.join()
    assert p.returncode == 0, p.stderr
    d = json.loads(out.read_text())
    by = {c["component"]: c for c in d["components"]}
    assert set(by) == {"cpu", "ram"}, d["components"]  # no model fallback, core not added
    assert by["cpu"]["method"] == "measured" and by["ram"]["method"] == "measured"
    assert by["cpu"]["source"].startswith("rapl:")
    assert by["cpu"]["mean_power_w"] == pytest.approx(40.0, rel=0.02)
    assert by["ram"]["mean_power_w"] == pytest.approx(6.0, rel=0.02)
    # 6 s at 40 W wraps the 100 J counter twice: energy must still add up
    assert by["cpu"]["energy_kwh"] * 3.6e6 == pytest.approx(40.0 * d["duration_s"], rel=0.03)
