"""The PostgreSQL ledger beyond the shared contract: schema versions, many nodes at once,
passwords never shown, and `carbonledger run` end to end (a throwaway server, pgserver.py)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.engines import require_module
from tests.store.pgserver import fresh_schema_url, shared_server

from carbonledger.distributed.job import job_footprint
from carbonledger.errors import LedgerError
from carbonledger.records import JobInfo, RunStatus, Sample, SpanRecord
from carbonledger.store import open_ledger
from carbonledger.store.postgres import (
    LedgerUnreachableError,
    PostgresLedger,
    redact_url,
)
from carbonledger.store.spool import SpoolingLedger
from carbonledger.testing import contract_devices, contract_run

CLI = [sys.executable, "-m", "carbonledger.cli.main"]
PASSWORD = "s3cr3t-Pa55"


def test_redact_url_hides_user_info_and_query_passwords() -> None:
    assert redact_url("postgresql://ann:pw@db:5432/x") == "postgresql://ann:***@db:5432/x"
    assert redact_url("postgres://db/x?password=pw&sslmode=require") == (
        "postgres://db/x?password=***&sslmode=require"
    )
    assert redact_url("postgresql://ann@db/x") == "postgresql://ann@db/x"
    assert redact_url("/a/ledger.sqlite") == "/a/ledger.sqlite"


def test_the_scheme_is_registered_and_the_schema_versioned() -> None:
    from carbonledger import plugins
    from carbonledger.store.registry import BUILTIN_SCHEMES

    assert {"postgresql", "postgres"} <= set(BUILTIN_SCHEMES)
    assert {"postgresql", "postgres"} <= set(plugins.available("carbonledger.ledgers"))
    url = fresh_schema_url(shared_server())
    with open_ledger(url.replace("postgresql://", "postgres://", 1)) as led:
        assert isinstance(led, PostgresLedger)
        led._tx("bump", lambda cur: cur.execute("INSERT INTO carbonledger_schema VALUES (99, 0)"))
    with pytest.raises(LedgerError, match="schema version 99, newer"):
        open_ledger(url)


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    require_module("psycopg", "psycopg_pool")
    url = f"postgresql://ann:{PASSWORD}@/x?host={tmp_path}/nowhere"
    with pytest.raises(LedgerUnreachableError) as err:
        open_ledger(url, connect_timeout_s=1)
    assert PASSWORD not in str(err.value) and "\n" not in str(err.value)
    env = {**os.environ, "CARBONLEDGER_LEDGER": url}
    p = subprocess.run([*CLI, "runs"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 3, p.stderr
    assert PASSWORD not in p.stderr + p.stdout
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


@pytest.mark.slow
def test_carbonledger_run_end_to_end_keeps_no_password(tmp_path: Path) -> None:
    server = shared_server()
    url = fresh_schema_url(server).replace("carbonledger@", f"carbonledger:{PASSWORD}@", 1)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    run = subprocess.run(
        [*CLI, "run", "--name", "pg-e2e", "--interval", "0.1", "--ledger", url, "--", "true"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    listed = subprocess.run(
        [*CLI, "runs", "--json", "--ledger", url], capture_output=True, text=True, env=env
    )
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["name"] for r in rows] == ["pg-e2e"]
    assert rows[0]["status"] == "completed"
    everything = run.stdout + run.stderr + listed.stdout + listed.stderr
    with open_ledger(url) as led:
        (record,) = led.list_runs()
        assert led.samples(record.run_id)
        stored = json.dumps([record.settings, record.host, record.tags])
    assert PASSWORD not in everything + stored
    assert "carbonledger:***@" in json.dumps(record.settings["argv"])
    assert not list((tmp_path / "state").rglob("ledger-*.sqlite")), "spool removed once uploaded"


T_JOB = 1_699_999_200.0  # a whole UTC hour


@pytest.mark.slow
def test_32_nodes_write_one_job_at_once_without_loss_or_duplicates(tmp_path: Path) -> None:
    """Each node is its own tracker link (spooling ledger, own pool) with its own host."""
    url = fresh_schema_url(shared_server())
    nodes, batches, devices = 32, 20, contract_devices()
    errors: list[BaseException] = []
    start = threading.Barrier(nodes)
    written: dict[str, list[Sample]] = {}

    def node(i: int) -> None:
        try:
            run = contract_run(
                hostname=f"node-{i:02d}",
                started_at=T_JOB,
                job=JobInfo("j1", f"node-{i:02d}", i, 0, 0, "explicit"),
            )
            start.wait()
            led = SpoolingLedger(url, root=tmp_path / f"spool-{i}", sync_pending=False)
            try:
                led.create_run(run, devices)
                mine: list[Sample] = []
                for b in range(batches):
                    t = run.started_at + b
                    batch = [Sample(d.device_id, t, t + 1, 10.0 + i, 5.0 + b) for d in devices]
                    led.append_samples(run.run_id, batch, time.time())
                    mine.extend(batch)
                led.add_span(run.run_id, SpanRecord("epoch", run.started_at, t + 1, {}))
                led.finish_run(run.run_id, RunStatus.COMPLETED, t + 1)
                assert led.online
            finally:
                led.close()
            written[run.run_id] = mine
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=node, args=(i,)) for i in range(nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:2]
    with open_ledger(url) as led:
        runs = led.list_runs()
        assert len(runs) == nodes
        assert len({r.host["hostname"] for r in runs}) == nodes
        for run in runs:
            assert run.status is RunStatus.COMPLETED
            assert led.samples(run.run_id) == written[run.run_id]
            assert len(led.spans(run.run_id)) == 1
    assert not list(tmp_path.rglob("ledger-*.sqlite")), "every spool uploaded and removed"
    # one job of 32 nodes, each counted once: its energy is every sample's, exactly
    with open_ledger(url) as led:
        job = job_footprint(led, "j1")
    assert len(job.nodes) == nodes and len(job.ranks) == nodes
    every = [s.energy_j for mine in written.values() for s in mine]
    assert job.energy_j == pytest.approx(math.fsum(e for e in every if e is not None))
    assert all(not n.gaps_s or max(n.gaps_s.values()) == 0 for n in job.nodes)
