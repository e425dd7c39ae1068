#!/usr/bin/env bash
# Debian's PostgreSQL server binaries (/usr/lib/postgresql/*/bin): the tests start a throwaway
# server themselves (initdb + pg_ctl on a Unix socket in a temporary folder, run as the
# 'postgres' user this package creates when the tests run as root; tests/store/pgserver.py).
set -euo pipefail
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && exit 0
apt-get install -y -qq postgresql >/dev/null
