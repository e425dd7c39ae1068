"""Pareto fronts over runs: which runs no other run beats on every objective.

A *run* here is a mapping (a footprint dict, with its ``metrics``) or any object with a
``to_dict()`` (a :class:`~carbonledger.lifecycle.footprint.Footprint`). An *objective* is a
``(name, "max"|"min")`` pair or a ``"NAME:max"`` string. A name is looked up as a top-level
key (``total_kgco2e``, ``energy_kwh``, ``duration_s``), then in ``metrics``, then as a
dotted path (``intensity.g_per_kwh``).

Run *a* dominates run *b* when *a* is at least as good on every objective and strictly
better on one; equal points do not dominate each other, so ties all stay on the front. A
run with a missing or non-numeric objective value cannot be placed: it is neither on the
front nor dominated (its leaderboard row says ``pareto: null`` and lists what is missing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from carbonledger.errors import ConfigError

__all__ = [
    "Objective",
    "ObjectiveLike",
    "as_mapping",
    "dominates",
    "dominators",
    "expands_front",
    "leaderboard",
    "objective_interval",
    "objective_value",
    "pareto_front",
    "parse_objective",
    "parse_objectives",
    "within_uncertainty",
]

SENSES = ("max", "min")


@dataclass(frozen=True)
class Objective:
    """One objective: a value name and whether more (``max``) or less (``min``) is better."""

    name: str
    sense: str  # max | min

    def __str__(self) -> str:
        return f"{self.name}:{self.sense}"


ObjectiveLike = Objective | str | tuple[str, str]


def parse_objective(spec: ObjectiveLike) -> Objective:
    """``"accuracy:max"``, ``("accuracy", "max")`` or an :class:`Objective`."""
    if isinstance(spec, Objective):
        return spec
    if isinstance(spec, str):
        name, sep, sense = spec.rpartition(":")
        if not sep:
            raise ConfigError(f"objective {spec!r} must be NAME:max or NAME:min")
    else:
        if len(spec) != 2:
            raise ConfigError(f"objective {spec!r} must be a (name, 'max'|'min') pair")
        name, sense = spec
    name, sense = str(name).strip(), str(sense).strip().lower()
    if not name:
        raise ConfigError(f"objective {spec!r} has no name")
    if sense not in SENSES:
        raise ConfigError(f"objective {spec!r}: direction must be max or min, got {sense!r}")
    return Objective(name, sense)


def parse_objectives(specs: Iterable[ObjectiveLike]) -> tuple[Objective, ...]:
    objectives = tuple(parse_objective(s) for s in specs)
    if not objectives:
        raise ConfigError("give at least one objective (NAME:max or NAME:min)")
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise ConfigError(f"objectives repeat a name: {', '.join(names)}")
    return objectives


def as_mapping(run: Any) -> Mapping[str, Any]:
    """A run as a mapping: mappings as they are, objects through ``to_dict()``."""
    if isinstance(run, Mapping):
        return run
    to_dict = getattr(run, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if isinstance(data, Mapping):
            return data
    raise ConfigError(f"cannot read objectives from a {type(run).__name__}: need a mapping")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def objective_value(run: Any, name: str) -> float | None:
    """The run's numeric value for ``name``, or None when missing, non-numeric or NaN."""
    data = as_mapping(run)
    if name in data:
        return _number(data[name])
    metrics = data.get("metrics")
    if isinstance(metrics, Mapping) and name in metrics:
        return _number(metrics[name])
    node: Any = data
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return _number(node)


# objectives whose footprint JSON carries an interval, and where it is
_INTERVALS = {
    "total_kgco2e": ("uncertainty", "total_kgco2e"),
    "energy_kwh": ("uncertainty", "energy_kwh"),
    "functional_unit.gco2e_per_unit": ("functional_unit", "gco2e_per_unit_interval"),
}


def objective_interval(run: Any, name: str) -> tuple[float, float] | None:
    """The ``[low, high]`` of an objective that has one in the footprint JSON, else None
    (metrics are taken as exact)."""
    where = _INTERVALS.get(name)
    if where is None:
        return None
    node = as_mapping(run).get(where[0])
    bounds = node.get(where[1]) if isinstance(node, Mapping) else None
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
        return None
    low, high = _number(bounds[0]), _number(bounds[1])
    return None if low is None or high is None else (low, high)


def _overlap(a: Any, b: Any, objective: Objective) -> bool:
    """Whether a and b cannot be told apart on ``objective`` (intervals overlap, or equal
    exact values)."""
    ia, ib = objective_interval(a, objective.name), objective_interval(b, objective.name)
    if ia is None or ib is None:
        return objective_value(a, objective.name) == objective_value(b, objective.name)
    return ia[0] <= ib[1] and ib[0] <= ia[1]


