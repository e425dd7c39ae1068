"""Sums of many runs' samples per (run, device), and per step of an intensity series,
taken where the samples live: what a job footprint needs from a day of 1 s samples of
hundreds of devices without loading them.

:func:`device_steps` gives one :class:`DeviceSteps` per (run, device). Samples that last
no time are counted (``zero``) but left out of every sum, as a device's timeline leaves
them out (:func:`carbonledger.distributed.merge.merge_samples`).

How the stores do it, fastest first:

1. **Kept cells.** SQLite (schema v6) and PostgreSQL (schema v3) keep, as samples are
   written, sums per (run, device, 300 s cell of UTC time), the one sample crossing a
   cell's end kept apart (``store/_schema.py``). When the series starts on a whole cell
   and its steps are whole numbers of cells (hourly, half-hourly, 5-min UTC series; or no
   series at all), the cells are summed per series step in the store: a day of a
   512-device job is ~330 k cells instead of ~50 M samples.
2. **Scan.** Otherwise (a series off that grid, a run whose samples were changed after
   they were written: its cells are ``stale``) the samples are grouped by run, device and
   cell of a regular grid laid over the series (its first start, its shortest step), the
   sample crossing a cell's end kept apart.

Either way each group is then checked against the series' exact step bounds: a group
whose samples all lie inside one step (or wholly outside the series) is that step's; the
rare group that does not fit (an irregular series, or several samples crossing one
step's end) makes that (run, device) be read sample by sample. Every other ledger, and a
run with a damaged sample (read sample by sample, which names it), uses
:func:`steps_from_device_samples` over ``samples()``. The answers are exact sums, equal to
the sample-by-sample ones up to the order of floating-point additions.
"""

from __future__ import annotations

import bisect
import itertools
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from carbonledger.records import Sample
from carbonledger.store._schema import CELL_S
from carbonledger.store.aggregates import OUTSIDE, StepEnergy, steps_from_samples

if TYPE_CHECKING:
    from carbonledger.store.base import Ledger

__all__ = ["DeviceSteps", "device_steps", "steps_from_device_samples"]

_CHUNK = 500  # run ids per grouped query


@dataclass(frozen=True)
class DeviceSteps:
    """One device's samples in one run, summed (samples lasting no time left out).

    ``t_min``/``t_max``: the earliest start and latest end; ``duration_s``: the sum of
    the samples' durations (equal to ``t_max - t_min`` when they tile that time without
    gaps); ``covered_s``/``known_s``: the time of the samples whose ``host_energy_j`` /
    ``energy_j`` is known; ``missing``: samples whose ``energy_j`` is unknown; ``steps``:
    known energy per series step (None without a series).
    """

    run_id: str
    device_id: str
    samples: int
    zero: int
    t_min: float | None
    t_max: float | None
    duration_s: float
    host_energy_j: float | None
    energy_j: float | None
    missing: int
    covered_s: float
    known_s: float
    steps: StepEnergy | None = field(default=None)


