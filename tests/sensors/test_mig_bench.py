"""benchmarks/mig_bench.py's logic with the fake NVML: instances, profiles, choice."""

from __future__ import annotations

import pytest
from benchmarks.mig_bench import choose, list_instances
from tests.sensors.fake_pynvml import FakeGpu, gpu_uuid, install, mig_uuid


def test_instances_and_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    migs = [mig_uuid(0, k) for k in range(3)]
    fake = install(
        monkeypatch,
        [
            FakeGpu(gpu_uuid(0), mig_uuids=migs, mig_slices=[3, 1, 1]),
            FakeGpu(gpu_uuid(1), mig_uuids=None),
        ],
    )
    nv = fake.module
    nv.nvmlInit()
    instances = list_instances(nv)
    assert [i.profile for i in instances] == ["3g.34gb", "1g.11gb", "1g.11gb"]
    assert all(i.total_slices == 7 and i.board_uuid == gpu_uuid(0) for i in instances)
    chosen = choose(instances, ["1g", "3g.34gb", "7g.80gb"])
    assert chosen["1g"] is not None and chosen["1g"].mig_uuid == migs[1]
    assert chosen["3g.34gb"] is not None and chosen["3g.34gb"].slices == 3
    assert chosen["7g.80gb"] is None
