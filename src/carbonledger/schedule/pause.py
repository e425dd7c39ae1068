"""Pause a training loop while the grid is dirty (Dodge et al.'s pause and resume).

Call the pause object between steps. It asks its intensity source at most every
``check_every_s``; while the intensity is above the threshold it sleeps and asks again,
never more than ``max_delay_s`` in total over the run. Each pause is recorded as a span
of the run. When the signal is unavailable it logs once and never blocks.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from carbonledger.errors import ConfigError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager


class _SpanOwner(Protocol):
    """What a pause needs of a run: spans (``carbonledger.tracking.Run`` has them)."""

    def span(self, name: str) -> AbstractContextManager[Any]: ...


__all__ = ["CarbonAwarePause"]

log = logging.getLogger(__name__)


class CarbonAwarePause:
    """``pause = cl.CarbonAwarePause(threshold_g_per_kwh=250, max_delay=6*3600,
    provider=source, zone="DE", run=run)``; then ``pause()`` between steps.

    ``percentile=30`` instead of a threshold pauses while the intensity is above the
    30th percentile of the source's forecast for the next ``horizon_hours``.
    """

    def __init__(
        self,
        *,
        threshold_g_per_kwh: float | None = None,
        percentile: float | None = None,
        max_delay: float,
        provider: Any,
        zone: str,
        run: _SpanOwner | None = None,
        check_every_s: float = 300.0,
        poll_s: float = 300.0,
        horizon_hours: float = 24.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if (threshold_g_per_kwh is None) == (percentile is None):
            raise ConfigError(
                "CarbonAwarePause needs exactly one of threshold_g_per_kwh= or percentile="
            )
        if percentile is not None and not 0 < percentile < 100:
            raise ConfigError(f"percentile must be between 0 and 100, got {percentile}")
        if not (math.isfinite(max_delay) and max_delay >= 0):
            raise ConfigError(
                f"max_delay must be a non-negative number of seconds, got {max_delay}"
            )
        if poll_s <= 0 or check_every_s < 0:
            raise ConfigError("poll_s must be positive and check_every_s non-negative")
        self.threshold_g_per_kwh = threshold_g_per_kwh
        self.percentile = percentile
        self.max_delay_s = float(max_delay)
        self.provider = provider
        self.zone = zone
        self.run = run
        self.check_every_s = check_every_s
        self.poll_s = poll_s
        self.horizon_hours = horizon_hours
        self._clock = clock
        self._sleep = sleep
        self.paused_s = 0.0
        self.pauses = 0
        self._last_check: float | None = None
        self._warned = False

    def __call__(self) -> float:
        """Wait while the grid is above the threshold; returns the seconds waited."""
        now = self._clock()
        if self._last_check is not None and now - self._last_check < self.check_every_s:
            return 0.0
        self._last_check = now
        if self.paused_s >= self.max_delay_s:
            return 0.0
        threshold = self._threshold()
        current = self._current()
        if threshold is None or current is None or current <= threshold:
            return 0.0
        return self._wait(threshold)

    def _wait(self, threshold: float) -> float:
        start = self._clock()
        self.pauses += 1
        span = self.run.span("carbon-aware-pause") if self.run is not None else None
        if span is not None:
            span.__enter__()
        try:
            while True:
                budget_left = self.max_delay_s - self.paused_s - (self._clock() - start)
                if budget_left <= 0:
                    break
                self._sleep(min(self.poll_s, budget_left))
                current = self._current()
                if current is None or current <= threshold:
                    break
        finally:
            waited = self._clock() - start
            self.paused_s += waited
            if span is not None:
                span.__exit__(None, None, None)
        log.info("carbon-aware pause of %.0f s (threshold %.0f g/kWh)", waited, threshold)
        return waited

    def _current(self) -> float | None:
        try:
            return float(self.provider.intensity(self.zone, self._clock()).g_per_kwh)
        except Exception as exc:
            self._unavailable(exc)
            return None

    def _threshold(self) -> float | None:
        if self.threshold_g_per_kwh is not None:
            return self.threshold_g_per_kwh
        try:
            series = self.provider.forecast(self.zone, hours=self.horizon_hours)
            values = sorted(series.values_g_per_kwh)
        except Exception as exc:
            self._unavailable(exc)
            return None
        if len(values) < 2:
            return values[0] if values else None
        cut = statistics.quantiles(values, n=100, method="inclusive")
        return float(cut[max(0, min(98, round(self.percentile or 50) - 1))])

    def _unavailable(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            log.warning("carbon-aware pause: intensity unavailable (%s); carrying on", exc)
