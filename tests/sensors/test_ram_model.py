from __future__ import annotations

import pytest
from tests.sensors.fake_clock import FakeClock

from carbonledger.records import Component, Method
from carbonledger.sensors import ram_model
from carbonledger.sensors.base import Absent, ProbeContext


def test_user_memory_size(clock: FakeClock) -> None:
    sensor = ram_model.probe(ProbeContext(memory_gb=64.0), clock=clock)
    assert isinstance(sensor, ram_model.RamModelSensor)
    (device,) = sensor.devices()
    assert device.device_id == "model:ram"
    assert device.component is Component.RAM
    assert device.method is Method.MODELED
    assert device.source == "green-algorithms:0.3725W/GB"
    assert device.uncertainty_rel == pytest.approx(0.5)
    assert device.details["memory_source"] == "user:memory_gb"
    assert sensor.power_w == pytest.approx(0.3725 * 64.0)
    clock.advance(10.0)
    (reading,) = sensor.read()
    assert reading.energy_j == pytest.approx(0.3725 * 64.0 * 10.0)
    assert reading.power_w == pytest.approx(23.84)
    clock.advance(5.0)
    assert sensor.read()[0].energy_j == pytest.approx(0.3725 * 64.0 * 15.0)


def test_installed_memory_from_the_machine(clock: FakeClock) -> None:
    sensor = ram_model.probe(ProbeContext(), clock=clock, memory_gb=lambda: 16.0)
    assert isinstance(sensor, ram_model.RamModelSensor)
    assert sensor.devices()[0].details == {
        "memory_gb": 16.0,
        "memory_source": "installed memory",
        "w_per_gb": 0.3725,
        "power_w": pytest.approx(5.96),
        "formula": "P = 0.3725 W/GB × memory_gb",
    }


def test_real_installed_memory_is_positive() -> None:
    assert ram_model.installed_memory_gb() > 0


def test_unreadable_memory_is_absent(clock: FakeClock) -> None:
    def broken() -> float:
        raise OSError("no /proc/meminfo")

    result = ram_model.probe(ProbeContext(), clock=clock, memory_gb=broken)
    assert isinstance(result, Absent)
    assert result.component is Component.RAM
    assert result.fix == "set CARBONLEDGER_MEMORY_GB"
