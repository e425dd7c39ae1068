"""The Prometheus exporter with the real prometheus_client: names, units, labels, modes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tests.engines import require_module

import carbonledger as cl
from carbonledger.errors import ConfigError
from carbonledger.exporters.prometheus import parse_listen_address
from carbonledger.records import Component
from carbonledger.sensors.fake import FakeSensor, fake_device


def _sensors() -> list[FakeSensor]:
    devices = [fake_device("fake:cpu-0"), fake_device("fake:gpu-0", Component.GPU)]
    return [FakeSensor(devices, {"fake:cpu-0": 40.0, "fake:gpu-0": 200.0})]


def _parse(text: str) -> dict[str, list[Any]]:
    from prometheus_client.parser import text_string_to_metric_families

    found: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9464", ("127.0.0.1", 9464)),
        (":9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:9000", ("0.0.0.0", 9000)),
        ("[::1]:9464", ("::1", 9464)),
    ],
)
def test_listen_address_binds_localhost_unless_told(text: str, expected: Any) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize("text", ["", "abc", ":0", "host:70000", "[::1]9464", "h:-1"])
def test_bad_listen_address_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="--prometheus"):
        parse_listen_address(text)


def test_metrics_follow_the_naming_rules() -> None:
    require_module("prometheus_client")
    from prometheus_client import CollectorRegistry, generate_latest

    from carbonledger.exporters.prometheus import PrometheusExporter

    registry = CollectorRegistry()
    exporter = PrometheusExporter(registry=registry)
    with cl.track("prom", zone="FR", interval=0.05, sensors=_sensors(), sinks=[exporter]) as run:
        with run.span("epoch"):
            pass
        live = _parse(generate_latest(registry).decode())
    final = _parse(generate_latest(registry).decode())
    for found in (live, final):
        energy = found["carbonledger_energy_joules_total"]
        assert {s.labels["device"] for s in energy} == {"fake:cpu-0", "fake:gpu-0"}
        assert {s.labels["component"] for s in energy} == {"cpu", "gpu"}
        assert all(s.labels["run"] == run.run_id and s.labels["name"] == "prom" for s in energy)
        assert all(s.value > 0 for s in energy)
        keys = {"run", "name", "component", "device", "method"}
        assert all(set(s.labels) == keys for s in energy)
        host = found["carbonledger_host_energy_joules_total"]
        assert all("run" not in s.labels for s in host)
        grams = found["carbonledger_emissions_grams_total"]
        assert {s.labels["part"] for s in grams} == {"operational", "embodied"}
    # no power gauge: rate() of the counters gives watts; no per-span labels
    assert not [n for n in final if "watts" in n or "power" in n]
    assert not [s for v in final.values() for s in v if "span" in s.labels]
    (info,) = final["carbonledger_run_info"]
    assert info.labels["status"] == "completed" and info.labels["zone"] == "FR"
    fp = run.footprint()
    assert fp is not None and fp.energy_j is not None and fp.total_g is not None
    bounds = {s.labels["bound"]: s.value for s in final["carbonledger_run_energy_joules"]}
    assert bounds["value"] == pytest.approx(fp.energy_j)
    assert bounds["low"] <= bounds["value"] <= bounds["high"]
    grams_final = {s.labels["bound"]: s.value for s in final["carbonledger_run_emissions_grams"]}
    assert grams_final["value"] == pytest.approx(fp.total_g)
    # attributed energy of the run equals the footprint's (machine scope, one run)
    total_j = sum(s.value for s in final["carbonledger_energy_joules_total"])
    assert total_j == pytest.approx(fp.energy_j, rel=1e-6)


def test_pull_mode_serves_metrics_on_localhost() -> None:
    require_module("prometheus_client")
    from carbonledger.exporters.prometheus import PrometheusExporter

    exporter = PrometheusExporter(port=0)
    try:
        with cl.track("pull", interval=0.05, sensors=_sensors(), sinks=[exporter]):
            url = exporter.url
            assert url.startswith("http://127.0.0.1:")
            body = ""
            deadline = time.monotonic() + 30
            while "carbonledger_energy_joules_total{" not in body and time.monotonic() < deadline:
                time.sleep(0.05)  # the first sample ends one interval after the start
                body = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "carbonledger_energy_joules_total{" in body
        # still served after the run, so the last values can be scraped
        body = urllib.request.urlopen(url, timeout=10).read().decode()
        assert 'status="completed"' in body
    finally:
        exporter.close()


def test_exporter_by_name_is_the_prometheus_exporter() -> None:
    require_module("prometheus_client")
    from carbonledger import plugins
    from carbonledger.exporters.prometheus import PrometheusExporter, shared_exporter

    factory = plugins.load("carbonledger.exporters", "prometheus")
    assert factory is shared_exporter
    assert "prometheus" in plugins.plugin_names("carbonledger.exporters")
    if not _port_free(9464):
        pytest.skip("127.0.0.1:9464 is taken on this machine")
    try:
        # run after run in one process share one endpoint on the default port
        for name in ("first", "second"):
            with cl.track(name, interval=0.05, sensors=_sensors(), sinks=["prometheus"]):
                pass
        exporter = factory()
        assert isinstance(exporter, PrometheusExporter) and exporter.port == 9464
        body = urllib.request.urlopen(exporter.url, timeout=10).read().decode()
        assert 'name="first"' in body and 'name="second"' in body
    finally:
        factory().close()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_textfile_is_written_atomically_and_privately(tmp_path: Path) -> None:
    require_module("prometheus_client")
    from carbonledger.exporters.prometheus import PrometheusExporter

    folder = tmp_path / "textfiles"
    folder.mkdir()
    path = folder / "carbonledger.prom"
    exporter = PrometheusExporter(textfile=path)
    with cl.track("batch", interval=0.05, sensors=_sensors(), sinks=[exporter]):
        assert path.exists()  # written when the run starts
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == ["carbonledger.prom"]  # no temp left
    found = _parse(path.read_text())
    assert all(s.value > 0 for s in found["carbonledger_energy_joules_total"])
    assert found["carbonledger_run_info"][0].labels["status"] == "completed"
    with pytest.raises(ConfigError, match=r"\.prom"):
        PrometheusExporter(textfile=tmp_path / "metrics.txt")
    shared = PrometheusExporter(textfile=tmp_path / "shared.prom", textfile_mode=0o644)
    shared.write_textfile()
    assert stat.S_IMODE((tmp_path / "shared.prom").stat().st_mode) == 0o644


def test_run_command_serves_metrics_the_command_can_scrape(tmp_path: Path) -> None:
    require_module("prometheus_client")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "scraped.txt"
    scrape = (
        "import sys, time, urllib.request\n"
        "time.sleep(0.5)\n"
        f"body = urllib.request.urlopen('http://127.0.0.1:{port}/metrics', timeout=10).read()\n"
        f"open({str(out)!r}, 'wb').write(body)\n"
    )
    p = subprocess.run(
        [
            sys.executable, "-m", "carbonledger.cli.main", "run", "--quiet", "--interval", "0.1",
            "--prometheus", f":{port}", "--name", "scraped", "--", sys.executable, "-c", scrape,
        ],
        capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    (info,) = _parse(out.read_text())["carbonledger_run_info"]
    assert info.labels["name"] == "scraped" and info.labels["status"] == "running"


def test_run_command_refuses_a_bad_address() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "carbonledger.cli.main", "run", "--prometheus", "x:y", "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2
    assert "--prometheus" in p.stderr and "Traceback" not in p.stderr


def test_run_command_reports_a_taken_port() -> None:
    require_module("prometheus_client")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run(
            [
                sys.executable, "-m", "carbonledger.cli.main", "run",
                "--prometheus", f"127.0.0.1:{port}", "--", "true",
            ],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert p.returncode == 3
    assert "cannot serve Prometheus metrics" in p.stderr and "Traceback" not in p.stderr


def test_run_command_writes_a_textfile(tmp_path: Path) -> None:
    require_module("prometheus_client")
    path = tmp_path / "job.prom"
    cmd = [sys.executable, "-m", "carbonledger.cli.main", "run", "--quiet", "--name", "batch"]
    p = subprocess.run(
        [*cmd, "--prometheus-textfile", str(path), "--", sys.executable, "-c", "pass"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    (info,) = _parse(path.read_text())["carbonledger_run_info"]
    assert info.labels["name"] == "batch" and info.labels["status"] == "completed"
    p = subprocess.run(
        [*cmd, "--prometheus-textfile", str(tmp_path / "job.txt"), "--", "true"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 3 and "only *.prom" in p.stderr and "Traceback" not in p.stderr
