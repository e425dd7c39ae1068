"""A tiny MLP trained with Lightning for three epochs, then resumed for two more from its
checkpoint: the second fit continues the same carbonledger job. Offline, on the CPU:

    python examples/integrations/lightning_tiny_mlp.py
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import CSVLogger

from carbonledger.integrations.lightning import CarbonLedgerCallback


class TinyMLP(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
        )

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def loader() -> Any:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 16, generator=g)
    data = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
    return torch.utils.data.DataLoader(data, batch_size=32)


def fit(logs: Path, epochs: int, ckpt: str | None) -> pl.Trainer:
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=CSVLogger(str(logs), name="tiny-mlp"),
        callbacks=[CarbonLedgerCallback(name="tiny-mlp", zone="FR")],
        enable_progress_bar=False,
        enable_checkpointing=False,
    )
    trainer.fit(TinyMLP(), loader(), ckpt_path=ckpt)
    return trainer


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        first = fit(Path(tmp), 3, None)
        ckpt = str(Path(tmp) / "last.ckpt")
        first.save_checkpoint(ckpt)
        second = fit(Path(tmp), 5, ckpt)  # resumes at epoch 3: the same job
        for trainer in (first, second):
            with (Path(trainer.logger.log_dir) / "metrics.csv").open() as f:
                for row in csv.DictReader(f):
                    if row.get("carbonledger/energy_kwh"):
                        print(
                            f"epoch {row['epoch']}: job so far "
                            f"{float(row['carbonledger/energy_kwh']):.3e} kWh, this epoch "
                            f"{float(row['carbonledger/epoch_energy_kwh']):.3e} kWh"
                        )


if __name__ == "__main__":
    main()
