"""open_provider: the single entry point, and the CSV series behind the provider interface."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from servers import NOW, ElectricityMapsServer, UKGridServer, WattTimeServer

from carbonledger.errors import ConfigError, DataError, ProviderError, UnknownZoneError
from carbonledger.intensity.base import IntensitySource
from carbonledger.intensity.providers import PROVIDER_NAMES, IntensityProvider, open_provider
from carbonledger.intensity.providers.csvfile import CsvSeriesProvider
from carbonledger.intensity.providers.electricitymaps import ElectricityMapsProvider
from carbonledger.intensity.providers.ukgrid import UKGridProvider
from carbonledger.intensity.providers.watttime import WattTimeProvider
from carbonledger.intensity.series import IntensitySeries
from carbonledger.records import Method


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        open_provider("carbonmagic", {})
    assert "carbonmagic" in str(info.value)
    for name in PROVIDER_NAMES:
        assert name in str(info.value)


def test_names_and_types(tmp_path: Path) -> None:
    environ = {
        "CARBONLEDGER_ELECTRICITYMAPS_TOKEN": "t",
        "CARBONLEDGER_WATTTIME_USERNAME": "u",
        "CARBONLEDGER_WATTTIME_PASSWORD": "p",
        "CARBONLEDGER_INTENSITY_SERIES": str(tmp_path / "s.csv"),
        "XDG_CACHE_HOME": str(tmp_path),
    }
    kinds = {
        "electricitymaps": ElectricityMapsProvider,
        "watttime": WattTimeProvider,
        "ukgrid": UKGridProvider,
        "csv": CsvSeriesProvider,
    }
    assert sorted(kinds) == sorted(PROVIDER_NAMES)
    for name, kind in kinds.items():
        provider = open_provider(f" {name.upper()} ", environ)
        assert isinstance(provider, kind)
        assert provider.name == name
        assert isinstance(provider, IntensityProvider)
        source: IntensitySource = provider  # statically an IntensitySource (mypy)
        assert callable(source.intensity)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("electricitymaps", "CARBONLEDGER_ELECTRICITYMAPS_TOKEN"),
        ("watttime", "CARBONLEDGER_WATTTIME_USERNAME"),
        ("csv", "CARBONLEDGER_INTENSITY_SERIES"),
    ],
)
def test_missing_configuration(name: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        open_provider(name, {})


def test_environment_drives_each_live_provider(
    em_server: ElectricityMapsServer,
    wt_server: WattTimeServer,
    uk_server: UKGridServer,
    tmp_path: Path,
) -> None:
    environ = {
        "CARBONLEDGER_ELECTRICITYMAPS_TOKEN": ElectricityMapsServer.TOKEN,
        "CARBONLEDGER_ELECTRICITYMAPS_URL": em_server.url + "/v3",
        "CARBONLEDGER_WATTTIME_USERNAME": WattTimeServer.USERNAME,
        "CARBONLEDGER_WATTTIME_PASSWORD": WattTimeServer.PASSWORD,
        "CARBONLEDGER_WATTTIME_URL": wt_server.url,
        "CARBONLEDGER_UKGRID_URL": uk_server.url,
        "CARBONLEDGER_PROVIDER_CACHE_DIR": str(tmp_path / "cache"),
        "CARBONLEDGER_PROVIDER_RETRIES": "0",
    }
    assert open_provider("electricitymaps", environ).intensity("DE").zone == "DE"
    assert open_provider("watttime", environ).intensity("CAISO_NORTH").signal == "marginal"
    assert open_provider("ukgrid", environ).intensity("GB").basis == "direct"
    assert (tmp_path / "cache").is_dir()


# --- csv ----------------------------------------------------------------------------------
SERIES = IntensitySeries(
    times=(NOW - 7200, NOW - 3600, NOW),
    values_g_per_kwh=(300.0, 250.0, 200.0),
    zone="DE",
    basis="lifecycle",
    source="csv:de.csv",
    estimated=(False, True, False),
    last_step_s=3600,
)


@pytest.fixture
def fake_loader(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, str, str | None]]:
    """Stands in for carbonledger.intensity.series_csv (written by another module)."""
    calls: list[tuple[Path, str, str | None]] = []

    def load_series(
        path: Path, *, basis: str = "lifecycle", zone: str | None = None
    ) -> IntensitySeries:
        calls.append((path, basis, zone))
        if not path.name.endswith(".csv"):
            raise DataError(f"{path}: not a CSV file")
        return SERIES

    module = types.ModuleType("carbonledger.intensity.series_csv")
    module.load_series = load_series  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "carbonledger.intensity.series_csv", module)
    return calls


def csv_provider(path: str = "/data/de.csv", **environ: str) -> CsvSeriesProvider:
    provider = open_provider("csv", {"CARBONLEDGER_INTENSITY_SERIES": path, **environ})
    assert isinstance(provider, CsvSeriesProvider)
    provider._clock = lambda: NOW + 60
    return provider


def test_csv_provider_wraps_the_loader(fake_loader: list[tuple[Path, str, str | None]]) -> None:
    provider = csv_provider(CARBONLEDGER_INTENSITY_SERIES_BASIS="direct")
    assert fake_loader == []  # read on first use
    now = provider.intensity("DE")
    assert fake_loader == [(Path("/data/de.csv"), "direct", None)]
    # a user's file without provenance is a user-given intensity: modeled ±15 % (±20 %
    # where flagged estimated), never measured (docs/methodology/intensity.md)
    assert (now.g_per_kwh, now.method, now.at) == (200.0, Method.MODELED, NOW)
    assert now.uncertainty_rel == pytest.approx(0.15)
    past = provider.intensity("de", at=NOW - 3000)
    assert (past.g_per_kwh, past.method) == (250.0, Method.MODELED)
    assert past.uncertainty_rel == pytest.approx(0.20)
    assert provider.history("DE", NOW - 7200, NOW - 3600).values_g_per_kwh == (300.0,)
    assert len(fake_loader) == 1  # loaded once


def test_csv_provider_refuses_other_zones_and_uncovered_times(
    fake_loader: list[tuple[Path, str, str | None]],
) -> None:
    provider = csv_provider()
    with pytest.raises(UnknownZoneError, match="'FR'"):
        provider.intensity("FR")
    with pytest.raises(ProviderError, match=r"de\.csv covers"):
        provider.intensity("DE", at=NOW - 86400)
    with pytest.raises(ProviderError, match="no forecast"):
        provider._clock = lambda: NOW + 86400
        provider.forecast("DE")


def test_csv_forecast_is_the_future_part_of_the_file(
    fake_loader: list[tuple[Path, str, str | None]],
) -> None:
    provider = csv_provider()
    provider._clock = lambda: NOW - 3600
    assert provider.forecast("DE", hours=1).times == (NOW - 3600,)


def test_csv_loader_errors_pass_through(fake_loader: list[tuple[Path, str, str | None]]) -> None:
    with pytest.raises(DataError, match="not a CSV"):
        csv_provider("/data/de.txt").intensity("DE")


def test_csv_basis_is_validated() -> None:
    with pytest.raises(ConfigError, match="CARBONLEDGER_INTENSITY_SERIES_BASIS"):
        open_provider(
            "csv",
            {
                "CARBONLEDGER_INTENSITY_SERIES": "x.csv",
                "CARBONLEDGER_INTENSITY_SERIES_BASIS": "avg",
            },
        )


def test_csv_provider_with_the_real_loader(shared_data: Path) -> None:
    path = shared_data / "grid" / "hourly" / "DE-LU_2023_hourly.csv"
    if not path.is_file():
        pytest.skip("no DE-LU 2023 trace in ../shared/data")
    at = 1_688_212_800.0  # 2023-07-01T12:00:00Z
    for basis in ("lifecycle", "direct"):
        provider = open_provider(
            "csv",
            {
                "CARBONLEDGER_INTENSITY_SERIES": str(path),
                "CARBONLEDGER_INTENSITY_SERIES_BASIS": basis,
            },
        )
        value = provider.intensity("DE", at=at + 100)
        assert (value.zone, value.basis, value.at) == ("DE", basis, at)
        assert value.source.endswith("@2023-07-01T12:00Z")
        assert value.g_per_kwh > 0
        assert len(provider.history("DE", at, at + 3 * 3600)) == 3
