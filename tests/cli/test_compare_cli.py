"""``carbonledger compare A B``: groups by name or tag, honest verdicts."""

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
        for i, power in enumerate((100, 105, 95, 102)):
            add_run(
                ledger,
                f"a{i}",
                "baseline",
                power_w=power,
                tags={"opt": "adam"},
                metrics={"accuracy": 0.80 + i * 0.001},
            )
        for i, power in enumerate((200, 210, 190, 205)):
            add_run(
                ledger,
                f"b{i}",
                "bigger",
                power_w=power,
                tags={"opt": "sgd"},
                metrics={"accuracy": 0.80 + i * 0.001},
            )
        add_run(ledger, "solo", "solo", power_w=300)
    return path


def test_by_name_json(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "compare",
                "baseline",
                "bigger",
                "--json",
                "--resamples",
                "2000",
                "--ledger",
                str(ledger_path),
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert sorted(data["a"]["runs"]) == ["a0", "a1", "a2", "a3"]
    results = {c["quantity"]: c for c in data["comparisons"]}
    energy = results["energy_kwh"]
    assert energy["clear_difference"] is True and energy["difference"] > 0
    assert energy["interval_95"][0] > 0
    assert "B is higher than A" in energy["verdict"]
    assert results["accuracy"]["clear_difference"] is False
    assert "no clear difference" in results["accuracy"]["verdict"]


def test_by_tag_text(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "compare",
                "opt=adam",
                "opt=sgd",
                "--by",
                "tag",
                "--resamples",
                "500",
                "--ledger",
                str(ledger_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "energy: B is higher than A" in out and "(4 runs)" in out
    assert (
        main(
            [
                "compare",
                "tag:opt=adam",
                "tag:opt=sgd",
                "--resamples",
                "500",
                "--ledger",
                str(ledger_path),
            ]
        )
        == 0
    )
    assert "energy: B is higher than A" in capsys.readouterr().out


def test_single_runs_cannot_give_an_interval(
    ledger_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", "solo", "base*", "--ledger", str(ledger_path)]) == 0
    assert "cannot be computed" in capsys.readouterr().out


def test_empty_group_exits_3(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "nothing", "baseline", "--ledger", str(ledger_path)]) == 3
    assert "no runs match 'nothing'" in capsys.readouterr().err
    assert main(["compare", "tag:opt", "baseline", "--ledger", str(ledger_path)]) == 3


@pytest.mark.parametrize("resamples", ["1", "0", "-5", "199"])
def test_too_few_resamples_exits_3(
    ledger_path: Path, capsys: pytest.CaptureFixture[str], resamples: str
) -> None:
    argv = ["compare", "baseline", "bigger", f"--resamples={resamples}"]
    assert main([*argv, "--ledger", str(ledger_path)]) == 3
    captured = capsys.readouterr()
    assert "--resamples must be at least 200" in captured.err
    assert captured.out == ""
