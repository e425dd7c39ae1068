"""Bad input anywhere on the command line: one line, exit 3, nothing lost."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from carbonledger.cli.main import main
from carbonledger.records import RunRecord, RunStatus, Scope
from carbonledger.store import open_ledger


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_unwritable_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    code = main(["run", "--json-out", str(tmp_path), "--", "touch", str(marker)])
    assert code == 3 and not marker.exists()  # refused before the command ran
    assert "is a folder" in one_line_error(capsys)
    assert main(["run", "--quiet", "--", "true"]) == 0
    run_id = json.loads(_runs_json(capsys))[0]["run_id"]
    assert main(["report", run_id, "-o", str(tmp_path / "missing" / "r.txt")]) == 3
    assert "cannot write" in one_line_error(capsys)


def _runs_json(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["runs", "--json"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["estimate", "--power-w", "100", "--hours", "1", "--intensity=1e308"],
        ["estimate", "--power-w", "100", "--hours=1e200", "--intensity", "50"],
        ["run", "--interval=1e308", "--", "true"],
        ["runs", "--limit=-1"],
    ],
)
def test_out_of_range_numbers(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(args) if args[0] != "runs" else _usage(args)
    assert code in (2, 3)
    if code == 3:
        one_line_error(capsys)


def _usage(args: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(args)
    return int(info.value.code or 0)


def test_config_file_that_is_binary_or_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "c.toml"
    binary.write_bytes(b"\xff\xfe\x00zone")
    monkeypatch.setenv("CARBONLEDGER_CONFIG", str(binary))
    assert main(["runs"]) == 3
    assert "not UTF-8" in one_line_error(capsys)
    monkeypatch.setenv("CARBONLEDGER_CONFIG", str(tmp_path))
    assert main(["runs"]) == 3
    assert "not a file" in one_line_error(capsys)


def test_one_unpriceable_run_does_not_hide_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--name", "good", "--quiet", "--", "true"]) == 0
    ledger_path = Path(__import__("os").environ["CARBONLEDGER_LEDGER"])
    now = time.time()
    bad = RunRecord(
        "b" * 32,
        "bad",
        "other",
        RunStatus.COMPLETED,
        now - 5,
        now,
        Scope.MACHINE,
        None,
        None,
        1.0,
        settings={"embodied": "no-such-preset"},
    )
    with open_ledger(ledger_path) as ledger:
        ledger.create_run(bad, [])
    rows = {r["name"]: r for r in json.loads(_runs_json(capsys))}
    assert rows["good"]["energy_kwh"] is not None and "error" not in rows["good"]
    assert rows["bad"]["energy_kwh"] is None and "no-such-preset" in rows["bad"]["error"]
    assert main(["runs"]) == 0
    assert "cannot be priced" in capsys.readouterr().out
