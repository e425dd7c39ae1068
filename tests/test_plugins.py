"""One plug-in mechanism: built-ins and entry points found by name, checked, loaded lazily."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import carbonledger as cl
from carbonledger import plugins
from carbonledger.cli.main import main


class FakeEntryPoint:
    def __init__(self, name: str, value: str, group: str) -> None:
        self.name, self.value, self.group = name, value, group
        self.dist = None


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[FakeEntryPoint]]:
    """Entry points as if third-party packages declared them (the real lookup is tested
    in a fresh virtual environment in tests/e2e/test_plugin_package.py)."""
    declared: dict[str, list[FakeEntryPoint]] = {}

    def fake(group: str) -> list[FakeEntryPoint]:
        return declared.get(group, [])

    monkeypatch.setattr(metadata, "entry_points", lambda group: fake(group))
    return declared


def test_builtins_are_listed_without_importing_them() -> None:
    before = set(sys.modules)
    names = plugins.plugin_names("carbonledger.formats")
    assert names[:3] == ["text", "json", "csv"]
    assert "carbonledger.report.html" not in set(sys.modules) - before


def test_unknown_group_and_name_are_one_line_config_errors() -> None:
    with pytest.raises(cl.ConfigError, match="unknown plug-in group"):
        plugins.available("carbonledger.nothing")
    with pytest.raises(cl.ConfigError, match="unknown format 'nope'; known: csv, html"):
        plugins.load("carbonledger.formats", "nope")


def test_entry_point_plugins_load_and_are_checked(
    entry_points: dict[str, list[FakeEntryPoint]],
) -> None:
    group = "carbonledger.formats"
    entry_points[group] = [
        FakeEntryPoint("upper", "tests.plugins.demo:render_upper", group),
        FakeEntryPoint("broken", "tests.plugins.demo:NOT_CALLABLE", group),
        FakeEntryPoint("missing", "tests.plugins.no_such_module:render", group),
        FakeEntryPoint("html", "tests.plugins.demo:render_upper", group),  # clashes
    ]
    assert plugins.load(group, "upper", check=plugins.callable_check)(None) == "UPPER"
    with pytest.raises(cl.ConfigError, match="is not callable"):
        plugins.load(group, "broken", check=plugins.callable_check)
    with pytest.raises(cl.ConfigError, match="cannot be imported"):
        plugins.load(group, "missing")
    assert plugins.available(group)["html"].origin == "builtin"  # a built-in keeps its name


def test_report_format_from_a_plugin_and_from_the_output_suffix(
    entry_points: dict[str, list[FakeEntryPoint]], tmp_path: Path, capsys: Any
) -> None:
    from carbonledger.sensors.fake import FakeSensor, fake_device

    with cl.track(
        "fmt", interval=0.05, sensors=[FakeSensor([fake_device()], {"fake:cpu-0": 10})]
    ) as run:
        pass
    group = "carbonledger.formats"
    entry_points[group] = [FakeEntryPoint("upper", "tests.plugins.demo:render_upper", group)]
    assert main(["report", run.run_id, "--format", "upper"]) == 0
    assert capsys.readouterr().out.strip() == "UPPER"
    out = tmp_path / "r.html"
    assert main(["report", run.run_id, "-o", str(out)]) == 0
    assert out.read_text().lstrip().lower().startswith("<!doctype html")
    out = tmp_path / "r.json"
    assert main(["report", run.run_id, "-o", str(out)]) == 0
    assert out.read_text().lstrip().startswith("{")
    assert main(["report", run.run_id, "--format", "nope"]) == 2
    assert "unknown format 'nope'" in capsys.readouterr().err


def test_exporter_plugins_are_sinks_by_name(
    entry_points: dict[str, list[FakeEntryPoint]],
) -> None:
    from tests.plugins import demo

    from carbonledger.sensors.fake import FakeSensor, fake_device

    group = "carbonledger.exporters"
    entry_points[group] = [FakeEntryPoint("counting", "tests.plugins.demo:CountingSink", group)]
    demo.CountingSink.instances.clear()
    sensors = [FakeSensor([fake_device()], {"fake:cpu-0": 10})]
    with cl.track("exp", interval=0.05, sensors=sensors, sinks=["counting"]):
        pass
    (sink,) = demo.CountingSink.instances
    assert sink.ended == 1 and sink.samples > 0
    with pytest.raises(cl.ConfigError, match="unknown exporter 'nope'"):
        cl.track("exp", sinks=["nope"])


def test_provider_plugins_by_name(entry_points: dict[str, list[FakeEntryPoint]]) -> None:
    from carbonledger.intensity.providers import open_provider

    group = "carbonledger.providers"
    entry_points[group] = [FakeEntryPoint("flat", "tests.plugins.demo:FlatProvider", group)]
    provider = open_provider("flat", {})
    assert provider.intensity("FR", None).g_per_kwh == 123.0
    with pytest.raises(
        cl.ConfigError, match="known providers: csv, electricitymaps, ukgrid, watttime, flat"
    ):
        open_provider("nope", {})


def test_sensor_plugins_join_discovery_and_are_checked(
    entry_points: dict[str, list[FakeEntryPoint]],
) -> None:
    from carbonledger.sensors.base import ProbeContext
    from carbonledger.sensors.registry import discover, registered

    group = "carbonledger.sensors"
    entry_points[group] = [
        FakeEntryPoint("demo", "tests.plugins.demo:probe", group),
        FakeEntryPoint("liar", "tests.plugins.demo:probe_not_a_sensor", group),
    ]
    kinds = [e.kind for e in registered()]
    assert kinds.index("demo") < kinds.index("cpu_model")  # not a fallback: probed first
    found = discover(ProbeContext(), only=["demo", "liar"])
    assert [d.device_id for d in found.devices] == ["demo:board"]
    (absent,) = found.absent
    assert absent.kind == "liar" and "has no method" in absent.reason
    found.close()


def test_sensor_contract_check_for_plugin_authors() -> None:
    from tests.plugins import demo

    from carbonledger.sensors.contract import sensor_contract_problems
    from carbonledger.sensors.fake import FakeSensor, fake_device

    assert sensor_contract_problems(demo.probe) == []
    assert sensor_contract_problems(FakeSensor([fake_device()], {"fake:cpu-0": 5})) == []
    problems = sensor_contract_problems(demo.BackwardsSensor())
    assert any("went backwards" in p for p in problems)
    assert sensor_contract_problems(demo.probe_not_a_sensor) == ["has no method devices()"]


def test_testing_module_for_plugin_authors() -> None:
    from tests.plugins import demo

    from carbonledger.testing import (
        FakeSensor,
        RecordingSink,
        check_sensor_contract,
        fake_device,
    )

    check_sensor_contract(demo.probe)
    check_sensor_contract(FakeSensor([fake_device()], {"fake:cpu-0": 5}))
    with pytest.raises(AssertionError, match="went backwards"):
        check_sensor_contract(demo.BackwardsSensor())
    sink = RecordingSink()
    sensors = [FakeSensor([fake_device()], {"fake:cpu-0": 5})]
    with cl.track("t", interval=0.05, sensors=sensors, sinks=[sink]):
        pass
    names = sink.names()
    assert names[0] == "on_start" and names[-2:] == ["on_stopping", "on_end"]


def test_entry_points_are_listed_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(group: str) -> list[FakeEntryPoint]:
        calls.append(group)
        return []

    monkeypatch.setattr(metadata, "entry_points", counting)
    plugins.available("carbonledger.formats")
    plugins.available("carbonledger.formats")
    assert calls == ["carbonledger.formats"]  # a second run's start reads no metadata
    plugins.refresh()
    plugins.available("carbonledger.formats")
    assert calls == ["carbonledger.formats"] * 2
    monkeypatch.syspath_prepend("/nonexistent-plugin-dir")  # a new path is looked at
    plugins.available("carbonledger.formats")
    assert len(calls) == 3
