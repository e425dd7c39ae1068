"""Planner: exact partial intervals, brute-force checks of both policies, region choice."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.errors import ConfigError, DataError
from carbonledger.intensity.series import IntensitySeries
from carbonledger.schedule import planner
from carbonledger.schedule.planner import (
    Plan,
    flexible_start_slots,
    pause_resume_slots,
    plan,
    savings_pct,
)

H = 3600.0
T0 = 1_700_000_000.0 - (1_700_000_000.0 % H)  # an hour boundary in 2023


def hourly(values: list[float], zone: str = "X", start: float = T0) -> IntensitySeries:
    return IntensitySeries(
        times=tuple(start + i * H for i in range(len(values))),
        values_g_per_kwh=tuple(float(v) for v in values),
        zone=zone,
        basis="lifecycle",
        last_step_s=H,
    )


def at(hours: float) -> float:
    return T0 + hours * H


# --- exact partial intervals (hand-computed) -------------------------------------------


def test_flexible_start_partial_edges() -> None:
    s = hourly([400, 300, 100, 200])
    p = plan(s, duration_s=1.5 * H, earliest=at(0.5), deadline=at(3.5))
    # starts s in [0.5, 2]: ∫ = 500, 350 (s=1), 250 (s=1.5), 200 (s=2) → best s = 2
    assert p.start == at(2.0) and p.end == at(3.5)
    assert p.mean_g_per_kwh == pytest.approx(200 / 1.5)
    assert p.baseline_mean_g_per_kwh == pytest.approx(500 / 1.5)  # 0.5 h × 400 + 1 h × 300
    assert p.savings_pct == pytest.approx(60.0)
    assert p.policy == "flexible_start"
    assert [(x.start, x.end) for x in p.slots] == [(at(2.0), at(3.5))]


def test_flexible_start_kink_inside_steps() -> None:
    # a cheap stretch that a 1 h job can only use fully by starting mid-step
    s = hourly([50, 10, 10, 50])
    p = plan(s, duration_s=1.0 * H, earliest=at(0.25), deadline=at(3.75))
    assert p.mean_g_per_kwh == pytest.approx(10.0)
    assert at(1.0) <= p.start <= at(2.0)
    s2 = hourly([50, 10, 90, 50])
    p2 = plan(s2, duration_s=1.5 * H, earliest=at(0.0), deadline=at(4.0))
    # s in [0.5, 1]: 50(1-s) ... kinks at s = 0.5 (s+D = 2) and s = 1: ∫(0.5) = 25+10 = 35·H
    # wait: ∫(s) = 50(1-s) + 10 + 90(s+0.5-2)⁺ ; at s=0.5: 25+10 = 35; at s=1: 10+45 = 55
    assert p2.start == at(0.5)
    assert p2.mean_g_per_kwh == pytest.approx(35 / 1.5)


def test_pause_resume_partial_edges() -> None:
    s = hourly([100, 400, 300, 50, 200])
    p = plan(s, duration_s=1.5 * H, earliest=at(0.5), deadline=at(4.25), interruptible=True)
    # pieces: [0.5,1]@100, [1,2]@400, [2,3]@300, [3,4]@50, [4,4.25]@200
    # cheapest: 1 h @50, 0.5 h @100 → 50 + 50 = 100 g/kWh·h over 1.5 h
    assert p.mean_g_per_kwh == pytest.approx(100 / 1.5)
    assert [(x.start, x.end) for x in p.slots] == [(at(0.5), at(1.0)), (at(3.0), at(4.0))]
    assert p.baseline_mean_g_per_kwh == pytest.approx((0.5 * 100 + 1.0 * 400) / 1.5)
    assert p.policy == "pause_resume"


def test_partial_piece_sits_next_to_its_neighbour() -> None:
    s = hourly([400, 300, 100, 200])
    p = plan(s, duration_s=1.5 * H, earliest=at(0.5), deadline=at(3.25), interruptible=True)
    # 1 h @100 + 0.25 h @200 + 0.25 h @300, the partial 300 piece at its end: one slot
    assert [(x.start, x.end) for x in p.slots] == [(at(1.75), at(3.25))]
    assert p.mean_g_per_kwh == pytest.approx(225 / 1.5)


def test_min_slot_changes_the_choice() -> None:
    s = hourly([10, 90, 10, 90, 10, 90, 30, 30])
    free = plan(s, duration_s=2 * H, earliest=at(0), deadline=at(8), interruptible=True)
    assert free.mean_g_per_kwh == pytest.approx(10.0)
    assert len(free.slots) == 2
    p = plan(
        s,
        duration_s=2 * H,
        earliest=at(0),
        deadline=at(8),
        interruptible=True,
        min_slot_s=2 * H,
    )
    assert [(x.start, x.end) for x in p.slots] == [(at(6), at(8))]
    assert p.mean_g_per_kwh == pytest.approx(30.0)
    assert p.min_slot_s == 2 * H


def test_min_slot_mid_step() -> None:
    s = hourly([10, 90, 90, 10, 10])
    p = plan(
        s,
        duration_s=1.5 * H,
        earliest=at(0.5),
        deadline=at(5),
        interruptible=True,
        min_slot_s=0.75 * H,
    )
    # best: 1.5 h inside [3, 5] @10 (the 0.5 h @10 at the start could pair with 1 h @10)
    assert p.mean_g_per_kwh == pytest.approx(10.0)
    assert all(x.duration_s >= 0.75 * H for x in p.slots)
    p2 = plan(
        s,
        duration_s=2.5 * H,
        earliest=at(0.5),
        deadline=at(5),
        interruptible=True,
        min_slot_s=0.75 * H,
    )
    # 0.5 h @10 cannot stand alone (< 0.75 h): stretch it to [0.5, 1.25] (5 + 22.5) and
    # take 1.75 h @10 (17.5) = 45, better than 2 h @10 + 0.5 h @90 next to them (65)
    assert p2.mean_g_per_kwh == pytest.approx(45 / 2.5)
    assert [(x.start, x.end) for x in p2.slots] == [(at(0.5), at(1.25)), (at(3), at(4.75))]
    assert p2.exact


# --- brute force on small integer cases --------------------------------------------------


@st.composite
def small_cases(draw: st.DrawFn, grain: int = 1) -> tuple[IntensitySeries, int, int, int, int]:
    """Integer steps (multiples of ``grain``), window edges anywhere, D and m multiples of
    ``grain``: every optimum lies on integers, so unit cells give the brute force."""
    lengths = draw(st.lists(st.integers(1, 3).map(lambda n: n * grain), min_size=2, max_size=7))
    values = draw(st.lists(st.integers(0, 9), min_size=len(lengths), max_size=len(lengths)))
    times = [0]
    for n in lengths[:-1]:
        times.append(times[-1] + n)
    total = sum(lengths)
    series = IntensitySeries(
        times=tuple(float(t) for t in times),
        values_g_per_kwh=tuple(float(v) for v in values),
        zone="Z",
        last_step_s=float(lengths[-1]),
    )
    e = draw(st.integers(0, total - 1))
    d = draw(st.integers(e + 1, min(total, e + 11)))
    if d - e < grain:
        d = min(total, e + grain)
        if d - e < grain:
            e = d - grain
    duration = draw(st.integers(1, (d - e) // grain)) * grain
    min_slot = draw(st.integers(0, duration // grain)) * grain
    return series, e, d, duration, min_slot


def unit_costs(series: IntensitySeries, e: int, d: int) -> list[float]:
    return [series.integral(t, t + 1)[0] for t in range(e, d)]


def runs_ok(chosen: tuple[int, ...], min_slot: int) -> bool:
    runs: list[int] = []
    prev = None
    for c in chosen:
        if prev is not None and c == prev + 1:
            runs[-1] += 1
        else:
            runs.append(1)
        prev = c
    return all(r >= min_slot for r in runs)


def check_slots(slots: tuple[planner.Slot, ...], e: float, d: float, duration: float) -> None:
    assert sum(s.duration_s for s in slots) == pytest.approx(duration)
    assert slots[0].start >= e and slots[-1].end <= d
    for a, b in itertools.pairwise(slots):
        assert a.end < b.start  # merged: no overlap, no touching


@settings(max_examples=100, deadline=None)
@given(small_cases())
def test_flexible_start_matches_brute_force(case: tuple) -> None:
    series, e, d, duration, _ = case
    costs = unit_costs(series, e, d)
    brute = min(sum(costs[s : s + duration]) for s in range(0, d - e - duration + 1))
    slots = flexible_start_slots(series, duration_s=duration, earliest=e, deadline=d)
    check_slots(slots, e, d, duration)
    got = series.integral(slots[0].start, slots[0].end)[0]
    assert got == pytest.approx(brute, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(small_cases())
def test_pause_resume_matches_brute_force(case: tuple) -> None:
    series, e, d, duration, _ = case
    costs = unit_costs(series, e, d)
    brute = min(
        sum(costs[i] for i in chosen)
        for chosen in itertools.combinations(range(len(costs)), duration)
    )
    slots = pause_resume_slots(series, duration_s=duration, earliest=e, deadline=d)
    check_slots(slots, e, d, duration)
    got = sum(series.integral(s.start, s.end)[0] for s in slots)
    assert got == pytest.approx(brute, abs=1e-9)


@settings(max_examples=120, deadline=None)
@given(small_cases())
def test_pause_resume_min_slot_matches_brute_force(case: tuple) -> None:
    series, e, d, duration, min_slot = case
    costs = unit_costs(series, e, d)
    need = min(min_slot, duration)
    brute = min(
        sum(costs[i] for i in chosen)
        for chosen in itertools.combinations(range(len(costs)), duration)
        if runs_ok(chosen, need)
    )
    p = plan(
        series,
        duration_s=duration,
        earliest=e,
        deadline=d,
        interruptible=True,
        min_slot_s=min_slot,
    )
    check_slots(p.slots, e, d, duration)
    assert all(s.duration_s >= need - 1e-9 for s in p.slots)
    assert p.exact
    got = sum(series.integral(s.start, s.end)[0] for s in p.slots)
    assert got == pytest.approx(brute, abs=1e-9)
    assert p.mean_g_per_kwh == pytest.approx(brute / duration, abs=1e-9)


@settings(max_examples=120, deadline=None)
@given(st.integers(2, 3).flatmap(lambda g: small_cases(grain=g)))
def test_min_slot_with_edges_off_the_grid_matches_brute_force(case: tuple) -> None:
    """Steps, D and m on a coarser grid than the window's edges (shifted lattices)."""
    test_pause_resume_min_slot_matches_brute_force.hypothesis.inner_test(case)  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(small_cases(), st.sampled_from([0.25, 1800.0, 7.5]))
