"""Hostile names and absurd values on the command line (issue 9, defects 7 and 8)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from carbonledger.cli.main import main

ESCAPES = "\x1b]0;pwned\x07\x1b[2J"
NAMES = [f"evil{ESCAPES}", "two\nlines\r\tname", "=HYPERLINK(\"http://x\")", "+1-2", "-3+4",
         "@SUM(A1)", "\tTAB", "bidi\u202eeman"]  # fmt: skip


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def hostile_runs(capsys: pytest.CaptureFixture[str]) -> list[str]:
    ids = []
    for name in NAMES:
        argv = ["run", f"--name={name}", f"--tag=k={name}", "--quiet", "--", "true"]
        assert main(argv) == 0
    capsys.readouterr()
    assert main(["runs", "--json"]) == 0
    ids = [r["run_id"] for r in json.loads(capsys.readouterr().out)]
    assert len(ids) == len(NAMES)
    return ids


def no_raw_controls(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\r" not in text and "\t" not in text


def test_runs_table_escapes_names(
    hostile_runs: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    no_raw_controls(out)
    assert len(out.strip().splitlines()) == 1 + len(NAMES)  # newlines do not break the table
    assert "\\x1b" in out


def test_show_and_summary_escape_names(
    hostile_runs: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    for run_id in hostile_runs:
        assert main(["show", run_id]) == 0
        no_raw_controls(capsys.readouterr().out)
    assert main(["summary", "--by", "name"]) == 0
    no_raw_controls(capsys.readouterr().out)
    assert main(["leaderboard", "--objective", "total_kgco2e:min"]) == 0
    no_raw_controls(capsys.readouterr().out)


def test_end_of_run_summary_escapes_the_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--name", NAMES[0], "--", "true"]) == 0
    err = capsys.readouterr().err
    no_raw_controls(err)
    assert "evil\\x1b]0;pwned\\x07" in err


def test_csv_neutralises_formulas(
    hostile_runs: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", *hostile_runs, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    names = {r["name"] for r in rows}
    for name in NAMES:
        if name.startswith(("=", "+", "-", "@", "\t")):
            assert "'" + name in names
            assert name not in names
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value
            assert not value.startswith("-") or _is_number(value), value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_error_messages_escape_user_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", f"no{ESCAPES}\nsuch"]) == 3
    line = one_line_error(capsys)
    no_raw_controls(line)


@pytest.mark.parametrize(
    "argv",
    [
        ["estimate", "--power-w", "100", "--hours", "1", "--intensity", "6000"],
        ["estimate", "--power-w", "1e308", "--hours", "1", "--intensity", "50"],
        ["decide", "breakeven", "--embodied-new-kg", "1", "--power-old-w", "2",
         "--power-new-w", "1", "--intensity", "1e308"],
        ["decide", "breakeven", "--embodied-new-kg", "1", "--power-old-w", "inf",
         "--power-new-w", "1", "--intensity", "100"],
        ["compare", "a", "b", "--resamples", "1000000000"],
        ["run", "--functional-unit", "x=inf", "--", "true"],
        ["run", "--functional-unit", "x=nan", "--", "true"],
        ["run", "--functional-unit", "x=1e300", "--", "true"],
    ],
)  # fmt: skip
def test_absurd_values_are_refused_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    if argv[-1] == "true":
        argv = [*argv[:-1], "touch", str(marker)]
    assert main(argv) == 3
    one_line_error(capsys)
    assert not marker.exists()  # refused before the command ran


def test_simulate_refuses_overflowing_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    series = tmp_path / "s.csv"
    rows = [f"2024-01-01T{h:02d}:00Z,{'1e308' if h == 0 else '1'}" for h in range(6)]
    series.write_text("datetime,g_per_kwh\n" + "\n".join(rows) + "\n")
    assert main(["simulate", "--series", str(series), "--duration", "1h", "--extra", "1h"]) == 3
    line = one_line_error(capsys)
    assert "line 2" in line and "inf" not in capsys.readouterr().out


def test_report_to_a_missing_folder_is_refused_before_rendering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["run", "--quiet", "--", "true"]) == 0
    capsys.readouterr()
    assert main(["runs", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)[0]["run_id"]
    import carbonledger.report.base as base

    def boom(*_a: object, **_k: object) -> str:
        raise AssertionError("rendered before checking the output path")

    monkeypatch.setattr(base, "render", boom)
    target = tmp_path / "missing" / "dir" / "x.html"
    assert main(["report", run_id, "--format", "html", "-o", str(target)]) == 3
    assert "does not exist" in one_line_error(capsys)
