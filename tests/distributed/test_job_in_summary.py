"""``summary --by job``: a job's row is the job's one footprint, not its runs added up.

Four ranks on one node (one measures, with a stretch nobody measured at the start) and a
job over two nodes, beside runs of no job: each job row equals ``job_footprint`` (and
``carbonledger job KEY --json``), its operational and embodied add up to its total, the
runs of no job are summed as before, and a job that cannot be priced says so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from carbonledger.cli.main import main
from carbonledger.distributed import job as job_module
from carbonledger.distributed.job import job_footprint
from carbonledger.errors import LedgerError
from carbonledger.records import Component, JobInfo, RunRecord, RunStatus, Sample, Scope
from carbonledger.report.frame import stream_footprints
from carbonledger.report.summary import (
    FIELDS,
    job_facts,
    summarize,
    summarize_ledger,
    summary_facts,
)
from carbonledger.sensors.fake import fake_device
from carbonledger.store import open_ledger
from carbonledger.store.base import Ledger

T0 = 1_700_000_000.0
GPU = fake_device("nvml:GPU-aaaa", Component.GPU, uncertainty_rel=0.05)
CPU = fake_device("rapl:package-0", Component.CPU, uncertainty_rel=0.05)
COLUMNS = [column for _, column in FIELDS]


def _run(
    led: Ledger,
    run_id: str,
    node: str,
    *,
    job: str | None,
    rank: int | None = None,
    local: int | None = None,
    start: float = T0,
    end: float = T0 + 60,
    name: str = "train",
) -> None:
    led.create_run(
        RunRecord(
            run_id=run_id,
            name=name,
            phase="training",
            status=RunStatus.RUNNING,
            started_at=start,
            ended_at=None,
            scope=Scope.MACHINE,
            zone="FR",
            pue=1.2,
            interval_s=1.0,
            host={"hostname": node, "machine_id": f"m-{node}"},
            job=None if job is None else JobInfo(job, node, rank, local, 0, "explicit"),
        ),
        [GPU, CPU],
    )
    led.finish_run(run_id, RunStatus.COMPLETED, end)


def _samples(led: Ledger, run_id: str, a: float, b: float, watts: float = 100.0) -> None:
    rows = []
    t = a
    while t < b - 1e-9:
        u = min(b, t + 1.0)
        for d in (GPU.device_id, CPU.device_id):
            e = (watts + (t % 7)) * (u - t)
            rows.append(Sample(d, t, u, e, e))
        t = u
    led.append_samples(run_id, rows, b)


def _build(path: Path) -> None:
    """Job "one-node": 4 ranks on n1, rank 0 measures from 5 s in (the first 5 s are
    modelled); job "two-nodes": 2 ranks on each of n2 and n3; two runs of no job on n4."""
    with open_ledger(path) as led:
        for i in range(4):
            _run(led, f"a{i}", "n1", job="one-node", rank=i, local=i)
        _samples(led, "a0", T0 + 5, T0 + 60)
        for i, node in enumerate(("n2", "n2", "n3", "n3")):
            _run(led, f"b{i}", node, job="two-nodes", rank=i, local=i % 2)
        _samples(led, "b0", T0, T0 + 60, watts=200.0)
        _samples(led, "b2", T0, T0 + 60, watts=50.0)
        _run(led, "c0", "n4", job=None, start=T0 + 100, end=T0 + 130, name="prep")
        _samples(led, "c0", T0 + 100, T0 + 130)
        _run(led, "c1", "n4", job=None, start=T0 + 200, end=T0 + 220, name="prep")
        _samples(led, "c1", T0 + 200, T0 + 220, watts=30.0)


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.sqlite"
    _build(path)
    return path


def _expected(path: Path, key: str) -> dict[str, Any]:
    with open_ledger(path) as led:
        return job_footprint(led, key).to_dict()


def _adds_up(row: dict[str, Any]) -> None:
    op, emb, total = row["operational_kgco2e"], row["embodied_kgco2e"], row["total_kgco2e"]
    assert op is not None and emb is not None and total is not None
    assert math.isclose(op + emb, total, rel_tol=1e-12), row


def test_a_job_row_is_the_job_footprint(ledger_path: Path) -> None:
    with open_ledger(ledger_path) as led:
        rows, overall = summarize_ledger(led, "job")
        ranks = {
            fp.run_id: summary_facts(fp)
            for _, fp in stream_footprints(led, [])
            if fp.job is not None and fp.job["key"] == "one-node"
        }
    by_group = {r.group: r for r in rows}
    assert list(by_group) == ["one-node", "two-nodes", None]
    for key, nodes in (("one-node", 1), ("two-nodes", 2)):
        want = _expected(ledger_path, key)
        row = by_group[key].to_dict()
        assert row["runs"] == 4 and row["method"] == "job"
        for column in COLUMNS:
            assert row[column] == want[column], (key, column)
            assert row["missing"][column] == 0
        assert row["uncertainty"] == {
            "energy_kwh": want["uncertainty"]["energy_kwh"],
            "total_kgco2e": want["uncertainty"]["total_kgco2e"],
        }
        assert row["job"]["nodes"] == nodes and row["job"]["runs"] == 4
        assert row["job"]["uncertainty"]["method"] == "quadrature"
        assert (
            row["job"]["uncertainty"]["energy_kwh_linear"]
            == (want["uncertainty"]["energy_kwh_linear"])
        )
        assert row["warnings"] == want["warnings"]
        _adds_up(row)
    # what adding the ranks up got wrong: embodied once per rank, the gap left out
    one = by_group["one-node"].totals
    summed_embodied = math.fsum(f["embodied_kgco2e"] for f in ranks.values())
    summed_energy = math.fsum(f["energy_kwh"] for f in ranks.values() if f["energy_kwh"])
    assert one["embodied_kgco2e"] is not None and one["energy_kwh"] is not None
    assert one["embodied_kgco2e"] == pytest.approx(summed_embodied / 4, rel=1e-9)
    assert one["energy_kwh"] > summed_energy
    assert any("nobody measured" in w for w in by_group["one-node"].warnings)
    # the overall row adds the rows
    for column in COLUMNS:
        assert overall.totals[column] == math.fsum(r.totals[column] or 0.0 for r in rows)
    assert overall.runs == 10 and overall.method == "sum"


def test_runs_of_no_job_are_summed_as_before(ledger_path: Path) -> None:
    with open_ledger(ledger_path) as led:
        loose = [summary_facts(fp) for _, fp in stream_footprints(led, []) if fp.job is None]
        rows, _ = summarize_ledger(led, "job")
    before, _ = summarize(loose, "phase")
    none_row = rows[-1]
    assert none_row.group is None and none_row.runs == 2 and none_row.method == "sum"
    assert none_row.totals == before[0].totals and none_row.missing == before[0].missing
    assert none_row.intervals == before[0].intervals and none_row.warnings == ()


def test_other_groupings_keep_their_keys(ledger_path: Path) -> None:
    with open_ledger(ledger_path) as led:
        rows, overall = summarize_ledger(led, "phase")
    assert rows[0].method is None and "method" not in rows[0].to_dict()
    assert list(overall.to_dict()) == [
        "group",
        "runs",
        *COLUMNS,
        "missing",
        "uncertainty",
    ]


def test_one_footprint_per_job_key_not_per_run(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counted(led: Ledger, key: str, **kw: Any) -> Any:
        calls.append(key)
        return job_footprint(led, key, **kw)

    monkeypatch.setattr(job_module, "job_footprint", counted)
    with open_ledger(ledger_path) as led:
        summarize_ledger(led, "job")
    assert sorted(calls) == ["one-node", "two-nodes"]


def test_a_job_that_cannot_be_priced_says_so(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(led: Ledger, key: str, **kw: Any) -> Any:
        if key == "two-nodes":
            raise LedgerError("samples of run b0 are damaged")
        return job_footprint(led, key, **kw)

    monkeypatch.setattr(job_module, "job_footprint", broken)
    with open_ledger(ledger_path) as led:
        rows, overall = summarize_ledger(led, "job")
    row = next(r for r in rows if r.group == "two-nodes")
    assert all(row.totals[c] is None for c in COLUMNS)  # no sum of its runs instead
    assert row.missing == dict.fromkeys(COLUMNS, 4)
    assert "cannot be computed" in row.warnings[0] and "damaged" in row.warnings[0]
    assert overall.missing["total_kgco2e"] == 4
    assert main(["summary", "--by", "job", "--ledger", str(ledger_path)]) == 0
    out = capsys.readouterr().out
    assert "note: two-nodes: the job's footprint cannot be computed" in out
    assert "total_kgco2e: 4 run(s)" in out


def test_filters_that_take_part_of_a_job_are_said() -> None:
    job = {
        "energy_kwh": 1.0,
        "operational_kgco2e": 0.3,
        "embodied_kgco2e": 0.1,
        "total_kgco2e": 0.4,
        "uncertainty": {"energy_kwh": [0.9, 1.1], "total_kgco2e": [0.35, 0.45]},
        "runs": 4,
        "nodes": 1,
    }
    rows, _ = summarize([{"job": {"key": "k"}}] * 2, "job", jobs={"k": job})
    assert rows[0].totals["total_kgco2e"] == 0.4 and rows[0].runs == 2
    assert "covers all 4 of its runs; 2 matched" in rows[0].warnings[0]
    # no footprint given for a job: summed, and said to be no job footprint
    rows, _ = summarize([{"job": {"key": "k"}, "total_kgco2e": 1.0}] * 2, "job")
    assert rows[0].totals["total_kgco2e"] == 2.0 and rows[0].method == "sum"
    assert "not the job's footprint" in rows[0].warnings[0]


def test_job_facts_keep_what_a_row_needs(ledger_path: Path) -> None:
    with open_ledger(ledger_path) as led:
        fp = job_footprint(led, "two-nodes")
    facts = job_facts(fp)
    assert facts == job_facts(fp.to_dict()) == job_facts(facts)
    assert facts["nodes"] == 2 and facts["runs"] == 4 and "ranks" not in facts
    # summarize takes the footprint itself, its JSON or its facts alike
    runs = [{"job": {"key": "two-nodes"}}] * 4
    rows = [summarize(runs, "job", jobs={"two-nodes": j})[0][0] for j in (fp, fp.to_dict())]
    assert rows[0] == rows[1] == summarize(runs, "job", jobs={"two-nodes": facts})[0][0]
    assert (
        rows[0].job is not None
        and rows[0].job["nodes"] == 2
        and rows[0].warnings == tuple(fp.warnings)
    )


def test_cli_json_rows_equal_the_job_command(
    ledger_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", "--by", "job", "--json", "--ledger", str(ledger_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    groups = {g["group"]: g for g in data["groups"]}
    assert set(groups) == {"one-node", "two-nodes", None}
    for key in ("one-node", "two-nodes"):
        assert main(["job", key, "--json", "--no-sacct", "--ledger", str(ledger_path)]) == 0
        want = json.loads(capsys.readouterr().out)
        for column in COLUMNS:
            assert groups[key][column] == want[column], (key, column)
        assert groups[key]["uncertainty"]["energy_kwh"] == want["uncertainty"]["energy_kwh"]
        assert groups[key]["uncertainty"]["total_kgco2e"] == want["uncertainty"]["total_kgco2e"]
        _adds_up(groups[key])
    assert groups[None]["method"] == "sum" and groups[None]["runs"] == 2
    for column in ("energy_kwh", "operational_kgco2e", "total_kgco2e"):
        assert math.fsum(g[column] for g in data["groups"]) == data["total"][column]
    assert data["skipped"] == []
    assert main(["summary", "--by", "job", "--ledger", str(ledger_path)]) == 0
    text = capsys.readouterr().out
    assert "one-node" in text and "(none)" in text and "as `carbonledger job KEY` gives" in text


def test_runs_table_has_a_job_column_only_with_jobs(
    ledger_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--ledger", str(ledger_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("  job")
    by_id = {line[:12].strip(): line for line in lines[1:]}
    assert by_id["a2"].endswith("  one-node r2") and by_id["c0"].endswith("  -")
    assert main(["runs", "--job", "two-nodes", "--ledger", str(ledger_path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5
    # runs of no job: the table as it was
    plain = tmp_path / "plain.sqlite"
    with open_ledger(plain) as led:
        _run(led, "p0", "n9", job=None)
    assert main(["runs", "--ledger", str(plain)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("carbon") and "job" not in lines[0]
