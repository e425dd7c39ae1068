from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.envaudit.cost import transfer_cost, transfer_kwh_per_gb


def test_factor_is_the_source_value_in_2015_and_halves_every_two_years() -> None:
    assert transfer_kwh_per_gb(2015)[1] == pytest.approx(0.06)
    assert transfer_kwh_per_gb(2017)[1] == pytest.approx(0.03)
    assert transfer_kwh_per_gb(2019)[1] == pytest.approx(0.015)


@given(st.integers(2000, 2060))
def test_interval_brackets_the_central_value(year: int) -> None:
    low, central, high = transfer_kwh_per_gb(year)
    assert 0 < low < central <= high


def test_cost_scales_with_bytes_and_transfers_and_is_priced_in_the_zone() -> None:
    one = transfer_cost(10**9, 1, zone="FR", year=2017)
    many = transfer_cost(10**9, 100, zone="FR", year=2017)
    assert one.energy_kwh == pytest.approx(0.03)
    assert many.energy_kwh == pytest.approx(3.0)
    assert one.method == "modeled" and "Aslan" in one.source
    assert one.intensity_zone == "FR"
    assert one.kgco2e is not None and one.kgco2e_interval is not None
    assert one.kgco2e_interval[0] < one.kgco2e < one.kgco2e_interval[1]
    assert one.storage_kwh is None and "not estimated" in one.storage_note
    world = transfer_cost(10**9, 1, year=2017)
    assert world.intensity_zone == "WORLD" and world.intensity_method == "default"
    assert transfer_cost(0, 5, year=2020).energy_kwh == 0
