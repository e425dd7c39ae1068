"""``carbonledger decide breakeven|indifference``."""

import json

import pytest

from carbonledger.cli.main import main


def test_breakeven(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "decide",
            "breakeven",
            "--embodied-new-kg",
            "150",
            "--power-old-w",
            "300",
            "--power-new-w",
            "200",
            "--intensity",
            "400",
            "--pue",
            "1.2",
            "--json",
        ]
    )
    assert code == 0
    d = json.loads(capsys.readouterr().out)
    assert d["hours"] == pytest.approx(3125.0)
    assert d["pays_back"] is True


def test_breakeven_text_when_it_never_pays_back(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "decide",
            "breakeven",
            "--embodied-new-kg",
            "150",
            "--power-old-w",
            "200",
            "--power-new-w",
            "250",
            "--intensity",
            "400",
        ]
    )
    assert code == 0
    assert "never paid back" in capsys.readouterr().out


def test_indifference(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "decide",
        "indifference",
        "--a-name",
        "edge",
        "--a-power-w",
        "10",
        "--a-idle-w",
        "1",
        "--a-embodied-kg",
        "20",
        "--b-name",
        "cloud",
        "--b-power-w",
        "30",
        "--b-embodied-kg",
        "5",
        "--b-pue",
        "1.1",
        "--intensity",
        "400",
        "--service-life-years",
        "4",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "energy: equal at 1,461 active hours" in out
    assert "cheaper below: cloud, above: edge" in out
    assert main([*argv, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["energy_point_in_life"] is True


def test_bad_values_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "decide",
            "breakeven",
            "--embodied-new-kg",
            "-1",
            "--power-old-w",
            "2",
            "--power-new-w",
            "1",
            "--intensity",
            "1",
        ]
    )
    assert code == 3
    assert "embodied_new_kg" in capsys.readouterr().err


def test_no_decision_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide"]) == 2
