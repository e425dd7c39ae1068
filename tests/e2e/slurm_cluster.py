"""A throwaway one-node Slurm cluster (munged, slurmctld, slurmd; no systemd), for tests.

Needs root and Debian's ``slurm-wlm`` and ``munge`` (``.ci/install/slurm.sh``). The
configuration lives in a private temporary folder and is passed as ``SLURM_CONF``; the
daemons are stopped by pid. Two simulated nodes would need Slurm's multiple-slurmd build,
which Debian's package is not, so the cluster has one node.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = ["slurm_cluster"]

CONF = """ClusterName=cltest
SlurmctldHost={host}
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _munged() -> int | None:
    """Start munged unless one answers; its pid when this started it."""
    if subprocess.run(["munge", "-n"], capture_output=True, check=False).returncode == 0:
        return None
    for d in ("/etc/munge", "/run/munge", "/var/log/munge", "/var/lib/munge"):
        os.makedirs(d, exist_ok=True)
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        key.write_bytes(os.urandom(1024))
    shutil.chown("/etc/munge", "munge", "munge")
    for d in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
        shutil.chown(d, "munge", "munge")
    shutil.chown(key, "munge", "munge")
    key.chmod(0o400)
    subprocess.run(["su", "-s", "/bin/sh", "munge", "-c", "/usr/sbin/munged"], check=True)
    for _ in range(50):
        if subprocess.run(["munge", "-n"], capture_output=True, check=False).returncode == 0:
            break
        time.sleep(0.1)
    pidfile = Path("/run/munge/munged.pid")
    return int(pidfile.read_text().split()[0]) if pidfile.exists() else None


@contextmanager
def slurm_cluster(folder: Path) -> Iterator[dict[str, str]]:
    """Start the cluster; yields the environment (``SLURM_CONF``) to submit jobs with."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for sub in ("state", "spool", "log"):
        (folder / sub).mkdir(exist_ok=True)
    host = os.uname().nodename.split(".")[0]
    conf = folder / "slurm.conf"
    conf.write_text(
        CONF.format(
            host=host,
            d=folder,
            cpus=os.cpu_count() or 1,
            ctld_port=_free_port(),
            slurmd_port=_free_port(),
        )
    )
    env = dict(os.environ, SLURM_CONF=str(conf))
    munged = _munged()
    started: list[Path] = []
    try:
        subprocess.run(["/usr/sbin/slurmctld"], env=env, check=True, timeout=30)
        started.append(folder / "slurmctld.pid")
        time.sleep(1.0)
        subprocess.run(["/usr/sbin/slurmd"], env=env, check=True, timeout=30)
        started.append(folder / "slurmd.pid")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            out = subprocess.run(
                ["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True, check=False
            ).stdout
            if out.strip() in ("idle", "mix", "alloc"):
                break
            time.sleep(0.5)
        else:
            logs = (folder / "log" / "slurmctld.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the Slurm node never came up: {out!r}\n{logs}")
        yield env
    finally:
        for pidfile in reversed(started):
            with suppress(OSError, ValueError):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
        time.sleep(0.5)
        if munged is not None:
            with suppress(OSError):
                os.kill(munged, signal.SIGTERM)
