"""Numbers for people: one unit per interval, chosen by the interval's larger end.

``format_mass_interval(0.0031, 0.0062)`` → ``3.100–6.200 gCO2e``, never a mix of units such
as ``3139.7 J – 2.401 Wh``. Values are in the footprint JSON's units (kWh, kgCO2e).
"""

from __future__ import annotations

__all__ = [
    "ENERGY_UNITS",
    "MASS_UNITS",
    "format_energy_interval",
    "format_mass_interval",
    "format_scaled",
    "pick_unit",
]

#: (unit, factor from kWh), largest first
ENERGY_UNITS: tuple[tuple[str, float], ...] = (
    ("MWh", 1e-3),
    ("kWh", 1.0),
    ("Wh", 1e3),
    ("J", 3.6e6),
)
#: (unit, factor from kgCO2e), largest first
MASS_UNITS: tuple[tuple[str, float], ...] = (
    ("tCO2e", 1e-3),
    ("kgCO2e", 1.0),
    ("gCO2e", 1e3),
    ("mgCO2e", 1e6),
)


def pick_unit(magnitude: float, units: tuple[tuple[str, float], ...]) -> tuple[str, float]:
    """The largest unit in which ``magnitude`` is at least 1 (the smallest unit otherwise)."""
    for unit, factor in units:
        if abs(magnitude) * factor >= 1:
            return unit, factor
    return units[-1]


def format_scaled(value: float | None, units: tuple[tuple[str, float], ...]) -> str:
    if value is None:
        return "unknown"
    unit, factor = pick_unit(value, units)
    return f"{value * factor:,.3f} {unit}"


def _interval(low: float, high: float, units: tuple[tuple[str, float], ...]) -> str:
    unit, factor = pick_unit(max(abs(low), abs(high)), units)
    return f"{low * factor:,.3f}–{high * factor:,.3f} {unit}"


def format_energy_interval(interval: tuple[float, float] | list[float] | None) -> str:
    """``[low, high]`` kWh in one unit; empty text for None."""
    if not interval:
        return ""
    return _interval(float(interval[0]), float(interval[1]), ENERGY_UNITS)


def format_mass_interval(interval: tuple[float, float] | list[float] | None) -> str:
    """``[low, high]`` kgCO2e in one unit; empty text for None."""
    if not interval:
        return ""
    return _interval(float(interval[0]), float(interval[1]), MASS_UNITS)
