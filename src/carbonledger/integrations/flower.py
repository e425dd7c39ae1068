"""Flower (Message API, flwr >= 1.21): the energy and carbon of each client call, summed
per round on the server.

Client side, one line::

    app = ClientApp(mods=[energy_mod])          # or @app.train(mods=[energy_mod])

The mod measures every ``train``/``evaluate``/``query`` call as a span
(``round-<r>/<train|evaluate>/node-<id>``) of one run per client process, and adds the
call's energy and carbon, with interval bounds, to the reply's ``MetricRecord``
(``carbonledger/energy_kwh``, ``carbonledger/emissions_kg``, ``…_low``, ``…_high``).

Server side: the default aggregation weights metrics by examples, which is wrong for
costs; :func:`aggregate_with_energy` sums carbonledger's keys over the round's replies
(the round's measured total) and leaves the rest to the usual aggregation::

    strategy = FedAvg(
        train_metrics_aggr_fn=aggregate_with_energy(),
        evaluate_metrics_aggr_fn=aggregate_with_energy(),
    )

Clients simulated in one process share its machine: calls that overlap in time then each
include the others' energy; replies say so (``carbonledger/overlapping`` = 1) and the
sum overstates the round. Energy is measured on local rank 0 of a node only.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from typing import Any

from carbonledger.integrations._common import PREFIX, JobTracking

try:
    from flwr.app import Context, Message, MetricRecord, RecordDict
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "carbonledger.integrations.flower needs flwr >= 1.21: pip install 'carbonledger[flower]'"
    ) from exc

__all__ = ["EnergyMod", "aggregate_with_energy", "energy_mod", "is_energy_key"]

log = logging.getLogger(__name__)

ClientAppCallable = Callable[[Message, Context], Message]
AggregationFn = Callable[[list[RecordDict], str], MetricRecord]


class EnergyMod:
    """A Flower client mod that measures each call; :data:`energy_mod` is the default one.

    ``run``: a run you already track; otherwise the mod starts one run for this process
    on the first call (``name``, default ``flower-client``, and any option of
    :func:`carbonledger.track`) and stops it when the process exits (or on :meth:`close`).
    """

    def __init__(
        self,
        run: Any = None,
        *,
        name: str | None = None,
        prefix: str = PREFIX,
        **track_options: Any,
    ) -> None:
        self.job = JobTracking(
            run,
            name=name or "flower-client",
            framework="flower",
            prefix=prefix,
            track_options=track_options,
        )
        self.prefix = prefix
        self._lock = threading.Lock()
        self._active = 0
        self._started = False

    def __call__(self, msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
        self._ensure_started()
        kind = str(msg.metadata.message_type).split(".")[0]
        span = f"round-{msg.metadata.group_id or '?'}/{kind}/node-{ctxt.node_id}"
        key = f"{span}#{id(msg)}"
        with self._lock:
            self._active += 1
            overlapping = self._active > 1
        self.job.begin(key, span)
        try:
            reply = call_next(msg, ctxt)
        finally:
            self.job.end(key)
            with self._lock:
                overlapping = overlapping or self._active > 1
                self._active -= 1
        try:
            self._annotate(reply, key, overlapping)
        except Exception as exc:  # never break the client for a measurement
            log.warning("carbonledger: could not add energy to the reply (%r)", exc)
        return reply

    def close(self) -> None:
        """Stop the run the mod started (also done when the process exits)."""
        self.job.stop()

    def _ensure_started(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        self.job.start()
        atexit.register(self.close)  # before the tracker's own exit hook: status completed

    def _annotate(self, reply: Message, key: str, overlapping: bool) -> None:
        if reply.has_error():
            return
        values = {
            self.prefix + k[len(self.prefix) + len("call_") :]: v
            for k, v in self.job.values((key, "call")).items()
            if k.startswith(self.prefix + "call_")
        }
        if not values:
            return
        records = reply.content.metric_records
        target = next(iter(records.values()), None)
        if target is None:
            target = records["carbonledger"] = MetricRecord()
        for name, value in values.items():
            target[name] = float(value)
        target[self.prefix + "overlapping"] = 1 if overlapping else 0


#: The default mod: ``ClientApp(mods=[energy_mod])``.
energy_mod = EnergyMod()


def is_energy_key(key: str, prefix: str = PREFIX) -> bool:
    return key.startswith(prefix)


def aggregate_with_energy(
    inner: AggregationFn | None = None, *, prefix: str = PREFIX
) -> AggregationFn:
    """A strategy's metrics aggregation that sums carbonledger's keys over the replies
    (the round's energy and carbon) and passes the other metrics to ``inner`` (default
    Flower's weighted average). A key some reply lacks is left out: unknown, not zero."""
    if inner is None:
        from flwr.serverapp.strategy.strategy_utils import aggregate_metricrecords

        inner = aggregate_metricrecords

    def aggregate(records: list[RecordDict], weighting_metric_name: str) -> MetricRecord:
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        stripped: list[RecordDict] = []
        for record in records:
            copy = RecordDict()
            for name, item in record.items():
                if isinstance(item, MetricRecord):
                    kept = MetricRecord()
                    for key, value in item.items():
                        if is_energy_key(key, prefix) and isinstance(value, (int, float)):
                            sums[key] = sums.get(key, 0.0) + float(value)
                            counts[key] = counts.get(key, 0) + 1
                        else:
                            kept[key] = value
                    copy[name] = kept
                else:
                    copy[name] = item
            stripped.append(copy)
        result = inner(stripped, weighting_metric_name) if stripped else MetricRecord()
        for key, total in sums.items():
            if counts[key] == len(records):
                result[key] = total
        if records:
            result[f"{prefix}replies"] = len(records)
        return result

    return aggregate
