"""Footprint JSON (``carbonledger.footprint/1``): one object for one run, a list for several."""

from __future__ import annotations

from carbonledger.jsonutil import dumps
from carbonledger.report.base import ReportInput

__all__ = ["render"]


def render(data: ReportInput) -> str:
    docs = [fp.to_dict() for fp in data.footprints]
    payload = docs[0] if len(docs) == 1 else docs
    return dumps(payload) + "\n"
