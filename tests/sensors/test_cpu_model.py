from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.sensors.fake_clock import FakeClock

from carbonledger.errors import DataError
from carbonledger.records import Component, Method
from carbonledger.sensors import cpu_model, virt
from carbonledger.sensors.base import Absent, ProbeContext
from carbonledger.sensors.cpu_model import (
    CpuEntry,
    CpuTable,
    count_sockets,
    modeled_power_w,
    normalise_cpu_name,
    read_cpu_name,
)


@pytest.fixture(scope="module")
def bundled() -> CpuTable:
    return CpuTable.load()


def table(*rows: tuple[str, float]) -> CpuTable:
    return CpuTable([CpuEntry(normalise_cpu_name(name), name, tdp) for name, tdp in rows])


# -- names ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "intel xeon gold 6248"),
        ("AMD EPYC 7763 64-Core Processor", "amd epyc 7763"),
        ("AMD Ryzen 9 5950X 16-Core Processor", "amd ryzen 9 5950x"),
        ("12th Gen Intel(R) Core(TM) i7-12700K", "intel core i7 12700k"),
        ("Intel(R) Core(TM)2 Duo CPU     E7400  @ 2.80GHz", "intel core 2 duo e7400"),
        ("AMD A10-7850K Radeon R7, 12 Compute Cores 4C+8G", "amd a10 7850k"),
        ("AMD Ryzen 7 7840U w/ Radeon 780M Graphics", "amd ryzen 7 7840u"),
        ("AMD Ryzen 5 3500U with Radeon Vega Mobile Gfx", "amd ryzen 5 3500u"),
        ("Intel(R) Xeon(R) CPU E5-2670 v3 @ 2.30GHz", "intel xeon e5 2670 v3"),
        ("Intel(R) Xeon(R) Platinum 8480+", "intel xeon platinum 8480+"),
        ("AMD Ryzen Threadripper PRO 3995WX 64-Cores", "amd ryzen threadripper pro 3995wx"),
        ("Intel(R) Xeon(R) CPU @ 2.20GHz", "intel xeon"),
    ],
)
def test_normalise(name: str, key: str) -> None:
    assert normalise_cpu_name(name) == key


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_normalise_is_idempotent(name: str) -> None:
    key = normalise_cpu_name(name)
    assert normalise_cpu_name(key) == key


# -- matching against the bundled table --------------------------------------------------------
@pytest.mark.parametrize(
    ("cpuinfo", "name", "tdp_w"),
    [
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "Intel Xeon Gold 6248", 150.0),
        ("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", "Intel Xeon Gold 6248R", 205.0),
        ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", 280.0),
        ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X", 105.0),
        ("Intel(R) Xeon(R) CPU E5-2670 v3 @ 2.30GHz", "Intel Xeon E5-2670 v3", 120.0),
        ("Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz", "Intel Xeon E5-2670", 115.0),  # v1
        ("Intel(R) Core(TM) i7 CPU         920  @ 2.67GHz", "Intel Core i7-920", 130.0),
        ("AMD A10-7850K Radeon R7, 12 Compute Cores 4C+8G", "AMD A10-7850K", 95.0),
        ("Intel(R) Xeon(R) Platinum 8480+", "Intel Xeon Platinum 8480+", 350.0),
        ("AMD EPYC 9654 96-Core Processor", "AMD EPYC 9654", 360.0),
    ],
)
def test_real_names_match(
    bundled: CpuTable, cpuinfo: str, name: str | None, tdp_w: float | None
) -> None:
    entry = bundled.match(cpuinfo)
    if name is None:
        assert entry is None
    else:
        assert entry is not None
        assert (entry.name, entry.tdp_w) == (name, tdp_w)


@pytest.mark.parametrize(
    "cpuinfo",
    [
        "Intel(R) Xeon(R) Gold 6249X CPU @ 2.50GHz",  # unknown: must not become 6248 or 6249
        "Intel(R) Xeon(R) CPU @ 2.20GHz",  # no model number at all (cloud VMs)
        "AMD EPYC 7763X 64-Core Processor",
        "Intel(R) Xeon(R) Silver 6248 CPU",  # the table's 6248 is a Gold
        "AMD Xeon Gold 6248",  # vendor contradicts the table
        "Intel(R) Core(TM) i7-920XMX",
        "",
        "QEMU Virtual CPU version 2.5+",
    ],
)
def test_near_misses_do_not_match(bundled: CpuTable, cpuinfo: str) -> None:
    assert bundled.match(cpuinfo) is None


