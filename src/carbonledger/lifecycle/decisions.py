"""Hardware decisions in carbon: when does new hardware pay back, and when do two options
cost the same? Pure functions; method in docs/methodology/lifecycle.md ("Decisions").

:func:`breakeven`: replacing old hardware by new, more efficient hardware that does the same
work. The old hardware's embodied emissions are sunk; the new hardware's are spent at once
and paid back by the operational emissions its lower power saves:

    t* = embodied_new / ((P_old − P_new) × PUE × intensity)

No saving (P_new ≥ P_old) or a zero intensity means it never pays back: ``hours`` is None,
and ``saved_g_per_hour`` is the real figure (negative when the new hardware draws more).
Inputs whose figures overflow (non-finite emissions or hours) are a ConfigError.

:func:`indifference`: two options (say an edge device and a cloud server share) over a
service life T, used actively for u hours and idle for T − u:

    energy_i(u) = PUE_i × (P_active_i × u + P_idle_i × (T − u))
    carbon_i(u) = embodied_i + energy_i(u) × intensity

Both are straight lines in u; the indifference point is where they cross (one for energy,
one for carbon). Parallel lines never cross: the point is None. A crossing at exactly
0 (or −0) hours is reported as 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.lifecycle.uncertainty import combine_rel, interval, rel_for
from carbonledger.units import J_PER_KWH, J_PER_WH, S_PER_HOUR, S_PER_YEAR, kg_to_g

__all__ = [
    "Breakeven",
    "Indifference",
    "Option",
    "breakeven",
    "indifference",
    "propagated_interval",
]

HOURS_PER_YEAR = S_PER_YEAR / S_PER_HOUR
KWH_PER_WH = J_PER_WH / J_PER_KWH


def _num(value: object, name: str, *, low: float = 0.0, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(f"{name} must be a finite number, got {value}")
    if not (v > low if low_open else v >= low):
        raise ConfigError(f"{name} must be {'>' if low_open else '≥'} {low:g}, got {value}")
    return v


def _finite(value: float, message: str) -> float:
    if not math.isfinite(value):
        raise ConfigError(message)
    return value


def _pue(value: object, name: str) -> float:
    v = _num(value, name, low=1.0)
    if v > 5.0:
        raise ConfigError(f"{name} must be between 1.0 and 5.0, got {value}")
    return v


@dataclass(frozen=True)
class Breakeven:
    """When the new hardware's embodied emissions are paid back (``hours`` None: never)."""

    embodied_new_g: float
    power_old_w: float
    power_new_w: float
    pue: float
    intensity_g_per_kwh: float
    # operational emissions the new hardware saves per hour of use (negative: it adds)
    saved_g_per_hour: float
    hours: float | None
    note: str
    # [low, high] hours from the inputs' relative errors; high None: it may never pay back
    hours_interval: tuple[float, float | None] | None = None

    @property
    def power_saving_w(self) -> float:
        return self.power_old_w - self.power_new_w

    @property
    def years(self) -> float | None:
        return None if self.hours is None else self.hours / HOURS_PER_YEAR

    @property
    def pays_back(self) -> bool:
        return self.hours is not None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(power_saving_w=self.power_saving_w, years=self.years, pays_back=self.pays_back)
        return d


