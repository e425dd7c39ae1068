"""Weights & Biases in offline mode: the run's history and summary read back from the
offline run file (W&B's record log: LevelDB-style blocks of protobuf records)."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from tests.engines import require_module

import carbonledger as cl
from carbonledger.records import Component
from carbonledger.sensors.fake import FakeSensor, fake_device

_BLOCK = 32768
_HEADER = 7  # ":W&B" + magic (2) + version (1), then records with a 7-byte header each


@pytest.fixture
def wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    require_module("wandb")
    for name, value in {
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(tmp_path),
        "WANDB_SILENT": "true",
        "WANDB_PROJECT": "carbonledger-tests",
        "WANDB_CONSOLE": "off",
        "WANDB_DISABLE_GIT": "true",
    }.items():
        monkeypatch.setenv(name, value)
    import wandb

    wandb.teardown()  # settings (WANDB_DIR) are read once per setup
    yield wandb
    if wandb.run is not None:
        wandb.run.finish()
    wandb.teardown()


def _records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    raw = path.read_bytes()
    assert raw[:4] == b":W&B"
    pos, pending, found = _HEADER, b"", []
    while pos < len(raw):
        left = _BLOCK - pos % _BLOCK
        if left < 7:  # block trailer
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", raw[pos : pos + 7])
        chunk = raw[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # full, last
            record = pb.Record()
            record.ParseFromString(pending + chunk)
            found.append(record)
            pending = b""
        elif kind in (2, 3):  # first, middle
            pending += chunk
    return found


def _key(item: Any) -> str:
    return str(item.key or "/".join(item.nested_key))


def _offline_run(tmp_path: Path) -> tuple[list[dict[str, Any]], dict[str, Any], Path]:
    """History rows and the final summary of the one offline run under ``tmp_path``."""
    import wandb

    wandb.teardown()  # the service may still be writing the run file after finish()
    (run_file,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    history: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for record in _records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            for item in record.summary.update:
                summary[_key(item)] = json.loads(item.value_json)
    return history, summary, run_file.parent


def _tracked(sinks: list[object]) -> cl.Tracker:
    devices = [fake_device("fake:cpu-0"), fake_device("fake:gpu-0", Component.GPU)]
    sensors = [FakeSensor(devices, {"fake:cpu-0": 40.0, "fake:gpu-0": 200.0})]
    tracker = cl.track("train", zone="FR", interval=0.05, sensors=sensors, sinks=sinks)
    with tracker as run:
        for epoch in range(3):
            token = run.begin_span(f"epoch-{epoch}")
            time.sleep(0.02)
            run.end_span(token)
    return tracker


def test_sink_logs_span_steps_and_the_summary(wandb: Any, tmp_path: Path) -> None:
    from carbonledger.integrations.wandb import WandbSink

    run = wandb.init(name="user-run")
    run.log({"loss": 1.0})
    tracker = _tracked([WandbSink()])
    assert wandb.run is run  # the user's run is left open
    run.finish()
    fp = tracker.stop()
    assert fp is not None and fp.energy_j is not None and fp.total_g is not None
    history, summary, folder = _offline_run(tmp_path)
    steps = [row for row in history if "carbonledger/span" in row]
    assert [row["carbonledger/span"] for row in steps] == [0, 1, 2]
    spans = {s.path: s for s in fp.spans}
    assert steps[2]["carbonledger/span_energy_j"] == pytest.approx(spans["epoch-2"].energy_j)
    assert (
        steps[0]["carbonledger/span_emissions_g_low"] <= steps[0]["carbonledger/span_emissions_g"]
    )
    assert summary["carbonledger/energy_j"] == pytest.approx(fp.energy_j)
    assert summary["carbonledger/emissions_g"] == pytest.approx(fp.total_g)
    assert summary["carbonledger/emissions_g_high"] > summary["carbonledger/emissions_g_low"]
    assert summary["carbonledger/spans"] == 3
    assert summary["carbonledger.gpu.method"] == "measured"
    assert summary["carbonledger.zone"] == "FR"
    assert summary["carbonledger/report/_type"] == "html-file"
    assert list(folder.glob("files/media/html/carbonledger/report_*.html"))


def test_sink_starts_and_finishes_a_run_when_none_is_active(wandb: Any, tmp_path: Path) -> None:
    from carbonledger.integrations.wandb import WandbSink

    assert wandb.run is None
    _tracked([WandbSink(report=False)])
    assert wandb.run is None
    _history, summary, _folder = _offline_run(tmp_path)
    assert summary["carbonledger/energy_j"] > 0
    assert summary["carbonledger.name"] == "train"


def test_log_footprint_one_liner(wandb: Any, tmp_path: Path) -> None:
    from carbonledger.integrations.wandb import log_footprint

    fp = _tracked([]).stop()
    assert fp is not None and fp.operational_g is not None
    log_footprint(fp, report=False)
    assert wandb.run is None
    _history, summary, _folder = _offline_run(tmp_path)
    assert summary["carbonledger/operational_g"] == pytest.approx(fp.operational_g)


def test_sink_by_name(wandb: Any) -> None:
    from carbonledger import plugins
    from carbonledger.integrations.wandb import WandbSink

    assert plugins.load("carbonledger.exporters", "wandb") is WandbSink


@pytest.mark.slow
def test_example_script(wandb: Any, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "examples" / "wandb_tracking.py"
    p = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env=dict(os.environ),
    )
    assert p.returncode == 0, p.stderr
    history, summary, _folder = _offline_run(tmp_path)
    assert [row["carbonledger/span"] for row in history if "carbonledger/span" in row] == [0, 1, 2]
    assert summary["carbonledger/energy_j"] > 0
