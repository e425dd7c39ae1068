"""Optuna: the energy and carbon of every trial, and of the whole search.

One line::

    study.optimize(measured(objective), n_trials=20)

Each trial's energy and carbon (with interval bounds) become its user attributes
(``carbonledger/energy_kwh``, ``carbonledger/emissions_kg``, ``…_low``, ``…_high``), pruned
and failed trials included, and the study's user attributes hold the search's total so
far (:func:`study_total` recomputes it). For Green AutoML, ``measured(objective,
extra_objective="emissions_kg")`` returns the trial's cost as one more objective::

    study = optuna.create_study(directions=["maximize", "minimize"])
    study.optimize(measured(objective, extra_objective="energy_kwh"), n_trials=20)
    study.best_trials  # the Pareto front of accuracy against energy

Without ``run`` each trial is its own tracked run (named ``<study>-trial-<n>``, tagged with
the study as its job); with ``run`` each trial is a span ``trial-<n>`` of that run, whose
footprint is then the search's measured total. Trials run in parallel (``n_jobs > 1``)
share the machine: each one's energy then includes the others', so the sum over trials
overstates the search (the study attribute ``carbonledger/overlapping_trials`` says so;
use ``run`` and its footprint for the total).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from carbonledger.integrations._common import PREFIX, JobTracking, values_from

try:
    import optuna
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "carbonledger.integrations.optuna needs optuna: pip install 'carbonledger[optuna]'"
    ) from exc

if TYPE_CHECKING:
    from carbonledger.tracking import Run

__all__ = ["EXTRA_OBJECTIVES", "MeasuredObjective", "measured", "study_total"]

log = logging.getLogger(__name__)

#: What ``extra_objective`` may name: a quantity of the trial's footprint.
EXTRA_OBJECTIVES = ("energy_kwh", "emissions_kg")
_SUMMED = ("energy_kwh", "emissions_kg")
_BOUNDS = ("", "_low", "_high")


class MeasuredObjective:
    """An Optuna objective that measures each call; see :func:`measured`."""

    def __init__(
        self,
        objective: Callable[[optuna.Trial], Any],
        *,
        run: Run | None = None,
        extra_objective: str | None = None,
        name: str | None = None,
        prefix: str = PREFIX,
        track_options: Mapping[str, Any] | None = None,
    ) -> None:
        if extra_objective is not None and extra_objective not in EXTRA_OBJECTIVES:
            from carbonledger.errors import ConfigError

            raise ConfigError(
                f"extra_objective must be one of {', '.join(EXTRA_OBJECTIVES)}, "
                f"got {extra_objective!r}"
            )
        self.objective = objective
        self.run = run
        self.extra_objective = extra_objective
        self.name = name
        self.prefix = prefix
        self.track_options = dict(track_options or {})
        self._active = 0
        self._lock = threading.Lock()
        self._shared: JobTracking | None = (
            None
            if run is None
            else JobTracking(run, framework="optuna", prefix=prefix, track_options={})
        )

    def __call__(self, trial: optuna.Trial) -> Any:
        with self._lock:
            self._active += 1
            overlapping = self._active > 1
        values: dict[str, float] = {}
        try:
            result = self._measure(trial, values)
        finally:
            with self._lock:
                self._active -= 1
            self._annotate(trial, values, overlapping)
        if self.extra_objective is None:
            return result
        cost = values.get(f"{self.prefix}{self.extra_objective}", math.nan)
        if math.isnan(cost):
            log.warning(
                "carbonledger: trial %d has no measured %s", trial.number, self.extra_objective
            )
        if isinstance(result, Sequence) and not isinstance(result, str):
            return (*result, cost)
        return (result, cost)

    def _measure(self, trial: optuna.Trial, values: dict[str, float]) -> Any:
        """Run the objective in a span (or a run) of its own; put its energy and carbon in
        ``values`` (also when it raises: pruned and failed trials cost energy too)."""
        span = f"trial-{trial.number}"
        if self._shared is not None:
            job = self._shared
            job.begin(span)
            try:
                result = self.objective(trial)
            finally:
                job.end(span)
                values.update(_relabel(job.values((span, "trial")), self.prefix))
            return result
        study = trial.study.study_name
        options = dict(self.track_options)
        tags = {**dict(options.pop("tags", None) or {}), "optuna.trial": str(trial.number)}
        job = JobTracking(
            name=f"{self.name or study}-{span}",
            framework="optuna",
            prefix=self.prefix,
            track_options={**options, "tags": {**tags, "optuna.study": study}},
        )
        job.job_key = study
        job.start()
        status = "failed"
        try:
            result = self.objective(trial)
            status = "completed"
        except optuna.TrialPruned:
            status = "interrupted"
            raise
        finally:
            final = job.stop(status)
            if final is not None and job.measuring:
                values.update(
                    values_from(
                        final.energy_j,
                        final.total_g,
                        final.energy_interval_j,
                        final.total_interval_g,
                        prefix=self.prefix,
                    )
                )
        return result

    def _annotate(self, trial: optuna.Trial, values: Mapping[str, float], overlap: bool) -> None:
        try:
            for key, value in values.items():
                trial.set_user_attr(key, value)
            study = trial.study
            if overlap:
                study.set_user_attr(f"{self.prefix}overlapping_trials", True)
            for key, value in study_total(
                study, prefix=self.prefix, current=(trial, values)
            ).items():
                study.set_user_attr(key, value)
        except Exception as exc:
            log.warning("carbonledger: could not annotate trial %d (%r)", trial.number, exc)


def _relabel(values: Mapping[str, float], prefix: str) -> dict[str, float]:
    """A trial span's keys (``carbonledger/trial_energy_kwh``) as the trial's own."""
    stem = f"{prefix}trial_"
    return {prefix + k[len(stem) :]: v for k, v in values.items() if k.startswith(stem)}


def measured(
    objective: Callable[[optuna.Trial], Any],
    *,
    run: Run | None = None,
    extra_objective: str | None = None,
    name: str | None = None,
    prefix: str = PREFIX,
    **track_options: Any,
) -> MeasuredObjective:
    """Wrap ``objective`` so each trial's energy and carbon are measured and kept as its
    user attributes. ``extra_objective`` ("energy_kwh" or "emissions_kg") appends that
    cost to the objective's values (NaN, which fails the trial, when it is unknown).
    ``track_options`` go to :func:`carbonledger.track` for each trial's run."""
    return MeasuredObjective(
        objective,
        run=run,
        extra_objective=extra_objective,
        name=name,
        prefix=prefix,
        track_options=track_options,
    )


def study_total(
    study: optuna.Study,
    *,
    prefix: str = PREFIX,
    current: tuple[Any, Mapping[str, float]] | None = None,
) -> dict[str, float]:
    """The search's energy and carbon so far: the sum over its trials' attributes (an
    interval bound is the sum of the bounds). A quantity some finished trial lacks is left
    out: unknown, not zero."""
    trials: list[Mapping[str, Any]] = []
    for trial in study.get_trials(deepcopy=False):
        if current is not None and trial.number == current[0].number:
            trials.append(current[1])
        elif trial.state.is_finished():
            trials.append(trial.user_attrs)
    if current is not None and all(t is not current[1] for t in trials):
        trials.append(current[1])
    total: dict[str, float] = {}
    for quantity in _SUMMED:
        for bound in _BOUNDS:
            key = f"{prefix}{quantity}{bound}"
            parts = [t.get(key) for t in trials]
            if parts and all(isinstance(p, (int, float)) for p in parts):
                total[f"{prefix}total_{quantity}{bound}"] = float(sum(parts))  # type: ignore[arg-type]
    if trials:
        total[f"{prefix}trials_measured"] = float(len(trials))
    return total
