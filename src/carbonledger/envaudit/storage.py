"""The one place the environment audit talks to the ledger.

The ledger keeps an audit as the attachment ``env_audit`` of its run
(``put_attachment(run_id, key, data)`` / ``attachments(run_id)``). A ledger without
attachments is said so, once, in the error; nothing is lost silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from carbonledger.envaudit.model import EnvAudit
from carbonledger.errors import LedgerError

__all__ = ["KEY", "ledger_saver", "load_audit", "load_audit_dict", "save_audit", "save_to_ledger"]

KEY = "env_audit"


def save_audit(ledger: Any, run_id: str, audit: EnvAudit) -> None:
    """Store ``audit`` with run ``run_id``."""
    put = getattr(ledger, "put_attachment", None)
    if put is None:
        raise LedgerError("this ledger cannot store attachments (env_audit) yet")
    put(run_id, KEY, audit.to_dict())


def load_audit_dict(ledger: Any, run_id: str) -> dict[str, Any] | None:
    """The stored audit of ``run_id`` as JSON data, or None when there is none."""
    get = getattr(ledger, "attachments", None)
    if get is None:
        return None
    data = get(run_id).get(KEY)
    return dict(data) if isinstance(data, dict) else None


def load_audit(ledger: Any, run_id: str) -> EnvAudit | None:
    """The stored audit of ``run_id``, or None; DataError when it is malformed."""
    data = load_audit_dict(ledger, run_id)
    return None if data is None else EnvAudit.from_dict(data)


def save_to_ledger(ledger_path: str | os.PathLike[str], run_id: str, audit: EnvAudit) -> None:
    """Open the ledger at ``ledger_path``, store ``audit`` with ``run_id``, close it."""
    from pathlib import Path

    from carbonledger.store import open_ledger

    ledger: Any = open_ledger(Path(ledger_path))
    try:
        save_audit(ledger, run_id, audit)
    finally:
        ledger.close()


def ledger_saver(ledger_path: str | os.PathLike[str]) -> Callable[[str, EnvAudit], None]:
    """A ``save`` for :class:`~carbonledger.envaudit.sink.EnvAuditSink`: stores the audit in
    the ledger at ``ledger_path`` when the run ends."""

    def save(run_id: str, audit: EnvAudit) -> None:
        save_to_ledger(ledger_path, run_id, audit)

    return save
