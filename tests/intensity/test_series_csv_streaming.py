"""Series files are validated while streamed: memory stays small (issue 9, defect 9)."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carbonledger.errors import DataError
from carbonledger.intensity.series_csv import load_series

HOURS_PER_YEAR = 8760


def write_hourly(path: Path, hours: int, *, bad_line_2: bool = False) -> Path:
    t0 = datetime(2023, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("datetime,g_per_kwh,estimated\n")
        for h in range(hours):
            value = "garbage" if bad_line_2 and h == 0 else f"{200 + (h % 24) * 7.5:.2f}"
            t = (t0 + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
            fh.write(f"{t},{value},{'true' if h % 5 == 0 else 'false'}\n")
    return path


def peak_bytes(fn: object) -> int:
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_year_of_hourly_data_costs_a_few_mb(tmp_path: Path) -> None:
    path = write_hourly(tmp_path / "year.csv", HOURS_PER_YEAR)
    series = load_series(path)
    assert len(series.times) == HOURS_PER_YEAR
    peak = peak_bytes(lambda: load_series(path))
    assert peak < 10_000_000, peak  # was about 20x the file's 350 kB before streaming


def test_bad_line_2_of_a_large_file_is_refused_without_reading_the_rest(tmp_path: Path) -> None:
    path = write_hourly(tmp_path / "big.csv", 300_000, bad_line_2=True)  # about 12 MB
    assert path.stat().st_size > 10_000_000

    def load() -> None:
        with pytest.raises(DataError, match="line 2: 'garbage' is not a number"):
            load_series(path)

    assert peak_bytes(load) < 1_000_000  # a few buffers, not the file


def test_a_huge_line_is_refused_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "oneline.csv"
    path.write_text("datetime,g_per_kwh\n" + "9" * 5_000_000 + "\n")

    def load() -> None:
        with pytest.raises(DataError, match="line 2: longer than"):
            load_series(path)

    assert peak_bytes(load) < 1_000_000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"datetime,g_per_kwh\n2023-01-01T00:00Z,\xff\n", "line 2: not UTF-8"),
        (b"datetime,g_per_kwh\n2023-01-01T00:00Z,1\x00\n", "line 2"),
        (b"datetime,g_per_kwh\n2023-01-01T00:00Z,1e308\n", "line 2: '1e308' is not a finite"),
        (b"datetime,g_per_kwh\n2023-01-01T00:00Z,5001\n", "between 0 and 5000"),
        (b"\xef\xbb\xbfdatetime,g_per_kwh\n2023-01-01T00:00Z,100\n", None),  # BOM is fine
    ],
)
def test_bad_bytes_name_the_line(tmp_path: Path, body: bytes, message: str | None) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(body)
    if message is None:
        assert load_series(path).values_g_per_kwh == (100.0,)
        return
    with pytest.raises(DataError, match=message):
        load_series(path)
