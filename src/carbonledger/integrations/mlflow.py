"""MLflow: a run's energy, carbon and intervals as metrics, methods and sources as tags,
the footprint JSON and the HTML report as artifacts.

* one line after a run: ``log_footprint(fp)`` (into the active MLflow run, or a new one);
* as a sink: ``cl.track("train", sinks=[MlflowSink()])`` logs into the MLflow run active
  when the carbonledger run starts, or starts one named after it (and ends it).

Metrics are ``carbonledger/energy_j``, ``carbonledger/emissions_g`` (with ``_low`` and
``_high``), ``carbonledger/operational_g``, ``carbonledger/embodied_g``, energy per
component, ...; spans are step-wise, one step per top-level span
(``carbonledger/span_energy_j``, ``carbonledger/span_emissions_g``). ``mlflow`` (or
``mlflow-skinny``) is imported only when used: ``pip install 'carbonledger[mlflow]'``.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import tempfile
import time
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

__all__ = ["MlflowSink", "log_footprint"]

log = logging.getLogger(__name__)

_STATUS = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


def _mlflow() -> Any:
    try:
        return importlib.import_module("mlflow")
    except ImportError:
        raise ConfigError(
            "the MLflow integration needs mlflow: pip install 'carbonledger[mlflow]'"
        ) from None


def _ms(unix_s: float | None) -> int:
    return int((unix_s if unix_s is not None else time.time()) * 1000)


def log_footprint(
    fp: Footprint,
    *,
    run_id: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    report: bool = True,
    record: RunRecord | None = None,
) -> str:
    """Log ``fp`` into MLflow run ``run_id`` (default: the active run, else a new run named
    after the footprint, ended afterwards). Returns the MLflow run id."""
    mlflow = _mlflow()
    started_here = False
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            active = mlflow.start_run(run_name=fp.name)
            started_here = True
        run_id = str(active.info.run_id)
    try:
        _log(mlflow, run_id, fp, prefix=prefix, report=report, record=record)
    finally:
        if started_here:
            mlflow.end_run(_STATUS.get(fp.status, "FINISHED"))
    return run_id


def _log(
    mlflow: Any,
    run_id: str,
    fp: Footprint,
    *,
    prefix: str,
    report: bool,
    record: RunRecord | None,
) -> None:
    entities = importlib.import_module("mlflow.entities")
    client = mlflow.MlflowClient()
    now = _ms(None)
    metrics = [
        entities.Metric(key, value, now, 0) for key, value in footprint_metrics(fp, prefix).items()
    ]
    for step in span_steps(fp, prefix):
        stamp = _ms(step.ended_at)
        metrics.extend(
            entities.Metric(key, value, stamp, step.step) for key, value in step.metrics.items()
        )
    tags = [entities.RunTag(k, v) for k, v in footprint_tags(fp, prefix).items()]
    # one batch holds at most 1000 entities, 100 of them tags
    client.log_batch(run_id, metrics=[], tags=tags[:100])
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start : start + 1000])
    with tempfile.TemporaryDirectory(prefix="carbonledger-mlflow-") as tmp:
        path = os.path.join(tmp, "footprint.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(fp.to_dict(), fh, indent=2, allow_nan=False)
        client.log_artifact(run_id, path, prefix)
        if report:
            html = _html(fp, record)
            if html is not None:
                path = os.path.join(tmp, "report.html")
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(html)
                client.log_artifact(run_id, path, prefix)


def _html(fp: Footprint, record: RunRecord | None) -> str | None:
    try:
        from carbonledger.report.base import ReportInput, render

        return render("html", ReportInput([fp], runs=[record] if record is not None else []))
    except Exception as exc:  # the figures matter more than the page
        log.warning("no HTML report for MLflow: %s", exc)
        return None


class MlflowSink(BaseSink):
    """Logs each run's footprint into MLflow when the run ends (see the module doc).

    ``run_id`` names the MLflow run to log into; by default the run active when the
    carbonledger run starts, else a new one named after it, which the sink ends.
    """

    name = "mlflow"

    def __init__(
        self, run_id: str | None = None, *, prefix: str = DEFAULT_PREFIX, report: bool = True
    ) -> None:
        self._mlflow = _mlflow()
        self._run_id = run_id
        self._prefix = prefix
        self._report = report
        self._targets: dict[str, tuple[str, bool]] = {}  # carbonledger run -> (mlflow run, ours)
        self._records: dict[str, RunRecord] = {}

    def on_start(self, event: RunStarted) -> None:
        mlflow = self._mlflow
        target, ours = self._run_id, False
        if target is None:
            active = mlflow.active_run()
            if active is None:
                active = mlflow.start_run(run_name=event.record.name)
                ours = True
            target = str(active.info.run_id)
        self._targets[event.run_id] = (target, ours)
        self._records[event.run_id] = event.record

    def on_end(self, event: RunEnded) -> None:
        target = self._targets.pop(event.run_id, None)
        record = self._records.pop(event.run_id, None)
        if target is None:
            return
        run_id, ours = target
        mlflow = self._mlflow
        try:
            if event.footprint is not None:
                _log(
                    mlflow,
                    run_id,
                    event.footprint,
                    prefix=self._prefix,
                    report=self._report,
                    record=record,
                )
            else:
                mlflow.MlflowClient().set_tag(
                    run_id,
                    f"{self._prefix}.warnings",
                    " | ".join(event.warnings) or "the run could not be priced",
                )
        finally:
            if ours:
                status = _STATUS.get(str(event.status), "FINISHED")
                active = mlflow.active_run()
                if active is not None and active.info.run_id == run_id:
                    mlflow.end_run(status)
                else:
                    mlflow.MlflowClient().set_terminated(run_id, status)
