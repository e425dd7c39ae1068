"""Load grid-intensity time series from CSV files.

Two formats are recognised from the header:

- **Electricity Maps data portal** (hourly/daily exports): ``Datetime (UTC)``, ``Zone Id``,
  ``Carbon Intensity gCO₂eq/kWh (direct)``, ``Carbon Intensity gCO₂eq/kWh (LCA)`` (newer
  exports: ``(Life cycle)``), ``Data Estimated``, … The ``basis`` argument picks the direct or
  lifecycle column; the zone is the file's ``Zone Id``; rows flagged ``Data Estimated`` keep
  the flag (their values are then labelled ``modeled``, not ``measured``). An empty flag
  counts as not estimated.
- **Plain**: a time column ``datetime`` or ``timestamp`` (ISO 8601; ``Z`` or an offset such
  as ``+02:00`` is honoured; a time without either is **UTC**) and a value column
  ``g_per_kwh`` or ``carbon_intensity`` (gCO2e/kWh); optional ``estimated`` (true/false). The
  zone is the ``zone`` argument or else the file name's stem; the basis is what the caller
  declares with ``basis`` (pass ``"unknown"`` when you do not know it).

Rows must be strictly ascending in time; values lie between 0 and
:data:`~carbonledger.limits.MAX_INTENSITY_G_PER_KWH`. Any malformed row raises
:class:`~carbonledger.errors.DataError` naming the file and line, as soon as it is read:
the file is streamed, never read whole.
"""

from __future__ import annotations

import csv
import math
import os
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from carbonledger.errors import ConfigError, DataError
from carbonledger.intensity.base import BASES
from carbonledger.intensity.series import IntensitySeries
from carbonledger.limits import MAX_INTENSITY_G_PER_KWH, MAX_SERIES_LINE_CHARS
from carbonledger.timeutil import parse_instant

__all__ = ["PLAIN_TIME_COLUMNS", "PLAIN_VALUE_COLUMNS", "load_series", "parse_time"]

PLAIN_TIME_COLUMNS = ("datetime", "timestamp")
PLAIN_VALUE_COLUMNS = ("g_per_kwh", "carbon_intensity")
_EM_TIME = "datetime (utc)"
_EM_ZONE = "zone id"
_EM_ESTIMATED = "data estimated"
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})


def parse_time(text: str) -> float:
    """Unix seconds of an ISO 8601 time; a time without ``Z`` or an offset is UTC.

    Raises ValueError when ``text`` is not ISO 8601 (:func:`carbonledger.timeutil.parse_instant`).
    """
    return parse_instant(text)


def load_series(
    path: str | os.PathLike[str], *, basis: str = "lifecycle", zone: str | None = None
) -> IntensitySeries:
    """The intensity series in the CSV file at ``path`` (format detected from its header).

    The file is validated while it is streamed (csv reader over the open file, values kept
    in ``array('d')``): a bad line is refused as soon as it is read, a line longer than
    :data:`~carbonledger.limits.MAX_SERIES_LINE_CHARS` is refused without reading it whole,
    and memory stays a few bytes per row.
    """
    if basis not in BASES:
        raise ConfigError(f"basis must be one of {', '.join(BASES)}, got {basis!r}")
    file = Path(path)
    try:
        fh = open(file, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise DataError(f"cannot read intensity series {file}: {exc.strerror or exc}") from None
    lines = _Lines(fh, file)
    try:
        reader = csv.reader(lines)
        rows = _numbered(reader, lines)
        header = next(rows, (1, None))[1]
        if header is None or not any(cell.strip() for cell in header):
            raise DataError(f"{file}: empty file (no header)")
        columns = [cell.strip().lower() for cell in header]
        if _EM_TIME in columns and _EM_ZONE in columns:
            return _electricitymaps(file, columns, rows, basis, zone)
        return _plain(file, columns, rows, basis, zone)
    except OSError as exc:
        raise DataError(f"cannot read intensity series {file}: {exc.strerror or exc}") from None
    finally:
        fh.close()


class _Lines:
    """The file's lines decoded one by one (a BOM is skipped), each at most
    MAX_SERIES_LINE_CHARS bytes long; a longer line or one that is not UTF-8 is a DataError."""

    def __init__(self, fh: BinaryIO, file: Path) -> None:
        self.fh = fh
        self.file = file
        self.number = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.fh.readline(MAX_SERIES_LINE_CHARS + 1)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) > MAX_SERIES_LINE_CHARS:
            raise DataError(
                f"{self.file.name} line {self.number}: longer than "
                f"{MAX_SERIES_LINE_CHARS:,} bytes (not an intensity series)"
            )
        if self.number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{self.file.name} line {self.number}: not UTF-8 text") from None


