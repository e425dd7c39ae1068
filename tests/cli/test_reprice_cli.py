"""Re-pricing a stored run later with a time series: carbon is recomputed from raw samples."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

import carbonledger as cl
from carbonledger.cli.main import main
from carbonledger.records import Component
from carbonledger.sensors.fake import FakeSensor, fake_device


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def test_reprice_with_midpoint_step_gives_300(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sensor = FakeSensor([fake_device("fake:gpu", Component.GPU)], {"fake:gpu": 100.0})
    tracker = cl.Tracker("sim100w", zone="DE", interval=0.05, sensors=[sensor])
    with tracker as run:
        time.sleep(2.0)
    record = tracker.record
    assert record is not None
    start = int(record.started_at) - 1
    end = int(tracker.footprint().duration_s or 0) + int(record.started_at) + 2
    fp0 = tracker.footprint().to_dict()
    t0, t1 = fp0["started_at"], fp0["ended_at"]
    started = datetime.fromisoformat(t0.replace("Z", "+00:00")).timestamp()
    ended = datetime.fromisoformat(t1.replace("Z", "+00:00")).timestamp()
    mid = (started + ended) / 2
    # a per-second series whose step falls exactly on the run's midpoint
    rows = ["datetime,g_per_kwh"]
    t = float(start)
    while t < end:
        nxt = min(t + 1.0, mid) if t < mid else t + 1.0
        rows.append(f"{iso(t)},{100 if t < mid else 500}")
        t = nxt
    series = tmp_path / "DE_series.csv"
    series.write_text("\n".join(rows) + "\n")

    assert main(["report", run.run_id, "--intensity-series", str(series), "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["intensity"]["time_aligned"] is True
    assert d["intensity"]["g_per_kwh"] == pytest.approx(300.0, rel=0.02)
    # the stored run itself is unchanged: priced at the annual average without the series
    assert main(["show", run.run_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["intensity"]["time_aligned"] is False
