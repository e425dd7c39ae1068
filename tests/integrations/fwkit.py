"""Shared by the framework-callback tests: a deterministic fake sensor and ledger reads."""

from __future__ import annotations

from typing import Any

from carbonledger.lifecycle.footprint import Footprint
from carbonledger.lifecycle.pricing import footprint_for_run
from carbonledger.records import RunRecord
from carbonledger.sensors.fake import FakeSensor, fake_device
from carbonledger.store import open_ledger

POWER_W = 50.0


def fake_sensors() -> list[Any]:
    """One CPU at a constant 50 W: every span's energy is 50 W times its duration."""
    return [FakeSensor([fake_device("fake:cpu-0")], {"fake:cpu-0": POWER_W})]


def track_options() -> dict[str, Any]:
    return {"sensors": fake_sensors(), "zone": "FR", "interval": 0.05}


def runs(ledger: str) -> list[RunRecord]:
    store = open_ledger(ledger)
    try:
        return store.list_runs()
    finally:
        store.close()


def footprint(ledger: str, run_id: str) -> Footprint:
    store = open_ledger(ledger)
    try:
        return footprint_for_run(store, run_id)
    finally:
        store.close()


def span_paths(fp: Footprint) -> list[str]:
    return [s.path for s in fp.spans]
