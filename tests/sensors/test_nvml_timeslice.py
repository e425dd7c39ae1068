"""Two tracked processes time-slicing one (fake) GPU: each run is charged its NVML
per-process utilisation share, and together they never exceed the board's energy."""

from __future__ import annotations

import math

import pytest
from tests.sensors.fake_clock import FakeClock
from tests.sensors.fake_pynvml import FakeGpu, FakeProcess, gpu_uuid, install

from carbonledger.lifecycle.pricing import footprint_for_run
from carbonledger.records import RunRecord, RunStatus, Sample, Scope
from carbonledger.sensors import nvml
from carbonledger.sensors.base import ProbeContext
from carbonledger.store import open_ledger

BOARD_J_PER_S = 300.0


@pytest.fixture(autouse=True)
def driver_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nvml._presence, "nvidia_driver_present", lambda: True)


def _sensor(clock: FakeClock, pid: int) -> nvml.NvmlSensor:
    sensor = nvml.probe(
        ProbeContext(tracked_pids=lambda: {pid}),
        clock=clock,
        wall_clock=lambda: 0.0,
        pid_exists=lambda p: True,
    )
    assert isinstance(sensor, nvml.NvmlSensor)
    return sensor


def _record(run_id: str, scope: Scope) -> RunRecord:
    return RunRecord(
        run_id,
        run_id,
        "training",
        RunStatus.COMPLETED,
        1000.0,
        1020.0,
        scope,
        "FR",
        None,
        1.0,
        host={"machine_id": "m1"},
    )


@pytest.mark.parametrize(
    ("util_a", "util_b", "scopes"),
    [
        (60, 40, (Scope.PROCESS, Scope.PROCESS)),
        (90, 90, (Scope.PROCESS, Scope.PROCESS)),  # NVML shares add up to more than 1
        (70, 10, (Scope.PROCESS, Scope.MACHINE)),
        (50, 50, (Scope.MACHINE, Scope.MACHINE)),
    ],
)
def test_two_processes_never_exceed_the_gpu(
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
    util_a: int,
    util_b: int,
    scopes: tuple[Scope, Scope],
) -> None:
    gpu = FakeGpu(gpu_uuid(0), processes=[FakeProcess(101, 2**30), FakeProcess(202, 2**30)])
    install(monkeypatch, [gpu])
    sensors = {"a": _sensor(clock, 101), "b": _sensor(clock, 202)}
    device_id = sensors["a"].devices()[0].device_id
    last = {k: s.read()[0].energy_j or 0.0 for k, s in sensors.items()}
    samples: dict[str, list[Sample]] = {"a": [], "b": []}
    ts = 0
    for i in range(20):
        ts += 1_000_000
        # samples of the second just gone: A at util_a % of the SMs, B at util_b % (or the
        # other way round every other second)
        ua, ub = (util_a, util_b) if i % 2 == 0 else (util_b, util_a)
        gpu.utilization = [(101, ua, ts), (202, ub, ts)]
        gpu.energy_mj = (gpu.energy_mj or 0) + int(BOARD_J_PER_S * 1000)
        clock.advance(1.0)
        for key, sensor in sensors.items():
            (reading,) = sensor.read()
            assert reading.energy_j is not None and reading.process_share is not None
            host = reading.energy_j - last[key]
            last[key] = reading.energy_j
            scope = scopes[0] if key == "a" else scopes[1]
            mine = host * reading.process_share if scope is Scope.PROCESS else host
            samples[key].append(Sample(device_id, 1000.0 + i, 1001.0 + i, host, mine))
    ledger = open_ledger("memory://timeslice-" + "-".join(map(str, (util_a, util_b, *scopes))))
    try:
        for key, scope in zip(("a", "b"), scopes, strict=True):
            ledger.create_run(_record(key, scope), [sensors[key].devices()[0]])
            ledger.append_samples(key, samples[key], 1020.0)
        charged = {k: footprint_for_run(ledger, k) for k in ("a", "b")}
    finally:
        ledger.close()
    board_j = 20 * BOARD_J_PER_S
    total = math.fsum(fp.energy_j or 0.0 for fp in charged.values())
    assert total <= board_j * (1 + 1e-9)
    assert total == pytest.approx(board_j, rel=1e-6)  # nothing lost either
    for fp in charged.values():
        assert fp.attribution is not None and fp.attribution.method != "alone"
    if scopes == (Scope.PROCESS, Scope.PROCESS) and util_a + util_b == 100:
        assert charged["a"].energy_j == pytest.approx(board_j / 2)  # 60/40 then 40/60
