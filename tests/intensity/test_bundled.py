"""The bundled table: values against hand-computed conversions, provenance, invariants."""

from __future__ import annotations

import subprocess
import sys

import pytest

from carbonledger.errors import UnknownZoneError
from carbonledger.intensity.base import BASES, IntensitySource
from carbonledger.intensity.bundled import (
    TABLE_PATH,
    WORLD_DEFAULT_UNCERTAINTY_REL,
    BundledIntensity,
    bundled_intensity,
    known_zones,
    load_table,
    world_default,
    zone_record,
)
from carbonledger.intensity.zones import KINDS, fold_name
from carbonledger.records import Method


def test_egrid_state_converted_from_lbs_per_mwh() -> None:
    # eGRID 2016 California: 452.541 lbs/MWh × 0.45359237 g/kWh per lb/MWh = 205.2689 g/kWh
    value = bundled_intensity("US-CA")
    assert value.g_per_kwh == pytest.approx(452.541 * 0.45359237, abs=5e-4)
    assert value.g_per_kwh == pytest.approx(205.269, abs=1e-9)
    assert value.year == 2016
    assert value.basis == "direct"
    assert "eGRID2016" in value.source
    # Wyoming: 2026.26 lbs/MWh → 919.096 g/kWh
    assert bundled_intensity("US-WY").g_per_kwh == pytest.approx(919.096, abs=1e-3)


def test_ccf_factor_converted_from_tonnes_per_kwh() -> None:
    # CCF us-east-1: 0.000415755 t/kWh × 1e6 g/t = 415.755 g/kWh (eGRID2019 SERC, direct)
    value = bundled_intensity("aws:us-east-1")
    assert value.g_per_kwh == pytest.approx(415.755, abs=1e-9)
    assert value.year == 2019
    assert value.basis == "direct"
    assert value.source.startswith("bundled:Cloud Carbon Footprint")
    # eu-north-1: 0.000008 t/kWh = 8 g/kWh
    assert bundled_intensity("aws:eu-north-1").g_per_kwh == pytest.approx(8.0)


def test_azure_malformed_values_are_repaired_and_flagged() -> None:
    # "000077" in the CCF Azure file: read as 0.000077 t/kWh = 77 g/kWh, and said so
    finland = zone_record("azure:finlandcentral")
    assert finland.g_per_kwh == pytest.approx(77.0)
    assert "000077" in finland.note
    germany = zone_record("azure:germanywestcentral")
    assert germany.g_per_kwh == pytest.approx(402.0)
    assert "000402" in germany.note
    # a well-formed neighbour carries no note
    assert zone_record("azure:francecentral").note == ""


def test_country_value_has_year_source_and_lifecycle_basis() -> None:
    value = bundled_intensity("FR")
    assert value.zone == "FR"
    assert value.g_per_kwh == pytest.approx(56.039)
    assert value.year == 2023
    assert value.method is Method.MODELED
    assert value.signal == "average"
    assert value.basis == "lifecycle"
    assert value.uncertainty_rel == pytest.approx(0.15)
    assert value.source == "bundled:Ember/OWID 2023 via CodeCarbon"
    assert value.at is None
    assert bundled_intensity("France") == bundled_intensity("FRA") == value


def test_gcp_uses_latest_google_year_with_operational_basis() -> None:
    value = bundled_intensity("gcp:europe-west1")
    assert value.year == 2024
    assert value.g_per_kwh == pytest.approx(103.37)
    assert value.basis == "direct"  # Google's definition from 2021: operational
    assert "Google Cloud region carbon 2024" in value.source


def test_precedence_ccf_over_mlco2_and_mlco2_fills_gaps() -> None:
    # Azure westeurope is in CCF (390 g, EEA) and ML CO2 Impact (569 g): CCF wins
    assert bundled_intensity("azure:westeurope").g_per_kwh == pytest.approx(390.0)
    # Azure japaneast is only in ML CO2 Impact: undated, basis unknown, wider uncertainty
    japan = bundled_intensity("azure:japaneast")
    assert japan.g_per_kwh == pytest.approx(516.0)
    assert japan.year is None
    assert japan.basis == "unknown"
    assert japan.uncertainty_rel == pytest.approx(0.30)
    assert "ML CO2 Impact" in japan.source


def test_world_default_is_labelled_default_with_wide_uncertainty() -> None:
    value = world_default()
    assert value.zone == "WORLD"
    assert value.method is Method.DEFAULT
    assert value.g_per_kwh == pytest.approx(475.0)
    assert value.uncertainty_rel == WORLD_DEFAULT_UNCERTAINTY_REL >= 0.5
    assert "IEA" in value.source and "grid_intensity" not in value.source
    # asked for explicitly, the world average is a modelled figure with its own uncertainty
    explicit = bundled_intensity("WORLD")
    assert explicit.method is Method.MODELED
    assert explicit.uncertainty_rel is not None
    assert explicit.uncertainty_rel < value.uncertainty_rel


def test_bundled_source_implements_the_protocol() -> None:
    source: IntensitySource = BundledIntensity()
    assert source.name == "bundled"
    assert source.intensity("DE") == bundled_intensity("DE")
    assert source.intensity("DE", at=1.7e9) == bundled_intensity("DE")
    with pytest.raises(UnknownZoneError):
        source.intensity("Atlantis")


def test_known_zones_lists_every_kind() -> None:
    zones = known_zones()
    assert zones[0] == "WORLD"
    assert {"FR", "US-CA", "aws:us-east-1", "gcp:europe-west1", "azure:francecentral"} <= set(zones)
    assert len(zones) == len(set(zones)) > 300


def test_table_invariants() -> None:
    rows = load_table()
    assert load_table() is rows  # read once
    folded: dict[str, str] = {}
    for rec in rows:
        assert rec.kind in KINDS
        assert rec.basis in BASES
        assert rec.signal == "average"
        assert rec.g_per_kwh > 0
        assert 0.1 <= rec.uncertainty_rel <= 0.4
        assert rec.source
        if rec.kind == "country":
            assert len(rec.key) == 2 and rec.key.isupper()
            assert rec.basis == "lifecycle"
            assert any(len(a) == 3 and a.isupper() for a in rec.aliases)  # ISO-3
        if rec.kind == "us-state":
            assert rec.key.startswith("US-") and rec.year == 2016
        if rec.kind == "cloud":
            assert rec.key.split(":")[0] in ("aws", "azure", "gcp")
        for spelling in (rec.key, rec.name, *rec.aliases):
            if rec.kind == "cloud" and spelling != rec.key:
                continue
            owner = folded.setdefault(fold_name(spelling), rec.key)
            assert owner == rec.key or spelling == rec.name, (spelling, owner, rec.key)


def test_zero_intensity_rows_are_not_bundled() -> None:
    # the source has 0.0 for the Central African Republic: missing data, not a zero grid
    assert "CF" not in known_zones()
    with pytest.raises(UnknownZoneError):
        bundled_intensity("CF")


def test_table_file_is_packaged_data() -> None:
    assert TABLE_PATH.name == "grid_intensity.csv"
    assert TABLE_PATH.parent.name == "data"
    assert TABLE_PATH.read_text(encoding="utf-8").startswith("key,kind,name,aliases,")


def test_import_is_cheap() -> None:
    code = (
        "import sys, carbonledger.intensity.bundled as b; "
        "heavy = {'difflib', 'pandas', 'numpy', 'httpx'} & set(sys.modules); "
        "assert not heavy, heavy; "
        "assert b.load_table.cache_info().currsize == 0, 'table read at import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
