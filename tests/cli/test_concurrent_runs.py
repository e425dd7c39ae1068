"""Eight `carbonledger run` processes sharing one ledger: no lost rows, no lock errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_eight_trackers_write_one_ledger() -> None:
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "carbonledger.cli.main",
                "run",
                "--name",
                f"w{i}",
                "--quiet",
                "--interval",
                "0.05",
                "--",
                sys.executable,
                "-c",
                "import time; time.sleep(1.5)",
            ],
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, CARBONLEDGER_FLUSH_INTERVAL="0.1"),
        )
        for i in range(8)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    assert not any("locked" in e or "failed" in e for e in errors), errors
    out = subprocess.run(
        [sys.executable, "-m", "carbonledger.cli.main", "runs", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    runs = json.loads(out.stdout)
    assert sorted(r["name"] for r in runs) == [f"w{i}" for i in range(8)]
    assert all(r["status"] == "completed" and r["energy_kwh"] for r in runs)
