"""Pure maths of turning counters and power readings into energy."""

from __future__ import annotations

import math

__all__ = ["EnergyAccumulator", "counter_delta", "trapezoid_j"]


def counter_delta(
    previous: int | float, current: int | float, max_range: int | float | None
) -> float:
    """Energy between two reads of a wrapping counter, in the counter's unit.

    A counter that went backwards wrapped once at ``max_range`` (RAPL's
    ``max_energy_range_uj``); without a known range a backwards step is an error.
    """
    if current >= previous:
        return float(current - previous)
    if max_range is None or max_range <= 0:
        raise ValueError(f"counter went backwards ({previous} -> {current}) with no known range")
    if previous > max_range:
        raise ValueError(f"counter value {previous} exceeds its range {max_range}")
    return float(max_range - previous + current)


def trapezoid_j(power_a_w: float, power_b_w: float, duration_s: float) -> float:
    """Energy of a linear power ramp between two readings over ``duration_s``."""
    if duration_s < 0:
        raise ValueError("duration must not be negative")
    return 0.5 * (power_a_w + power_b_w) * duration_s


class EnergyAccumulator:
    """Cumulative energy of one device from successive power readings (trapezoid rule)."""

    def __init__(self) -> None:
        self.energy_j = 0.0
        self._last: tuple[float, float] | None = None  # (t_s, power_w)

    def add_power(self, t_s: float, power_w: float) -> float:
        if not math.isfinite(power_w) or power_w < 0:
            raise ValueError(f"invalid power reading {power_w!r}")
        if self._last is not None:
            t0, p0 = self._last
            if t_s > t0:
                self.energy_j += trapezoid_j(p0, power_w, t_s - t0)
        self._last = (t_s, power_w)
        return self.energy_j

    def add_energy(self, energy_j: float) -> float:
        if not math.isfinite(energy_j) or energy_j < 0:
            raise ValueError(f"invalid energy increment {energy_j!r}")
        self.energy_j += energy_j
        return self.energy_j
