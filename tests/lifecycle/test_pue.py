"""Cloud providers' default PUE, for their own regions only."""

import pytest

from carbonledger.lifecycle.pue import PROVIDER_PUE, default_pue


@pytest.mark.parametrize(
    ("zone", "pue"),
    [
        ("aws:us-east-1", 1.135),
        ("gcp:europe-west1", 1.10),
        ("azure:westeurope", 1.185),
        ("AWS:eu-west-3", 1.135),
        ("google:us-central1", 1.10),
        ("Google Cloud:us-central1", 1.10),
    ],
)
def test_provider_regions_get_the_provider_pue(zone: str, pue: float) -> None:
    found = default_pue(zone)
    assert found is not None
    assert found[0] == pytest.approx(pue)
    assert found[1].startswith("default:")


@pytest.mark.parametrize("zone", [None, "", "FR", "US-CA", "WORLD", "ovh:gra", "us-east-1"])
def test_other_zones_get_none(zone: str | None) -> None:
    assert default_pue(zone) is None


def test_every_default_is_plausible_and_sourced() -> None:
    for value, source in PROVIDER_PUE.values():
        assert 1.0 < value < 1.3
        assert "Cloud Carbon Footprint" in source
