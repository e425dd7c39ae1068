"""Issue 9, defects 4 and 5: damaged rows and damaged files, through the API and the CLI."""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from ledger_factories import DEVICES, make_run

from carbonledger.cli.main import main
from carbonledger.errors import CorruptRunError, LedgerError
from carbonledger.records import RunStatus, Sample
from carbonledger.store import open_ledger


def _ledger_with_runs(path: Path, n: int = 3, samples_per_run: int = 20) -> list[str]:
    ids = []
    with open_ledger(path) as led:
        for i in range(n):
            run = make_run(f"{i:02d}" + "ab" * 15, started_at=1_700_000_000.0 + 100 * i)
            led.create_run(run, DEVICES)
            led.append_samples(
                run.run_id,
                [
                    Sample("rapl:package-0", run.started_at + k, run.started_at + k + 1, 10.0, 5.0)
                    for k in range(samples_per_run)
                ],
                heartbeat_at=run.started_at + samples_per_run,
            )
            led.finish_run(run.run_id, RunStatus.COMPLETED, run.started_at + samples_per_run)
            ids.append(run.run_id)
    return ids


def _raw(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute(sql, params)
    conn.close()


BAD_ROWS = [
    ("status", "exploded"),
    ("tags_json", "{not json"),
    ("host_json", "42"),
    ("started_at", "soon"),
    ("pue", "high"),
]


@pytest.mark.parametrize("column, value", BAD_ROWS)
@pytest.mark.parametrize("command", ["runs", "summary", "leaderboard", "compare"])
def test_listing_commands_warn_about_a_bad_row_and_show_the_rest(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    command: str,
    column: str,
    value: str,
) -> None:
    path = tmp_path / "ledger.sqlite"
    ids = _ledger_with_runs(path)
    _raw(path, f"UPDATE runs SET {column} = ? WHERE run_id = ?", value, ids[1])
    args = {
        "runs": ["runs", "--json"],
        "summary": ["summary", "--json"],
        "leaderboard": ["leaderboard", "--objective", "energy_kwh:min", "--json"],
        "compare": ["compare", "job", "job", "--json"],
    }[command]
    assert main([*args, "--ledger", str(path)]) == 0
    out, err = capsys.readouterr()
    if command == "summary":
        assert '"runs": 2' in out  # the two good runs, and nothing else
    else:
        assert ids[0] in out and ids[2] in out and ids[1] not in out
    # the CLI's logging prints warnings on stderr; in-process, pytest captures them
    err += "\n".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    warning_lines = [line for line in err.splitlines() if ids[1] in line]
    assert len(warning_lines) == 1 and column in warning_lines[0], err


@pytest.mark.parametrize("column, value", BAD_ROWS)
@pytest.mark.parametrize("command", ["show", "report"])
def test_asking_for_a_bad_row_exits_3_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, column: str, value: str
) -> None:
    path = tmp_path / "ledger.sqlite"
    ids = _ledger_with_runs(path)
    _raw(path, f"UPDATE runs SET {column} = ? WHERE run_id = ?", value, ids[1])
    assert main([command, ids[1][:8], "--ledger", str(path)]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and ids[1] in err and column in err, err
    assert main(["show", ids[0], "--ledger", str(path), "--json"]) == 0


@pytest.mark.parametrize("value", [-5.0, math.inf, -math.inf, "lots"])
def test_damaged_sample_energies_are_refused_not_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: object
) -> None:
    path = tmp_path / "ledger.sqlite"
    ids = _ledger_with_runs(path)
    _raw(
        path,
        "UPDATE samples SET energy_j = ? WHERE id = (SELECT MIN(id) + 3 FROM samples "
        "WHERE run_id = ?)",
        value,
        ids[1],
    )
    with open_ledger(path) as led, pytest.raises(CorruptRunError, match="sample 3"):
        led.samples(ids[1])
    assert main(["show", ids[1], "--ledger", str(path)]) == 3
    err = capsys.readouterr().err
    assert "sample 3" in err and ids[1] in err
    assert main(["runs", "--ledger", str(path)]) == 0
    out = capsys.readouterr().out
    assert ids[0][:12] in out and "cannot be priced" in out


def test_a_run_can_be_written_with_any_text(tmp_path: Path) -> None:
    """Never-seen bytes in a TEXT column (another tool wrote them) read as escapes."""
    path = tmp_path / "ledger.sqlite"
    ids = _ledger_with_runs(path, n=1)
    _raw(path, "UPDATE runs SET name = CAST(X'6A6F62FF' AS TEXT) WHERE run_id = ?", ids[0])
    with open_ledger(path) as led:
        assert led.get_run(ids[0]).name == "job\\xff"


# -- a damaged file ---------------------------------------------------------------------
def _page_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return size


