"""Pure maths of turning counters and power readings into energy."""

from __future__ import annotations

import math

__all__ = [
    "NVML_POWER_AVERAGING_WINDOW_S",
    "NVML_UPDATE_PERIOD_S",
    "EnergyAccumulator",
    "counter_delta",
    "power_integration_rel",
    "trapezoid_j",
]

#: NVIDIA's power reading changes about every 100 ms (ML.ENERGY measurements; Yang et al.).
NVML_UPDATE_PERIOD_S = 0.1
#: ``nvmlDeviceGetPowerUsage`` is a 1 s average on Ampere and later (except GA100, per a
#: secondary source); on A100/H100 that average samples only about 25 % of the second
#: (Yang et al., SC24). Taken as the conservative default for every NVIDIA GPU.
NVML_POWER_AVERAGING_WINDOW_S = 1.0


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


def power_integration_rel(
    window_s: float,
    base_rel: float,
    update_period_s: float = NVML_UPDATE_PERIOD_S,
    averaging_window_s: float = NVML_POWER_AVERAGING_WINDOW_S,
) -> float:
    """Relative uncertainty of energy integrated from power readings over ``window_s``.

    ``min(1, base_rel + (update_period_s + averaging_window_s) / window_s)``: a reading
    can describe the power of up to one averaging window plus one update period before it
    was taken, so each end of the window may misplace that much time at the board's
    power. The widening tends to 0 for long windows (``base_rel``) and the band is capped
    at ±100 %; a window of no time gets the cap. Never narrower than ``base_rel``.
    """
    if base_rel < 0 or update_period_s < 0 or averaging_window_s < 0:
        raise ValueError("uncertainties, update period and averaging window must be >= 0")
    if base_rel >= 1.0:
        return base_rel
    if not window_s > 0:  # zero, negative or NaN: nothing to average over
        return 1.0
    return min(1.0, base_rel + (update_period_s + averaging_window_s) / window_s)


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
