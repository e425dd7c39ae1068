"""Time series of grid carbon intensity: a step function, each value holding until the next.

Loading from CSV lives in :mod:`carbonledger.intensity.series_csv`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from carbonledger.errors import DataError
from carbonledger.intensity.base import IntensityValue
from carbonledger.records import Method

__all__ = [
    "ESTIMATED_UNCERTAINTY_REL",
    "USER_UNCERTAINTY_REL",
    "IntensitySeries",
    "label_user_series",
]

#: carbonledger's rough relative uncertainty of an estimated, forecast or modelled value.
ESTIMATED_UNCERTAINTY_REL = 0.20
#: A user-given intensity whose provenance carbonledger cannot know (``intensity_annual``).
USER_UNCERTAINTY_REL = 0.15
_METHODS = ("measured", "modeled", "default")


@dataclass(frozen=True)
class IntensitySeries:
    """Intensity values at ascending unix times; value i holds on [times[i], times[i+1]).

    The last value holds for ``last_step_s`` (the series' own step when not given), so a
    series covers ``[times[0], end)``. ``estimated`` flags each value that the data
    provider estimated rather than measured. ``methods`` and ``uncertainties_rel``, when
    given, label each value (``measured|modeled|default`` and its relative uncertainty);
    otherwise a value is ``modeled`` when estimated, else ``measured``, with
    ``uncertainty_rel`` (at least 0.20 when estimated). :meth:`point_label` says which.
    """

    times: tuple[float, ...]
    values_g_per_kwh: tuple[float, ...]
    zone: str
    signal: str = "average"
    basis: str = "unknown"
    source: str = "series"
    estimated: tuple[bool, ...] | None = None
    last_step_s: float | None = None
    uncertainty_rel: float = 0.10
    methods: tuple[str, ...] | None = None
    uncertainties_rel: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.times) == 0:
            raise DataError(f"intensity series for {self.zone!r} is empty")
        if len(self.times) != len(self.values_g_per_kwh):
            raise DataError("intensity series: times and values differ in length")
        if self.estimated is not None and len(self.estimated) != len(self.times):
            raise DataError("intensity series: estimated flags differ in length")
        if self.methods is not None:
            if len(self.methods) != len(self.times):
                raise DataError("intensity series: methods differ in length")
            bad = [m for m in self.methods if m not in _METHODS]
            if bad:
                raise DataError(f"intensity series: unknown method {bad[0]!r}")
        if self.uncertainties_rel is not None:
            if len(self.uncertainties_rel) != len(self.times):
                raise DataError("intensity series: uncertainties differ in length")
            for u in self.uncertainties_rel:
                if not (math.isfinite(u) and u >= 0):
                    raise DataError(f"intensity series: invalid uncertainty {u!r}")
        for i in range(1, len(self.times)):
            if not self.times[i] > self.times[i - 1]:
                raise DataError(f"intensity series: timestamps not strictly ascending at step {i}")
        from carbonledger.limits import MAX_INTENSITY_G_PER_KWH

        for v in self.values_g_per_kwh:
            if not (math.isfinite(v) and v >= 0):
                raise DataError(f"intensity series: invalid value {v!r}")
            if v > MAX_INTENSITY_G_PER_KWH:  # from a file, a provider or a ledger alike
                raise DataError(
                    f"intensity series for {self.zone}: {v:g} g/kWh is above the "
                    f"{MAX_INTENSITY_G_PER_KWH:g} g/kWh that any grid reaches"
                )

    @classmethod
    def from_pairs(
        cls, pairs: Sequence[tuple[float, float]], zone: str, **kwargs: object
    ) -> IntensitySeries:
        ordered = sorted(pairs)
        return cls(
            times=tuple(t for t, _ in ordered),
            values_g_per_kwh=tuple(v for _, v in ordered),
            zone=zone,
            **kwargs,  # type: ignore[arg-type]
        )

    @property
    def step_s(self) -> float:
        """The last value's duration: ``last_step_s`` or the median step of the series."""
        if self.last_step_s is not None:
            return self.last_step_s
        if len(self.times) < 2:
            return 3600.0
        gaps = sorted(b - a for a, b in zip(self.times, self.times[1:], strict=False))
        return gaps[len(gaps) // 2]

    @property
    def start(self) -> float:
        return self.times[0]

    @property
    def end(self) -> float:
        return self.times[-1] + self.step_s

    def __len__(self) -> int:
        return len(self.times)

    def index_at(self, at: float) -> int | None:
        """The index of the value in force at ``at``, or None outside the series."""
        if at < self.start or at >= self.end:
            return None
        return bisect.bisect_right(self.times, at) - 1

    def value_at(self, at: float) -> float | None:
        i = self.index_at(at)
        return None if i is None else self.values_g_per_kwh[i]

    def point_label(self, i: int) -> tuple[str, float]:
        """(method, relative uncertainty) of value ``i``: its own labels when the series
        carries them, else ``modeled`` ±≥20 % when estimated, ``measured`` otherwise."""
        estimated = bool(self.estimated[i]) if self.estimated is not None else False
        if self.methods is not None:
            method = self.methods[i]
        else:
            method = str(Method.MODELED if estimated else Method.MEASURED)
        if self.uncertainties_rel is not None:
            rel = self.uncertainties_rel[i]
        else:
            rel = max(self.uncertainty_rel, ESTIMATED_UNCERTAINTY_REL if estimated else 0.0)
        return method, rel

    def intensity(self, zone: str, at: float | None = None) -> IntensityValue:
        """The value in force at ``at`` as an :class:`IntensityValue` (IntensitySource)."""
        if at is None:
            raise DataError("an intensity series needs a time")
        i = self.index_at(at)
        if i is None:
            raise DataError(f"intensity series for {self.zone} does not cover that time")
        return self.value_of(i)

    def value_of(self, i: int, *, source: str | None = None) -> IntensityValue:
        """Step ``i`` as an :class:`IntensityValue`, with its own method and uncertainty
        (the one conversion from a series value to an intensity)."""
        method, rel = self.point_label(i)
        return IntensityValue(
            g_per_kwh=self.values_g_per_kwh[i],
            zone=self.zone,
            signal=self.signal,
            basis=self.basis,
            method=Method(method),
            source=self.source if source is None else source,
            uncertainty_rel=rel,
            at=self.times[i],
        )

    def segments(self, t0: float, t1: float) -> list[tuple[int, float]]:
        """(index, seconds) of each value in force over the covered part of [t0, t1)."""
        lo, hi = max(t0, self.start), min(t1, self.end)
        out: list[tuple[int, float]] = []
        if hi <= lo:
            return out
        i = bisect.bisect_right(self.times, lo) - 1
        t = lo
        while t < hi:
            seg_end = min(self._next(i), hi)
            out.append((i, seg_end - t))
            t = seg_end
            i += 1
        return out

    def integral(self, t0: float, t1: float) -> tuple[float, float]:
        """(∫ intensity dt over the covered part of [t0, t1] in g/kWh·s, covered seconds)."""
        if t1 <= t0:
            return (0.0, 0.0)
        lo, hi = max(t0, self.start), min(t1, self.end)
        if hi <= lo:
            return (0.0, 0.0)
        total = 0.0
        i = bisect.bisect_right(self.times, lo) - 1
        t = lo
        while t < hi:
            nxt = self.times[i + 1] if i + 1 < len(self.times) else self.end
            seg_end = min(nxt, hi)
            total += self.values_g_per_kwh[i] * (seg_end - t)
            t = seg_end
            i += 1
        return (total, hi - lo)

    def mean_over(self, t0: float, t1: float) -> tuple[float | None, float]:
        """(time-weighted mean over the covered part of [t0, t1], covered share of it).

        The mean is ``None`` when nothing of the interval is covered. A zero-length
        interval at a covered instant gives the value in force there.
        """
        if t1 <= t0:
            value = self.value_at(t0)
            return (value, 1.0 if value is not None else 0.0)
        total, covered_s = self.integral(t0, t1)
        if covered_s <= 0:
            return (None, 0.0)
        return (total / covered_s, covered_s / (t1 - t0))

    def slice(self, t0: float, t1: float) -> IntensitySeries:
        """The steps that overlap [t0, t1)."""
        keep = [i for i, t in enumerate(self.times) if t < t1 and (self._next(i) > t0)]
        if not keep:
            raise DataError(f"intensity series for {self.zone} has no data in that range")
        return IntensitySeries(
            times=tuple(self.times[i] for i in keep),
            values_g_per_kwh=tuple(self.values_g_per_kwh[i] for i in keep),
            zone=self.zone,
            signal=self.signal,
            basis=self.basis,
            source=self.source,
            estimated=tuple(self.estimated[i] for i in keep) if self.estimated else None,
            last_step_s=self._next(keep[-1]) - self.times[keep[-1]],
            uncertainty_rel=self.uncertainty_rel,
            methods=tuple(self.methods[i] for i in keep) if self.methods else None,
            uncertainties_rel=(
                tuple(self.uncertainties_rel[i] for i in keep) if self.uncertainties_rel else None
            ),
        )

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form that :meth:`from_dict` reads back exactly (ledgers store it)."""
        return {
            "times": list(self.times),
            "values_g_per_kwh": list(self.values_g_per_kwh),
            "zone": self.zone,
            "signal": self.signal,
            "basis": self.basis,
            "source": self.source,
            "estimated": None if self.estimated is None else [bool(e) for e in self.estimated],
            "last_step_s": self.last_step_s,
            "uncertainty_rel": self.uncertainty_rel,
            "methods": None if self.methods is None else list(self.methods),
            "uncertainties_rel": (
                None if self.uncertainties_rel is None else list(self.uncertainties_rel)
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IntensitySeries:
        """The series :meth:`to_dict` wrote; a malformed one is a DataError."""
        try:
            estimated = data.get("estimated")
            last_step = data.get("last_step_s")
            methods = data.get("methods")
            rels = data.get("uncertainties_rel")
            return cls(
                times=tuple(float(t) for t in data["times"]),
                values_g_per_kwh=tuple(float(v) for v in data["values_g_per_kwh"]),
                zone=str(data["zone"]),
                signal=str(data.get("signal", "average")),
                basis=str(data.get("basis", "unknown")),
                source=str(data.get("source", "series")),
                estimated=None if estimated is None else tuple(bool(e) for e in estimated),
                last_step_s=None if last_step is None else float(last_step),
                uncertainty_rel=float(data.get("uncertainty_rel", 0.10)),
                methods=None if methods is None else tuple(str(m) for m in methods),
                uncertainties_rel=None if rels is None else tuple(float(u) for u in rels),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"stored intensity series is malformed ({exc!r})") from None

    def _next(self, i: int) -> float:
        return self.times[i + 1] if i + 1 < len(self.times) else self.end


def label_user_series(series: IntensitySeries) -> IntensitySeries:
    """A user's series without provenance labelled as a user-given intensity.

    The rule of ``docs/methodology/lifecycle.md`` (``intensity_annual``): carbonledger cannot
    know where a user's numbers come from, so they are ``modeled`` ±15 % (±20 % where the
    file flags them estimated), never ``measured``. A series that carries its own labels
    (a provider's, or an Electricity Maps data-portal export with its ``Data Estimated``
    column: source ``electricitymaps-portal:…``) is returned unchanged.
    """
    if series.methods is not None or not series.source.startswith("csv:"):
        return series
    n = len(series)
    rels = tuple(
        max(USER_UNCERTAINTY_REL, series.point_label(i)[1] if _flagged(series, i) else 0.0)
        for i in range(n)
    )
    return replace(
        series,
        methods=(str(Method.MODELED),) * n,
        uncertainties_rel=rels,
        uncertainty_rel=max(series.uncertainty_rel, USER_UNCERTAINTY_REL),
    )


def _flagged(series: IntensitySeries, i: int) -> bool:
    return series.estimated is not None and bool(series.estimated[i])
