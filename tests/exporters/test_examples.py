"""The exporter examples run as documented."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.engines import require_module

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env=dict(os.environ),
    )


@pytest.mark.slow
def test_prometheus_example(tmp_path: Path) -> None:
    require_module("prometheus_client")
    p = _run("prometheus_exporter.py", "--port", "0", "--epochs", "1", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "metrics at http://127.0.0.1:" in p.stdout and "gCO2e" in p.stdout
    textfile = tmp_path / "job.prom"
    p = _run("prometheus_exporter.py", "--textfile", str(textfile), "--epochs", "1", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "carbonledger_energy_joules_total{" in textfile.read_text()


@pytest.mark.slow
def test_otel_example(tmp_path: Path) -> None:
    require_module("opentelemetry.sdk")
    p = _run("otel_exporter.py", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert '"name": "hw.energy"' in p.stdout and '"name": "carbonledger.emissions"' in p.stdout
