"""Debian's Prometheus server scrapes the exporter; its HTTP API returns the energy counter."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tests.engines import require_command, require_module

import carbonledger as cl
from carbonledger.records import Component
from carbonledger.sensors.fake import FakeSensor, fake_device


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _query(api_port: int, expr: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{api_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            data = json.loads(response.read())
    except OSError:
        return []  # not up yet
    result: list[dict[str, Any]] = data.get("data", {}).get("result", [])
    return result


@pytest.mark.slow
def test_prometheus_scrapes_the_energy_counter(tmp_path: Path) -> None:
    require_command("prometheus")
    require_module("prometheus_client")
    from carbonledger.exporters.prometheus import PrometheusExporter

    exporter = PrometheusExporter(port=0)
    exporter.start()
    api_port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: carbonledger\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{exporter.port}']\n"
    )
    log = (tmp_path / "prometheus.log").open("w")
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{api_port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    devices = [fake_device("fake:gpu-0", Component.GPU)]
    sensors = [FakeSensor(devices, {"fake:gpu-0": 250.0})]
    found: list[dict[str, Any]] = []
    try:
        with cl.track("scraped", zone="FR", interval=0.2, sensors=sensors, sinks=[exporter]) as run:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and server.poll() is None:
                found = [
                    r
                    for r in _query(api_port, "carbonledger_energy_joules_total")
                    if float(r["value"][1]) > 0
                ]
                if found:
                    break
                time.sleep(0.5)
            rate = _query(api_port, "rate(carbonledger_energy_joules_total[10s])")
    finally:
        server.terminate()
        server.wait(timeout=30)
        exporter.close()
        log.close()
    assert found, (tmp_path / "prometheus.log").read_text()[-2000:]
    (series,) = found
    labels = series["metric"]
    assert labels["run"] == run.run_id and labels["device"] == "fake:gpu-0"
    assert labels["component"] == "gpu" and labels["job"] == "carbonledger"
    assert all(float(r["value"][1]) >= 0 for r in rate)  # rate() of joules: watts
