"""The Flower mod on a real ClientApp (Message API) and the per-round sum on a real
FedAvg strategy: two clients train a tiny linear model in NumPy for a round."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from tests.engines import require_module
from tests.integrations import fwkit

KEY = "carbonledger/energy_kwh"


@pytest.fixture(autouse=True)
def _needs_flwr() -> None:
    require_module("flwr")


def _client_app(mod: Any) -> Any:
    import numpy as np
    from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp

    app = ClientApp(mods=[mod])

    @app.train()  # type: ignore[untyped-decorator, unused-ignore]
    def train(msg: Message, context: Any) -> Message:
        weights = msg.content["arrays"].to_numpy_ndarrays()[0]
        time.sleep(0.02)  # the "training" the fake 50 W sensor pays for
        rng = np.random.default_rng(context.node_id)
        updated = weights + 0.1 * rng.normal(size=weights.shape)
        content = RecordDict(
            {
                "arrays": ArrayRecord([updated]),
                "metrics": MetricRecord({"num-examples": 10 * context.node_id, "loss": 0.5}),
            }
        )
        return Message(content=content, reply_to=msg)

    return app


def _round(app: Any, round_no: int, nodes: list[int]) -> list[Any]:
    import numpy as np
    from flwr.app import ArrayRecord, ConfigRecord, Context, Message, Metadata, RecordDict

    replies = []
    for node in nodes:
        content = RecordDict(
            {"arrays": ArrayRecord([np.zeros(4)]), "config": ConfigRecord({"lr": 0.1})}
        )
        # what the SuperLink delivers (a message built here would need a server runtime)
        metadata = Metadata(
            run_id=1,
            message_id=f"m{round_no}-{node}",
            src_node_id=0,
            dst_node_id=node,
            reply_to_message_id="",
            group_id=str(round_no),
            created_at=time.time(),
            ttl=3600.0,
            message_type="train",
        )
        msg = Message(content=content, metadata=metadata)
        ctx = Context(run_id=1, node_id=node, node_config={}, state=RecordDict(), run_config={})
        replies.append(app(msg, ctx))
    return replies


def test_mod_measures_each_call_and_server_sums_the_round(tmp_path: Path) -> None:
    from flwr.serverapp.strategy import FedAvg

    from carbonledger.integrations.flower import EnergyMod, aggregate_with_energy

    ledger = str(tmp_path / "ledger.sqlite")
    mod = EnergyMod(name="fl-client", **fwkit.track_options())
    app = _client_app(mod)
    replies = _round(app, 1, [1, 2])
    energies = [r.content["metrics"][KEY] for r in replies]
    assert all(e > 0 for e in energies)
    for reply in replies:
        metrics = reply.content["metrics"]
        assert metrics[f"{KEY}_low"] <= metrics[KEY] <= metrics[f"{KEY}_high"]
        assert metrics["carbonledger/overlapping"] == 0
        assert metrics["loss"] == 0.5  # the client's own metrics are kept

    strategy = FedAvg(
        train_metrics_aggr_fn=aggregate_with_energy(),
        evaluate_metrics_aggr_fn=aggregate_with_energy(),
    )
    arrays, metrics = strategy.aggregate_train(1, replies)
    assert arrays is not None and metrics is not None
    assert metrics[KEY] == pytest.approx(sum(energies))  # summed, not averaged
    assert metrics["loss"] == pytest.approx(0.5)  # the rest still weighted-averaged
    assert metrics["carbonledger/replies"] == 2

    mod.close()
    (record,) = fwkit.runs(ledger)
    paths = fwkit.span_paths(fwkit.footprint(ledger, record.run_id))
    assert paths == ["round-1/train/node-1", "round-1/train/node-2"]


def test_aggregation_leaves_unknown_energy_out() -> None:
    from flwr.app import MetricRecord, RecordDict

    from carbonledger.integrations.flower import aggregate_with_energy

    with_energy = RecordDict({"m": MetricRecord({"num-examples": 1, KEY: 2.0, "acc": 1.0})})
    without = RecordDict({"m": MetricRecord({"num-examples": 1, "acc": 0.0})})
    result = aggregate_with_energy()([with_energy, without], "num-examples")
    assert KEY not in result and result["acc"] == pytest.approx(0.5)
