"""Every reading command's output on one fixed ledger, against files captured before the
scale work (listings from SQL aggregates, numpy bootstrap, SVG charts) changed the code.

Numbers must agree to 1e-9 relative (sums taken in another order differ in the last
bits); text, keys, ids, warnings and every missing value must agree exactly. ``compare``'s
bootstrap intervals are left out: the resampler changed (same seed, same interval run to
run, not the same as the old pure-Python one), and its own tests cover it.
Set ``CARBONLEDGER_GOLDEN_UPDATE=1`` to rewrite the files (only on purpose).
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from carbonledger.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_ledger import build

HERE = Path(__file__).resolve().parent / "outputs"
UPDATE = os.environ.get("CARBONLEDGER_GOLDEN_UPDATE") == "1"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("golden") / "ledger.sqlite"
    return path, build(path)


def _commands(ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {
        "runs": ["runs", "--json"],
        "report_all": ["report", *ids, "--format", "json"],
        "leaderboard": [
            "leaderboard",
            "--objective",
            "total_kgco2e:min",
            "--objective",
            "accuracy:max",
            "--json",
        ],
        "compare": ["compare", "train-a", "train-b", "--resamples", "200", "--json"],
        "compare_tag": ["compare", "tag:team=a", "tag:team=b", "--by", "tag", "--json"],
    }
    for by in ("phase", "name", "tag:team", "day"):
        out[f"summary_{by.replace(':', '_')}"] = ["summary", "--by", by, "--json"]
    for i, run_id in enumerate(ids):
        out[f"show_{i:02d}"] = ["show", run_id[:10], "--json"]
    return out


def _run(argv: list[str], path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    code = main([*argv, "--ledger", str(path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _strip_intervals(data: Any) -> Any:
    for row in data.get("comparisons", ()):
        row.pop("interval_95", None)
        row.pop("clear_difference", None)
        row.pop("verdict", None)
    return data


def _same(old: Any, new: Any, where: str) -> None:
    if isinstance(old, float) or isinstance(new, float):
        assert isinstance(new, (int, float)) and isinstance(old, (int, float)), where
        assert math.isclose(old, new, rel_tol=1e-9, abs_tol=1e-12), f"{where}: {old} != {new}"
    elif isinstance(old, dict):
        assert isinstance(new, dict) and list(old) == list(new), f"{where}: keys differ"
        for key in old:
            _same(old[key], new[key], f"{where}.{key}")
    elif isinstance(old, list):
        assert isinstance(new, list) and len(old) == len(new), f"{where}: lengths differ"
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _same(a, b, f"{where}[{i}]")
    else:
        assert old == new, f"{where}: {old!r} != {new!r}"


@pytest.mark.parametrize("name", list(_commands(["x" * 18] * 14)))
def test_output_unchanged(
    name: str, ledger: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, ids = ledger
    data = _run(_commands(ids)[name], path, capsys)
    if name.startswith("compare"):
        data = _strip_intervals(data)
    golden = HERE / f"{name}.json"
    if UPDATE:
        HERE.mkdir(exist_ok=True)
        golden.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    _same(json.loads(golden.read_text(encoding="utf-8")), data, name)


def test_the_ledger_covers_the_hard_cases(
    ledger: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """The reference ledger exercises sharing, gaps, series and unpriced devices."""
    path, ids = ledger
    shows = [_run(["show", run_id, "--json"], path, capsys) for run_id in ids]
    warnings = " ".join(w for fp in shows for w in fp["warnings"])
    assert "shared this host" in warnings and "lower bound" in warnings
    assert "no reading at all" in warnings
    assert any(fp["intensity"]["time_aligned"] for fp in shows)
    assert any(0 < (fp["intensity"].get("coverage") or 0) < 1 for fp in shows)
