"""``carbonledger decide breakeven|indifference``: hardware decisions in carbon.

    carbonledger decide breakeven --embodied-new-kg KG --power-old-w W --power-new-w W
                                  --intensity G_PER_KWH [--pue X] [--json]
    carbonledger decide indifference --a-power-w W [--a-idle-w W] [--a-embodied-kg KG]
                                     [--a-pue X] [--a-name N]  (the same with --b-…)
                                     --intensity G_PER_KWH --service-life-years Y [--json]

Maths in :mod:`carbonledger.lifecycle.decisions`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from carbonledger.cli.common import print_json

__all__ = ["handle_breakeven", "handle_indifference", "register"]

T = TypeVar("T")

# Parameter names in the maths' error messages → the options a user typed.
_OPTIONS = {
    "embodied_new_kg": "--embodied-new-kg",
    "power_old_w": "--power-old-w",
    "power_new_w": "--power-new-w",
    "intensity_g_per_kwh": "--intensity",
    "pue": "--pue",
    "service_life_years": "--service-life-years",
    **{
        f"option_{side}.{field}": f"--{side}-{option}"
        for side in ("a", "b")
        for field, option in (
            ("name", "name"),
            ("active_power_w", "power-w"),
            ("idle_power_w", "idle-w"),
            ("embodied_kg", "embodied-kg"),
            ("pue", "pue"),
        )
    },
}
_NAME_RE = re.compile(r"\b(option_[ab]\.\w+|\w+)\b")


def _with_option_names(call: Callable[[], T]) -> T:
    """Run ``call``; a ConfigError's parameter names are replaced by the CLI's options."""
    from carbonledger.errors import ConfigError

    try:
        return call()
    except ConfigError as exc:
        message = _NAME_RE.sub(lambda m: _OPTIONS.get(m.group(1), m.group(1)), str(exc))
        raise ConfigError(message) from exc


def _num(value: float, digits: int = 4) -> str:
    """``value`` in ``g`` format, with −0 shown as 0."""
    return f"{value + 0.0:.{digits}g}"


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "decide", help="hardware decisions: carbon breakeven and indifference points"
    )
    sub = p.add_subparsers(dest="decision", metavar="DECISION")
    p.set_defaults(handler=lambda _args: _usage(p))

    b: argparse.ArgumentParser = sub.add_parser(
        "breakeven", help="when new, more efficient hardware pays back its embodied emissions"
    )
    b.add_argument("--embodied-new-kg", type=float, required=True, metavar="KG")
    b.add_argument(
        "--power-old-w",
        type=float,
        required=True,
        metavar="W",
        help="mean IT power of the old hardware for the work",
    )
    b.add_argument(
        "--power-new-w",
        type=float,
        required=True,
        metavar="W",
        help="mean IT power of the new hardware for the same work",
    )
    b.add_argument("--intensity", type=float, required=True, metavar="G_PER_KWH")
    b.add_argument("--pue", type=float, default=1.0, metavar="X")
    b.add_argument("--json", action="store_true")
    b.set_defaults(handler=handle_breakeven)

    i: argparse.ArgumentParser = sub.add_parser(
        "indifference", help="the usage at which two options cost the same energy and carbon"
    )
    for side in ("a", "b"):
        i.add_argument(f"--{side}-name", default=f"option-{side}", metavar="N")
        i.add_argument(
            f"--{side}-power-w",
            type=float,
            required=True,
            metavar="W",
            help=f"option {side}: IT power while active",
        )
        i.add_argument(
            f"--{side}-idle-w",
            type=float,
            default=0.0,
            metavar="W",
            help=f"option {side}: IT power while idle (default 0)",
        )
        i.add_argument(
            f"--{side}-embodied-kg",
            type=float,
            default=0.0,
            metavar="KG",
            help=f"option {side}: embodied kgCO2e charged over the service life",
        )
        i.add_argument(f"--{side}-pue", type=float, default=1.0, metavar="X")
    i.add_argument("--intensity", type=float, required=True, metavar="G_PER_KWH")
    i.add_argument("--service-life-years", type=float, required=True, metavar="Y")
    i.add_argument("--json", action="store_true")
    i.set_defaults(handler=handle_indifference)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def handle_breakeven(args: argparse.Namespace) -> int:
    from carbonledger.lifecycle.decisions import breakeven

    r = _with_option_names(
        lambda: breakeven(
            embodied_new_kg=args.embodied_new_kg,
            power_old_w=args.power_old_w,
            power_new_w=args.power_new_w,
            intensity_g_per_kwh=args.intensity,
            pue=args.pue,
        )
    )
    if args.json:
        print_json(r.to_dict())
        return 0
    print(
        f"power saved: {_num(r.power_saving_w, 6)} W → {_num(r.saved_g_per_hour)} gCO2e "
        "per hour of use"
    )
    print(f"embodied emissions of the new hardware: {_num(r.embodied_new_g / 1000, 6)} kgCO2e")
    print(r.note)
    if r.hours_interval is not None:
        print(f"  range: {_hours_range(r.hours_interval)} (inputs' uncertainty)")
    return 0


def _hours_range(bounds: tuple[float, float | None]) -> str:
    """``1,200–3,400 h``, or ``at least 1,200 h (maybe never)`` for an unbounded interval."""
    low, high = bounds
    if high is None:
        return f"at least {low:,.0f} h (maybe never)"
    return f"{low:,.0f}–{high:,.0f} h"


def _line(r: Any, kind: str) -> str:
    hours = getattr(r, f"{kind}_hours")
    life = r.service_life_h
    at_zero, at_full = r.cheaper_at(0.0, kind), r.cheaper_at(life, kind)
    if r.in_life(hours) and hours == 0.0 and at_full is not None:
        return (
            f"{kind}: equal only at no use; {at_full} is cheaper at any use over the service life"
        )
    if r.in_life(hours) and hours == life and at_zero is not None:
        return (
            f"{kind}: equal only at full use; {at_zero} is cheaper at any lower use over the "
            "service life"
        )
    if r.in_life(hours):
        below = getattr(r, f"{kind}_cheaper_below") or "neither"
        above = getattr(r, f"{kind}_cheaper_above") or "neither"
        share = hours / life + 0.0  # −0 → 0
        bounds = getattr(r, f"{kind}_hours_interval")
        shown = f" [{_hours_range(bounds)}]" if bounds is not None else ""
        return (
            f"{kind}: equal at {hours + 0.0:,.0f} active hours{shown} ({share:.1%} of the "
            f"service life); cheaper below: {below}, above: {above}"
        )
    if at_zero == at_full:
        if at_zero is None:
            a, b = r.option_a.name, r.option_b.name
            return f"{kind}: {a} and {b} cost the same at every usage over the service life"
        return f"{kind}: {at_zero} is cheaper at every usage over the service life"
    return f"{kind}: {at_zero or 'neither'} at no use, {at_full or 'neither'} at full use"


def handle_indifference(args: argparse.Namespace) -> int:
    from carbonledger.lifecycle.decisions import Option, indifference

    a = Option(args.a_name, args.a_power_w, args.a_idle_w, args.a_embodied_kg, args.a_pue)
    b = Option(args.b_name, args.b_power_w, args.b_idle_w, args.b_embodied_kg, args.b_pue)
    r = _with_option_names(
        lambda: indifference(
            a, b, intensity_g_per_kwh=args.intensity, service_life_years=args.service_life_years
        )
    )
    if args.json:
        print_json(r.to_dict())
        return 0
    print(_line(r, "energy"))
    print(_line(r, "carbon"))
    return 0
