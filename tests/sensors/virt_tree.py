"""Simulated ``/proc`` and ``/sys`` trees for the virtualization and cgroup tests."""

from __future__ import annotations

from pathlib import Path

UNKNOWN_XEON = "Intel(R) Xeon(R) Processor"


def make_host(
    root: Path,
    *,
    cpus: int = 2,
    cpu_name: str = UNKNOWN_XEON,
    hypervisor: bool = True,
    dmi: dict[str, str] | None = None,
    cgroup: str = "0::/\n",
) -> tuple[Path, Path]:
    """A machine with ``cpus`` CPUs online: returns ``(sysfs_root, proc_root)``."""
    sys_root, proc = root / "sys", root / "proc"
    cpu_dir = sys_root / "devices" / "system" / "cpu"
    for n in range(cpus):
        topology = cpu_dir / f"cpu{n}" / "topology"
        topology.mkdir(parents=True)
        (topology / "physical_package_id").write_text("0\n")
    (cpu_dir / "online").write_text(f"0-{cpus - 1}\n" if cpus > 1 else "0\n")
    flags = "fpu vme de pse" + (" hypervisor" if hypervisor else "") + " avx2"
    blocks = [
        f"processor\t: {n}\nmodel name\t: {cpu_name}\nflags\t\t: {flags}\n" for n in range(cpus)
    ]
    (proc / "self").mkdir(parents=True)
    (proc / "cpuinfo").write_text("\n".join(blocks))
    (proc / "self" / "cgroup").write_text(cgroup)
    if dmi:
        d = sys_root / "class" / "dmi" / "id"
        d.mkdir(parents=True)
        for name, value in dmi.items():
            (d / name).write_text(value + "\n")
    (sys_root / "fs" / "cgroup").mkdir(parents=True)
    return sys_root, proc


def cgroup_v2(
    sys_root: Path,
    path: str = "",
    *,
    cpu_max: str | None = None,
    cpuset: str | None = None,
    usage_usec: int | None = None,
    parent_cpu_max: str | None = None,
) -> Path:
    """A cgroup v2 hierarchy with a leaf at ``path`` (below the root)."""
    root = sys_root / "fs" / "cgroup"
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    leaf = root / path if path else root
    leaf.mkdir(parents=True, exist_ok=True)
    if parent_cpu_max is not None:
        (leaf.parent / "cpu.max").write_text(parent_cpu_max + "\n")
    if cpu_max is not None:
        (leaf / "cpu.max").write_text(cpu_max + "\n")
    if cpuset is not None:
        (leaf / "cpuset.cpus.effective").write_text(cpuset + "\n")
    if usage_usec is not None:
        (leaf / "cpu.stat").write_text(f"usage_usec {usage_usec}\nuser_usec 0\nsystem_usec 0\n")
    return leaf


def cgroup_v1(
    sys_root: Path,
    path: str = "/",
    *,
    quota_us: int = -1,
    period_us: int = 100000,
    cpuset: str | None = None,
    usage_ns: int | None = None,
) -> None:
    """A cgroup v1 hierarchy (``cpu,cpuacct`` and ``cpuset`` mounts) with a group at ``path``."""
    root = sys_root / "fs" / "cgroup"
    cpu = root / "cpu,cpuacct" / path.lstrip("/")
    cpu.mkdir(parents=True, exist_ok=True)
    (cpu / "cpu.cfs_quota_us").write_text(f"{quota_us}\n")
    (cpu / "cpu.cfs_period_us").write_text(f"{period_us}\n")
    if usage_ns is not None:
        (cpu / "cpuacct.usage").write_text(f"{usage_ns}\n")
    if cpuset is not None:
        s = root / "cpuset" / path.lstrip("/")
        s.mkdir(parents=True, exist_ok=True)
        (s / "cpuset.cpus").write_text(cpuset + "\n")
