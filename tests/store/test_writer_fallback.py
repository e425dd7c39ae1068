"""Issue 9, defect 3: the fallback ledger is private, unpredictable, and never raises."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from carbonledger.store import MemoryLedger, SqliteLedger
from carbonledger.store.writer import LedgerWriter, open_fallback_ledger
from carbonledger.testing import contract_run


def _unusable(tmp_path: Path) -> Path:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    return blocker / "ledger.sqlite"


def _private(path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert not path.is_symlink()


def test_an_unusable_ledger_falls_back_to_a_private_file_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    warnings: list[str] = []
    writer = LedgerWriter(_unusable(tmp_path), flush_interval_s=1.0, warn=warnings.append)
    try:
        assert isinstance(writer.ledger, SqliteLedger)
        path = writer.ledger.path
        assert path.parent == tmp_path / "state" / "carbonledger" / "fallback"
        _private(path)
        assert len(warnings) == 1 and str(path) in warnings[0]
        run = contract_run()
        writer.call("create_run", run, [])
        assert writer.ledger.get_run(run.run_id).run_id == run.run_id
    finally:
        writer.close()


def test_two_fallbacks_never_share_a_file(tmp_path: Path) -> None:
    a, where_a = open_fallback_ledger(state_home=tmp_path)
    b, where_b = open_fallback_ledger(state_home=tmp_path)
    a.close()
    b.close()
    assert where_a != where_b


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_files_planted_at_the_old_predictable_path_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Before: /tmp/carbonledger-fallback-<pid>.sqlite, opened without O_EXCL."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    old = Path(tempfile.gettempdir()) / f"carbonledger-fallback-{os.getpid()}.sqlite"
    target = tmp_path / "victim"
    target.write_text("precious")
    try:
        if kind == "file":
            old.write_bytes(b"not a database" * 100)
        else:
            old.symlink_to(target)
        warnings: list[str] = []
        writer = LedgerWriter(_unusable(tmp_path), flush_interval_s=1.0, warn=warnings.append)
        writer.call("create_run", contract_run(), [])
        writer.close()
        assert isinstance(writer.ledger, SqliteLedger) and writer.ledger.path != old
        assert target.read_text() == "precious"
    finally:
        old.unlink(missing_ok=True)


def test_a_state_folder_someone_else_can_enter_is_not_used(tmp_path: Path) -> None:
    folder = tmp_path / "carbonledger" / "fallback"
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    ledger, where = open_fallback_ledger(state_home=tmp_path, temp_dir=str(tmp_path))
    ledger.close()
    assert not where.startswith(str(folder))
    assert Path(where).name.startswith("ledger-")
    _private(Path(where))


def test_a_symlinked_state_folder_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "state" / "carbonledger").mkdir(parents=True)
    (tmp_path / "state" / "carbonledger" / "fallback").symlink_to(elsewhere)
    ledger, where = open_fallback_ledger(state_home=tmp_path / "state", temp_dir=str(tmp_path))
    ledger.close()
    assert not where.startswith(str(elsewhere)) and list(elsewhere.iterdir()) == []


def test_when_even_the_fallback_fails_the_run_stays_in_memory_and_says_so(
    tmp_path: Path,
) -> None:
    missing = str(tmp_path / "no" / "such" / "tmp")
    ledger, where = open_fallback_ledger(state_home=_unusable(tmp_path).parent, temp_dir=missing)
    assert isinstance(ledger, MemoryLedger)
    assert "NOTHING WILL BE KEPT" in where
    ledger.create_run(contract_run(), [])  # still usable for the run's own footprint


def test_the_writer_never_raises_into_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import carbonledger.store.writer as writer_module

    def refuse(*args: object, **kwargs: object) -> str:
        raise OSError("no temporary folder")

    monkeypatch.setattr(writer_module, "_fresh_temp_folder", refuse)
    monkeypatch.setenv("XDG_STATE_HOME", str(_unusable(tmp_path).parent))
    warnings: list[str] = []
    writer = LedgerWriter("memory://", flush_interval_s=1.0, warn=warnings.append)
    assert warnings == []
    writer = LedgerWriter(_unusable(tmp_path), flush_interval_s=1.0, warn=warnings.append)
    assert isinstance(writer.ledger, MemoryLedger)
    assert "NOTHING WILL BE KEPT" in warnings[0]
