"""A tracker's link to its ledger: buffered, batched, and never raising into the host."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from carbonledger.records import Sample, SpanRecord
from carbonledger.store.base import Ledger

__all__ = ["LedgerWriter", "open_fallback_ledger"]

_PRIVATE_DIR = 0o700
_PRIVATE_FILE = 0o600


class LedgerWriter:
    """Buffers samples and spans and writes them every ``flush_interval_s`` (samples in one
    transaction that also refreshes the run's heartbeat). Failures become warnings.

    ``ledger`` is a path or URL. When it cannot be opened, a private fallback ledger is
    opened instead (see :func:`open_fallback_ledger`) and ``warn`` says where the run went.
    """

    def __init__(
        self,
        ledger: str | os.PathLike[str],
        *,
        flush_interval_s: float,
        warn: Callable[[str], None],
    ) -> None:
        from carbonledger.store.postgres import redact_url
        from carbonledger.store.spool import open_for_tracker

        self._warn = warn
        self.flush_interval_s = flush_interval_s
        try:
            self.ledger: Ledger = open_for_tracker(ledger)  # a shared database via a spool
        except Exception as exc:  # never into the host: whatever the backend raised
            self.ledger, where = open_fallback_ledger()
            shown = redact_url(os.fspath(ledger))
            warn(f"cannot use ledger {shown} ({exc}); this run is written to {where}")
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self._spans: list[SpanRecord] = []
        self._last_flush = time.time()

    def call(self, method: str, *args: Any) -> None:
        """Call a ledger method now; a failure is a warning, never an exception."""
        try:
            getattr(self.ledger, method)(*args)
        except Exception as exc:
            self._warn(f"ledger write ({method}) failed: {exc!r}")

    def add_samples(self, samples: list[Sample]) -> None:
        with self._lock:
            self._samples.extend(samples)

    def add_span(self, span: SpanRecord) -> None:
        with self._lock:
            self._spans.append(span)

    def maybe_flush(self, run_id: str) -> None:
        if time.time() - self._last_flush >= self.flush_interval_s:
            self.flush(run_id)

    def flush(self, run_id: str) -> None:
        with self._lock:
            samples, self._samples = self._samples, []
            spans, self._spans = self._spans, []
        now = time.time()
        self._last_flush = now
        self.call("append_samples", run_id, samples, now)
        for span in spans:
            self.call("add_span", run_id, span)

    def close(self) -> None:
        try:
            self.ledger.close()
        except Exception as exc:
            self._warn(f"closing the ledger failed: {exc!r}")


# -- the fallback ----------------------------------------------------------------------
def open_fallback_ledger(
    state_home: Path | None = None, temp_dir: str | None = None
) -> tuple[Ledger, str]:
    """A private ledger for a run whose configured ledger failed: ``(ledger, where)``.

    Tried in order: a new file in ``$XDG_STATE_HOME/carbonledger/fallback`` (a folder
    this user owns, mode 0700), then one in a fresh ``tempfile.mkdtemp`` folder (0700,
    random name). The file's name is random and it is created with
    ``O_CREAT|O_EXCL|O_NOFOLLOW`` and mode 0600, so nobody can pre-create it or redirect
    it with a symlink. When both fail, an in-memory ledger: nothing will persist, and
    ``where`` says so. Never raises.
    """
    from carbonledger.store.memory import MemoryLedger
    from carbonledger.store.sqlite import open_sqlite

    attempts: list[str] = []
    for folder in (_state_folder(state_home), None):
        try:
            directory = folder if folder is not None else Path(_fresh_temp_folder(temp_dir))
            path = _exclusive_file(directory)
            return open_sqlite(path), str(path)
        except Exception as exc:
            attempts.append(str(exc))
    memory = MemoryLedger()
    return memory, (
        "memory only: NOTHING WILL BE KEPT after this process ends (" + "; ".join(attempts) + ")"
    )


def _state_folder(state_home: Path | None) -> Path | None:
    base = state_home
    if base is None:
        env = os.environ.get("XDG_STATE_HOME")
        base = Path(env) if env else Path.home() / ".local" / "state"
    folder = base / "carbonledger" / "fallback"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=_PRIVATE_DIR)
        info = os.lstat(folder)
    except OSError:
        return None
    private = (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and stat.S_IMODE(info.st_mode) & 0o077 == 0
    )
    return folder if private else None


def _fresh_temp_folder(temp_dir: str | None) -> str:
    return tempfile.mkdtemp(prefix="carbonledger-fallback-", dir=temp_dir)


def _exclusive_file(folder: Path) -> Path:
    """A new, empty, private file with a random name in ``folder``."""
    path = folder / f"ledger-{os.getpid()}-{os.urandom(8).hex()}.sqlite"
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, _PRIVATE_FILE)
    os.close(fd)
    return path
