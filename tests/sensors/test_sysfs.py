"""Sysfs reads never block their caller: FIFOs are refused, slow reads are abandoned."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from carbonledger.sensors import _sysfs


@pytest.fixture
def slow_reader() -> Iterator[threading.Event]:
    """Reads of paths containing 'slow' block until the event is set."""
    release = threading.Event()

    def reader(path: Path) -> str:
        if "slow" in path.name:
            release.wait()
        return _sysfs.raw_read(path)

    previous = _sysfs.set_raw_reader(reader)
    yield release
    release.set()
    _sysfs.set_raw_reader(previous)


def test_regular_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "energy_uj").write_text("123\n")
    assert _sysfs.read_int(tmp_path / "energy_uj") == 123


def test_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "energy_uj"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        _sysfs.read_int(fifo)


def test_fifo_with_a_silent_writer_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "energy_uj"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a writer that never writes
    try:
        with pytest.raises(OSError):
            _sysfs.read_int(fifo)
    finally:
        os.close(fd)


def test_missing_file_is_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _sysfs.read_text(tmp_path / "nope")


def test_slow_read_is_abandoned_then_fails_fast(
    tmp_path: Path, slow_reader: threading.Event
) -> None:
    slow = tmp_path / "slow_energy_uj"
    slow.write_text("5\n")
    with pytest.raises(_sysfs.ReadTimeout, match="timed out"):
        _sysfs.read_text(slow, timeout_s=0.05)
    threads = threading.active_count()
    for _ in range(20):  # no pile-up: the stuck read is pending, later reads fail at once
        with pytest.raises(_sysfs.ReadTimeout, match="still blocked"):
            _sysfs.read_text(slow, timeout_s=0.05)
    assert threading.active_count() <= threads + 1
    # other files are still served, by a fresh worker
    (tmp_path / "ok").write_text("7\n")
    assert _sysfs.read_int(tmp_path / "ok") == 7
    slow_reader.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            assert _sysfs.read_int(slow) == 5  # once it returns, the path works again
            break
        except _sysfs.ReadTimeout:
            time.sleep(0.01)
    else:
        pytest.fail("the path stayed blocked after its read returned")


def test_timeout_is_an_oserror_with_etimedout(tmp_path: Path, slow_reader: threading.Event) -> None:
    slow = tmp_path / "slow"
    slow.write_text("1\n")
    with pytest.raises(OSError) as info:
        _sysfs.read_text(slow, timeout_s=0.01)
    import errno

    assert info.value.errno == errno.ETIMEDOUT