def breakeven(
    *,
    embodied_new_kg: float,
    power_old_w: float,
    power_new_w: float,
    intensity_g_per_kwh: float,
    pue: float = 1.0,
    power_rel: float | None = None,
    embodied_rel: float | None = None,
    intensity_rel: float | None = None,
) -> Breakeven:
    """Hours of use after which replacing old hardware by new saves carbon.

    ``power_old_w`` and ``power_new_w`` are the mean IT powers for the same work (same
    service, same load); ``embodied_new_kg`` the new hardware's embodied emissions (the old
    hardware's are already spent). Returns ``hours`` None when there is no saving.
    ``hours_interval`` propagates independent relative errors of the inputs (defaults:
    powers ``model`` 0.30, embodied ``embodied_literature`` 0.50, intensity
    ``intensity_annual`` 0.15; see :func:`propagated_interval`).
    """
    embodied_g = _finite(
        kg_to_g(_num(embodied_new_kg, "embodied_new_kg")),
        f"embodied_new_kg is out of range: {embodied_new_kg} kg overflows in grams",
    )
    p_old = _num(power_old_w, "power_old_w")
    p_new = _num(power_new_w, "power_new_w")
    intensity = _num(intensity_g_per_kwh, "intensity_g_per_kwh")
    pue_v = _pue(pue, "pue")
    saved = _finite(
        (p_old - p_new) * KWH_PER_WH * pue_v * intensity,  # g per hour
        "power_old_w, power_new_w and intensity_g_per_kwh are out of range: the emissions "
        "per hour overflow",
    )
    saved += 0.0  # −0 → 0
    if saved <= 0:
        if p_new > p_old:
            why = (
                "the new hardware draws more power than the old: it adds operational "
                "emissions, so its embodied emissions are never paid back"
            )
        elif p_new == p_old:
            why = "the new hardware saves no power: its embodied emissions are never paid back"
        else:
            why = "the grid intensity is zero: there are no operational emissions to save"
        return Breakeven(embodied_g, p_old, p_new, pue_v, intensity, saved, None, why)
    hours = _finite(
        embodied_g / saved,
        f"embodied_new_kg is out of range for this power saving: {embodied_new_kg} kg would "
        "take more hours to pay back than can be represented",
    )
    note = f"pays back after {hours:,.0f} h of use ({hours / HOURS_PER_YEAR:.2f} years at 24/7)"

    def hours_for(x: dict[str, float]) -> float | None:
        per_h = (x["power_old_w"] - x["power_new_w"]) * KWH_PER_WH * pue_v * x["intensity"]
        return x["embodied"] / per_h if per_h > 0 else None

    bounds = propagated_interval(
        hours,
        hours_for,
        {
            "power_old_w": (p_old, _rel(power_rel, "model")),
            "power_new_w": (p_new, _rel(power_rel, "model")),
            "embodied": (embodied_g, _rel(embodied_rel, "embodied_literature")),
            "intensity": (intensity, _rel(intensity_rel, "intensity_annual")),
        },
    )
    if bounds is not None and bounds[1] is None:
        note += "; within the inputs' uncertainty it may never pay back"
    return Breakeven(embodied_g, p_old, p_new, pue_v, intensity, saved, hours, note, bounds)


def _rel(given: float | None, key: str) -> float:
    return rel_for(key) if given is None else _num(given, "relative error")


def propagated_interval(
    value: float | None,
    f: Callable[[dict[str, float]], float | None],
    inputs: Mapping[str, tuple[float, float]],
) -> tuple[float, float | None] | None:
    """The interval of ``value = f(inputs)`` from independent relative errors of the inputs.

    Each input ``name: (x, r)`` is moved to ``x·(1+r)`` and to ``x·(1−r)`` alone; the larger
    relative change of ``f`` is that input's contribution, and contributions add in
    quadrature (first-order propagation, as :func:`~carbonledger.lifecycle.uncertainty.
    combine_rel`). When a move leaves ``f`` undefined or changes its sign (the saving may be
    zero, the lines may not cross), the upper end is None: unbounded.
    """
    if value is None or value == 0:
        return None
    base = {k: x for k, (x, _) in inputs.items()}
    contributions: list[float] = []
    unbounded = False
    for name, (x, r) in inputs.items():
        worst = 0.0
        for moved in (x * (1 + r), x * (1 - r)):
            y = f({**base, name: moved})
            if y is None or not math.isfinite(y) or (y > 0) != (value > 0):
                unbounded = True
                continue
            worst = max(worst, abs(y - value) / abs(value))
        contributions.append(worst)
    rel = combine_rel(*contributions) or 0.0
    bounds = interval(value, rel)
    if bounds is None:
        return None
    if unbounded or rel >= 1:
        return (bounds[0], None)
    return bounds


@dataclass(frozen=True)
class Option:
    """One hardware option over its service life.

    ``embodied_kg``: the embodied emissions charged to this use over the service life (the
    whole device, or the share of a shared server); powers are IT powers in W.
    """

    name: str
    active_power_w: float
    idle_power_w: float = 0.0
    embodied_kg: float = 0.0
    pue: float = 1.0

    def checked(self, label: str) -> Option:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"{label}.name must be a non-empty string")
        embodied_kg = _num(self.embodied_kg, f"{label}.embodied_kg")
        _finite(
            kg_to_g(embodied_kg), f"{label}.embodied_kg is out of range: {embodied_kg} kg overflows"
        )
        return Option(
            self.name,
            _num(self.active_power_w, f"{label}.active_power_w"),
            _num(self.idle_power_w, f"{label}.idle_power_w"),
            embodied_kg,
            _pue(self.pue, f"{label}.pue"),
        )

    def energy_kwh(self, active_hours: float, service_life_h: float) -> float:
        """Facility energy over the service life with ``active_hours`` of active use."""
        idle_h = service_life_h - active_hours
        wh = self.active_power_w * active_hours + self.idle_power_w * idle_h
        return self.pue * wh * KWH_PER_WH

    def carbon_g(
        self, active_hours: float, service_life_h: float, intensity_g_per_kwh: float
    ) -> float:
        """Embodied + operational emissions over the service life."""
        return (
            kg_to_g(self.embodied_kg)
            + self.energy_kwh(active_hours, service_life_h) * intensity_g_per_kwh
        )


