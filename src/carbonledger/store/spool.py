"""A tracker's link to a shared database that may go away: a local spool in front of it.

:class:`SpoolingLedger` writes every fact first to a private local SQLite file, the
*spool* (``$XDG_STATE_HOME/carbonledger/spool/<target>/ledger-*.sqlite``, folder 0700,
file 0600, created exclusively), then to the database. When the database cannot be
reached (at open or mid-run) tracking goes on in the spool alone; every ``retry_s`` a
write tries the database again and, once it answers, uploads what it missed with the
idempotent copy of :mod:`carbonledger.store.transfer` (samples keyed by run, device and
interval), so nothing is lost or stored twice. A spool whose runs all reached the
database is deleted on close; otherwise it stays, and ``carbonledger sync`` (or the next
tracker that opens the same database) uploads it. A spool in use is locked (``flock``)
so no one else uploads or deletes it meanwhile.

Reads of the tracker's own runs come from the spool (always complete); other reads go to
the database, or to the spool while the database is away.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carbonledger.errors import CarbonLedgerError, ConfigError, LedgerError
from carbonledger.records import DeviceInfo, RunRecord, RunStatus, Sample, SpanRecord
from carbonledger.store.base import BadRowHandler, Ledger, MetricValue
from carbonledger.store.postgres import SCHEMES, LedgerUnreachableError, redact_url

if TYPE_CHECKING:
    from carbonledger.intensity.series import IntensitySeries
    from carbonledger.store.sqlite import SqliteLedger

__all__ = [
    "DEFAULT_RETRY_S",
    "SpoolingLedger",
    "SyncReport",
    "open_for_tracker",
    "spool_folder",
    "sync_spools",
]

log = logging.getLogger(__name__)

DEFAULT_RETRY_S = 30.0
"""How long a tracker cut off from its database waits before trying it again."""
TRACKER_CONNECT_TIMEOUT_S = 3.0
_PRIVATE_DIR = 0o700
_PRIVATE_FILE = 0o600


# -- where spools live -----------------------------------------------------------------
def spool_root(state_home: Path | None = None) -> Path:
    base = state_home
    if base is None:
        env = os.environ.get("XDG_STATE_HOME")
        base = Path(env) if env else Path.home() / ".local" / "state"
    return base / "carbonledger" / "spool"


def spool_folder(url: str, root: Path | None = None, *, create: bool = True) -> Path:
    """The private folder of the spools for the database ``url`` names (password aside)."""
    shown = redact_url(url)
    folder = (root or spool_root()) / hashlib.sha256(shown.encode()).hexdigest()[:16]
    if not create:
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=_PRIVATE_DIR)
        info = os.lstat(folder)
    except OSError as exc:
        raise LedgerError(f"cannot create the spool folder {folder}: {exc}") from None
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.geteuid()
        or stat.S_IMODE(info.st_mode) & 0o077
    ):
        raise LedgerError(f"spool folder {folder} is not private to this user; refusing it")
    note = folder / "target.txt"
    if not note.exists():
        with contextlib.suppress(OSError):  # only a note for people
            note.write_text(shown + "\n", encoding="utf-8")
    return folder


def _new_spool_file(folder: Path) -> Path:
    path = folder / f"ledger-{os.getpid()}-{os.urandom(8).hex()}.sqlite"
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    os.close(os.open(path, flags, _PRIVATE_FILE))
    return path


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding ``path``'s exclusive flock, or None when in use/gone."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _remove_spool(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


# -- syncing ---------------------------------------------------------------------------
@dataclass
class SyncReport:
    """What a sync did: spools uploaded and removed, runs and samples added, spools left."""

    spools: int = 0
    runs: int = 0
    samples_added: int = 0
    in_use: int = 0
    failed: list[str] = field(default_factory=list)


def sync_spools(
    url: str,
    *,
    remote: Ledger | None = None,
    root: Path | None = None,
    exclude: Sequence[Path] = (),
) -> SyncReport:
    """Upload every spool of the database ``url`` that no live tracker holds, then delete it.

    Idempotent: an upload cut short uploads again without duplicates. A spool whose runs
    conflict with the database's is kept and named in ``failed``. LedgerUnreachableError
    when the database cannot be reached.
    """
    from carbonledger.store.postgres import PostgresLedger
    from carbonledger.store.sqlite import open_sqlite
    from carbonledger.store.transfer import copy_run

    report = SyncReport()
    folder = spool_folder(url, root, create=False)
    if not folder.is_dir():
        return report
    paths = [p for p in sorted(folder.glob("ledger-*.sqlite")) if p not in set(exclude)]
    if not paths:
        return report
    own = remote is None
    target = PostgresLedger(url) if remote is None else remote
    try:
        for path in paths:
            fd = _try_lock(path)
            if fd is None:
                report.in_use += int(path.exists())
                continue
            try:
                source = open_sqlite(path)
                try:
                    runs = source.list_runs(on_bad_row=lambda e: report.failed.append(str(e)))
                    for run in runs:
                        result = copy_run(source, target, run.run_id, where=str(path))
                        report.runs += 1
                        report.samples_added += result.samples_added
                finally:
                    source.close()
                _remove_spool(path)
                report.spools += 1
            except LedgerUnreachableError:
                raise
            except CarbonLedgerError as exc:
                report.failed.append(f"{path}: {exc}")
            finally:
                os.close(fd)
    finally:
        if own:
            target.close()
    return report


# -- the wrapper -----------------------------------------------------------------------
class SpoolingLedger:
    """A Ledger that writes to a local spool first and to the database when it can.

    ``open_remote`` (default: a :class:`~carbonledger.store.postgres.PostgresLedger` of
    ``url``) is called at open and again, at most every ``retry_s``, while it fails.
    """

    def __init__(
        self,
        url: str,
        *,
        open_remote: Callable[[], Ledger] | None = None,
        root: Path | None = None,
        retry_s: float = DEFAULT_RETRY_S,
        sync_pending: bool = True,
    ) -> None:
        from carbonledger.store.sqlite import open_sqlite

        self.url = redact_url(url)
        self._secret_url = url
        self._open_remote = open_remote or self._default_remote
        self._root = root
        self.retry_s = float(retry_s)
        self._lock = threading.RLock()
        folder = spool_folder(url, root)
        try:
            self.spool_path = _new_spool_file(folder)
        except OSError as exc:
            raise LedgerError(f"cannot create a spool in {folder}: {exc}") from None
        fd = _try_lock(self.spool_path)
        if fd is None:
            raise LedgerError(f"cannot lock spool {self.spool_path}")
        self._lock_fd: int | None = fd
        self.spool: SqliteLedger = open_sqlite(self.spool_path)
        self._remote: Ledger | None = None
        self._next_try = 0.0
        self._own_runs: set[str] = set()
        self._behind: set[str] = set()  # runs whose latest facts the database lacks
        self._warned = False
        try:
            self._connect()
        except BaseException:
            self.spool.close()
            _remove_spool(self.spool_path)
            os.close(fd)
            raise
        if self._remote is not None and sync_pending:
            threading.Thread(
                target=self._sync_pending, name="carbonledger-spool-sync", daemon=True
            ).start()

    def _default_remote(self) -> Ledger:
        from carbonledger.store.postgres import PostgresLedger

        return PostgresLedger(self._secret_url, connect_timeout_s=TRACKER_CONNECT_TIMEOUT_S)

    @property
    def online(self) -> bool:
        """Whether the database answered the last write."""
        return self._remote is not None

    # -- connection state ----------------------------------------------------------
    def _connect(self) -> None:
        self._next_try = time.monotonic() + self.retry_s
        try:
            self._remote = self._open_remote()
        except ConfigError:
            raise  # no driver or a malformed URL: retrying will not help
        except CarbonLedgerError as exc:
            self._cut_off(exc)

    def _cut_off(self, exc: BaseException) -> None:
        remote, self._remote = self._remote, None
        self._next_try = time.monotonic() + self.retry_s
        if remote is not None:
            try:
                remote.close()
            except Exception:
                log.debug("closing the unreachable ledger failed", exc_info=True)
        if not self._warned:
            self._warned = True
            log.warning(
                "ledger %s cannot be reached (%s); writing to the local spool %s and "
                "uploading when it is back",
                self.url,
                exc,
                self.spool_path,
            )

    def _reachable(self, *, now: bool = False) -> Ledger | None:
        """The database, reconnecting (when due) and catching up on what it missed."""
        if self._remote is None and (now or time.monotonic() >= self._next_try):
            self._connect()
            if self._remote is not None:
                self._warned = False
                log.warning("ledger %s is reachable again; uploading the spool", self.url)
        remote = self._remote
        if remote is None:
            return None
        from carbonledger.store.transfer import copy_run

        for run_id in sorted(self._behind):
            try:
                copy_run(self.spool, remote, run_id, where=str(self.spool_path))
                self._behind.discard(run_id)
            except LedgerUnreachableError as exc:
                self._cut_off(exc)
                return None
            except CarbonLedgerError as exc:
                log.warning("ledger %s: uploading run %s failed: %s", self.url, run_id, exc)
                return remote
        return remote

    def _sync_pending(self) -> None:
        try:
            report = sync_spools(
                self._secret_url, remote=self._remote, root=self._root, exclude=[self.spool_path]
            )
        except Exception as exc:  # a background nicety: never raise
            log.debug("syncing pending spools of %s failed: %s", self.url, exc)
            return
        if report.spools or report.failed:
            log.info(
                "ledger %s: uploaded %d pending spool(s), %d run(s); %d failed",
                self.url,
                report.spools,
                report.runs,
                len(report.failed),
            )

    def _write(
        self, run_id: str, to_spool: Callable[[], None], to_remote: Callable[[Any], Any]
    ) -> None:
        with self._lock:
            to_spool()  # bad data raises here, before the database sees it
            self._own_runs.add(run_id)
            if self._remote is None:
                self._behind.add(run_id)
            was_behind = run_id in self._behind
            if self._behind:
                self._reachable()  # reconnect when due; catch up by idempotent copies
            if was_behind:
                return  # the catch-up copy included this write, or the run is still behind
            remote = self._remote
            if remote is None:
                self._behind.add(run_id)
                return
            try:
                to_remote(remote)
            except LedgerUnreachableError as exc:
                self._behind.add(run_id)
                self._cut_off(exc)
            except CarbonLedgerError as exc:
                self._behind.add(run_id)
                log.warning("ledger %s: a write of run %s failed: %s", self.url, run_id, exc)

    # -- writes --------------------------------------------------------------------
    def create_run(self, run: RunRecord, devices: Sequence[DeviceInfo]) -> None:
        self._write(
            run.run_id,
            lambda: self.spool.create_run(run, devices),
            lambda remote: remote.create_run(run, devices),
        )

    def append_samples(self, run_id: str, samples: Sequence[Sample], heartbeat_at: float) -> None:
        # a plain append (COPY) live: a write whose outcome is unknown (cut off around
        # the commit) marks the run behind, and catching up is the idempotent copy
        self._write(
            run_id,
            lambda: self.spool.append_samples(run_id, samples, heartbeat_at),
            lambda remote: remote.append_samples(run_id, samples, heartbeat_at),
        )

    def add_span(self, run_id: str, span: SpanRecord) -> None:
        self._write(
            run_id,
            lambda: self.spool.add_span(run_id, span),
            lambda remote: remote.add_span(run_id, span),
        )

    def log_metrics(self, run_id: str, metrics: Mapping[str, MetricValue]) -> None:
        self._write(
            run_id,
            lambda: self.spool.log_metrics(run_id, metrics),
            lambda remote: remote.log_metrics(run_id, metrics),
        )

    def set_functional_unit(self, run_id: str, name: str, count: float) -> None:
        self._write(
            run_id,
            lambda: self.spool.set_functional_unit(run_id, name, count),
            lambda remote: remote.set_functional_unit(run_id, name, count),
        )

    def put_series(self, run_id: str, series: IntensitySeries) -> None:
        self._write(
            run_id,
            lambda: self.spool.put_series(run_id, series),
            lambda remote: remote.put_series(run_id, series),
        )

    def put_attachment(self, run_id: str, key: str, data: Mapping[str, Any]) -> None:
        self._write(
            run_id,
            lambda: self.spool.put_attachment(run_id, key, data),
            lambda remote: remote.put_attachment(run_id, key, data),
        )

    def finish_run(
        self, run_id: str, status: RunStatus, ended_at: float, exit_code: int | None = None
    ) -> None:
        self._write(
            run_id,
            lambda: self.spool.finish_run(run_id, status, ended_at, exit_code),
            lambda remote: remote.finish_run(run_id, status, ended_at, exit_code),
        )

    # -- reads ---------------------------------------------------------------------
    def _reader(self, run_id: str) -> Ledger:
        key = run_id.strip()
        if key and any(r.startswith(key) for r in self._own_runs):
            return self.spool
        with self._lock:
            remote = self._reachable()
        if remote is None:
            raise LedgerUnreachableError(f"ledger {self.url} cannot be reached")
        return remote

    def get_run(self, run_id_or_prefix: str) -> RunRecord:
        return self._reader(run_id_or_prefix).get_run(run_id_or_prefix)

    def list_runs(self, *, on_bad_row: BadRowHandler | None = None) -> list[RunRecord]:
        """The database's runs (with this tracker's own from the spool); the spool's alone
        while the database is away."""
        with self._lock:
            remote = self._reachable()
        own = self.spool.list_runs(on_bad_row=on_bad_row)
        if remote is None:
            return own
        try:
            runs = remote.list_runs(on_bad_row=on_bad_row)
        except LedgerUnreachableError:
            return own
        mine = {r.run_id: r for r in own}
        merged = [mine.pop(r.run_id, r) for r in runs] + list(mine.values())
        return sorted(merged, key=lambda r: r.started_at, reverse=True)

    def overlapping_runs(self, run: RunRecord) -> list[RunRecord]:
        from carbonledger.lifecycle.sharing import find_overlapping_runs

        with self._lock:
            remote = self._reachable()
        try:
            if remote is not None:
                return find_overlapping_runs(remote, run)
        except LedgerUnreachableError:
            pass
        return find_overlapping_runs(self.spool, run)

    def devices(self, run_id: str) -> list[DeviceInfo]:
        return self._reader(run_id).devices(run_id)

    def samples(self, run_id: str) -> list[Sample]:
        return self._reader(run_id).samples(run_id)

    def spans(self, run_id: str) -> list[SpanRecord]:
        return self._reader(run_id).spans(run_id)

    def metrics(self, run_id: str) -> dict[str, MetricValue]:
        return self._reader(run_id).metrics(run_id)

    def functional_unit(self, run_id: str) -> tuple[str, float] | None:
        return self._reader(run_id).functional_unit(run_id)

    def series(self, run_id: str) -> IntensitySeries | None:
        return self._reader(run_id).series(run_id)

    def attachments(self, run_id: str) -> dict[str, Any]:
        return self._reader(run_id).attachments(run_id)

    # -- lifetime ------------------------------------------------------------------
    def close(self) -> None:
        """Upload what is behind (one last try), then delete the spool if nothing is left
        behind; otherwise keep it for ``carbonledger sync``. Idempotent."""
        with self._lock:
            fd, self._lock_fd = self._lock_fd, None
            if fd is None:
                return
            if self._behind:
                self._reachable(now=True)
            behind = sorted(self._behind)
            remote, self._remote = self._remote, None
            try:
                if remote is not None:
                    remote.close()
            finally:
                self.spool.close()
                if behind:
                    log.warning(
                        "ledger %s could not be reached; run(s) %s stay in the spool %s "
                        "(carbonledger sync uploads them)",
                        self.url,
                        ", ".join(behind),
                        self.spool_path,
                    )
                else:
                    _remove_spool(self.spool_path)
                os.close(fd)

    def __repr__(self) -> str:
        return f"SpoolingLedger({self.url!r}, spool={str(self.spool_path)!r})"


def is_shared_database(target: str | os.PathLike[str]) -> bool:
    from carbonledger.store.registry import split_scheme

    return isinstance(target, str) and split_scheme(target) in SCHEMES


def open_for_tracker(target: str | os.PathLike[str]) -> Ledger:
    """What a tracker writes to: a shared database through a spool, anything else as is."""
    from carbonledger.store.registry import open_ledger

    if is_shared_database(target):
        assert isinstance(target, str)
        return SpoolingLedger(target)
    return open_ledger(target)
