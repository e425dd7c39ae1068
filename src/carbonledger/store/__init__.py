"""Ledger stores: the protocol (``base``) and the SQLite ledger (``sqlite``)."""

from __future__ import annotations

from carbonledger.store.base import Ledger, MetricValue
from carbonledger.store.sqlite import EnergyTotal, SqliteLedger, open_ledger, tracker_gone

__all__ = ["EnergyTotal", "Ledger", "MetricValue", "SqliteLedger", "open_ledger", "tracker_gone"]
