"""The one place the environment audit talks to the ledger.

The ledger keeps an audit as the attachment ``env_audit`` of its run
(``put_attachment(run_id, key, data)`` / ``attachments(run_id)``). A ledger without
attachments is said so, once, in the error; nothing is lost silently.
"""

from __future__ import annotations

from typing import Any

from carbonledger.envaudit.model import EnvAudit
from carbonledger.errors import LedgerError

__all__ = ["KEY", "load_audit", "load_audit_dict", "save_audit"]

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
