"""The Keras 3 callback on a real model (torch backend): a tiny dense model trains for a
few epochs on random data; History and model.evaluate get the values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from tests.engines import require_module
from tests.integrations import fwkit

from carbonledger.schedule.budget import Budget

KEY = "carbonledger/energy_kwh"


@pytest.fixture(autouse=True)
def _keras_on_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    # Keras reads its backend once, at import: torch here (TensorFlow is not installed)
    if os.environ.get("KERAS_BACKEND") is None:
        monkeypatch.setenv("KERAS_BACKEND", "torch")
    require_module("torch", "keras")


def _model_and_data() -> tuple[Any, Any, Any]:
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model, x, y


def test_history_gets_energy_per_epoch(tmp_path: Path) -> None:
    from carbonledger.integrations.keras import CarbonLedgerCallback

    ledger = str(tmp_path / "ledger.sqlite")
    model, x, y = _model_and_data()
    callback = CarbonLedgerCallback(name="tiny-dense", **fwkit.track_options())
    history = model.fit(
        x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0, callbacks=[callback]
    )
    energies = history.history[KEY]
    assert len(energies) == 3 and 0 < energies[0] < energies[1] < energies[2]
    assert len(history.history["carbonledger/epoch_energy_kwh"]) == 3
    assert len(history.history["carbonledger/evaluation_energy_kwh"]) == 3
    lows = history.history["carbonledger/emissions_kg_low"]
    assert all(
        lo <= v for lo, v in zip(lows, history.history["carbonledger/emissions_kg"], strict=True)
    )

    (record,) = fwkit.runs(ledger)
    assert record.name == "tiny-dense" and record.tags["carbonledger.framework"] == "keras"
    paths = fwkit.span_paths(fwkit.footprint(ledger, record.run_id))
    assert {"fit", "fit/epoch-0", "fit/epoch-2", "fit/epoch-0/evaluation"} <= set(paths)

    model.evaluate(x, y, verbose=0, callbacks=[callback])
    # a lone evaluate is the next segment of the same job (Keras copies the logs it
    # returns, so the values are in the ledger only)
    first, second = sorted(fwkit.runs(ledger), key=lambda r: r.started_at)
    assert second.tags["carbonledger.job"] == first.tags["carbonledger.job"]
    assert fwkit.span_paths(fwkit.footprint(ledger, second.run_id)) == ["evaluation"]


def test_budget_stops_fit(tmp_path: Path) -> None:
    from carbonledger.integrations.keras import CarbonLedgerCallback

    model, x, y = _model_and_data()
    callback = CarbonLedgerCallback(
        budget=Budget(kwh=1e-9, on_exceed="stop"), **fwkit.track_options()
    )
    history = model.fit(x, y, epochs=50, batch_size=16, verbose=0, callbacks=[callback])
    assert len(history.history["loss"]) < 50
