"""``carbonledger runs`` streams its rows and pages with --limit/--offset."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from carbonledger.cli.main import main
from carbonledger.jsonutil import dumps
from carbonledger.store import open_ledger

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from ledger_runs import T0, add_run


def test_pages_cover_the_listing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "l.sqlite"
    with open_ledger(path) as ledger:
        for i in range(7):
            add_run(ledger, f"run{i}", f"n{i}", started_at=T0 + 100 * i)
    assert main(["runs", "--json", "--ledger", str(path)]) == 0
    text = capsys.readouterr().out
    everything = json.loads(text)
    assert text == dumps(everything) + "\n"  # streamed, yet what print_json writes
    pages = []
    for offset in range(0, 7, 3):
        args = ["runs", "--json", "--limit", "3", "--offset", str(offset), "--ledger", str(path)]
        assert main(args) == 0
        pages += json.loads(capsys.readouterr().out)
    assert pages == everything and pages[0]["run_id"] == "run6"


def test_empty_listing_is_an_empty_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    open_ledger(tmp_path / "e.sqlite").close()  # a ledger with no runs
    assert main(["runs", "--json", "--ledger", str(tmp_path / "e.sqlite")]) == 0
    assert capsys.readouterr().out == "[]\n"
