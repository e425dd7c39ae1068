"""A VM or container is charged its share of the host: CPU power, embodied emissions and
the caveats, through pricing into the footprint JSON (simulated trees, no real host facts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.sensors.fake_clock import FakeClock
from tests.sensors.virt_tree import UNKNOWN_XEON, cgroup_v2, make_host

from carbonledger.hostinfo import share_facts
from carbonledger.lifecycle.embodied import (
    DEFAULT_HOST_KEY,
    HostShare,
    embodied_for_run,
    host_share,
)
from carbonledger.lifecycle.hardware import catalog
from carbonledger.lifecycle.pricing import footprint_for_run
from carbonledger.records import RunRecord, RunStatus, Sample, Scope
from carbonledger.sensors import cpu_model
from carbonledger.sensors.base import ProbeContext
from carbonledger.store import open_ledger

T0 = 1_700_000_000.0


class BusyTimes:
    """``(busy_s, total_s)`` of a machine whose CPUs are all busy."""

    def __init__(self, clock: FakeClock, cpus: int) -> None:
        self.clock, self.cpus = clock, cpus

    def __call__(self) -> tuple[float, float]:
        t = self.clock() * self.cpus
        return t, t


def run_record(host: dict[str, object], duration_s: float) -> RunRecord:
    return RunRecord(
        run_id="r" * 32,
        name="busy",
        phase="training",
        status=RunStatus.COMPLETED,
        started_at=T0,
        ended_at=T0 + duration_s,
        scope=Scope.MACHINE,
        zone="FR",
        pue=None,
        interval_s=1.0,
        host=host,
    )


def price_busy(sys_root: Path, proc: Path, cpus: int, seconds: float = 10.0) -> dict[str, object]:
    """Track a fully busy machine for ``seconds`` with the modelled CPU; its footprint JSON."""
    clock = FakeClock()
    sensor = cpu_model.probe(
        ProbeContext(sysfs_root=sys_root),
        proc_root=proc,
        cpu_times=BusyTimes(clock, cpus),
        clock=clock,
    )
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    samples, last = [], 0.0
    for i in range(int(seconds)):
        clock.advance(1.0)
        (reading,) = sensor.read()
        assert reading.energy_j is not None
        e = reading.energy_j - last
        last = reading.energy_j
        samples.append(Sample(cpu_model.DEVICE_ID, T0 + i, T0 + i + 1, e, e))
    host = share_facts(sys_root, proc, environ={})
    run = run_record(host, seconds)
    # through the ledger: what pricing uses is what a run stores
    with open_ledger(sys_root.parent / "ledger.sqlite") as ledger:
        ledger.create_run(run, sensor.devices())
        ledger.append_samples(run.run_id, samples, T0 + seconds)
        fp = footprint_for_run(ledger, run.run_id)
    return json.loads(json.dumps(fp.to_dict(), allow_nan=False))  # type: ignore[no-any-return]


def test_busy_2_vcpu_vm_with_unknown_cpu(tmp_path: Path) -> None:
    """The issue's case: a 2-vCPU VM, CPU "Intel(R) Xeon(R) Processor", busy for 10 s."""
    sys_root, proc = make_host(tmp_path, cpus=2, cpu_name=UNKNOWN_XEON)
    d = price_busy(sys_root, proc, cpus=2)
    (cpu,) = d["components"]  # type: ignore[misc]
    assert cpu["mean_power_w"] <= 30.0
    assert cpu["source"] == "vm-share:ccf-any"
    assert cpu["method"] == "modeled"
    (server,) = d["embodied"]  # type: ignore[misc]
    threads = d["host"]["host_threads"]  # type: ignore[index]
    assert server["share"] == pytest.approx(2 / threads)
    assert "2 vCPUs" in server["source"] and "host threads" in server["source"]
    whole = catalog()[DEFAULT_HOST_KEY].kgco2e * 10 / (4 * 365.25 * 86400)
    assert server["kgco2e"] == pytest.approx(whole * 2 / threads)
    warnings = d["warnings"]
    assert any("VM share assumed" in w and "not in the TDP table" in w for w in warnings)  # type: ignore[union-attr]
    assert any(w.startswith("embodied: a virtual machine is charged its share") for w in warnings)  # type: ignore[union-attr]
    assert any("default server" in w for w in warnings)  # type: ignore[union-attr]
    assert d["host"]["virtualization"] == "unknown"  # type: ignore[index]
    # the interval contains the plausible values: 0 up to twice CCF's mean busy figure
    low, high = d["uncertainty"]["energy_kwh"]  # type: ignore[index]
    assert low <= cpu["energy_kwh"] <= high