def test_every_bundled_row_matches_itself_and_decorated(bundled: CpuTable) -> None:
    for entry in bundled.entries:
        assert bundled.match(entry.name) is entry, entry
        if entry.name.startswith("AMD "):
            assert bundled.match(f"{entry.name} 8-Core Processor") is entry, entry


def test_ambiguity_is_unknown() -> None:
    t = table(("Intel Xeon Gold 6248", 150.0), ("Intel Xeon Silver 6248", 85.0))
    assert t.match("Intel(R) Xeon(R) Gold 6248 CPU") is not None
    assert t.match("Intel(R) Xeon(R) 6248 CPU") is None  # neither fits
    t = table(("Intel Core 6248", 1.0), ("Intel Xeon 6248", 2.0))
    assert t.match("Intel Core Xeon 6248") is None  # both fit, neither exactly


def test_the_more_specific_entry_wins_when_exact() -> None:
    t = table(("Intel Xeon 6248", 100.0), ("Intel Xeon Gold 6248", 150.0))
    gold = t.match("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz")
    assert gold is not None and gold.tdp_w == 150.0
    plain = t.match("Intel Xeon 6248")
    assert plain is not None and plain.tdp_w == 100.0


def test_model_tokens_must_be_identical() -> None:
    t = table(("Intel Xeon E5-2670", 115.0), ("Intel Xeon E5-2670 v2", 115.0))
    assert t.match("Intel(R) Xeon(R) CPU E5-2670 v3 @ 2.30GHz") is None
    v2 = t.match("Intel(R) Xeon(R) CPU E5-2670 v2 @ 2.50GHz")
    assert v2 is not None and v2.name == "Intel Xeon E5-2670 v2"


# -- the table file ---------------------------------------------------------------------------
def test_table_parse_names_the_bad_line() -> None:
    good = "model_key,name,tdp_w\nintel xeon gold 6248,Intel Xeon Gold 6248,150\n"
    assert len(CpuTable.parse(good, "t.csv").entries) == 1
    with pytest.raises(DataError, match=r"t.csv:3: tdp_w '27.29.5' is not a number"):
        CpuTable.parse(good + "x 1,X 1,27.29.5\n", "t.csv")
    with pytest.raises(DataError, match=r"t.csv:3: expected 3 fields"):
        CpuTable.parse(good + "x 1,X 1\n", "t.csv")
    with pytest.raises(DataError, match=r"t.csv:3: invalid row"):
        CpuTable.parse(good + "x 1,X 1,-5\n", "t.csv")
    with pytest.raises(DataError, match=r"t.csv:1: expected header"):
        CpuTable.parse("Name,TDP\n", "t.csv")


