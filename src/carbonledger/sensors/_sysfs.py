"""Thin sysfs readers. Every sysfs read of the sensors goes through here (tests patch it).

A read never blocks its caller for long. The file is opened non-blocking and must be a
regular file (a FIFO or device put in place of ``energy_uj`` is refused at once), and the
read runs on a daemon worker thread that the caller waits for at most
:data:`READ_TIMEOUT_S`. A read that does not return in time (a stuck driver, a hung network
file system) is abandoned: it raises :class:`ReadTimeout` (an ``OSError``, so sensors treat
it as a failed read), and until that abandoned read returns, further reads of the same path
fail at once instead of piling up threads. At most one thread is ever stuck per path.
"""

from __future__ import annotations

import errno
import os
import queue
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from carbonledger.errors import SensorError

__all__ = [
    "READ_TIMEOUT_S",
    "ReadTimeout",
    "raw_read",
    "read_int",
    "read_text",
    "set_raw_reader",
]

# Seconds a sysfs read may take before it is abandoned. Sysfs attributes answer in
# microseconds; a second is far beyond any working driver and short enough not to stall a run.
READ_TIMEOUT_S = 1.0
_MAX_BYTES = 4096  # a sysfs attribute is at most one page


class ReadTimeout(SensorError, OSError):
    """A sysfs read did not return in time and was abandoned (an OSError too, so callers
    that handle unreadable files handle it)."""

    def __init__(self, path: Path, timeout_s: float, *, pending: bool = False) -> None:
        what = "an earlier read is still blocked" if pending else f"no answer in {timeout_s:g} s"
        super().__init__(errno.ETIMEDOUT, f"read timed out ({what})", str(path))


def raw_read(path: Path) -> str:
    """Read a small regular file without blocking on FIFOs; the actual I/O."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        data = os.read(fd, _MAX_BYTES)
    finally:
        os.close(fd)
    return data.decode("ascii", errors="replace")


_raw_reader: Callable[[Path], str] = raw_read


def set_raw_reader(reader: Callable[[Path], str] | None) -> Callable[[Path], str]:
    """Replace the function doing the I/O (tests inject slow or failing readers).

    ``None`` restores :func:`raw_read`. Returns the previous reader.
    """
    global _raw_reader
    previous, _raw_reader = _raw_reader, reader or raw_read
    return previous


class _Job:
    __slots__ = ("done", "error", "path", "reader", "result")

    def __init__(self, path: Path, reader: Callable[[Path], str]) -> None:
        self.path = path
        self.reader = reader
        self.done = threading.Event()
        self.result: str | None = None
        self.error: BaseException | None = None


class _Worker:
    """One daemon thread serving reads from a queue; abandoned when a read blocks."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self.abandoned = False
        threading.Thread(target=self._serve, name="carbonledger-sysfs", daemon=True).start()

    def _serve(self) -> None:
        while not self.abandoned:
            job = self.jobs.get()
            try:
                job.result = job.reader(job.path)
            except BaseException as exc:  # handed to the caller
                job.error = exc
            finally:
                job.done.set()
                with _lock:
                    if _pending.get(job.path) is job:
                        del _pending[job.path]


_lock = threading.Lock()
_worker: _Worker | None = None
_pending: dict[Path, _Job] = {}  # paths whose abandoned read has not returned yet


def read_text(path: Path, timeout_s: float | None = None) -> str:
    """The file's text, stripped. Raises ``OSError`` (missing, permission denied, timed out)."""
    global _worker
    timeout = READ_TIMEOUT_S if timeout_s is None else timeout_s
    job = _Job(path, _raw_reader)
    with _lock:
        if path in _pending:
            raise ReadTimeout(path, timeout, pending=True)
        if _worker is None or _worker.abandoned:
            _worker = _Worker()
        worker = _worker
        worker.jobs.put(job)
    if not job.done.wait(timeout):
        with _lock:
            if not job.done.is_set():
                # the worker is blocked in this read: leave it, serve later reads elsewhere
                worker.abandoned = True
                _pending[path] = job
                if _worker is worker:
                    _worker = None
                _requeue(worker)
                raise ReadTimeout(path, timeout)
    if job.error is not None:
        raise job.error
    assert job.result is not None
    return job.result.strip()


def _requeue(worker: _Worker) -> None:
    """Move reads queued behind a blocked one to a fresh worker (called with ``_lock``)."""
    global _worker
    moved: list[_Job] = []
    while True:
        try:
            moved.append(worker.jobs.get_nowait())
        except queue.Empty:
            break
    if moved:
        _worker = _Worker()
        for job in moved:
            _worker.jobs.put(job)


def read_int(path: Path) -> int:
    """A non-negative decimal integer. Raises ``OSError``, or ``ValueError`` for garbage."""
    text = read_text(path)
    if not (text.isascii() and text.isdigit()):  # rejects signs, blanks and decimals
        raise ValueError(f"{path}: not a non-negative integer: {text[:40]!r}")
    return int(text)