def _add(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else a + b


def steps_from_device_samples(
    run_id: str, samples: Iterable[Sample], bounds: Sequence[float] | None
) -> dict[str, DeviceSteps]:
    """The reference: :class:`DeviceSteps` per device of one run's samples."""
    by_device: dict[str, list[Sample]] = {}
    zero: dict[str, int] = {}
    for s in samples:
        if s.t_end <= s.t_start:
            zero[s.device_id] = zero.get(s.device_id, 0) + 1
            by_device.setdefault(s.device_id, [])
        else:
            by_device.setdefault(s.device_id, []).append(s)
    out: dict[str, DeviceSteps] = {}
    for device_id, rows in by_device.items():
        host: float | None = None
        energy: float | None = None
        for s in rows:
            host = _add(host, s.host_energy_j)
            energy = _add(energy, s.energy_j)
        out[device_id] = DeviceSteps(
            run_id=run_id,
            device_id=device_id,
            samples=len(rows),
            zero=zero.get(device_id, 0),
            t_min=min((s.t_start for s in rows), default=None),
            t_max=max((s.t_end for s in rows), default=None),
            duration_s=math.fsum(s.duration_s for s in rows),
            host_energy_j=host,
            energy_j=energy,
            missing=sum(1 for s in rows if s.energy_j is None),
            covered_s=math.fsum(s.duration_s for s in rows if s.host_energy_j is not None),
            known_s=math.fsum(s.duration_s for s in rows if s.energy_j is not None),
            steps=None if bounds is None else steps_from_samples(rows, bounds),
        )
    return out


# -- grouped rows from a store -----------------------------------------------------------
@dataclass
class _Cell:
    """Grouped samples of one (run, device, grid cell) (or one sample crossing a cell)."""

    alone: bool
    count: int
    duration_s: float
    t_min: float
    t_max: float
    host_j: float | None
    energy_j: float | None
    missing: int
    covered_s: float
    known_s: float
    nonzero: int


def _grid(bounds: Sequence[float] | None) -> tuple[float, float] | None:
    """(origin, width) of the grid laid over the series: its first start, shortest step."""
    if bounds is None or len(bounds) < 2:
        return None
    widths = [b - a for a, b in itertools.pairwise(bounds)]
    width = min(widths)
    if not (width > 0 and math.isfinite(width) and math.isfinite(bounds[0])):
        return None
    return float(bounds[0]), float(width)


def _step_of(cell: _Cell, bounds: Sequence[float]) -> int | None:
    """The step all of the cell's samples lie in (OUTSIDE: wholly outside the series);
    None when they do not all fit one."""
    first, last = bounds[0], bounds[-1]
    if cell.t_max <= first or cell.t_min >= last:
        return OUTSIDE
    k = bisect.bisect_right(bounds, cell.t_min) - 1
    if 0 <= k < len(bounds) - 1 and cell.t_max <= bounds[k + 1]:
        return k
    return None


def _fold(
    run_id: str,
    device_id: str,
    cells: Sequence[_Cell],
    zero: int,
    bounds: Sequence[float] | None,
) -> DeviceSteps | None:
    """One (run, device)'s cells as DeviceSteps; None when a cell does not fit a step."""
    steps: dict[int, list[float | int]] = {}
    rest: list[Sample] = []
    host: float | None = None
    energy: float | None = None
    for c in cells:
        host = _add(host, c.host_j)
        energy = _add(energy, c.energy_j)
        if bounds is None or c.energy_j is None:
            continue
        if c.alone and c.count > 1:  # several samples crossing one cell's end
            return None
        if c.alone:  # one sample: classified exactly, as the reference does
            s = Sample(device_id, c.t_min, c.t_max, c.host_j, c.energy_j)
            one = steps_from_samples([s], bounds)
            rest.extend(one.rest)
            for key, (j, nz) in one.steps.items():
                row = steps.setdefault(key, [0.0, 0])
                row[0] += j
                row[1] += nz
            continue
        k = _step_of(c, bounds)
        if k is None:
            return None
        row = steps.setdefault(k, [0.0, 0])
        row[0] += c.energy_j
        row[1] += c.nonzero
    return DeviceSteps(
        run_id=run_id,
        device_id=device_id,
        samples=sum(c.count for c in cells),
        zero=zero,
        t_min=min((c.t_min for c in cells), default=None),
        t_max=max((c.t_max for c in cells), default=None),
        duration_s=math.fsum(c.duration_s for c in cells),
        host_energy_j=host,
        energy_j=energy,
        missing=sum(c.missing for c in cells),
        covered_s=math.fsum(c.covered_s for c in cells),
        known_s=math.fsum(c.known_s for c in cells),
        steps=None
        if bounds is None
        else StepEnergy({k: (float(v[0]), int(v[1])) for k, v in steps.items()}, tuple(rest)),
    )


Row = tuple[Any, ...]
"""(run_id, device_id, zero, alone, count, duration, t_min, t_max, host, covered,
energy, missing, known, nonzero, damaged) from a store's grouped query."""


def _finite(v: Any) -> bool:
    return isinstance(v, float | int) and not isinstance(v, bool) and math.isfinite(v)


def _damaged(extremes: Sequence[Any]) -> bool:
    """A group holds a row :func:`decode_sample` would refuse: a time that is not a
    finite number, an energy that is negative or not a finite number (text sorts above
    numbers in SQLite, NaN above them in PostgreSQL: the extremes show it)."""
    e_min, e_max, h_min, h_max, ts_min, ts_max, te_min, te_max = extremes
    if not all(_finite(v) for v in (ts_min, ts_max, te_min, te_max)):
        return True
    for low, high in ((e_min, e_max), (h_min, h_max)):
        if (low is None) != (high is None):
            return True
        if low is not None and not (_finite(low) and _finite(high) and low >= 0):
            return True
    return False


def _judged(rows: Iterable[Row]) -> list[Row]:
    """Scan rows (ending with the least and greatest energy_j, host_energy_j, t_start
    and t_end) with their damage judged from those extremes."""
    out: list[Row] = []
    for row in rows:
        e_min, e_max, h_min, h_max, ts_max, te_min = row[14:20]
        extremes = (e_min, e_max, h_min, h_max, row[6], ts_max, te_min, row[7])
        out.append((*row[:14], _damaged(extremes)))
    return out


def _from_rows(
    rows: Iterable[Row], bounds: Sequence[float] | None
) -> tuple[dict[tuple[str, str], DeviceSteps], set[str], set[tuple[str, str]]]:
    """(DeviceSteps found, runs with a damaged sample, (run, device) to read exactly)."""
    cells: dict[tuple[str, str], list[_Cell]] = {}
    zeros: dict[tuple[str, str], int] = {}
    damaged: set[str] = set()
    for row in rows:
        (run_id, device_id, zero, alone, count, duration, t_min, t_max) = row[:8]
        (host, covered, energy, missing, known, nonzero, bad) = row[8:15]
        if bad:
            damaged.add(str(run_id))
            continue
        key = (str(run_id), str(device_id))
        group = cells.setdefault(key, [])
        if zero:
            zeros[key] = zeros.get(key, 0) + int(count)
            continue
        group.append(
            _Cell(
                alone=bool(alone),
                count=int(count),
                duration_s=float(duration or 0.0),
                t_min=float(t_min),
                t_max=float(t_max),
                host_j=None if host is None else float(host),
                energy_j=None if energy is None else float(energy),
                missing=int(missing or 0),
                covered_s=float(covered or 0.0),
                known_s=float(known or 0.0),
                nonzero=int(nonzero or 0),
            )
        )
    found: dict[tuple[str, str], DeviceSteps] = {}
    exact: set[tuple[str, str]] = set()
    for key, group in cells.items():
        if key[0] in damaged:
            continue
        folded = _fold(key[0], key[1], group, zeros.get(key, 0), bounds)
        if folded is None:
            exact.add(key)
        else:
            found[key] = folded
    return found, damaged, exact


# -- the scan: every sample, grouped on a grid laid over the series ----------------------
_EXTREMES = (
    "MIN(energy_j), MAX(energy_j), MIN(host_energy_j), MAX(host_energy_j), MAX(t_start), MIN(t_end)"
)


def _sqlite_sql(n: int, grid: bool) -> str:
    # the grid cell is floor((t_start - origin) / width), without SQLite's optional maths
    # functions; the sample crossing its cell's end (one per cell and device) apart
    inner = (
        "SELECT run_id, device_id, t_start, t_end, host_energy_j, energy_j, "
        + ("(t_start - :o) / :w AS x " if grid else "0 AS x ")
        + f"FROM samples WHERE run_id IN ({_marks(n)})"
    )
    cell = "(CAST(x AS INTEGER) - (x < CAST(x AS INTEGER)))" if grid else "0"
    middle = f"SELECT *, {cell} AS c, (t_end <= t_start) AS z FROM ({inner})"
    alone = "(z = 0 AND t_end > :o + (c + 1) * :w)" if grid else "0"
    return (
        "SELECT run_id, device_id, z, a, COUNT(*), TOTAL(t_end - t_start), MIN(t_start), "
        "MAX(t_end), SUM(host_energy_j), "
        "TOTAL(CASE WHEN host_energy_j IS NOT NULL THEN t_end - t_start END), SUM(energy_j), "
        "COUNT(*) - COUNT(energy_j), "
        "TOTAL(CASE WHEN energy_j IS NOT NULL THEN t_end - t_start END), "
        f"TOTAL(energy_j != 0), {_EXTREMES} FROM ("
        f"SELECT *, {alone} AS a FROM ({middle})) GROUP BY run_id, device_id, z, c, a"
    )


def _postgres_sql(grid: bool) -> str:
    cell = "floor((t_start - %(o)s) / %(w)s)" if grid else "0"
    alone = "(NOT z AND t_end > %(o)s + (c + 1) * %(w)s)" if grid else "false"
    return (
        "SELECT run_id, device_id, z, a, COUNT(*), COALESCE(SUM(t_end - t_start), 0), "
        "MIN(t_start), MAX(t_end), SUM(host_energy_j), "
        "COALESCE(SUM(t_end - t_start) FILTER (WHERE host_energy_j IS NOT NULL), 0), "
        "SUM(energy_j), COUNT(*) - COUNT(energy_j), "
        "COALESCE(SUM(t_end - t_start) FILTER (WHERE energy_j IS NOT NULL), 0), "
        f"COUNT(*) FILTER (WHERE energy_j <> 0), {_EXTREMES} FROM ("
        f"SELECT *, {alone} AS a FROM ("
        f"SELECT run_id, device_id, t_start, t_end, host_energy_j, energy_j, "
        f"(t_end <= t_start) AS z, {cell} AS c "
        "FROM samples WHERE run_id = ANY(%(ids)s)) q) p GROUP BY run_id, device_id, z, c, a"
    )


def _marks(n: int) -> str:
    return ", ".join(":r" + str(i) for i in range(n))


def _sqlite_rows(ledger: Any, ids: Sequence[str], grid: tuple[float, float] | None) -> list[Row]:
    sql = _sqlite_sql(len(ids), grid is not None)
    params: dict[str, Any] = {f"r{i}": r for i, r in enumerate(ids)}
    if grid is not None:
        params.update(o=grid[0], w=grid[1])

    def query(conn: Any) -> list[Row]:
        return list(conn.execute(sql, params).fetchall())

    rows: list[Row] = ledger._read("sum samples by device and step", query)
    return _judged(rows)


def _postgres_rows(ledger: Any, ids: Sequence[str], grid: tuple[float, float] | None) -> list[Row]:
    sql = _postgres_sql(grid is not None)
    params: dict[str, Any] = {"ids": list(ids)}
    if grid is not None:
        params.update(o=grid[0], w=grid[1])

    def query(cur: Any) -> list[Row]:
        # the groups are few (runs x devices x steps) but the planner cannot know it:
        # memory enough to hash them rather than sort every sample on disk
        cur.execute("SET LOCAL work_mem = '256MB'")
        cur.execute(sql, params)
        return list(cur.fetchall())

    rows: list[Row] = ledger._tx("sum samples by device and step", query)
    return _judged(rows)


# -- the kept cells: sums per (run, device, 300 s of UTC time) written with the samples ---
def _cell_grid(grid: tuple[float, float] | None, bounds: Sequence[float] | None) -> bool:
    """Whether the kept cells tile the series' grid: no series, or one whose start and
    shortest step are whole numbers of cells (every hourly or 5-min UTC series)."""
    if bounds is None:
        return True
    if grid is None:
        return False
    origin, width = grid
    return origin % CELL_S == 0 and width % CELL_S == 0


def _cell_params(grid: tuple[float, float] | None) -> tuple[int, int, float, float]:
    """(first cell, cells per grid step, origin, width): no grid is one huge step."""
    if grid is None:
        return 0, 1 << 62, 0.0, 1e300
    origin, width = grid
    return int(origin // CELL_S), int(width // CELL_S), origin, width


def _sqlite_cells_sql(n: int) -> str:
    # the series' grid step of a kept cell, floor((cell - first) / per), in exact integer
    # arithmetic (SQLite's % and / truncate toward zero); a cell's crossing sample stays
    # apart only if it crosses the grid step's end
    d = "(cell - :first)"
    step = f"(({d} - ((({d} % :per) + :per) % :per)) / :per)"
    return (
        "SELECT run_id, device_id, z, g, SUM(samples), TOTAL(duration_s), MIN(t_min), "
        "MAX(t_max), SUM(host_energy_j), TOTAL(covered_s), SUM(energy_j), SUM(missing), "
        "TOTAL(known_s), SUM(nonzero), SUM(bad), MAX(stale) FROM ("
        "SELECT *, (a = 1 AND z = 0 AND t_max > :o + (s + 1) * :w) AS g FROM ("
        f"SELECT *, {step} AS s FROM sample_cells WHERE run_id IN ({_marks(n)}))) "
        "GROUP BY run_id, device_id, z, s, g"
    )


_POSTGRES_CELLS_SQL = (
    "SELECT run_id, device_id, z, g, SUM(samples), COALESCE(SUM(duration_s), 0), MIN(t_min), "
    "MAX(t_max), SUM(host_energy_j), COALESCE(SUM(covered_s), 0), SUM(energy_j), "
    "SUM(missing), COALESCE(SUM(known_s), 0), SUM(nonzero), SUM(bad), bool_or(stale) FROM ("
    "SELECT *, (a AND NOT z AND t_max > %(o)s + (s + 1) * %(w)s) AS g FROM ("
    "SELECT *, floor((cell - %(first)s) / %(per)s) AS s FROM sample_cells "
    "WHERE run_id = ANY(%(ids)s)) q) p GROUP BY run_id, device_id, z, s, g"
)


def _sqlite_cells(
    ledger: Any, ids: Sequence[str], grid: tuple[float, float] | None
) -> list[Row] | None:
    first, per, origin, width = _cell_params(grid)
    params: dict[str, Any] = {f"r{i}": r for i, r in enumerate(ids)}
    params.update(first=first, per=per, o=origin, w=width)
    sql = _sqlite_cells_sql(len(ids))

    def query(conn: Any) -> list[Row] | None:
        kept = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sample_cells'"
        ).fetchone()
        return None if kept is None else list(conn.execute(sql, params).fetchall())

    rows: list[Row] | None = ledger._read("sum kept sample cells", query)
    return rows


def _postgres_cells(
    ledger: Any, ids: Sequence[str], grid: tuple[float, float] | None
) -> list[Row] | None:
    first, per, origin, width = _cell_params(grid)
    params: dict[str, Any] = {"ids": list(ids), "first": first, "per": per}
    params.update(o=origin, w=width)

    def query(cur: Any) -> list[Row]:
        cur.execute(_POSTGRES_CELLS_SQL, params)
        return list(cur.fetchall())

    rows: list[Row] = ledger._tx("sum kept sample cells", query)
    return rows


Reader = Callable[[Any, Sequence[str], tuple[float, float] | None], list[Row]]
CellReader = Callable[[Any, Sequence[str], tuple[float, float] | None], list[Row] | None]


def _store_readers(ledger: Ledger) -> tuple[Reader, CellReader] | None:
    from carbonledger.store.sqlite import SqliteLedger

    if isinstance(ledger, SqliteLedger):
        return _sqlite_rows, _sqlite_cells
    postgres = sys.modules.get("carbonledger.store.postgres")  # loaded with such a ledger
    if postgres is not None and isinstance(ledger, postgres.PostgresLedger):
        return _postgres_rows, _postgres_cells
    return None


def _from_cells(
    rows: list[Row], bounds: Sequence[float] | None
) -> tuple[dict[tuple[str, str], DeviceSteps], set[str], set[tuple[str, str]], set[str]]:
    """As :func:`_from_rows`, plus the runs whose kept cells are stale (to scan)."""
    stale = {str(row[0]) for row in rows if row[15]}
    found, damaged, exact = _from_rows(
        (row[:15] for row in rows if str(row[0]) not in stale), bounds
    )
    return found, damaged, exact, stale


def device_steps(
    ledger: Ledger, run_ids: Sequence[str], bounds: Sequence[float] | None = None
) -> dict[tuple[str, str], DeviceSteps]:
    """:class:`DeviceSteps` per (run, device) of ``run_ids``, per step of ``bounds``
    (ascending step starts, then the series' end) when given. Summed in the store where
    it can (see the module doc); a damaged sample raises CorruptRunError naming it."""
    from carbonledger.store._rows import clean_text

    ids = list(dict.fromkeys(clean_text(r) for r in run_ids))
    edges = None if bounds is None else [float(b) for b in bounds]
    out: dict[tuple[str, str], DeviceSteps] = {}
    readers = _store_readers(ledger)
    exact_runs: set[str] = set()
    exact_keys: set[tuple[str, str]] = set()
    grid = _grid(edges)
    if readers is None or (edges is not None and grid is None):
        exact_runs = set(ids)
    else:
        scan, kept = readers
        to_scan = list(ids)
        if _cell_grid(grid, edges):
            to_scan = []
            for lo in range(0, len(ids), _CHUNK):
                chunk = ids[lo : lo + _CHUNK]
                rows = kept(ledger, chunk, grid)
                if rows is None:  # an older ledger without kept cells
                    to_scan.extend(chunk)
                    continue
                found, damaged, exact, stale = _from_cells(rows, edges)
                out.update(found)
                exact_runs |= damaged
                exact_keys |= exact
                to_scan.extend(r for r in chunk if r in stale)
        for lo in range(0, len(to_scan), _CHUNK):
            found, damaged, exact = _from_rows(scan(ledger, to_scan[lo : lo + _CHUNK], grid), edges)
            out.update(found)
            exact_runs |= damaged
            exact_keys |= exact
    for run_id in ids:
        if run_id in exact_runs:
            for device_id, steps in steps_from_device_samples(
                run_id, ledger.samples(run_id), edges
            ).items():
                out[(run_id, device_id)] = steps
    for run_id in sorted({r for r, _ in exact_keys} - exact_runs):
        found_run = steps_from_device_samples(run_id, ledger.samples(run_id), edges)
        for key in exact_keys:
            if key[0] == run_id and key[1] in found_run:
                out[key] = found_run[key[1]]
    return out
