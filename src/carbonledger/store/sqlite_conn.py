"""The SQLite ledger's connection: opening (schema checked or migrated), one lock, and
every read or write as a transaction retried while the database is busy.

Every sqlite3 error becomes :class:`~carbonledger.errors.LedgerError` naming the file
here (:func:`ledger_error`), and nowhere else.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from carbonledger.errors import LedgerError, RunNotFoundError
from carbonledger.store import _schema
from carbonledger.store._rows import clean_text
from carbonledger.store.liveness import DEFAULT_STALE_AFTER_S

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "DEFAULT_RETRY_S",
    "SqliteConnection",
    "decode_text",
    "is_busy",
    "ledger_error",
]

log = logging.getLogger("carbonledger.store.sqlite")

T = TypeVar("T")

DEFAULT_BUSY_TIMEOUT_S = 5.0
"""SQLite's own wait for a lock, per attempt."""
DEFAULT_RETRY_S = 60.0
"""The longest a read or write keeps retrying a busy or locked database."""

_FIRST_BACKOFF_S = 0.005
_MAX_BACKOFF_S = 0.5
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6  # primary result codes (sqlite.org/rescode.html)
_NOT_UTF8 = "Could not decode to UTF-8"  # sqlite3's error for text that is not UTF-8


class SqliteConnection:
    """One connection to one ledger file, guarded by a lock: safe to share between
    threads, not across ``fork`` (open a new one in the child)."""

    def __init__(
        self,
        path: Path,
        *,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        retry_s: float = DEFAULT_RETRY_S,
        verify: bool | Sequence[str] = False,
    ) -> None:
        self.path = Path(path).expanduser()
        self.stale_after_s = float(stale_after_s)
        self._busy_timeout_s = float(busy_timeout_s)
        self._retry_s = float(retry_s)
        self._lock = threading.RLock()
        self.busy_retries = 0
        """How often a busy or locked database was retried (for diagnostics)."""
        self._hostname = os.uname().nodename
        if self.path.is_dir():
            raise LedgerError(f"ledger {self.path} is a directory, not a file")
        try:
            conn = sqlite3.connect(
                str(self.path),
                timeout=self._busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise ledger_error(self.path, "open", exc) from exc
        # text is decoded by sqlite3 itself (fast); text that is not UTF-8 (written by
        # another tool) makes that read run again with decode_text: \xNN escapes, no error
        conn.text_factory = str
        self._conn: sqlite3.Connection | None = conn
        try:
            self._setup(verify=verify)
        except BaseException:
            self.close()
            raise

    def _setup(self, *, verify: bool | Sequence[str]) -> None:
        def configure(conn: sqlite3.Connection) -> str:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
            _schema.read_version(conn)  # fails early on a file that is not a database
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            return mode

        mode = self._retrying("open", configure, transaction=None)
        if mode != "wal":
            log.warning("ledger %s: journal mode is %s, not wal (filesystem?)", self.path, mode)

        def current(conn: sqlite3.Connection) -> bool:
            app_id, version = _schema.read_version(conn)
            _schema.check_version(self.path, app_id, version, conn, _schema.SCHEMA_VERSION)
            return app_id == _schema.APPLICATION_ID and version == _schema.SCHEMA_VERSION

        if not self._retrying("check schema", current, transaction="BEGIN"):
            self._retrying(
                "migrate",
                lambda conn: _schema.migrate(conn, self.path),
                transaction="BEGIN IMMEDIATE",
            )
        missing = self._retrying("check tables", _schema.missing_tables, transaction="BEGIN")
        if missing:
            raise LedgerError(
                f"ledger {self.path} is damaged: table {', '.join(missing)} is missing "
                "(restore it from a backup)"
            )
        if verify is True:
            self.check()
        elif verify:
            self.check(tables=verify)

    def check(self, tables: Sequence[str] | None = None) -> None:
        """Run SQLite's ``quick_check``; LedgerError "ledger PATH is damaged" on a problem.

        It reads the whole file (about a second per few hundred MB): reading commands use
        it, a tracker starting a run does not. ``tables`` limits it to those tables and
        their indexes (a command that reads only those; pages it does not check still
        raise LedgerError when read).
        """
        unknown = [t for t in tables or () if t not in _schema.TABLES]
        if unknown:
            raise ValueError(f"no table {', '.join(unknown)} in a ledger")
        pragmas = (
            ["PRAGMA quick_check(100)"]
            if tables is None
            else [f"PRAGMA quick_check({t})" for t in tables]
        )

        def quick_check(conn: sqlite3.Connection) -> list[str]:
            lines = [str(r[0]) for pragma in pragmas for r in conn.execute(pragma)]
            return [line for line in lines if line != "ok"] or ["ok"]

        # a row that breaks a CHECK or NOT NULL rule is one bad row, which readers skip
        # and report; damage is what is left (pages, indexes, structure)
        found = [
            line
            for line in self._retrying("check integrity", quick_check, transaction=None)
            if not line.startswith(("CHECK constraint failed", "NULL value in"))
        ]
        if found and found != ["ok"]:
            detail = "; ".join(found[:3]).replace("\n", " ")
            raise LedgerError(f"ledger {self.path} is damaged: {detail}")

    # -- plumbing ------------------------------------------------------------------
    def _retrying(
        self,
        action: str,
        fn: Callable[[sqlite3.Connection], T],
        *,
        transaction: str | None,
    ) -> T:
        """Run ``fn`` (in a transaction unless None), retrying busy/locked errors."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise LedgerError(f"ledger {self.path} is closed")
            deadline = time.monotonic() + self._retry_s
            delay = _FIRST_BACKOFF_S
            while True:
                try:
                    if transaction is None:
                        return fn(conn)
                    conn.execute(transaction)
                    try:
                        result = fn(conn)
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            try:
                                conn.execute("ROLLBACK")
                            except sqlite3.Error:
                                log.debug("ledger %s: rollback failed", self.path, exc_info=True)
                        raise
                    return result
                except sqlite3.OperationalError as exc:
                    if conn.text_factory is str and _NOT_UTF8 in str(exc):
                        conn.text_factory = decode_text
                        try:
                            return self._retrying(action, fn, transaction=transaction)
                        finally:
                            conn.text_factory = str
                    remaining = deadline - time.monotonic()
                    if not is_busy(exc) or remaining <= 0:
                        raise ledger_error(self.path, action, exc) from exc
                    self.busy_retries += 1
                    time.sleep(min(remaining, delay * random.uniform(0.5, 1.5)))
                    delay = min(delay * 2, _MAX_BACKOFF_S)
                except sqlite3.Error as exc:
                    remaining = deadline - time.monotonic()
                    if not is_busy(exc) or remaining <= 0:
                        raise ledger_error(self.path, action, exc) from exc
                    self.busy_retries += 1
                    time.sleep(min(remaining, delay * random.uniform(0.5, 1.5)))
                    delay = min(delay * 2, _MAX_BACKOFF_S)

    def _write(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self._retrying(action, fn, transaction="BEGIN IMMEDIATE")

    def _read(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self._retrying(action, fn, transaction="BEGIN")

    def _require_run(self, conn: sqlite3.Connection, run_id: str) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
            raise RunNotFoundError(f"no run {run_id!r} in ledger {self.path}")

    # -- lifetime ------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                raise ledger_error(self.path, "close", exc) from exc


def decode_text(data: bytes) -> str:
    """Stored text as str: valid UTF-8 as is, other bytes as ``\\xNN`` (see clean_text)."""
    try:
        return data.decode("utf-8")  # strict UTF-8 never yields a lone surrogate
    except UnicodeDecodeError:
        return clean_text(data.decode("utf-8", "surrogateescape"))


def is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def ledger_error(path: Path, action: str, exc: sqlite3.Error) -> LedgerError:
    """The one place sqlite3 errors become LedgerError (one line, naming the file)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        return LedgerError(f"{path} is not an SQLite database (a ledger file is expected)")
    if isinstance(exc, sqlite3.DatabaseError) and (
        "malformed" in text or "corrupt" in text or "no such table" in text
    ):
        return LedgerError(f"ledger {path} is damaged: {text} ({action}; restore it from a backup)")
    if "unable to open" in text:
        return LedgerError(f"cannot open ledger {path}: {text} (check the path and permissions)")
    if "readonly" in text:
        return LedgerError(f"cannot write ledger {path}: it is read-only ({text})")
    if isinstance(exc, sqlite3.IntegrityError):
        return LedgerError(f"ledger {path}: {action} rejected: {text}")
    return LedgerError(f"ledger {path}: {action} failed: {text}")
