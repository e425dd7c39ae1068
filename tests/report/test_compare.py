"""A/B comparison: bootstrap intervals, and verdicts that claim no more than they show."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.errors import ConfigError
from carbonledger.report.compare import bootstrap_mean_difference, compare_groups, percentile


def runs(energies: list[float], acc: list[float] | None = None) -> list[dict[str, object]]:
    return [
        {
            "energy_kwh": e,
            "total_kgco2e": e * 0.05,
            "duration_s": 100.0,
            "metrics": {} if acc is None else {"accuracy": acc[i]},
        }
        for i, e in enumerate(energies)
    ]


def test_clear_difference_is_reported_with_its_interval() -> None:
    a = runs([1.0, 1.1, 0.9, 1.05, 0.95, 1.0])
    b = runs([2.0, 2.1, 1.9, 2.05, 1.95, 2.0])
    result = {c.quantity: c for c in compare_groups(a, b, resamples=2000)}
    energy = result["energy_kwh"]
    assert energy.mean_a == pytest.approx(1.0) and energy.mean_b == pytest.approx(2.0)
    assert energy.difference == pytest.approx(1.0)
    assert energy.interval is not None and 0.8 < energy.interval[0] < 1.0 < energy.interval[1] < 1.2
    assert energy.significant and "B is higher than A" in energy.verdict
    assert "95 % interval" in energy.verdict
    duration = result["duration_s"]
    assert not duration.significant and "no clear difference" in duration.verdict


def test_overlapping_groups_give_no_clear_difference() -> None:
    a = runs([1.0, 3.0, 2.0, 1.5])
    b = runs([1.2, 2.9, 2.2, 1.4])
    energy = compare_groups(a, b, resamples=2000)[0]
    assert energy.interval is not None and energy.interval[0] < 0 < energy.interval[1]
    assert "no clear difference" in energy.verdict and "includes 0" in energy.verdict
    assert "rough" in energy.verdict  # fewer than five runs per group


def test_single_run_per_group_says_no_interval() -> None:
    energy = compare_groups(runs([1.0]), runs([5.0]))[0]
    assert energy.interval is None and not energy.significant
    assert "cannot be computed" in energy.verdict
    assert "higher" not in energy.verdict and "lower" not in energy.verdict
    assert energy.difference == pytest.approx(4.0)


def test_shared_metrics_only_and_missing_counted() -> None:
    a = runs([1.0, 1.0], acc=[0.9, 0.8])
    b = runs([1.0, 1.0], acc=[0.7, 0.6])
    a[0]["metrics"]["only_a"] = 1.0  # type: ignore[index]
    b[1]["energy_kwh"] = None
    result = {c.quantity: c for c in compare_groups(a, b, resamples=500)}
    assert "only_a" not in result and "accuracy" in result
    assert result["energy_kwh"].n_b == 1 and result["energy_kwh"].missing_b == 1
    assert result["energy_kwh"].interval is None
    d = result["accuracy"].to_dict()
    assert d["difference"] == pytest.approx(-0.2) and d["interval_95"] is not None


def test_seeded_and_repeatable() -> None:
    a, b = [1.0, 2.0, 3.0], [2.0, 3.0, 4.5]
    assert bootstrap_mean_difference(a, b, resamples=300, seed=3) == bootstrap_mean_difference(
        a, b, resamples=300, seed=3
    )
    with pytest.raises(ConfigError):
        compare_groups([], runs([1.0]))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0, 100, allow_nan=False), min_size=2, max_size=8),
    st.lists(st.floats(0, 100, allow_nan=False), min_size=2, max_size=8),
)
def test_interval_lies_within_the_possible_differences(a: list[float], b: list[float]) -> None:
    interval = bootstrap_mean_difference(a, b, resamples=200, seed=1)
    assert interval is not None
    lo, hi = interval
    assert lo <= hi
    assert min(b) - max(a) - 1e-9 <= lo and hi <= max(b) - min(a) + 1e-9


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30), st.floats(0, 1))
def test_percentile_is_between_order_statistics(values: list[float], q: float) -> None:
    ordered = sorted(values)
    p = percentile(ordered, q)
    assert ordered[0] - 1e-6 <= p <= ordered[-1] + 1e-6
    assert percentile(ordered, 0.0) == ordered[0] and percentile(ordered, 1.0) == ordered[-1]


def test_bootstrap_covers_the_true_difference_most_of_the_time() -> None:
    rng = random.Random(7)
    hits = 0
    for _ in range(40):
        a = [rng.gauss(10, 1) for _ in range(12)]
        b = [rng.gauss(11, 1) for _ in range(12)]
        lo, hi = bootstrap_mean_difference(a, b, resamples=400, seed=rng.randrange(10**6)) or (0, 0)
        hits += lo <= 1.0 <= hi
    assert hits >= 32  # nominal 95 %; the percentile bootstrap runs a little narrow


@pytest.mark.parametrize("resamples", [0, 1, 199])
def test_too_few_resamples_is_a_config_error(resamples: int) -> None:
    a, b = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    with pytest.raises(ConfigError, match="resamples must be at least 200"):
        bootstrap_mean_difference(a, b, resamples=resamples)
    with pytest.raises(ConfigError, match="resamples must be at least 200"):
        compare_groups(runs(a), runs(b), resamples=resamples)


def test_verdict_never_contradicts_the_point_estimate() -> None:
    from carbonledger.report.compare import Comparison, _verdict

    # B − A is positive but the (degenerate) interval lies below 0
    verdict = _verdict("energy", "kWh", 4, 4, 5.1e-07, 5.26e-06, (-1.18e-07, -1.18e-07))
    assert "lower" not in verdict and "higher" not in verdict
    assert "no clear difference" in verdict and "other side of 0" in verdict
    verdict = _verdict("energy", "kWh", 4, 4, -2.0, 10.0, (0.5, 1.0))
    assert "no clear difference" in verdict
    comparison = Comparison(
        "energy_kwh", "energy", "kWh", 4, 4, 0, 0, 1.0, 1.5, 0.5, 0.5, (-0.2, -0.1), verdict
    )
    assert comparison.significant is False
    assert comparison.to_dict()["clear_difference"] is False
    assert "B is lower than A" in _verdict("energy", "kWh", 4, 4, -2.0, 10.0, (-3.0, -1.0))


@settings(max_examples=30, deadline=None)
@given(
    a=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=6),
    b=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=6),
    seed=st.integers(0, 10**6),
)
def test_stated_direction_matches_the_sign_of_the_estimate(
    a: list[float], b: list[float], seed: int
) -> None:
    energy = compare_groups(runs(a), runs(b), resamples=200, seed=seed)[0]
    assert energy.difference is not None
    if "B is higher" in energy.verdict:
        assert energy.difference > 0 and energy.significant
    if "B is lower" in energy.verdict:
        assert energy.difference < 0 and energy.significant


def test_numpy_and_python_resamplers_repeat_and_agree_roughly() -> None:
    """Each resampler repeats itself for a seed; the two estimate the same interval."""
    from carbonledger.report import compare as mod

    a = [float(x % 7) for x in range(40)]
    b = [float(x % 5) + 1.0 for x in range(35)]
    numpy_iv = bootstrap_mean_difference(a, b, resamples=4000, seed=3)
    assert numpy_iv == bootstrap_mean_difference(a, b, resamples=4000, seed=3)
    python_iv = mod._bootstrap_python(a, b, 4000, 3, 0.025)
    assert python_iv == mod._bootstrap_python(a, b, 4000, 3, 0.025)
    assert numpy_iv is not None
    for x, y in zip(numpy_iv, python_iv, strict=True):
        assert abs(x - y) < 0.15