def test_table_load_from_path(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("model_key,name,tdp_w\namd epyc 7763,AMD EPYC 7763,280\n")
    assert CpuTable.load(path).entries == (CpuEntry("amd epyc 7763", "AMD EPYC 7763", 280.0),)
    with pytest.raises(DataError, match="cannot read CPU table"):
        CpuTable.load(tmp_path / "missing.csv")


# -- machine facts ---------------------------------------------------------------------------
CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz
flags\t\t: fpu vme de pse hypervisor avx2

processor\t: 1
model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz
"""


def test_read_cpu_name_and_vm_flag(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    assert read_cpu_name(path) == "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"
    assert cpu_model.is_virtual_machine(path) is True
    path.write_text(CPUINFO.replace(" hypervisor", ""))
    assert cpu_model.is_virtual_machine(path) is False


def make_topology(root: Path, packages: list[str]) -> Path:
    for n, package in enumerate(packages):
        topology = root / "devices" / "system" / "cpu" / f"cpu{n}" / "topology"
        topology.mkdir(parents=True)
        (topology / "physical_package_id").write_text(f"{package}\n")
    (root / "devices" / "system" / "cpu" / "cpufreq").mkdir()
    return root


def test_count_sockets(tmp_path: Path) -> None:
    assert count_sockets(make_topology(tmp_path / "a", ["0", "0", "1", "1"])) == 2
    assert count_sockets(make_topology(tmp_path / "b", ["0"])) == 1
    assert count_sockets(make_topology(tmp_path / "c", ["-1", "-1"])) is None
    assert count_sockets(make_topology(tmp_path / "d", ["junk"])) is None
    assert count_sockets(tmp_path / "none") is None


# -- the model's maths -------------------------------------------------------------------------
def test_power_model() -> None:
    f = cpu_model.IDLE_FRACTION
    assert modeled_power_w(100.0, 1, 0.0) == pytest.approx(100.0 * f)
    assert modeled_power_w(100.0, 2, 1.0) == pytest.approx(200.0)
    assert modeled_power_w(100.0, 2, 0.5) == pytest.approx(200.0 * (f + (1 - f) * 0.5))
    assert modeled_power_w(100.0, 1, 1.7) == pytest.approx(100.0)  # clamped
    assert modeled_power_w(100.0, 1, -0.2) == pytest.approx(100.0 * f)


@settings(max_examples=200, deadline=None)
@given(
    tdp=st.floats(min_value=1, max_value=1000),
    sockets=st.integers(min_value=1, max_value=8),
    u1=st.floats(min_value=0, max_value=1),
    u2=st.floats(min_value=0, max_value=1),
)
def test_power_model_is_monotonic_and_bounded(
    tdp: float, sockets: int, u1: float, u2: float
) -> None:
    lo, hi = sorted((u1, u2))
    p_lo, p_hi = modeled_power_w(tdp, sockets, lo), modeled_power_w(tdp, sockets, hi)
    assert p_lo <= p_hi + 1e-9
    assert tdp * sockets * cpu_model.IDLE_FRACTION - 1e-9 <= p_lo
    assert p_hi <= tdp * sockets + 1e-9


class FakeTimes:
    """Scripted (busy_s, total_s) counters."""

    def __init__(self) -> None:
        self.busy = 0.0
        self.total = 0.0
        self.fail = False

    def run(self, seconds: float, utilisation: float, cpus: int = 4) -> None:
        self.busy += seconds * cpus * utilisation
        self.total += seconds * cpus

    def __call__(self) -> tuple[float, float]:
        if self.fail:
            raise OSError("no /proc/stat")
        return self.busy, self.total


def test_energy_accumulates_per_interval(clock: FakeClock, tmp_path: Path) -> None:
    times = FakeTimes()
    ctx = ProbeContext(sysfs_root=make_topology(tmp_path, ["0", "1"]), cpu_tdp_w=100.0)
    sensor = cpu_model.probe(ctx, cpuinfo_path=tmp_path / "none", cpu_times=times, clock=clock)
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    f = cpu_model.IDLE_FRACTION
    times.run(10.0, 0.5)
    clock.advance(10.0)
    (r1,) = sensor.read()
    p1 = 200.0 * (f + (1 - f) * 0.5)
    assert r1.power_w == pytest.approx(p1)
    assert r1.energy_j == pytest.approx(p1 * 10.0)
    times.run(5.0, 1.0)
    clock.advance(5.0)
    (r2,) = sensor.read()
    assert r2.energy_j == pytest.approx(p1 * 10.0 + 200.0 * 5.0)
    # a failed read is None; the next one covers the whole gap with its mean utilisation
    times.fail = True
    times.run(5.0, 0.0)
    clock.advance(5.0)
    assert sensor.read()[0].energy_j is None
    times.fail = False
    times.run(5.0, 1.0)
    clock.advance(5.0)
    (r3,) = sensor.read()
    assert r3.energy_j == pytest.approx(r2.energy_j + 200.0 * (f + (1 - f) * 0.5) * 10.0)


def test_no_time_passing_keeps_last_utilisation(clock: FakeClock, tmp_path: Path) -> None:
    times = FakeTimes()
    sensor = cpu_model.probe(
        ProbeContext(sysfs_root=tmp_path, cpu_tdp_w=50.0),
        cpuinfo_path=tmp_path / "none",
        cpu_times=times,
        clock=clock,
    )
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    times.run(1.0, 1.0)
    clock.advance(1.0)
    assert sensor.read()[0].power_w == pytest.approx(50.0)
    clock.advance(1.0)  # the counters did not move (coarse psutil resolution)
    assert sensor.read()[0].power_w == pytest.approx(50.0)


# -- probe: labels ---------------------------------------------------------------------------
def probe_with(tmp_path: Path, cpu_name: str | None, **ctx_fields: object) -> object:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"model name\t: {cpu_name}\n" if cpu_name else "processor\t: 0\n")
    ctx = ProbeContext(sysfs_root=make_topology(tmp_path / "sys", ["0", "1"]), **ctx_fields)  # type: ignore[arg-type]
    return cpu_model.probe(ctx, cpuinfo_path=cpuinfo, cpu_times=FakeTimes())


def test_known_cpu_is_modeled_from_the_table(tmp_path: Path) -> None:
    sensor = probe_with(tmp_path, "AMD EPYC 7763 64-Core Processor")
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    (device,) = sensor.devices()
    assert device.device_id == "model:cpu"
    assert device.component is Component.CPU
    assert device.method is Method.MODELED
    assert device.source == "tdp-table:cpu_power.csv:AMD EPYC 7763"
    assert device.uncertainty_rel == pytest.approx(0.35)
    assert device.details["tdp_w"] == 280.0
    assert device.details["sockets"] == 2
    assert device.name == "AMD EPYC 7763 64-Core Processor"


def test_unknown_cpu_gets_the_default(tmp_path: Path) -> None:
    sensor = probe_with(tmp_path, "Intel(R) Xeon(R) CPU @ 2.20GHz")
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    (device,) = sensor.devices()
    assert device.method is Method.DEFAULT
    assert device.source == "default-tdp"
    assert device.uncertainty_rel == pytest.approx(0.5)
    assert device.details["tdp_w"] == cpu_model.DEFAULT_TDP_W
    assert device.details["table_match"] is None


def test_no_cpu_name_gets_the_default(tmp_path: Path) -> None:
    sensor = probe_with(tmp_path, None)
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    assert sensor.devices()[0].method is Method.DEFAULT


def test_user_tdp_overrides(tmp_path: Path) -> None:
    sensor = probe_with(tmp_path, "AMD EPYC 7763 64-Core Processor", cpu_tdp_w=95.0)
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    (device,) = sensor.devices()
    assert device.method is Method.MODELED
    assert device.source == "user:cpu_tdp_w"
    assert device.details["tdp_w"] == 95.0


def test_cpu_times_failing_at_probe_is_absent(tmp_path: Path) -> None:
    times = FakeTimes()
    times.fail = True
    result = cpu_model.probe(ProbeContext(sysfs_root=tmp_path), cpu_times=times)
    assert isinstance(result, Absent)
    assert result.reason.startswith("cannot read CPU times")


def test_machine_cpu_times_is_sane() -> None:
    busy, total = cpu_model.machine_cpu_times()
    assert 0 <= busy <= total


def test_fast_bundled_match_agrees_with_the_full_table() -> None:
    """start() parses only candidate rows; it must answer exactly as the whole table."""
    from carbonledger.lifecycle.cpu_table import _bundled_table, match_bundled

    table = _bundled_table()
    entries = table.entries[::15]  # a spread of ~300 rows across vendors and families
    for entry in entries:
        for name in (entry.name, f"{entry.name} CPU @ 2.10GHz", entry.name.upper()):
            assert match_bundled(name) == table.match(name), name
    assert match_bundled("AMD EPYC") is None


# -- virtual machines and containers: the share of the host ----------------------------------
from tests.sensors.virt_tree import UNKNOWN_XEON, cgroup_v2, make_host  # noqa: E402


def busy_for(
    sensor: cpu_model.CpuModelSensor, times: FakeTimes, clock: FakeClock, s: float
) -> float:
    """Run the machine fully busy for ``s`` seconds; the mean modelled power in W."""
    before = sensor.energy_j
    times.run(s, 1.0)
    clock.advance(s)
    (reading,) = sensor.read()
    assert reading.energy_j is not None
    return (reading.energy_j - before) / s


def test_busy_2_vcpu_vm_with_unknown_cpu_is_charged_its_share(
    clock: FakeClock, tmp_path: Path
) -> None:
    sys_root, proc = make_host(tmp_path, cpus=2, cpu_name=UNKNOWN_XEON)
    times = FakeTimes()
    sensor = cpu_model.probe(
        ProbeContext(sysfs_root=sys_root), proc_root=proc, cpu_times=times, clock=clock
    )
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    (device,) = sensor.devices()
    mean_w = busy_for(sensor, times, clock, 10.0)
    assert mean_w <= 30.0  # not a 120 W socket
    coeff = virt.vcpu_coefficients(None)
    assert mean_w == pytest.approx(2 * coeff.max_w)
    assert device.method is Method.MODELED
    assert device.source == "vm-share:ccf-any"
    assert device.uncertainty_rel == coeff.uncertainty_rel
    # the interval covers the plausible range: CCF's busiest common architectures
    assert mean_w * (1 + device.uncertainty_rel) >= 2 * 5.4  # Coffee Lake, AWS
    assert device.details["virtual_machine"] is True
    assert "share of the host" in device.details["note"]
    (warning,) = device.details["warnings"]
    assert "VM share assumed" in warning and "not in the TDP table" in warning


def test_vm_cloud_from_dmi_picks_that_clouds_coefficients(clock: FakeClock, tmp_path: Path) -> None:
    sys_root, proc = make_host(
        tmp_path, cpus=4, dmi={"sys_vendor": "Amazon EC2", "product_name": "m5.xlarge"}
    )
    sensor = cpu_model.probe(
        ProbeContext(sysfs_root=sys_root), proc_root=proc, cpu_times=FakeTimes(), clock=clock
    )
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    assert sensor.devices()[0].source == "vm-share:ccf-aws"


def test_vm_with_a_known_cpu_gets_its_share_of_the_chips_tdp(
    clock: FakeClock, tmp_path: Path
) -> None:
    sys_root, proc = make_host(tmp_path, cpus=4, cpu_name="AMD EPYC 7351 16-Core Processor")
    times = FakeTimes()
    sensor = cpu_model.probe(
        ProbeContext(sysfs_root=sys_root), proc_root=proc, cpu_times=times, clock=clock
    )
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    (device,) = sensor.devices()
    tdp = device.details["tdp_w"]
    assert device.source == "vm-share:tdp-table:cpu_power.csv:AMD EPYC 7351"
    assert device.details["chip_threads"] == 32
    assert busy_for(sensor, times, clock, 10.0) == pytest.approx(tdp * 4 / 32)
    assert device.uncertainty_rel == cpu_model.VM_TDP_SHARE_UNCERTAINTY_REL


def test_container_with_2_cpus_of_a_64_thread_host(clock: FakeClock, tmp_path: Path) -> None:
    sys_root, proc = make_host(
        tmp_path, cpus=64, hypervisor=False, cpu_name=UNKNOWN_XEON, cgroup="0::/job\n"
    )
    leaf = cgroup_v2(sys_root, "job", cpu_max="200000 100000", usage_usec=0)
    sensor = cpu_model.probe(ProbeContext(sysfs_root=sys_root), proc_root=proc, clock=clock)
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    (device,) = sensor.devices()
    assert device.source == "container-share:default-tdp"
    assert device.method is Method.DEFAULT
    assert device.details["utilisation_source"] == "cgroup CPU usage / limit"
    # both allowed CPUs busy for 10 s: the cgroup used 20 CPU-seconds
    (leaf / "cpu.stat").write_text("usage_usec 20000000\n")
    clock.advance(10.0)
    (reading,) = sensor.read()
    assert reading.power_w == pytest.approx(cpu_model.DEFAULT_TDP_W * 2 / 64)
    assert "share of the host" in device.details["warnings"][0]


def test_bare_metal_is_unchanged(clock: FakeClock, tmp_path: Path) -> None:
    sys_root, proc = make_host(
        tmp_path, cpus=8, hypervisor=False, cpu_name="AMD EPYC 7763 64-Core Processor"
    )
    times = FakeTimes()
    sensor = cpu_model.probe(
        ProbeContext(sysfs_root=sys_root), proc_root=proc, cpu_times=times, clock=clock
    )
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    (device,) = sensor.devices()
    assert device.source == "tdp-table:cpu_power.csv:AMD EPYC 7763"
    assert "warnings" not in device.details
    assert busy_for(sensor, times, clock, 10.0) == pytest.approx(280.0)


def test_user_tdp_on_a_vm_is_taken_as_is(clock: FakeClock, tmp_path: Path) -> None:
    sys_root, proc = make_host(tmp_path, cpus=2)
    sensor = cpu_model.probe(
        ProbeContext(sysfs_root=sys_root, cpu_tdp_w=10.0),
        proc_root=proc,
        cpu_times=FakeTimes(),
        clock=clock,
    )
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    assert sensor.devices()[0].source == "user:cpu_tdp_w"


def test_unknown_cpu_on_bare_metal_warns(tmp_path: Path) -> None:
    sys_root, proc = make_host(tmp_path, cpus=4, hypervisor=False)
    sensor = cpu_model.probe(
        ProbeContext(sysfs_root=sys_root), proc_root=proc, cpu_times=FakeTimes()
    )
    assert isinstance(sensor, cpu_model.CpuModelSensor)
    (warning,) = sensor.devices()[0].details["warnings"]
    assert "not in the TDP table" in warning and "default 120 W" in warning
