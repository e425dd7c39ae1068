"""``carbonledger run --audit-env``: the audit of a wrapped command, start to end.

:meth:`CommandAudit.child_env` puts the hook in the command's environment,
:meth:`CommandAudit.watch` starts reading the maps of its process tree, and
:meth:`CommandAudit.finish` builds the audit and stores it with the run. Nothing here
changes the command's exit code; a failure is a note on stderr.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from carbonledger.envaudit.hook import prepare
from carbonledger.envaudit.model import EnvAudit
from carbonledger.envaudit.sink import EnvAuditSink
from carbonledger.envaudit.storage import save_to_ledger

__all__ = ["CommandAudit"]


class CommandAudit:
    def __init__(self, *, site_dirs: list[str] | None = None, poll_interval_s: float = 2.0) -> None:
        self.hook = prepare()
        self.site_dirs = site_dirs
        self.poll_interval_s = poll_interval_s
        self.sink: EnvAuditSink | None = None

    def child_env(self, base: Mapping[str, str]) -> dict[str, str]:
        return self.hook.child_env(base)

    def watch(self, pid: int) -> None:
        self.sink = EnvAuditSink(
            root_pid=pid,
            in_process=False,
            hook=self.hook,
            site_dirs=self.site_dirs,
            poll_interval_s=self.poll_interval_s,
            own_thread=True,
        )
        self.sink.begin()

    def cancel(self) -> None:
        self.hook.cleanup()

    def finish(
        self, ledger_path: str | os.PathLike[str], run_id: str
    ) -> tuple[EnvAudit | None, str]:
        """The audit (None on failure) and a line for stderr; stores it with ``run_id``."""
        if self.sink is None:
            self.cancel()
            return None, "environment audit: the command did not start"
        audit = self.sink.finish(run_id)
        if audit is None:
            return None, self.sink.error or "environment audit failed"
        try:
            save_to_ledger(ledger_path, run_id, audit)
        except Exception as exc:
            return audit, f"environment audit not stored: {exc}"
        return audit, "environment audit stored with the run (carbonledger show RUN)"
