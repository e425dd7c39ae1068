"""The Lightning callback on a real Trainer: a tiny MLP trains for a few epochs on random
data, with a CSVLogger in a temporary folder, and resumes from a checkpoint."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from tests.engines import require_module
from tests.integrations import fwkit

from carbonledger.schedule.budget import Budget

KEY = "carbonledger/energy_kwh"


@pytest.fixture(autouse=True)
def _needs_lightning() -> None:
    require_module("torch", "lightning")


def _module() -> Any:
    import lightning.pytorch as pl
    import torch

    class Tiny(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(8, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    return Tiny()


def _loader() -> Any:
    import torch

    g = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(32, 8, generator=g), torch.randn(32, 1))
    return torch.utils.data.DataLoader(data, batch_size=8)


def _trainer(tmp_path: Path, callback: Any, max_epochs: int, **options: Any) -> Any:
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import CSVLogger

    return pl.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        devices=1,
        logger=CSVLogger(str(tmp_path / "logs"), name="tiny"),
        callbacks=[callback],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        **options,
    )


def _csv_rows(trainer: Any) -> list[dict[str, str]]:
    path = Path(trainer.logger.log_dir) / "metrics.csv"
    with path.open() as f:
        return list(csv.DictReader(f))


def test_logger_metrics_and_spans(tmp_path: Path) -> None:
    from carbonledger.integrations.lightning import CarbonLedgerCallback

    ledger = str(tmp_path / "ledger.sqlite")
    callback = CarbonLedgerCallback(name="tiny-mlp", **fwkit.track_options())
    trainer = _trainer(tmp_path, callback, max_epochs=2)
    trainer.fit(_module(), _loader(), _loader())

    rows = [r for r in _csv_rows(trainer) if r.get(KEY)]
    assert len(rows) == 2  # one per epoch
    energies = [float(r[KEY]) for r in rows]
    assert 0 < energies[0] < energies[1]
    assert all(float(r["carbonledger/epoch_energy_kwh"]) > 0 for r in rows)
    assert all(
        float(r["carbonledger/emissions_kg_low"]) <= float(r["carbonledger/emissions_kg"])
        for r in rows
    )
    assert KEY in trainer.callback_metrics

    (record,) = fwkit.runs(ledger)
    assert record.name == "tiny-mlp" and record.status.value == "completed"
    paths = fwkit.span_paths(fwkit.footprint(ledger, record.run_id))
    assert {"fit", "fit/epoch-0", "fit/epoch-1"} <= set(paths)
    assert any(p.endswith("validation") for p in paths)


def test_resumed_fit_continues_the_job(tmp_path: Path) -> None:
    from carbonledger.integrations.lightning import CarbonLedgerCallback

    ledger = str(tmp_path / "ledger.sqlite")
    first = _trainer(tmp_path, CarbonLedgerCallback(name="job", **fwkit.track_options()), 2)
    first.fit(_module(), _loader())
    ckpt = tmp_path / "last.ckpt"
    first.save_checkpoint(str(ckpt))
    carried_kwh = max(float(r[KEY]) for r in _csv_rows(first) if r.get(KEY))

    # a new process would build a new callback, with no name: the checkpoint gives it
    second = _trainer(tmp_path, CarbonLedgerCallback(**fwkit.track_options()), 4)
    second.fit(_module(), _loader(), ckpt_path=str(ckpt))
    resumed = [float(r[KEY]) for r in _csv_rows(second) if r.get(KEY)]
    assert len(resumed) == 2 and min(resumed) > carried_kwh  # cumulative over the job

    one, two = sorted(fwkit.runs(ledger), key=lambda r: r.started_at)
    assert one.name == two.name == "job"
    assert one.tags["carbonledger.job"] == two.tags["carbonledger.job"]
    assert (one.tags["carbonledger.segment"], two.tags["carbonledger.segment"]) == ("0", "1")
    assert "fit/epoch-2" in fwkit.span_paths(fwkit.footprint(ledger, two.run_id))


def test_budget_stops_the_fit(tmp_path: Path) -> None:
    from carbonledger.integrations.lightning import CarbonLedgerCallback

    callback = CarbonLedgerCallback(
        budget=Budget(kwh=1e-9, on_exceed="stop"), **fwkit.track_options()
    )
    trainer = _trainer(tmp_path, callback, max_epochs=50)
    trainer.fit(_module(), _loader())
    assert trainer.current_epoch < 50


def test_monitors_read_the_headline_values(tmp_path: Path) -> None:
    # ModelCheckpoint and EarlyStopping read trainer.callback_metrics (tensors)
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from carbonledger.integrations.lightning import CarbonLedgerCallback

    checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), monitor=KEY, mode="min")
    stopping = EarlyStopping(monitor=KEY, mode="min", patience=0, check_on_train_epoch_end=True)
    trainer = pl.Trainer(
        max_epochs=3,
        accelerator="cpu",
        devices=1,
        logger=False,
        callbacks=[CarbonLedgerCallback(**fwkit.track_options()), checkpoint, stopping],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(_module(), _loader())
    # the energy so far only grows: the first epoch is the best, the second stops the fit
    assert checkpoint.best_model_score is not None and float(checkpoint.best_model_score) > 0
    assert trainer.current_epoch == 2 and stopping.stopped_epoch == 1
