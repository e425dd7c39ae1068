from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.sensors.fake_clock import FakeClock
from tests.sensors.powercap_tree import (
    advance,
    make_powercap_tree,
    server_domains,
    write_energy,
)

from carbonledger.records import Component, Method
from carbonledger.sensors import _sysfs, rapl
from carbonledger.sensors.base import Absent, ProbeContext


def open_sensor(root: Path, clock: FakeClock) -> rapl.RaplSensor:
    sensor = rapl.probe(ProbeContext(sysfs_root=root), clock=clock)
    assert isinstance(sensor, rapl.RaplSensor), sensor
    return sensor


def energies(sensor: rapl.RaplSensor) -> dict[str, float | None]:
    return {r.device_id: r.energy_j for r in sensor.read()}


# -- discovery -----------------------------------------------------------------------------
def test_no_powercap_tree_is_absent(tmp_path: Path) -> None:
    result = rapl.probe(ProbeContext(sysfs_root=tmp_path))
    assert isinstance(result, Absent)
    assert result.kind == "rapl"
    assert result.component is Component.CPU
    assert result.reason.startswith(f"no powercap tree under {tmp_path}/class/powercap")
    assert "VM or container" in result.reason
    assert result.fix and "modprobe intel_rapl_msr" in result.fix


def test_powercap_without_rapl_zones_is_absent(tmp_path: Path) -> None:
    (tmp_path / "class" / "powercap" / "dtpm").mkdir(parents=True)
    result = rapl.probe(ProbeContext(sysfs_root=tmp_path))
    assert isinstance(result, Absent)
    assert "no RAPL package or DRAM domain" in result.reason


def test_psys_only_is_absent(tmp_path: Path) -> None:
    root = make_powercap_tree(tmp_path, {"intel-rapl:0": "psys"})
    result = rapl.probe(ProbeContext(sysfs_root=root))
    assert isinstance(result, Absent)
    assert "psys" in result.reason


def test_two_sockets_with_dram_subdomains(tmp_path: Path, clock: FakeClock) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=2, psys=True))
    sensor = open_sensor(root, clock)
    devices = {d.device_id: d for d in sensor.devices()}
    assert list(devices) == ["rapl:package-0", "rapl:package-1", "rapl:dram-0", "rapl:dram-1"]
    pkg = devices["rapl:package-0"]
    assert pkg.component is Component.CPU
    assert pkg.method is Method.MEASURED
    assert pkg.source == "rapl:package-0"
    assert pkg.uncertainty_rel == pytest.approx(0.05)
    assert pkg.details["zone"] == "intel-rapl:0"
    assert pkg.details["max_energy_range_uj"] == 262_143_328_850
    dram = devices["rapl:dram-1"]
    assert dram.component is Component.RAM
    assert dram.details["zone"] == "intel-rapl:1:2"
    assert dram.uncertainty_rel == pytest.approx(0.10)
    scan = rapl.scan_powercap(root)
    assert scan is not None
    skipped = " ".join(scan.skipped)
    assert "intel-rapl:0:0 (core)" in skipped
    assert "intel-rapl:1:1 (uncore)" in skipped
    assert "intel-rapl:2 (psys)" in skipped


def test_core_and_uncore_are_not_added_again(tmp_path: Path, clock: FakeClock) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=False))
    sensor = open_sensor(root, clock)
    assert [d.device_id for d in sensor.devices()] == ["rapl:package-0"]
    advance(root, "intel-rapl:0", 10.0)
    advance(root, "intel-rapl:0:0", 7.0)  # core is inside the package
    clock.advance(1.0)
    assert energies(sensor) == {"rapl:package-0": pytest.approx(10.0)}


def test_top_level_dram(tmp_path: Path, clock: FakeClock) -> None:
    root = make_powercap_tree(
        tmp_path, {"intel-rapl:0": "package-0", "intel-rapl:1": "dram", "intel-rapl:2": "psys"}
    )
    sensor = open_sensor(root, clock)
    devices = {d.device_id: d.component for d in sensor.devices()}
    assert devices == {"rapl:package-0": Component.CPU, "rapl:dram-0": Component.RAM}
    advance(root, "intel-rapl:1", 3.0)
    clock.advance(1.0)
    assert energies(sensor)["rapl:dram-0"] == pytest.approx(3.0)


