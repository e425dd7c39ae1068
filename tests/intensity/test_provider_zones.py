"""Bundled zones and cloud regions mapped to each live provider's zones."""

from __future__ import annotations

import pytest

from carbonledger.errors import ConfigError, UnknownZoneError
from carbonledger.intensity.provider_zones import bundled_zone_for, check_run_zone, provider_zone


@pytest.mark.parametrize(
    ("provider", "zone", "expected"),
    [
        ("electricitymaps", "aws:us-east-1", "US-MIDA-PJM"),
        ("electricitymaps", "AWS:US-EAST-1", "US-MIDA-PJM"),
        ("electricitymaps", "US-CA", "US-CAL-CISO"),
        ("electricitymaps", "France", "FR"),
        ("electricitymaps", "electricitymaps:DK-DK1", "DK-DK1"),
        ("electricitymaps", "48.85, 2.35", "48.85,2.35"),
        ("watttime", "aws:us-west-1", "CAISO_NORTH"),
        ("watttime", "watttime:CAISO_NORTH", "CAISO_NORTH"),
        ("watttime", "37.7,-122.4", "37.7,-122.4"),
        ("ukgrid", "GB", "GB"),
        ("ukgrid", "gcp:europe-west2", "13"),
        ("fakeprovider", "DE", "DE"),  # a provider the table does not cover
    ],
)
def test_provider_zone(provider: str, zone: str, expected: str) -> None:
    assert provider_zone(provider, zone) == expected


@pytest.mark.parametrize(
    ("provider", "zone", "message"),
    [
        ("watttime", "US-CA", "no watttime zone is known for 'US-CA'"),
        ("electricitymaps", "watttime:CAISO_NORTH", "is a watttime zone"),
        ("ukgrid", "51.5,-0.1", "ukgrid does not take coordinates"),
        ("electricitymaps", "DK", "no electricitymaps zone is known"),
    ],
)
def test_no_mapping_is_a_one_line_config_error(provider: str, zone: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as exc:
        provider_zone(provider, zone)
    assert "\n" not in str(exc.value)


def test_check_run_zone() -> None:
    check_run_zone("FR", None)
    check_run_zone("watttime:CAISO_NORTH", "watttime")
    check_run_zone("48.8,2.3", "electricitymaps")
    with pytest.raises(ConfigError, match="--provider watttime"):
        check_run_zone("watttime:CAISO_NORTH", None)
    with pytest.raises(UnknownZoneError):
        check_run_zone("Atlantis", None)


def test_bundled_zone_for() -> None:
    assert bundled_zone_for("France") == "FR"
    assert bundled_zone_for("watttime:CAISO_NORTH") == "aws:us-west-1"
    assert bundled_zone_for("electricitymaps:US-MIDA-PJM") is None  # several regions map to it
    assert bundled_zone_for("1.0,2.0") is None
