#!/usr/bin/env bash
# Debian's Slurm and MUNGE: tests/e2e/slurm_cluster.py starts a throwaway one-node cluster.
# slurmdbd and mariadb-server let it keep accounting for sacct (tests/e2e/test_sacct_real.py
# starts a private MariaDB on a Unix socket itself); no packaged service is left running.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
missing=()
for c in slurmctld munged; do have "$c" || { missing+=(slurm-wlm munge); break; }; done
have slurmdbd || missing+=(slurmdbd)
have mariadbd || missing+=(mariadb-server)
[ ${#missing[@]} -eq 0 ] && exit 0
# keep the packages' init scripts from starting services (a container has no systemd)
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