def test_scaled_time_gives_the_same_plan(case: tuple, scale: float) -> None:
    """The planners are exact off integer grids too: scaling time scales the answer."""
    series, e, d, duration, min_slot = case
    scaled = IntensitySeries(
        times=tuple(T0 + t * scale for t in series.times),
        values_g_per_kwh=series.values_g_per_kwh,
        zone="Z",
        last_step_s=series.step_s * scale,
    )
    for interruptible in (False, True):
        a = plan(
            series,
            duration_s=duration,
            earliest=e,
            deadline=d,
            interruptible=interruptible,
            min_slot_s=min_slot,
        )
        b = plan(
            scaled,
            duration_s=duration * scale,
            earliest=T0 + e * scale,
            deadline=T0 + d * scale,
            interruptible=interruptible,
            min_slot_s=min_slot * scale,
        )
        assert b.mean_g_per_kwh == pytest.approx(a.mean_g_per_kwh, rel=1e-9, abs=1e-9)


def test_coarse_lattice_fallback_is_feasible_and_labelled(monkeypatch: pytest.MonkeyPatch) -> None:
    s = hourly([10, 90, 90, 10, 10, 40, 40, 40])
    monkeypatch.setattr(planner, "DP_BUDGET", 80)
    p = plan(
        s,
        duration_s=2 * H,
        earliest=at(0) + 7,
        deadline=at(8) - 3,
        interruptible=True,
        min_slot_s=1.5 * H,
    )
    assert not p.exact
    assert all(x.duration_s >= 1.5 * H for x in p.slots)
    check_slots(p.slots, at(0) + 7, at(8) - 3, 2 * H)


