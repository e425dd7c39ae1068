"""Reading commands and ``merge`` refuse a ledger file that does not exist (one line, exit
3, nothing created), instead of opening, and so creating, an empty ledger at a typo path.
The default ledger may be missing: a fresh machine has no runs yet."""

from __future__ import annotations

from pathlib import Path

import pytest

import carbonledger as cl
from carbonledger.cli.main import main
from carbonledger.records import Component
from carbonledger.store import open_ledger
from carbonledger.testing import FakeSensor, fake_device


def _ledger_with_a_run(path: Path) -> str:
    sensor = FakeSensor([fake_device("fake:cpu-0", Component.CPU)], {"fake:cpu-0": 10.0})
    t = cl.Tracker("r", ledger=path, interval=0.05, zone="FR", sensors=[sensor])
    t.start()
    t.stop()
    return t.run_id


def _err_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]


@pytest.mark.parametrize(
    "command",
    [
        ["runs"],
        ["runs", "--json"],
        ["summary"],
        ["job", "j1"],
        ["report", "abc"],
        ["leaderboard", "--objective", "accuracy:max"],
        ["compare", "a", "b"],
    ],
)
def test_reading_a_missing_ledger_is_refused_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    typo = tmp_path / "ledgr.sqlite"
    assert main([*command, "--ledger", str(typo)]) == 3
    lines = _err_lines(capsys)
    assert len(lines) == 1 and f"no ledger at {typo}" in lines[0]
    assert not typo.exists()
    assert list(tmp_path.glob("ledgr.sqlite*")) == []  # no -wal/-shm either


def test_a_missing_ledger_from_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "nowhere.sqlite"
    monkeypatch.setenv("CARBONLEDGER_LEDGER", str(typo))
    assert main(["runs"]) == 3
    assert f"no ledger at {typo}" in capsys.readouterr().err
    assert not typo.exists()


def test_the_default_ledger_on_a_fresh_machine_has_no_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from carbonledger.config import default_ledger_path

    monkeypatch.delenv("CARBONLEDGER_LEDGER")
    assert not default_ledger_path().exists()
    assert main(["runs"]) == 0
    assert "no runs" in capsys.readouterr().out
    assert main(["summary"]) == 0


def test_merge_refuses_a_missing_source_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "node-a.sqlite"
    _ledger_with_a_run(good)
    missing = tmp_path / "node-b.sqlite"
    into = tmp_path / "all.sqlite"
    assert main(["merge", str(good), str(missing), "--into", str(into)]) == 3
    lines = _err_lines(capsys)
    assert len(lines) == 1 and f"no ledger at {missing}" in lines[0]
    assert not missing.exists() and not into.exists()


def test_merge_names_an_unmatched_pattern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pattern = str(tmp_path / "node-*.sqlite")  # what the shell passes when nothing matched
    into = tmp_path / "all.sqlite"
    assert main(["merge", pattern, "--into", str(into)]) == 3
    lines = _err_lines(capsys)
    assert len(lines) == 1 and "matched no file" in lines[0] and pattern in lines[0]
    assert not into.exists() and list(tmp_path.iterdir()) == [tmp_path / "home"]


def test_merge_of_existing_sources_still_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = tmp_path / "a.sqlite"
    run_id = _ledger_with_a_run(a)
    into = tmp_path / "into.sqlite"  # the target may be new
    assert main(["merge", f"sqlite:///{a}", "--into", str(into)]) == 0
    assert "1 new" in capsys.readouterr().out
    with open_ledger(into) as led:
        assert [r.run_id for r in led.list_runs()] == [run_id]


def test_job_footprint_api_refuses_a_missing_ledger_path(tmp_path: Path) -> None:
    typo = tmp_path / "typo.sqlite"
    with pytest.raises(cl.errors.ConfigError, match="no ledger at"):
        cl.job_footprint("j1", ledger=typo)
    assert not typo.exists()