def within_uncertainty(a: Any, b: Any, objectives: Sequence[ObjectiveLike]) -> bool:
    """Whether runs ``a`` and ``b`` overlap within their intervals on every objective, so
    that neither clearly dominates the other."""
    return all(_overlap(a, b, o) for o in parse_objectives(objectives))


def _point(run: Any, objectives: Sequence[Objective]) -> tuple[float, ...] | None:
    """The run's objective values, each turned so that larger is better; None if any lacks."""
    values: list[float] = []
    for objective in objectives:
        value = objective_value(run, objective.name)
        if value is None:
            return None
        values.append(value if objective.sense == "max" else -value)
    return tuple(values)


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(
        x > y for x, y in zip(a, b, strict=True)
    )


def dominates(a: Any, b: Any, objectives: Sequence[ObjectiveLike]) -> bool:
    """Whether run ``a`` dominates run ``b`` (False when either lacks a value)."""
    objs = parse_objectives(objectives)
    pa, pb = _point(a, objs), _point(b, objs)
    return pa is not None and pb is not None and _dominates(pa, pb)


def pareto_front(runs: Sequence[Any], objectives: Sequence[ObjectiveLike]) -> list[Any]:
    """The runs that no other run dominates, in input order (runs lacking a value left out)."""
    objs = parse_objectives(objectives)
    points = [(run, _point(run, objs)) for run in runs]
    placed = [(run, p) for run, p in points if p is not None]
    return [run for run, p in placed if not any(_dominates(q, p) for _, q in placed)]


def dominators(run: Any, runs: Sequence[Any], objectives: Sequence[ObjectiveLike]) -> list[Any]:
    """The runs in ``runs`` that dominate ``run`` (empty when ``run`` lacks a value)."""
    objs = parse_objectives(objectives)
    p = _point(run, objs)
    if p is None:
        return []
    out = []
    for other in runs:
        q = _point(other, objs)
        if q is not None and _dominates(q, p):
            out.append(other)
    return out


def expands_front(run: Any, runs: Sequence[Any], objectives: Sequence[ObjectiveLike]) -> bool:
    """Whether adding ``run`` to ``runs`` puts a new point on their Pareto front.

    True when no run in ``runs`` dominates it and none has exactly its objective values
    (a copy of a point already there adds nothing). ``run`` itself, if it is in ``runs``,
    is left out of the comparison (by identity). False when ``run`` lacks a value.
    """
    objs = parse_objectives(objectives)
    p = _point(run, objs)
    if p is None:
        return False
    for other in runs:
        if other is run:
            continue
        q = _point(other, objs)
        if q is not None and (q == p or _dominates(q, p)):
            return False
    return True


def leaderboard(
    runs: Sequence[Any], objectives: Sequence[ObjectiveLike], *, id_key: str = "run_id"
) -> list[dict[str, Any]]:
    """One row per run: its id, name, objective values, ``pareto`` and ``dominated_by``.

    ``pareto`` is True on the front, False when dominated, None when a value is missing
    (``missing`` then names the objectives). Rows are sorted: front first, then by the
    number of runs that dominate them, then by the first objective (best first).
    """
    objs = parse_objectives(objectives)
    points = [_point(run, objs) for run in runs]
    rows: list[dict[str, Any]] = []
    for run, p in zip(runs, points, strict=True):
        data = as_mapping(run)
        values = {o.name: objective_value(run, o.name) for o in objs}
        row: dict[str, Any] = {
            "run_id": data.get(id_key),
            "name": data.get("name"),
            "objectives": values,
        }
        if p is None:
            row["pareto"] = None
            row["dominated_by"] = []
            row["missing"] = [name for name, v in values.items() if v is None]
        else:
            beaten_by = [
                as_mapping(other).get(id_key)
                for other, q in zip(runs, points, strict=True)
                if q is not None and _dominates(q, p)
            ]
            row["pareto"] = not beaten_by
            row["dominated_by"] = beaten_by
            # dominated only within uncertainty: every dominator overlaps this run's
            # intervals on every objective, so the ranking is not established
            dominators_ = [
                other
                for other, q in zip(runs, points, strict=True)
                if q is not None and _dominates(q, p)
            ]
            row["dominated_within_uncertainty"] = bool(dominators_) and all(
                all(_overlap(other, run, o) for o in objs) for other in dominators_
            )
        row["intervals"] = {o.name: objective_interval(run, o.name) for o in objs}
        rows.append(row)

    def sort_key(item: tuple[int, dict[str, Any]]) -> tuple[int, int, float, int]:
        index, row = item
        rank = {True: 0, False: 1, None: 2}[row["pareto"]]
        first = row["objectives"][objs[0].name]
        turned = 0.0 if first is None else (-first if objs[0].sense == "max" else first)
        return (rank, len(row["dominated_by"]), turned, index)

    return [row for _, row in sorted(enumerate(rows), key=sort_key)]
