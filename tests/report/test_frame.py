"""Runs as flat rows and as a pandas DataFrame (pandas is optional)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from factories import footprint
from ledger_runs import add_run

from carbonledger.errors import ConfigError
from carbonledger.records import RunStatus
from carbonledger.report import frame
from carbonledger.store import open_ledger


def test_flat_row_has_units_tags_metrics_and_components() -> None:
    row = frame.flat_row(footprint(tags={"team": "vision"}, metrics={"accuracy": 0.9}))
    assert row["tag.team"] == "vision" and row["metric.accuracy"] == 0.9
    assert row["zone"] == "FR" and row["intensity_method"] == "modeled"
    assert row["energy_kwh_gpu"] > row["energy_kwh_ram"] > 0
    assert row["total_kgco2e_low"] < row["total_kgco2e"] < row["total_kgco2e_high"]
    empty = frame.flat_row({})
    assert empty["energy_kwh"] is None and "energy_kwh_cpu" not in empty


def test_without_pandas_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ConfigError, match=r"pip install 'carbonledger\[pandas\]'"):
        frame.runs_frame([footprint()])


def test_tag_filters_and_selection(tmp_path: Path) -> None:
    assert frame.parse_tag_filters(["a=1", " b = x=y "]) == {"a": "1", "b": "x=y"}
    for bad in ("a", "=1"):
        with pytest.raises(ConfigError):
            frame.parse_tag_filters([bad])
    with open_ledger(tmp_path / "l.sqlite") as ledger:
        add_run(ledger, "r1", "resnet-a", tags={"opt": "adam"})
        add_run(ledger, "r2", "resnet-b", tags={"opt": "sgd"})
        add_run(ledger, "r3", "vit", tags={"opt": "adam"})
        runs = ledger.list_runs()
        assert {r.run_id for r in frame.select_runs(runs, name="resnet-*")} == {"r1", "r2"}
        assert {r.run_id for r in frame.select_runs(runs, tags={"opt": "adam"})} == {"r1", "r3"}
        loaded = frame.load_footprints(ledger, name="resnet-*", tags={"opt": "sgd"})
        assert [fp.run_id for fp in loaded.footprints] == ["r2"] and loaded.skipped == []


def test_runs_frame_from_ledger_path_and_footprints(tmp_path: Path) -> None:
    pandas = pytest.importorskip("pandas")
    path = tmp_path / "l.sqlite"
    with open_ledger(path) as ledger:
        add_run(ledger, "r1", "a", metrics={"accuracy": 0.9})
        add_run(ledger, "r2", "b", status=RunStatus.FAILED)
    df = frame.runs_frame(path)
    assert isinstance(df, pandas.DataFrame) and len(df) == 2
    assert set(df["run_id"]) == {"r1", "r2"}
    assert str(df["started_at"].dt.tz) == "UTC"
    assert df.set_index("run_id").loc["r1", "metric.accuracy"] == 0.9
    assert pandas.isna(df.set_index("run_id").loc["r2", "metric.accuracy"])
    df2 = frame.runs_frame([footprint(), footprint(run_id="x").to_dict()])
    assert list(df2["run_id"]) == ["r0001abcd", "x"]
    assert frame.runs_frame([]).empty
