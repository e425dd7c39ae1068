"""IntensitySeries: a step function; integrals and means must be exact."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.errors import DataError
from carbonledger.intensity.series import IntensitySeries
from carbonledger.records import Method


def make(values: list[float], step: float = 10.0, t0: float = 1000.0) -> IntensitySeries:
    return IntensitySeries.from_pairs(
        [(t0 + i * step, v) for i, v in enumerate(values)], "XX", last_step_s=step
    )


def test_value_holds_until_the_next_and_last_for_its_step() -> None:
    s = make([100.0, 300.0])
    assert s.value_at(1000.0) == 100.0
    assert s.value_at(1009.999) == 100.0
    assert s.value_at(1010.0) == 300.0
    assert s.value_at(1019.999) == 300.0
    assert s.value_at(1020.0) is None and s.value_at(999.0) is None
    assert (s.start, s.end) == (1000.0, 1020.0)


def test_partial_intervals_are_exact() -> None:
    s = make([100.0, 300.0])
    assert s.integral(1005.0, 1015.0) == (100.0 * 5 + 300.0 * 5, 10.0)
    assert s.mean_over(1005.0, 1015.0) == (200.0, 1.0)
    mean, covered = s.mean_over(990.0, 1010.0)  # half outside
    assert mean == 100.0 and covered == 0.5
    assert s.mean_over(2000.0, 3000.0) == (None, 0.0)


def test_intensity_value_carries_provenance_and_estimated_flag() -> None:
    s = IntensitySeries.from_pairs(
        [(0.0, 50.0), (10.0, 60.0)],
        "DE",
        estimated=(False, True),
        source="csv:x",
        basis="lifecycle",
        last_step_s=10.0,
    )
    v0, v1 = s.intensity("DE", 5.0), s.intensity("DE", 15.0)
    assert v0.method is Method.MEASURED and v1.method is Method.MODELED
    assert v1.g_per_kwh == 60.0 and v1.source == "csv:x" and v1.at == 10.0
    with pytest.raises(DataError):
        s.intensity("DE", 25.0)


@pytest.mark.parametrize(
    "pairs",
    [[], [(0.0, 1.0), (0.0, 2.0)], [(0.0, -1.0)], [(0.0, float("nan"))]],
)
def test_invalid_series_are_data_errors(pairs: list[tuple[float, float]]) -> None:
    with pytest.raises(DataError):
        IntensitySeries(tuple(t for t, _ in pairs), tuple(v for _, v in pairs), "XX")


@given(
    values=st.lists(st.floats(min_value=0, max_value=2000), min_size=1, max_size=40),
    a=st.floats(min_value=-50, max_value=450),
    width=st.floats(min_value=0.001, max_value=500),
    cut=st.floats(min_value=0, max_value=1),
)
def test_integral_is_additive_and_bounded(
    values: list[float], a: float, width: float, cut: float
) -> None:
    s = make(values)
    b = a + width
    m = a + cut * width
    whole, covered = s.integral(1000 + a, 1000 + b)
    left, cl = s.integral(1000 + a, 1000 + m)
    right, cr = s.integral(1000 + m, 1000 + b)
    assert whole == pytest.approx(left + right, rel=1e-9, abs=1e-6)
    assert covered == pytest.approx(cl + cr, rel=1e-9, abs=1e-9)
    if covered > 0:
        mean = whole / covered
        assert min(values) - 1e-6 <= mean <= max(values) + 1e-6


@given(
    values=st.lists(st.floats(min_value=0, max_value=2000), min_size=2, max_size=30),
    i=st.integers(min_value=0, max_value=28),
    j=st.integers(min_value=1, max_value=29),
)
def test_slice_keeps_the_same_values(values: list[float], i: int, j: int) -> None:
    s = make(values)
    lo, hi = sorted((min(i, len(values) - 1), min(j, len(values))))
    if lo == hi:
        hi = lo + 1
    part = s.slice(1000 + lo * 10.0, 1000 + hi * 10.0)
    assert list(part.values_g_per_kwh) == values[lo:hi]
    assert part.end == 1000 + hi * 10.0


def test_intensities_above_any_grid_are_refused_wherever_they_come_from() -> None:
    import pytest

    from carbonledger.errors import DataError
    from carbonledger.intensity.base import IntensityValue
    from carbonledger.intensity.series import IntensitySeries
    from carbonledger.records import Method

    with pytest.raises(DataError, match="above the 5000 g/kWh"):
        IntensitySeries.from_pairs([(0.0, 100.0), (3600.0, 1e308)], "XX")
    with pytest.raises(DataError, match=r"outside 0\.\.5000"):
        IntensityValue(1e308, "XX", "average", "lifecycle", Method.MEASURED, "provider")
    with pytest.raises(DataError):
        IntensityValue(float("nan"), "XX", "average", "lifecycle", Method.MEASURED, "provider")
