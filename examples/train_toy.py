"""A toy 'training' job: a few seconds of CPU work in epochs, tracked with spans.

Run it wrapped:   carbonledger run --name toy -- python examples/train_toy.py
or on its own:    python examples/train_toy.py    (it tracks itself through the API)
"""

from __future__ import annotations

import math
import os

import carbonledger as cl


def epoch(n: int = 2_000_000) -> float:
    total = 0.0
    for i in range(1, n):
        total += math.sin(i) * math.sqrt(i)
    return total


def main() -> None:
    # When wrapped by `carbonledger run`, the wrapper measures the whole process tree;
    # run on its own, the script records itself, with one span per epoch.
    if os.environ.get("CARBONLEDGER_RUN_ID"):
        for _ in range(3):
            epoch()
        return
    with cl.track("toy-training", phase="training") as run:
        for k in range(3):
            with run.span(f"epoch-{k + 1}"):
                epoch()
        run.log(accuracy=0.5 + 0.1 * k)
    print(run.footprint().to_dict()["total_kgco2e"], "kgCO2e")


if __name__ == "__main__":
    main()
