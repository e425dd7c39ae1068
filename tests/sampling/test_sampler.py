import itertools
import threading
import time

import pytest

from carbonledger.records import Component, Reading, Sample, Scope
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


# -- lost data is recorded as gaps (issue 16, point 6) ---------------------------------------
class Scripted(FakeSensor):
    """A fake whose n-th read (1-based) can be replaced by a given reading."""

    def __init__(self, script: dict[int, Reading], **kw: object) -> None:
        dev = fake_device("fake:x")
        super().__init__([dev], {"fake:x": 10.0}, **kw)  # type: ignore[arg-type]
        self.script = script

    def read(self) -> list[Reading]:
        out = super().read()
        return [self.script.get(self.reads, out[0])]


def gaps(samples: list[Sample]) -> list[tuple[float, float]]:
    return [(s.t_start, s.t_end) for s in samples if s.host_energy_j is None]


def test_device_missing_at_the_end_is_recorded_as_a_gap() -> None:
    clock = Clock()
    missing = Reading("fake:x", None)
    sensor = Scripted({n: missing for n in range(3, 100)}, clock=clock)
    got: list[Sample] = []
    sampler = Sampler([sensor], interval_s=1.0, on_samples=got.extend, clock=clock)
    for _ in range(6):  # reads 1..6 at t = 1000..1005; the device vanishes at read 3
        sampler.read_now()
        clock.t += 1.0
    assert gaps(got) == []  # short outages are bridged by the counter when it comes back
    sampler.stop()  # the last read (t = 1006) still fails: the missing time is a gap
    assert gaps(got) == [(1001.0, 1006.0)]
    assert any("lower bound" in e for e in sampler.errors)


def test_long_outage_is_recorded_when_it_happens_and_return_rebases() -> None:
    clock = Clock()
    missing = Reading("fake:x", None)
    sensor = Scripted({n: missing for n in range(2, 15)}, clock=clock)
    got: list[Sample] = []
    sampler = Sampler([sensor], interval_s=1.0, on_samples=got.extend, clock=clock, gap_after_s=5.0)
    for _ in range(20):
        sampler.read_now()
        clock.t += 1.0
    # missing from read 2 (t=1001) to read 14; back at read 15 (t=1014)
    assert gaps(got)[0] == (1000.0, 1005.0)  # recorded while the run went on
    covered = sorted((s.t_start, s.t_end) for s in got)
    for a, b in itertools.pairwise(covered):
        assert a[1] == b[0]  # no overlap, no hole
    assert covered[0][0] == 1000.0 and covered[-1][1] == 1019.0
    known = sum(s.host_energy_j or 0 for s in got)
    assert known == pytest.approx(10.0 * 5)  # t=1014..1019 measured; the gap is not guessed


def test_rejected_counter_step_is_a_gap_not_a_silent_loss() -> None:
    clock = Clock()
    sensor = Scripted({3: Reading("fake:x", None, lost=True)}, clock=clock)
    got: list[Sample] = []
    sampler = Sampler([sensor], interval_s=1.0, on_samples=got.extend, clock=clock)
    for _ in range(5):
        sampler.read_now()
        clock.t += 1.0
    assert gaps(got) == [(1001.0, 1002.0)]
    # the fake's cumulative counter kept counting through the rejected read: the sensor
    # re-based there, so the next sample covers only its own interval
    assert [s.t_start for s in got if s.host_energy_j is not None] == [1000.0, 1002.0, 1003.0]


def test_interval_that_may_hide_wraps_is_flagged() -> None:
    clock = Clock()

    class Stalled(FakeSensor):
        def read(self) -> list[Reading]:
            return [Reading(r.device_id, r.energy_j, lower_bound=self.reads == 2)
                    for r in super().read()]  # fmt: skip

    sampler = Sampler(
        [Stalled([fake_device("fake:x")], {"fake:x": 1.0}, clock=clock)],
        interval_s=1.0,
        clock=clock,
    )
    sampler.read_now()
    clock.t += 500.0
    sampler.read_now()
    assert any("wraps may have been missed" in e for e in sampler.errors)


def test_dropped_sensor_gap_starts_at_its_last_good_read() -> None:
    clock = Clock()
    bad = FakeSensor([fake_device("fake:bad")], {"fake:bad": 10.0}, clock=clock, fail_after=2)
    got: list[Sample] = []
    sampler = Sampler([bad], interval_s=1.0, on_samples=got.extend, clock=clock)
    for _ in range(4):
        sampler.read_now()
        clock.t += 1.0
    assert gaps(got) == [(1001.0, 1002.0)]
    assert sampler.totals["fake:bad"].last_t == 1002.0  # the tracker records the rest


# -- never blocks the host (issue 9, defect 1) -----------------------------------------------
class Hanging(FakeSensor):
    """A sensor whose reads block until released (a stuck driver)."""

    def __init__(self, hang_from: int, **kw: object) -> None:
        super().__init__([fake_device("fake:h")], {"fake:h": 10.0}, **kw)  # type: ignore[arg-type]
        self.hang_from = hang_from
        self.release = threading.Event()

    def read(self) -> list[Reading]:
        if self.reads + 1 >= self.hang_from:
            self.release.wait()
        return super().read()


@pytest.mark.parametrize("hang_from", [2, 3])
def test_stop_returns_in_bounded_time_when_a_read_hangs(hang_from: int) -> None:
    sensor = Hanging(hang_from)
    got: list[Sample] = []
    sampler = Sampler([sensor], interval_s=0.01, on_samples=got.extend, stop_timeout_s=0.4)
    sampler.start()
    time.sleep(0.1)  # the thread is now stuck in a read, holding the lock
    t0 = time.monotonic()
    sampler.stop()
    waited = time.monotonic() - t0
    sensor.release.set()
    assert waited < 5.0  # bounded (0.4 s budget), never forever
    assert not sampler.totals["fake:h"].ok  # the tracker records the rest as a gap
    assert any("abandoned" in e for e in sampler.errors)
    time.sleep(0.05)
    n = len(got)
    time.sleep(0.05)
    assert len(got) == n  # the abandoned read, once back, records nothing more


def test_read_now_does_not_wait_forever_for_a_stuck_thread() -> None:
    sensor = Hanging(2)
    sampler = Sampler([sensor], interval_s=0.01, stop_timeout_s=0.2)
    sampler.start()
    time.sleep(0.1)
    totals = sampler.read_now()
    sensor.release.set()
    assert "fake:h" in totals
    sampler.stop()
