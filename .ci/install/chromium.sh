#!/usr/bin/env bash
# Debian's Chromium renders the HTML report in a headless test.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
apt-get install -y -qq chromium >/dev/null
