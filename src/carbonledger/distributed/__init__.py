"""Distributed jobs: which job and rank a process is, one measurer per device on a node,
and one footprint per job (see docs/guides/distributed.md)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from carbonledger.distributed.job import JobFootprint
    from carbonledger.store.base import Ledger

__all__ = ["job_footprint"]


def job_footprint(
    key: str, *, ledger: str | os.PathLike[str] | Ledger | None = None
) -> JobFootprint:
    """The footprint of distributed job ``key`` from a ledger (a path or URL, an open
    ledger, or None: the configured one): energy per node and device counted once,
    priced per node's zone, embodied for every device, every rank's spans, restarts.
    A ledger file given by path that does not exist is a ConfigError (nothing created)."""
    from carbonledger.distributed.job import job_footprint as compute

    if ledger is not None and not isinstance(ledger, (str, os.PathLike)):
        return compute(ledger, key)
    from carbonledger.config import Settings
    from carbonledger.store import open_ledger

    url = Settings.load().ledger_url if ledger is None else os.fspath(ledger)
    if ledger is not None:
        from carbonledger.errors import ConfigError
        from carbonledger.store.registry import local_path

        path = local_path(url)
        if path is not None and not path.exists():
            raise ConfigError(f"no ledger at {path}")
    opened = open_ledger(url)
    try:
        return compute(opened, key)
    finally:
        opened.close()