# --- baseline, savings, region choice ---------------------------------------------------


def test_baseline_is_start_at_earliest_straight_through() -> None:
    s = hourly([300, 100, 50, 50, 400])
    p = plan(s, duration_s=2 * H, earliest=at(0.5), deadline=at(5), interruptible=True)
    assert p.baseline_mean_g_per_kwh == pytest.approx((0.5 * 300 + 1 * 100 + 0.5 * 50) / 2)
    assert p.savings_pct == pytest.approx(
        100 * (p.baseline_mean_g_per_kwh - p.mean_g_per_kwh) / p.baseline_mean_g_per_kwh
    )
    assert savings_pct(0.0, 0.0) == 0.0
    assert savings_pct(200.0, 50.0) == pytest.approx(75.0)


def test_no_flexibility_no_savings() -> None:
    s = hourly([300, 100, 50])
    p = plan(s, duration_s=2 * H, earliest=at(0), deadline=at(2))
    assert p.savings_pct == 0.0 and p.start == at(0)


def test_region_choice_picks_lowest_mean() -> None:
    a = hourly([300, 300, 300, 300], zone="A")
    b = hourly([500, 20, 20, 500], zone="B")
    c = hourly([100, 100, 100, 100], zone="C")
    p = plan([a, b, c], duration_s=2 * H, earliest=at(0), deadline=at(4))
    assert p.zone == "B"
    assert p.mean_g_per_kwh == pytest.approx(20.0)
    assert [z.zone for z in p.zones] == ["A", "B", "C"]
    assert p.zones[2].mean_g_per_kwh == pytest.approx(100.0)
    assert p.baseline_mean_g_per_kwh == pytest.approx(260.0)  # B's own start-now
    data = p.to_dict()
    assert [z["zone"] for z in data["zones"]] == ["A", "B", "C"]
    assert "zones" not in data["zones"][0]
    by_map = plan({"a": a, "c": c}, duration_s=H, earliest=at(0), deadline=at(4))
    assert by_map.zone == "C"


