"""``carbonledger run -- torchrun ...`` on each node of a two-node launch: the wrappers on
both nodes and the workers all share one job key, the one the workers derive themselves
(here from a stand-in ``torchrun`` that gives its worker torchrun's variables)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.distributed.nodesim import NODE_W, WORKER, NodeSimulator, rank_env

from carbonledger.distributed.identity import detect_job
from carbonledger.distributed.job import job_footprint
from carbonledger.store import open_ledger

pytestmark = pytest.mark.slow

FAKE_TORCHRUN = """#!{python}
import os, subprocess, sys
args = sys.argv[1:]
opts = dict(a[2:].split("=", 1) for a in args if a.startswith("--"))
script = [a for a in args if not a.startswith("--")]
rank = opts.get("node-rank", "0")
env = dict(
    os.environ,
    TORCHELASTIC_RUN_ID=opts.get("rdzv-id", "none"),
    TORCHELASTIC_RESTART_COUNT="0",
    MASTER_ADDR=opts.get("master-addr", "127.0.0.1"),
    MASTER_PORT=opts.get("master-port", "29500"),
    GROUP_RANK=rank, RANK=rank, LOCAL_RANK="0",
    WORLD_SIZE=opts.get("nnodes", "1"), LOCAL_WORLD_SIZE="1",
)
with open(os.environ["SEEN_FILE"], "a") as fh:
    fh.write(os.environ.get("CARBONLEDGER_JOB", "") + "\\n")
sys.exit(subprocess.call([sys.executable, *script], env=env))
"""


def _fake_torchrun(folder: Path) -> Path:
    folder.mkdir()
    path = folder / "torchrun"
    path.write_text(FAKE_TORCHRUN.format(python=sys.executable))
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(
    ("options", "key"),
    [
        (["--rdzv-id=exp9"], "torchrun:exp9"),
        (["--master-addr=127.0.0.1", "--master-port=29555"], "torchrun:none@127.0.0.1:29555"),
    ],
)
def test_wrapped_two_node_torchrun_is_one_job(tmp_path: Path, options: list[str], key: str) -> None:
    torchrun = _fake_torchrun(tmp_path / "bin")
    ledger = tmp_path / "ledger.sqlite"
    seen = tmp_path / "seen.txt"
    for node_rank, name in enumerate(("node-a", "node-b")):
        with NodeSimulator(tmp_path / f"sys-{name}") as sim:
            env = rank_env(sim.root, ledger, tmp_path / f"locks-{name}", node=name)
            env["SEEN_FILE"] = str(seen)
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "carbonledger.cli.main",
                    "run",
                    "--interval",
                    "0.1",
                    "--",
                    str(torchrun),
                    "--nnodes=2",
                    *options,
                    f"--node-rank={node_rank}",
                    str(WORKER),
                    "1",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "--job KEY" not in done.stderr  # a key was derived: no warning
    # CARBONLEDGER_JOB given to each node's torchrun is the key its workers derive
    assert seen.read_text().split() == [key, key]
    worker_env = {"TORCHELASTIC_RUN_ID": key.removeprefix("torchrun:").split("@")[0]}
    if "@" in key:
        addr, _, port = key.split("@")[1].rpartition(":")
        worker_env.update(MASTER_ADDR=addr, MASTER_PORT=port)
    derived = detect_job(worker_env)
    assert derived is not None and derived.job.key == key
    with open_ledger(ledger) as led:
        runs = led.list_runs()
        assert len(runs) == 4  # a wrapper and a worker per node
        assert {r.job.key for r in runs if r.job is not None} == {key}
        assert sorted(r.job.local_rank is None for r in runs if r.job is not None) == [
            False,
            False,
            True,
            True,
        ]  # the wrappers have no rank; the workers torchrun's
        job = job_footprint(led, key)
    assert [n.node for n in job.nodes] == ["node-a", "node-b"]
    for n in job.nodes:
        fp = n.footprint
        assert fp.energy_j is not None and fp.duration_s is not None
        assert fp.energy_j / fp.duration_s == pytest.approx(NODE_W, rel=0.1)  # once, not 2x
    assert not any("at once" in w for w in job.warnings), job.warnings


def test_multi_node_launch_without_a_key_warns(tmp_path: Path) -> None:
    torchrun = _fake_torchrun(tmp_path / "bin")
    env = dict(os.environ, SEEN_FILE=str(tmp_path / "seen.txt"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "carbonledger.cli.main",
            "run",
            "--quiet",
            "--",
            str(torchrun),
            "--nnodes=2",
            "--rdzv-backend=c10d",
            "--rdzv-endpoint=h:1",
            "-c",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [ln for ln in done.stderr.splitlines() if "--job KEY" in ln]
    assert len(lines) == 1 and lines[0].startswith("carbonledger run: torchrun spans several")
