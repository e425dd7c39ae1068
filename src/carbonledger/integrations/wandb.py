"""Weights & Biases: a run's energy, carbon and intervals into ``wandb.log`` (one step per
top-level span) and the run summary, methods and sources as summary text, the HTML report
as a logged page.

* one line after a run: ``log_footprint(fp)`` (into ``wandb.run``, or a new run);
* as a sink: ``cl.track("train", sinks=[WandbSink()])`` logs into the W&B run active
  when the carbonledger run starts, or starts one named after it (and finishes it).

Span steps use their own x-axis (``carbonledger/span``, declared with
``define_metric``), so they never fight the training loop's ``step``. The summary holds
``carbonledger/energy_j``, ``carbonledger/emissions_g`` (with ``_low``/``_high``), ...
``wandb`` is imported only when used: ``pip install 'carbonledger[wandb]'``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.events import BaseSink, RunEnded, RunStarted
from carbonledger.integrations._experiment import (
    DEFAULT_PREFIX,
    footprint_metrics,
    footprint_tags,
    span_steps,
)
from carbonledger.lifecycle.footprint import Footprint
from carbonledger.records import RunRecord

__all__ = ["WandbSink", "log_footprint"]

log = logging.getLogger(__name__)

_EXIT = {"completed": 0, "failed": 1, "interrupted": 130}


def _wandb() -> Any:
    try:
        return importlib.import_module("wandb")
    except ImportError:
        raise ConfigError(
            "the Weights & Biases integration needs wandb: pip install 'carbonledger[wandb]'"
        ) from None


def log_footprint(
    fp: Footprint,
    *,
    run: Any = None,
    prefix: str = DEFAULT_PREFIX,
    report: bool = True,
    record: RunRecord | None = None,
) -> Any:
    """Log ``fp`` into W&B run ``run`` (default: ``wandb.run``, else a new run named after
    the footprint, finished afterwards). Returns the W&B run."""
    wandb = _wandb()
    started_here = False
    if run is None:
        run = wandb.run
        if run is None:
            run = wandb.init(name=fp.name)
            started_here = True
    try:
        _log(wandb, run, fp, prefix=prefix, report=report, record=record)
    finally:
        if started_here:
            run.finish(exit_code=_EXIT.get(fp.status, 0))
    return run


def _log(
    wandb: Any, run: Any, fp: Footprint, *, prefix: str, report: bool, record: RunRecord | None
) -> None:
    axis = f"{prefix}/span"
    steps = span_steps(fp, prefix)
    if steps:
        run.define_metric(axis)
        run.define_metric(f"{prefix}/span_*", step_metric=axis)
        for step in steps:
            run.log({axis: step.step, **step.metrics}, commit=True)
    summary: dict[str, Any] = dict(footprint_metrics(fp, prefix))
    summary.update(footprint_tags(fp, prefix))
    summary[f"{prefix}/spans"] = len(steps)
    run.summary.update(summary)
    if report:
        try:
            from carbonledger.report.base import ReportInput, render

            html = render("html", ReportInput([fp], runs=[record] if record is not None else []))
            run.log({f"{prefix}/report": wandb.Html(html, inject=False)}, commit=True)
        except Exception as exc:  # the figures matter more than the page
            log.warning("no HTML report for W&B: %s", exc)


class WandbSink(BaseSink):
    """Logs each run's footprint into W&B when the run ends (see the module doc)."""

    name = "wandb"

    def __init__(
        self, run: Any = None, *, prefix: str = DEFAULT_PREFIX, report: bool = True
    ) -> None:
        self._wandb = _wandb()
        self._run = run
        self._prefix = prefix
        self._report = report
        self._targets: dict[str, tuple[Any, bool]] = {}
        self._records: dict[str, RunRecord] = {}

    def on_start(self, event: RunStarted) -> None:
        target, ours = self._run, False
        if target is None:
            target = self._wandb.run
            if target is None:
                target = self._wandb.init(name=event.record.name)
                ours = True
        self._targets[event.run_id] = (target, ours)
        self._records[event.run_id] = event.record

    def on_end(self, event: RunEnded) -> None:
        target = self._targets.pop(event.run_id, None)
        record = self._records.pop(event.run_id, None)
        if target is None:
            return
        run, ours = target
        try:
            if event.footprint is not None:
                _log(
                    self._wandb,
                    run,
                    event.footprint,
                    prefix=self._prefix,
                    report=self._report,
                    record=record,
                )
            else:
                run.summary.update(
                    {
                        f"{self._prefix}.warnings": " | ".join(event.warnings)
                        or "the run could not be priced"
                    }
                )
        finally:
            if ours:
                run.finish(exit_code=_EXIT.get(str(event.status), 0))
