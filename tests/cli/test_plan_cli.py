"""``carbonledger plan`` and ``carbonledger simulate`` from the command line."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from carbonledger.cli.main import main
from carbonledger.cli.simulate import ProgressBar

VALUES = [300, 250, 100, 50, 80, 400, 420, 390, 60, 70, 500, 510]  # hourly from 2024-03-01


def write_series(path: Path, values: list[int], start_hour: int = 0) -> Path:
    rows = ["datetime,g_per_kwh"]
    for i, v in enumerate(values):
        h = start_hour + i
        rows.append(f"2024-03-{1 + h // 24:02d}T{h % 24:02d}:00:00Z,{v}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def de(tmp_path: Path) -> Path:
    return write_series(tmp_path / "DE.csv", VALUES)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_plan_json_keys_and_values(de: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(
        capsys,
        "plan",
        "--series",
        str(de),
        "--duration",
        "2h",
        "--earliest",
        "2024-03-01T00:00Z",
        "--deadline",
        "2024-03-01T08:00Z",
        "--json",
    )
    for key in (
        "zone",
        "start",
        "end",
        "slots",
        "mean_g_per_kwh",
        "baseline_mean_g_per_kwh",
        "savings_pct",
    ):
        assert key in data
    assert data["zone"] == "DE"
    assert data["start"] == "2024-03-01T03:00:00Z" and data["end"] == "2024-03-01T05:00:00Z"
    assert data["slots"] == [{"start": data["start"], "end": data["end"]}]
    assert data["mean_g_per_kwh"] == pytest.approx(65.0)
    assert data["baseline_mean_g_per_kwh"] == pytest.approx(275.0)
    assert data["savings_pct"] == pytest.approx(100 * (275 - 65) / 275)
    assert data["policy"] == "flexible_start"


def test_plan_interruptible_with_window(de: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(
        capsys,
        "plan",
        "--series",
        str(de),
        "--duration",
        "3h",
        "--interruptible",
        "--earliest",
        "2024-03-01T00:00:00+00:00",
        "--window",
        "12h",
        "--json",
    )
    # cheapest three hours: 50 (03h), 60 (08h), 70 (09h)
    assert data["slots"] == [
        {"start": "2024-03-01T03:00:00Z", "end": "2024-03-01T04:00:00Z"},
        {"start": "2024-03-01T08:00:00Z", "end": "2024-03-01T10:00:00Z"},
    ]
    assert data["mean_g_per_kwh"] == pytest.approx(60.0)
    assert data["policy"] == "pause_resume"
    data = run_json(
        capsys,
        "plan",
        "--series",
        str(de),
        "--duration",
        "3h",
        "--interruptible",
        "--min-slot",
        "2h",
        "--earliest",
        "2024-03-01T00:00Z",
        "--window",
        "12h",
        "--json",
    )
    assert all(s["end"] > s["start"] for s in data["slots"]) and data["min_slot_s"] == 7200


def test_plan_several_zones(de: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fr = write_series(tmp_path / "FR.csv", [40] * 12)
    data = run_json(
        capsys,
        "plan",
        "--series",
        str(de),
        "--series",
        str(fr),
        "--duration",
        "2h",
        "--earliest",
        "2024-03-01T00:00Z",
        "--window",
        "10h",
        "--json",
    )
    assert data["zone"] == "FR"
    assert [z["zone"] for z in data["zones"]] == ["DE", "FR"]
    assert (
        main(
            [
                "plan",
                "--series",
                str(de),
                "--series",
                str(fr),
                "--duration",
                "2h",
                "--earliest",
                "2024-03-01T00:00Z",
                "--window",
                "10h",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "← best" in text and "FR" in text


def test_plan_text(de: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "plan",
                "--series",
                str(de),
                "--duration",
                "90m",
                "--earliest",
                "2024-03-01T00:30Z",
                "--window",
                "6h",
                "--interruptible",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Plan: a 1h30m job in DE (pause and resume)" in out
    assert "savings" in out and "Slots" in out


def test_slurm_line(de: Path, capsys: pytest.CaptureFixture[str], utc: None) -> None:
    assert (
        main(
            [
                "plan",
                "--series",
                str(de),
                "--duration",
                "2h",
                "--earliest",
                "2024-03-01T00:00Z",
                "--deadline",
                "2024-03-01T08:00Z",
                "--slurm",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out == "sbatch --begin=2024-03-01T03:00:00\n"
    assert "local time" in captured.err
    assert (
        main(
            [
                "plan",
                "--series",
                str(de),
                "--duration",
                "3h",
                "--interruptible",
                "--earliest",
                "2024-03-01T00:00Z",
                "--window",
                "12h",
                "--slurm",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out == "sbatch --begin=2024-03-01T03:00:00\n"
    assert "first of 2 slots" in captured.err


def test_slurm_begin_is_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from carbonledger.cli.plan import slurm_begin

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert slurm_begin(1709251200.0) == "2024-03-01T01:00:00"  # 00:00Z = 01:00 CET
        assert slurm_begin(1709251200.2) == "2024-03-01T01:00:01"  # never before the plan
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    "extra",
    [
        ["--duration", "6x"],
        ["--duration", "0h"],
        ["--duration", "2h", "--earliest", "2024-03-01T05:00Z", "--deadline", "2024-03-01T01:00Z"],
        ["--duration", "2h", "--earliest", "2024-03-01T05:00Z", "--window", "1h"],
        ["--duration", "2h", "--earliest", "2024-03-01T00:00Z", "--window", "48h"],
        ["--duration", "2h", "--earliest", "2023-01-01T00:00Z", "--window", "4h"],
        ["--duration", "2h", "--earliest", "soon"],
        ["--duration", "2h", "--min-slot", "1h"],
        ["--duration", "2h", "--interruptible", "--min-slot", "1y"],
    ],
)
def test_bad_input_exits_3(de: Path, capsys: pytest.CaptureFixture[str], extra: list[str]) -> None:
    assert main(["plan", "--series", str(de), *extra]) == 3
    err = capsys.readouterr().err
    assert err.startswith("carbonledger: error: ") and err.count("\n") == 1


def test_messages_name_the_problem(de: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(
        [
            "plan",
            "--series",
            str(de),
            "--duration",
            "2h",
            "--earliest",
            "2024-03-01T05:00Z",
            "--deadline",
            "2024-03-01T01:00Z",
        ]
    )
    assert "is not after earliest" in capsys.readouterr().err
    main(
        [
            "plan",
            "--series",
            str(de),
            "--duration",
            "2h",
            "--earliest",
            "2024-03-01T00:00Z",
            "--window",
            "48h",
        ]
    )
    assert "covers 2024-03-01T00:00:00Z to 2024-03-01T12:00:00Z" in capsys.readouterr().err
    main(
        [
            "plan",
            "--series",
            str(de),
            "--duration",
            "3h",
            "--earliest",
            "2024-03-01T00:00Z",
            "--window",
            "2h",
        ]
    )
    assert "shorter than the job (3h)" in capsys.readouterr().err


def test_source_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--duration", "2h"]) == 3
    assert main(["plan", "--provider", "csv", "--duration", "2h"]) == 3  # no --zone
    assert "--zone" in capsys.readouterr().err


def test_json_and_slurm_are_exclusive(de: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["plan", "--series", str(de), "--duration", "2h", "--json", "--slurm"])
    assert exc.value.code == 2


def test_plan_with_a_provider_forecast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--provider csv`` reads a file that holds a forecast from this hour on."""
    now = time.time()
    hour0 = now - now % 3600
    rows = ["datetime,g_per_kwh"]
    values = [300, 200, 100, 50, 400, 500] * 5
    for i, v in enumerate(values):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(hour0 + i * 3600))
        rows.append(f"{stamp},{v}")
    path = tmp_path / "DE.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setenv("CARBONLEDGER_INTENSITY_SERIES", str(path))
    data = run_json(
        capsys,
        "plan",
        "--provider",
        "csv",
        "--zone",
        "DE",
        "--duration",
        "1h",
        "--window",
        "20h",
        "--json",
    )
    assert data["zone"] == "DE"
    assert data["mean_g_per_kwh"] == pytest.approx(50.0)


