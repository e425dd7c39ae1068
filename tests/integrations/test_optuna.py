"""The Optuna wrapper on a real study: trials that burn a little time under a fake 50 W
sensor get energy attributes, the study a total, and multi-objective studies a cost."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest
from tests.engines import require_module
from tests.integrations import fwkit

import carbonledger as cl

KEY = "carbonledger/energy_kwh"


@pytest.fixture(autouse=True)
def _needs_optuna() -> None:
    require_module("optuna")


def _objective(trial: Any) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    time.sleep(0.02)
    return x * x


def _study(**options: Any) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), **options)


def test_trial_attributes_and_study_total(tmp_path: Path) -> None:
    from carbonledger.integrations.optuna import measured, study_total

    ledger = str(tmp_path / "ledger.sqlite")
    study = _study(study_name="search")
    study.optimize(measured(_objective, **fwkit.track_options()), n_trials=3)

    energies = [t.user_attrs[KEY] for t in study.trials]
    assert len(energies) == 3 and all(e > 0 for e in energies)
    for t in study.trials:
        attrs = t.user_attrs
        assert attrs[f"{KEY}_low"] <= attrs[KEY] <= attrs[f"{KEY}_high"]
        assert attrs["carbonledger/emissions_kg"] > 0
    total = study.user_attrs["carbonledger/total_energy_kwh"]
    assert math.isclose(total, sum(energies))
    assert study_total(study)["carbonledger/total_energy_kwh"] == pytest.approx(total)

    records = fwkit.runs(ledger)
    assert sorted(r.name for r in records) == [f"search-trial-{n}" for n in range(3)]
    assert {r.tags["carbonledger.job"] for r in records} == {"search"}


def test_extra_objective_for_a_pareto_front(tmp_path: Path) -> None:
    from carbonledger.integrations.optuna import measured

    study = _study(directions=["minimize", "minimize"])
    objective = measured(_objective, extra_objective="emissions_kg", **fwkit.track_options())
    study.optimize(objective, n_trials=3)
    for t in study.trials:
        assert t.values[1] == t.user_attrs["carbonledger/emissions_kg"] > 0
    assert study.best_trials


def test_trials_as_spans_of_a_run_and_pruned_trials(tmp_path: Path) -> None:
    import optuna

    from carbonledger.integrations.optuna import measured

    def prune_odd(trial: Any) -> float:
        value = _objective(trial)
        if trial.number % 2:
            raise optuna.TrialPruned()
        return value

    ledger = str(tmp_path / "ledger.sqlite")
    study = _study()
    with cl.track("search", **fwkit.track_options()) as run:
        study.optimize(measured(prune_odd, run=run), n_trials=4)
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.PRUNED in states
    assert all(t.user_attrs[KEY] > 0 for t in study.trials)  # pruned trials cost energy too

    (record,) = fwkit.runs(ledger)
    fp = fwkit.footprint(ledger, record.run_id)
    assert fwkit.span_paths(fp) == [f"trial-{n}" for n in range(4)]
    assert fp.energy_j is not None
    assert study.user_attrs["carbonledger/total_energy_kwh"] * 3.6e6 <= fp.energy_j
