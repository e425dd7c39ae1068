"""Pricing from sums (the ledger's aggregates) equals pricing sample by sample."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonledger.intensity.series import IntensitySeries
from carbonledger.lifecycle.plan import plan_for
from carbonledger.lifecycle.pricing import footprint_for_run, price_run
from carbonledger.records import Component, DeviceInfo, Method, RunRecord, RunStatus, Sample, Scope
from carbonledger.store import open_ledger

T0 = 1_709_280_000.0
DEVICES = [
    DeviceInfo("cpu", Component.CPU, "Xeon", Method.MEASURED, "rapl", 0.05),
    DeviceInfo("gpu", Component.GPU, "H100", Method.MEASURED, "nvml", 0.05),
]


def _close(a: Any, b: Any, where: str = "") -> None:
    if isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{where}: {a} != {b}"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


energy = st.one_of(st.none(), st.just(0.0), st.floats(0.0, 5000.0))
sample_rows = st.lists(
    st.tuples(
        st.sampled_from(["cpu", "gpu"]),
        st.floats(0.0, 7200.0),
        st.sampled_from([0.0, 1.0, 7.5, 60.0, 900.0]),
        energy,
        energy,
    ),
    max_size=60,
)
series_spec = st.one_of(
    st.none(),
    st.tuples(
        st.floats(-900.0, 3600.0),
        st.sampled_from([60.0, 300.0, 1800.0, 3600.0]),
        st.lists(st.floats(1.0, 900.0), min_size=1, max_size=12),
        st.booleans(),
    ),
)


def _store(tmp: Path, rows: list[tuple[Any, ...]], spec: Any, scope: Scope) -> tuple[Any, str]:
    ledger = open_ledger(tmp / f"{uuid.uuid4().hex}.sqlite")
    run_id = uuid.uuid4().hex
    ledger.create_run(
        RunRecord(
            run_id=run_id,
            name="n",
            phase="training",
            status=RunStatus.RUNNING,
            started_at=T0,
            ended_at=None,
            scope=scope,
            zone="FR",
            pue=1.3,
            interval_s=1.0,
            host={"hostname": f"h-{run_id}"},
            tags={},
            settings={},
        ),
        DEVICES,
    )
    samples = [
        Sample(d, T0 + a, T0 + a + length, host, None if host is None else e)
        for d, a, length, host, e in rows
    ]
    ledger.append_samples(run_id, samples, heartbeat_at=T0)
    if spec is not None:
        first, step, values, estimated = spec
        ledger.put_series(
            run_id,
            IntensitySeries(
                times=tuple(T0 + first + i * step for i in range(len(values))),
                values_g_per_kwh=tuple(values),
                zone="FR",
                source="test",
                estimated=tuple(estimated and i % 2 == 0 for i in range(len(values))),
                last_step_s=step,
            ),
        )
    ledger.finish_run(run_id, RunStatus.COMPLETED, T0 + 8000.0)
    return ledger, run_id


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=sample_rows, spec=series_spec)
def test_sql_sums_price_like_samples(tmp_path: Path, rows: Any, spec: Any) -> None:
    ledger, run_id = _store(tmp_path, rows, spec, Scope.MACHINE)
    try:
        fast = footprint_for_run(ledger, run_id)
        run = ledger.get_run(run_id)
        samples = ledger.samples(run_id)
        plan = plan_for("FR", 1.3, series=ledger.series(run_id))
        notes: list[str] = []
        embodied = plan.embodied(ledger.devices(run_id), run.duration_s, notes)
        exact = price_run(
            run,
            ledger.devices(run_id),
            samples,
            series=plan.series,
            average=plan.average,
            pue=plan.pue,
            embodied=embodied,
            warnings=notes,
        )
        fast_d, exact_d = fast.to_dict(), exact.to_dict()
        fast_d.pop("attribution", None)
        exact_d.pop("attribution", None)
        _close(exact_d, fast_d)
        # an independent oracle for the operational carbon: the per-sample function budgets use
        grams = [plan.grams(s) for s in samples]
        known = [g.g for g in grams if g is not None]
        if fast.operational_g is not None and known:
            assert math.isclose(fast.operational_g, math.fsum(known), rel_tol=1e-9, abs_tol=1e-9)
    finally:
        ledger.close()


def test_a_shared_host_takes_the_exact_path(tmp_path: Path) -> None:
    """Runs overlapping on one host are split sample by sample, as before."""
    ledger, first = _store(tmp_path, [("cpu", 0.0, 60.0, 600.0, 600.0)], None, Scope.MACHINE)
    try:
        second = uuid.uuid4().hex
        run = ledger.get_run(first)
        from dataclasses import replace

        ledger.create_run(
            replace(run, run_id=second, status=RunStatus.RUNNING, ended_at=None), DEVICES
        )
        ledger.append_samples(second, [Sample("cpu", T0, T0 + 60.0, 600.0, 600.0)], T0)
        ledger.finish_run(second, RunStatus.COMPLETED, T0 + 8000.0)
        fp = footprint_for_run(ledger, first)
        assert fp.shared_with == (second,)
        assert fp.components[0].energy_j == 300.0
    finally:
        ledger.close()
