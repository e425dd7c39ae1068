"""Summaries: grouped totals add up to the overall total exactly; missing is not zero."""

from __future__ import annotations

import math
from typing import Any

import pytest
from factories import footprint
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.errors import ConfigError
from carbonledger.report.summary import FIELDS, group_key, parse_group_by, summarize

value = st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False))
run_strategy = st.fixed_dictionaries(
    {
        "phase": st.sampled_from(["training", "inference", "data"]),
        "name": st.sampled_from(["a", "b", "c"]),
        "started_at": st.sampled_from(
            ["2024-03-01T23:30:00Z", "2024-03-02T00:10:00+01:00", None, "garbage"]
        ),
        "tags": st.dictionaries(st.sampled_from(["team", "seed"]), st.sampled_from(["x", "y"])),
        "energy_kwh": value,
        "operational_kgco2e": value,
        "embodied_kgco2e": value,
        "total_kgco2e": value,
    }
)


@settings(max_examples=150, deadline=None)
@given(st.lists(run_strategy, max_size=25), st.sampled_from(["phase", "name", "tag:team", "day"]))
def test_group_totals_add_up_exactly(runs: list[dict[str, Any]], by: str) -> None:
    rows, overall = summarize(runs, by)
    assert sum(r.runs for r in rows) == overall.runs == len(runs)
    for _, column in FIELDS:
        parts = [r.totals[column] for r in rows if r.totals[column] is not None]
        expected = math.fsum(p for p in parts if p is not None) if parts else None
        assert overall.totals[column] == expected
        known = [r[column] for r in runs if r[column] is not None]
        if known:
            assert overall.totals[column] == pytest.approx(math.fsum(known), rel=1e-12, abs=1e-9)
        else:
            assert overall.totals[column] is None
        assert overall.missing[column] == sum(1 for r in runs if r[column] is None)


def test_missing_values_are_counted_not_added_as_zero() -> None:
    runs = [
        {"phase": "training", "energy_kwh": 2.0, "total_kgco2e": None},
        {"phase": "training", "energy_kwh": None, "total_kgco2e": None},
    ]
    rows, overall = summarize(runs, "phase")
    assert rows[0].totals["energy_kwh"] == 2.0 and rows[0].missing["energy_kwh"] == 1
    assert rows[0].totals["total_kgco2e"] is None and rows[0].missing["total_kgco2e"] == 2
    assert overall.to_dict()["missing"]["total_kgco2e"] == 2


def test_grouping_keys() -> None:
    fp = footprint(tags={"team": "vision"})
    assert group_key(fp, "phase") == "training"
    assert group_key(fp, "name") == "resnet50"
    assert group_key(fp, "tag:team") == "vision"
    assert group_key(fp, "tag:seed") is None
    assert group_key(fp, "day") == "2024-03-01"
    assert group_key({"started_at": "2024-03-02T00:10:00+01:00"}, "day") == "2024-03-01"
    rows, _ = summarize([fp, {"phase": "training"}, {}], "tag:team")
    assert [r.group for r in rows] == ["vision", None]  # the untagged group comes last
    for bad in ("tag", "tag:", "week", "phase:x"):
        with pytest.raises(ConfigError):
            parse_group_by(bad)


def test_summary_of_footprints() -> None:
    a = footprint(run_id="a", phase="training")
    b = footprint(run_id="b", phase="inference")
    rows, overall = summarize([a, b, a], "phase")
    assert [r.group for r in rows] == ["inference", "training"]
    assert rows[1].runs == 2
    assert overall.totals["total_kgco2e"] == pytest.approx(3 * (a.total_kgco2e or 0))


def test_totals_have_intervals_adding_in_quadrature() -> None:
    from carbonledger.report.summary import summarize as summ

    runs = [
        {
            "phase": "training",
            "energy_kwh": 1.0,
            "total_kgco2e": 3.0,
            "uncertainty": {"energy_kwh": [0.9, 1.1], "total_kgco2e": [2.7, 3.3]},
        },
        {
            "phase": "training",
            "energy_kwh": 1.0,
            "total_kgco2e": 4.0,
            "uncertainty": {"energy_kwh": [0.9, 1.1], "total_kgco2e": [3.6, 4.4]},
        },
        {
            "phase": "inference",
            "energy_kwh": 2.0,
            "total_kgco2e": 1.0,
            "uncertainty": {"energy_kwh": None, "total_kgco2e": None},
        },
    ]
    rows, overall = summ(runs, "phase")
    training = next(r for r in rows if r.group == "training")
    low, high = training.intervals["total_kgco2e"] or (0.0, 0.0)
    half = (0.3**2 + 0.4**2) ** 0.5  # independent runs: absolute errors in quadrature
    assert (low, high) == pytest.approx((7 - half, 7 + half))
    assert training.to_dict()["uncertainty"]["energy_kwh"] == pytest.approx(
        [2 - 0.1414, 2 + 0.1414], abs=1e-3
    )
    assert overall.intervals["total_kgco2e"] is None  # one run without an interval: unknown
