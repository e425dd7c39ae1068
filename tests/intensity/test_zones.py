"""Zone spellings: countries, US states, cloud regions, Electricity Maps ids, the world."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.errors import DataError, UnknownZoneError
from carbonledger.intensity.zones import (
    ZoneInfo,
    cloud_key,
    fold_name,
    normalize_zone,
    resolve_zone,
)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # countries: ISO-2, ISO-3, names in any case, accents optional, extra spaces
        ("FR", "FR"),
        ("fr", "FR"),
        ("FRA", "FR"),
        ("fra", "FR"),
        ("France", "FR"),
        ("  FRANCE ", "FR"),
        ("French Republic", "FR"),
        ("DEU", "DE"),
        ("Germany", "DE"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("GBR", "GB"),
        ("USA", "US"),
        ("United States", "US"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Czechia", "CZ"),
        ("Czech Republic", "CZ"),
        ("Georgia", "GE"),  # the country wins the bare name
        # Electricity Maps zone ids of whole countries are ISO-2
        ("DE", "DE"),
        ("GB", "GB"),
        ("ZA", "ZA"),
        # US states (eGRID state codes)
        ("US-CA", "US-CA"),
        ("us-ca", "US-CA"),
        ("US_CA", "US-CA"),
        ("USA-CA", "US-CA"),
        ("egrid:CA", "US-CA"),
        ("eGRID:wy", "US-WY"),
        ("California", "US-CA"),
        ("district of columbia", "US-DC"),
        ("US-GA", "US-GA"),
        ("Georgia, US", "US-GA"),
        ("Georgia, USA", "US-GA"),
        ("Texas, US", "US-TX"),
        # cloud regions, provider spellings normalised
        ("aws:us-east-1", "aws:us-east-1"),
        ("AWS:us-east-1", "aws:us-east-1"),
        ("aws:US-EAST-1", "aws:us-east-1"),
        ("amazon:eu-west-3", "aws:eu-west-3"),
        ("aws/eu-west-3", "aws:eu-west-3"),
        ("aws:us-east-1a", "aws:us-east-1"),  # availability zone → region
        ("gcp:europe-west1", "gcp:europe-west1"),
        ("GCP:europe-west1", "gcp:europe-west1"),
        ("google:europe-west1", "gcp:europe-west1"),
        ("gcp:europe-west1-b", "gcp:europe-west1"),  # zone → region
        ("azure:francecentral", "azure:francecentral"),
        ("Azure:francecentral", "azure:francecentral"),
        ("azure:France Central", "azure:francecentral"),
        ("AZURE: France Central ", "azure:francecentral"),
        ("azure:france-central", "azure:francecentral"),
        ("microsoft:West Europe", "azure:westeurope"),
        # bare region names that only one provider has
        ("us-east-1", "aws:us-east-1"),
        ("europe-west1", "gcp:europe-west1"),
        ("francecentral", "azure:francecentral"),
        # the world
        ("WORLD", "WORLD"),
        ("world", "WORLD"),
        ("Global", "WORLD"),
    ],
)
def test_spellings_resolve(text: str, key: str) -> None:
    assert normalize_zone(text) == key
    assert resolve_zone(text).key == key


def test_zone_info_is_frozen_with_kind_and_name() -> None:
    info = resolve_zone("France")
    assert info == ZoneInfo(key="FR", kind="country", name="France")
    with pytest.raises(AttributeError):
        info.key = "DE"  # type: ignore[misc]
    assert resolve_zone("US-CA") == ZoneInfo("US-CA", "us-state", "California")
    assert resolve_zone("aws:us-east-1").kind == "cloud"
    assert resolve_zone("WORLD").kind == "world"
    assert "Paris" in resolve_zone("azure:francecentral").name


def test_state_codes_do_not_shadow_countries() -> None:
    # "CA" is Canada; California is US-CA
    assert normalize_zone("CA") == "CA"
    assert resolve_zone("CA").name == "Canada"
    assert normalize_zone("IN") == "IN"  # India, not Indiana


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Frnace", "France"),
        ("Germny", "Germany"),
        ("aws:us-east-9", "aws:us-east-1"),
        ("azure:francecentrl", "azure:francecentral"),
        ("gcp:europe-west99", "gcp:europe-west9"),
        ("DK-DK1", "DK"),  # an Electricity Maps sub-zone: its country is offered
        ("SE-SE3", "SE"),
    ],
)
def test_unknown_zone_suggests_close_matches(text: str, expected: str) -> None:
    with pytest.raises(UnknownZoneError) as caught:
        resolve_zone(text)
    err = caught.value
    assert isinstance(err, DataError)
    assert err.zone == text
    assert 1 <= len(err.suggestions) <= 3
    assert expected in err.suggestions
    assert "\n" not in str(err)
    assert f"unknown zone {text!r}" in str(err)


@pytest.mark.parametrize("text", ["", "   ", "foo:bar", "Atlantis-Nowhere-42", "aws:"])
def test_unknown_zone_without_close_match(text: str) -> None:
    with pytest.raises(UnknownZoneError):
        resolve_zone(text)


def test_sub_national_electricity_maps_zones_are_not_guessed() -> None:
    # a balancing area is not its country: no silent mapping
    with pytest.raises(UnknownZoneError):
        resolve_zone("US-CAL-CISO")


def test_fold_name() -> None:
    assert fold_name("Côte d'Ivoire") == "cote d ivoire"
    assert fold_name("US_CA") == fold_name("us-ca") == fold_name(" US CA ") == "us ca"
    assert fold_name("Bosnia & Herzegovina") == "bosnia and herzegovina"


def test_cloud_key() -> None:
    assert cloud_key("azure", "France Central") == "azure:francecentral"
    assert cloud_key("azure", "east_us-2") == "azure:eastus2"
    assert cloud_key("aws", " US-East-1 ") == "aws:us-east-1"
    assert cloud_key("gcp", "europe west1") == "gcp:europe-west1"


@given(st.sampled_from(["FR", "DE", "US-CA", "aws:us-east-1", "gcp:europe-west1"]), st.data())
def test_normalize_is_idempotent_and_case_blind(key: str, data: st.DataObject) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(key), max_size=len(key)))
    spelled = "".join(c.upper() if f else c.lower() for c, f in zip(key, flips, strict=True))
    assert normalize_zone(spelled) == key
    assert normalize_zone(normalize_zone(spelled)) == key
