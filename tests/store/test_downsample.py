"""Long runs are drawn from a bounded number of points; energy over the buckets is exact."""

from __future__ import annotations

import math
from pathlib import Path

from carbonledger.records import Sample
from carbonledger.store import open_ledger
from carbonledger.store.aggregates import downsampled, downsampled_from_samples
from carbonledger.testing import contract_devices, contract_run


def _ledger_with(path: Path, n: int) -> tuple[object, str, list[Sample]]:
    ledger = open_ledger(path)
    run = contract_run()
    ledger.create_run(run, contract_devices())
    samples = []
    for i in range(n):
        samples.append(Sample("rapl:package-0", 1000.0 + i, 1001.0 + i, 5.0 + i % 7, 2.0))
        samples.append(Sample("nvml:GPU-1", 1000.0 + i, 1001.0 + i, None if i % 11 else 9.0, None))
    ledger.append_samples(run.run_id, samples, heartbeat_at=1000.0 + n)
    return ledger, run.run_id, samples


def test_few_samples_come_back_whole(tmp_path: Path) -> None:
    ledger, run_id, samples = _ledger_with(tmp_path / "l.sqlite", 50)
    assert downsampled(ledger, run_id, points=100) == samples  # type: ignore[arg-type]


def test_many_samples_are_bounded_and_keep_energy(tmp_path: Path) -> None:
    ledger, run_id, samples = _ledger_with(tmp_path / "l.sqlite", 5000)
    got = downsampled(ledger, run_id, points=100)  # type: ignore[arg-type]
    reference = downsampled_from_samples(samples, 100)
    for found in (got, reference):
        assert len([s for s in found if s.device_id == "rapl:package-0"]) <= 100
        for device in ("rapl:package-0", "nvml:GPU-1"):
            for field in ("host_energy_j", "energy_j"):
                want = [getattr(s, field) for s in samples if s.device_id == device]
                have = [getattr(s, field) for s in found if s.device_id == device]
                known_want = [v for v in want if v is not None]
                known_have = [v for v in have if v is not None]
                assert math.isclose(math.fsum(known_want), math.fsum(known_have))
                assert (not known_want) == (not known_have)
    assert sorted(got, key=lambda s: (s.t_start, s.device_id)) == reference
