#!/usr/bin/env bash
# uvicorn + starlette: the serving middleware's end-to-end tests and bench-serve.
set -euo pipefail
.venv/bin/python -c "import uvicorn, starlette" 2>/dev/null && exit 0
.venv/bin/pip install --quiet "uvicorn>=0.29" "starlette>=0.37"
