"""Tests of scripts/build_cpu_table.py (loaded from its path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from carbonledger.sensors import cpu_model

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_cpu_table.py"
SHARED = REPO.parent / "shared" / "data" / "hardware"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_cpu_table", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_cpu_table"] = module
    spec.loader.exec_module(module)
    return module


SOURCE = """Name,TDP
Intel Xeon Gold 6248,150.0
Intel Celeron 1000A,27.29.5
,65
Intel Xeon Gold 6248R,205
Intel Core i7-920,130,extra
Intel Xeon Platinum 8480+,350.0
AMD EPYC 7763,280.0
A10-7850K,95
AMD A10-7850K,95
A4 Micro-6400T,4.5
AMD A4 Micro-6400T,4.0
Intel Atom E625CT,3
Intel Atom  E625CT,2.7
Intel Aubrey Isle,100
Intel Xeon E5-2670,0.0
AMD Athlon 64 3000+,nan
"""


def test_build_rows_rejects_malformed_rows_naming_the_line(build: ModuleType) -> None:
    built = build.build_rows(SOURCE, "cpu.csv")
    assert built.rejected == [
        "cpu.csv:3: rejected: TDP '27.29.5' is not a number",
        "cpu.csv:4: rejected: empty name",
        "cpu.csv:6: rejected: expected 2 fields, got 3",
        "cpu.csv:16: rejected: TDP '0.0' out of range",
        "cpu.csv:17: rejected: TDP 'nan' out of range",
    ]
    keys = [key for key, _, _ in built.rows]
    assert keys == sorted(keys)
    assert built.rows == [
        ("amd a10 7850k", "AMD A10-7850K", 95.0),
        ("amd epyc 7763", "AMD EPYC 7763", 280.0),
        ("intel xeon gold 6248", "Intel Xeon Gold 6248", 150.0),
        ("intel xeon gold 6248r", "Intel Xeon Gold 6248R", 205.0),
        ("intel xeon platinum 8480+", "Intel Xeon Platinum 8480+", 350.0),
    ]
    dropped = "\n".join(built.dropped)
    assert "cpu.csv:15: dropped: 'Intel Aubrey Isle' has no model number" in dropped
    assert "ambiguous key 'intel atom e625ct' on lines 13" in dropped
    assert "cpu.csv:9: dropped: 'A10-7850K' (95 W) duplicate of a vendor-named row" in dropped
    assert "'A4 Micro-6400T' (4.5 W) disagrees with 'amd a4 micro 6400t'" in dropped


def test_render_round_trips_through_the_runtime_parser(build: ModuleType) -> None:
    text = build.render(build.build_rows(SOURCE, "cpu.csv").rows)
    assert text.splitlines()[0] == "model_key,name,tdp_w"
    assert "#" not in text
    table = cpu_model.CpuTable.parse(text, "out.csv")
    entry = table.match("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz")
    assert entry is not None and entry.tdp_w == 150.0


def test_bad_header_stops_the_build(build: ModuleType) -> None:
    with pytest.raises(SystemExit, match="expected header Name,TDP"):
        build.build_rows("name,tdp\nx,1\n", "cpu.csv")


def test_main_strict_check_and_write(build: ModuleType, tmp_path: Path) -> None:
    source = tmp_path / "cpu.csv"
    source.write_text(SOURCE)
    spec = tmp_path / "spec.csv"
    spec.write_text(
        ",avg. watts @ 100%,avg. watts @ active idle\n0,100,24.5\n1,200,10\n2,100,60\n3,bad,1\n"
    )  # median ratio 0.245
    out = tmp_path / "out" / "cpu_tdp.csv"
    args = ["--source", str(source), "--specpower", str(spec), "--out", str(out)]
    # default TDP: the median of the Xeon/EPYC rows here is 205, not the constant's 120
    assert build.main(args) == 1
    assert out.exists()
    assert build.main([*args, "--check"]) == 1
    assert build.specpower_idle_fraction(spec) == (pytest.approx(0.245), 3)
    assert (
        build.server_median_tdp(
            [
                ("intel xeon 1", "x", 100.0),
                ("amd epyc 2", "y", 140.0),
                ("intel core i7 3", "z", 65.0),
            ]
        )
        == 120.0
    )


@pytest.mark.skipif(not (SHARED / "cpu_power.csv").exists(), reason="shared data not present")
def test_bundled_table_and_constants_are_up_to_date(build: ModuleType) -> None:
    """The bundled cpu_tdp.csv, IDLE_FRACTION and DEFAULT_TDP_W match the source data."""
    assert build.main(["--check"]) == 0
