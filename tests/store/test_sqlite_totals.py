"""The SQLite ledger's kept sample sums (schema v5) and its one-pass energy per step."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonledger.errors import CorruptRunError
from carbonledger.records import Component, DeviceInfo, Method, RunRecord, RunStatus, Sample, Scope
from carbonledger.store import open_ledger
from carbonledger.store import sqlite_aggregates as sql_sums
from carbonledger.store._schema import MIGRATIONS, migrate
from carbonledger.store.aggregates import steps_from_samples, totals_from_samples

T0 = 1_709_280_000.0
DEVICES = [
    DeviceInfo("cpu", Component.CPU, "Xeon", Method.MEASURED, "rapl", 0.05),
    DeviceInfo("gpu", Component.GPU, "H100", Method.MEASURED, "nvml", 0.05),
]


def _run(run_id: str) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        name="r",
        phase="training",
        status=RunStatus.RUNNING,
        started_at=T0,
        ended_at=None,
        scope=Scope.MACHINE,
        zone="FR",
        pue=None,
        interval_s=1.0,
    )


energy = st.one_of(st.none(), st.just(0.0), st.floats(0.0, 5000.0))
samples_st = st.lists(
    st.tuples(
        st.sampled_from(["cpu", "gpu"]),
        st.floats(-100.0, 7200.0),
        st.sampled_from([0.0, 1.0, 7.5, 60.0, 900.0]),
        energy,
        energy,
    ),
    max_size=50,
)


def _samples(rows: list[tuple[str, float, float, float | None, float | None]]) -> list[Sample]:
    return [Sample(d, T0 + a, T0 + a + w, h, e) for d, a, w, h, e in rows]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=samples_st, batch=st.integers(1, 9))
def test_kept_sums_equal_the_samples_sums_exactly(
    tmp_path: Path, rows: list[tuple[str, float, float, float | None, float | None]], batch: int
) -> None:
    samples = _samples(rows)
    path = tmp_path / f"{uuid.uuid4().hex}.sqlite"
    with open_ledger(path) as ledger:
        ledger.create_run(_run("r"), DEVICES)
        for lo in range(0, len(samples), batch):
            ledger.append_samples("r", samples[lo : lo + batch], heartbeat_at=T0)
        # added in the order they were written: the same floats as summing them in Python
        assert ledger.run_totals("r") == totals_from_samples(samples)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=samples_st,
    first=st.floats(-900.0, 3600.0),
    step=st.sampled_from([60.0, 300.0, 1800.0, 3600.0]),
    count=st.integers(1, 12),
    tree=st.booleans(),
)
def test_energy_by_step_in_one_pass_equals_python(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[tuple[str, float, float, float | None, float | None]],
    first: float,
    step: float,
    count: int,
    tree: bool,
) -> None:
    monkeypatch.setattr(sql_sums, "_MAX_TREE_BOUNDS", 8192 if tree else 1)
    samples = _samples(rows)
    bounds = [T0 + first + j * step for j in range(count + 1)]
    path = tmp_path / f"{uuid.uuid4().hex}.sqlite"
    with open_ledger(path) as ledger:
        ledger.create_run(_run("r"), DEVICES)
        if samples:
            ledger.append_samples("r", samples, heartbeat_at=T0)
        found = ledger.energy_by_step("r", bounds)
    expected = steps_from_samples(samples, bounds)
    assert found.rest == expected.rest
    assert found.steps.keys() == expected.steps.keys()
    for k, (joules, nonzero) in expected.steps.items():
        assert found.steps[k][1] == nonzero
        assert found.steps[k][0] == pytest.approx(joules, rel=1e-12, abs=1e-9)


def test_a_changed_sample_makes_the_sums_stale_then_summed_again(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    samples = [Sample("cpu", T0 + i, T0 + i + 1, 10.0, 10.0) for i in range(5)]
    with open_ledger(path) as ledger:
        ledger.create_run(_run("r"), DEVICES)
        ledger.append_samples("r", samples, heartbeat_at=T0)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE samples SET energy_j = 1.0 WHERE id = (SELECT MIN(id) FROM samples)")
    conn.execute("DELETE FROM samples WHERE id = (SELECT MAX(id) FROM samples)")
    assert conn.execute("SELECT stale FROM sample_totals").fetchall() == [(1,)]
    conn.close()
    with open_ledger(path) as ledger:
        totals = ledger.run_totals("r")["cpu"]
        assert (totals.energy_j, totals.host_energy_j, totals.samples) == (31.0, 40.0, 4)
        assert ledger.many_run_totals(["r"]) == {"r": ledger.run_totals("r")}
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute("UPDATE samples SET energy_j = -1.0 WHERE id = (SELECT MIN(id) FROM samples)")
    conn.close()
    with open_ledger(path) as ledger, pytest.raises(CorruptRunError, match="sample 0"):
        ledger.run_totals("r")


def test_a_damaged_sample_written_directly_is_counted_and_named(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with open_ledger(path) as ledger:
        ledger.create_run(_run("r"), DEVICES)
        ledger.append_samples("r", [Sample("cpu", T0, T0 + 1, 1.0, 1.0)], heartbeat_at=T0)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute(
        "INSERT INTO samples (run_id, device_id, t_start, t_end, host_energy_j, energy_j) "
        "VALUES ('r', 'gpu', ?, ?, 'oops', 2.0)",
        (T0, T0 + 1),
    )
    assert conn.execute("SELECT SUM(bad) FROM sample_totals").fetchone() == (1,)
    conn.close()
    with open_ledger(path) as ledger:
        with pytest.raises(CorruptRunError, match="host_energy_j"):
            ledger.run_totals("r")
        with pytest.raises(CorruptRunError, match="host_energy_j"):
            ledger.energy_by_step("r", [T0 - 10, T0 + 10])


def test_an_older_ledger_gets_its_sums_on_migration(tmp_path: Path) -> None:
    path = tmp_path / "v4.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    migrate(conn, path, MIGRATIONS[:4])
    conn.execute("COMMIT")
    conn.close()
    samples = [
        Sample("gpu", T0 + i, T0 + i + 1, 5.0 * i, None if i == 2 else 2.0) for i in range(6)
    ]
    # written as a version-4 ledger would have: no sums kept
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "INSERT INTO runs (run_id, name, phase, status, started_at, scope, interval_s, "
        "host_json, tags_json, settings_json) VALUES ('old', 'o', 'p', 'completed', ?, "
        "'machine', 1.0, '{}', '{}', '{}')",
        (T0,),
    )
    conn.executemany(
        "INSERT INTO samples (run_id, device_id, t_start, t_end, host_energy_j, energy_j) "
        "VALUES ('old', ?, ?, ?, ?, ?)",
        [(s.device_id, s.t_start, s.t_end, s.host_energy_j, s.energy_j) for s in samples],
    )
    conn.close()
    with open_ledger(path) as ledger:
        assert ledger.run_totals("old") == totals_from_samples(samples)
