#!/usr/bin/env bash
# Validate carbonledger's GPU paths on this machine's NVIDIA GPUs in one bounded command.
#
#   benchmarks/gpu/run.sh [options of benchmarks/gpu_validation.py]
#
# Environment: PYTHON (default python3), BUDGET_S (default 240: the script's own budget;
# the whole script is killed 60 s after it), OUT (if set, results are copied there too: the
# device tool returns what is written under $OUT), INSTALL_LOAD=0 (never try to install a
# CUDA load library).
#
# Python packages:
# - If $PYTHON already imports pynvml (nvidia-ml-py) and psutil, nothing is installed:
#   carbonledger runs from src/ (PYTHONPATH), and the load uses the torch or cupy that
#   $PYTHON has. This is the case on GPU images that ship PyTorch, and the only way on a
#   machine without network access.
# - Otherwise a virtual environment (benchmarks/gpu/.venv, with the system's packages
#   visible, so a torch already installed is reused) gets `pip install -e .[nvidia]`, and,
#   when neither torch nor cupy imports, cupy-cuda<major>x for the driver's CUDA version
#   (about 100 MB plus the CUDA libraries it pulls). torch from PyPI is the fallback: a
#   download of 2-3 GB with its CUDA libraries, minutes on a fast link.
# Without torch or cupy the load phases are recorded as skipped; everything else still runs.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO" || exit 3
PY="${PYTHON:-python3}"
BUDGET="${BUDGET_S:-240}"
VENV="$HERE/.venv"
LOG="$HERE/run.log"
export PYTHONUNBUFFERED=1
exec > >(tee "$LOG") 2>&1

echo "== $(date -u +%FT%TZ) $(uname -srm)"
nvidia-smi > "$HERE/nvidia-smi.log" 2>&1 || echo "nvidia-smi failed (see nvidia-smi.log)"
head -n 12 "$HERE/nvidia-smi.log"
CUDA_MAJOR="$(sed -n 's/.*CUDA Version: *\([0-9]*\).*/\1/p' "$HERE/nvidia-smi.log" | head -n 1)"

has() { "$1" -c "import $2" > /dev/null 2>&1; }

if has "$PY" "pynvml, psutil"; then
    RUNPY="$PY"
    export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
    echo "== using $PY as it is; carbonledger from src/"
else
    echo "== creating $VENV and installing carbonledger[nvidia]"
    "$PY" -m venv --system-site-packages "$VENV" || exit 3
    RUNPY="$VENV/bin/python"
    "$RUNPY" -m pip install -q --retries 1 --timeout 30 -e ".[nvidia]" || {
        echo "pip install -e .[nvidia] failed: no network? install nvidia-ml-py and psutil"; exit 3; }
fi
if [ "${INSTALL_LOAD:-1}" != 0 ] && ! has "$RUNPY" torch && ! has "$RUNPY" cupy; then
    if [ "$RUNPY" = "$PY" ]; then  # installing needs our own environment
        "$PY" -m venv --system-site-packages "$VENV" && RUNPY="$VENV/bin/python"
    fi
    echo "== no torch or cupy: trying cupy-cuda${CUDA_MAJOR:-12}x, then torch"
    timeout 600 "$RUNPY" -m pip install -q --retries 1 --timeout 30 "cupy-cuda${CUDA_MAJOR:-12}x" \
        || timeout 900 "$RUNPY" -m pip install -q --retries 1 --timeout 30 torch \
        || echo "no CUDA load library could be installed: the load phases will be skipped"
fi
"$RUNPY" -c 'import sys, pynvml; print("== python", sys.version.split()[0], "pynvml ok")'

ARGS=(--budget-s "$BUDGET" --out-dir "$HERE")
[ -n "${OUT:-}" ] && ARGS+=(--out-dir "$OUT")
timeout -k 10 "$((${BUDGET%.*} + 60))" "$RUNPY" "$REPO/benchmarks/gpu_validation.py" "${ARGS[@]}" "$@"
rc=$?
echo "== gpu_validation.py exited $rc"
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    cp "$HERE/nvidia-smi.log" "$OUT/" 2>/dev/null
    cp "$LOG" "$OUT/run.log" 2>/dev/null
fi
exit "$rc"