def test_region_tie_keeps_first() -> None:
    a, b = hourly([5, 5], zone="A"), hourly([5, 5], zone="B")
    assert plan([a, b], duration_s=H).zone == "A"


def test_defaults_use_common_coverage() -> None:
    a = hourly([1, 2, 3, 4], zone="A")
    b = hourly([1, 2, 3, 4, 5], zone="B", start=T0 + H)
    p = plan([a, b], duration_s=H)
    assert p.earliest == at(1) and p.deadline == at(4)
    assert plan(a, duration_s=H, window_s=2 * H).deadline == at(2)


def test_to_dict_keys_and_iso_times() -> None:
    s = hourly([3, 1, 2])
    d = plan(s, duration_s=H, earliest=at(0), deadline=at(3)).to_dict()
    for key in (
        "zone",
        "start",
        "end",
        "slots",
        "mean_g_per_kwh",
        "baseline_mean_g_per_kwh",
        "savings_pct",
        "policy",
    ):
        assert key in d
    assert d["start"].endswith("Z") and d["slots"][0] == {"start": d["start"], "end": d["end"]}
    assert isinstance(plan(s, duration_s=H), Plan)


# --- errors -----------------------------------------------------------------------------


def test_errors_are_clear() -> None:
    s = hourly([1, 2, 3])
    with pytest.raises(DataError, match="shorter than the job"):
        plan(s, duration_s=2 * H, earliest=at(0), deadline=at(1.5))
    with pytest.raises(DataError, match="not after earliest"):
        plan(s, duration_s=H, earliest=at(2), deadline=at(1))
    with pytest.raises(DataError, match=r"covers .* not the whole window"):
        plan(s, duration_s=H, earliest=at(1), deadline=at(5))
    with pytest.raises(DataError, match="X covers"):
        plan(s, duration_s=H, earliest=at(-1), deadline=at(2))
    with pytest.raises(ConfigError):
        plan(s, duration_s=0)
    with pytest.raises(ConfigError):
        plan(s, duration_s=H, deadline=at(2), window_s=H)
    with pytest.raises(ConfigError, match="more than once"):
        plan([s, s], duration_s=H)
    with pytest.raises(ConfigError):
        plan(s, duration_s=H, interruptible=True, min_slot_s=-1)


def test_min_slot_longer_than_job_runs_straight() -> None:
    s = hourly([10, 90, 10, 90])
    p = plan(s, duration_s=H, interruptible=True, min_slot_s=3 * H)
    assert len(p.slots) == 1 and p.mean_g_per_kwh == pytest.approx(10.0)
    assert math.isclose(p.slots[0].duration_s, H)


def test_estimated_share() -> None:
    s = IntensitySeries(
        times=(at(0), at(1), at(2), at(3)),
        values_g_per_kwh=(10.0, 10.0, 50.0, 50.0),
        zone="E",
        estimated=(False, True, False, False),
        last_step_s=H,
    )
    p = plan(s, duration_s=1.5 * H, earliest=at(0.5), deadline=at(4))
    assert p.slots[0].start == at(0.5)
    assert p.estimated_share == pytest.approx(1 / 1.5)  # [1, 2) of [0.5, 2)
    assert p.to_dict()["estimated_share"] == pytest.approx(2 / 3)
    assert plan(hourly([1, 2]), duration_s=H).estimated_share is None
