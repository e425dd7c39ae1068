"""`carbonledger intensity ZONE --provider NAME` against local servers, through the URL
variables, in a real subprocess: answers with provenance, fails with exit 3 and one line,
and never prints a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from servers import ElectricityMapsServer, UKGridServer, WattTimeServer


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = dict(
        os.environ, CARBONLEDGER_PROVIDER_RETRIES="0", CARBONLEDGER_PROVIDER_CACHE="0", **env
    )
    return subprocess.run(
        [sys.executable, "-m", "carbonledger.cli.main", "intensity", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_electricitymaps_through_url_variable(em_server: ElectricityMapsServer) -> None:
    env = {
        "CARBONLEDGER_ELECTRICITYMAPS_URL": em_server.url + "/v3",
        "CARBONLEDGER_ELECTRICITYMAPS_TOKEN": em_server.TOKEN,
    }
    p = cli("DE", "--provider", "electricitymaps", "--json", **env)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["zone"] == "DE" and d["signal"] == "average" and d["g_per_kwh"] > 0
    assert em_server.TOKEN not in p.stdout + p.stderr

    bad = cli(
        "DE",
        "--provider",
        "electricitymaps",
        **{**env, "CARBONLEDGER_ELECTRICITYMAPS_TOKEN": "wrong-SECRET"},
    )
    assert bad.returncode == 3
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "wrong-SECRET" not in bad.stderr and "Traceback" not in bad.stderr

    unknown = cli("XX-NOWHERE", "--provider", "electricitymaps", **env)
    assert unknown.returncode == 3 and "Traceback" not in unknown.stderr


def test_watttime_through_url_variable(wt_server: WattTimeServer) -> None:
    env = {
        "CARBONLEDGER_WATTTIME_URL": wt_server.url,
        "CARBONLEDGER_WATTTIME_USERNAME": wt_server.USERNAME,
        "CARBONLEDGER_WATTTIME_PASSWORD": wt_server.PASSWORD,
    }
    p = cli("CAISO_NORTH", "--provider", "watttime", "--json", **env)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["signal"] == "marginal" and d["g_per_kwh"] > 0
    assert wt_server.PASSWORD not in p.stdout + p.stderr
    bad = cli(
        "CAISO_NORTH",
        "--provider",
        "watttime",
        **{**env, "CARBONLEDGER_WATTTIME_PASSWORD": "nope-SECRET"},
    )
    assert bad.returncode == 3 and "nope-SECRET" not in bad.stderr


def test_ukgrid_through_url_variable(uk_server: UKGridServer) -> None:
    p = cli("GB", "--provider", "ukgrid", "--json", CARBONLEDGER_UKGRID_URL=uk_server.url)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["basis"] == "direct" and d["g_per_kwh"] > 0


def test_unreachable_provider_exits_3() -> None:
    p = cli(
        "DE",
        "--provider",
        "electricitymaps",
        CARBONLEDGER_ELECTRICITYMAPS_URL="http://127.0.0.1:9",
        CARBONLEDGER_ELECTRICITYMAPS_TOKEN="t0k3n-SECRET",
    )
    assert p.returncode == 3
    assert "t0k3n-SECRET" not in p.stderr and "Traceback" not in p.stderr
