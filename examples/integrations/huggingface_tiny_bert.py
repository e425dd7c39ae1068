"""A tiny BERT (built from a config: nothing is downloaded) trained for two epochs on
random tokens, with carbonledger's Trainer callback. Run offline, on the CPU:

    python examples/integrations/huggingface_tiny_bert.py
"""

from __future__ import annotations

import tempfile

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

from carbonledger.integrations.huggingface import CarbonLedgerCallback


def dataset(n: int) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        {
            "input_ids": torch.randint(0, 100, (16,), generator=g),
            "attention_mask": torch.ones(16, dtype=torch.long),
            "labels": torch.tensor(i % 2),
        }
        for i in range(n)
    ]


def main() -> None:
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
        num_labels=2,
    )
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            num_train_epochs=2,
            per_device_train_batch_size=8,
            logging_steps=4,
            eval_strategy="epoch",
            save_strategy="no",
            report_to=[],
            use_cpu=True,
        )
        trainer = Trainer(
            model=BertForSequenceClassification(config),
            args=args,
            train_dataset=dataset(64),
            eval_dataset=dataset(16),
            callbacks=[CarbonLedgerCallback(name="tiny-bert", zone="FR")],
        )
        trainer.train()
    for entry in trainer.state.log_history:
        if "carbonledger/energy_kwh" in entry:
            print(
                f"step {entry['step']:>3}: {entry['carbonledger/energy_kwh']:.3e} kWh "
                f"[{entry['carbonledger/energy_kwh_low']:.3e}, "
                f"{entry['carbonledger/energy_kwh_high']:.3e}], "
                f"{entry['carbonledger/emissions_kg']:.3e} kgCO2e so far"
            )
    print("see the run: carbonledger runs; carbonledger report tiny-bert")


if __name__ == "__main__":
    main()
