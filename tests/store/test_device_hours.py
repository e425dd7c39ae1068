"""Sums per (run, device, series step) taken in SQL equal the reference over samples,
whether the store scans the samples or sums its kept 300 s cells, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonledger.errors import CorruptRunError
from carbonledger.records import Component, RunRecord, RunStatus, Sample, Scope
from carbonledger.sensors.fake import fake_device
from carbonledger.store import open_ledger
from carbonledger.store.device_hours import device_steps, steps_from_device_samples
from carbonledger.store.sqlite import SqliteLedger

T0 = 1_700_000_000.0  # off the kept cells' grid: the store scans the samples
ALIGNED_T0 = 1_699_999_200.0  # a whole UTC hour: the store sums its kept 300 s cells
DEVICES = ("nvml:GPU-a", "rapl:package-0")

samples_st = st.lists(
    st.tuples(
        st.sampled_from(DEVICES),
        st.floats(-500, 4000, allow_nan=False),  # start, from the origin
        st.sampled_from([0.0, 0.25, 1.0, 2.5, 300.0, 700.0]),  # duration (0: lasts no time)
        st.one_of(st.none(), st.floats(0, 1e4, allow_nan=False)),  # energy
    ),
    max_size=60,
)
# series bounds as offsets from the origin: irregular, regular on a 900 s grid, or hourly
# and half-hourly grids (whole cells when the origin is a whole hour)
bounds_st = st.one_of(
    st.none(),
    st.lists(st.floats(-1000, 5000, allow_nan=False), min_size=2, max_size=8, unique=True).map(
        sorted
    ),
    st.integers(1, 6).map(lambda n: [900.0 * k for k in range(n + 1)]),
    st.tuples(st.integers(-2, 1), st.integers(1, 4), st.sampled_from([300.0, 1800.0, 3600.0])).map(
        lambda a: [a[0] * 3600.0 + a[2] * k for k in range(a[1] + 1)]
    ),
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


def _new_run(led: Any, t0: float) -> str:
    run_id = uuid.uuid4().hex
    led.create_run(
        RunRecord(
            run_id=run_id,
            name="p",
            phase="training",
            status=RunStatus.RUNNING,
            started_at=t0,
            ended_at=None,
            scope=Scope.MACHINE,
            zone="FR",
            pue=1.0,
            interval_s=1.0,
            host={},
        ),
        [fake_device(d, Component.GPU) for d in DEVICES],
    )
    return run_id


def _check(led: Any, rows: list[Any], bounds: Any, t0: float, batch: int) -> None:
    run_id = _new_run(led, t0)
    samples = [Sample(d, t0 + a, t0 + a + dur, e, e) for d, a, dur, e in rows]
    for lo in range(0, len(samples), batch):
        led.append_samples(run_id, samples[lo : lo + batch], t0)
    edges = None if bounds is None else tuple(t0 + b for b in bounds)
    got = device_steps(led, [run_id], edges)
    want = steps_from_device_samples(run_id, samples, edges)
    assert set(got) == {(run_id, d) for d in want}
    for (_, device_id), g in got.items():
        w = want[device_id]
        _close(
            {k: v for k, v in vars(g).items() if k != "steps"},
            {k: v for k, v in vars(w).items() if k != "steps"},
        )
        if edges is None:
            assert g.steps is None and w.steps is None
            continue
        assert g.steps is not None and w.steps is not None
        _close(dict(g.steps.steps), dict(w.steps.steps))
        key = lambda s: (s.t_start, s.t_end, s.energy_j)  # noqa: E731
        assert sorted(map(key, g.steps.rest)) == sorted(map(key, w.steps.rest))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=samples_st,
    bounds=bounds_st,
    t0=st.sampled_from([T0, ALIGNED_T0]),
    batch=st.sampled_from([1, 7, 1000]),
)
def test_sql_sums_equal_the_reference(
    tmp_path: Path, rows: list[Any], bounds: Any, t0: float, batch: int
) -> None:
    with open_ledger(tmp_path / "p.sqlite") as led:
        _check(led, rows, bounds, t0, batch)


@pytest.fixture(scope="module")
def postgres_url() -> str:
    from tests.store.pgserver import fresh_schema_url, shared_server

    return fresh_schema_url(shared_server())


@settings(max_examples=25, deadline=None)
@given(
    rows=samples_st,
    bounds=bounds_st,
    t0=st.sampled_from([T0, ALIGNED_T0]),
    batch=st.sampled_from([1, 7, 1000]),
)
def test_postgres_sums_equal_the_reference(
    postgres_url: str, rows: list[Any], bounds: Any, t0: float, batch: int
) -> None:
    with open_ledger(postgres_url, connect_timeout_s=10) as led:
        _check(led, rows, bounds, t0, batch)


def _insert_raw(led: Any, run_id: str, device_id: str, t: float, energy: Any) -> None:
    """Write a sample row the ledger's own writer would refuse, as another tool might."""
    if isinstance(led, SqliteLedger):
        led._write(
            "tamper",
            lambda conn: conn.execute(
                "INSERT INTO samples (run_id, device_id, t_start, t_end, host_energy_j, "
                "energy_j) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, device_id, t, t + 1.0, energy, energy),
            ),
        )
    else:
        led._tx(
            "tamper",
            lambda cur: cur.execute(
                "INSERT INTO samples (run_id, device_id, t_start, t_end, host_energy_j, "
                "energy_j) VALUES (%s, %s, %s, %s, %s, %s)",
                (run_id, device_id, t, t + 1.0, energy, energy),
            ),
        )


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
@pytest.mark.parametrize("energy", [-1.0, float("inf"), float("nan"), "text"])
def test_a_damaged_sample_written_by_another_tool_is_named(
    store: str, energy: Any, tmp_path: Path, postgres_url: str
) -> None:
    """A row damaged at insert (not changed later) is counted bad in the kept cells: the
    run is then read sample by sample, whose decoder names the damage."""
    if store == "postgres" and energy == "text":
        energy = float("-inf")  # a typed column cannot hold text
    led = open_ledger(tmp_path / "d.sqlite") if store == "sqlite" else open_ledger(postgres_url)
    with led:
        run_id = _new_run(led, ALIGNED_T0)
        led.append_samples(
            run_id,
            [Sample(DEVICES[0], ALIGNED_T0 + i, ALIGNED_T0 + i + 1, 1.0, 1.0) for i in range(5)],
            ALIGNED_T0,
        )
        _insert_raw(led, run_id, DEVICES[0], ALIGNED_T0 + 10, energy)
        bounds = (ALIGNED_T0, ALIGNED_T0 + 3600.0)
        if store == "sqlite" and energy != energy:  # SQLite stores NaN as NULL: not damage
            got = device_steps(led, [run_id], bounds)
            assert got[(run_id, DEVICES[0])].missing == 1
            return
        with pytest.raises(CorruptRunError, match=run_id[:8]):
            device_steps(led, [run_id], bounds)
