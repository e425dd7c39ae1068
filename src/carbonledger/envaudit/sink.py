""":class:`EnvAuditSink`: the run-event consumer that audits the run's environment.

In-process (``track(..., audit_env=True)``) it reads this interpreter's ``sys.modules``
and ``/proc/self/maps`` at the end; for a command (``carbonledger run --audit-env``) it
reads the reports the :mod:`~carbonledger.envaudit.hook` made each child interpreter
write. Either way it reads ``/proc/PID/maps`` of the tracked process tree on the
sampler's ticks (``on_samples``, at most every ``poll_interval_s``), or on a light thread
of its own when nothing feeds it samples. The audit is ready at ``on_end``
(:attr:`result`), and handed to ``save`` when one is given.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

from carbonledger.envaudit.hook import HookDir
from carbonledger.envaudit.model import EnvAudit
from carbonledger.envaudit.observe import Observed
from carbonledger.envaudit.procmaps import descendants
from carbonledger.events import BaseSink, RunEnded, RunStarted
from carbonledger.records import Sample

__all__ = ["EnvAuditSink"]

log = logging.getLogger(__name__)

IMPORT_TIME_METHOD = (
    "measured: outermost imports (search + execution) timed by a meta path finder in each "
    "child interpreter; imports made before sitecustomize ran are not included"
)


class EnvAuditSink(BaseSink):
    """Audits the environment a run used. Never raises into the run: a failure becomes a
    warning on the audit, or ``result is None`` with :attr:`error` set."""

    name = "env-audit"

    def __init__(
        self,
        *,
        root_pid: int | None = None,
        in_process: bool = True,
        hook: HookDir | None = None,
        site_dirs: Sequence[str] | None = None,
        poll_interval_s: float = 2.0,
        own_thread: bool = False,
        save: Callable[[str, EnvAudit], None] | None = None,
        proc_root: str = "/proc",
    ) -> None:
        self.root_pid = os.getpid() if root_pid is None else root_pid
        self.in_process = in_process
        self.hook = hook
        self.site_dirs = None if site_dirs is None else list(site_dirs)
        self.poll_interval_s = poll_interval_s
        self.own_thread = own_thread
        self.save = save
        self.proc_root = proc_root
        self.result: EnvAudit | None = None
        self.error: str | None = None
        self._observed = Observed()
        self._last_poll = 0.0
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- run events ----------------------------------------------------------------
    def on_start(self, event: RunStarted) -> None:
        self.begin()

    def on_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        if time.monotonic() - self._last_poll >= self.poll_interval_s:
            self.poll()

    def on_end(self, event: RunEnded) -> None:
        self.finish(event.run_id)

    # -- the same, for callers that drive it by hand ------------------------------
    def begin(self) -> None:
        self.poll()
        if self.own_thread and self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="carbonledger-envaudit", daemon=True
            )
            self._thread.start()

    def poll(self) -> None:
        """Read the maps of every process of the tracked tree now."""
        if not self._poll_lock.acquire(blocking=False):
            return  # a poll is under way
        try:
            self._last_poll = time.monotonic()
            self._observed.poll_maps(descendants(self.root_pid, self.proc_root), self.proc_root)
        except Exception as exc:  # never into the run
            self._observed.warn(f"process maps not read ({exc!r})")
        finally:
            self._poll_lock.release()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            self.poll()

    def finish(self, run_id: str | None = None) -> EnvAudit | None:
        """Stop watching and build the audit (also saved when ``save`` was given)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.poll()
            self.result = self._build()
        except Exception as exc:
            log.warning("environment audit failed: %r", exc)
            self.error = f"environment audit failed: {exc!r}"
            return None
        finally:
            if self.hook is not None:
                self.hook.cleanup()
        if self.save is not None and run_id is not None:
            try:
                self.save(run_id, self.result)
            except Exception as exc:
                log.warning("environment audit not stored: %r", exc)
                self.error = f"environment audit not stored: {exc}"
        return self.result

    def _build(self) -> EnvAudit:
        from carbonledger.envaudit.analyse import analyse
        from carbonledger.envaudit.distributions import current_site_dirs, scan

        observed = self._observed
        method = "unavailable"
        if self.in_process:
            observed.add_current_process()
        if self.hook is not None:
            reports, problems = self.hook.reports()
            for report in reports:
                observed.add_report(report)
            for problem in problems:
                observed.warn(problem)
            method = IMPORT_TIME_METHOD
        snap = observed.snapshot()
        site_dirs = self.site_dirs
        if site_dirs is None:
            site_dirs = list(snap.site_dirs) or current_site_dirs()
        audit = analyse(
            snap,
            scan(site_dirs),
            mode="in-process" if self.in_process else "process-tree",
            site_dirs=site_dirs,
            import_time_method=method,
        )
        return audit
