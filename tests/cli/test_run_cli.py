"""End-to-end tests of `carbonledger run`, `runs`, `show` and `report` in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carbonledger.records import RunStatus
from carbonledger.store import open_ledger

CLI = [sys.executable, "-m", "carbonledger.cli.main"]


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env or dict(os.environ), timeout=timeout
    )


@pytest.mark.slow
def test_run_passes_exit_code_and_output_through_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "fp.json"
    code = "import sys; print('hello'); sys.stderr.write('err\\n'); sys.exit(7)"
    p = cli(
        "run",
        "--name",
        "exit7",
        "--zone",
        "FR",
        "--interval",
        "0.1",
        "--json-out",
        str(out),
        "--tag",
        "team=ml",
        "--",
        sys.executable,
        "-c",
        code,
    )
    assert p.returncode == 7
    assert "hello" in p.stdout
    assert "err" in p.stderr
    assert "carbonledger: exit7" in p.stderr
    d = json.loads(out.read_text())
    assert d["status"] == "failed"
    assert d["name"] == "exit7"
    assert d["tags"] == {"team": "ml"}
    assert d["intensity"]["zone"] == "FR"
    for c in d["components"]:
        assert c["method"] in ("measured", "modeled", "default")


@pytest.mark.slow
def test_run_forwards_stdin_and_sigterm(tmp_path: Path) -> None:
    p = subprocess.run(
        [*CLI, "run", "--quiet", "--", sys.executable, "-c", "print(input()[::-1])"],
        input="abc\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0 and p.stdout.strip() == "cba"

    out = tmp_path / "fp.json"
    script = "import time\nprint('ready', flush=True)\ntime.sleep(30)"
    proc = subprocess.Popen(
        [
            *CLI,
            "run",
            "--quiet",
            "--interval",
            "0.1",
            "--json-out",
            str(out),
            "--",
            sys.executable,
            "-c",
            script,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert json.loads(out.read_text())["status"] == "interrupted"


@pytest.mark.slow
def test_runs_show_and_report(tmp_path: Path) -> None:
    p = cli("run", "--name", "listed", "--quiet", "--functional-unit", "request=1000", "--", "true")
    assert p.returncode == 0, p.stderr
    runs = json.loads(cli("runs", "--json").stdout)
    assert len(runs) == 1
    row = runs[0]
    assert {"run_id", "name", "status", "started_at", "energy_kwh", "total_kgco2e"} <= set(row)
    assert row["name"] == "listed" and row["status"] == "completed"
    prefix = row["run_id"][:6]
    shown = json.loads(cli("show", prefix, "--json").stdout)
    assert shown["run_id"] == row["run_id"]
    assert shown["functional_unit"]["name"] == "request"
    text = cli("show", prefix)
    assert "listed" in text.stdout
    csv_out = tmp_path / "r.csv"
    assert cli("report", prefix, "--format", "csv", "-o", str(csv_out)).returncode == 0
    header, line = csv_out.read_text().splitlines()[:2]
    assert header.startswith("run_id,name,phase")
    assert line.startswith(row["run_id"])
    samples = cli("report", prefix, "--format", "csv", "--samples").stdout.splitlines()
    assert samples[0] == "run_id,device,t_start,t_end,host_energy_j,energy_j"
    rep = json.loads(cli("report", prefix, "--format", "json").stdout)
    assert rep["schema"] == "carbonledger.footprint/1"


def test_bad_input_exits_3_with_one_line(tmp_path: Path) -> None:
    for args in (
        ["show", "nope"],
        ["run", "--zone", "Atlantis", "--", "true"],
        ["run", "--functional-unit", "request", "--", "true"],
    ):
        p = cli(*args)
        assert p.returncode == 3, (args, p.stderr)
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("carbonledger: error:"), p.stderr
        assert "Traceback" not in p.stderr
    env = dict(os.environ, CARBONLEDGER_PUE="lots")
    p = cli("runs", env=env)
    assert p.returncode == 3 and "pue" in p.stderr


def test_usage_errors_exit_2() -> None:
    assert cli("run").returncode == 2
    assert cli("frobnicate").returncode == 2


@pytest.mark.slow
def test_kill_9_of_the_tracker_keeps_what_was_recorded(tmp_path: Path) -> None:
    ledger_path = Path(os.environ["CARBONLEDGER_LEDGER"])
    proc = subprocess.Popen(
        [*CLI, "run", "--name", "killed", "--interval", "0.1", "--", "sleep", "60"],
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            time.sleep(0.5)
            if ledger_path.exists():
                with open_ledger(ledger_path) as ledger:
                    runs = ledger.list_runs()
                    if runs and len(ledger.samples(runs[0].run_id)) >= 20:
                        break
        time.sleep(2.5)  # at least one more flush
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    with open_ledger(ledger_path) as ledger:
        run = ledger.list_runs()[0]
        assert run.status is RunStatus.INTERRUPTED
        samples = ledger.samples(run.run_id)
        assert len(samples) >= 20
    shown = json.loads(cli("show", run.run_id, "--json").stdout)
    assert shown["status"] == "interrupted"
    assert shown["energy_kwh"] is not None and shown["energy_kwh"] > 0
