"""`carbonledger run --intensity-series FILE` prices the run time-aligned from the file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.slow
def test_run_with_a_series_covering_the_run_is_time_aligned(tmp_path: Path) -> None:
    now = time.time()
    hour = int(now // 3600) * 3600
    series = tmp_path / "FR.csv"
    series.write_text(
        "datetime,g_per_kwh\n" + "".join(f"{iso(hour + k * 3600)},{40 + k}\n" for k in range(-2, 3))
    )
    out = tmp_path / "fp.json"
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "carbonledger.cli.main",
            "run",
            "--zone",
            "FR",
            "--interval",
            "0.2",
            "--intensity-series",
            str(series),
            "--json-out",
            str(out),
            "--quiet",
            "--",
            "sleep",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    i = json.loads(out.read_text())["intensity"]
    assert i["time_aligned"] is True and i["coverage"] == pytest.approx(1.0)
    assert i["g_per_kwh"] == pytest.approx(40.0)  # the value of the hour the run is in
    assert i["source"].endswith("FR.csv")
    # a user's plain CSV has no provenance: a user-given intensity, modeled ±15 %
    assert i["method"] == "modeled" and i["uncertainty_rel"] == pytest.approx(0.15)
