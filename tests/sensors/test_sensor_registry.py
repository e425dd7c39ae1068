"""Tests of carbonledger.sensors.registry (named so as not to clash with other test_registry)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.sensors import fake_amdsmi, fake_pynvml
from tests.sensors.powercap_tree import make_powercap_tree, server_domains

from carbonledger.errors import ConfigError
from carbonledger.records import Component, DeviceInfo, Method, Reading
from carbonledger.sensors import registry
from carbonledger.sensors.base import Absent, ProbeContext, Sensor
from carbonledger.sensors.fake import FakeSensor, fake_device


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real NVML/AMD SMI, and a registry that tests may change freely."""
    fake_pynvml.uninstall(monkeypatch)
    fake_amdsmi.uninstall(monkeypatch)
    monkeypatch.setattr(registry, "_ENTRIES", list(registry._ENTRIES))


def kinds(sensors: Sequence[Sensor]) -> list[str]:
    return [s.kind for s in sensors]


def test_builtin_order() -> None:
    entries = registry.registered()
    assert [e.kind for e in entries] == ["rapl", "nvml", "amdsmi", "cpu_model", "ram_model"]
    assert [e.fallback_for for e in entries] == [None, None, None, Component.CPU, Component.RAM]


def test_full_rapl_tree_uses_no_model(tmp_path: Path) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=2, dram=True))
    found = registry.discover(ProbeContext(sysfs_root=root))
    assert kinds(found.sensors) == ["rapl"]
    assert [d.device_id for d in found.devices] == [
        "rapl:package-0",
        "rapl:package-1",
        "rapl:dram-0",
        "rapl:dram-1",
    ]
    assert [a.kind for a in found.absent] == ["nvml", "amdsmi"]


def test_package_only_rapl_brings_in_the_ram_model(tmp_path: Path) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=False))
    found = registry.discover(ProbeContext(sysfs_root=root, memory_gb=32.0))
    assert kinds(found.sensors) == ["rapl", "ram_model"]
    assert {d.device_id: d.method for d in found.devices} == {
        "rapl:package-0": Method.MEASURED,
        "model:ram": Method.MODELED,
    }


def test_no_rapl_brings_in_both_models(tmp_path: Path) -> None:
    found = registry.discover(ProbeContext(sysfs_root=tmp_path, cpu_tdp_w=100.0, memory_gb=8.0))
    assert kinds(found.sensors) == ["cpu_model", "ram_model"]
    rapl_absent = next(a for a in found.absent if a.kind == "rapl")
    assert rapl_absent.reason.startswith("no powercap tree under")
    found.close()


def test_only_restricts_and_validates(tmp_path: Path) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=False))
    found = registry.discover(ProbeContext(sysfs_root=root), only=["rapl"])
    assert kinds(found.sensors) == ["rapl"] and found.absent == ()
    found = registry.discover(ProbeContext(sysfs_root=root, memory_gb=4.0), only=["ram_model"])
    assert kinds(found.sensors) == ["ram_model"]
    with pytest.raises(ConfigError, match="sensors: unknown sensor kind 'rapll'"):
        registry.discover(ProbeContext(sysfs_root=root), only=["rapl", "rapll"])


def test_a_raising_factory_becomes_absent(tmp_path: Path) -> None:
    def broken(ctx: ProbeContext) -> Sensor | Absent:
        raise RuntimeError("driver exploded")

    registry.register("broken", broken)
    found = registry.discover(ProbeContext(sysfs_root=tmp_path, memory_gb=1.0))
    absent = next(a for a in found.absent if a.kind == "broken")
    assert absent.reason == "probe failed: driver exploded"


def test_a_sensor_with_no_device_becomes_absent(tmp_path: Path) -> None:
    empty = FakeSensor([], {})
    registry.register("empty", lambda ctx: empty)
    found = registry.discover(ProbeContext(sysfs_root=tmp_path), only=["empty"])
    assert found.sensors == () and found.absent[0].reason == "found no devices"
    assert empty.closed


def test_fallback_skipped_only_for_its_own_component(tmp_path: Path) -> None:
    gpu = FakeSensor([fake_device("fake:gpu-0", Component.GPU)], {"fake:gpu-0": 100.0})
    cpu = FakeSensor([fake_device("fake:cpu-0", Component.CPU)], {"fake:cpu-0": 10.0})
    registry.register("fakegpu", lambda ctx: gpu)
    registry.register("fakecpu", lambda ctx: cpu)
    ctx = ProbeContext(sysfs_root=tmp_path, memory_gb=2.0)
    found = registry.discover(ctx, only=["fakegpu", "fakecpu", "cpu_model", "ram_model"])
    assert kinds(found.sensors) == ["fake", "fake", "ram_model"]


