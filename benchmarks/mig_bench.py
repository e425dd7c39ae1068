"""MIG benchmark harness (in the spirit of MIGPerf): one command per MIG profile.

    .venv/bin/python benchmarks/mig_bench.py --profile 1g.10gb --profile 3g.40gb \
        --units 1000 -- python infer.py --batch 32

For each listed profile it picks a MIG instance of that profile (NVML), runs the command
with ``CUDA_VISIBLE_DEVICES=<MIG uuid>`` under a carbonledger run (scope process), and
reports throughput (units/s), latency (s/unit), energy and carbon per unit of work, and
the attribution method (a MIG slice's energy is *attributed*: the board's counter times
the slice's share, activity-weighted when ``CARBONLEDGER_DCGM_URL`` names a
dcgm-exporter). It runs for real only where a MIG-capable GPU in MIG mode is present;
elsewhere it says so and exits 3. The selection logic is tested with the fake NVML.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Instance:
    board_uuid: str
    mig_uuid: str
    slices: int
    total_slices: int
    memory_gb: int

    @property
    def profile(self) -> str:
        """NVIDIA's profile name, ``<slices>g.<memory>gb``."""
        return f"{self.slices}g.{self.memory_gb}gb"


def list_instances(nv: Any) -> list[Instance]:
    """Every MIG instance NVML shows, with its profile (``nv`` is pynvml, initialised)."""
    out: list[Instance] = []
    for index in range(int(nv.nvmlDeviceGetCount())):
        handle = nv.nvmlDeviceGetHandleByIndex(index)
        try:
            mode = nv.nvmlDeviceGetMigMode(handle)
        except nv.NVMLError:
            continue
        if not mode or int(mode[0]) != 1:
            continue
        board = str(nv.nvmlDeviceGetUUID(handle))
        total = int(nv.nvmlDeviceGetMaxMigDeviceCount(handle))
        for slot in range(total):
            try:
                mig = nv.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
            except nv.NVMLError:
                continue
            attrs = nv.nvmlDeviceGetAttributes(mig)
            memory_gb = round(int(attrs.memorySizeMB) / 1024)
            out.append(
                Instance(
                    board,
                    str(nv.nvmlDeviceGetUUID(mig)),
                    int(attrs.gpuInstanceSliceCount),
                    total,
                    memory_gb,
                )
            )
    return out


def choose(instances: list[Instance], profiles: list[str]) -> dict[str, Instance | None]:
    """One instance per requested profile (by name, or by slices as ``1g``); None: none."""
    out: dict[str, Instance | None] = {}
    for wanted in profiles:
        match = [i for i in instances if i.profile == wanted or wanted == f"{i.slices}g"]
        out[wanted] = match[0] if match else None
    return out


def run_profile(
    instance: Instance, command: list[str], units: float, ledger: str | None
) -> dict[str, Any]:
    """Run ``command`` on ``instance`` under a tracked run; figures per unit of work."""
    import carbonledger as cl

    env = dict(os.environ, CUDA_VISIBLE_DEVICES=instance.mig_uuid)
    tracker = cl.Tracker(f"mig-bench {instance.profile}", phase="inference", ledger=ledger)
    os.environ["CUDA_VISIBLE_DEVICES"] = instance.mig_uuid  # the tracker's NVML view
    t0 = time.perf_counter()
    with tracker:
        code = subprocess.call(command, env=env)
    wall_s = time.perf_counter() - t0
    fp = tracker.footprint()
    gpu = [c for c in fp.components if c.component == "gpu"]
    methods = sorted({c.method for c in gpu})
    return {
        "profile": instance.profile,
        "mig_uuid": instance.mig_uuid,
        "share": instance.slices / instance.total_slices,
        "exit_code": code,
        "wall_s": wall_s,
        "throughput_units_per_s": units / wall_s if wall_s > 0 else None,
        "latency_s_per_unit": wall_s / units if units > 0 else None,
        "energy_j_per_unit": None if fp.energy_j is None else fp.energy_j / units,
        "gpu_energy_j_per_unit": (sum(c.energy_j or 0.0 for c in gpu) / units if gpu else None),
        "total_g_per_unit": None if fp.total_g is None else fp.total_g / units,
        "gpu_method": "+".join(methods) or None,
        "attribution": [c.source for c in gpu],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="append", required=True, help="e.g. 1g.10gb or 3g")
    parser.add_argument("--units", type=float, required=True, help="units of work the command does")
    parser.add_argument("--ledger")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")
    try:
        import pynvml as nv

        nv.nvmlInit()
    except Exception as exc:
        print(f"mig_bench: no NVML here ({exc}); it needs a MIG-capable GPU", file=sys.stderr)
        return 3
    try:
        instances = list_instances(nv)
    finally:
        nv.nvmlShutdown()
    if not instances:
        print(
            "mig_bench: no GPU in MIG mode with instances (nvidia-smi mig -cgi ...)",
            file=sys.stderr,
        )
        return 3
    for profile, instance in choose(instances, args.profile).items():
        if instance is None:
            print(
                f"{profile}: no instance of this profile; have "
                f"{sorted({i.profile for i in instances})}"
            )
            continue
        r = run_profile(instance, command, args.units, args.ledger)
        print(
            f"{profile}: {r['throughput_units_per_s']:.4g} units/s, "
            f"{r['latency_s_per_unit']:.4g} s/unit, {r['energy_j_per_unit']} J/unit "
            f"(GPU {r['gpu_method']}: {'; '.join(r['attribution'])})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
