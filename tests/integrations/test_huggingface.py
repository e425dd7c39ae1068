"""The transformers callback on a real Trainer: a tiny BERT built from a config (no
download) trains for a few steps on random tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.engines import require_module
from tests.integrations import fwkit

import carbonledger as cl
from carbonledger.schedule.budget import Budget

KEYS = ("carbonledger/energy_kwh", "carbonledger/emissions_kg")


@pytest.fixture(autouse=True)
def _needs_transformers() -> None:
    require_module("torch", "transformers", "accelerate")


def _dataset(n: int = 16) -> list[dict[str, Any]]:
    import torch

    g = torch.Generator().manual_seed(0)
    return [
        {
            "input_ids": torch.randint(0, 50, (8,), generator=g),
            "attention_mask": torch.ones(8, dtype=torch.long),
            "labels": torch.tensor(i % 2),
        }
        for i in range(n)
    ]


def _trainer(tmp_path: Path, callbacks: list[Any], **args: Any) -> Any:
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    options: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "num_train_epochs": 2,
        "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 8,
        "logging_steps": 2,
        "eval_strategy": "epoch",
        "save_strategy": "no",
        "report_to": [],
        "use_cpu": True,
        "disable_tqdm": True,
        **args,
    }
    return Trainer(
        model=BertForSequenceClassification(config),
        args=TrainingArguments(**options),
        train_dataset=_dataset(),
        eval_dataset=_dataset(8),
        callbacks=callbacks,
    )


class Backend:
    """Stands for a report_to backend: records what on_log hands it."""

    def __init__(self) -> None:
        from transformers import TrainerCallback

        self.logged: list[dict[str, Any]] = []
        outer = self

        class _Cb(TrainerCallback):  # type: ignore[misc]
            def on_log(
                self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any
            ) -> None:
                outer.logged.append(dict(logs or {}))

        self.callback = _Cb()


def test_logs_spans_and_ledger(tmp_path: Path) -> None:
    from carbonledger.integrations.huggingface import CarbonLedgerCallback

    ledger = str(tmp_path / "ledger.sqlite")
    backend = Backend()
    callback = CarbonLedgerCallback(name="tiny-bert", **fwkit.track_options())
    # the backend comes first in the list: the callback still runs before it
    trainer = _trainer(tmp_path, [backend.callback, callback])
    trainer.train()

    history = trainer.state.log_history
    train_logs = [h for h in history if "loss" in h]
    assert train_logs and all(k in h for h in train_logs for k in KEYS)
    assert all(
        h["carbonledger/energy_kwh_low"]
        <= h["carbonledger/energy_kwh"]
        <= h["carbonledger/energy_kwh_high"]
        for h in train_logs
    )
    energies = [h["carbonledger/energy_kwh"] for h in history if KEYS[0] in h]
    assert energies == sorted(energies) and energies[0] > 0  # cumulative
    eval_logs = [h for h in history if "eval_loss" in h]
    assert eval_logs and all("carbonledger/evaluation_energy_kwh" in h for h in eval_logs)
    assert all("carbonledger/epoch_energy_kwh" in h for h in eval_logs)  # epoch ended just before
    assert backend.logged and all(KEYS[0] in logs for logs in backend.logged)

    (record,) = fwkit.runs(ledger)
    assert record.name == "tiny-bert" and record.status.value == "completed"
    assert record.tags["carbonledger.framework"] == "huggingface"
    fp = fwkit.footprint(ledger, record.run_id)
    paths = fwkit.span_paths(fp)
    assert "train" in paths and "train/epoch-0" in paths and "train/epoch-1" in paths
    assert "train/evaluation" in paths
    assert fp.energy_j is not None and energies[-1] * 3.6e6 <= fp.energy_j

    metrics = trainer.evaluate()  # a lone evaluation: the next segment of the job, stopped
    assert metrics["carbonledger/evaluation_energy_kwh"] > 0
    second = max(fwkit.runs(ledger), key=lambda r: r.started_at)
    assert second.status.value == "completed" and second.tags["carbonledger.segment"] == "1"
    assert fwkit.span_paths(fwkit.footprint(ledger, second.run_id)) == ["evaluation"]


def test_enable_and_given_run(tmp_path: Path) -> None:
    from carbonledger.integrations import huggingface

    ledger = str(tmp_path / "ledger.sqlite")
    with cl.track("outer", **fwkit.track_options()) as run:
        trainer = _trainer(tmp_path, [], eval_strategy="no", num_train_epochs=1)
        callback = huggingface.enable(trainer, huggingface.CarbonLedgerCallback(run))
        assert trainer.callback_handler.callbacks[0] is callback
        trainer.train()
        assert run.footprint().status == "running"  # the callback leaves a given run alone
    (record,) = fwkit.runs(ledger)
    assert "train/epoch-0" in fwkit.span_paths(fwkit.footprint(ledger, record.run_id))


def test_budget_stops_training(tmp_path: Path) -> None:
    from carbonledger.integrations.huggingface import CarbonLedgerCallback

    budget = Budget(kwh=1e-9, on_exceed="stop")
    callback = CarbonLedgerCallback(name="budgeted", budget=budget, **fwkit.track_options())
    trainer = _trainer(tmp_path, [callback], eval_strategy="no", max_steps=50, logging_steps=1)
    trainer.train()
    assert trainer.state.global_step < 50


def test_other_ranks_record_spans_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from carbonledger.integrations.huggingface import CarbonLedgerCallback

    ledger = str(tmp_path / "ledger.sqlite")
    callback = CarbonLedgerCallback(name="rank3", **fwkit.track_options())
    trainer = _trainer(tmp_path, [callback], eval_strategy="no", num_train_epochs=1)
    # as torchrun sets them for the second process of a node; set after the Trainer is
    # built so that accelerate does not try to join a process group here
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("RANK", "3")
    trainer.train()
    assert not any(KEYS[0] in h for h in trainer.state.log_history)
    (record,) = fwkit.runs(ledger)
    assert record.tags["carbonledger.rank"] == "3"
    assert record.tags["carbonledger.measured_by"] == "local rank 0"
    fp = fwkit.footprint(ledger, record.run_id)
    assert "train/epoch-0" in fwkit.span_paths(fp) and fp.energy_j is None
