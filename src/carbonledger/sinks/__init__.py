"""The tracker's own consumers of run events: the ledger writer and the live-intensity
recorder (budgets and forecasts live in :mod:`carbonledger.schedule.monitor`).
User sinks and exporters implement :class:`carbonledger.events.RunSink` the same way."""

from __future__ import annotations

__all__: list[str] = []
