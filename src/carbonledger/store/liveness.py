"""Whether a running run's tracker is still alive (same host: its pid; else its heartbeat).

Backend-neutral: :func:`settle` turns a record read from any ledger into what readers
should see ("tracker gone" reads as interrupted). Every backend applies it to the runs
it returns; one that can (SQLite) also writes the conclusion back.
"""

from __future__ import annotations

import dataclasses
import os

from carbonledger.records import RunRecord, RunStatus

__all__ = ["DEFAULT_STALE_AFTER_S", "interrupted_view", "settle", "tracker_gone"]

DEFAULT_STALE_AFTER_S = 120.0
"""A run whose heartbeat is older than this (and whose process cannot be checked) is gone."""
_CREATE_TIME_TOLERANCE_S = 1.0


def tracker_gone(
    run: RunRecord,
    *,
    now: float,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    hostname: str | None = None,
) -> bool:
    """Whether a ``RUNNING`` run's tracker has died.

    On the run's own host (``host["hostname"]`` equals this machine's) with a known pid:
    a pid that no longer exists, is a zombie, or belongs to a process started at another
    time than ``host["pid_create_time"]`` (pid reuse) means gone; a live pid whose start
    time matches means alive, however old the heartbeat. Otherwise (another host, no pid,
    or a live pid whose start time cannot be checked) the run is gone when its heartbeat
    (or, before the first one, its start) is more than ``stale_after_s`` old.
    """
    if run.status is not RunStatus.RUNNING:
        return False
    here = os.uname().nodename if hostname is None else hostname
    pid = run.pid if run.pid is not None else run.host.get("pid")
    if run.host.get("hostname") == here and isinstance(pid, int) and not isinstance(pid, bool):
        created = run.host.get("pid_create_time")
        alive, verified = _pid_state(pid, created if isinstance(created, (int, float)) else None)
        if not alive:
            return True
        if verified:
            return False
    last = run.heartbeat_at if run.heartbeat_at is not None else run.started_at
    # a tracker refreshes its heartbeat on its sampling ticks: allow a few of them
    return now - last > max(stale_after_s, 3 * run.interval_s)


def _pid_state(pid: int, create_time: float | None) -> tuple[bool, bool]:
    """``(alive, verified)``: verified means the start time matched the recorded one."""
    import psutil

    if pid <= 0 or not psutil.pid_exists(pid):
        return False, False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False, False
        if create_time is None:
            return True, False
        if abs(proc.create_time() - create_time) > _CREATE_TIME_TOLERANCE_S:
            return False, False  # the pid now belongs to another process
        return True, True
    except psutil.NoSuchProcess:
        return False, False
    except psutil.Error:  # AccessDenied and the like: cannot tell
        return True, False


def interrupted_view(run: RunRecord, *, last_sample_end: float | None = None) -> RunRecord:
    """``run`` as an interrupted run: it ended at its last sign of life.

    That is the latest of its start, its heartbeat and the end of its last sample.
    """
    ended = max(
        run.started_at,
        run.heartbeat_at if run.heartbeat_at is not None else run.started_at,
        last_sample_end if last_sample_end is not None else run.started_at,
    )
    return dataclasses.replace(run, status=RunStatus.INTERRUPTED, ended_at=ended)


def settle(
    run: RunRecord,
    *,
    now: float,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    hostname: str | None = None,
    last_sample_end: float | None = None,
) -> RunRecord:
    """What a reader should see: a running run whose tracker is gone reads as interrupted."""
    if tracker_gone(run, now=now, stale_after_s=stale_after_s, hostname=hostname):
        return interrupted_view(run, last_sample_end=last_sample_end)
    return run
