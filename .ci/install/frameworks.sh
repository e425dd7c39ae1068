#!/usr/bin/env bash
# The ML frameworks the integration tests train tiny models with (tests/integrations/).
# torch comes first and pinned: 2.13.0 is the CPU wheel on this machine's local disk, and
# installing it before anything that depends on torch keeps pip from pulling a CUDA build
# of several GB. Measured here: 2 min 14 s on 2 cores (torch 2.13.0+cpu, lightning 2.6.6,
# transformers 5.24.0, keras 3.15.1, optuna 5.0.0, flwr 1.42.0; 1.7 GB in .venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
PIP=".venv/bin/python -m pip"
$PIP install --quiet torch==2.13.0
$PIP install --quiet lightning transformers accelerate keras optuna flwr
# Keras 3 defaults to TensorFlow; the tests run it on torch (KERAS_BACKEND=torch)
KERAS_BACKEND=torch .venv/bin/python -c "import torch, lightning, transformers, accelerate, keras, optuna, flwr"
