"""Breakeven and indifference maths."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import carbonledger as cl
from carbonledger.errors import ConfigError
from carbonledger.lifecycle.decisions import HOURS_PER_YEAR, Option, breakeven, indifference


def test_breakeven_hours() -> None:
    # 150 kg new card; saves 100 W; PUE 1.2; 400 g/kWh -> 48 g/h -> 3,125 h
    r = breakeven(
        embodied_new_kg=150, power_old_w=300, power_new_w=200, intensity_g_per_kwh=400, pue=1.2
    )
    assert r.saved_g_per_hour == pytest.approx(48.0)
    assert r.hours == pytest.approx(3125.0)
    assert r.years == pytest.approx(3125.0 / HOURS_PER_YEAR)
    assert r.pays_back
    assert r.to_dict()["power_saving_w"] == 100
    assert cl.breakeven is breakeven


@pytest.mark.parametrize(
    ("old", "new", "intensity"), [(200, 200, 400), (200, 300, 400), (300, 200, 0)]
)
def test_no_saving_never_pays_back(old: float, new: float, intensity: float) -> None:
    r = breakeven(
        embodied_new_kg=150, power_old_w=old, power_new_w=new, intensity_g_per_kwh=intensity
    )
    assert r.hours is None and r.years is None and not r.pays_back
    assert r.note


def test_zero_embodied_pays_back_at_once() -> None:
    assert (
        breakeven(embodied_new_kg=0, power_old_w=2, power_new_w=1, intensity_g_per_kwh=1).hours == 0
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"embodied_new_kg": -1}, "embodied_new_kg"),
        ({"power_old_w": -1}, "power_old_w"),
        ({"intensity_g_per_kwh": float("nan")}, "intensity_g_per_kwh"),
        ({"pue": 0.5}, "pue"),
    ],
)
def test_breakeven_validation(kwargs: dict[str, float], field: str) -> None:
    args = {
        "embodied_new_kg": 1.0,
        "power_old_w": 2.0,
        "power_new_w": 1.0,
        "intensity_g_per_kwh": 1.0,
    }
    args.update(kwargs)
    with pytest.raises(ConfigError, match=field):
        breakeven(**args)


@given(
    st.floats(min_value=0, max_value=1e5),
    st.floats(min_value=1, max_value=1e4),
    st.floats(min_value=0, max_value=0.99),
    st.floats(min_value=1, max_value=1000),
    st.floats(min_value=1, max_value=2),
)
def test_at_breakeven_the_saving_equals_the_embodied(
    kg: float, p_old: float, frac: float, intensity: float, pue: float
) -> None:
    r = breakeven(
        embodied_new_kg=kg,
        power_old_w=p_old,
        power_new_w=p_old * frac,
        intensity_g_per_kwh=intensity,
        pue=pue,
    )
    assert r.hours is not None
    saved_g = (p_old - p_old * frac) / 1000 * pue * intensity * r.hours
    assert saved_g == pytest.approx(kg * 1000, rel=1e-9, abs=1e-6)


EDGE = Option("edge", active_power_w=10, idle_power_w=1, embodied_kg=20)
CLOUD = Option("cloud", active_power_w=30, idle_power_w=0, embodied_kg=5, pue=1.1)


def test_indifference_points() -> None:
    r = indifference(EDGE, CLOUD, intensity_g_per_kwh=400, service_life_years=4)
    life = 4 * HOURS_PER_YEAR
    # energy: 1·(T − u) + 10u = 33u  ->  u = T / 24
    assert r.energy_hours == pytest.approx(life / 24)
    assert r.energy_utilization == pytest.approx(1 / 24)
    assert r.energy_cheaper_below == "cloud" and r.energy_cheaper_above == "edge"
    # carbon: 20,000 + 0.4·(T + 9u) = 5,000 + 0.4·33u  ->  u = (15,000 + 0.4T) / (0.4·24)
    assert r.carbon_hours == pytest.approx((15_000 + 0.4 * life) / (0.4 * 24))
    assert r.carbon_cheaper_below == "cloud" and r.carbon_cheaper_above == "edge"
    u = r.carbon_hours
    assert u is not None
    assert EDGE.carbon_g(u, life, 400) == pytest.approx(CLOUD.carbon_g(u, life, 400))
    assert r.in_life(u)
    d = r.to_dict()
    assert d["carbon_point_in_life"] is True
    assert set(d["at_zero_use"]) == {"edge", "cloud"}
    assert r.cheaper_at(0.0, "energy") == "cloud" and r.cheaper_at(life, "energy") == "edge"


def test_parallel_options_never_cross() -> None:
    a = Option("a", active_power_w=10, embodied_kg=1)
    b = Option("b", active_power_w=10, embodied_kg=2)
    r = indifference(a, b, intensity_g_per_kwh=100, service_life_years=1)
    assert r.carbon_hours is None and r.energy_hours is None
    assert r.carbon_cheaper_below == r.carbon_cheaper_above == "a"
    assert r.energy_cheaper_below is None  # identical energy


def test_indifference_validation() -> None:
    with pytest.raises(ConfigError, match="service_life_years"):
        indifference(EDGE, CLOUD, intensity_g_per_kwh=1, service_life_years=0)
    with pytest.raises(ConfigError, match=r"option_a\.active_power_w"):
        indifference(Option("x", -1), CLOUD, intensity_g_per_kwh=1, service_life_years=1)
    with pytest.raises(ConfigError, match="different names"):
        indifference(EDGE, EDGE, intensity_g_per_kwh=1, service_life_years=1)
    with pytest.raises(ConfigError, match=r"option_b\.pue"):
        indifference(EDGE, Option("y", 1, pue=0.5), intensity_g_per_kwh=1, service_life_years=1)


@given(
    st.floats(min_value=0, max_value=100),
    st.floats(min_value=0, max_value=100),
    st.floats(min_value=0, max_value=100),
    st.floats(min_value=0, max_value=100),
    st.floats(min_value=0, max_value=500),
    st.floats(min_value=0, max_value=500),
    st.floats(min_value=1, max_value=1000),
)
def test_at_the_carbon_point_both_options_cost_the_same(
    pa: float, ia: float, pb: float, ib: float, ea: float, eb: float, intensity: float
) -> None:
    a, b = Option("a", pa, ia, ea), Option("b", pb, ib, eb)
    r = indifference(a, b, intensity_g_per_kwh=intensity, service_life_years=3)
    if r.carbon_hours is not None:
        life = r.service_life_h
        x = r.carbon_hours
        ca, cb = a.carbon_g(x, life, intensity), b.carbon_g(x, life, intensity)
        # near-parallel lines cross far away and the crossing is ill-conditioned: rounding
        # in the slopes moves it by ~eps·x·(|sa|+|sb|)/|sa−sb|, so the two costs there may
        # differ by ~eps·x·(|sa|+|sb|); allow that (with a wide safety factor), no more
        sa = (a.carbon_g(life, life, intensity) - a.carbon_g(0, life, intensity)) / life
        sb = (b.carbon_g(life, life, intensity) - b.carbon_g(0, life, intensity)) / life
        rounding = 1e-12 * (abs(x) * (abs(sa) + abs(sb)) + abs(ca) + abs(cb))
        assert abs(ca - cb) <= 1e-6 * max(abs(ca), abs(cb)) + 1e-3 + rounding


def test_more_power_gives_a_negative_saving_not_zero() -> None:
    r = breakeven(embodied_new_kg=100, power_old_w=200, power_new_w=300, intensity_g_per_kwh=300)
    assert r.saved_g_per_hour == pytest.approx(-30.0)
    assert r.hours is None and "draws more power" in r.note


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"embodied_new_kg": 1e308}, "embodied_new_kg"),
        (
            {"embodied_new_kg": 1e300, "power_new_w": 299.9999999999, "intensity_g_per_kwh": 1e-10},
            "embodied_new_kg",
        ),
        ({"power_old_w": 1e308, "power_new_w": 0.0, "intensity_g_per_kwh": 1e10}, "power_old_w"),
    ],
)
def test_breakeven_overflow_is_a_config_error(kwargs: dict[str, float], field: str) -> None:
    args: dict[str, float] = {
        "embodied_new_kg": 1.0,
        "power_old_w": 300.0,
        "power_new_w": 200.0,
        "intensity_g_per_kwh": 300.0,
    }
    args.update(kwargs)
    with pytest.raises(ConfigError, match=field):
        breakeven(**args)


def test_crossing_at_zero_is_plus_zero() -> None:
    r = indifference(
        Option("a", 0.0), Option("b", 10.0), intensity_g_per_kwh=300, service_life_years=4
    )
    assert r.energy_hours == 0.0 and str(r.energy_hours) == "0.0"
    assert r.cheaper_at(1.0, "energy") == "a"


def test_indifference_overflow_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"option_a\.embodied_kg"):
        indifference(
            Option("a", 10.0, embodied_kg=1e308),
            Option("b", 5.0),
            intensity_g_per_kwh=300,
            service_life_years=4,
        )


def test_breakeven_has_an_interval_from_the_inputs_errors() -> None:
    from carbonledger.lifecycle.decisions import breakeven as be

    # measured powers (±5 %): a bounded interval
    r = be(
        embodied_new_kg=150,
        power_old_w=400,
        power_new_w=200,
        intensity_g_per_kwh=300,
        power_rel=0.05,
    )
    assert r.hours is not None and r.hours_interval is not None
    low, high = r.hours_interval
    assert high is not None and low < r.hours < high
    assert r.to_dict()["hours_interval"] is not None
    # a saving within the powers' uncertainty: it may never pay back
    close = be(embodied_new_kg=150, power_old_w=400, power_new_w=380, intensity_g_per_kwh=300)
    assert close.hours_interval is not None and close.hours_interval[1] is None
    assert "may never pay back" in close.note


def test_indifference_points_have_intervals() -> None:
    from carbonledger.lifecycle.decisions import Option
    from carbonledger.lifecycle.decisions import indifference as ind

    r = ind(
        Option("old", 300, 100, 0),
        Option("new", 150, 50, 500),
        intensity_g_per_kwh=400,
        service_life_years=4,
    )
    assert r.carbon_hours is not None and r.carbon_hours_interval is not None
    low, high = r.carbon_hours_interval
    assert low <= r.carbon_hours and (high is None or high >= r.carbon_hours)