def test_a_page_of_random_bytes_is_detected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite"
    _ledger_with_runs(path, n=5, samples_per_run=400)
    page = _page_size(path)
    data = bytearray(path.read_bytes())
    assert len(data) >= 6 * page
    data[4 * page : 5 * page] = os.urandom(page)  # a page in the middle, header intact
    path.write_bytes(bytes(data))
    assert main(["runs", "--ledger", str(path)]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "damaged" in err and str(path) in err, err
    with pytest.raises(LedgerError, match="damaged"):
        open_ledger(str(path), verify=True)


@pytest.mark.parametrize("table", ["samples", "runs", "devices", "metrics"])
def test_a_dropped_table_is_detected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str
) -> None:
    path = tmp_path / "ledger.sqlite"
    _ledger_with_runs(path)
    _raw(path, f"DROP TABLE {table}")
    assert main(["runs", "--ledger", str(path)]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "damaged" in err and table in err, err
    with pytest.raises(LedgerError, match=f"table {table} is missing"):
        open_ledger(path)


def test_a_healthy_ledger_passes_the_check(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    _ledger_with_runs(path)
    with open_ledger(str(path), verify=True) as led:
        led.check()
        assert len(led.list_runs()) == 3


def _job_ledger(path: Path, start: float) -> None:
    """A two-rank job whose measurer wrote 2,000 samples, priced by an hourly series."""
    from dataclasses import replace

    from carbonledger.intensity.series import IntensitySeries
    from carbonledger.records import JobInfo

    series = IntensitySeries(
        times=(start, start + 3600.0), values_g_per_kwh=(50.0, 60.0), zone="FR"
    )
    with open_ledger(path) as led:
        for local in (0, 1):
            run = replace(
                make_run(f"{local:02d}" + "cd" * 15, started_at=start),
                job=JobInfo("j", "node-a", local, local, 0, "slurm"),
            )
            led.create_run(run, DEVICES if local == 0 else [])
            led.put_series(run.run_id, series)  # type: ignore[attr-defined]
            if local == 0:
                led.append_samples(
                    run.run_id,
                    [
                        Sample("rapl:package-0", start + k + 0.5, start + k + 1.5, 10.0, 5.0)
                        for k in range(2000)
                    ],
                    heartbeat_at=start + 2000,
                )
            led.finish_run(run.run_id, RunStatus.COMPLETED, start + 2000.5)


def _damage_a_samples_page(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = int(conn.execute("PRAGMA page_size").fetchone()[0])
    leaves = [
        int(r[0])
        for r in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'samples' AND pagetype = 'leaf' ORDER BY 1"
        )
    ]
    conn.close()
    assert len(leaves) > 3
    data = bytearray(path.read_bytes())
    n = leaves[len(leaves) // 2] - 1
    data[n * page : (n + 1) * page] = os.urandom(page)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("aligned", [True, False])
def test_job_checks_the_tables_it_reads_and_names_damage_in_the_samples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], aligned: bool
) -> None:
    """``carbonledger job`` checks every table but the samples before answering (a job is
    priced from the sums kept beside them: a whole-file check of a day of a large job
    takes longer than the answer). A series on whole hours is priced from the kept sums,
    so a damaged samples page does not change the answer; one off the hour makes the job
    read its samples, and the damage is then one line and exit 3, as everywhere."""
    path = tmp_path / "ledger.sqlite"
    _job_ledger(path, 1_699_999_200.0 if aligned else 1_700_000_000.0)
    assert main(["job", "j", "--json", "--no-sacct", "--ledger", str(path)]) == 0
    before = capsys.readouterr().out
    _damage_a_samples_page(path)
    with pytest.raises(LedgerError, match="damaged"):
        open_ledger(str(path), verify=True)  # the whole-file check sees it
    code = main(["job", "j", "--json", "--no-sacct", "--ledger", str(path)])
    out, err = capsys.readouterr()
    if aligned:
        assert code == 0 and out == before, err
    else:
        assert code == 3 and out == ""
        assert len(err.strip().splitlines()) == 1 and str(path) in err, err
        assert "malformed" in err or "damaged" in err, err


def test_a_check_of_named_tables_refuses_an_unknown_name(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    _ledger_with_runs(path)
    with open_ledger(str(path), verify=("runs", "sample_cells")) as led:
        led.check(tables=("devices",))
        with pytest.raises(ValueError, match="no table nope"):
            led.check(tables=("nope",))


# -- issue 9, defect 6: names from any byte string ------------------------------------
def test_a_run_named_with_invalid_utf8_is_kept(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    env = dict(os.environ, CARBONLEDGER_LEDGER=str(ledger))
    cli = [sys.executable, "-m", "carbonledger.cli.main"]
    p = subprocess.run(
        [
            *cli,
            "run",
            "--name",
            os.fsdecode(b"\xff-run"),
            "--tag",
            os.fsdecode(b"t\xfe=v\xfd"),
            "--interval",
            "0.1",
            "--",
            "true",
        ],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert b"failed" not in p.stderr, p.stderr
    p = subprocess.run([*cli, "runs", "--json"], capture_output=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    import json

    rows = json.loads(p.stdout)
    assert [r["name"] for r in rows] == ["\\xff-run"]
    assert rows[0]["tags"] == {"t\\xfe": "v\\xfd"}