def test_register_replaces_in_place() -> None:
    registry.register("nvml", lambda ctx: Absent("nvml", "replaced"))
    assert [e.kind for e in registry.registered()][:3] == ["rapl", "nvml", "amdsmi"]
    registry.unregister("nvml")
    assert "nvml" not in [e.kind for e in registry.registered()]


class _Odd:
    """A sensor whose details hold things JSON cannot take as they are."""

    kind = "odd"

    def devices(self) -> Sequence[DeviceInfo]:
        return [
            DeviceInfo(
                "odd:0",
                Component.OTHER,
                "odd",
                Method.MODELED,
                "odd",
                0.2,
                details={
                    "path": Path("/x"),
                    "ids": ("a", "b"),
                    "bad": float("nan"),
                    "method": Method.MEASURED,
                },
            )
        ]

    def read(self) -> list[Reading]:
        return [Reading("odd:0", 0.0)]

    def close(self) -> None:
        pass


def test_describe_json_shape(tmp_path: Path) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=False))
    registry.register("odd", lambda ctx: _Odd())
    found = registry.discover(ProbeContext(sysfs_root=root, memory_gb=16.0))
    doc = registry.describe(found)
    json.dumps(doc, allow_nan=False)
    assert set(doc) == {"devices", "absent"}
    pkg = doc["devices"][0]
    assert pkg == {
        "device_id": "rapl:package-0",
        "component": "cpu",
        "name": "CPU package 0 (RAPL)",
        "method": "measured",
        "source": "rapl:package-0",
        "uncertainty_rel": 0.05,
        "details": {
            "zone": "intel-rapl:0",
            "path": str(root / "class" / "powercap" / "intel-rapl:0"),
            "max_energy_range_uj": 262_143_328_850,
            "mirrors": [],
        },
    }
    odd = next(d for d in doc["devices"] if d["device_id"] == "odd:0")
    assert odd["details"] == {"path": "/x", "ids": ["a", "b"], "bad": None, "method": "measured"}
    assert [d["device_id"] for d in doc["devices"]] == ["rapl:package-0", "odd:0", "model:ram"]
    nvml = next(a for a in doc["absent"] if a["kind"] == "nvml")
    assert nvml == {
        "kind": "nvml",
        "component": "gpu",
        "reason": "nvidia-ml-py not installed",
        "fix": "pip install 'carbonledger[nvidia]'",
    }


def test_describe_text(tmp_path: Path) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=False))
    found = registry.discover(ProbeContext(sysfs_root=root, memory_gb=16.0))
    text = registry.describe_text(found)
    lines = text.splitlines()
    assert lines[0].split() == ["DEVICE", "COMPONENT", "HOW", "MEASURED", "SOURCE"]
    assert lines[1].split() == ["rapl:package-0", "cpu", "measured", "(±5%)", "rapl:package-0"]
    assert lines[2].split() == [
        "model:ram",
        "ram",
        "modeled",
        "(±50%)",
        "green-algorithms:0.3725W/GB",
    ]
    assert "rapl:package-0: CPU package 0 (RAPL)" in text
    assert "Not available:" in text
    assert "  nvml (gpu): nvidia-ml-py not installed" in lines
    assert "    fix: pip install 'carbonledger[nvidia]'" in lines
    assert text.endswith("\n")


def test_describe_text_with_nothing() -> None:
    empty = registry.Discovery((), (Absent("rapl", "no powercap tree under /sys/class/powercap"),))
    text = registry.describe_text(empty)
    assert text.startswith("No energy source found")
    assert "  rapl: no powercap tree under /sys/class/powercap" in text
    assert registry.describe(empty) == {
        "devices": [],
        "absent": [
            {
                "kind": "rapl",
                "component": None,
                "reason": "no powercap tree under /sys/class/powercap",
                "fix": None,
            }
        ],
    }


def test_discover_never_raises_with_a_permission_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carbonledger.sensors import _sysfs

    root = make_powercap_tree(tmp_path, server_domains(sockets=1))

    def denied(path: Path) -> int:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(_sysfs, "read_int", denied)
    found = registry.discover(ProbeContext(sysfs_root=root, memory_gb=1.0, cpu_tdp_w=65.0))
    assert kinds(found.sensors) == ["cpu_model", "ram_model"]
    rapl_absent = next(a for a in found.absent if a.kind == "rapl")
    assert rapl_absent.reason.startswith("permission denied reading")
    assert "fix: sudo chmod" not in registry.describe_text(found)  # fix text starts "until"
    assert "until reboot: sudo chmod o+r" in registry.describe_text(found)
