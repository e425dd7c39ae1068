"""Uncertainty arithmetic: quadrature, sums, intervals, and the documented defaults."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.errors import ConfigError
from carbonledger.lifecycle.uncertainty import (
    UNCERTAINTY_REL,
    combine_rel,
    embodied_rel,
    interval,
    product_rel,
    rel_for,
    sum_rel,
)

rels = st.floats(min_value=0, max_value=5, allow_nan=False)
values = st.floats(min_value=0, max_value=1e9, allow_nan=False)


def test_quadrature() -> None:
    assert combine_rel(0.3, 0.4) == pytest.approx(0.5)
    assert combine_rel() == 0.0
    assert combine_rel(0.1, None) is None
    assert product_rel(0.05, 0.12) == pytest.approx(0.13)


def test_sum_of_terms_adds_absolute_errors_in_quadrature() -> None:
    # 100 ± 30 and 100 ± 40 -> 200 ± 50
    assert sum_rel([(100.0, 0.3), (100.0, 0.4)]) == pytest.approx(0.25)
    assert sum_rel([(1.0, 0.1), (2.0, None)]) is None
    assert sum_rel([]) == 0.0
    assert sum_rel([(0.0, 0.5)]) == 0.0


def test_interval() -> None:
    assert interval(10.0, 0.2) == pytest.approx((8.0, 12.0))
    assert interval(10.0, 1.5) == pytest.approx((0.0, 25.0))  # floored at zero
    assert interval(None, 0.1) is None
    assert interval(1.0, None) is None


def test_bad_relative_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="≥ 0"):
        combine_rel(-0.1)
    with pytest.raises(ConfigError, match="relative error"):
        interval(1.0, math.nan)
    with pytest.raises(ConfigError, match="unknown uncertainty key"):
        rel_for("nope")


def test_table_covers_the_documented_kinds() -> None:
    for key in (
        "energy_counter",
        "power_sampling",
        "model",
        "default",
        "intensity_hourly",
        "intensity_annual",
        "intensity_world_default",
        "pue_provider",
    ):
        assert 0 < UNCERTAINTY_REL[key] <= 1
    for source_type in ("lca", "literature", "model", "default"):
        assert 0 < embodied_rel(source_type) <= 1
    # the better the method, the smaller the error
    assert (
        UNCERTAINTY_REL["energy_counter"]
        < UNCERTAINTY_REL["power_sampling"]
        < UNCERTAINTY_REL["model"]
    )
    assert (
        UNCERTAINTY_REL["intensity_hourly"]
        < UNCERTAINTY_REL["intensity_annual"]
        < UNCERTAINTY_REL["intensity_world_default"]
    )
    assert embodied_rel("lca") < embodied_rel("literature") <= embodied_rel("default")


@given(st.lists(rels, min_size=1, max_size=6))
def test_quadrature_is_between_max_and_sum(rs: list[float]) -> None:
    c = combine_rel(*rs)
    assert c is not None
    assert max(rs) - 1e-12 <= c <= sum(rs) + 1e-9


@given(st.lists(st.tuples(st.floats(min_value=1e-6, max_value=1e9), rels), min_size=1, max_size=6))
def test_sum_rel_of_positive_terms_never_exceeds_the_largest_term_rel(
    terms: list[tuple[float, float]],
) -> None:
    r = sum_rel(terms)
    assert r is not None
    assert r <= max(rel for _, rel in terms) + 1e-9


@given(values, rels)
def test_interval_contains_the_value(value: float, rel: float) -> None:
    iv = interval(value, rel)
    assert iv is not None
    assert iv[0] <= value <= iv[1]
    assert iv[0] >= 0
