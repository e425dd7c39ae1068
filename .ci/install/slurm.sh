#!/usr/bin/env bash
# Debian's Slurm and MUNGE: tests/e2e/slurm_cluster.py starts a throwaway one-node cluster.
set -euo pipefail
command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 && exit 0
apt-get install -y -qq slurm-wlm munge >/dev/null
