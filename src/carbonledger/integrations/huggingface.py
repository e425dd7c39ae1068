"""Hugging Face transformers: energy and carbon in every ``Trainer`` log.

One line::

    trainer = Trainer(..., callbacks=[CarbonLedgerCallback()])
    # or, for a trainer already built:
    carbonledger.integrations.huggingface.enable(trainer)

The callback records spans ``train``, ``train/epoch-N`` and ``evaluation`` (evaluation and
prediction loops, nested where they run; a lone ``evaluate()``/``predict()`` is a run); in
``on_log`` it adds the run's energy and carbon so far, with interval bounds, to the
``logs`` dict (``carbonledger/energy_kwh``, ``carbonledger/emissions_kg``, ``…_low``,
``…_high``, and ``carbonledger/epoch_…`` for the last epoch), so ``trainer.state.log_history``
and every ``report_to`` backend receive them. It places itself first among the callbacks
so the backends see the values. A ``stop`` budget sets ``control.should_training_stop``.
Spans are recorded on every rank, energy measured on local rank 0 (one measurer per node).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from carbonledger.integrations._common import PREFIX, JobTracking

try:
    from transformers import TrainerCallback
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "carbonledger.integrations.huggingface needs transformers: "
        "pip install 'carbonledger[huggingface]'"
    ) from exc

if TYPE_CHECKING:
    from carbonledger.tracking import Run

__all__ = ["CarbonLedgerCallback", "enable"]


class CarbonLedgerCallback(TrainerCallback):  # type: ignore[misc, unused-ignore]
    """Spans per train, epoch, evaluate and predict; energy and carbon in every log.

    ``run``: a run you already track (the callback adds spans and never stops it);
    otherwise the callback tracks the training itself, with ``name`` and any option of
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
            run, name=name, framework="huggingface", prefix=prefix, track_options=track_options
        )
        self._epoch = 0
        self._placed = False

    # -- placement: first, so report_to backends see what on_log adds -----------------------
    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self._placed:
            handler = _calling_handler()
            if handler is not None:
                _move_first(handler, self)

    # -- spans ----------------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.job.start(wait=False)
        self.job.begin("train")

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.job.begin("epoch", f"epoch-{self._epoch}")
        self._epoch += 1

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.job.end("epoch")

    def on_prediction_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # evaluation and prediction have no "begin" hook: the first batch opens the span
        if not self.job.is_open("eval"):
            if not self.job.started:
                self.job.start(wait=False)  # trainer.evaluate()/predict() without train()
            self.job.begin("eval", "evaluation")

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._loop_ended()

    def on_predict(
        self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any
    ) -> None:
        self._loop_ended()

    def _loop_ended(self) -> None:
        self.job.end("eval")
        if not self.job.is_open("train"):  # a lone evaluate()/predict(): its run ends here
            self.job.stop()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.job.end("epoch")
        self.job.end("train")
        self.job.stop()

    # -- values and stops -------------------------------------------------------------------
    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if logs is None:
            return
        # Trainer.evaluate logs its metrics before calling on_evaluate: the loop is over
        self.job.end("eval")
        values = self.job.values(("epoch", "epoch"), ("eval", "evaluation"))
        if not values:
            return
        logs.update(values)
        history = getattr(state, "log_history", None)
        # Trainer.log appends a copy of logs to log_history before calling on_log
        if (
            history
            and isinstance(history[-1], dict)
            and set(logs) - set(values) <= set(history[-1])
        ):
            history[-1].update(values)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.job.should_stop():
            control.should_training_stop = True


def enable(trainer: Any, callback: CarbonLedgerCallback | None = None) -> CarbonLedgerCallback:
    """Add a :class:`CarbonLedgerCallback` (or ``callback``) to a built ``Trainer``, first
    in its callback list; returns it."""
    cb = callback or CarbonLedgerCallback()
    cb._placed = True
    trainer.callback_handler.callbacks.insert(0, cb)
    return cb


def _calling_handler() -> Any:
    """The transformers ``CallbackHandler`` calling this hook (``None`` if not found)."""
    frame = sys._getframe(1)
    for _ in range(8):
        if frame is None:
            return None
        candidate = frame.f_locals.get("self")
        if type(candidate).__name__ == "CallbackHandler" and isinstance(
            getattr(candidate, "callbacks", None), list
        ):
            return candidate
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _move_first(handler: Any, callback: CarbonLedgerCallback) -> None:
    callbacks: list[Any] = handler.callbacks
    if callback in callbacks and callbacks[0] is not callback:
        # the handler is iterating over this list: moving an item only shifts later ones,
        # and on_init_end is made idempotent by _placed
        callbacks.remove(callback)
        callbacks.insert(0, callback)
    callback._placed = True
