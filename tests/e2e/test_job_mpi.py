"""MPI: ``mpirun -n 4`` of a script whose ranks each track themselves on one simulated
100 W node gives one job footprint of the node's energy (not 4x), every rank's span."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.distributed.nodesim import NODE_W, WORKER, NodeSimulator, rank_env
from tests.engines import require_command

from carbonledger.distributed.job import job_footprint
from carbonledger.store import open_ledger

pytestmark = pytest.mark.slow


def test_mpirun_four_ranks_count_the_node_once(tmp_path: Path) -> None:
    require_command("mpirun")
    ledger = tmp_path / "ledger.sqlite"
    with NodeSimulator(tmp_path / "sys") as node:
        env = rank_env(node.root, ledger, tmp_path / "locks")
        cmd = ["mpirun", "-n", "4", "--oversubscribe"]
        if os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        done = subprocess.run(
            [*cmd, sys.executable, str(WORKER), "4"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    with open_ledger(ledger) as led:
        runs = led.list_runs()
        keys = {r.job.key for r in runs if r.job is not None}
        assert len(runs) == 4 and len(keys) == 1, keys
        key = keys.pop()
        assert key.startswith("mpi:")
        assert sorted(r.job.rank for r in runs if r.job is not None) == [0, 1, 2, 3]
        job = job_footprint(led, key)
    assert job.energy_j is not None and job.duration_s is not None
    # the node ran at 100 W for the job's time: within 5 %, not 4x
    assert job.energy_j / job.duration_s == pytest.approx(NODE_W, rel=0.05)
    assert [len(r.spans) for r in job.ranks] == [1, 1, 1, 1]
    assert all(r.spans[0]["energy_kwh"] for r in job.ranks)
    # one measurer at a time (a rank that ends last may take over from one that ended)
    assert any(r.measured for r in job.ranks)
    assert not any("at once" in w for w in job.warnings), job.warnings


def test_wrapped_single_host_mpirun_is_one_job_with_one_measurer(tmp_path: Path) -> None:
    """``carbonledger run -- mpirun -n 4 ...`` on one host: the wrapper and the ranks that
    track themselves share the wrapper's key (all ranks are local and inherit it), no
    warning, and the node is counted once."""
    require_command("mpirun")
    ledger = tmp_path / "ledger.sqlite"
    with NodeSimulator(tmp_path / "sys") as node:
        env = rank_env(node.root, ledger, tmp_path / "locks")
        cmd = ["mpirun", "-n", "4", "--oversubscribe"]
        if os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "carbonledger.cli.main",
                "run",
                "--interval",
                "0.2",
                "--",
                *cmd,
                sys.executable,
                str(WORKER),
                "3",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "carbonledger run:" not in done.stderr  # no warning on one host
    with open_ledger(ledger) as led:
        runs = led.list_runs()
        keys = {r.job.key for r in runs if r.job is not None}
        assert len(runs) == 5 and len(keys) == 1, keys
        key = keys.pop()
        assert key.startswith("run:")
        job = job_footprint(led, key)
    assert job.energy_j is not None and job.duration_s is not None
    assert job.energy_j / job.duration_s == pytest.approx(NODE_W, rel=0.05)
    assert not any("at once" in w for w in job.warnings), job.warnings
