"""Which job, node and rank this process is: read from the launcher's environment.

Pure functions of an environment mapping. The job *key* comes from, in order: an
explicit name (``job=``, ``--job``, ``CARBONLEDGER_JOB``), Slurm (the allocation, so
every step and every process of one job shares it), torchrun (its rendezvous run id),
MPI (Open MPI's or PMIx's job namespace). PMI-only launchers (MPICH's and Intel MPI's
Hydra) give their ranks no per-job variable: those need an explicit name. The *ranks*
come from the innermost launcher (torchrun, then MPI, then Slurm), since that is what
started this very process: under ``srun torchrun ...`` the workers' ranks are torchrun's,
not Slurm's tasks.

torchrun's ``RANK`` is not stable across elastic restarts (run.py documents it): the
restart count is part of every identity, and a rank is never used as a device key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from carbonledger.errors import ConfigError
from carbonledger.records import JobInfo

__all__ = [
    "JOB_ENV",
    "NODE_ENV",
    "Detected",
    "WrapperJob",
    "detect_job",
    "node_name",
    "parse_job_key",
    "pmi_without_job",
    "wrapper_job",
    "wrapper_job_key",
]

JOB_ENV = "CARBONLEDGER_JOB"
"""An explicit job key, for launchers carbonledger does not know (and set by ``run``)."""

NODE_ENV = "CARBONLEDGER_HOSTNAME"
"""This process's node name, in place of the machine's (simulated nodes, containers)."""

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/+=-]{0,199}$")


@dataclass(frozen=True)
class Detected:
    """A job identity and what else the launcher said (world sizes, Slurm step)."""

    job: JobInfo
    world_size: int | None = None
    local_world_size: int | None = None
    step: str | None = None

    def attachment(self) -> dict[str, object]:
        """The ``job`` attachment kept with the run."""
        return {
            **self.job.to_dict(),
            "world_size": self.world_size,
            "local_world_size": self.local_world_size,
            "step": self.step,
        }


def parse_job_key(text: str, where: str = "job") -> str:
    """A job key as given (``--job``, ``job=``, ``CARBONLEDGER_JOB``), or ConfigError."""
    key = str(text).strip()
    if not _KEY.match(key):
        raise ConfigError(
            f"{where}: {text!r} is not a job key (letters, digits and _ . : @ / + = -, "
            "at most 200 characters, starting with a letter or digit)"
        )
    return key


def node_name(environ: Mapping[str, str]) -> str:
    """This process's node: ``CARBONLEDGER_HOSTNAME``, else Slurm's node name, else the
    machine's host name."""
    for var in (NODE_ENV, "SLURMD_NODENAME"):
        value = (environ.get(var) or "").strip()
        if value:
            return value
    return os.uname().nodename


