import itertools
import threading
import time

import pytest

from carbonledger.records import Component, Sample, Scope
from carbonledger.sampling.attribution import Shares
from carbonledger.sampling.sampler import Sampler
from carbonledger.sensors.fake import FakeSensor, fake_device


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def test_samples_cover_time_without_gaps_and_match_power() -> None:
    clock = Clock()
    cpu, ram = fake_device("fake:cpu"), fake_device("fake:ram", Component.RAM)
    sensor = FakeSensor([cpu, ram], {"fake:cpu": 40.0, "fake:ram": 6.0}, clock=clock)
    got: list[Sample] = []
    sampler = Sampler([sensor], interval_s=1.0, on_samples=got.extend, clock=clock)
    sampler.read_now()  # first read opens the interval
    for _ in range(5):
        clock.t += 0.7
        sampler.read_now()
    cpu_samples = [s for s in got if s.device_id == "fake:cpu"]
    assert len(cpu_samples) == 5
    for a, b in itertools.pairwise(cpu_samples):
        assert a.t_end == b.t_start
    assert sum(s.host_energy_j or 0 for s in cpu_samples) == pytest.approx(40.0 * 3.5)
    assert sampler.totals["fake:ram"].host_energy_j == pytest.approx(6.0 * 3.5)


def test_process_scope_applies_shares_per_component() -> None:
    clock = Clock()
    cpu, ram, gpu = (
        fake_device("fake:cpu"),
        fake_device("fake:ram", Component.RAM),
        fake_device("fake:gpu", Component.GPU),
    )
    sensor = FakeSensor(
        [cpu, ram, gpu],
        {"fake:cpu": 100.0, "fake:ram": 10.0, "fake:gpu": 300.0},
        clock=clock,
        process_share={"fake:gpu": 0.5},
    )
    sampler = Sampler(
        [sensor],
        interval_s=1.0,
        scope=Scope.PROCESS,
        shares=lambda: Shares(cpu=0.25, ram=0.1),
        clock=clock,
    )
    sampler.read_now()
    clock.t += 2.0
    totals = sampler.read_now()
    assert totals["fake:cpu"].energy_j == pytest.approx(50.0)
    assert totals["fake:ram"].energy_j == pytest.approx(2.0)
    assert totals["fake:gpu"].energy_j == pytest.approx(300.0)
    assert totals["fake:cpu"].host_energy_j == pytest.approx(200.0)


def test_failing_sensor_is_dropped_and_others_continue(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    good = FakeSensor([fake_device("fake:good")], {"fake:good": 10.0}, clock=clock)
    bad = FakeSensor([fake_device("fake:bad")], {"fake:bad": 10.0}, clock=clock, fail_after=2)
    sampler = Sampler([good, bad], interval_s=1.0, clock=clock)
    for _ in range(5):
        sampler.read_now()
        clock.t += 1.0
    assert bad.closed
    assert not sampler.totals["fake:bad"].ok
    assert sampler.totals["fake:good"].host_energy_j == pytest.approx(40.0)
    assert len(sampler.errors) == 1


def test_none_readings_leave_no_hole_in_energy() -> None:
    clock = Clock()
    dev = fake_device("fake:x")

    class Flaky(FakeSensor):
        def read(self):  # type: ignore[no-untyped-def]
            out = super().read()
            if self.reads == 3:
                return [type(r)(r.device_id, None) for r in out]
            return out

    sampler = Sampler([Flaky([dev], {"fake:x": 5.0}, clock=clock)], interval_s=1.0, clock=clock)
    for _ in range(6):
        sampler.read_now()
        clock.t += 1.0
    # counters are cumulative: the failed read's interval is folded into the next sample
    assert sampler.totals["fake:x"].host_energy_j == pytest.approx(25.0)


def test_thread_samples_on_cadence_and_first_sample_at_start() -> None:
    dev = fake_device("fake:cpu")
    sensor = FakeSensor([dev], {"fake:cpu": 20.0})
    got: list[Sample] = []
    lock = threading.Lock()

    def collect(batch: list[Sample]) -> None:
        with lock:
            got.extend(batch)

    sampler = Sampler([sensor], interval_s=0.05, on_samples=collect)
    sampler.start()
    assert sensor.reads == 1  # first read at start
    time.sleep(0.5)
    sampler.stop()
    sampler.stop()  # twice is harmless
    assert sensor.closed
    assert len(got) >= 5
    total_s = sum(s.duration_s for s in got)
    assert sum(s.host_energy_j or 0 for s in got) == pytest.approx(20.0 * total_s, rel=1e-3)
