#!/usr/bin/env bash
# Debian's Open MPI: tests/e2e/test_job_mpi.py runs `mpirun -n 4` of a tracked script.
set -euo pipefail
command -v mpirun >/dev/null 2>&1 && exit 0
apt-get install -y -qq openmpi-bin >/dev/null