def test_top_level_dram_does_not_collide_with_subdomain_dram(tmp_path: Path) -> None:
    root = make_powercap_tree(
        tmp_path,
        {"intel-rapl:0": "package-0", "intel-rapl:0:0": "dram", "intel-rapl:1": "dram"},
    )
    scan = rapl.scan_powercap(root)
    assert scan is not None
    ids = {d.device_id: d.zone for d in scan.domains}
    assert ids == {
        "rapl:package-0": "intel-rapl:0",
        "rapl:dram-0": "intel-rapl:0:0",
        "rapl:dram-1": "intel-rapl:1",
    }


def test_multi_die_package_names(tmp_path: Path) -> None:
    root = make_powercap_tree(
        tmp_path,
        {
            "intel-rapl:0": "package-0-die-0",
            "intel-rapl:1": "package-0-die-1",
            "intel-rapl:1:0": "dram",
        },
    )
    scan = rapl.scan_powercap(root)
    assert scan is not None
    assert [d.device_id for d in scan.domains] == [
        "rapl:package-0-die-0",
        "rapl:package-0-die-1",
        "rapl:dram-0-die-1",
    ]


def test_mmio_mirror_is_counted_once(tmp_path: Path, clock: FakeClock) -> None:
    root = make_powercap_tree(
        tmp_path,
        {
            "intel-rapl:0": "package-0",
            "intel-rapl:0:0": "core",
            "intel-rapl:1": "psys",
            "intel-rapl-mmio:0": "package-0",
        },
    )
    sensor = open_sensor(root, clock)
    (device,) = sensor.devices()
    assert device.device_id == "rapl:package-0"
    assert device.details["zone"] == "intel-rapl:0"
    assert device.details["mirrors"] == ["intel-rapl-mmio:0"]
    advance(root, "intel-rapl:0", 4.0)
    advance(root, "intel-rapl-mmio:0", 4.0)
    clock.advance(1.0)
    assert energies(sensor) == {"rapl:package-0": pytest.approx(4.0)}


def test_two_zones_named_package_0_are_one_counter(tmp_path: Path, clock: FakeClock) -> None:
    root = make_powercap_tree(tmp_path, {"intel-rapl:0": "package-0", "intel-rapl:1": "package-0"})
    sensor = open_sensor(root, clock)
    (device,) = sensor.devices()
    assert device.details["mirrors"] == ["intel-rapl:1"]


# -- reading ------------------------------------------------------------------------------
def test_cumulative_energy_and_mean_power(tmp_path: Path, clock: FakeClock) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=2, energy_uj=123_456_789))
    sensor = open_sensor(root, clock)
    advance(root, "intel-rapl:0", 50.0)
    advance(root, "intel-rapl:1", 30.0)
    advance(root, "intel-rapl:0:2", 5.0)
    clock.advance(2.0)
    readings = {r.device_id: r for r in sensor.read()}
    assert readings["rapl:package-0"].energy_j == pytest.approx(50.0)
    assert readings["rapl:package-0"].power_w == pytest.approx(25.0)
    assert readings["rapl:package-1"].energy_j == pytest.approx(30.0)
    assert readings["rapl:dram-0"].energy_j == pytest.approx(5.0)
    assert readings["rapl:dram-1"].energy_j == pytest.approx(0.0)
    advance(root, "intel-rapl:0", 10.0)
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] == pytest.approx(60.0)
    sensor.close()
    sensor.close()  # safe twice


def test_wrap_around_at_max_energy_range(tmp_path: Path, clock: FakeClock) -> None:
    max_range = 1_000_000_000  # 1 kJ
    root = make_powercap_tree(
        tmp_path,
        {
            "intel-rapl:0": {
                "name": "package-0",
                "energy_uj": max_range - 2_000_000,
                "max_energy_range_uj": max_range,
            }
        },
    )
    sensor = open_sensor(root, clock)
    raw = advance(root, "intel-rapl:0", 5.0)  # crosses the top of the range
    assert raw == 3_000_000
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] == pytest.approx(5.0)