def _crossing(a0: float, a1: float, b0: float, b1: float, life_h: float) -> float | None:
    """Where two lines f(u) = f0 + (f1 − f0)·u/T cross, in hours; None if parallel.

    Lines whose slopes differ by less than the precision of their end values (over the
    service life, a billionth of the largest) are parallel: a crossing computed from them
    would be rounding noise, billions of service lives away."""
    slope_a, slope_b = (a1 - a0) / life_h, (b1 - b0) / life_h
    scale = max(abs(a0), abs(a1), abs(b0), abs(b1))
    if math.isclose(slope_a, slope_b, rel_tol=1e-12, abs_tol=1e-15) or (
        abs(slope_a - slope_b) * life_h <= 1e-9 * scale
    ):
        return None
    return (b0 - a0) / (slope_a - slope_b) + 0.0  # −0 → 0


def _cheaper(a: float, b: float, name_a: str, name_b: str) -> str | None:
    if math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12):
        return None
    return name_a if a < b else name_b


@dataclass(frozen=True)
class Indifference:
    """Where two options cost the same over a service life, in energy and in carbon.

    ``*_hours``: hours of active use over the life at which the two are equal (may lie
    outside [0, service life]: then one option is cheaper at every usage; None: the lines
    are parallel). ``*_below``/``*_above``: the cheaper option below/above that usage
    (``None``: equal).
    """

    option_a: Option
    option_b: Option
    service_life_h: float
    intensity_g_per_kwh: float
    energy_hours: float | None
    carbon_hours: float | None
    energy_cheaper_below: str | None
    energy_cheaper_above: str | None
    carbon_cheaper_below: str | None
    carbon_cheaper_above: str | None
    # [low, high] of the indifference points from the inputs' relative errors (high None:
    # within them the lines may not cross); see :func:`propagated_interval`
    energy_hours_interval: tuple[float, float | None] | None = None
    carbon_hours_interval: tuple[float, float | None] | None = None

    @property
    def energy_utilization(self) -> float | None:
        """The energy indifference point as a fraction of the service life."""
        return None if self.energy_hours is None else self.energy_hours / self.service_life_h

    @property
    def carbon_utilization(self) -> float | None:
        """The carbon indifference point as a fraction of the service life."""
        return None if self.carbon_hours is None else self.carbon_hours / self.service_life_h

    def cheaper_at(self, active_hours: float, kind: str = "carbon") -> str | None:
        """The cheaper option at ``active_hours`` of use (``kind``: energy|carbon); None: equal."""
        life, i = self.service_life_h, self.intensity_g_per_kwh
        a, b = self.option_a, self.option_b
        if kind == "energy":
            va, vb = a.energy_kwh(active_hours, life), b.energy_kwh(active_hours, life)
        elif kind == "carbon":
            va, vb = a.carbon_g(active_hours, life, i), b.carbon_g(active_hours, life, i)
        else:
            raise ConfigError(f"kind must be energy or carbon, got {kind!r}")
        return _cheaper(va, vb, a.name, b.name)

    def in_life(self, hours: float | None) -> bool:
        return hours is not None and 0.0 <= hours <= self.service_life_h

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        life, i = self.service_life_h, self.intensity_g_per_kwh
        d.update(
            service_life_years=life / HOURS_PER_YEAR,
            energy_utilization=self.energy_utilization,
            carbon_utilization=self.carbon_utilization,
            energy_point_in_life=self.in_life(self.energy_hours),
            carbon_point_in_life=self.in_life(self.carbon_hours),
            at_zero_use={
                o.name: {"energy_kwh": o.energy_kwh(0, life), "carbon_g": o.carbon_g(0, life, i)}
                for o in (self.option_a, self.option_b)
            },
            at_full_use={
                o.name: {
                    "energy_kwh": o.energy_kwh(life, life),
                    "carbon_g": o.carbon_g(life, life, i),
                }
                for o in (self.option_a, self.option_b)
            },
        )
        return d


