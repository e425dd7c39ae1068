"""A third-party ledger backend, as a plug-in package would ship it (for test_registry)."""

from __future__ import annotations

from carbonledger.store.memory import MemoryLedger

opened: list[str] = []


def open_url(url: str) -> MemoryLedger:
    opened.append(url)
    return MemoryLedger(url)


def not_a_ledger(url: str) -> object:
    return object()