def _int(environ: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        raw = (environ.get(name) or "").strip()
        if raw:
            try:
                return int(raw)
            except ValueError:
                continue
    return None


def _slurm_key(environ: Mapping[str, str]) -> str | None:
    job_id = (environ.get("SLURM_JOB_ID") or environ.get("SLURM_JOBID") or "").strip()
    if not job_id:
        return None
    cluster = (environ.get("SLURM_CLUSTER_NAME") or "").strip()
    array_job = (environ.get("SLURM_ARRAY_JOB_ID") or "").strip()
    array_task = (environ.get("SLURM_ARRAY_TASK_ID") or "").strip()
    ident = f"{array_job}_{array_task}" if array_job and array_task else job_id
    return f"slurm:{cluster}:{ident}" if cluster else f"slurm:{ident}"


def _torchrun_key(environ: Mapping[str, str]) -> str | None:
    run_id = (environ.get("TORCHELASTIC_RUN_ID") or "").strip()
    if not run_id:
        return None
    if run_id == "none":  # torchrun's default --rdzv-id: name the job by its rendezvous
        addr = environ.get("MASTER_ADDR", "")
        port = environ.get("MASTER_PORT", "")
        return f"torchrun:none@{addr}:{port}"
    return f"torchrun:{run_id}"


def _mpi_key(environ: Mapping[str, str]) -> str | None:
    for var in ("PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid"):
        value = (environ.get(var) or "").strip()
        if value:
            return f"mpi:{value}"
    return None


def _ranks(
    environ: Mapping[str, str],
) -> tuple[str, int | None, int | None, int | None, int | None]:
    """(launcher, rank, local rank, world size, local world size) of the innermost launcher."""
    if "TORCHELASTIC_RUN_ID" in environ or {"RANK", "LOCAL_RANK", "GROUP_RANK"} <= set(environ):
        return (
            "torchrun",
            _int(environ, "RANK"),
            _int(environ, "LOCAL_RANK"),
            _int(environ, "WORLD_SIZE"),
            _int(environ, "LOCAL_WORLD_SIZE"),
        )
    if "OMPI_COMM_WORLD_RANK" in environ:
        return (
            "mpi",
            _int(environ, "OMPI_COMM_WORLD_RANK"),
            _int(environ, "OMPI_COMM_WORLD_LOCAL_RANK"),
            _int(environ, "OMPI_COMM_WORLD_SIZE"),
            _int(environ, "OMPI_COMM_WORLD_LOCAL_SIZE"),
        )
    if "PMIX_RANK" in environ or "PMI_RANK" in environ:
        return (
            "mpi",
            _int(environ, "PMIX_RANK", "PMI_RANK"),
            _int(environ, "MPI_LOCALRANKID", "PMI_LOCAL_RANK"),
            _int(environ, "PMI_SIZE"),
            _int(environ, "MPI_LOCALNRANKS"),
        )
    if _slurm_key(environ) is not None:
        return (
            "slurm",
            _int(environ, "SLURM_PROCID"),
            _int(environ, "SLURM_LOCALID"),
            _int(environ, "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"),
            None,
        )
    return ("explicit", None, None, None, None)


@dataclass(frozen=True)
class WrapperJob:
    """The job ``carbonledger run`` runs its command in, and what to tell the user."""

    key: str
    warnings: tuple[str, ...] = ()


def pmi_without_job(environ: Mapping[str, str]) -> bool:
    """True when a PMI-only launcher (MPICH's or Intel MPI's Hydra: ``PMI_RANK``, no PMIx
    namespace) started this process and nothing names its job: Hydra gives its ranks no
    variable that is one value per job (``PMI_FD`` is a descriptor number, ``PMI_PORT``
    the local proxy's address, different on each node)."""
    return ("PMI_RANK" in environ or "PMI_SIZE" in environ) and detect_job(environ) is None


def wrapper_job(
    explicit: str | None, environ: Mapping[str, str], command: Sequence[str] = ()
) -> WrapperJob:
    """The job key ``carbonledger run`` uses for itself and exports to ``command`` as
    ``CARBONLEDGER_JOB``: ``--job``, else the launcher variables around it, else the key
    the launcher ``command`` starts will give its ranks (torchrun's rendezvous id, see
    :mod:`carbonledger.distributed.launchers`), else a new ``run:<random>``. So a wrapped
    launcher and its self-tracking ranks are one job, with one process measuring each
    device; the warnings say when the ranks on other nodes may not share it."""
    from carbonledger.distributed.launchers import read_launch

    launch = read_launch(command, environ)
    warnings: list[str] = []
    detected = detect_job(environ)
    if explicit is not None:
        key = parse_job_key(explicit, "--job")
    elif detected is not None:
        key = detected.job.key
    elif launch.key is not None:
        key = launch.key
    else:
        key = "run:" + os.urandom(8).hex()
        if pmi_without_job(environ) and (environ.get("PMI_RANK") or "0").strip() == "0":
            warnings.append(
                "carbonledger run: started by a PMI launcher (MPICH or Intel MPI: PMI_RANK "
                "set, no job id), so every rank makes its own job; pass --job KEY or set "
                f"{JOB_ENV} (the same for all ranks) so that they share one"
            )
    from_launcher = explicit is None and detected is not None and not environ.get(JOB_ENV)
    note = (
        None
        if from_launcher
        else launch.warning(key_given=explicit is not None or detected is not None)
    )
    if note is not None:  # (a key from Slurm's variables: the ranks see them too)
        warnings.append(note)
    return WrapperJob(key, tuple(warnings))


def wrapper_job_key(
    explicit: str | None, environ: Mapping[str, str], command: Sequence[str] = ()
) -> str:
    """The key of :func:`wrapper_job`."""
    return wrapper_job(explicit, environ, command).key


def detect_job(environ: Mapping[str, str], explicit: str | None = None) -> Detected | None:
    """This process's job identity, or None when it runs in no job.

    ``explicit`` (``job=``/``--job``) wins, then ``CARBONLEDGER_JOB``, then the
    launchers' own job ids. Ranks come from the innermost launcher present.
    """
    if explicit is not None:
        key: str | None = parse_job_key(explicit)
    elif (environ.get(JOB_ENV) or "").strip():
        key = parse_job_key(environ[JOB_ENV], JOB_ENV)
    else:
        key = _slurm_key(environ) or _torchrun_key(environ) or _mpi_key(environ)
    if key is None:
        return None
    launcher, rank, local_rank, world, local_world = _ranks(environ)
    if launcher == "explicit" and _slurm_key(environ) is None and key.startswith("mpi:"):
        launcher = "mpi"
    elif launcher == "explicit" and key.startswith("run:"):
        launcher = "carbonledger-run"  # the key `carbonledger run` made for its command
    restart = _int(environ, "TORCHELASTIC_RESTART_COUNT") if launcher == "torchrun" else None
    if restart is None:
        restart = _int(environ, "SLURM_RESTART_COUNT")
    step = (environ.get("SLURM_STEP_ID") or "").strip() or None
    job = JobInfo(
        key=key,
        node=node_name(environ),
        rank=rank,
        local_rank=local_rank,
        restart=max(0, restart or 0),
        launcher=launcher,
    )
    return Detected(job, world_size=world, local_world_size=local_world, step=step)
