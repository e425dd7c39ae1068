"""Fuzzing harness for every file format carbonledger reads: series CSVs, the config TOML,
provider JSON (through the providers' parse functions) and ledgers. Each may only be
refused with the project's own errors (one line, exit 3 on the command line)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonledger.cli.main import main
from carbonledger.errors import CarbonLedgerError
from carbonledger.intensity.series_csv import load_series

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

CELLS = st.one_of(
    st.sampled_from(["2024-01-01T00:00Z", "2024-01-01T01:00:00+02:00", "", "nan", "inf", "-1",
                     "1e308", "100", "true", "false", "FR", "\x00", '"', "a,b", "\ufeff"]),
    st.text(max_size=20),
    st.floats(allow_nan=True).map(str),
)  # fmt: skip
HEADERS = st.sampled_from(
    [
        "datetime,g_per_kwh",
        "timestamp,carbon_intensity,estimated",
        "Datetime (UTC),Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
        "Carbon Intensity gCO₂eq/kWh (LCA),Data Estimated",
        "",
        "a,b,c",
    ]
)


@FUZZ
@given(header=HEADERS, rows=st.lists(st.lists(CELLS, max_size=6), max_size=8))
def test_series_csv_text(tmp_path: Path, header: str, rows: list[list[str]]) -> None:
    path = tmp_path / "s.csv"
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in rows), encoding="utf-8",
                    errors="surrogatepass")  # fmt: skip
    _load(path)


@FUZZ
@given(body=st.binary(max_size=400))
def test_series_csv_bytes(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"datetime,g_per_kwh\n" + body)
    _load(path)


def _load(path: Path) -> None:
    for basis in ("lifecycle", "direct", "unknown"):
        try:
            series = load_series(path, basis=basis)
        except CarbonLedgerError as exc:
            assert "\n" not in str(exc)
        else:
            assert all(0 <= v <= 5000 for v in series.values_g_per_kwh)


# -- config TOML ---------------------------------------------------------------------------
TOML_LINES = st.sampled_from(
    [
        'zone = "FR"', "zone = 5", "pue = 1e308", "pue = nan", "pue = -1", "interval = 0",
        'ledger = ""', "ledger = 5", 'ledger = "/no/such/dir/l.sqlite"', "[section]",
        "scope = true", 'scope = "nope"', 'sensors = ["nosuch"]', "\ufeffzone = 'FR'",
        "unknown_key = 1", "= broken", 'zone = "\x1b[2J"', "flush_interval = -5",
    ]
)  # fmt: skip


@FUZZ
@given(lines=st.lists(TOML_LINES, max_size=5), junk=st.binary(max_size=30))
def test_config_toml(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lines: list[str],
    junk: bytes,
) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + b"\n" + junk)
    monkeypatch.setenv("CARBONLEDGER_CONFIG", str(config))
    monkeypatch.chdir(tmp_path)
    code = main(["runs"])
    _out, err = capsys.readouterr()
    assert code in (0, 3), err
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 3:
        assert len([ln for ln in err.splitlines() if ln.strip()]) == 1, err


# -- provider JSON -------------------------------------------------------------------------
JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12),
        st.sampled_from(["2024-01-01T00:00Z", "lbs_co2_per_mwh", "co2_moer", "hour"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(["data", "history", "forecast", "carbonIntensity", "datetime",
                             "isEstimated", "zone", "meta", "units", "signal_type", "point_time",
                             "value", "from", "to", "intensity", "actual", "forecast",
                             "emissionFactorType", "temporalGranularity"]),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=20,
)  # fmt: skip


def _providers() -> list[tuple[str, Any]]:
    from carbonledger.intensity.providers.electricitymaps import ElectricityMapsProvider
    from carbonledger.intensity.providers.ukgrid import UKGridProvider
    from carbonledger.intensity.providers.watttime import WattTimeProvider

    em = ElectricityMapsProvider("token", base_url="http://127.0.0.1:9")
    wt = WattTimeProvider("user", "password", base_url="http://127.0.0.1:9")
    uk = UKGridProvider(base_url="http://127.0.0.1:9")
    return [
        ("em latest", lambda p: em._page(p, None, "latest", "FR")),
        ("em history", lambda p: em._page(p, "history", "history", "FR")),
        ("wt data", wt._data("forecast")),
        ("uk national", lambda p: uk._points(p, "intensity", False)),
        ("uk regional", lambda p: uk._points(p, "regional", True)),
    ]


@FUZZ
@given(payload=JSON)
def test_provider_json(payload: object) -> None:
    for _name, parse in _providers():
        try:
            parse(json.loads(json.dumps(payload)))  # what a JSON body can hold
        except CarbonLedgerError as exc:
            assert "\n" not in str(exc)
        except ValueError:  # json.dumps refuses nan; not a body a server can send
            pass


# -- ledgers -------------------------------------------------------------------------------
READERS = [["runs"], ["summary"], ["show", "x" * 32], ["report", "x" * 32],
           ["leaderboard", "--objective", "total_kgco2e:min"], ["compare", "a", "b"]]  # fmt: skip


def _check_reader(argv: list[str], ledger: Path, capsys: pytest.CaptureFixture[str]) -> int:
    code = main([*argv, "--ledger", str(ledger)])
    _out, err = capsys.readouterr()
    assert code in (0, 3), (argv, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code == 3:
        assert len([ln for ln in err.splitlines() if ln.strip()]) == 1, (argv, err)
    return code


@pytest.mark.parametrize("size", [0, 1, 100, 4096, 10_000])
def test_ledger_of_random_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], size: int
) -> None:
    ledger = tmp_path / "l.sqlite"
    ledger.write_bytes(os.urandom(size))
    for argv in READERS:
        _check_reader(argv, ledger, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("page", [1, 2, 3, -1])
def test_ledger_with_a_damaged_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], page: int
) -> None:
    ledger = tmp_path / "l.sqlite"
    for _ in range(3):
        assert main(["run", "--quiet", "--interval", "0.05", "--ledger", str(ledger), "--",
                     "sleep", "0.2"]) == 0  # fmt: skip
    capsys.readouterr()
    with sqlite3.connect(ledger) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(ledger.read_bytes())
    pages = len(data) // page_size
    index = page if page >= 0 else pages - 1
    data[index * page_size : (index + 1) * page_size] = os.urandom(page_size)
    ledger.write_bytes(bytes(data))
    for argv in READERS:
        _check_reader(argv, ledger, capsys)
