"""``carbonledger intensity``: offline answers, series, errors as one line with exit 3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carbonledger.cli.main import main

REPO = Path(__file__).resolve().parents[2]
DE_2023 = REPO.parent / "shared" / "data" / "grid" / "hourly" / "DE-LU_2023_hourly.csv"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("carbonledger intensity must answer offline")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.delenv("CARBONLEDGER_INTENSITY_SERIES", raising=False)


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["intensity", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def test_country_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "FR")
    assert data["zone"] == "FR"
    assert data["zone_name"] == "France"
    assert data["kind"] == "country"
    assert data["g_per_kwh"] == pytest.approx(56.039)
    assert data["year"] == 2023
    assert data["method"] == "modeled"
    assert data["signal"] == "average"
    assert data["basis"] == "lifecycle"
    assert data["uncertainty_rel"] == pytest.approx(0.15)
    assert isinstance(data["source"], str) and "Ember/OWID" in data["source"]


@pytest.mark.parametrize(
    ("zone", "key", "g_per_kwh", "year", "source"),
    [
        ("aws:us-east-1", "aws:us-east-1", 415.755, 2019, "Cloud Carbon Footprint"),
        ("gcp:europe-west1", "gcp:europe-west1", 103.37, 2024, "Google Cloud region carbon"),
        ("azure:francecentral", "azure:francecentral", 67.0, 2019, "Cloud Carbon Footprint"),
        ("azure:France Central", "azure:francecentral", 67.0, 2019, "Cloud Carbon Footprint"),
    ],
)
def test_cloud_regions_offline(
    capsys: pytest.CaptureFixture[str],
    zone: str,
    key: str,
    g_per_kwh: float,
    year: int,
    source: str,
) -> None:
    data = _json(capsys, zone)
    assert data["zone"] == key
    assert data["kind"] == "cloud"
    assert data["g_per_kwh"] == pytest.approx(g_per_kwh)
    assert data["year"] == year
    assert isinstance(data["source"], str) and source in data["source"]


@pytest.mark.parametrize("zone", ["FR", "aws:us-east-1", "gcp:europe-west1", "azure:francecentral"])
def test_text_output_is_one_line_with_value_year_and_source(
    capsys: pytest.CaptureFixture[str], zone: str
) -> None:
    assert main(["intensity", zone]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "gCO2e/kWh" in out and "year 20" in out and "source: bundled:" in out
    assert "modeled" in out


def test_unknown_zone_exits_3_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["intensity", "Frnace"]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err
    assert "unknown zone 'Frnace'" in err and "France" in err
    assert "Traceback" not in captured.err


def test_unknown_cloud_region_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["intensity", "aws:us-east-7"]) == 3
    err = capsys.readouterr().err
    assert "aws:us-east-1" in err and err.count("\n") == 1


def test_bad_time_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["intensity", "FR", "--at", "someday"]) == 3
    assert "--at: 'someday' is not an ISO 8601 time" in capsys.readouterr().err


def test_series_needs_at(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "FR.csv"
    path.write_text("timestamp,g_per_kwh\n2023-01-01T00:00Z,50\n", encoding="utf-8")
    assert main(["intensity", "FR", "--series", str(path)]) == 3
    assert "--at" in capsys.readouterr().err
    assert main(["intensity", "FR", "--provider", "csv"]) == 3
    assert "--series" in capsys.readouterr().err


def test_plain_series(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "FR.csv"
    path.write_text(
        "timestamp,g_per_kwh\n2023-01-01T00:00Z,50\n2023-01-01T01:00Z,70\n", encoding="utf-8"
    )
    data = _json(capsys, "France", "--series", str(path), "--at", "2023-01-01T01:30:00Z")
    assert data["g_per_kwh"] == 70.0
    assert data["zone"] == "FR"
    assert data["zone_name"] == "France"
    assert data["at"] == "2023-01-01T01:00:00Z"
    assert data["method"] == "modeled"  # a user's numbers without provenance
    assert data["uncertainty_rel"] == 0.15
    assert data["source"] == "csv:FR.csv"
    # the series covers its last step only: later times are an error, not a made-up value
    assert main(["intensity", "FR", "--series", str(path), "--at", "2023-01-01T05:00Z"]) == 3
    assert "does not cover" in capsys.readouterr().err


def test_series_for_another_zone_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "FR.csv"
    path.write_text("timestamp,g_per_kwh\n2023-01-01T00:00Z,50\n", encoding="utf-8")
    assert main(["intensity", "DE", "--series", str(path), "--at", "2023-01-01T00:00Z"]) == 3
    assert "holds zone 'FR', not 'DE'" in capsys.readouterr().err


def test_malformed_series_names_the_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "series.csv"
    path.write_text("timestamp,g_per_kwh\n2023-01-01T00:00Z,abc\n", encoding="utf-8")
    assert main(["intensity", "series", "--series", str(path), "--at", "2023-01-01T00:00Z"]) == 3
    err = capsys.readouterr().err
    assert "series.csv line 2: 'abc' is not a number in column g_per_kwh" in err
    assert err.count("\n") == 1


@pytest.mark.skipif(not DE_2023.is_file(), reason="reference data (../shared/data) absent")
def test_electricitymaps_series(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "DE", "--series", str(DE_2023), "--at", "2023-01-01T00:30:00")
    assert data["g_per_kwh"] == 185.8
    assert data["basis"] == "lifecycle"
    assert data["kind"] == "country"
    direct = _json(
        capsys,
        "Germany",
        "--series",
        str(DE_2023),
        "--at",
        "2023-01-01T00:30:00Z",
        "--basis",
        "direct",
    )
    assert direct["g_per_kwh"] == 140.51
    assert direct["basis"] == "direct"


def test_unknown_provider_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["intensity", "FR", "--provider", "no-such-provider"]) == 3
    err = capsys.readouterr().err
    assert "no-such-provider" in err and err.count("\n") == 1


def test_series_with_a_live_provider_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["intensity", "FR", "--provider", "electricitymaps", "--series", "x.csv"]) == 3
    assert "--series" in capsys.readouterr().err


def test_bad_basis_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["intensity", "FR", "--basis", "marginal"])
    assert caught.value.code == 2
    capsys.readouterr()


def test_without_live_providers_a_provider_name_is_unknown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import carbonledger.intensity

    monkeypatch.delattr(carbonledger.intensity, "providers", raising=False)
    monkeypatch.setitem(sys.modules, "carbonledger.intensity.providers", None)
    assert main(["intensity", "FR", "--provider", "electricitymaps"]) == 3
    assert "unknown provider 'electricitymaps'" in capsys.readouterr().err
