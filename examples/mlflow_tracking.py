"""Energy and carbon of a toy training job in MLflow: metrics (one step per epoch), tags
(methods, sources), the footprint JSON and the HTML report as artifacts.

    pip install 'carbonledger[mlflow]'
    python examples/mlflow_tracking.py      # then: mlflow ui (or read ./mlruns)

Set MLFLOW_TRACKING_URI to log elsewhere; MLflow 3 needs MLFLOW_ALLOW_FILE_STORE=true for
the local ./mlruns folder, which this script sets when no URI is given.
"""

from __future__ import annotations

import math
import os

import mlflow

import carbonledger as cl
from carbonledger.integrations.mlflow import MlflowSink


def epoch(n: int = 300_000) -> float:
    return sum(math.sin(i) * math.sqrt(i) for i in range(1, n))


def main() -> None:
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow.set_tracking_uri(os.path.abspath("mlruns"))
    with mlflow.start_run(run_name="toy-training") as active:
        mlflow.log_param("epochs", 3)
        with cl.track("toy-training", phase="training", sinks=[MlflowSink()]) as run:
            for k in range(3):
                with run.span(f"epoch-{k + 1}"):
                    loss = 1.0 / (k + 1)
                    epoch()
                mlflow.log_metric("loss", loss, step=k)
    print("logged into MLflow run", active.info.run_id)
    # after the fact, the same in one line: carbonledger.integrations.mlflow.log_footprint(fp)


if __name__ == "__main__":
    main()
