"""Keras 3: energy and carbon in every epoch's ``logs``.

One line::

    model.fit(x, y, epochs=5, callbacks=[CarbonLedgerCallback()])

Spans: ``fit``, ``fit/epoch-N``, ``evaluation`` (validation inside an epoch, or
``model.evaluate``) and ``predict``. At the end of each epoch the run's energy and carbon
so far (``carbonledger/energy_kwh``, ``carbonledger/emissions_kg``, with ``…_low``/``…_high``
bounds) and the epoch's own (``carbonledger/epoch_…``) are added to ``logs``, so
``History`` (``model.fit(...).history``), ``CSVLogger``, TensorBoard and every later
callback see them (``model.evaluate`` copies its logs before callbacks see them: a lone
evaluation's energy is in the ledger, as a span). A
``stop`` budget sets ``model.stop_training``. Works with every Keras backend. Spans are
recorded on every rank, energy measured on local rank 0 (one measurer per node).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from carbonledger.integrations._common import PREFIX, JobTracking

try:
    from keras.callbacks import Callback
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "carbonledger.integrations.keras needs Keras 3: pip install 'carbonledger[keras]'"
    ) from exc

if TYPE_CHECKING:
    from carbonledger.tracking import Run

__all__ = ["CarbonLedgerCallback"]


class CarbonLedgerCallback(Callback):  # type: ignore[misc, unused-ignore]
    """Spans per fit, epoch, evaluation and prediction; energy and carbon in epoch logs.

    ``run``: a run you already track (spans are added to it, it is never stopped);
    otherwise the callback tracks each ``fit`` (or lone ``evaluate``/``predict``) itself,
    with ``name`` and any option of :func:`carbonledger.track`.
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        name: str | None = None,
        prefix: str = PREFIX,
        **track_options: Any,
    ) -> None:
        super().__init__()
        self.job = JobTracking(
            run, name=name, framework="keras", prefix=prefix, track_options=track_options
        )
        self._fitting = False

    # -- fit and epochs ---------------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._fitting = True
        self.job.start(wait=False)
        self.job.begin("fit")

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.job.begin("epoch", f"epoch-{epoch}")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.job.end("epoch")
        if logs is not None:
            logs.update(self.job.values(("epoch", "epoch"), ("evaluation", "evaluation")))

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.job.should_stop() and self.model is not None:
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._fitting = False
        self.job.end("epoch")
        self.job.end("fit")
        self.job.stop()

    # -- evaluation and prediction ----------------------------------------------------------
    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.job.start(wait=False)
        self.job.begin("evaluation")

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        self.job.end("evaluation")
        if not self._fitting:  # a lone model.evaluate
            self.job.stop()

    def on_predict_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.job.start(wait=False)
        self.job.begin("predict")

    def on_predict_end(self, logs: dict[str, Any] | None = None) -> None:
        self.job.end("predict")
        if not self._fitting:
            self.job.stop()
