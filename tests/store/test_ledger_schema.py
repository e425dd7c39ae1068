"""Schema versions, migrations, and files that are not (usable) ledgers."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from ledger_factories import DEVICES, make_run

from carbonledger.errors import LedgerError
from carbonledger.store import SqliteLedger, open_ledger
from carbonledger.store._schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, migrate


def _pragma(path: Path, name: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        conn.close()


def test_an_empty_file_is_migrated_to_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.touch()  # a zero-byte file is an empty version-0 database
    with SqliteLedger(path) as led:
        led.create_run(make_run(), DEVICES)
    assert _pragma(path, "user_version") == SCHEMA_VERSION
    assert _pragma(path, "application_id") == APPLICATION_ID


def test_a_version_0_database_without_tables_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 0")
    conn.commit()
    conn.close()
    with open_ledger(path) as led:
        assert led.list_runs() == []
    assert _pragma(path, "user_version") == SCHEMA_VERSION


def test_reopening_keeps_data_and_version(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    run = make_run()
    with open_ledger(path) as led:
        led.create_run(run, DEVICES)
    with open_ledger(path) as led:
        assert led.get_run(run.run_id) == run
    assert _pragma(path, "user_version") == SCHEMA_VERSION


def test_migrations_run_in_order_from_an_older_version(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    run = make_run()
    with open_ledger(path) as led:
        led.create_run(run, [])
    newer = (*MIGRATIONS, ("ALTER TABLE runs ADD COLUMN note TEXT", "UPDATE runs SET note = 'x'"))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    found = migrate(conn, path, newer)
    conn.execute("COMMIT")
    assert found == SCHEMA_VERSION
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert conn.execute("SELECT note FROM runs").fetchall() == [("x",)]
    # running it again is a no-op
    conn.execute("BEGIN IMMEDIATE")
    assert migrate(conn, path, newer) == SCHEMA_VERSION + 1
    conn.execute("COMMIT")
    conn.close()


def test_a_newer_ledger_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    open_ledger(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError, match=r"newer than this carbonledger supports") as info:
        open_ledger(path)
    assert str(path) in str(info.value)


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError, match="not a carbonledger ledger"):
        open_ledger(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 42")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError, match="not a carbonledger ledger"):
        open_ledger(path)


def test_a_corrupt_file_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not a database\n" * 200)
    with pytest.raises(LedgerError, match="not an SQLite database") as info:
        open_ledger(path)
    assert str(path) in str(info.value)


def test_a_truncated_ledger_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with open_ledger(path) as led:
        led.create_run(make_run(), DEVICES)
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xff" * (len(data) - 100))
    with pytest.raises(LedgerError) as info, open_ledger(path) as led:
        led.list_runs()
    assert str(path) in str(info.value)


def test_a_directory_is_a_ledger_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="is a directory"):
        open_ledger(tmp_path)


def test_a_parent_that_is_a_file_is_a_ledger_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LedgerError, match="cannot create the folder"):
        open_ledger(blocker / "ledger.sqlite")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_no_permission_is_a_ledger_error(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(LedgerError) as info:
            open_ledger(folder / "ledger.sqlite")
        assert "ledger.sqlite" in str(info.value)
    finally:
        folder.chmod(0o700)


# -- v1 -> v2: typed pricing columns, series and attachments tables ---------------------
def _v1_ledger(path: Path, rows: list[tuple[str, str]]) -> None:
    """A ledger exactly as the version-1 schema wrote it: ``(run_id, settings_json)`` rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    migrate(conn, path, MIGRATIONS[:1])
    conn.execute("COMMIT")
    for i, (run_id, settings_json) in enumerate(rows):
        conn.execute(
            "INSERT INTO runs (run_id, name, phase, status, started_at, scope, interval_s, "
            "host_json, tags_json, settings_json) VALUES (?, 'job', 'training', 'completed', "
            "?, 'machine', 1.0, '{}', '{}', ?)",
            (run_id, 1000.0 + i, settings_json),
        )
    conn.close()
    assert _pragma(path, "user_version") == 1


def test_a_v1_ledger_is_migrated_and_its_typed_columns_back_filled(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _v1_ledger(
        path,
        [
            (
                "full",
                '{"embodied": "cloud", "intensity_provider": "watttime", '
                '"intensity_series": "/data/series/full.csv", "interval_s": 1.0}',
            ),
            ("none", '{"embodied": null, "interval_s": 1.0}'),
            ("odd", '{"embodied": 5}'),
            ("broken", "{not json"),
        ],
    )
    skipped: list[str] = []
    with open_ledger(path) as led:
        full = led.get_run("full")
        assert (full.embodied, full.intensity_provider, full.intensity_series) == (
            "cloud",
            "watttime",
            "/data/series/full.csv",
        )
        assert full.settings["embodied"] == "cloud"  # the blob keeps its keys
        assert led.get_run("none").embodied is None
        assert led.get_run("odd").embodied is None
        listed = led.list_runs(on_bad_row=lambda e: skipped.append(e.run_id))
        assert sorted(r.run_id for r in listed) == ["full", "none", "odd"]
        assert led.series("full") is None and led.attachments("full") == {}
    assert skipped == ["broken"]
    assert _pragma(path, "user_version") == SCHEMA_VERSION >= 2


def test_typed_columns_are_real_columns(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    run = make_run()
    run = type(run)(**{**run.__dict__, "embodied": "laptop", "intensity_provider": "em"})
    with open_ledger(path) as led:
        led.create_run(run, [])
    conn = sqlite3.connect(path)
    row = conn.execute("SELECT embodied, intensity_provider, intensity_series FROM runs").fetchone()
    conn.close()
    assert row == ("laptop", "em", None)
