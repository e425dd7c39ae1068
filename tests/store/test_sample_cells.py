"""The kept per (run, device, 300 s) sample cells: SQLite schema v6, PostgreSQL schema v3.

What the triggers keep equals one GROUP BY over the samples (the back-fill an older ledger
gets on migration), whoever writes the samples and in whatever batches; a sample changed
or removed afterwards marks the run's cells stale, and the job is then read from a scan.
"""

from __future__ import annotations

import math
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonledger.records import Component, RunRecord, RunStatus, Sample, Scope
from carbonledger.sensors.fake import fake_device
from carbonledger.store import device_hours, open_ledger
from carbonledger.store._schema import CELL_S, MIGRATIONS, migrate
from carbonledger.store.device_hours import device_steps, steps_from_device_samples

T0 = 1_699_999_200.0  # a whole UTC hour
DEVICES = ("gpu", "cpu")
COLUMNS = (
    "run_id, device_id, z, cell, a, samples, duration_s, t_min, t_max, host_energy_j, "
    "covered_s, energy_j, missing, known_s, nonzero, bad, stale"
)


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


def _cells(conn: sqlite3.Connection) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    rows = conn.execute(f"SELECT {COLUMNS} FROM sample_cells").fetchall()
    return {tuple(r[:5]): tuple(r[5:]) for r in rows}


def _same_cells(a: dict[tuple[Any, ...], tuple[Any, ...]], b: dict[Any, Any]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        for x, y in zip(a[key], b[key], strict=True):
            if isinstance(x, float) and isinstance(y, float):
                assert math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-9), (key, x, y)
            else:
                assert x == y, (key, x, y)


samples_st = st.lists(
    st.tuples(
        st.sampled_from(DEVICES),
        st.floats(-400.0, 2000.0, allow_nan=False),
        st.sampled_from([0.0, 0.5, 1.0, 299.9, 300.0, 650.0]),
        st.one_of(st.none(), st.just(0.0), st.floats(0.0, 1e4)),
    ),
    max_size=40,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=samples_st, batch=st.integers(1, 9))
def test_kept_cells_equal_the_back_fill(tmp_path: Path, rows: list[Any], batch: int) -> None:
    path = tmp_path / f"{uuid.uuid4().hex}.sqlite"
    samples = [Sample(d, T0 + a, T0 + a + w, e, e) for d, a, w, e in rows]
    with open_ledger(path) as ledger:
        ledger.create_run(_run("r"), [])
        for lo in range(0, len(samples), batch):
            ledger.append_samples("r", samples[lo : lo + batch], heartbeat_at=T0)
    conn = sqlite3.connect(path, isolation_level=None)
    kept = _cells(conn)
    conn.execute("DELETE FROM sample_cells")
    conn.execute(MIGRATIONS[5][1])  # the back-fill an older ledger gets
    _same_cells(kept, _cells(conn))
    conn.close()
    for (_, _, z, cell, alone), row in kept.items():
        t_min, t_max = row[2], row[3]
        if not z:
            assert cell == math.floor(t_min / CELL_S)
            assert bool(alone) == (t_max > (cell + 1) * CELL_S)


