"""Pricing a listing page by page (batched reads, kept sums, the per-listing memo) gives
what pricing each run alone gives, on a varied ledger: shared hosts, kept series, spans,
missing energy, embodied presets, kept warnings, and damaged rows (each damaged run is
reported with the same error, and hides no other)."""

from __future__ import annotations

import math
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from carbonledger.errors import CarbonLedgerError
from carbonledger.lifecycle.pricing import footprint_for_run
from carbonledger.records import Component, DeviceInfo, Method, RunRecord, RunStatus, Sample, Scope
from carbonledger.report.frame import price_runs
from carbonledger.store import open_ledger
from carbonledger.store.base import Ledger
from carbonledger.store.run_facts import facts_from_reads, many_run_facts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "golden"))
from golden_ledger import T0, build

A100 = [
    DeviceInfo(
        f"nvml:GPU-{i}", Component.GPU, "NVIDIA A100-SXM4-80GB", Method.MEASURED, "nvml", 0.05
    )
    for i in range(2)
]


def _extra_runs(path: Path) -> dict[str, str]:
    """Runs beyond the golden ledger: presets, kept warnings, and three damaged ones."""
    names: dict[str, str] = {}
    with open_ledger(path) as ledger:
        for k, preset in enumerate((None, "bloom-a100-node", None, None, None, None)):
            run_id = f"extra{k:02d}"
            start = T0 + 200_000 + k * 3000.0 + (k % 2) * 0.25
            ledger.create_run(
                RunRecord(
                    run_id=run_id,
                    name="extra",
                    phase="training",
                    status=RunStatus.RUNNING,
                    started_at=start,
                    ended_at=None,
                    scope=Scope.MACHINE,
                    zone="FR",
                    pue=None,
                    interval_s=10.0,
                    host={"hostname": f"gpu-node-{k}", "host_share": 0.5, "host_share_kind": "vm"}
                    if k == 2
                    else {"hostname": f"gpu-node-{k}"},
                    embodied=preset,
                ),
                A100,
            )
            ledger.append_samples(
                run_id,
                [
                    Sample(d.device_id, start + i * 10, start + (i + 1) * 10, 2500.0 + i, 2500.0)
                    for i in range(30 + k)
                    for d in A100
                ],
                heartbeat_at=start + 300,
            )
            ledger.put_attachment(run_id, "warnings", {"messages": [f"caveat {k}"]})
            ledger.finish_run(run_id, RunStatus.COMPLETED, start + (30 + k) * 10)
            names[f"run{k}"] = run_id
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        # a damaged span, a damaged sample, a damaged device: each run alone names it
        conn.execute("UPDATE runs SET name = 'x' WHERE run_id = 'extra03'")
        conn.execute(
            "INSERT INTO spans (run_id, path, started_at, ended_at, energy_json, "
            "host_energy_json) VALUES ('extra03', 'bad', 1.0, 2.0, 'not json', '{}')"
        )
        conn.execute(
            "UPDATE samples SET energy_j = -5 WHERE id = (SELECT MIN(id) FROM samples "
            "WHERE run_id = 'extra04')"
        )
        conn.execute(
            "UPDATE devices SET details_json = '[1]' WHERE run_id = 'extra05' AND position = 1"
        )
        # another attachment that does not decode: the kept warnings are not read (as before)
        conn.execute(
            "INSERT INTO attachments (run_id, key, data_json) VALUES ('extra01', 'zzz', '{')"
        )
    finally:
        conn.close()
    return names


@pytest.fixture(scope="module")
def ledger_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("batched") / "ledger.sqlite"
    build(path)
    _extra_runs(path)
    return path


def _alone(ledger: Ledger, run_id: str) -> Any:
    try:
        return footprint_for_run(ledger, run_id).to_dict()
    except CarbonLedgerError as exc:
        return f"error: {exc}"


def _batched(ledger: Ledger, page: int) -> dict[str, Any]:
    runs = ledger.list_runs()
    return {
        run.run_id: fp.to_dict() if fp is not None else f"error: {error}"
        for run, fp, error in price_runs(ledger, runs, everything=runs, page=page)
    }


@pytest.mark.parametrize("page", [1, 4, 500])
def test_batched_pricing_equals_pricing_each_run_alone(ledger_path: Path, page: int) -> None:
    with open_ledger(ledger_path) as ledger:
        batched = _batched(ledger, page)
        alone = {run_id: _alone(ledger, run_id) for run_id in batched}
    assert len(batched) == 20
    assert batched == alone  # bit for bit: the same sums, the same memoised numbers
    errors = {k: v for k, v in batched.items() if isinstance(v, str)}
    assert sorted(errors) == ["extra03", "extra04", "extra05"]
    assert "span 'bad'" in errors["extra03"] and "sample" in errors["extra04"]
    shared = [v for v in batched.values() if isinstance(v, dict) and v["shared_with"]]
    assert len(shared) == 3
    assert batched["extra00"]["warnings"][0] == "caveat 0"
    assert "caveat 1" not in batched["extra01"]["warnings"]  # a damaged attachment beside it
    assert batched["extra01"]["embodied"] != batched["extra00"]["embodied"]  # its preset


def test_batched_facts_equal_per_run_reads(ledger_path: Path) -> None:
    with open_ledger(ledger_path) as ledger:
        ids = [r.run_id for r in ledger.list_runs()]
        batched = many_run_facts(ledger, ids)
        assert sorted(set(ids) - set(batched)) == ["extra03", "extra05"]  # left to read alone
        for run_id, facts in batched.items():
            assert facts == facts_from_reads(ledger, run_id)


class _Plain:
    """The same ledger without its optional batch reads and sums (the generic fallbacks)."""

    _hidden = ("many_run_facts", "many_run_totals", "run_totals", "energy_by_step")

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def __getattr__(self, name: str) -> Any:
        if name in self._hidden:
            raise AttributeError(name)
        return getattr(self._ledger, name)


def _close(a: Any, b: Any, where: str = "") -> None:
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{where}: {a} != {b}"
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_generic_fallbacks_price_the_same(ledger_path: Path) -> None:
    with open_ledger(ledger_path) as ledger:
        fast = _batched(ledger, 7)
        plain = _batched(_Plain(ledger), 7)  # type: ignore[arg-type]
    _close(fast, plain)
