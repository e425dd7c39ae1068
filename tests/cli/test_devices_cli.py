"""``carbonledger devices`` says when the machine is a VM and what share of the host it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.sensors.virt_tree import make_host

from carbonledger.cli.main import main


def simulate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **kw: object) -> None:
    sys_root, proc = make_host(tmp_path, **kw)  # type: ignore[arg-type]
    monkeypatch.setenv("CARBONLEDGER_SYSFS_ROOT", str(sys_root))
    monkeypatch.setenv("CARBONLEDGER_PROC_ROOT", str(proc))
    monkeypatch.setenv("CARBONLEDGER_SENSORS", "cpu_model,ram_model")


def test_devices_on_a_vm_mentions_the_share(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    simulate(monkeypatch, tmp_path, cpus=2)
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "vm-share:ccf-any" in out
    assert "Host: virtual machine: charged its share of the physical host, 3.1%" in out
    assert main(["devices", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["host"]["host_share_kind"] == "vm"
    assert d["host"]["vcpus"] == 2


def test_devices_on_bare_metal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    simulate(monkeypatch, tmp_path, cpus=4, hypervisor=False)
    assert main(["devices"]) == 0
    assert "Host: bare metal" in capsys.readouterr().out