def test_backwards_counter_without_known_range_is_not_counted(
    tmp_path: Path, clock: FakeClock
) -> None:
    root = make_powercap_tree(
        tmp_path,
        {
            "intel-rapl:0": {
                "name": "package-0",
                "energy_uj": 5_000_000,
                "max_energy_range_uj": None,
            }
        },
    )
    sensor = open_sensor(root, clock)
    write_energy(root, "intel-rapl:0", 1_000_000)
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] is None
    advance(root, "intel-rapl:0", 2.0)
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] == pytest.approx(2.0)


# -- permission denied (tests run as root: chmod does not stop root, so patch the reader) --
def deny(monkeypatch: pytest.MonkeyPatch, predicate: object) -> None:
    real = _sysfs.read_int

    def read_int(path: Path) -> int:
        if callable(predicate) and predicate(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(_sysfs, "read_int", read_int)


def test_permission_denied_is_absent_with_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=1))
    deny(monkeypatch, lambda p: p.name == "energy_uj")
    result = rapl.probe(ProbeContext(sysfs_root=root))
    assert isinstance(result, Absent)
    assert result.reason == (
        f"permission denied reading {root}/class/powercap/intel-rapl:0/energy_uj"
    )
    assert result.fix is not None
    assert f"sudo chmod o+r {root}/class/powercap/*/energy_uj" in result.fix
    assert "udev" in result.fix and "usermod -aG powercap" in result.fix


def test_permission_denied_on_one_domain_keeps_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=1))
    deny(monkeypatch, lambda p: p.name == "energy_uj" and p.parent.name == "intel-rapl:0:2")
    sensor = open_sensor(root, clock)
    assert [d.device_id for d in sensor.devices()] == ["rapl:package-0"]


def test_permission_denied_mid_run_gives_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=False))
    sensor = open_sensor(root, clock)
    deny(monkeypatch, lambda p: p.name == "energy_uj")
    clock.advance(1.0)
    assert energies(sensor) == {"rapl:package-0": None}


# -- failed reads mid-run -------------------------------------------------------------------
def test_garbage_value_gives_none_then_resumes_with_the_gap(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=False))
    sensor = open_sensor(root, clock)
    advance(root, "intel-rapl:0", 10.0)
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] == pytest.approx(10.0)
    good = advance(root, "intel-rapl:0", 20.0)  # the hardware keeps counting ...
    with caplog.at_level(logging.WARNING, logger="carbonledger.sensors.rapl"):
        for text in ("garbage", "", "-5", "12.5"):  # ... while reads return garbage
            write_energy(root, "intel-rapl:0", text)
            clock.advance(1.0)
            assert energies(sensor)["rapl:package-0"] is None
    assert len(caplog.records) == 1  # logged once, not per read
    write_energy(root, "intel-rapl:0", good + 5_000_000)
    clock.advance(1.0)
    # the counter difference covers the whole gap: 20 J + 5 J, no more
    assert energies(sensor)["rapl:package-0"] == pytest.approx(35.0)


def test_value_above_range_is_garbage(tmp_path: Path, clock: FakeClock) -> None:
    root = make_powercap_tree(
        tmp_path, {"intel-rapl:0": {"name": "package-0", "max_energy_range_uj": 10_000_000}}
    )
    sensor = open_sensor(root, clock)
    write_energy(root, "intel-rapl:0", 10_000_001)
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] is None


def test_files_vanishing_and_coming_back(tmp_path: Path, clock: FakeClock) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=1))
    sensor = open_sensor(root, clock)
    advance(root, "intel-rapl:0", 1.0)
    advance(root, "intel-rapl:0:2", 1.0)
    clock.advance(1.0)
    assert energies(sensor) == {
        "rapl:package-0": pytest.approx(1.0),
        "rapl:dram-0": pytest.approx(1.0),
    }
    dram_file = root / "class" / "powercap" / "intel-rapl:0:2" / "energy_uj"
    kept = dram_file.read_text()
    dram_file.unlink()
    advance(root, "intel-rapl:0", 2.0)
    clock.advance(1.0)
    assert energies(sensor) == {"rapl:package-0": pytest.approx(3.0), "rapl:dram-0": None}
    dram_file.write_text(kept)
    advance(root, "intel-rapl:0:2", 0.5)
    clock.advance(1.0)
    assert energies(sensor)["rapl:dram-0"] == pytest.approx(1.5)


