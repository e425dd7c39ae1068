"""`carbonledger merge LEDGER... --into URL`: per-node ledgers into one, idempotent, never
counting a device twice (into SQLite always; into PostgreSQL with a throwaway server)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.store.pgserver import fresh_schema_url, shared_server

from carbonledger.cli.main import main
from carbonledger.records import RunStatus, Sample
from carbonledger.store import open_ledger
from carbonledger.testing import contract_devices, contract_run

T0 = 1.7e9


def node_ledger(path: Path, host: str, *, start: float = T0, run_id: str | None = None) -> str:
    run = contract_run(run_id, hostname=host, started_at=start, heartbeat_at=start + 10)
    run = dataclasses.replace(run, status=RunStatus.COMPLETED, ended_at=start + 10)
    with open_ledger(path) as led:
        led.create_run(run, contract_devices())
        samples = [
            Sample(d.device_id, start + i, start + i + 1, 2.0, 1.0)
            for i in range(10)
            for d in contract_devices()
        ]
        led.append_samples(run.run_id, samples, start + 10)
    return run.run_id


def sqlite_target(tmp_path: Path) -> str:
    return f"sqlite://{tmp_path}/merged.sqlite"


def postgres_target(tmp_path: Path) -> str:
    return fresh_schema_url(shared_server())


TARGETS = {"sqlite": sqlite_target, "postgres": postgres_target}


@pytest.fixture(params=sorted(TARGETS))
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    make: Callable[[Path], str] = TARGETS[request.param]
    return make(tmp_path)


def test_merge_is_idempotent_and_keeps_every_node(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "n1.sqlite", tmp_path / "n2.sqlite"
    ids = [node_ledger(a, "node-1"), node_ledger(b, "node-2")]
    assert main(["merge", str(a), str(b), "--into", target]) == 0
    assert "2 new, 60 sample(s) added" in capsys.readouterr().out
    assert main(["merge", str(a), str(b), "--into", target]) == 0
    assert "0 new, 0 sample(s) added" in capsys.readouterr().out
    with open_ledger(target) as led:
        assert sorted(r.run_id for r in led.list_runs()) == sorted(ids)
        for run_id in ids:
            assert len(led.samples(run_id)) == 30
            assert led.get_run(run_id).status is RunStatus.COMPLETED
            assert led.attachments(run_id)["merged_from"]["ledger"].endswith(".sqlite")


def test_merge_refuses_one_device_measured_by_two_ledgers(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "n1.sqlite", tmp_path / "copy.sqlite"
    first = node_ledger(a, "node-1")
    second = node_ledger(b, "node-1", start=T0 + 5)
    assert main(["merge", str(a), str(b), "--into", target]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert first in err and second in err and "node-1" in err and "twice" in err
    with open_ledger(target) as led:
        assert led.list_runs() == [], "nothing is written when a merge is refused"
    assert main(["merge", str(a), "--into", target]) == 0
    assert main(["merge", str(b), "--into", target]) == 3, "also against runs merged before"


def test_merge_refuses_one_run_id_with_different_samples(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "n1.sqlite", tmp_path / "n1-edited.sqlite"
    run_id = node_ledger(a, "node-1")
    node_ledger(b, "node-1", run_id=run_id)
    with open_ledger(b) as led:
        led.append_samples(run_id, [Sample("rapl:package-0", T0 + 20, T0 + 21, 9.0, 9.0)], T0)
    assert main(["merge", str(a), str(b), "--into", target]) == 3
    err = capsys.readouterr().err
    assert run_id in err and "different" in err
    assert main(["merge", str(a), "--into", target]) == 0
    assert main(["merge", str(b), "--into", target]) == 0, "new samples of a run are added"
    with open_ledger(target) as led:
        assert len(led.samples(run_id)) == 31


def test_merge_usage_errors(tmp_path: Path) -> None:
    a = tmp_path / "n1.sqlite"
    node_ledger(a, "node-1")
    assert main(["merge", str(a), str(a), "--into", sqlite_target(tmp_path)]) == 3
    assert main(["merge", str(a), "--into", str(a)]) == 3
    with pytest.raises(SystemExit) as exit_:
        main(["merge", str(a)])
    assert exit_.value.code == 2
