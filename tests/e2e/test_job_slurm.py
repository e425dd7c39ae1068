"""Slurm: a one-node cluster runs ``srun --ntasks=4`` and ``sbatch`` jobs whose tasks each
track themselves on a simulated 100 W node: one job footprint per job, the node's energy
(not 4x, within 5 %), every rank's span present."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.distributed.nodesim import NODE_W, WORKER, NodeSimulator, rank_env
from tests.e2e.slurm_cluster import slurm_cluster
from tests.engines import require_command, unavailable

from carbonledger.distributed.job import job_footprint
from carbonledger.store import open_ledger

pytestmark = pytest.mark.slow


def _check_job(ledger: Path, tasks: int) -> str:
    with open_ledger(ledger) as led:
        runs = led.list_runs()
        keys = {r.job.key for r in runs if r.job is not None}
        assert len(runs) == tasks and len(keys) == 1, keys
        key = keys.pop()
        assert key.startswith("slurm:cltest:")
        assert sorted(r.job.rank for r in runs if r.job is not None) == list(range(tasks))
        job = job_footprint(led, key)
    assert job.energy_j is not None and job.duration_s is not None
    assert job.energy_j / job.duration_s == pytest.approx(NODE_W, rel=0.05)
    assert [len(r.spans) for r in job.ranks] == [1] * tasks
    assert all(r.spans[0]["energy_kwh"] for r in job.ranks)
    # one measurer at a time (a rank that ends last may take over from one that ended)
    assert any(r.measured for r in job.ranks)
    assert not any("at once" in w for w in job.warnings), job.warnings
    return key


def test_srun_and_sbatch_jobs_count_the_node_once(tmp_path: Path) -> None:
    require_command("slurmctld", "slurmd", "srun", "sbatch", "munged")
    if os.geteuid() != 0:
        unavailable("a throwaway Slurm cluster needs root")
    with NodeSimulator(tmp_path / "sys") as node, slurm_cluster(tmp_path / "slurm") as senv:
        ledger = tmp_path / "srun.sqlite"
        env = {**rank_env(node.root, ledger, tmp_path / "locks"), "SLURM_CONF": senv["SLURM_CONF"]}
        done = subprocess.run(
            ["srun", "--ntasks=4", "--overcommit", sys.executable, str(WORKER), "4"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        _check_job(ledger, 4)

        batch_ledger = tmp_path / "sbatch.sqlite"
        env = {
            **rank_env(node.root, batch_ledger, tmp_path / "locks"),
            "SLURM_CONF": senv["SLURM_CONF"],
        }
        script = tmp_path / "job.sh"
        script.write_text(
            "#!/bin/sh\n#SBATCH --ntasks=2\n#SBATCH --overcommit\n"
            f"#SBATCH --output={tmp_path}/batch.out\n"
            f"srun {sys.executable} {WORKER} 4\n"
        )
        done = subprocess.run(
            ["sbatch", "--parsable", "--wait", str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = (tmp_path / "batch.out").read_text() if (tmp_path / "batch.out").exists() else ""
        assert done.returncode == 0, done.stderr[-2000:] + out[-2000:]
        time.sleep(0.2)
        key = _check_job(batch_ledger, 2)
        assert key.endswith(":" + done.stdout.strip().split(";")[0])
