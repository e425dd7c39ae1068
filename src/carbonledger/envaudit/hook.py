"""The private folder whose ``sitecustomize`` reports each child interpreter's imports.

:func:`prepare` creates it (``mkdtemp``: mode 0700, owned by us), copies the hook in, and
returns the child environment: the folder first on ``PYTHONPATH``, its path in
``CARBONLEDGER_ENVAUDIT_DIR``. :meth:`HookDir.reports` reads what the interpreters wrote;
:meth:`HookDir.cleanup` removes the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ENV_VAR", "HookDir", "prepare"]

ENV_VAR = "CARBONLEDGER_ENVAUDIT_DIR"
_TEMPLATE = Path(__file__).with_name("_sitecustomize.py")
MAX_REPORT_BYTES = 64 * 1024 * 1024
MAX_REPORTS = 10_000


@dataclass(frozen=True)
class HookDir:
    path: str

    def child_env(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` with the hook first on ``PYTHONPATH``."""
        env = dict(base)
        old = env.get("PYTHONPATH")
        env["PYTHONPATH"] = self.path if not old else self.path + os.pathsep + old
        env[ENV_VAR] = self.path
        return env

    def reports(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The reports written so far, and a warning per unreadable one."""
        out: list[dict[str, Any]] = []
        problems: list[str] = []
        try:
            names = sorted(n for n in os.listdir(self.path) if n.startswith("report-"))
        except OSError as exc:
            return out, [f"hook folder unreadable: {exc.strerror}"]
        for name in names[:MAX_REPORTS]:
            path = os.path.join(self.path, name)
            try:
                if os.lstat(path).st_size > MAX_REPORT_BYTES:
                    raise ValueError("too large")
                with open(path, encoding="utf-8") as fh:
                    data = json.load(fh)
                if not isinstance(data, dict):
                    raise ValueError("not an object")
                out.append(data)
            except (OSError, ValueError) as exc:
                problems.append(f"hook report {name} skipped ({exc})")
        if len(names) > MAX_REPORTS:
            problems.append(f"only the first {MAX_REPORTS} hook reports were read")
        return out, problems

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def prepare() -> HookDir:
    """A new private hook folder holding ``sitecustomize.py``."""
    path = tempfile.mkdtemp(prefix="carbonledger-envaudit-")
    os.chmod(path, 0o700)
    target = os.path.join(path, "sitecustomize.py")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(_TEMPLATE.read_text(encoding="utf-8"))
    return HookDir(path)
