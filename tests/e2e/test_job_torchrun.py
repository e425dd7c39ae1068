"""torchrun: a real torch.distributed job (CPU, gloo), two nodes simulated as two torchrun
agents with different node names and powercap trees, two workers each, every worker
tracking itself: one job footprint with both nodes, each counted once."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests.distributed.nodesim import NODE_W, WORKER, NodeSimulator, rank_env
from tests.engines import require_module

from carbonledger.distributed.job import job_footprint
from carbonledger.store import open_ledger

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_torchrun_two_nodes_two_workers(tmp_path: Path) -> None:
    require_module("torch")
    ledger = tmp_path / "ledger.sqlite"
    port = _free_port()
    with NodeSimulator(tmp_path / "sys-a") as a, NodeSimulator(tmp_path / "sys-b") as b:
        agents = []
        for node_rank, (name, sim) in enumerate((("node-a", a), ("node-b", b))):
            env = rank_env(sim.root, ledger, tmp_path / "locks", node=name)
            env["GLOO_SOCKET_IFNAME"] = "lo"
            agents.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "torch.distributed.run",
                        "--nnodes=2",
                        "--nproc-per-node=2",
                        f"--node-rank={node_rank}",
                        "--master-addr=127.0.0.1",
                        f"--master-port={port}",
                        str(WORKER),
                        "4",
                        "torch",
                    ],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        outputs = [p.communicate(timeout=240)[0] for p in agents]
    assert [p.returncode for p in agents] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    with open_ledger(ledger) as led:
        runs = led.list_runs()
        keys = {r.job.key for r in runs if r.job is not None}
        assert len(runs) == 4 and len(keys) == 1, keys
        key = keys.pop()
        assert key.startswith("torchrun:")
        assert {r.job.launcher for r in runs if r.job is not None} == {"torchrun"}
        assert sorted(r.job.rank for r in runs if r.job is not None) == [0, 1, 2, 3]
        job = job_footprint(led, key)
    assert [n.node for n in job.nodes] == ["node-a", "node-b"]
    for n in job.nodes:
        fp = n.footprint
        assert fp.energy_j is not None and fp.duration_s is not None
        assert fp.energy_j / fp.duration_s == pytest.approx(NODE_W, rel=0.05)
    assert job.energy_j is not None
    assert job.energy_j == pytest.approx(sum(n.footprint.energy_j or 0 for n in job.nodes))
    assert [len(r.spans) for r in job.ranks] == [1, 1, 1, 1]
    assert not any("at once" in w for w in job.warnings), job.warnings


def test_wrapped_torchrun_on_each_node_is_one_job(tmp_path: Path) -> None:
    """``carbonledger run -- torchrun --nnodes=2 ...`` on each node: the wrappers use the
    key torchrun's workers derive (no --job needed), so all six runs are one job and each
    node is counted once."""
    require_module("torch")
    ledger = tmp_path / "ledger.sqlite"
    port = _free_port()
    with NodeSimulator(tmp_path / "sys-a") as a, NodeSimulator(tmp_path / "sys-b") as b:
        agents = []
        for node_rank, (name, sim) in enumerate((("node-a", a), ("node-b", b))):
            env = rank_env(sim.root, ledger, tmp_path / f"locks-{name}", node=name)
            env["GLOO_SOCKET_IFNAME"] = "lo"
            agents.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "carbonledger.cli.main",
                        "run",
                        "--interval",
                        "0.2",
                        "--",
                        sys.executable,
                        "-m",
                        "torch.distributed.run",
                        "--nnodes=2",
                        "--nproc-per-node=2",
                        f"--node-rank={node_rank}",
                        "--master-addr=127.0.0.1",
                        f"--master-port={port}",
                        str(WORKER),
                        "4",
                        "torch",
                    ],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        outputs = [p.communicate(timeout=240)[0] for p in agents]
    assert [p.returncode for p in agents] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    assert not any("--job KEY" in o for o in outputs)
    key = f"torchrun:none@127.0.0.1:{port}"
    with open_ledger(ledger) as led:
        runs = led.list_runs()
        assert len(runs) == 6  # a wrapper and two workers per node
        assert {r.job.key for r in runs if r.job is not None} == {key}
        job = job_footprint(led, key)
    assert [n.node for n in job.nodes] == ["node-a", "node-b"]
    for n in job.nodes:
        fp = n.footprint
        assert fp.energy_j is not None and fp.duration_s is not None
        assert fp.energy_j / fp.duration_s == pytest.approx(NODE_W, rel=0.05)
    assert sorted(r.rank for r in job.ranks if r.rank is not None) == [0, 1, 2, 3]
    assert not any("at once" in w for w in job.warnings), job.warnings


KEY_PRINTER = """
import os
from carbonledger.distributed.identity import detect_job
d = detect_job({k: v for k, v in os.environ.items() if k != "CARBONLEDGER_JOB"})
print("KEY", d.job.key if d is not None else None)
"""


@pytest.mark.parametrize(
    "options",
    [
        ["--master-port={port}"],
        ["--rdzv-id=abc", "--master-port={port}"],
        ["--master_addr", "localhost", "--master_port", "{port}"],
        ["--rdzv-endpoint=localhost:{port}"],
        ["--rdzv-backend=c10d", "--rdzv-endpoint=127.0.0.1:{port}", "--rdzv-id=xyz"],
        ["--standalone"],  # a random id: not knowable, the wrapper makes its own
    ],
)
def test_key_read_from_the_command_line_is_what_real_workers_derive(
    tmp_path: Path, options: list[str]
) -> None:
    require_module("torch")
    from carbonledger.distributed.launchers import read_launch

    script = tmp_path / "key.py"
    script.write_text(KEY_PRINTER)
    port = str(_free_port())
    argv = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node=1",
        *(o.format(port=port) for o in options),
        str(script),
    ]
    env = rank_env(tmp_path, tmp_path / "l.sqlite", tmp_path / "locks")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    derived = [ln.split()[1] for ln in done.stdout.splitlines() if ln.startswith("KEY ")]
    predicted = read_launch(argv, env).key
    assert derived and derived[0].startswith("torchrun:")
    assert predicted is None if "--standalone" in options else predicted == derived[0]
