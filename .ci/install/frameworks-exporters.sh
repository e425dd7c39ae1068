#!/usr/bin/env bash
# Exporters and experiment trackers into the project venv, for tests/exporters and
# tests/integrations/test_{mlflow,wandb}.py (which fail in CI when these are missing).
# mlflow-skinny is enough (client, file store, artifacts: no server, no UI) and much
# faster than mlflow. Timed here: about 40 s on a 2-core machine with a warm pip cache
# (prometheus_client 0.26, opentelemetry-sdk 1.45, mlflow-skinny 3.17, wandb 0.31).
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/pip install --quiet \
  "prometheus_client>=0.17" \
  "opentelemetry-sdk>=1.20" \
  "mlflow-skinny>=2.10" \
  "wandb>=0.17"
