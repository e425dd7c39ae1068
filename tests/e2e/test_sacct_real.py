"""Slurm's own accounting read by the real ``sacct``: a one-node cluster that keeps
accounting (slurmdbd + a private MariaDB) runs an ``sbatch`` job whose tasks track
themselves on a simulated 100 W node; ``carbonledger job KEY`` shows Slurm's row (job id,
elapsed, state, as slurmctld reports them) beside its own figure, says Slurm recorded no
energy (no energy plug-in here: ConsumedEnergyRaw 0, never shown as 0 J) and gives the
caveat (CPU/node only, no NVIDIA GPU energy, node-level unless exclusive)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.distributed.nodesim import WORKER, NodeSimulator, rank_env
from tests.e2e.slurm_cluster import ACCOUNTING_COMMANDS, slurm_cluster
from tests.engines import require_command, unavailable

from carbonledger.distributed.slurm import CAVEAT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def accounted_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One cluster with accounting, started once for the module; yields the env with
    ``SLURM_CONF``. It shares nothing with other clusters (its own munged, ports, folders),
    so another xdist worker's cluster may run beside it."""
    require_command("slurmctld", "slurmd", "srun", "sbatch", "munged", *ACCOUNTING_COMMANDS)
    if os.geteuid() != 0:
        unavailable("a throwaway Slurm cluster with accounting needs root")
    with slurm_cluster(tmp_path_factory.mktemp("slurmacct"), accounting=True) as env:
        yield env


def _scontrol_job(env: dict[str, str], job_id: str) -> dict[str, str]:
    """slurmctld's own view of a job (``scontrol show job -o``) as key=value pairs."""
    out = subprocess.run(
        ["scontrol", "-o", "show", "job", job_id],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return dict(kv.split("=", 1) for kv in out.split() if "=" in kv)


def _seconds(hms: str) -> int:
    days, _, rest = hms.rpartition("-")
    h, m, s = (int(x) for x in rest.split(":"))
    return int(days or 0) * 86400 + h * 3600 + m * 60 + s


def _recorded(env: dict[str, str], job_id: str) -> str:
    """Wait until slurmdbd has the job's end (slurmctld sends it asynchronously)."""
    deadline = time.monotonic() + 60
    state = ""
    while time.monotonic() < deadline:
        state = subprocess.run(
            ["sacct", "-j", job_id, "-X", "-n", "-P", "-o", "State"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        ).stdout.strip()
        if state and state not in ("PENDING", "RUNNING"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"slurmdbd never recorded the end of job {job_id}: {state!r}")


def test_job_shows_slurms_own_accounting_beside_carbonledgers(
    accounted_cluster: dict[str, str], tmp_path: Path
) -> None:
    ledger = tmp_path / "sbatch.sqlite"
    script = tmp_path / "job.sh"
    script.write_text(
        "#!/bin/sh\n#SBATCH --ntasks=2\n#SBATCH --overcommit\n"
        f"#SBATCH --output={tmp_path}/batch.out\n"
        f"srun {sys.executable} {WORKER} 3\n"
    )
    with NodeSimulator(tmp_path / "sys") as node:
        env = {
            **rank_env(node.root, ledger, tmp_path / "locks"),
            "SLURM_CONF": accounted_cluster["SLURM_CONF"],
        }
        done = subprocess.run(
            ["sbatch", "--parsable", "--wait", str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    out = (tmp_path / "batch.out").read_text() if (tmp_path / "batch.out").exists() else ""
    assert done.returncode == 0, done.stderr[-2000:] + out[-2000:]
    job_id = done.stdout.strip().split(";")[0]
    state = _recorded(env, job_id)
    ctld = _scontrol_job(env, job_id)
    assert state == ctld["JobState"] == "COMPLETED"

    cli = [sys.executable, "-m", "carbonledger.cli.main", "job", f"slurm:cltest:{job_id}"]
    got = subprocess.run([*cli, "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert got.returncode == 0, got.stderr[-2000:]
    data = json.loads(got.stdout)
    sched = data["scheduler"]
    assert sched["source"] == "sacct"
    assert sched["job_id"] == job_id and sched["job_id_raw"] == ctld["JobId"]
    assert sched["state"] == ctld["JobState"]
    assert sched["elapsed_s"] == _seconds(ctld["RunTime"])
    assert sched["steps"] >= 2  # the batch step and the srun step
    # no energy plug-in: Slurm's ConsumedEnergyRaw is 0, which means "not recorded"
    assert sched["energy_kwh"] is None
    assert sched["caveat"] == CAVEAT
    assert data["energy_kwh"] and data["energy_kwh"] > 0  # carbonledger's own figure

    got = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60)
    assert got.returncode == 0, got.stderr[-2000:]
    slurm_lines = [ln for ln in got.stdout.splitlines() if "Slurm" in ln or "sacct" in ln]
    text = "\n".join(slurm_lines)
    assert f"job {job_id}" in text and "COMPLETED" in text
    assert "recorded no energy" in text
    assert " 0 J" not in text and " 0 Wh" not in text and " 0 kWh" not in text
    assert "no NVIDIA GPU energy" in got.stdout and "exclusive" in got.stdout
