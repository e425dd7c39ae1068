"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl on a Unix socket in a
temporary folder (about a second or two), run as the ``postgres`` user (else ``nobody``)
when the tests run as root, stopped and removed at the end of the session.

Without Debian's ``postgresql`` package or psycopg the tests that need it skip on a
developer's machine and fail in CI (:mod:`tests.engines`).
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.engines import require_module, unavailable

__all__ = ["PgServer", "fresh_schema_url", "shared_server"]

_lock = threading.Lock()
_server: PgServer | None = None
_failure: str | None = None


def _bin_dir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _run_as() -> list[str]:
    """The prefix that runs a command as a non-root user (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--"]
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run the server")


@dataclass
class PgServer:
    """One running server: ``socket_dir`` holds its socket; ``url(...)`` connects."""

    bin_dir: Path
    folder: Path
    socket_dir: Path
    user: str = "carbonledger"

    def url(self, *, database: str = "postgres", password: str | None = None, **params: str) -> str:
        auth = self.user if password is None else f"{self.user}:{quote(password, safe='')}"
        query = "&".join(
            f"{k}={quote(v, safe='')}" for k, v in {"host": str(self.socket_dir), **params}.items()
        )
        return f"postgresql://{auth}@/{database}?{query}"

    def start(self) -> None:
        subprocess.run(
            [*_run_as(), str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"),
             "-l", str(self.folder / "log"), "-w", "-t", "60", "-o",
             f"-k {self.socket_dir} -c listen_addresses= -c max_connections=400 "
             "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
             "start"],
            check=True, capture_output=True, timeout=90,
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run(
            [*_run_as(), str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"),
             "-m", "immediate", "-w", "stop"],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_server() -> PgServer:
    """A new throwaway server (callers stop and remove it)."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL's initdb (Debian package postgresql)")
    prefix = _run_as()
    folder = Path(tempfile.mkdtemp(prefix="carbonledger-pg-"))
    if prefix:
        owner = pwd.getpwnam(prefix[2])
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    server = PgServer(bin_dir, folder, folder)
    try:
        subprocess.run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", server.user,
             "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        server.start()
    except BaseException:
        server.remove()
        raise
    return server


def shared_server() -> PgServer:
    """The session's server (started on first use); skips or fails when it cannot run."""
    global _server, _failure
    require_module("psycopg", "psycopg_pool")
    with _lock:
        if _server is None and _failure is None:
            try:
                _server = start_server()
                atexit.register(_server.remove)
            except FileNotFoundError as exc:
                _failure = f"needs {exc.args[0] if exc.args else exc}"
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                detail = getattr(exc, "stderr", b"") or b""
                _failure = (
                    f"cannot start PostgreSQL: {exc} {detail.decode(errors='replace')[-300:]}"
                )
    if _server is None:
        unavailable(_failure or "PostgreSQL is unavailable")
    assert _server is not None
    return _server


def fresh_schema_url(server: PgServer, **params: str) -> str:
    """A URL whose ledger lives in a new, empty schema (a fresh ledger per call)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return server.url(options=f"-csearch_path={schema}", **params)
