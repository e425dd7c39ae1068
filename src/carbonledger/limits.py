"""Physical and practical limits on every number a user can give, in one place.

Each limit is far beyond any real value, so it never refuses a genuine input, and close
enough that arithmetic stays finite and a typo (``1e308``, an extra zero run) is refused
with a one-line error instead of printing ``inf`` or running for hours. The reasons are in
docs/methodology/security.md ("Input limits").
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from carbonledger.errors import ConfigError

__all__ = [
    "MAX_DEVICE_COUNT",
    "MAX_DEVICE_HOURS",
    "MAX_EMBODIED_KG",
    "MAX_FUNCTIONAL_UNIT_COUNT",
    "MAX_HOURS",
    "MAX_INTENSITY_G_PER_KWH",
    "MAX_LIFETIME_YEARS",
    "MAX_MEMORY_GB",
    "MAX_POWER_W",
    "MAX_PUE",
    "MAX_RESAMPLES",
    "MAX_SERIES_LINE_CHARS",
    "check_cli_numbers",
    "check_number",
]

#: Grid carbon intensity, gCO2e/kWh. The dirtiest grids and lignite plants are about
#: 1,200–1,500 (IPCC AR5 WGIII Annex III: lignite/coal 740–1,689 lifecycle; Electricity
#: Maps' highest zonal hourly values stay below 1,500); 5,000 leaves a wide margin.
MAX_INTENSITY_G_PER_KWH = 5_000.0
#: Power use effectiveness: the worst data centres surveyed are near 2.5–3 (Uptime
#: Institute 2023 survey, average 1.58); 5 is beyond any facility.
MAX_PUE = 5.0
#: Power of one device, W: a gigawatt (a large power plant) per device.
MAX_POWER_W = 1e9
#: Wall-clock hours of one estimate: over a century.
MAX_HOURS = 1e6
MAX_DEVICE_HOURS = 1e12
MAX_MEMORY_GB = 1e9
MAX_EMBODIED_KG = 1e9  # a million tonnes for one item
MAX_LIFETIME_YEARS = 100.0
#: Bootstrap resamples for ``compare``: 10,000 (the default) gives stable 95 % intervals
#: (Efron & Tibshirani 1993, ch. 13); 100,000 is ten times that and still takes seconds.
MAX_RESAMPLES = 100_000
#: Functional units (tokens, images, requests) of one run: a quadrillion.
MAX_FUNCTIONAL_UNIT_COUNT = 1e15
#: Devices of one estimate: a billion.
MAX_DEVICE_COUNT = 1e9
#: Characters in one line of an intensity series CSV (a real line is under 200).
MAX_SERIES_LINE_CHARS = 65_536


def check_number(
    value: float,
    what: str,
    *,
    low: float = 0.0,
    high: float,
    low_open: bool = False,
    unit: str = "",
) -> float:
    """``value`` when it is finite and within ``[low, high]`` (``(low, high]`` when
    ``low_open``); otherwise a one-line :class:`ConfigError` naming ``what`` and the limit."""
    try:
        v = float(value)
    except OverflowError:  # an integer too large for a float
        v = math.inf if value > 0 else -math.inf
    ok = math.isfinite(v) and (v > low if low_open else v >= low) and v <= high
    if not ok:
        lower = f"> {low:g}" if low_open else f"≥ {low:g}"
        suffix = f" {unit}" if unit else ""
        got = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        bound = f"{lower} and ≤ {high:g}{suffix}"
        if math.isfinite(v) and v <= high:
            raise ConfigError(f"{what} must be {bound}, got {got}")
        raise ConfigError(f"{what} is out of range: must be {bound}, got {got}")
    return v


# Command-line options by destination name: (suffix or name, low, high, low_open, unit).
# Every numeric option of every command is covered (tests/fuzz checks that none is missed).
_CLI_RULES: tuple[tuple[str, float, float, bool, str], ...] = (
    ("intensity", 0.0, MAX_INTENSITY_G_PER_KWH, False, "gCO2e/kWh"),
    ("pue", 1.0, MAX_PUE, False, ""),
    ("_w", 0.0, MAX_POWER_W, False, "W"),
    ("_kg", 0.0, MAX_EMBODIED_KG, False, "kg"),
    ("device_hours", 0.0, MAX_DEVICE_HOURS, False, "h"),
    ("hours", 0.0, MAX_HOURS, False, "h"),
    ("years", 0.0, MAX_LIFETIME_YEARS, False, "years"),
    ("memory_gb", 0.0, MAX_MEMORY_GB, False, "GB"),
    ("resamples", -(2.0**63), MAX_RESAMPLES, False, ""),  # the lower bound: compare (200)
    ("count", 0.0, MAX_DEVICE_COUNT, False, ""),
    ("utilization", 0.0, 1.0, False, ""),
    ("lifetime_use", 0.0, 1.0, False, ""),
    ("seed", -(2.0**63), 2.0**63, False, ""),
)


def check_cli_numbers(options: Mapping[str, object]) -> None:
    """Refuse a numeric command-line option beyond its limit (one-line ConfigError).

    ``options`` is ``vars(args)``; options that are not numbers, or not given, are ignored.
    """
    for dest, value in options.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        for suffix, low, high, low_open, unit in _CLI_RULES:
            if dest == suffix or dest.endswith(suffix):
                check_number(
                    value, "--" + dest.replace("_", "-"), low=low, high=high,
                    low_open=low_open, unit=unit,
                )  # fmt: skip
                break
