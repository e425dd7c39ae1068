"""The constant-intensity pieces of a series inside a planning window, with exact integrals.

A window ``[earliest, deadline]`` cuts the series' steps into pieces: a partial first piece
when ``earliest`` falls inside a step, the whole steps in between, and a partial last piece
when ``deadline`` falls inside a step. Every planner works on these pieces, so times that
are not on the series' steps are handled exactly.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from carbonledger.errors import DataError
from carbonledger.intensity.series import IntensitySeries
from carbonledger.schedule.timeparse import format_time

__all__ = ["Pieces", "window_pieces"]


@dataclass(frozen=True)
class Pieces:
    """Pieces of constant intensity covering ``[bounds[0], bounds[-1]]``.

    ``bounds`` has one more entry than ``values_g_per_kwh``; ``cum`` holds the integral of
    intensity (g/kWh·s) from ``bounds[0]`` to each bound.
    """

    bounds: tuple[float, ...]
    values_g_per_kwh: tuple[float, ...]
    cum: tuple[float, ...]

    @property
    def start(self) -> float:
        return self.bounds[0]

    @property
    def end(self) -> float:
        return self.bounds[-1]

    def cumulative(self, at: float) -> float:
        """∫ intensity dt from ``start`` to ``at`` (clamped to the pieces)."""
        if at <= self.bounds[0]:
            return 0.0
        if at >= self.bounds[-1]:
            return self.cum[-1]
        i = bisect.bisect_right(self.bounds, at) - 1
        return self.cum[i] + self.values_g_per_kwh[i] * (at - self.bounds[i])

    def integral(self, t0: float, t1: float) -> float:
        """∫ intensity dt over ``[t0, t1]`` in g/kWh·s (exact for partial pieces)."""
        return self.cumulative(t1) - self.cumulative(t0)

    def shifted(self, origin: float) -> Pieces:
        """The same pieces with times measured from ``origin``."""
        return Pieces(tuple(b - origin for b in self.bounds), self.values_g_per_kwh, self.cum)


def window_pieces(series: IntensitySeries, earliest: float, deadline: float) -> Pieces:
    """The pieces of ``series`` inside ``[earliest, deadline]``.

    Raises :class:`DataError` when the deadline is not after ``earliest`` or when the series
    does not cover the whole window.
    """
    if not deadline > earliest:
        raise DataError(
            f"deadline {format_time(deadline)} is not after earliest {format_time(earliest)}"
        )
    if earliest < series.start or deadline > series.end:
        raise DataError(
            f"intensity series for {series.zone} covers {format_time(series.start)} to "
            f"{format_time(series.end)}, not the whole window {format_time(earliest)} to "
            f"{format_time(deadline)}"
        )
    times = series.times
    first = bisect.bisect_right(times, earliest) - 1
    last = bisect.bisect_left(times, deadline) - 1  # the step in force just before deadline
    bounds = [earliest]
    values: list[float] = []
    for i in range(first, last + 1):
        values.append(series.values_g_per_kwh[i])
        nxt = times[i + 1] if i + 1 < len(times) else series.end
        bounds.append(min(nxt, deadline))
    cum = [0.0]
    for k, value in enumerate(values):
        cum.append(cum[-1] + value * (bounds[k + 1] - bounds[k]))
    return Pieces(tuple(bounds), tuple(values), tuple(cum))
