"""Many processes writing one ledger at once lose nothing and never see "locked"."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from ledger_factories import DEVICES, make_run

from carbonledger.records import RunStatus, Sample, SpanRecord
from carbonledger.store import open_ledger

WRITERS = 8
BATCHES = 200
PER_BATCH = 3
SPANS = 20
METRIC_ROUNDS = 20


def _writer(path: str, index: int, start: threading.Event) -> str:
    start.wait(30)
    try:
        with open_ledger(Path(path), busy_timeout_s=0.05) as led:
            run = make_run(f"writer{index:02d}" + "0" * 24, name=f"w{index}")
            led.create_run(run, DEVICES)
            for b in range(BATCHES):
                t = run.started_at + b
                batch = [
                    Sample(d.device_id, t, t + 1, float(b), None if b % 7 == 0 else b / 2)
                    for d in DEVICES[:PER_BATCH]
                ]
                led.append_samples(run.run_id, batch, heartbeat_at=t + 1)
                if b % (BATCHES // SPANS) == 0:
                    led.add_span(run.run_id, SpanRecord(f"s{b}", t, t + 1, {"rapl:package-0": 1.0}))
                if b % (BATCHES // METRIC_ROUNDS) == 0:
                    led.log_metrics(run.run_id, {"step": b, f"only{index}": True})
                if b % 50 == 0:
                    led.list_runs()  # readers interleave with writers
            led.finish_run(run.run_id, RunStatus.COMPLETED, run.started_at + BATCHES)
    except BaseException as exc:  # reported to the parent, never swallowed
        return f"writer {index}: {exc!r}"
    return ""


@pytest.mark.slow
def test_eight_processes_write_one_ledger(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "ledger.sqlite"
    ctx = multiprocessing.get_context("spawn")
    began = time.monotonic()
    with ctx.Manager() as manager, ctx.Pool(WRITERS) as pool:
        start = manager.Event()
        pending = [pool.apply_async(_writer, (str(path), i, start)) for i in range(WRITERS)]
        time.sleep(0.5)  # let every worker start, then release them together
        start.set()
        errors = [p.get(timeout=240) for p in pending]
    assert [e for e in errors if e] == []
    elapsed = time.monotonic() - began

    conn = sqlite3.connect(path)
    count = lambda table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: E731
    assert count("runs") == WRITERS
    assert count("devices") == WRITERS * len(DEVICES)
    assert count("samples") == WRITERS * BATCHES * PER_BATCH
    assert count("spans") == WRITERS * SPANS
    assert count("metrics") == WRITERS * 2
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()

    with open_ledger(path) as led:
        runs = led.list_runs()
        assert {r.status for r in runs} == {RunStatus.COMPLETED}
        for run in runs:
            samples = led.samples(run.run_id)
            assert len(samples) == BATCHES * PER_BATCH
            nulls = sum(s.energy_j is None for s in samples)
            assert nulls == PER_BATCH * len(range(0, BATCHES, 7))
            assert led.metrics(run.run_id)["step"] == BATCHES - BATCHES // METRIC_ROUNDS
    assert elapsed < 200
