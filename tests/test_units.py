import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger import units

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)


@given(finite)
def test_round_trips(x: float) -> None:
    assert units.kwh_to_j(units.j_to_kwh(x)) == pytest.approx(x, rel=1e-12, abs=1e-9)
    assert units.kg_to_g(units.g_to_kg(x)) == pytest.approx(x, rel=1e-12, abs=1e-9)
    assert units.hours_to_s(units.s_to_hours(x)) == pytest.approx(x, rel=1e-12, abs=1e-9)


def test_reference_values() -> None:
    assert units.j_to_kwh(3.6e6) == 1.0
    assert units.lbs_per_mwh_to_g_per_kwh(1000.0) == pytest.approx(453.59237)
    assert units.tonnes_per_kwh_to_g_per_kwh(0.000415755) == pytest.approx(415.755)
    assert units.uj_to_j(2_500_000) == 2.5
    assert units.mj_to_j(1500) == 1.5
    assert units.mw_to_w(250_000) == 250.0
    assert units.carbon_g(2.0, 300.0) == 600.0
