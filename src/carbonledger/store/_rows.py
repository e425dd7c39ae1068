"""How runs and metrics are encoded in, and decoded from, the ledger's rows."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Sequence
from typing import Any

from carbonledger.errors import DataError
from carbonledger.records import RunRecord, RunStatus, Scope
from carbonledger.store.base import MetricValue

__all__ = ["RUN_COLUMNS", "decode_metric", "dumps", "encode_metric", "run_from_row"]

RUN_COLUMNS = (
    "run_id, name, phase, status, started_at, ended_at, scope, zone, pue, interval_s, "
    "host_json, tags_json, exit_code, pid, heartbeat_at, settings_json"
)


def dumps(value: Any, what: str, run_id: str) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise DataError(f"run {run_id}: {what} is not JSON-serialisable: {exc}") from None


def run_from_row(r: Sequence[Any]) -> RunRecord:
    return RunRecord(
        run_id=r[0],
        name=r[1],
        phase=r[2],
        status=RunStatus(r[3]),
        started_at=r[4],
        ended_at=r[5],
        scope=Scope(r[6]),
        zone=r[7],
        pue=r[8],
        interval_s=r[9],
        host=json.loads(r[10]),
        tags=json.loads(r[11]),
        exit_code=r[12],
        pid=r[13],
        heartbeat_at=r[14],
        settings=json.loads(r[15]),
    )


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def encode_metric(name: str, value: object) -> tuple[str, Any]:
    """``(kind, stored value)``; NaN is stored as NULL, ints beyond 64 bits as text."""
    if isinstance(value, bool):
        return "bool", int(value)
    if isinstance(value, numbers.Integral):
        number = int(value)
        return "int", number if _INT64_MIN <= number <= _INT64_MAX else str(number)
    if isinstance(value, numbers.Real):
        real = float(value)
        return "float", None if math.isnan(real) else real
    if isinstance(value, str):
        return "str", value
    raise DataError(
        f"metric {name!r}: unsupported type {type(value).__name__} (use int, float, str or bool)"
    )


def decode_metric(kind: str, value: Any) -> MetricValue:
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return math.nan if value is None else float(value)
    return str(value)
