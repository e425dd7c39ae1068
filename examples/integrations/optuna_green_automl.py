"""Green AutoML: a small hyper-parameter search where each trial's carbon is a second
objective, so the study's Pareto front trades accuracy against emissions. Offline:

    python examples/integrations/optuna_green_automl.py
"""

from __future__ import annotations

import numpy as np
import optuna

from carbonledger.integrations.optuna import measured

rng = np.random.default_rng(0)
X = rng.normal(size=(2000, 20))
Y = (X[:, :5].sum(axis=1) > 0).astype(float)


def objective(trial: optuna.Trial) -> float:
    """Accuracy of a logistic regression fitted by gradient descent (more steps cost more)."""
    steps = trial.suggest_int("steps", 50, 2000, log=True)
    lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(X @ w)))
        w -= lr * X.T @ (p - Y) / len(Y)
    return float(((X @ w > 0) == Y).mean())


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="green-automl",
        directions=["maximize", "minimize"],
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    study.optimize(measured(objective, extra_objective="emissions_kg", zone="FR"), n_trials=12)
    print("Pareto front (accuracy, kgCO2e):")
    for t in sorted(study.best_trials, key=lambda t: t.values[1]):
        print(f"  trial {t.number:>2}: {t.values[0]:.3f}, {t.values[1]:.3e}  {t.params}")
    total = study.user_attrs.get("carbonledger/total_emissions_kg")
    print(f"the whole search: {total:.3e} kgCO2e" if total is not None else "search total unknown")


if __name__ == "__main__":
    main()
