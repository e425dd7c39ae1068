"""``carbonledger estimate``: a modelled footprint from hardware, time and place.

    carbonledger estimate [--power-w W | --gpu NAME | --cpu NAME]
                          [--count N | --nodes N [--gpus-per-node G]]
                          [--cpu-cores N --cpu-core-w W [--cpu-utilization U]]
                          [--hours H | --device-hours H] [--utilization U] [--memory-gb G]
                          [--psf F] [--pue X] [--intensity G_PER_KWH | --zone Z]
                          [--embodied-kg KG] [--lifetime-years Y] [--lifetime-use F]
                          [--no-embodied] [--json]

Named hardware brings its catalog embodied figure by default; the output lists what the
estimate includes and what it leaves out.

Exclusive choices are checked by :func:`carbonledger.lifecycle.estimate.estimate`, so a bad
combination is a configuration error (exit 3, one line), like any other invalid value.
"""

from __future__ import annotations

import argparse
from typing import Any

from carbonledger.cli.common import print_json

__all__ = ["handle_estimate", "register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "estimate",
        help="estimate a footprint from hardware and time (nothing measured)",
        description="Energy = (devices × power × utilisation + CPU cores × W per core × "
        "usage + 0.3725 W/GB memory) × hours × PSF; × PUE; × grid intensity; + embodied "
        "(SCI: the catalog's figure for named hardware, on by default). Every figure is "
        "labelled modeled; the output says what is and is not included.",
    )
    power = p.add_argument_group("power (exactly one)")
    power.add_argument("--power-w", type=float, metavar="W", help="mean power per device (W)")
    power.add_argument("--gpu", metavar="NAME", help="a GPU model (its TDP), e.g. A100, V100")
    power.add_argument("--cpu", metavar="NAME", help="a CPU model (its TDP), e.g. 'EPYC 7763'")
    p.add_argument(
        "--count", type=int, default=1, metavar="N", help="number of devices (default 1)"
    )
    job = p.add_argument_group("a whole distributed job (instead of --count)")
    job.add_argument(
        "--nodes",
        type=int,
        metavar="N",
        help="nodes of the job; --cpu-cores and --memory-gb are then per node",
    )
    job.add_argument(
        "--gpus-per-node",
        type=int,
        metavar="G",
        help="devices (--gpu or --power-w) on each node",
    )
    time = p.add_argument_group("time (exactly one)")
    time.add_argument("--hours", type=float, metavar="H", help="wall-clock hours, each device")
    time.add_argument("--device-hours", type=float, metavar="H", help="total device-hours")
    p.add_argument(
        "--utilization",
        type=float,
        default=1.0,
        metavar="U",
        help="mean utilisation of the power, 0..1 (default 1)",
    )
    p.add_argument("--memory-gb", type=float, metavar="G", help="memory (GB), 0.3725 W/GB")
    p.add_argument(
        "--cpu-cores", type=int, metavar="N", help="CPU cores (Green Algorithms), with --cpu-core-w"
    )
    p.add_argument(
        "--cpu-core-w", type=float, metavar="W", help="power per CPU core (W): TDP / cores"
    )
    p.add_argument(
        "--cpu-utilization",
        type=float,
        default=1.0,
        metavar="U",
        help="mean usage of the CPU cores, 0..1 (default 1)",
    )
    p.add_argument(
        "--psf",
        type=float,
        default=1.0,
        metavar="F",
        help="pragmatic scaling factor: how many times the job is run (default 1)",
    )
    p.add_argument(
        "--no-embodied",
        action="store_true",
        help="leave out embodied emissions (default: the catalog's figure for named hardware)",
    )
    p.add_argument(
        "--pue", type=float, metavar="X", help="data-centre PUE (default: provider's, else 1.0)"
    )
    p.add_argument(
        "--intensity", type=float, metavar="G_PER_KWH", help="grid intensity (gCO2e/kWh)"
    )
    p.add_argument("--zone", metavar="Z", help="grid zone (FR, US-CA, aws:eu-west-3, …)")
    p.add_argument("--embodied-kg", type=float, metavar="KG", help="embodied kgCO2e per device")
    p.add_argument("--lifetime-years", type=float, metavar="Y", help="hardware lifetime (years)")
    p.add_argument(
        "--lifetime-use",
        type=float,
        default=1.0,
        metavar="F",
        help="fraction of the lifetime in use (default 1)",
    )
    p.add_argument("--name", default="estimate", help="a name for the estimate")
    p.add_argument("--phase", default="other", help="data|experimentation|training|inference|other")
    p.add_argument("--json", action="store_true", help="the footprint JSON")
    p.set_defaults(handler=handle_estimate)


def handle_estimate(args: argparse.Namespace) -> int:
    from carbonledger.lifecycle.estimate import estimate
    from carbonledger.report.text import summary

    fp = estimate(
        power_w=args.power_w,
        gpu=args.gpu,
        cpu=args.cpu,
        count=args.count,
        hours=args.hours,
        device_hours=args.device_hours,
        utilization=args.utilization,
        memory_gb=args.memory_gb,
        pue=args.pue,
        intensity_g_per_kwh=args.intensity,
        zone=args.zone,
        embodied_kg=args.embodied_kg,
        lifetime_years=args.lifetime_years,
        lifetime_use=args.lifetime_use,
        name=args.name,
        phase=args.phase,
        cpu_cores=args.cpu_cores,
        cpu_core_w=args.cpu_core_w,
        cpu_utilization=args.cpu_utilization,
        psf=args.psf,
        include_embodied=not args.no_embodied,
        nodes=args.nodes,
        gpus_per_node=args.gpus_per_node,
    )
    if args.json:
        print_json(fp.to_dict())
    else:
        print(summary(fp))
        print(scope_lines(fp.included, fp.excluded))
    return 0


def scope_lines(included: tuple[str, ...], excluded: tuple[str, ...]) -> str:
    """Two lines: what an estimate counts, and what it leaves out."""
    return (
        f"  includes  {'; '.join(included) or 'nothing'}\n"
        f"  leaves out {'; '.join(excluded) or 'nothing'}"
    )
