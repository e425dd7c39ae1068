"""Energy and carbon of a toy training job in Weights & Biases: one step per epoch on the
``carbonledger/span`` axis, the totals and their intervals in the run summary, methods and
sources as summary text, the HTML report as a logged page.

    pip install 'carbonledger[wandb]'
    WANDB_MODE=offline python examples/wandb_tracking.py   # or log in and run it online
"""

from __future__ import annotations

import math

import wandb

import carbonledger as cl
from carbonledger.integrations.wandb import WandbSink


def epoch(n: int = 300_000) -> float:
    return sum(math.sin(i) * math.sqrt(i) for i in range(1, n))


def main() -> None:
    run = wandb.init(project="carbonledger-example", name="toy-training")
    with cl.track("toy-training", phase="training", sinks=[WandbSink()]) as tracked:
        for k in range(3):
            with tracked.span(f"epoch-{k + 1}"):
                epoch()
            run.log({"loss": 1.0 / (k + 1)})
    run.finish()
    # after the fact, the same in one line: carbonledger.integrations.wandb.log_footprint(fp)


if __name__ == "__main__":
    main()
