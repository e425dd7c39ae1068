"""Sums per (run, device, series step) taken in SQL equal the reference over samples."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonledger.records import Component, RunRecord, RunStatus, Sample, Scope
from carbonledger.sensors.fake import fake_device
from carbonledger.store import open_ledger
from carbonledger.store.device_hours import device_steps, steps_from_device_samples

T0 = 1_700_000_000.0
DEVICES = ("nvml:GPU-a", "rapl:package-0")

samples_st = st.lists(
    st.tuples(
        st.sampled_from(DEVICES),
        st.floats(-500, 4000, allow_nan=False),  # start, from T0
        st.sampled_from([0.0, 0.25, 1.0, 2.5, 700.0]),  # duration (0: lasts no time)
        st.one_of(st.none(), st.floats(0, 1e4, allow_nan=False)),  # energy
    ),
    max_size=60,
)
bounds_st = st.one_of(
    st.none(),
    st.lists(st.floats(-1000, 5000, allow_nan=False), min_size=2, max_size=8, unique=True).map(
        lambda xs: tuple(T0 + x for x in sorted(xs))
    ),
    st.integers(1, 6).map(lambda n: tuple(T0 + 900.0 * k for k in range(n + 1))),
)


def _close(a: Any, b: Any) -> None:
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6), (a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k])
    elif isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _close(x, y)
    else:
        assert a == b


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=samples_st, bounds=bounds_st)
def test_sql_sums_equal_the_reference(tmp_path: Path, rows: list[Any], bounds: Any) -> None:
    with open_ledger(tmp_path / "p.sqlite") as led:
        run_id = uuid.uuid4().hex
        led.create_run(
            RunRecord(
                run_id=run_id,
                name="p",
                phase="training",
                status=RunStatus.RUNNING,
                started_at=T0,
                ended_at=None,
                scope=Scope.MACHINE,
                zone="FR",
                pue=1.0,
                interval_s=1.0,
                host={},
            ),
            [fake_device(d, Component.GPU) for d in DEVICES],
        )
        samples = [Sample(d, T0 + a, T0 + a + dur, e, e) for d, a, dur, e in rows]
        if samples:
            led.append_samples(run_id, samples, T0)
        got = device_steps(led, [run_id], bounds)
        want = steps_from_device_samples(run_id, samples, bounds)
        assert set(got) == {(run_id, d) for d in want}
        for (_, device_id), g in got.items():
            w = want[device_id]
            _close(
                {k: v for k, v in vars(g).items() if k != "steps"},
                {k: v for k, v in vars(w).items() if k != "steps"},
            )
            if bounds is None:
                assert g.steps is None and w.steps is None
                continue
            assert g.steps is not None and w.steps is not None
            _close(dict(g.steps.steps), dict(w.steps.steps))
            key = lambda s: (s.t_start, s.t_end, s.energy_j)  # noqa: E731
            assert sorted(map(key, g.steps.rest)) == sorted(map(key, w.steps.rest))