def _numbered(reader: Iterator[list[str]], lines: _Lines) -> Iterator[tuple[int, list[str] | None]]:
    """(line number, row) for each row; a CSV syntax error is a DataError naming the line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{lines.file.name} line {lines.number}: {exc}") from None
        yield lines.number, row


def _column(file: Path, columns: Sequence[str], names: Sequence[str], what: str) -> int:
    for name in names:
        if name in columns:
            return columns.index(name)
    raise DataError(f"{file}: missing {what} column (one of: {', '.join(names)})")


def _em_value_column(file: Path, columns: Sequence[str], basis: str) -> int:
    if basis == "unknown":
        raise ConfigError(
            f"{file} is an Electricity Maps export with direct and lifecycle columns: "
            "choose basis 'direct' or 'lifecycle'"
        )
    markers = ("(direct)",) if basis == "direct" else ("(lca)", "(life cycle)", "(lifecycle)")
    for i, name in enumerate(columns):
        if "carbon intensity" in name and name.endswith(markers):
            return i
    raise DataError(f"{file}: no {basis} carbon intensity column in the Electricity Maps header")


def _electricitymaps(
    file: Path,
    columns: list[str],
    rows: Iterable[tuple[int, list[str] | None]],
    basis: str,
    zone: str | None,
) -> IntensitySeries:
    i_time = columns.index(_EM_TIME)
    i_zone = columns.index(_EM_ZONE)
    i_value = _em_value_column(file, columns, basis)
    i_est = columns.index(_EM_ESTIMATED) if _EM_ESTIMATED in columns else None
    times, values, flags = _collect(file, columns, rows, i_time, i_value, i_est, i_zone)
    zone_id = flags.zone
    if zone_id is None:
        raise DataError(f"{file}: no data rows")
    if not zone_id:
        raise DataError(f"{file}: the Zone Id column is empty")
    if zone is not None and zone.strip().casefold() != zone_id.casefold():
        raise DataError(f"{file} holds zone {zone_id!r}, not {zone!r}")
    return IntensitySeries(
        times=times,
        values_g_per_kwh=values,
        zone=zone_id,
        signal="average",
        basis=basis,
        source=f"electricitymaps-portal:{file.name}",
        estimated=flags.estimated,
    )


def _plain(
    file: Path,
    columns: list[str],
    rows: Iterable[tuple[int, list[str] | None]],
    basis: str,
    zone: str | None,
) -> IntensitySeries:
    i_time = _column(file, columns, PLAIN_TIME_COLUMNS, "time")
    i_value = _column(file, columns, PLAIN_VALUE_COLUMNS, "value")
    i_est = columns.index("estimated") if "estimated" in columns else None
    times, values, flags = _collect(file, columns, rows, i_time, i_value, i_est, None)
    if not times:
        raise DataError(f"{file}: no data rows")
    return IntensitySeries(
        times=times,
        values_g_per_kwh=values,
        zone=(zone or "").strip() or file.stem,
        signal="average",
        basis=basis,
        source=f"csv:{file.name}",
        estimated=flags.estimated if i_est is not None else None,
    )


class _Extra:
    """What a pass over the rows found besides times and values."""

    def __init__(self) -> None:
        self.zone: str | None = None
        self.estimated: tuple[bool, ...] | None = None


def _collect(
    file: Path,
    columns: list[str],
    rows: Iterable[tuple[int, list[str] | None]],
    i_time: int,
    i_value: int,
    i_est: int | None,
    i_zone: int | None,
) -> tuple[tuple[float, ...], tuple[float, ...], _Extra]:
    times = array("d")
    values = array("d")
    estimated = bytearray()
    extra = _Extra()
    needed = max(i for i in (i_time, i_value, i_est, i_zone) if i is not None) + 1
    time_col, value_col = columns[i_time], columns[i_value]
    previous = -math.inf
    name = file.name
    for line, row in rows:
        if row is None:
            continue
        if len(row) < needed:
            if not row or not any(field.strip() for field in row):
                continue  # a blank line
            raise DataError(f"{name} line {line}: {len(row)} fields, expected {len(columns)}")
        raw_time = row[i_time]
        try:
            at = parse_time(raw_time)
        except ValueError:
            raise DataError(
                f"{name} line {line}: {raw_time!r} is not an ISO 8601 time in column {time_col}"
            ) from None
        if at <= previous:
            what = "repeats" if at == previous else "is before"
            raise DataError(
                f"{name} line {line}: time {raw_time!r} {what} the previous row's "
                "(times must be strictly ascending)"
            )
        previous = at
        raw_value = row[i_value]
        try:
            value = float(raw_value)
        except ValueError:
            raise DataError(
                f"{name} line {line}: {raw_value!r} is not a number in column {value_col}"
            ) from None
        if not (math.isfinite(value) and 0 <= value <= MAX_INTENSITY_G_PER_KWH):
            raise DataError(
                f"{name} line {line}: {raw_value!r} is not a finite intensity between 0 and "
                f"{MAX_INTENSITY_G_PER_KWH:g} g/kWh in column {value_col}"
            )
        if i_est is not None:
            flag = row[i_est].strip().lower()
            if flag not in _TRUE and flag not in _FALSE:
                raise DataError(
                    f"{name} line {line}: {row[i_est]!r} is not true or false "
                    f"in column {columns[i_est]}"
                )
            estimated.append(flag in _TRUE)
        if i_zone is not None:
            zone_id = row[i_zone].strip()
            if extra.zone is None:
                extra.zone = zone_id
            elif zone_id != extra.zone:
                raise DataError(
                    f"{name} line {line}: zone {zone_id!r} differs from {extra.zone!r} "
                    "(one zone per file)"
                )
        times.append(at)
        values.append(value)
    if i_est is not None:
        extra.estimated = tuple(flag == 1 for flag in estimated)
    return tuple(times), tuple(values), extra
