"""Ledger stores: the protocol (``base``), backends by URL (``registry``), SQLite and memory."""

from __future__ import annotations

from carbonledger.store.base import Ledger, MetricValue
from carbonledger.store.liveness import settle, tracker_gone
from carbonledger.store.memory import MemoryLedger
from carbonledger.store.registry import open_ledger
from carbonledger.store.sqlite import EnergyTotal, SqliteLedger

__all__ = [
    "EnergyTotal",
    "Ledger",
    "MemoryLedger",
    "MetricValue",
    "SqliteLedger",
    "open_ledger",
    "settle",
    "tracker_gone",
]
