"""The job key a wrapped launcher's ranks will derive, read from its command line, and the
key ``carbonledger run`` exports to them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.distributed.identity import detect_job, wrapper_job
from carbonledger.distributed.launchers import read_launch, torchrun_options

T = "/usr/bin/torchrun"


@pytest.mark.parametrize(
    ("argv", "env", "key"),
    [
        ([T, "--nnodes=2", "--rdzv-id=exp7", "train.py"], {}, "torchrun:exp7"),
        ([T, "--nnodes", "2", "--rdzv_id", "exp7", "train.py"], {}, "torchrun:exp7"),
        (
            [T, "--nnodes=2", "--master-addr=node0", "--master-port=29400", "t.py"],
            {},
            "torchrun:none@node0:29400",
        ),
        (
            [T, "--nnodes=2", "--master_addr", "10.0.0.1", "t.py"],
            {},
            "torchrun:none@10.0.0.1:29500",
        ),
        ([T, "--nnodes=2", "t.py"], {}, "torchrun:none@127.0.0.1:29500"),
        (
            [T, "--nproc-per-node=1", "--master-port=4000", "t.py"],
            {},
            "torchrun:none@127.0.0.1:4000",
        ),
        ([T, "--rdzv-endpoint=[::1]:4000", "t.py"], {}, "torchrun:none@::1:4000"),
        (
            [T, "--rdzv-endpoint=h:4000", "--rdzv-backend=c10d", "--rdzv-id=x", "t.py"],
            {},
            "torchrun:x",
        ),
        (
            ["python3", "-u", "-m", "torch.distributed.run", "--nnodes=2", "--rdzv-id=a", "t.py"],
            {},
            "torchrun:a",
        ),
        (
            [
                "python",
                "-mtorch.distributed.launch",
                "--use-env",
                "--master-port=1",
                "--rdzv_id=b",
                "t",
            ],
            {},
            "torchrun:b",
        ),
        ([T, "t.py"], {"PET_RDZV_ID": "envid", "PET_NNODES": "2"}, "torchrun:envid"),
        # one node, the static default and no port: torchrun makes a random id (torch 2.13)
        ([T, "--rdzv-id=a", "t.py"], {}, None),
        ([T, "--nnodes=2", "--rdzv-id=cli", "t.py"], {"PET_RDZV_ID": "envid"}, "torchrun:cli"),
        (
            [T, "--nnodes=2", "--rdzv-i=abbrev", "t.py"],
            {},
            "torchrun:abbrev",
        ),  # argparse takes prefixes
        # the script's own options are its own
        ([T, "--nnodes=2", "--rdzv-id=a", "t.py", "--rdzv-id=b"], {}, "torchrun:a"),
        ([T, "-m", "pkg.train", "--rdzv-id=b"], {}, None),  # single node, random id
        # torchrun makes a random id: no key here
        ([T, "--standalone", "--nproc-per-node=8", "t.py"], {}, None),
        ([T, "t.py"], {"PET_STANDALONE": "1", "PET_RDZV_ID": "x"}, None),
        ([T, "--nproc-per-node=8", "t.py"], {}, None),
        ([T, "--nnodes=2", "--rdzv-backend=c10d", "--rdzv-endpoint=h:1", "t.py"], {}, None),
        ([T, "--rdzv-id=bad key", "t.py"], {}, None),  # not a key ranks would accept
        (["python", "t.py"], {}, None),
        (["python", "-c", "import torch.distributed.run"], {}, None),
        (["mpirun", "-n", "4", "python", "t.py"], {}, None),
        ([], {}, None),
    ],
)
def test_key_from_the_command_line(argv: list[str], env: dict[str, str], key: str | None) -> None:
    assert read_launch(argv, env).key == key


def _worker_key(launch_key: str) -> str | None:
    """What a torchrun worker derives from the variables torchrun gives it."""
    rest = launch_key.removeprefix("torchrun:")
    if rest.startswith("none@"):
        addr, _, port = rest[5:].rpartition(":")
        env = {"TORCHELASTIC_RUN_ID": "none", "MASTER_ADDR": addr, "MASTER_PORT": port}
    else:
        env = {"TORCHELASTIC_RUN_ID": rest}
    d = detect_job(env)
    return None if d is None else d.job.key


@given(
    run_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,30}", fullmatch=True),
    addr=st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True),
    port=st.integers(1, 65535),
    spelled=st.sampled_from(["--rdzv-id=", "--rdzv_id="]),
    nodes=st.integers(1, 64),
)
def test_wrapper_key_is_what_the_workers_derive(
    run_id: str, addr: str, port: int, spelled: str, nodes: int
) -> None:
    base = [T, f"--nnodes={nodes}", f"--master-addr={addr}", f"--master-port={port}"]
    for argv in ([*base, spelled + run_id, "t.py"], [*base, "t.py"]):
        launch = read_launch(argv, {})
        assert launch.key is not None
        assert _worker_key(launch.key) == launch.key
        job = wrapper_job(None, {}, argv)
        assert job.key == launch.key and job.warnings == ()
    # exported to the workers as CARBONLEDGER_JOB, it is the key they use
    d = detect_job({"CARBONLEDGER_JOB": job.key, "TORCHELASTIC_RUN_ID": "none", "RANK": "0"})
    assert d is not None and d.job.key == launch.key and d.job.launcher == "torchrun"


@given(st.lists(st.text(max_size=12), max_size=8))
def test_reading_any_command_line_never_fails(argv: list[str]) -> None:
    for head in ([T], ["mpirun"], ["srun"], ["python", "-m", "torch.distributed.run"]):
        launch = read_launch([*head, *argv], {})
        assert launch.key is None or launch.key.startswith("torchrun:")


def test_options_stop_at_the_script() -> None:
    opts = torchrun_options(["--nnodes", "2", "-r", "3", "--standalone", "s.py", "--nnodes=9"])
    assert opts == {"nnodes": "2", "redirects": "3", "standalone": "1"}


def test_multi_node_torchrun_without_a_key_warns_once() -> None:
    job = wrapper_job(
        None, {}, [T, "--nnodes=2", "--rdzv-backend=c10d", "--rdzv-endpoint=h:1", "t"]
    )
    assert job.key.startswith("run:")
    assert len(job.warnings) == 1 and "--job KEY" in job.warnings[0]
    assert "\n" not in job.warnings[0]
    # with a key given (or one from Slurm), no warning
    assert wrapper_job("k", {}, [T, "--nnodes=2", "--rdzv-backend=c10d", "t"]).warnings == ()
    slurm = {"SLURM_JOB_ID": "9"}
    assert wrapper_job(None, slurm, [T, "--nnodes=2", "--rdzv-backend=c10d", "t"]).key == "slurm:9"


def test_single_node_launches_keep_a_wrapper_key_without_warning() -> None:
    for argv in (
        [T, "--standalone", "--nproc-per-node=4", "t.py"],
        ["mpirun", "-n", "4", "python", "t.py"],
        ["mpirun", "--host", "localhost,localhost", "python", "t.py"],
        ["srun", "-n", "4", "python", "t.py"],
        ["python", "t.py"],
    ):
        job = wrapper_job(None, {}, argv)
        assert job.key.startswith("run:") and job.warnings == (), argv


def test_explicit_and_launcher_keys_win_over_the_command() -> None:
    argv = [T, "--rdzv-id=a", "t.py"]
    assert wrapper_job("given", {}, argv).key == "given"
    assert wrapper_job(None, {"CARBONLEDGER_JOB": "env"}, argv).key == "env"
    assert wrapper_job(None, {"SLURM_JOB_ID": "7"}, argv).key == "slurm:7"


@pytest.mark.parametrize(
    ("argv", "warns"),
    [
        (["mpirun", "--host", "a,b", "python", "t.py"], True),
        (["mpirun", "-np", "8", "-H", "a:4,b:4", "./a.out"], True),
        (["mpirun", "--oversubscribe", "--host", "a,b", "./a.out"], True),
        (["mpirun", "--host", "a,b", "-x", "CARBONLEDGER_JOB", "python", "t.py"], False),
        (["mpiexec", "-hosts", "a,b", "-genv", "CARBONLEDGER_JOB", "k", "./a.out"], False),
        (["mpiexec.hydra", "-hosts", "a,b", "./a.out"], False),  # Hydra forwards everything
        (["mpiexec.mpich", "-hosts", "a,b", "-genvnone", "./a.out"], True),
        (["mpirun", "--hostfile", "/nonexistent/hosts", "./a.out"], True),
        (["mpirun", "-n", "2", "./a.out", "--host", "a,b"], False),  # the program's own
        (["srun", "--export=NONE", "python", "t.py"], True),
        (["srun", "--export=PATH,CARBONLEDGER_JOB", "-N", "2", "python", "t.py"], False),
        (["srun", "-N2", "python", "t.py"], False),  # srun forwards the environment
    ],
)
def test_mpi_and_srun_warn_when_the_key_cannot_reach_every_rank(
    argv: list[str], warns: bool
) -> None:
    job = wrapper_job("k", {}, argv)
    assert job.key == "k"
    assert bool(job.warnings) is warns, job.warnings
    if warns:
        assert "CARBONLEDGER_JOB" in job.warnings[0]


def test_hostfile_hosts_are_counted(tmp_path: Path) -> None:
    one = tmp_path / "one"
    one.write_text("# a comment\nnode1 slots=4\nnode1\n")
    two = tmp_path / "two"
    two.write_text("node1 slots=4\nnode2 slots=4\n")
    assert not read_launch(["mpirun", "--hostfile", str(one), "x"], {}).multi_node
    assert read_launch(["mpirun", "--hostfile", str(two), "x"], {}).multi_node
    assert read_launch(["mpirun", f"--hostfile={two}", "x"], {}).multi_node


def test_pmi_only_launcher_warns_from_rank_zero_only() -> None:
    pmi = {"PMI_RANK": "0", "PMI_SIZE": "4", "PMI_FD": "5"}
    job = wrapper_job(None, pmi, ["python", "t.py"])
    assert job.key.startswith("run:")
    assert len(job.warnings) == 1 and "PMI" in job.warnings[0]
    assert wrapper_job(None, {**pmi, "PMI_RANK": "3"}, ["python", "t.py"]).warnings == ()
    assert wrapper_job("k", pmi, ["python", "t.py"]).warnings == ()
    assert wrapper_job(None, {**pmi, "CARBONLEDGER_JOB": "k"}, ["python"]).warnings == ()
    # MPICH under Slurm (srun --mpi=pmi2): Slurm names the job
    assert wrapper_job(None, {**pmi, "SLURM_JOB_ID": "3"}, ["python"]).warnings == ()


def test_inside_an_allocation_the_slurm_key_reaches_every_rank_without_warning() -> None:
    job = wrapper_job(None, {"SLURM_JOB_ID": "5"}, ["mpirun", "--host", "a,b", "./a.out"])
    assert job.key == "slurm:5" and job.warnings == ()
    # a key given in CARBONLEDGER_JOB is this shell's only: remote ranks need it forwarded
    job = wrapper_job(None, {"CARBONLEDGER_JOB": "k"}, ["mpirun", "--host", "a,b", "./a.out"])
    assert job.key == "k" and len(job.warnings) == 1
