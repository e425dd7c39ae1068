"""``carbonledger summary --by ...``: totals that add up, missing values counted."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from carbonledger.cli.main import main
from carbonledger.store import open_ledger

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from ledger_runs import T0, add_run


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    with open_ledger(path) as ledger:
        add_run(ledger, "r1", "prep", phase="data", tags={"team": "a"})
        add_run(ledger, "r2", "train", phase="training", tags={"team": "a"})
        add_run(ledger, "r3", "train", phase="training", started_at=T0 + 86400)
        add_run(ledger, "r4", "serve", phase="inference", started_at=T0 + 86400, tags={"team": "b"})
    return path


@pytest.mark.parametrize("by", ["phase", "name", "tag:team", "day", "job"])
def test_json_totals_add_up(ledger_path: Path, capsys: pytest.CaptureFixture[str], by: str) -> None:
    assert main(["summary", "--by", by, "--json", "--ledger", str(ledger_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sum(g["runs"] for g in data["groups"]) == data["total"]["runs"] == 4
    for key in ("energy_kwh", "operational_kgco2e", "total_kgco2e"):
        assert math.fsum(g[key] for g in data["groups"]) == data["total"][key]


def test_groups(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "--by", "day", "--json", "--ledger", str(ledger_path)]) == 0
    groups = {g["group"]: g["runs"] for g in json.loads(capsys.readouterr().out)["groups"]}
    assert groups == {"2024-03-01": 2, "2024-03-02": 2}
    assert main(["summary", "--by", "tag:team", "--json", "--ledger", str(ledger_path)]) == 0
    groups = {g["group"]: g["runs"] for g in json.loads(capsys.readouterr().out)["groups"]}
    assert groups == {"a": 2, "b": 1, None: 1}


def test_text_and_bad_grouping(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "--ledger", str(ledger_path)]) == 0
    out = capsys.readouterr().out
    assert "TOTAL" in out and "training" in out and "inference" in out
    assert main(["summary", "--by", "week", "--ledger", str(ledger_path)]) == 3
    assert "cannot group by" in capsys.readouterr().err


def test_empty_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    open_ledger(tmp_path / "empty.sqlite").close()  # a ledger with no runs
    assert main(["summary", "--ledger", str(tmp_path / "empty.sqlite")]) == 0
    assert "no runs" in capsys.readouterr().out
