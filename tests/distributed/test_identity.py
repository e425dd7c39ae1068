"""Job identity from launcher environments (Slurm, torchrun, MPI, explicit)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.distributed.identity import detect_job, node_name, parse_job_key
from carbonledger.errors import ConfigError

SLURM = {
    "SLURM_JOB_ID": "4242",
    "SLURM_CLUSTER_NAME": "hpc",
    "SLURM_STEP_ID": "0",
    "SLURM_PROCID": "5",
    "SLURM_LOCALID": "1",
    "SLURM_NODEID": "1",
    "SLURMD_NODENAME": "gpu017",
    "SLURM_NTASKS": "8",
    "SLURM_RESTART_COUNT": "2",
}


def test_no_launcher_means_no_job() -> None:
    assert detect_job({}) is None


def test_slurm_task() -> None:
    d = detect_job(SLURM)
    assert d is not None
    assert d.job.key == "slurm:hpc:4242"
    assert (d.job.node, d.job.rank, d.job.local_rank, d.job.restart) == ("gpu017", 5, 1, 2)
    assert d.job.launcher == "slurm" and d.step == "0" and d.world_size == 8


def test_slurm_array_task_is_its_own_job() -> None:
    env = {**SLURM, "SLURM_ARRAY_JOB_ID": "4240", "SLURM_ARRAY_TASK_ID": "2"}
    d = detect_job(env)
    assert d is not None and d.job.key == "slurm:hpc:4240_2"


def test_old_slurm_jobid_alias_and_no_cluster() -> None:
    d = detect_job({"SLURM_JOBID": "7", "SLURM_PROCID": "0"})
    assert d is not None and d.job.key == "slurm:7"


TORCH = {
    "TORCHELASTIC_RUN_ID": "exp1",
    "TORCHELASTIC_RESTART_COUNT": "1",
    "RANK": "3",
    "LOCAL_RANK": "1",
    "GROUP_RANK": "1",
    "WORLD_SIZE": "4",
    "LOCAL_WORLD_SIZE": "2",
}


def test_torchrun_worker() -> None:
    d = detect_job({**TORCH, "CARBONLEDGER_HOSTNAME": "node-b"})
    assert d is not None
    assert d.job.key == "torchrun:exp1"
    assert (d.job.node, d.job.rank, d.job.local_rank, d.job.restart) == ("node-b", 3, 1, 1)
    assert d.job.launcher == "torchrun" and d.local_world_size == 2


def test_torchrun_default_run_id_is_named_by_rendezvous() -> None:
    env = {
        **TORCH,
        "TORCHELASTIC_RUN_ID": "none",
        "MASTER_ADDR": "10.0.0.1",
        "MASTER_PORT": "29500",
    }
    d = detect_job(env)
    assert d is not None and d.job.key == "torchrun:none@10.0.0.1:29500"


def test_torchrun_under_slurm_keys_on_the_allocation_and_ranks_on_torchrun() -> None:
    d = detect_job({**SLURM, **TORCH})
    assert d is not None
    assert d.job.key == "slurm:hpc:4242"
    assert (d.job.rank, d.job.local_rank, d.job.launcher) == (3, 1, "torchrun")
    assert d.job.restart == 1  # torchrun's count: its workers restart, not the allocation


def test_open_mpi_rank() -> None:
    env = {
        "OMPI_COMM_WORLD_RANK": "2",
        "OMPI_COMM_WORLD_LOCAL_RANK": "2",
        "OMPI_COMM_WORLD_SIZE": "4",
        "PMIX_NAMESPACE": "prterun-host-123@1",
    }
    d = detect_job(env)
    assert d is not None
    assert d.job.key == "mpi:prterun-host-123@1"
    assert (d.job.rank, d.job.local_rank, d.job.launcher, d.world_size) == (2, 2, "mpi", 4)


def test_pmi_rank_with_explicit_job() -> None:
    d = detect_job({"PMI_RANK": "1", "CARBONLEDGER_JOB": "sweep-7"})
    assert d is not None and d.job.key == "sweep-7" and d.job.rank == 1


def test_explicit_wins_over_environment() -> None:
    d = detect_job({**SLURM, "CARBONLEDGER_JOB": "env-job"}, explicit="given")
    assert d is not None and d.job.key == "given" and d.job.rank == 5


def test_bad_job_key_is_refused_naming_the_source() -> None:
    with pytest.raises(ConfigError, match="CARBONLEDGER_JOB"):
        detect_job({"CARBONLEDGER_JOB": "a b\n"})


@given(st.text(max_size=60))
def test_parse_job_key_accepts_only_safe_keys(text: str) -> None:
    try:
        key = parse_job_key(text)
    except ConfigError:
        return
    assert key and all(ch.isprintable() and not ch.isspace() for ch in key)


def test_node_name_prefers_override_then_slurm() -> None:
    assert node_name({"CARBONLEDGER_HOSTNAME": "a", "SLURMD_NODENAME": "b"}) == "a"
    assert node_name({"SLURMD_NODENAME": "b"}) == "b"
    assert node_name({})
