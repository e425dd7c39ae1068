"""A job priced from sums in the store equals the job priced sample by sample.

Varied jobs (handovers, restarts, missing energy, a shared host, several zones with
time-aligned series, overlapping measurers, gaps, samples lasting no time) on SQLite,
memory and PostgreSQL ledgers; and the summed path really reads no samples where it
applies.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.store.pgserver import fresh_schema_url, shared_server

from carbonledger.distributed.job import job_footprint
from carbonledger.intensity.series import IntensitySeries
from carbonledger.records import (
    Component,
    JobInfo,
    RunRecord,
    RunStatus,
    Sample,
    Scope,
    SpanRecord,
)
from carbonledger.sensors.fake import fake_device
from carbonledger.store import open_ledger
from carbonledger.store.base import Ledger
from carbonledger.store.device_hours import device_steps, steps_from_device_samples
from carbonledger.store.sqlite import SqliteLedger

T0 = 1_700_000_000.0
HOUR_ALIGNED_T0 = 1_699_999_200.0  # a whole UTC hour: series on it are read from kept cells


@pytest.fixture(autouse=True, params=["unaligned", "hour-aligned"])
def origin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> float:
    """Each test twice: times off the kept cells' grid (the store scans the samples) and
    on it (the store sums its kept 300 s cells)."""
    value = T0 if request.param == "unaligned" else HOUR_ALIGNED_T0
    monkeypatch.setitem(globals(), "T0", value)
    return value


GPU = fake_device("nvml:GPU-aaaa", Component.GPU, uncertainty_rel=0.05)
CPU = fake_device("rapl:package-0", Component.CPU, uncertainty_rel=0.05)


def _sqlite(tmp_path: Path) -> Ledger:
    return open_ledger(tmp_path / f"{uuid.uuid4().hex}.sqlite")


def _memory(tmp_path: Path) -> Ledger:
    return open_ledger(f"memory://summed-{uuid.uuid4().hex}")


def _postgres(tmp_path: Path) -> Ledger:
    return open_ledger(fresh_schema_url(shared_server()), connect_timeout_s=10)


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    make = {"sqlite": _sqlite, "memory": _memory, "postgres": _postgres}[request.param]
    led = make(tmp_path)
    try:
        yield led
    finally:
        led.close()


def _run(
    led: Ledger,
    run_id: str,
    node: str,
    local: int,
    start: float,
    end: float | None,
    *,
    job: str | None = "j",
    restart: int = 0,
    zone: str = "FR",
    devices: tuple[Any, ...] = (GPU, CPU),
    scope: Scope = Scope.MACHINE,
    series: IntensitySeries | None = None,
) -> RunRecord:
    run = RunRecord(
        run_id=run_id,
        name="train",
        phase="training",
        status=RunStatus.RUNNING,
        started_at=start,
        ended_at=None,
        scope=scope,
        zone=zone,
        pue=1.2,
        interval_s=1.0,
        host={"hostname": node, "machine_id": f"m-{node}"},
        job=None if job is None else JobInfo(job, node, None, local, restart, "explicit"),
    )
    led.create_run(run, list(devices))
    if series is not None:
        led.put_series(run_id, series)  # type: ignore[attr-defined]
    if end is not None:
        led.finish_run(run_id, RunStatus.COMPLETED, end)
    return run


def _samples(
    led: Ledger,
    run_id: str,
    a: float,
    b: float,
    *,
    step: float = 1.0,
    power: Callable[[str, float], float | None] = lambda d, t: 100.0 + (t % 7),
    devices: tuple[str, ...] = (GPU.device_id, CPU.device_id),
    skip: Callable[[float], bool] = lambda t: False,
) -> None:
    rows: list[Sample] = []
    t = a
    while t < b - 1e-9:
        u = min(b, t + step)
        if not skip(t):
            for d in devices:
                p = power(d, t)
                e = None if p is None else p * (u - t)
                rows.append(Sample(d, t, u, e, e))
        t = u
    led.append_samples(run_id, rows, b)


def _series(zone: str, start: float, hours: int, *, step_s: float = 3600.0) -> IntensitySeries:
    return IntensitySeries(
        times=tuple(start + i * step_s for i in range(hours)),
        values_g_per_kwh=tuple(50.0 + 10 * i for i in range(hours)),
        zone=zone,
        last_step_s=step_s,
    )


def _close(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


def _same(led: Ledger, key: str = "j") -> dict[str, Any]:
    summed = job_footprint(led, key).to_dict()
    exact = job_footprint(led, key, sample_by_sample=True).to_dict()
    _close(summed, exact)
    return summed


def test_two_nodes_with_spans_and_zones(ledger: Ledger) -> None:
    for n, zone in (("n1", "FR"), ("n2", "DE")):
        series = _series(zone, T0 - 1800, 2)
        _run(ledger, f"{n}-0", n, 0, T0, T0 + 7300, zone=zone, series=series)
        _run(ledger, f"{n}-1", n, 1, T0, T0 + 7300, zone=zone, series=series)
        # fractional starts: samples cross the hour's end
        _samples(ledger, f"{n}-0", T0 + 0.37, T0 + 7300, step=2.5)
        ledger.add_span(f"{n}-1", SpanRecord("epoch", T0 + 10, T0 + 4000.5, {GPU.device_id: None}))
        ledger.add_span(f"{n}-0", SpanRecord("epoch", T0 + 10, T0 + 4000.5, {GPU.device_id: 9.0}))
    d = _same(ledger)
    assert {n["zone"] for n in d["nodes"]} == {"FR", "DE"}
    assert all(n["intensity"]["time_aligned"] is False for n in d["nodes"])  # ends at T0 + 5400
    filled = [s for r in d["ranks"] for s in r["spans"] if s["filled_from_measurer"]]
    assert len(filled) == 2


def test_handover_restart_and_missing_energy(ledger: Ledger) -> None:
    _run(ledger, "a", "n1", 0, T0, T0 + 100)
    _run(ledger, "b", "n1", 1, T0, T0 + 300)
    _samples(ledger, "a", T0 + 1, T0 + 100)  # the first reading is a baseline: 1 s gap
    _samples(  # the standby took over after about one interval, CPU readings missing
        ledger,
        "b",
        T0 + 101.5,
        T0 + 300,
        power=lambda d, t: None if d == CPU.device_id and 150 <= t - T0 < 160 else 80.0,
    )
    _run(ledger, "c", "n1", 0, T0 + 400, T0 + 500, restart=1)
    _samples(ledger, "c", T0 + 400, T0 + 500, power=lambda d, t: 0.0 if t - T0 < 450 else 50.0)
    d = _same(ledger)
    assert d["restarts"] == {"0": 2, "1": 1}
    assert any("nobody measured" in w for w in d["warnings"])
    assert any("without a reading" in w for w in d["warnings"])


def test_sample_by_sample_where_the_sums_would_not_do(ledger: Ledger) -> None:
    series = _series("FR", T0, 3, step_s=1800.0)
    # n1: two processes measured the GPU at once (no working lock)
    _run(ledger, "o1", "n1", 0, T0, T0 + 200, series=series)
    _run(ledger, "o2", "n1", 1, T0, T0 + 200, series=series)
    _samples(ledger, "o1", T0, T0 + 200)
    _samples(ledger, "o2", T0 + 50.5, T0 + 150, devices=(GPU.device_id,))
    # n2: a gap inside one run, and samples lasting no time
    _run(ledger, "g", "n2", 0, T0, T0 + 200)
    _samples(ledger, "g", T0, T0 + 200, skip=lambda t: 60 <= t - T0 < 70)
    ledger.append_samples("g", [Sample(GPU.device_id, T0 + 5, T0 + 5, 3.0, 3.0)], T0 + 200)
    # n3: shares its host with a run of no job
    _run(ledger, "s", "n3", 0, T0, T0 + 200)
    _run(ledger, "alone", "n3", 0, T0 + 50, T0 + 120, job=None)
    _samples(ledger, "s", T0, T0 + 200)
    _samples(ledger, "alone", T0 + 50, T0 + 120)
    d = _same(ledger)
    assert any("two processes at once" in w for w in d["warnings"])
    gaps = {n["node"]: {x["device"]: x["gap_s"] for x in n["devices"]} for n in d["nodes"]}
    assert gaps["n2"][GPU.device_id] == pytest.approx(10.0)


def test_an_irregular_series_and_a_device_without_samples(ledger: Ledger) -> None:
    series = IntensitySeries(
        times=(T0 - 100, T0 + 30, T0 + 45, T0 + 300),
        values_g_per_kwh=(10.0, 200.0, 30.0, 70.0),
        zone="FR",
        last_step_s=1000.0,
    )
    other = fake_device("nvml:GPU-bbbb", Component.GPU, uncertainty_rel=0.05)
    _run(ledger, "i", "n1", 0, T0, T0 + 400, devices=(GPU, CPU, other), series=series)
    _samples(ledger, "i", T0 + 0.25, T0 + 400, step=3.0)
    d = _same(ledger)
    assert d["nodes"][0]["intensity"]["time_aligned"] is True


def test_the_sums_read_no_sample(tmp_path: Path) -> None:
    read: list[str] = []

    class Counting(SqliteLedger):
        def samples(self, run_id: str) -> list[Sample]:
            read.append(run_id)
            return super().samples(run_id)

    led = Counting(tmp_path / "l.sqlite")
    try:
        series = _series("FR", T0, 3)
        for n in ("n1", "n2"):
            _run(led, f"{n}-0", n, 0, T0, T0 + 7000, series=series)
            _run(led, f"{n}-1", n, 1, T0, T0 + 7000, series=series, devices=())
            _samples(led, f"{n}-0", T0 + 0.5, T0 + 7000, step=2.0)
        summed = job_footprint(led, "j")
        assert read == []
        exact = job_footprint(led, "j", sample_by_sample=True)
        assert read  # the reference reads them
        _close(summed.to_dict(), exact.to_dict())
    finally:
        led.close()


def test_device_steps_equal_the_reference(ledger: Ledger) -> None:
    _run(ledger, "r", "n1", 0, T0, T0 + 500)
    _samples(
        ledger,
        "r",
        T0 - 50.3,
        T0 + 500,
        step=1.7,
        power=lambda d, t: None if int(t) % 11 == 0 else float(int(t) % 5),
    )
    ledger.append_samples("r", [Sample(CPU.device_id, T0 + 9, T0 + 9, 1.0, 1.0)], T0 + 500)
    for bounds in (None, (T0, T0 + 100, T0 + 200, T0 + 330), (T0 + 1000, T0 + 2000)):
        got = device_steps(ledger, ["r"], bounds)
        want = steps_from_device_samples("r", ledger.samples("r"), bounds)
        assert set(got) == {("r", d) for d in want}
        for (_, d), g in got.items():
            w = want[d]
            _close(
                {k: v for k, v in vars(g).items() if k != "steps"},
                {k: v for k, v in vars(w).items() if k != "steps"},
            )
            if bounds is not None:
                assert g.steps is not None and w.steps is not None
                _close(dict(g.steps.steps), dict(w.steps.steps))
                assert sorted(s.t_start for s in g.steps.rest) == sorted(
                    s.t_start for s in w.steps.rest
                )


@pytest.mark.parametrize("origin", ["hour-aligned"], indirect=True)
@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_aligned_series_are_read_from_kept_cells(
    store: str, origin: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carbonledger.store import device_hours

    assert origin == HOUR_ALIGNED_T0

    def no_scan(*args: Any) -> Any:
        raise AssertionError("scanned every sample although the kept cells would do")

    monkeypatch.setattr(device_hours, "_sqlite_rows", no_scan)
    monkeypatch.setattr(device_hours, "_postgres_rows", no_scan)
    led = _sqlite(tmp_path) if store == "sqlite" else _postgres(tmp_path)
    try:
        series = _series("FR", T0 - 1800, 3, step_s=1800.0)
        _run(led, "c-0", "n1", 0, T0, T0 + 3000.3, series=series)
        _run(led, "c-1", "n1", 1, T0, T0 + 3000.3, series=series, devices=())
        _samples(led, "c-0", T0 + 0.3, T0 + 3000.3, step=1.0)
        _same(led)
        for bounds in (None, (T0 - 1800, T0, T0 + 1800, T0 + 3600)):
            got = device_steps(led, ["c-0"], bounds)
            want = steps_from_device_samples("c-0", led.samples("c-0"), bounds)
            for (_, d), g in got.items():
                _close(vars(g)["energy_j"], vars(want[d])["energy_j"])
                if bounds is not None:
                    assert g.steps is not None and want[d].steps is not None
                    _close(dict(g.steps.steps), dict(want[d].steps.steps))
    finally:
        led.close()


def test_postgres_sums_read_no_sample() -> None:
    from carbonledger.store.postgres import PostgresLedger

    read: list[str] = []

    class Counting(PostgresLedger):
        def samples(self, run_id: str) -> list[Sample]:
            read.append(run_id)
            return super().samples(run_id)

    led = open_ledger(fresh_schema_url(shared_server()), connect_timeout_s=10)
    assert isinstance(led, PostgresLedger)
    led.__class__ = Counting
    try:
        series = _series("FR", T0, 3)
        _run(led, "p-0", "n1", 0, T0, T0 + 7000, series=series)
        _samples(led, "p-0", T0 + 0.5, T0 + 7000, step=2.0)
        summed = job_footprint(led, "j")
        assert read == []
        _close(summed.to_dict(), job_footprint(led, "j", sample_by_sample=True).to_dict())
    finally:
        led.close()


@pytest.mark.parametrize("value", ["not a number", -1.0])
def test_a_damaged_sample_is_named_as_before(ledger: Ledger, value: Any) -> None:
    from tests.store.conftest import tamper_memory, tamper_postgres, tamper_sqlite

    from carbonledger.errors import CorruptRunError
    from carbonledger.store.memory import MemoryLedger

    _run(ledger, "d", "n1", 0, T0, T0 + 20)
    _samples(ledger, "d", T0, T0 + 20)
    tamper = (
        tamper_sqlite
        if isinstance(ledger, SqliteLedger)
        else tamper_memory
        if isinstance(ledger, MemoryLedger)
        else tamper_postgres
    )
    tamper(ledger, "d", "samples.energy_j", value)
    with pytest.raises(CorruptRunError) as summed:
        job_footprint(ledger, "j")
    with pytest.raises(CorruptRunError) as exact:
        job_footprint(ledger, "j", sample_by_sample=True)
    assert str(summed.value) == str(exact.value)
