"""``carbonledger leaderboard``: objectives, Pareto marks, JSON and HTML output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from carbonledger.cli.main import main
from carbonledger.store import open_ledger

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from ledger_runs import add_run


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    with open_ledger(path) as ledger:
        # energy grows with power; accuracy is logged as a metric
        add_run(ledger, "r1", "small", power_w=100, metrics={"accuracy": 0.80}, tags={"s": "1"})
        add_run(ledger, "r2", "medium", power_w=200, metrics={"accuracy": 0.90}, tags={"s": "1"})
        add_run(ledger, "r3", "wasteful", power_w=300, metrics={"accuracy": 0.85})
        add_run(ledger, "r4", "<script>x</script>", power_w=150)  # no accuracy
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_json_rows_with_pareto_and_dominators(
    ledger_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = run_json(
        capsys,
        "leaderboard",
        "--objective",
        "accuracy:max",
        "--objective",
        "total_kgco2e:min",
        "--json",
        "--ledger",
        str(ledger_path),
    )
    rows = {r["run_id"]: r for r in data["rows"]}  # type: ignore[attr-defined]
    assert rows["r1"]["pareto"] is True and rows["r2"]["pareto"] is True
    assert rows["r3"]["pareto"] is False and rows["r3"]["dominated_by"] == ["r2"]
    assert rows["r4"]["pareto"] is None and rows["r4"]["missing"] == ["accuracy"]
    assert data["objectives"] == [
        {"name": "accuracy", "sense": "max"},
        {"name": "total_kgco2e", "sense": "min"},
    ]
    assert rows["r1"]["objectives"]["total_kgco2e"] < rows["r2"]["objectives"]["total_kgco2e"]


def test_filters_by_name_and_tag(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(
        capsys,
        "leaderboard",
        "--objective",
        "energy_kwh:min",
        "--tag",
        "s=1",
        "--name",
        "*m*",
        "--json",
        "--ledger",
        str(ledger_path),
    )
    assert [r["run_id"] for r in data["rows"]] == ["r1", "r2"]  # type: ignore[attr-defined]
    data = run_json(
        capsys,
        "leaderboard",
        "--objective",
        "energy_kwh:min",
        "--name",
        "w*",
        "--json",
        "--ledger",
        str(ledger_path),
    )
    assert [r["run_id"] for r in data["rows"]] == ["r3"]  # type: ignore[attr-defined]


def test_text_table(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "leaderboard",
                "--objective",
                "accuracy:max",
                "--objective",
                "energy_kwh:min",
                "--ledger",
                str(ledger_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "pareto" in out and "medium" in out and "missing accuracy" in out


def test_html_file(ledger_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "board.html"
    assert (
        main(
            [
                "leaderboard",
                "--objective",
                "accuracy:max",
                "--objective",
                "total_kgco2e:min",
                "--format",
                "html",
                "-o",
                str(out),
                "--ledger",
                str(ledger_path),
            ]
        )
        == 0
    )
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page.lower()
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert page.count("<svg") == 1


def test_bad_objective_exits_3(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["leaderboard", "--objective", "accuracy", "--ledger", str(ledger_path)]) == 3
    assert "NAME:max" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["leaderboard", "--ledger", str(ledger_path)])  # --objective is required
    assert exc.value.code == 2
