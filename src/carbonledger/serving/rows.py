"""Per-request rows as the ledger keeps them, and how any ledger keeps them.

SQLite and memory ledgers have a ``requests`` table (``append_requests`` /
``requests``); any other backend keeps them as attachments (``requests/<n>``, one per
batch), so every ledger can hold them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from carbonledger.errors import DataError

__all__ = [
    "ATTACHMENT_PREFIX",
    "SERVING_KEY",
    "RequestRow",
    "read_requests",
    "row_from_dict",
    "write_requests",
]

ATTACHMENT_PREFIX = "requests/"
SERVING_KEY = "serving"  # the run's attachment with the idle bucket and the method


@dataclass(frozen=True)
class RequestRow:
    """One request's energy. ``energy_j`` is the active energy charged to it under
    ``attribution`` (idle energy is in the run's idle bucket, never here); ``carbon_g``
    its operational carbon at the run's plan; ``uncertainty_rel`` the sensors' error."""

    request_id: int
    route: str
    http_method: str
    status: int | None
    outcome: str
    started_at: float
    ended_at: float | None
    latency_s: float | None
    tokens: int | None
    energy_j: float | None
    carbon_g: float | None
    attribution: str
    uncertainty_rel: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS: dict[str, tuple[type, ...]] = {
    "request_id": (int,),
    "route": (str,),
    "http_method": (str,),
    "status": (int, type(None)),
    "outcome": (str,),
    "started_at": (int, float),
    "ended_at": (int, float, type(None)),
    "latency_s": (int, float, type(None)),
    "tokens": (int, type(None)),
    "energy_j": (int, float, type(None)),
    "carbon_g": (int, float, type(None)),
    "attribution": (str,),
    "uncertainty_rel": (int, float, type(None)),
}


def row_from_dict(data: Mapping[str, Any], where: str) -> RequestRow:
    """A row from its stored form; a missing or mistyped field is a DataError naming it."""
    values: dict[str, Any] = {}
    for name, types in _FIELDS.items():
        if name not in data and name != "uncertainty_rel":
            raise DataError(f"{where}: request row lacks field {name!r}")
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, types):
            raise DataError(f"{where}: request row field {name!r} has a bad value {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise DataError(f"{where}: request row field {name!r} is not finite")
        values[name] = value
    return RequestRow(**values)


def write_requests(ledger: Any, run_id: str, rows: Sequence[RequestRow], batch_no: int) -> None:
    """Keep ``rows`` with the run: the ledger's ``append_requests``, else an attachment."""
    if not rows:
        return
    append = getattr(ledger, "append_requests", None)
    if callable(append):
        append(run_id, list(rows))
        return
    ledger.put_attachment(
        run_id, f"{ATTACHMENT_PREFIX}{batch_no:06d}", {"rows": [r.to_dict() for r in rows]}
    )


def read_requests(ledger: Any, run_id: str) -> list[RequestRow]:
    """Every request row kept with the run (table and attachments), by start time."""
    rows: list[RequestRow] = []
    reader = getattr(ledger, "requests", None)
    if callable(reader):
        rows.extend(reader(run_id))
    attachments = getattr(ledger, "attachments", None)
    if callable(attachments):
        for key, value in sorted(attachments(run_id).items()):
            if not key.startswith(ATTACHMENT_PREFIX) or not isinstance(value, dict):
                continue
            for i, raw in enumerate(value.get("rows") or ()):
                if isinstance(raw, dict):
                    rows.append(row_from_dict(raw, f"run {run_id} attachment {key} row {i}"))
    rows.sort(key=lambda r: (r.started_at, r.request_id))
    return rows
