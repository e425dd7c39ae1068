"""A tiny dense Keras 3 model trained for three epochs; History gets energy and carbon
per epoch. Uses the torch backend unless KERAS_BACKEND says otherwise:

    python examples/integrations/keras_tiny_dense.py
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np

from carbonledger.integrations.keras import CarbonLedgerCallback


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2048, 16)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential(
        [keras.Input((16,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(
        x,
        y,
        epochs=3,
        validation_split=0.2,
        verbose=0,
        callbacks=[CarbonLedgerCallback(name="tiny-dense", zone="FR")],
    )
    h = history.history
    for epoch, (energy, epoch_energy, kg) in enumerate(
        zip(
            h["carbonledger/energy_kwh"],
            h["carbonledger/epoch_energy_kwh"],
            h["carbonledger/emissions_kg"],
            strict=True,
        )
    ):
        print(
            f"epoch {epoch}: loss {h['loss'][epoch]:.3f}, epoch {epoch_energy:.3e} kWh, "
            f"so far {energy:.3e} kWh and {kg:.3e} kgCO2e"
        )


if __name__ == "__main__":
    main()
