"""Simulated 100 W nodes for the engine tests: a powercap tree per node (package 90 W +
DRAM 10 W) whose counters advance in real time, and the environment a rank needs to
track itself on it (sysfs root, node name, ledger, private lock folder)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from tests.sensors.powercap_tree import make_powercap_tree

__all__ = ["NODE_W", "WORKER", "NodeSimulator", "rank_env"]

WRAP_UJ = 10**12  # no wrap in a test's minute
POWERS_W = {"intel-rapl:0": 90.0, "intel-rapl:0:0": 10.0}
NODE_W = 100.0
WORKER = Path(__file__).with_name("worker.py")
"""A script that tracks itself (cl.track) for a few seconds with one span, optionally
inside torch.distributed or mpi4py-free MPI; see its docstring."""


class NodeSimulator(threading.Thread):
    """Rewrites each zone's energy_uj every few ms as power x elapsed time."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root = make_powercap_tree(
            root,
            {
                "intel-rapl:0": {"name": "package-0", "max_energy_range_uj": WRAP_UJ},
                "intel-rapl:0:0": {"name": "dram", "max_energy_range_uj": WRAP_UJ},
            },
        )
        self.t0 = time.monotonic()
        self.halt = threading.Event()
        self.write_all()

    def write_all(self) -> None:
        elapsed = time.monotonic() - self.t0
        for zone, power in POWERS_W.items():
            value = int(power * elapsed * 1e6) % WRAP_UJ
            path = self.root / "class" / "powercap" / zone / "energy_uj"
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(f"{value}\n")
            os.replace(tmp, path)

    def run(self) -> None:
        while not self.halt.wait(0.002):
            self.write_all()

    def __enter__(self) -> NodeSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.halt.set()
        self.join()


def rank_env(sysfs: Path, ledger: Path, locks: Path, node: str | None = None) -> dict[str, str]:
    """The environment of a rank on a simulated node."""
    repo = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    for var in list(env):
        if var.startswith(("SLURM_", "TORCHELASTIC_", "OMPI_", "PMIX_", "PMI_")):
            del env[var]
    env.pop("CARBONLEDGER_JOB", None)
    env.update(
        CARBONLEDGER_SYSFS_ROOT=str(sysfs),
        CARBONLEDGER_LEDGER=str(ledger),
        CARBONLEDGER_LOCK_DIR=str(locks),
        CARBONLEDGER_SENSORS="rapl",
        CARBONLEDGER_ZONE="FR",
        PYTHONPATH=os.pathsep.join([repo, os.path.join(repo, "src"), env.get("PYTHONPATH", "")]),
        PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
    )
    if node is not None:
        env["CARBONLEDGER_HOSTNAME"] = node
    return env