def indifference(
    option_a: Option,
    option_b: Option,
    *,
    intensity_g_per_kwh: float,
    service_life_years: float,
    power_rel: float | None = None,
    embodied_rel: float | None = None,
    intensity_rel: float | None = None,
) -> Indifference:
    """The usage (active hours over the service life) at which two options cost the same
    energy, and the same carbon (embodied + operational), each with an interval from the
    inputs' relative errors (defaults as :func:`breakeven`)."""
    a = option_a.checked("option_a")
    b = option_b.checked("option_b")
    if a.name == b.name:
        raise ConfigError("option_a and option_b need different names")
    intensity = _num(intensity_g_per_kwh, "intensity_g_per_kwh")
    life_h = _num(service_life_years, "service_life_years", low_open=True) * HOURS_PER_YEAR

    ea0, ea1 = a.energy_kwh(0, life_h), a.energy_kwh(life_h, life_h)
    eb0, eb1 = b.energy_kwh(0, life_h), b.energy_kwh(life_h, life_h)
    ca0, ca1 = a.carbon_g(0, life_h, intensity), a.carbon_g(life_h, life_h, intensity)
    cb0, cb1 = b.carbon_g(0, life_h, intensity), b.carbon_g(life_h, life_h, intensity)
    for label, option, values in (
        ("option_a", a, (ea0, ea1, ca0, ca1)),
        ("option_b", b, (eb0, eb1, cb0, cb1)),
    ):
        if not all(math.isfinite(v) for v in values):
            raise ConfigError(
                f"{label} ({option.name}): powers, PUE, intensity_g_per_kwh and "
                "service_life_years are out of range: its emissions overflow"
            )
    e_star = _crossing(ea0, ea1, eb0, eb1, life_h)
    c_star = _crossing(ca0, ca1, cb0, cb1, life_h)
    for name, star in (("energy", e_star), ("carbon", c_star)):
        if star is not None and not math.isfinite(star):
            raise ConfigError(
                f"the {name} indifference point is out of range: check the options' powers "
                "and embodied_kg"
            )

    def sides(
        fa0: float, fa1: float, fb0: float, fb1: float, star: float | None
    ) -> tuple[str | None, str | None]:
        if star is None:  # parallel: the same option is cheaper everywhere
            side = _cheaper(fa0, fb0, a.name, b.name)
            return side, side

        # evaluate one hour below and above the crossing, on the lines' extensions
        def at(f0: float, f1: float, u: float) -> float:
            return f0 + (f1 - f0) * u / life_h

        below, above = star - 1.0, star + 1.0
        return (
            _cheaper(at(fa0, fa1, below), at(fb0, fb1, below), a.name, b.name),
            _cheaper(at(fa0, fa1, above), at(fb0, fb1, above), a.name, b.name),
        )

    e_below, e_above = sides(ea0, ea1, eb0, eb1, e_star)
    c_below, c_above = sides(ca0, ca1, cb0, cb1, c_star)
    p_rel = _rel(power_rel, "model")
    inputs = {
        "a_active": (a.active_power_w, p_rel),
        "a_idle": (a.idle_power_w, p_rel),
        "b_active": (b.active_power_w, p_rel),
        "b_idle": (b.idle_power_w, p_rel),
        "a_embodied": (a.embodied_kg, _rel(embodied_rel, "embodied_literature")),
        "b_embodied": (b.embodied_kg, _rel(embodied_rel, "embodied_literature")),
        "intensity": (intensity, _rel(intensity_rel, "intensity_annual")),
    }

    def star_for(x: dict[str, float], kind: str) -> float | None:
        oa = Option(a.name, x["a_active"], x["a_idle"], x["a_embodied"], a.pue)
        ob = Option(b.name, x["b_active"], x["b_idle"], x["b_embodied"], b.pue)
        if kind == "energy":
            f = [o.energy_kwh(u, life_h) for o in (oa, ob) for u in (0, life_h)]
        else:
            f = [o.carbon_g(u, life_h, x["intensity"]) for o in (oa, ob) for u in (0, life_h)]
        return _crossing(f[0], f[1], f[2], f[3], life_h)

    e_iv = propagated_interval(e_star, lambda x: star_for(x, "energy"), inputs)
    c_iv = propagated_interval(c_star, lambda x: star_for(x, "carbon"), inputs)
    return Indifference(
        a, b, life_h, intensity, e_star, c_star, e_below, e_above, c_below, c_above, e_iv, c_iv
    )
