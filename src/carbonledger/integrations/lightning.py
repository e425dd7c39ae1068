"""PyTorch Lightning: energy and carbon per epoch through the module's loggers.

One line::

    trainer = L.Trainer(..., callbacks=[CarbonLedgerCallback()])

Spans: ``fit``, ``fit/epoch-N``, ``validation``, ``test`` and ``predict`` (nested where they
run inside another). At the end of each training epoch the run's energy and carbon so far
(``carbonledger/energy_kwh``, ``carbonledger/emissions_kg`` with ``…_low``/``…_high``
bounds) and the epoch's own (``carbonledger/epoch_…``) go to every logger
(``trainer.loggers``, at the step), and the two headline values also into
``trainer.callback_metrics`` (through ``pl_module.log``), for monitors such as
``ModelCheckpoint`` and ``EarlyStopping``. The callback's state is saved in
checkpoints: ``trainer.fit(..., ckpt_path=...)`` continues the same job (same run name and
``carbonledger.job`` tag, cumulative energy carried over). A ``stop`` budget sets
``trainer.should_stop``. Spans are recorded on every rank, energy measured on local
rank 0 (one measurer per node).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from carbonledger.integrations._common import PREFIX, JobTracking

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # pragma: no cover - the older package name
    try:
        from pytorch_lightning.callbacks import Callback  # type: ignore[assignment, unused-ignore]
    except ImportError as exc:
        raise ImportError(
            "carbonledger.integrations.lightning needs lightning: "
            "pip install 'carbonledger[lightning]'"
        ) from exc

if TYPE_CHECKING:
    from carbonledger.tracking import Run

__all__ = ["CarbonLedgerCallback"]

_SPANS = (("epoch", "epoch"), ("validation", "validation"))


class CarbonLedgerCallback(Callback):  # type: ignore[misc, unused-ignore]
    """Spans per fit, epoch, validation, test and predict; energy and carbon in the logs.

    ``run``: a run you already track (spans are added to it, it is never stopped);
    otherwise the callback tracks the job itself, with ``name`` and any option of
    :func:`carbonledger.track` (``zone="FR"``, ``budget=...``, ``sensors=...``).
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        name: str | None = None,
        prefix: str = PREFIX,
        **track_options: Any,
    ) -> None:
        self.job = JobTracking(
            run, name=name, framework="lightning", prefix=prefix, track_options=track_options
        )
        self._headline = (f"{prefix}energy_kwh", f"{prefix}emissions_kg")

    # -- checkpoints: a resumed fit continues the same job -----------------------------------
    def state_dict(self) -> dict[str, Any]:
        return self.job.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        # restored before the first hook that starts the tracker (on_train_start & co.)
        self.job.load_state_dict(state_dict)

    # -- fit and epochs ---------------------------------------------------------------------
    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.job.start(wait=False)
        self.job.begin("fit")

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self.job.begin("epoch", f"epoch-{int(trainer.current_epoch)}")

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self.job.end("epoch")
        values = self.job.values(*_SPANS)
        if not values:
            return
        # every value to every logger directly (pl_module.log costs milliseconds per key);
        # the two headline values also into callback_metrics, for monitors and checkpoints
        for lg in trainer.loggers:
            lg.log_metrics(values, step=trainer.global_step)
        _to_callback_metrics(
            trainer, pl_module, {k: values[k] for k in self._headline if k in values}
        )

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.job.should_stop():
            trainer.should_stop = True

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self.job.end("epoch")
        self.job.end("fit")

    # -- evaluation and prediction ----------------------------------------------------------
    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self.job.start(wait=False)
        self.job.begin("validation")

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self.job.end("validation")

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self.job.start(wait=False)
        self.job.begin("test")

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self.job.end("test")
        values = self.job.values(("test", "test"))
        for lg in trainer.loggers:
            lg.log_metrics(values, step=trainer.global_step)

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        self.job.start(wait=False)
        self.job.begin("predict")

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        self.job.end("predict")

    # -- end --------------------------------------------------------------------------------
    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self.job.stop()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        interrupted = isinstance(exception, (KeyboardInterrupt, SystemExit))
        self.job.stop("interrupted" if interrupted else "failed")


def _to_callback_metrics(trainer: Any, pl_module: Any, values: Mapping[str, float]) -> None:
    """``values`` into ``trainer.callback_metrics`` (as tensors, which monitors such as
    ``ModelCheckpoint`` and ``EarlyStopping`` read) without ``pl_module.log``'s cost of
    milliseconds per key; through ``pl_module.log`` where the dict is not writable."""
    metrics = getattr(trainer, "callback_metrics", None)
    if isinstance(metrics, dict):
        import torch

        metrics.update({key: torch.tensor(value) for key, value in values.items()})
        return
    for key, value in values.items():
        pl_module.log(key, value, on_step=False, on_epoch=True, logger=False)
