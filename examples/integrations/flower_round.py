"""One federated round of two Flower clients (Message API, called in this process, no
network), measured by carbonledger's client mod and summed per round on the server, then
compared with cl.fl.estimate for the same round. Offline:

    python examples/integrations/flower_round.py
"""

from __future__ import annotations

import time

import numpy as np
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    Metadata,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.serverapp.strategy import FedAvg

import carbonledger as cl
from carbonledger.integrations.flower import EnergyMod, aggregate_with_energy

mod = EnergyMod(name="flower-example", zone="FR")
app = ClientApp(mods=[mod])
rng = np.random.default_rng(0)
X = rng.normal(size=(20_000, 50))
Y = X @ rng.normal(size=50)


@app.train()
def train(msg: Message, context: Context) -> Message:
    w = msg.content["arrays"].to_numpy_ndarrays()[0]
    part = slice(context.node_id * 10_000 - 10_000, context.node_id * 10_000)
    for _ in range(200):  # local epochs of least squares
        w = w - 0.01 * X[part].T @ (X[part] @ w - Y[part]) / 10_000
    reply = RecordDict(
        {"arrays": ArrayRecord([w]), "metrics": MetricRecord({"num-examples": 10_000})}
    )
    return Message(content=reply, reply_to=msg)


def instruction(node: int) -> Message:
    """What the SuperLink would deliver to ``node`` for round 1."""
    content = RecordDict({"arrays": ArrayRecord([np.zeros(50)]), "config": ConfigRecord({})})
    meta = Metadata(1, f"m{node}", 0, node, "", "1", time.time(), 3600.0, "train")
    return Message(content=content, metadata=meta)


def main() -> None:
    replies = []
    for node in (1, 2):
        ctx = Context(run_id=1, node_id=node, node_config={}, state=RecordDict(), run_config={})
        started = time.perf_counter()
        replies.append(app(instruction(node), ctx))
        seconds = time.perf_counter() - started
    mod.close()
    strategy = FedAvg(train_metrics_aggr_fn=aggregate_with_energy())
    _, metrics = strategy.aggregate_train(1, replies)
    assert metrics is not None
    measured_kwh = metrics.get("carbonledger/energy_kwh")
    print(f"measured round 1 (two clients' train calls): {measured_kwh} kWh")

    # the same round, modelled: each client computing for as long as it did here, at a
    # 15 W device power, plus sending a 0.4 MB model both ways at 10/50 Mbit/s
    clients = [
        cl.fl.Client(
            f"node-{n}", upload_mbps=10, download_mbps=50, compute_s_per_round=seconds, zone="FR"
        )
        for n in (1, 2)
    ]
    est = cl.fl.estimate(clients, rounds=1, model_size_mb=0.4, device_power_w=15.0)
    compute_kwh = sum(c.compute_j for c in est.clients) / 3.6e6
    comms_kwh = sum(c.communication_j for c in est.clients) / 3.6e6
    print(f"estimated round 1: compute {compute_kwh:.3e} kWh + communication {comms_kwh:.3e} kWh")
    print("the mod measures the compute part only: transfers happen outside the call")


if __name__ == "__main__":
    main()
