from __future__ import annotations

import pytest
from tests.sensors.fake_amdsmi import (
    AMDSMI_STATUS_DRIVER_NOT_LOADED,
    FakeAmdGpu,
    install,
    uninstall,
)
from tests.sensors.fake_clock import FakeClock

from carbonledger.records import Component, Method
from carbonledger.sensors import amdsmi
from carbonledger.sensors.base import Absent, ProbeContext

UUIDS = ["a1000000-0000-0000-0000-000000000001", "a2000000-0000-0000-0000-000000000002"]


def open_sensor(clock: FakeClock, environ: dict[str, str] | None = None) -> object:
    return amdsmi.probe(ProbeContext(environ=environ or {}), clock=clock)


def test_not_installed(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    uninstall(monkeypatch)
    result = open_sensor(clock)
    assert isinstance(result, Absent)
    assert result.reason == "amdsmi not installed"
    assert result.fix is not None and "carbonledger[amd]" in result.fix
    assert result.component is Component.GPU


def test_no_driver(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    install(monkeypatch, [], init_error=AMDSMI_STATUS_DRIVER_NOT_LOADED)
    result = open_sensor(clock)
    assert isinstance(result, Absent)
    assert result.reason.startswith("AMD SMI could not start: no AMD GPU driver")


def test_no_gpu(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    fake = install(monkeypatch, [])
    result = open_sensor(clock)
    assert isinstance(result, Absent) and result.reason == "AMD SMI found no AMD GPU"
    assert fake.shutdown_calls == 1


@pytest.mark.parametrize("legacy_key", [False, True])
def test_energy_accumulator_times_resolution(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, legacy_key: bool
) -> None:
    gpus = [FakeAmdGpu(UUIDS[0], resolution_uj=15.3), FakeAmdGpu(UUIDS[1])]
    fake = install(monkeypatch, gpus, legacy_key=legacy_key)
    sensor = open_sensor(clock)
    assert isinstance(sensor, amdsmi.AmdSmiSensor)
    device = sensor.devices()[0]
    assert device.device_id == f"amdsmi:{UUIDS[0]}"
    assert device.component is Component.GPU and device.method is Method.MEASURED
    assert device.name == "AMD Instinct MI250X"
    assert device.details["energy_counter"] is True
    assert device.details["memory_total_gb"] == pytest.approx(64.0)
    assert device.uncertainty_rel == pytest.approx(0.10)
    assert gpus[0].accumulator is not None
    gpus[0].accumulator += 10_000_000  # × 15.3 µJ = 153 J
    clock.advance(1.0)
    reading = sensor.read()[0]
    assert reading.energy_j == pytest.approx(153.0)
    assert reading.power_w == pytest.approx(153.0)
    sensor.close()
    sensor.close()
    assert fake.shutdown_calls == 1


def test_power_fallback(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    gpu = FakeAmdGpu(UUIDS[0], accumulator=None, power_w=200)
    install(monkeypatch, [gpu])
    sensor = open_sensor(clock)
    assert isinstance(sensor, amdsmi.AmdSmiSensor)
    assert sensor.devices()[0].details["energy_counter"] is False
    assert sensor.devices()[0].uncertainty_rel == pytest.approx(0.15)
    sensor.read()
    gpu.power_w = 400
    clock.advance(2.0)
    assert sensor.read()[0].energy_j == pytest.approx(600.0)


def test_neither_energy_nor_power(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    install(monkeypatch, [FakeAmdGpu(UUIDS[0], accumulator=None, power_w="N/A")])
    result = open_sensor(clock)
    assert isinstance(result, Absent) and "neither energy nor power" in result.reason


def test_failed_read_is_none_and_resumes(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    gpu = FakeAmdGpu(UUIDS[0], resolution_uj=1.0)
    install(monkeypatch, [gpu])
    sensor = open_sensor(clock)
    assert isinstance(sensor, amdsmi.AmdSmiSensor)
    gpu.fail = True
    clock.advance(1.0)
    assert sensor.read()[0].energy_j is None
    gpu.fail = False
    assert gpu.accumulator is not None
    gpu.accumulator += 2_000_000
    clock.advance(1.0)
    assert sensor.read()[0].energy_j == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"ROCR_VISIBLE_DEVICES": "1"}, [1]),
        ({"HIP_VISIBLE_DEVICES": UUIDS[0]}, [0]),
        ({"CUDA_VISIBLE_DEVICES": "1,0"}, [1, 0]),
        ({"ROCR_VISIBLE_DEVICES": "0", "HIP_VISIBLE_DEVICES": "1"}, [0]),
    ],
)
def test_visible_devices(
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
    environ: dict[str, str],
    expected: list[int],
) -> None:
    install(monkeypatch, [FakeAmdGpu(u) for u in UUIDS])
    sensor = open_sensor(clock, environ)
    assert isinstance(sensor, amdsmi.AmdSmiSensor)
    assert [d.details["index"] for d in sensor.devices()] == expected


def test_no_visible_gpu(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    install(monkeypatch, [FakeAmdGpu(u) for u in UUIDS])
    result = open_sensor(clock, {"HIP_VISIBLE_DEVICES": ""})
    assert isinstance(result, Absent)
    assert result.reason == "no GPU visible to this process (HIP_VISIBLE_DEVICES='')"


def test_no_driver_means_absent_without_importing_amdsmi(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)
    monkeypatch.setattr(amdsmi._presence, "AMD_DRIVER_PATH", "/nonexistent/kfd")
    result = amdsmi.probe(ProbeContext())
    assert isinstance(result, Absent)
    assert "no AMD GPU driver" in result.reason
    assert "amdsmi" not in sys.modules
