"""The planner and the simulation on real Electricity Maps traces (skipped without them)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from carbonledger.intensity.series_csv import load_series
from carbonledger.schedule.planner import plan, plan_zone
from carbonledger.schedule.simulate import simulate
from carbonledger.schedule.timeparse import parse_time

HOURLY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "grid" / "hourly"
pytestmark = pytest.mark.skipif(
    not (HOURLY / "DE-LU_2023_hourly.csv").is_file(), reason="shared grid traces not present"
)
H = 3600.0


def test_plan_on_de_2023() -> None:
    de = load_series(HOURLY / "DE-LU_2023_hourly.csv", basis="lifecycle")
    earliest, deadline = parse_time("2023-06-01T08:00Z"), parse_time("2023-06-03T08:00Z")
    flex = plan(de, duration_s=6 * H, earliest=earliest, deadline=deadline)
    assert flex.zone == "DE" and flex.basis == "lifecycle"
    assert earliest <= flex.start and flex.end <= deadline
    assert flex.end - flex.start == 6 * H
    assert 0 < flex.mean_g_per_kwh <= flex.baseline_mean_g_per_kwh
    # the chosen window is the best of every hourly start
    starts = [earliest + i * H for i in range(0, 43)]
    brute = min(de.mean_over(s, s + 6 * H)[0] or 0.0 for s in starts)
    assert flex.mean_g_per_kwh == pytest.approx(brute)

    pause = plan(de, duration_s=6 * H, earliest=earliest, deadline=deadline, interruptible=True)
    assert sum(s.duration_s for s in pause.slots) == pytest.approx(6 * H)
    assert pause.mean_g_per_kwh <= flex.mean_g_per_kwh + 1e-9
    hours = sorted(de.value_at(earliest + i * H) or 0.0 for i in range(48))
    assert pause.mean_g_per_kwh == pytest.approx(sum(hours[:6]) / 6)

    slots = plan(
        de,
        duration_s=6 * H,
        earliest=earliest + 1234,
        deadline=deadline,
        interruptible=True,
        min_slot_s=2 * H,
    )
    assert all(s.duration_s >= 2 * H - 1e-6 for s in slots.slots)
    assert pause.mean_g_per_kwh - 1e-9 <= slots.mean_g_per_kwh


def test_best_of_three_zones() -> None:
    zones = [load_series(HOURLY / f"{z}_2023_hourly.csv") for z in ("DE-LU", "GB", "SG")]
    earliest, deadline = parse_time("2023-06-01T08:00Z"), parse_time("2023-06-03T08:00Z")
    best = plan(zones, duration_s=6 * H, earliest=earliest, deadline=deadline)
    assert [z.zone for z in best.zones] == [z.zone for z in zones]
    assert best.mean_g_per_kwh == min(z.mean_g_per_kwh for z in best.zones)
    assert best.zone in {z.zone for z in zones}


def test_simulation_matches_planner_on_sampled_starts() -> None:
    de = load_series(HOURLY / "DE-LU_2023_hourly.csv", basis="lifecycle")
    sim = simulate(de, duration_s=6 * H, extra_s=24 * H)
    assert sim.vectorised and sim.n_jobs == len(de) - 30 + 1
    rng = random.Random(2023)
    for i in rng.sample(range(sim.n_jobs), 12):
        t = sim.start_times[i]
        flex = plan_zone(de, duration_s=6 * H, earliest=t, deadline=t + 30 * H)
        pause = plan_zone(de, duration_s=6 * H, earliest=t, deadline=t + 30 * H, interruptible=True)
        assert sim.flexible_g_per_kwh[i] == pytest.approx(flex.mean_g_per_kwh)
        assert sim.pause_resume_g_per_kwh[i] == pytest.approx(pause.mean_g_per_kwh)
        assert sim.baseline_g_per_kwh[i] == pytest.approx(flex.baseline_mean_g_per_kwh)
    assert 0 < sim.flexible_start.mean_savings_pct <= sim.pause_resume.mean_savings_pct
