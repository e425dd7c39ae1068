"""scripts/build_intensity_tables.py: parsing rules, precedence, repairs, reproducibility."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.intensity.bundled import TABLE_PATH

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


def _load_script() -> ModuleType:
    name = "build_intensity_tables"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


build = _load_script()


# -- the Azure malformed-value rule ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "t_per_kwh"),
    [("000077", 0.000077), ("000402", 0.000402), ("0009999", 0.0009999)],
)
def test_dropped_decimal_point_is_repaired_and_reported(text: str, t_per_kwh: float) -> None:
    value, fix = build.parse_ccf_factor(text)
    assert value == pytest.approx(t_per_kwh)
    assert fix is not None and text in fix


@pytest.mark.parametrize("text", ["0.000415755", "0.00005128", "8e-06", ".0004"])
def test_well_formed_factors_are_read_as_is(text: str) -> None:
    value, fix = build.parse_ccf_factor(text)
    assert value == float(text)
    assert fix is None


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "",
        "77",  # an integer without a leading zero: unit unknown, never guessed
        "415.755",  # g/kWh written in a t/kWh column: out of range
        "0.0",  # zero is not a grid factor
        "-0.0001",
        "0,0004",
        "nan",
    ],
)
def test_other_malformed_factors_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        build.parse_ccf_factor(text)


@given(st.integers(min_value=1, max_value=1999).map(lambda g: g / 1_000_000))
def test_well_formed_factor_round_trip(t_per_kwh: float) -> None:
    text = f"{t_per_kwh:.6f}"
    value, fix = build.parse_ccf_factor(text)
    assert fix is None
    assert value == pytest.approx(t_per_kwh)


# -- uncertainty rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "expected"),
    [(2024, 0.15), (2021, 0.15), (2020, 0.18), (2019, 0.21), (2016, 0.30), (2009, 0.40)],
)
def test_uncertainty_grows_with_age(year: int, expected: float) -> None:
    assert build.uncertainty_for_year(year) == pytest.approx(expected)


def test_undated_uncertainty() -> None:
    assert build.uncertainty_for_year(None) == pytest.approx(0.30)


# -- a whole build on a small synthetic data folder -------------------------------------


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def mini_data(tmp_path: Path) -> Path:
    countries = tmp_path / "grid" / "countries"
    cloud = tmp_path / "grid" / "cloud"
    mix = {
        "FRA": {"carbon_intensity": 56.0, "country_name": "France", "year": 2023},
        "GEO": {"carbon_intensity": 167.6, "country_name": "Georgia", "year": 2023},
        "CAF": {"carbon_intensity": 0.0, "country_name": "Central African Rep.", "year": 2022},
        "XKX": {"carbon_intensity": 500.0, "country_name": "Nowhere", "year": 2022},
    }
    _write(countries / "global_energy_mix.json", json.dumps(mix))
    states = {
        "_unit": {"emissions": "lbs/MWh", "regionCode": "2 digit state/region code"},
        "california": {"emissions": 1000.0, "regionCode": "CA"},
        "georgia": {"emissions": 100.0, "regionCode": "GA"},
        "usa": {"emissions": 998.443, "regionCode": "usa"},
    }
    _write(countries / "usa_states_egrid2016_lbs_per_mwh.json", json.dumps(states))
    _write(countries / "carbon_intensity_per_source.json", '{"world_average": 475}')
    _write(
        cloud / "gcp_region_carbon_2020.csv",
        "Google Cloud Region,Location,Google CFE,Lifecycle grid carbon intensity (gCO2eq / kWh)\n"
        "us-central1,Iowa,0.93,454\nasia-old1,Somewhere,,600\n",
    )
    _write(
        cloud / "gcp_region_carbon_2022.csv",
        "Google Cloud Region,Location,Google CFE,Grid carbon intensity (gCO2eq / kWh)\n"
        "us-central1,Iowa,0.92,460\n",
    )
    _write(
        cloud / "ccf_grid_emissions_factors_aws.csv",
        "Region,Country,NERC Region,CO2e (metric ton/kWh),Source\r\n"
        "us-east-1,United States,SERC,0.000415755,EPA\r\n"
        "eu-west-3,France,,0.000052,EEA",
    )
    _write(
        cloud / "ccf_grid_emissions_factors_azure.csv",
        "Region,Location,NERC Region,CO2e (metric ton/kWh),Source\r\n"
        "France Central,Paris,,0.000067,EEA\r\n"
        "Finland Central,Helsinki,,000077,EEA,\r\n"
        "Broken One,Nowhere,,abc,EEA\r\n"
        "West Europe,Netherlands,,0.00039,EEA",
    )
    _write(
        cloud / "ccf_grid_emissions_factors_gcp.csv",
        "Region,Location,CO2e (metric ton/kWh),Source\r\nus-central1,Iowa,0.000479,Google",
    )
    _write(
        cloud / "mlco2_impact_regions.csv",
        "provider,providerName,offsetRatio,region,regionName,country,state,city,impact,source,"
        "PUE,PUE source,comment\n"
        "aws,Amazon Web Services,0,us-east-1,US East,USA,,Ashburn,367.8,eGRID,,,\n"
        "azure,Azure,100,westeurope,West Europe,Netherlands,,Amsterdam,569,https://x.org/a,,,\n"
        "azure,Azure,100,japaneast,Japan East,Japan,Tokyo,Tokyo,516,https://www.fepc.or.jp/x,,,\n"
        "azure,Azure,100,centralus,Central US,USA,Iowa,Des Moines,736.6,eGRID,,,\n"
        "coreweave,CoreWeave,0,LGA1,US East,USA,NJ,Weehawken,282.75,electricitymap,,,\n",
    )
    return tmp_path


def test_synthetic_build(mini_data: Path) -> None:
    rows, report = build.build(mini_data)
    by_key = {r.key: r for r in rows}
    # order: world, countries, states, cloud
    assert [r.kind for r in rows] == sorted(
        (r.kind for r in rows), key=lambda k: build.KIND_ORDER[k]
    )
    assert rows[0].key == "WORLD"
    # countries: ISO-2 key from the ISO-3 code; zero and non-ISO rows rejected
    assert by_key["FR"].aliases[0] == "FRA"
    assert "CF" not in by_key and "XK" not in by_key
    assert any("CAF" in r for r in report.rejected)
    assert any("XKX" in r for r in report.rejected)
    # states: lbs/MWh → g/kWh
    assert by_key["US-CA"].g_per_kwh == pytest.approx(453.59237)
    assert any("'Georgia' kept for GE, dropped from US-GA" in d for d in report.dropped)
    # GCP: Google's own data beats CCF; the latest year is kept, with its basis
    assert by_key["gcp:us-central1"].g_per_kwh == 460
    assert by_key["gcp:us-central1"].basis == "direct"
    assert by_key["gcp:asia-old1"].year == 2020
    assert by_key["gcp:asia-old1"].basis == "lifecycle"
    # CCF beats ML CO2 Impact; ML CO2 Impact fills gaps; other providers are left out
    assert by_key["aws:us-east-1"].g_per_kwh == pytest.approx(415.755)
    assert by_key["azure:westeurope"].g_per_kwh == pytest.approx(390)
    assert by_key["azure:japaneast"].g_per_kwh == 516
    assert by_key["azure:japaneast"].basis == "unknown"
    assert by_key["azure:centralus"].basis == "direct"  # ML CO2 Impact row citing eGRID
    assert not any(k.startswith("coreweave") for k in by_key)
    # the Azure repairs: value fixed, row noted, both reported; the unreadable row rejected
    assert by_key["azure:finlandcentral"].g_per_kwh == pytest.approx(77)
    assert "000077" in by_key["azure:finlandcentral"].note
    assert any("Finland Central" in f and "000077" in f for f in report.fixed)
    assert any("trailing empty field" in f for f in report.fixed)
    assert any("Broken One" in r for r in report.rejected)
    assert "azure:brokenone" not in by_key


def test_gcp_definition_change_is_enforced(mini_data: Path) -> None:
    path = mini_data / "grid" / "cloud" / "gcp_region_carbon_2022.csv"
    path.write_text(
        "Google Cloud Region,Location,Google CFE,Lifecycle grid carbon intensity (gCO2eq / kWh)\n"
        "us-central1,Iowa,0.92,460\n",
        encoding="utf-8",
    )
    with pytest.raises(SystemExit, match="2021"):
        build.build(mini_data)


def test_synthetic_build_is_deterministic(mini_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    assert build.main([str(mini_data), "--output", str(out), "--quiet"]) == 0
    first = out.read_bytes()
    assert build.main([str(mini_data), "--output", str(out), "--quiet"]) == 0
    assert out.read_bytes() == first
    assert build.main([str(mini_data), "--output", str(out), "--check", "--quiet"]) == 0
    out.write_bytes(first + b"x")
    assert build.main([str(mini_data), "--output", str(out), "--check", "--quiet"]) == 1


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="reference data (../shared/data) absent")
def test_committed_table_is_reproduced_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "grid_intensity.csv"
    assert build.main([str(SHARED_DATA), "--output", str(out), "--quiet"]) == 0
    assert out.read_bytes() == TABLE_PATH.read_bytes()
