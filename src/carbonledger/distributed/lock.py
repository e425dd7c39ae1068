"""A host-local lock that says which process of a job measures a set of devices.

One ``fcntl.flock`` on a private file per (job key, node, device). The kernel drops
the lock when its holder dies, however it dies, so a standby process that retries takes
over. Files live in ``$XDG_RUNTIME_DIR/carbonledger`` when that is a private folder of
this user, else in ``/tmp/carbonledger-<uid>`` (created 0700; refused if it is a link,
belongs to someone else or is open to others). ``CARBONLEDGER_LOCK_DIR`` overrides both
(tests). The descriptor is close-on-exec; a child made by ``fork`` alone shares it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from carbonledger.errors import ConfigError

__all__ = ["DeviceLock", "lock_dir", "lock_name"]

LOCK_DIR_ENV = "CARBONLEDGER_LOCK_DIR"


def lock_name(job_key: str, node: str, device_ids: Iterable[str]) -> str:
    """The lock file's name: a digest of the job, the node and the sorted device ids."""
    text = "\n".join([job_key, node, *sorted(device_ids)])
    return "measure-" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32] + ".lock"


def _private_dir(path: Path, *, create: bool) -> Path:
    """``path`` as a private folder of this user, created if asked; ConfigError if unsafe."""
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"lock folder {path} is not a folder (or is a link); refused")
    if info.st_uid != os.getuid():
        raise ConfigError(f"lock folder {path} belongs to another user; refused")
    if info.st_mode & 0o077:
        raise ConfigError(f"lock folder {path} is open to other users (mode {info.st_mode:o})")
    return path


def lock_dir(environ: Mapping[str, str]) -> Path:
    """The private folder for lock files (see the module docstring)."""
    given = (environ.get(LOCK_DIR_ENV) or "").strip()
    if given:
        return _private_dir(Path(given), create=True)
    runtime = (environ.get("XDG_RUNTIME_DIR") or "").strip()
    if runtime:
        with contextlib.suppress(OSError, ConfigError):
            _private_dir(Path(runtime), create=False)
            return _private_dir(Path(runtime) / "carbonledger", create=True)
    return _private_dir(Path("/tmp") / f"carbonledger-{os.getuid()}", create=True)


class DeviceLock:
    """A non-blocking exclusive lock on one file; :meth:`try_acquire` until it is held."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this object holds it."""
        if self._fd is not None:
            return True
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        """Let go of the lock (safe to call twice)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
