import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.sampling.integrate import (
    EnergyAccumulator,
    counter_delta,
    power_integration_rel,
    trapezoid_j,
)

RANGE = 262_143_328_850


@given(
    start=st.integers(min_value=0, max_value=RANGE - 1),
    steps=st.lists(st.integers(min_value=0, max_value=RANGE // 2), min_size=1, max_size=50),
)
def test_wrapping_counter_sums_to_true_energy(start: int, steps: list[int]) -> None:
    value = start
    total = 0.0
    for step in steps:
        new = (value + step) % RANGE
        total += counter_delta(value, new, RANGE)
        value = new
    assert total == sum(steps)


def test_backwards_without_range_is_an_error() -> None:
    with pytest.raises(ValueError):
        counter_delta(10, 5, None)


@given(
    p=st.floats(min_value=0, max_value=1e4),
    q=st.floats(min_value=0, max_value=1e4),
    dt=st.floats(min_value=0, max_value=1e4),
)
def test_trapezoid_between_min_and_max(p: float, q: float, dt: float) -> None:
    e = trapezoid_j(p, q, dt)
    assert min(p, q) * dt - 1e-6 <= e <= max(p, q) * dt + 1e-6


@given(
    power=st.floats(min_value=0, max_value=1000),
    times=st.lists(st.floats(min_value=0, max_value=1e5), min_size=2, max_size=30, unique=True),
)
def test_constant_power_integrates_exactly(power: float, times: list[float]) -> None:
    acc = EnergyAccumulator()
    ts = sorted(times)
    for t in ts:
        acc.add_power(t, power)
    assert acc.energy_j == pytest.approx(power * (ts[-1] - ts[0]), rel=1e-9, abs=1e-6)


def test_invalid_power_rejected() -> None:
    acc = EnergyAccumulator()
    with pytest.raises(ValueError):
        acc.add_power(0.0, float("nan"))
    with pytest.raises(ValueError):
        acc.add_power(0.0, -1.0)


@given(
    a=st.floats(min_value=1e-3, max_value=1e7),
    b=st.floats(min_value=1e-3, max_value=1e7),
    base=st.floats(min_value=0.0, max_value=0.5),
)
def test_power_integration_rel_decreases_with_the_window(a: float, b: float, base: float) -> None:
    short, long = sorted((a, b))
    assert power_integration_rel(short, base) >= power_integration_rel(long, base) >= base
    assert power_integration_rel(short, base) <= 1.0


@given(
    window=st.floats(min_value=1e7, max_value=1e12),
    base=st.floats(min_value=0.0, max_value=0.5),
)
def test_power_integration_rel_is_the_base_for_long_windows(window: float, base: float) -> None:
    assert power_integration_rel(window, base) == pytest.approx(base, abs=1e-6)


def test_power_integration_rel_short_windows() -> None:
    assert power_integration_rel(0.3, 0.1) == 1.0  # shorter than the averaging window
    assert power_integration_rel(0.0, 0.1) == 1.0
    assert power_integration_rel(60.0, 0.1) == pytest.approx(0.1 + 1.1 / 60)
    no_lag = power_integration_rel(5.0, 0.1, update_period_s=0.0, averaging_window_s=0.0)
    assert no_lag == 0.1
    with pytest.raises(ValueError):
        power_integration_rel(1.0, -0.1)