def test_container_with_2_cpus_of_a_64_thread_host(tmp_path: Path) -> None:
    sys_root, proc = make_host(
        tmp_path, cpus=64, hypervisor=False, cpu_name=UNKNOWN_XEON, cgroup="0::/job\n"
    )
    cgroup_v2(sys_root, "job", cpu_max="200000 100000")
    d = price_busy(sys_root, proc, cpus=64)
    (cpu,) = d["components"]  # type: ignore[misc]
    assert cpu["source"] == "container-share:default-tdp"
    assert cpu["mean_power_w"] == pytest.approx(cpu_model.DEFAULT_TDP_W * 2 / 64)
    (server,) = d["embodied"]  # type: ignore[misc]
    assert server["share"] == pytest.approx(2 / 64)
    assert d["host"]["cgroup_cpu_limit"] == 2.0  # type: ignore[index]
    assert any("container is charged its share" in w for w in d["warnings"])  # type: ignore[union-attr]


def test_bare_metal_is_charged_the_whole_server(tmp_path: Path) -> None:
    sys_root, proc = make_host(
        tmp_path, cpus=8, hypervisor=False, cpu_name="AMD EPYC 7763 64-Core Processor"
    )
    d = price_busy(sys_root, proc, cpus=8)
    (cpu,) = d["components"]  # type: ignore[misc]
    assert cpu["source"] == "tdp-table:cpu_power.csv:AMD EPYC 7763"
    assert cpu["mean_power_w"] == pytest.approx(280.0)
    (server,) = d["embodied"]  # type: ignore[misc]
    assert server["share"] == 1.0
    assert not any("share" in w for w in d["warnings"])  # type: ignore[union-attr]


# -- embodied.host_share -------------------------------------------------------------------
def test_host_share_reads_the_recorded_facts() -> None:
    facts = {"host_share": 0.25, "host_share_kind": "vm", "host_share_basis": "4 vCPUs / 16"}
    assert host_share(facts) == HostShare(0.25, "4 vCPUs / 16", "vm")
    assert host_share({"host_share": 1.0, "host_share_kind": None}) is None  # bare metal
    assert host_share({}) is None and host_share(None) is None  # older runs
    for bad in (0, -1, 1.5, float("nan"), True, "0.5"):
        assert host_share({"host_share": bad, "host_share_kind": "vm"}) is None


def test_embodied_share_precedence() -> None:
    facts = {"host_share": 0.125, "host_share_kind": "container", "host_share_basis": "b"}
    r = embodied_for_run([], 3600.0, host=facts)
    assert r.items == () or r.items[0].share == 0.125  # no devices: nothing charged
    from carbonledger.records import Component, DeviceInfo, Method

    cpu = DeviceInfo("model:cpu", Component.CPU, "x", Method.MODELED, "s", 0.3)
    (item,) = embodied_for_run([cpu], 3600.0, host=facts).items
    assert item.share == 0.125
    (item,) = embodied_for_run([cpu], 3600.0, host=facts, overrides={"share": 0.5}).items
    assert item.share == 0.5  # an explicit share wins
    (item,) = embodied_for_run([cpu], 3600.0, reserved=HostShare(0.5, "given", "vm")).items
    assert item.share == 0.5
    (item,) = embodied_for_run([cpu], 3600.0).items
    assert item.share == 1.0  # no facts: the whole server, as before


def test_a_tracked_run_records_the_share_with_its_host_facts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import carbonledger as cl
    from carbonledger.sensors.fake import FakeSensor, fake_device

    sys_root, proc = make_host(tmp_path, cpus=2, cpu_name=UNKNOWN_XEON)
    monkeypatch.setenv("CARBONLEDGER_SYSFS_ROOT", str(sys_root))
    monkeypatch.setenv("CARBONLEDGER_PROC_ROOT", str(proc))
    sensor = FakeSensor([fake_device("fake:cpu")], {"fake:cpu": 5.0})
    with cl.Tracker("vm", zone="FR", interval=0.05, sensors=[sensor]) as run:
        pass
    d = run.footprint().to_dict()
    assert d["host"]["host_share_kind"] == "vm"
    (server,) = d["embodied"]
    assert server["share"] == pytest.approx(2 / d["host"]["host_threads"])
    assert any("virtual machine is charged its share" in w for w in d["warnings"])
