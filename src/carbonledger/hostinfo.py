"""Facts about the host a run ran on (kept with the run, shown in reports)."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["host_info"]


def host_info() -> dict[str, Any]:
    """Hostname, OS, Python, CPU count, memory, and this process's pid and start time
    (the ledger uses both to tell a live tracker from a dead one)."""
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
    return info
