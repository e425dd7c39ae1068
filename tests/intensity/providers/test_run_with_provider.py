"""`carbonledger run --provider NAME --zone Z` against the local provider servers, in a
real subprocess: the zone is asked in the provider's own words, and the run is priced with
each recorded point's labels (WattTime's MOER is modeled ±20 %, not measured ±10 %)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from servers import ElectricityMapsServer, WattTimeServer


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = dict(
        os.environ,
        CARBONLEDGER_PROVIDER_RETRIES="0",
        CARBONLEDGER_PROVIDER_CACHE="0",
        CARBONLEDGER_LEDGER=str(tmp_path / "ledger.db"),
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "carbonledger.cli.main", "run", "--interval", "0.2", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


@pytest.mark.slow
def test_watttime_native_zone_prices_a_run_as_modeled(
    tmp_path: Path, wt_server: WattTimeServer
) -> None:
    wt_server.now = time.time()
    out = tmp_path / "fp.json"
    p = run_cli(
        tmp_path,
        "--zone",
        "watttime:CAISO_NORTH",
        "--provider",
        "watttime",
        "--json-out",
        str(out),
        "--quiet",
        "--",
        "sleep",
        "1",
        CARBONLEDGER_WATTTIME_URL=wt_server.url,
        CARBONLEDGER_WATTTIME_USERNAME=wt_server.USERNAME,
        CARBONLEDGER_WATTTIME_PASSWORD=wt_server.PASSWORD,
    )
    assert p.returncode == 0, p.stderr
    asked = {r.query.get("region") for r in wt_server.requests if "region" in r.query}
    assert asked == {"CAISO_NORTH"}
    i = json.loads(out.read_text())["intensity"]
    assert i["signal"] == "marginal" and i["basis"] == "direct"
    assert i["method"] == "modeled"
    assert i["uncertainty_rel"] == pytest.approx(0.20)
    assert i["time_aligned"] is True
    assert i["source"].startswith("watttime:CAISO_NORTH")
    assert wt_server.PASSWORD not in p.stdout + p.stderr


@pytest.mark.slow
def test_cloud_region_is_asked_as_an_electricity_maps_zone(
    tmp_path: Path, em_server: ElectricityMapsServer
) -> None:
    em_server.now = time.time()
    em_server.ZONES = ("DE", "FR", "US-MIDA-PJM")  # type: ignore[misc]
    out = tmp_path / "fp.json"
    p = run_cli(
        tmp_path,
        "--zone",
        "aws:us-east-1",
        "--provider",
        "electricitymaps",
        "--json-out",
        str(out),
        "--quiet",
        "--",
        "sleep",
        "1",
        CARBONLEDGER_ELECTRICITYMAPS_URL=em_server.url + "/v3",
        CARBONLEDGER_ELECTRICITYMAPS_TOKEN=em_server.TOKEN,
    )
    assert p.returncode == 0, p.stderr
    zones = {r.query.get("zone") for r in em_server.requests}
    assert zones == {"US-MIDA-PJM"}
    d = json.loads(out.read_text())
    assert d["intensity"]["zone"] == "US-MIDA-PJM"
    assert d["intensity"]["time_aligned"] is True
    assert d["intensity"]["method"] in ("measured", "modeled")


def test_a_zone_without_mapping_is_one_line(tmp_path: Path) -> None:
    p = run_cli(
        tmp_path,
        "--zone",
        "US-CA",
        "--provider",
        "watttime",
        "--quiet",
        "--",
        "true",
        CARBONLEDGER_WATTTIME_USERNAME="u",
        CARBONLEDGER_WATTTIME_PASSWORD="p",
    )
    assert p.returncode == 3
    assert len(p.stderr.strip().splitlines()) == 1
    assert "no watttime zone is known for 'US-CA'" in p.stderr
    assert "watttime:CAISO_NORTH" in p.stderr
