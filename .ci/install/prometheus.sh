#!/usr/bin/env bash
# Debian's Prometheus server: the exporter test starts it scraping carbonledger's endpoint
# and asks its HTTP API for the energy counter (tests/exporters/test_prometheus_server.py).
set -euo pipefail
command -v prometheus >/dev/null 2>&1 && exit 0
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# the package starts a system service where systemd runs; the test runs its own server
if command -v systemctl >/dev/null 2>&1; then
  systemctl stop prometheus >/dev/null 2>&1 || true
fi
