"""A node cut off from the shared database keeps writing to its local spool and uploads
it afterwards, with exactly the rows it recorded (a throwaway server, pgserver.py)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from tests.store.pgserver import PgServer, fresh_schema_url, shared_server

from carbonledger.cli.main import main
from carbonledger.records import RunStatus, Sample
from carbonledger.store import open_ledger
from carbonledger.store.spool import SpoolingLedger, spool_folder
from carbonledger.testing import contract_devices, contract_run


class Link:
    """A socket folder whose link to the server can be cut and restored, as a network."""

    def __init__(self, server: PgServer, folder: Path, app: str) -> None:
        self.server, self.folder, self.app = server, folder, app
        folder.mkdir()
        self.restore()

    def url(self) -> str:
        base = fresh_schema_url(self.server, application_name=self.app)
        return base.replace(f"host=%2F{str(self.server.socket_dir)[1:].replace('/', '%2F')}",
                            f"host={self.folder}")  # fmt: skip

    def cut(self) -> None:
        import psycopg

        (self.folder / ".s.PGSQL.5432").unlink()
        with psycopg.connect(self.server.url(), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (self.app,),
            )

    def restore(self) -> None:
        (self.folder / ".s.PGSQL.5432").symlink_to(self.server.socket_dir / ".s.PGSQL.5432")


def batch(run_id_start: float, b: int) -> list[Sample]:
    t = run_id_start + b
    return [Sample(d.device_id, t, t + 1, 1.0 + b, 0.5 + b) for d in contract_devices()]


@pytest.mark.slow
def test_a_node_cut_off_mid_job_spools_and_catches_up_without_duplicates(
    tmp_path: Path,
) -> None:
    link = Link(shared_server(), tmp_path / "net", "cut-node-a")
    url = link.url()
    root = tmp_path / "spool"
    led = SpoolingLedger(url, root=root, retry_s=0.2, sync_pending=False)
    run = contract_run(hostname="node-cut")
    led.create_run(run, contract_devices())
    recorded: list[Sample] = []
    for b in range(3):
        recorded += batch(run.started_at, b)
        led.append_samples(run.run_id, batch(run.started_at, b), time.time())
    assert led.online
    link.cut()
    for b in range(3, 8):
        recorded += batch(run.started_at, b)
        led.append_samples(run.run_id, batch(run.started_at, b), time.time())
    assert not led.online
    assert led.samples(run.run_id) == recorded, "the node's own view stays complete"
    mode = stat.S_IMODE(os.stat(led.spool_path).st_mode)
    assert mode == 0o600 and stat.S_IMODE(os.stat(led.spool_path.parent).st_mode) == 0o700
    link.restore()
    time.sleep(0.3)
    for b in range(8, 10):
        recorded += batch(run.started_at, b)
        led.append_samples(run.run_id, batch(run.started_at, b), time.time())
    assert led.online
    led.finish_run(run.run_id, RunStatus.COMPLETED, run.started_at + 10)
    led.close()
    assert not led.spool_path.exists(), "an uploaded spool is removed"
    with open_ledger(url) as db:
        assert db.samples(run.run_id) == recorded
        assert db.get_run(run.run_id).status is RunStatus.COMPLETED


@pytest.mark.slow
def test_a_spool_left_behind_is_synced_by_the_cli_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    link = Link(shared_server(), tmp_path / "net", "cut-node-b")
    url = link.url()
    led = SpoolingLedger(url, retry_s=60, sync_pending=False)
    run = contract_run(hostname="node-away")
    led.create_run(run, contract_devices())
    led.append_samples(run.run_id, batch(run.started_at, 0), time.time())
    link.cut()
    led.append_samples(run.run_id, batch(run.started_at, 1), time.time())
    led.finish_run(run.run_id, RunStatus.COMPLETED, run.started_at + 2)
    led.close()  # the database is still away: the spool stays
    assert led.spool_path.exists()
    assert main(["sync", "--ledger", url]) == 3  # still unreachable: one-line error
    link.restore()
    assert main(["sync", "--ledger", url]) == 0
    assert "synced 1 spool(s)" in capsys.readouterr().out
    assert not led.spool_path.exists()
    assert main(["sync", "--ledger", url]) == 0
    assert "synced 0 spool(s)" in capsys.readouterr().out
    with open_ledger(url) as db:
        assert db.samples(run.run_id) == batch(run.started_at, 0) + batch(run.started_at, 1)
        assert db.get_run(run.run_id).status is RunStatus.COMPLETED


@pytest.mark.slow
def test_a_tracker_opening_the_database_later_uploads_pending_spools(tmp_path: Path) -> None:
    url = fresh_schema_url(shared_server())
    root = tmp_path / "spool"
    run = contract_run(hostname="node-late", status=RunStatus.COMPLETED, ended_at=1e9 + 5)
    run = run.__class__(**{**run.__dict__, "started_at": 1e9, "heartbeat_at": 1e9})
    folder = spool_folder(url, root)
    pending = open_ledger(folder / "ledger-1-abc.sqlite")
    pending.create_run(run, contract_devices())
    pending.append_samples(run.run_id, batch(1e9, 0), 1e9 + 1)
    pending.close()
    later = SpoolingLedger(url, root=root)
    deadline = time.monotonic() + 30
    while (folder / "ledger-1-abc.sqlite").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    later.close()
    with open_ledger(url) as db:
        assert db.samples(run.run_id) == batch(1e9, 0)
    assert not list(folder.glob("ledger-*.sqlite"))
