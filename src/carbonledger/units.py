"""Every unit conversion in one place.

SI inside (J, W, s, gCO2e); kWh and kgCO2e at the edges.
"""

from __future__ import annotations

J_PER_KWH = 3_600_000.0
J_PER_WH = 3_600.0
S_PER_MINUTE = 60.0
S_PER_HOUR = 3_600.0
S_PER_DAY = 86_400.0
S_PER_YEAR = 365.25 * 24 * 3600
G_PER_KG = 1_000.0
G_PER_TONNE = 1_000_000.0
KG_PER_LB = 0.45359237
UJ_PER_J = 1_000_000.0
MJ_PER_J = 1_000.0  # millijoules per joule (NVML total energy is in mJ)
MW_PER_W = 1_000.0  # milliwatts per watt (NVML power is in mW)
BYTES_PER_GIB = 1024.0**3


def j_to_kwh(energy_j: float) -> float:
    return energy_j / J_PER_KWH


def kwh_to_j(energy_kwh: float) -> float:
    return energy_kwh * J_PER_KWH


def uj_to_j(energy_uj: float) -> float:
    return energy_uj / UJ_PER_J


def mj_to_j(energy_mj: float) -> float:
    """Millijoules to joules."""
    return energy_mj / MJ_PER_J


def mw_to_w(power_mw: float) -> float:
    return power_mw / MW_PER_W


def bytes_to_gib(size_bytes: float) -> float:
    """Bytes to GiB (2**30 bytes): the "GB" in which memory is sold and W/GB models are given."""
    return size_bytes / BYTES_PER_GIB


def g_to_kg(mass_g: float) -> float:
    return mass_g / G_PER_KG


def kg_to_g(mass_kg: float) -> float:
    return mass_kg * G_PER_KG


def hours_to_s(hours: float) -> float:
    return hours * S_PER_HOUR


def s_to_hours(duration_s: float) -> float:
    return duration_s / S_PER_HOUR


def lbs_per_mwh_to_g_per_kwh(value_lbs_per_mwh: float) -> float:
    """eGRID and WattTime MOER: lbs/MWh → g/kWh (1 lb/MWh = 0.45359237 g/kWh)."""
    return value_lbs_per_mwh * KG_PER_LB


def tonnes_per_kwh_to_g_per_kwh(value_t_per_kwh: float) -> float:
    """Cloud Carbon Footprint grid factors: metric t CO2e/kWh → g/kWh."""
    return value_t_per_kwh * G_PER_TONNE


def kg_per_kwh_to_g_per_kwh(value_kg_per_kwh: float) -> float:
    return value_kg_per_kwh * G_PER_KG


def carbon_g(energy_kwh: float, intensity_g_per_kwh: float) -> float:
    return energy_kwh * intensity_g_per_kwh


BITS_PER_BYTE = 8


def megabytes_to_megabits(size_mb: float) -> float:
    """Megabytes (10**6 bytes, model sizes) to megabits (10**6 bits, link speeds in Mbps)."""
    return size_mb * BITS_PER_BYTE