def test_implausible_jump_is_not_counted(tmp_path: Path, clock: FakeClock) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=False))
    sensor = open_sensor(root, clock)
    advance(root, "intel-rapl:0", 10.0)
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] == pytest.approx(10.0)
    advance(root, "intel-rapl:0", 50_000.0)  # 50 kJ in one second: a reset or a misread
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] is None
    advance(root, "intel-rapl:0", 4.0)
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] == pytest.approx(14.0)


def test_counter_reset_after_failure_is_not_a_huge_wrap(tmp_path: Path, clock: FakeClock) -> None:
    root = make_powercap_tree(
        tmp_path, {"intel-rapl:0": {"name": "package-0", "energy_uj": 200_000_000_000}}
    )
    sensor = open_sensor(root, clock)
    write_energy(root, "intel-rapl:0", "")
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] is None
    write_energy(root, "intel-rapl:0", 1_000_000)  # reset to ~0: as a wrap it would be 62 kJ
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] is None
    advance(root, "intel-rapl:0", 3.0)
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] == pytest.approx(3.0)


def test_long_gap_is_counted_as_lower_bound_with_warning(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_powercap_tree(
        tmp_path, {"intel-rapl:0": {"name": "package-0", "max_energy_range_uj": 100_000_000}}
    )  # 100 J range: wraps every 0.05 s at 2 kW
    sensor = open_sensor(root, clock)
    write_energy(root, "intel-rapl:0", "x")
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] is None
    write_energy(root, "intel-rapl:0", 30_000_000)
    clock.advance(1.0)
    with caplog.at_level(logging.WARNING, logger="carbonledger.sensors.rapl"):
        assert energies(sensor)["rapl:package-0"] == pytest.approx(30.0)
    assert "lower bound" in caplog.text


# -- property: wrap handling ---------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    max_range=st.integers(min_value=2, max_value=2**63),
    start_fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    steps=st.lists(st.floats(min_value=0.0, max_value=1.0, exclude_max=True), max_size=30),
)
def test_cumulative_energy_is_sum_of_steps_across_wraps(
    max_range: int, start_fraction: float, steps: list[float]
) -> None:
    """Any sequence of increments, each below one full range, is recovered exactly."""
    start = int(start_fraction * max_range)
    increments = [int(f * max_range) for f in steps]
    raws = []
    value = start
    for inc in increments:
        value = (value + inc) % max_range
        raws.append(value)
    clock = FakeClock()
    domain = rapl.RaplDomain(
        "rapl:package-0",
        Component.CPU,
        "package-0",
        "intel-rapl:0",
        Path("/nonexistent"),
        max_range,
    )
    sensor = rapl.RaplSensor(
        [domain], {"rapl:package-0": start}, clock=clock, max_power_w=float("inf")
    )
    feed = iter(raws)
    original = _sysfs.read_int
    _sysfs.read_int = lambda path: next(feed)  # type: ignore[assignment]
    try:
        total = 0
        for inc in increments:
            clock.advance(1.0)
            (reading,) = sensor.read()
            total += inc
            assert reading.energy_j == pytest.approx(total / 1e6, rel=1e-9, abs=1e-9)
    finally:
        _sysfs.read_int = original


# -- invalid sysfs data ---------------------------------------------------------------------
@pytest.mark.parametrize("bad_range", [0, -5])
def test_non_positive_range_zone_is_absent_not_measured_zero(
    tmp_path: Path, bad_range: int
) -> None:
    root = make_powercap_tree(
        tmp_path,
        {"intel-rapl:0": {"name": "package-0", "energy_uj": 0, "max_energy_range_uj": bad_range}},
    )
    result = rapl.probe(ProbeContext(sysfs_root=root))
    assert isinstance(result, Absent)
    assert result.component is Component.CPU
    assert "invalid max_energy_range_uj" in result.reason and str(bad_range) in result.reason
    assert "intel-rapl:0 (package-0)" in result.reason


