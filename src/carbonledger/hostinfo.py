"""Facts about the host a run ran on (kept with the run, shown in reports)."""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

__all__ = ["host_info"]


def host_info() -> dict[str, Any]:
    """Hostname, OS, Python, CPU count, memory, and this process's pid and start time
    (the ledger uses both to tell a live tracker from a dead one)."""
    from carbonledger import __version__

    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "pid": os.getpid(),
        "carbonledger": __version__,
    }
    try:
        import psutil

        info["pid_create_time"] = psutil.Process().create_time()
        info["memory_gb"] = round(psutil.virtual_memory().total / 1e9, 3)
    except Exception:  # host facts are best effort
        pass
    return info
