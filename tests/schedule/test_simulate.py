"""The history simulation: hand-computed savings, vectorised == per-job planner."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.errors import ConfigError, DataError
from carbonledger.intensity.series import IntensitySeries
from carbonledger.schedule.planner import plan_zone
from carbonledger.schedule.simulate import job_savings_pct, simulate

H = 3600.0


def hourly(values: list[float], step: float = H) -> IntensitySeries:
    return IntensitySeries(
        times=tuple(i * step for i in range(len(values))),
        values_g_per_kwh=tuple(float(v) for v in values),
        zone="S",
        basis="lifecycle",
        last_step_s=step,
    )


def test_hand_computed_savings() -> None:
    # 2 h job, +1 h: windows of 3 steps; jobs start at steps 0, 1, 2 (5 values)
    s = hourly([100, 300, 100, 200, 400])
    sim = simulate(s, duration_s=2 * H, extra_s=H)
    assert sim.n_jobs == 3 and sim.vectorised
    # baselines: (100+300)/2=200, (300+100)/2=200, (100+200)/2=150
    assert sim.baseline_g_per_kwh == (200.0, 200.0, 150.0)
    # flexible: min(200, 200)=200, min(200, 150)=150, min(150, 300)=150
    assert sim.flexible_g_per_kwh == (200.0, 150.0, 150.0)
    # pause & resume: 2 smallest of [100,300,100]=100, [300,100,200]=150, [100,200,400]=150
    assert sim.pause_resume_g_per_kwh == (100.0, 150.0, 150.0)
    assert job_savings_pct(sim, "flexible_start") == (0.0, 25.0, 0.0)
    assert job_savings_pct(sim, "pause_resume") == (50.0, 25.0, 0.0)
    fs, pr = sim.flexible_start, sim.pause_resume
    assert fs.mean_savings_pct == pytest.approx(25 / 3)
    assert pr.mean_savings_pct == pytest.approx(25.0)
    assert pr.total_savings_pct == pytest.approx(100 * (1 - 400 / 550))
    assert (pr.min_pct, pr.max_pct) == (0.0, 50.0)
    assert pr.percentiles_pct[2] == pytest.approx(25.0)  # median
    d = sim.to_dict()
    for policy in ("flexible_start", "pause_resume"):
        for key in ("mean_savings_pct", "n_jobs", "p5", "p25", "p50", "p75", "p95", "min", "max"):
            assert key in d[policy]
    assert d["n_jobs"] == 3 and d["first_start"] == "1970-01-01T00:00:00Z"


def test_no_extra_time_no_savings() -> None:
    sim = simulate(hourly([5, 1, 9, 2, 7]), duration_s=2 * H, extra_s=0)
    assert sim.flexible_start.max_pct == 0.0 and sim.pause_resume.max_pct == 0.0
    assert sim.n_jobs == 4


def test_zero_baseline_counts_as_no_saving() -> None:
    sim = simulate(hourly([0, 0, 0, 5]), duration_s=H, extra_s=H)
    assert job_savings_pct(sim, "pause_resume") == (0.0, 0.0, 0.0)


def test_series_too_short() -> None:
    with pytest.raises(DataError, match="shorter than one job window"):
        simulate(hourly([1, 2, 3]), duration_s=2 * H, extra_s=2 * H)
    with pytest.raises(ConfigError):
        simulate(hourly([1, 2, 3]), duration_s=0, extra_s=H)


def test_non_uniform_series_uses_the_planner() -> None:
    s = IntensitySeries(
        times=(0.0, H, 2 * H, 4 * H, 5 * H),
        values_g_per_kwh=(100, 300, 100, 200, 400),
        zone="S",
        last_step_s=H,
    )
    sim = simulate(s, duration_s=2 * H, extra_s=H)
    assert not sim.vectorised
    # jobs at 0, 1 h, 2 h, 3 h-window fits ≤ 6 h: starts 0, H, 2H (4H + 3H > 6H)
    assert sim.start_times == (0.0, H, 2 * H)
    # job at 2 h: values 100 for [2,4), 200 [4,5): baseline 100, nothing better
    assert sim.baseline_g_per_kwh[2] == 100.0 and sim.pause_resume_g_per_kwh[2] == 100.0
    with pytest.raises(ConfigError):
        simulate(s, duration_s=2 * H, extra_s=H, vectorise=True)


def test_half_hour_extra_falls_back_and_is_exact() -> None:
    s = hourly([100, 300, 100, 200, 400])
    sim = simulate(s, duration_s=H, extra_s=0.5 * H)
    assert not sim.vectorised
    assert sim.flexible_g_per_kwh[0] == 100.0
    assert sim.pause_resume_g_per_kwh[1] == pytest.approx((300 * 0.5 + 100 * 0.5) / 1)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 500), min_size=4, max_size=40),
    st.integers(1, 4),
    st.integers(0, 5),
)
def test_vectorised_equals_per_job_planner(values: list[int], k: int, w: int) -> None:
    if k + w > len(values):
        return
    s = hourly([float(v) for v in values])
    fast = simulate(s, duration_s=k * H, extra_s=w * H)
    slow = simulate(s, duration_s=k * H, extra_s=w * H, vectorise=False)
    assert fast.vectorised and not slow.vectorised
    assert fast.start_times == slow.start_times
    for a, b in (
        (fast.baseline_g_per_kwh, slow.baseline_g_per_kwh),
        (fast.flexible_g_per_kwh, slow.flexible_g_per_kwh),
        (fast.pause_resume_g_per_kwh, slow.pause_resume_g_per_kwh),
    ):
        assert a == pytest.approx(b, abs=1e-9)


def test_vectorised_matches_planner_on_sampled_starts_of_a_long_series() -> None:
    rng = random.Random(7)
    values = [
        250 + 150 * math.sin(i / 24 * 2 * math.pi) + rng.uniform(-60, 60) for i in range(24 * 60)
    ]
    s = hourly(values)
    sim = simulate(s, duration_s=6 * H, extra_s=24 * H)
    assert sim.vectorised and sim.n_jobs == len(values) - 30 + 1
    for i in rng.sample(range(sim.n_jobs), 25):
        t = sim.start_times[i]
        flex = plan_zone(s, duration_s=6 * H, earliest=t, deadline=t + 30 * H)
        pause = plan_zone(s, duration_s=6 * H, earliest=t, deadline=t + 30 * H, interruptible=True)
        assert sim.baseline_g_per_kwh[i] == pytest.approx(flex.baseline_mean_g_per_kwh)
        assert sim.flexible_g_per_kwh[i] == pytest.approx(flex.mean_g_per_kwh)
        assert sim.pause_resume_g_per_kwh[i] == pytest.approx(pause.mean_g_per_kwh)
    assert sim.pause_resume.mean_savings_pct >= sim.flexible_start.mean_savings_pct > 0


def test_progress_is_reported() -> None:
    seen: list[tuple[int, int]] = []
    simulate(
        hourly(list(range(50))), duration_s=H, extra_s=H, progress=lambda a, b: seen.append((a, b))
    )
    assert seen[-1] == (49, 49)
