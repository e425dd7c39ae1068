#!/usr/bin/env bash
# PyTorch (CPU wheel on this machine's disk) in the project venv, for the torchrun test.
set -euo pipefail
.venv/bin/python -c "import torch" >/dev/null 2>&1 && exit 0
.venv/bin/pip install -q torch==2.13.0