def test_an_older_ledger_gets_its_cells_on_migration(tmp_path: Path) -> None:
    path = tmp_path / "v5.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    migrate(conn, path, MIGRATIONS[:5])
    conn.execute("COMMIT")
    conn.execute(
        "INSERT INTO runs (run_id, name, phase, status, started_at, scope, interval_s, "
        "host_json, tags_json, settings_json) VALUES ('old', 'o', 'p', 'completed', ?, "
        "'machine', 1.0, '{}', '{}', '{}')",
        (T0,),
    )
    samples = [Sample("gpu", T0 + i + 0.5, T0 + i + 1.5, 2.0, 2.0) for i in range(2400)]
    conn.executemany(
        "INSERT INTO samples (run_id, device_id, t_start, t_end, host_energy_j, energy_j) "
        "VALUES ('old', ?, ?, ?, ?, ?)",
        [(s.device_id, s.t_start, s.t_end, s.host_energy_j, s.energy_j) for s in samples],
    )
    assert (
        conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sample_cells'").fetchone() is None
    )
    conn.close()
    bounds = (T0, T0 + 1800.0, T0 + 3600.0)
    with open_ledger(path) as ledger:
        got = device_steps(ledger, ["old"], bounds)[("old", "gpu")]
    want = steps_from_device_samples("old", samples, bounds)["gpu"]
    assert got.energy_j == pytest.approx(want.energy_j)
    assert got.steps is not None and want.steps is not None
    assert dict(got.steps.steps) == dict(want.steps.steps)  # whole joules: exact
    assert len(got.steps.rest) == 1  # the sample across the half hour
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT SUM(samples) FROM sample_cells").fetchone() == (2400,)
    conn.close()


def test_a_changed_sample_marks_the_cells_stale_and_the_job_scans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "l.sqlite"
    samples = [Sample("gpu", T0 + i, T0 + i + 1, 10.0, 10.0) for i in range(600)]
    with open_ledger(path) as ledger:
        ledger.create_run(_run("r"), [])
        ledger.append_samples("r", samples, heartbeat_at=T0)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE samples SET energy_j = 1.0 WHERE id = (SELECT MIN(id) FROM samples)")
    assert {r[0] for r in conn.execute("SELECT stale FROM sample_cells")} == {1}
    conn.close()
    scanned: list[Any] = []
    scan = device_hours._sqlite_rows

    def counting(*args: Any) -> Any:
        scanned.append(args[1])
        return scan(*args)

    monkeypatch.setattr(device_hours, "_sqlite_rows", counting)
    with open_ledger(path) as ledger:
        got = device_steps(ledger, ["r"], (T0, T0 + 3600.0))[("r", "gpu")]
    assert scanned == [["r"]]
    assert got.energy_j == pytest.approx(599 * 10.0 + 1.0)


def test_postgres_keeps_the_same_cells_as_sqlite(tmp_path: Path) -> None:
    from tests.store.pgserver import fresh_schema_url, shared_server

    samples = [
        Sample(DEVICES[i % 2], T0 + 0.37 + i * 0.5, T0 + 0.37 + (i + 1) * 0.5, 1.0 * i, None)
        if i % 7 == 0
        else Sample(DEVICES[i % 2], T0 + 0.37 + i * 0.5, T0 + 0.37 + (i + 1) * 0.5, 1.0, 2.0)
        for i in range(1500)
    ]
    samples.append(Sample("gpu", T0 + 10.0, T0 + 10.0, 1.0, 1.0))
    kept: list[dict[Any, Any]] = []
    for url in (str(tmp_path / "l.sqlite"), fresh_schema_url(shared_server())):
        with open_ledger(url, connect_timeout_s=10) if "://" in url else open_ledger(url) as led:
            led.create_run(_run("r"), [fake_device(d, Component.GPU) for d in DEVICES])
            for lo in range(0, len(samples), 250):
                led.append_samples("r", samples[lo : lo + 250], heartbeat_at=T0)
            if "://" in url:
                rows = led._tx(  # type: ignore[attr-defined]
                    "read",
                    lambda cur: cur.execute(f"SELECT {COLUMNS} FROM sample_cells").fetchall(),
                )
            else:
                rows = led._read(  # type: ignore[attr-defined]
                    "read",
                    lambda conn: conn.execute(f"SELECT {COLUMNS} FROM sample_cells").fetchall(),
                )
        kept.append(
            {
                (r[0], r[1], bool(r[2]), int(r[3]), bool(r[4])): tuple(
                    int(v) if isinstance(v, bool) else v for v in r[5:]
                )
                for r in rows
            }
        )
    _same_cells(kept[0], kept[1])
