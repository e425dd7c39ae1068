"""Pareto fronts: the front is exactly the non-dominated set; ties stay on it."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from factories import footprint
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.errors import ConfigError
from carbonledger.report.pareto import (
    Objective,
    dominates,
    dominators,
    expands_front,
    leaderboard,
    objective_value,
    pareto_front,
    parse_objective,
    parse_objectives,
)

OBJECTIVES = [("accuracy", "max"), ("total_kgco2e", "min")]


def run(i: int, accuracy: float | None, carbon: float | None) -> dict[str, Any]:
    return {
        "run_id": f"r{i}",
        "name": f"n{i}",
        "total_kgco2e": carbon,
        "metrics": {} if accuracy is None else {"accuracy": accuracy},
    }


def brute_front(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def better_or_equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return (
            a["metrics"]["accuracy"] >= b["metrics"]["accuracy"]
            and a["total_kgco2e"] <= b["total_kgco2e"]
        )

    def strictly(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return (
            a["metrics"]["accuracy"] > b["metrics"]["accuracy"]
            or a["total_kgco2e"] < b["total_kgco2e"]
        )

    placed = [r for r in runs if "accuracy" in r["metrics"] and r["total_kgco2e"] is not None]
    return [
        r
        for r in placed
        if not any(better_or_equal(o, r) and strictly(o, r) for o in placed if o is not r)
    ]


small = st.one_of(st.none(), st.integers(0, 4).map(float))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(small, small), max_size=12))
def test_front_is_exactly_the_non_dominated_set(
    points: list[tuple[float | None, float | None]],
) -> None:
    runs = [run(i, a, c) for i, (a, c) in enumerate(points)]
    front = pareto_front(runs, OBJECTIVES)
    assert [r["run_id"] for r in front] == [r["run_id"] for r in brute_front(runs)]
    for r in runs:
        beaten = dominators(r, runs, OBJECTIVES)
        if r in front:
            assert beaten == []
        assert all(dominates(o, r, OBJECTIVES) for o in beaten)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(small, small), max_size=10), st.tuples(small, small))
def test_expands_front_means_a_new_point_on_the_front(
    points: list[tuple[float | None, float | None]], new: tuple[float | None, float | None]
) -> None:
    runs = [run(i, a, c) for i, (a, c) in enumerate(points)]
    candidate = run(99, *new)
    old_points = {
        (r["metrics"]["accuracy"], r["total_kgco2e"]) for r in pareto_front(runs, OBJECTIVES)
    }
    new_front = pareto_front([*runs, candidate], OBJECTIVES)
    expected = candidate in new_front and (new[0], new[1]) not in old_points
    assert expands_front(candidate, runs, OBJECTIVES) is expected


def test_equal_points_do_not_dominate_each_other() -> None:
    a, b = run(1, 0.9, 1.0), run(2, 0.9, 1.0)
    assert not dominates(a, b, OBJECTIVES) and not dominates(b, a, OBJECTIVES)
    assert pareto_front([a, b], OBJECTIVES) == [a, b]
    assert not expands_front(b, [a], OBJECTIVES)  # a copy adds no new point
    assert expands_front(a, [a], OBJECTIVES)  # itself is left out by identity


def test_min_and_max_directions_and_three_objectives() -> None:
    runs = [
        {"run_id": "fast", "duration_s": 10, "energy_kwh": 5, "metrics": {"acc": 0.8}},
        {"run_id": "lean", "duration_s": 50, "energy_kwh": 1, "metrics": {"acc": 0.8}},
        {"run_id": "good", "duration_s": 50, "energy_kwh": 5, "metrics": {"acc": 0.9}},
        {"run_id": "bad", "duration_s": 60, "energy_kwh": 6, "metrics": {"acc": 0.7}},
    ]
    objs = ["duration_s:min", "energy_kwh:min", "acc:max"]
    assert [r["run_id"] for r in pareto_front(runs, objs)] == ["fast", "lean", "good"]
    assert {r["run_id"] for r in dominators(runs[3], runs, objs)} == {"fast", "lean", "good"}


def test_objects_with_to_dict_and_dotted_names() -> None:
    fp = footprint(metrics={"accuracy": 0.9})
    assert objective_value(fp, "accuracy") == 0.9
    assert objective_value(fp, "intensity.g_per_kwh") == 46.5
    assert objective_value(fp, "nope") is None
    assert objective_value({"metrics": {"flag": True}}, "flag") is None  # bools are not numbers
    assert objective_value({"x": float("nan")}, "x") is None
    assert pareto_front([fp], ["accuracy:max", "total_kgco2e:min"]) == [fp]


def test_parse_objectives() -> None:
    assert parse_objective("acc:MAX") == Objective("acc", "max")
    assert parse_objective(("loss", "min")) == Objective("loss", "min")
    assert parse_objective("a:b:min") == Objective("a:b", "min")
    for bad in ("acc", "acc:up", ":max", ("acc",)):
        with pytest.raises(ConfigError):
            parse_objective(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        parse_objectives([])
    with pytest.raises(ConfigError):
        parse_objectives(["a:max", "a:min"])


def test_leaderboard_rows() -> None:
    runs = [run(1, 0.9, 2.0), run(2, 0.8, 1.0), run(3, 0.7, 3.0), run(4, None, 1.0)]
    rows = leaderboard(runs, OBJECTIVES)
    by_id = {r["run_id"]: r for r in rows}
    assert by_id["r1"]["pareto"] is True and by_id["r2"]["pareto"] is True
    assert by_id["r3"]["pareto"] is False
    assert sorted(by_id["r3"]["dominated_by"]) == ["r1", "r2"]
    assert by_id["r4"]["pareto"] is None and by_id["r4"]["missing"] == ["accuracy"]
    assert [r["run_id"] for r in rows] == ["r1", "r2", "r3", "r4"]
    assert rows[0]["objectives"] == {"accuracy": 0.9, "total_kgco2e": 2.0}


def test_front_of_all_permutations_is_stable() -> None:
    runs = [run(1, 0.9, 2.0), run(2, 0.8, 1.0), run(3, 0.9, 2.0)]
    for order in itertools.permutations(runs):
        assert {r["run_id"] for r in pareto_front(list(order), OBJECTIVES)} == {"r1", "r2", "r3"}


def test_dominance_within_overlapping_intervals_is_said() -> None:
    from carbonledger.report.pareto import leaderboard as board

    a = {
        "run_id": "a",
        "name": "a",
        "total_kgco2e": 1.0,
        "uncertainty": {"total_kgco2e": [0.8, 1.2]},
    }
    b = {
        "run_id": "b",
        "name": "b",
        "total_kgco2e": 1.1,
        "uncertainty": {"total_kgco2e": [0.9, 1.3]},
    }
    c = {
        "run_id": "c",
        "name": "c",
        "total_kgco2e": 5.0,
        "uncertainty": {"total_kgco2e": [4.0, 6.0]},
    }
    rows = {r["run_id"]: r for r in board([a, b, c], ["total_kgco2e:min"])}
    # b is beaten by a only within uncertainty; c is beaten clearly
    assert rows["b"]["pareto"] is False and rows["b"]["dominated_within_uncertainty"] is True
    assert rows["c"]["dominated_within_uncertainty"] is False
    rows2 = {r["run_id"]: r for r in board([a, b], ["total_kgco2e:min"])}
    assert rows2["b"]["dominated_within_uncertainty"] is True
    assert rows2["b"]["intervals"]["total_kgco2e"] == (0.9, 1.3)
