"""Facts about the host a run ran on (kept with the run, shown in reports).

Besides the machine's name, OS and size, the facts say whether it is a virtual machine or
a CPU-limited container and what share of its physical host it is
(:func:`carbonledger.sensors.virt.detect_host_share`, remembered for a minute for the real
``/sys`` and ``/proc``): ``virtualization``, ``cloud``,
``vcpus``, ``cgroup_cpu_limit``, ``host_threads``, ``host_share`` and their bases. Pricing
charges embodied emissions by that share (:func:`carbonledger.lifecycle.embodied.host_share`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["host_info", "share_facts"]


def share_facts(
    sysfs_root: Path | None = None,
    proc_root: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The virtualization and host-share facts. Roots default to ``CARBONLEDGER_SYSFS_ROOT``
    and ``CARBONLEDGER_PROC_ROOT`` (else ``/sys`` and ``/proc``). Best effort: ``{}`` on error."""
    from carbonledger.sensors import cpu_model, virt

    env = os.environ if environ is None else environ
    sysfs = sysfs_root or Path(env.get("CARBONLEDGER_SYSFS_ROOT") or "/sys")
    proc = proc_root or virt.proc_root(env)
    try:
        name = cpu_model.read_cpu_name(proc / "cpuinfo")
        entry = cpu_model.match_bundled(name) if name else None
        share = virt.cached_host_share(
            sysfs, proc, cpu_model_key=entry.key if entry is not None else None
        )
        return share.facts()
    except Exception:  # host facts are best effort
        return {}


def host_info(sysfs_root: Path | None = None, proc_root: Path | None = None) -> dict[str, Any]:
    """Hostname, OS, Python, CPU count, memory, this process's pid and start time (the
    ledger uses both to tell a live tracker from a dead one), and the host-share facts."""
    import platform

    from carbonledger import __version__

    uname = os.uname()  # platform.platform() would spawn `uname -p`: slow at start()
    info: dict[str, Any] = {
        "hostname": uname.nodename,
        "os": f"{uname.sysname} {uname.release}",
        "python": platform.python_version(),
        "machine": uname.machine,
        "cpu_count": os.cpu_count(),
        "pid": os.getpid(),
        "carbonledger": __version__,
    }
    from carbonledger import procfs

    try:
        info["pid_create_time"] = procfs.process_create_time(os.getpid())
        info["memory_gb"] = round(procfs.memory_total_bytes() / 1e9, 3)
    except Exception:  # host facts are best effort
        pass
    machine_id = _machine_id()
    node = (os.environ.get("CARBONLEDGER_HOSTNAME") or "").strip()
    if node:  # a named node (simulated nodes, containers sharing a machine id)
        info["hostname"] = node
        if machine_id is not None:
            machine_id = hashlib_id(machine_id + "\n" + node)
    if machine_id is not None:
        info["machine_id"] = machine_id
    info.update(share_facts(sysfs_root, proc_root))
    return info


def hashlib_id(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def _machine_id() -> str | None:
    """A stable id of this machine (runs on one host are matched by it): a hash of
    /etc/machine-id, which machine-id(5) asks not to expose as it is."""
    import hashlib

    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path, "rb") as fh:
                raw = fh.read(256).strip()
        except OSError:
            continue
        if raw:
            return hashlib.sha256(b"carbonledger:" + raw).hexdigest()[:32]
    return None