def test_non_positive_range_zone_is_left_out_others_kept(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_powercap_tree(
        tmp_path,
        {
            "intel-rapl:0": "package-0",
            "intel-rapl:0:0": {"name": "dram", "max_energy_range_uj": 0},
        },
    )
    with caplog.at_level(logging.WARNING):
        sensor = open_sensor(root, clock)
    assert [d.device_id for d in sensor.devices()] == ["rapl:package-0"]
    assert "invalid max_energy_range_uj 0" in caplog.text


def test_counter_above_range_at_probe_is_left_out(tmp_path: Path) -> None:
    root = make_powercap_tree(
        tmp_path,
        {
            "intel-rapl:0": {
                "name": "package-0",
                "energy_uj": 20_000_000,
                "max_energy_range_uj": 10_000_000,
            }
        },
    )
    result = rapl.probe(ProbeContext(sysfs_root=root))
    assert isinstance(result, Absent)
    assert "20000000 exceeds max_energy_range_uj 10000000" in result.reason


def test_every_read_failing_is_never_measured_zero(tmp_path: Path, clock: FakeClock) -> None:
    root = make_powercap_tree(
        tmp_path, {"intel-rapl:0": {"name": "package-0", "max_energy_range_uj": 10_000_000}}
    )
    sensor = open_sensor(root, clock)
    write_energy(root, "intel-rapl:0", 10_000_001)  # stuck above its range from now on
    for _ in range(3):
        clock.advance(1.0)
        assert energies(sensor)["rapl:package-0"] is None


# -- lost data is flagged (issue 16, point 6) and reads never hang (issue 9, defect 1) ------
def test_rejected_jump_is_reported_as_lost(tmp_path: Path, clock: FakeClock) -> None:
    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=False))
    sensor = open_sensor(root, clock)
    advance(root, "intel-rapl:0", 50_000.0)
    clock.advance(1.0)
    (reading,) = sensor.read()
    assert reading.energy_j is None and reading.lost


def test_stall_longer_than_the_wrap_period_is_a_lower_bound(
    tmp_path: Path, clock: FakeClock
) -> None:
    root = make_powercap_tree(
        tmp_path, {"intel-rapl:0": {"name": "package-0", "max_energy_range_uj": 100_000_000}}
    )  # 100 J: the shortest wrap period at 2 kW is 0.05 s
    sensor = open_sensor(root, clock)
    advance(root, "intel-rapl:0", 1.0)
    clock.advance(0.04)
    (reading,) = sensor.read()
    assert not reading.lower_bound
    advance(root, "intel-rapl:0", 30.0)
    clock.advance(600.0)  # no failed read: the process was suspended
    (reading,) = sensor.read()
    assert reading.energy_j == pytest.approx(31.0) and reading.lower_bound


def test_fifo_in_place_of_energy_uj_is_a_failed_read_not_a_hang(
    tmp_path: Path, clock: FakeClock
) -> None:
    import os

    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=False))
    sensor = open_sensor(root, clock)
    path = root / "class" / "powercap" / "intel-rapl:0" / "energy_uj"
    path.unlink()
    os.mkfifo(path)
    clock.advance(1.0)
    assert energies(sensor)["rapl:package-0"] is None


def test_fifo_at_probe_leaves_the_zone_out(tmp_path: Path) -> None:
    import os

    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=True))
    path = root / "class" / "powercap" / "intel-rapl:0" / "energy_uj"
    path.unlink()
    os.mkfifo(path)
    sensor = rapl.probe(ProbeContext(sysfs_root=root))
    assert isinstance(sensor, rapl.RaplSensor)
    assert [d.device_id for d in sensor.devices()] == ["rapl:dram-0"]


def test_read_that_never_returns_is_abandoned(tmp_path: Path, clock: FakeClock) -> None:
    import threading

    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=False))
    sensor = open_sensor(root, clock)
    release = threading.Event()

    def stuck(path: Path) -> str:
        release.wait()
        return _sysfs.raw_read(path)

    previous = _sysfs.set_raw_reader(stuck)
    old, _sysfs.READ_TIMEOUT_S = _sysfs.READ_TIMEOUT_S, 0.05
    try:
        assert energies(sensor)["rapl:package-0"] is None
        assert energies(sensor)["rapl:package-0"] is None  # fails fast while still stuck
    finally:
        release.set()
        _sysfs.set_raw_reader(previous)
        _sysfs.READ_TIMEOUT_S = old