# --- simulate -------------------------------------------------------------------------------


def test_simulate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_series(tmp_path / "S.csv", [100, 300, 100, 200, 400])
    data = run_json(
        capsys, "simulate", "--series", str(path), "--duration", "2h", "--extra", "50%", "--json"
    )
    assert data["n_jobs"] == 3 and data["extra_s"] == 3600
    fs, pr = data["flexible_start"], data["pause_resume"]
    assert fs["mean_savings_pct"] == pytest.approx(25 / 3)
    assert pr["mean_savings_pct"] == pytest.approx(25.0)
    for key in ("n_jobs", "p5", "p25", "p50", "p75", "p95", "min", "max"):
        assert key in fs and key in pr
    assert pr["max"] == 50.0 and pr["n_jobs"] == 3
    assert capsys.readouterr().err == ""  # no progress bar when stderr is not a terminal


def test_simulate_text_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_series(tmp_path / "S.csv", [100, 300, 100, 200, 400])
    assert main(["simulate", "--series", str(path), "--duration", "1h", "--extra", "1h"]) == 0
    out = capsys.readouterr().out
    assert "flexible start" in out and "pause & resume" in out
    assert main(["simulate", "--series", str(path), "--duration", "1h", "--extra", "1x"]) == 3
    assert main(["simulate", "--series", str(path), "--duration", "4h", "--extra", "2h"]) == 3
    assert (
        main(
            [
                "simulate",
                "--series",
                str(tmp_path / "missing.csv"),
                "--duration",
                "1h",
                "--extra",
                "1h",
            ]
        )
        == 3
    )


def test_progress_bar_only_on_a_terminal() -> None:
    class Stream:
        def __init__(self, tty: bool) -> None:
            self.tty, self.text = tty, ""

        def isatty(self) -> bool:
            return self.tty

        def write(self, s: str) -> None:
            self.text += s

        def flush(self) -> None:
            pass

    tty, pipe = Stream(True), Stream(False)
    for stream in (tty, pipe):
        bar = ProgressBar(stream, "sim", width=10)  # type: ignore[arg-type]
        bar(5, 10)
        bar(10, 10)
    assert "[#####.....] 5/10" in tty.text and tty.text.endswith("\n")
    assert pipe.text == ""


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "plan" in out and "simulate" in out
    assert os.path.basename(__file__) == "test_plan_cli.py"
