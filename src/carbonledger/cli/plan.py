"""``carbonledger plan``: when (and where) to run a job for the least carbon.

carbonledger plan --series DE.csv --series FR.csv --duration 6h --window 24h
carbonledger plan --provider electricitymaps --zone DE --duration 90m --interruptible
carbonledger plan --series DE.csv --duration 6h --earliest 2024-03-01T00:00Z --slurm
carbonledger plan --series FR.csv --duration 12h --nodes 16 --gpus-per-node 8 --gpu H100
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from datetime import datetime
from typing import Any

from carbonledger.cli.common import print_json
from carbonledger.errors import ConfigError

__all__ = ["register", "slurm_begin"]

JSON_KEYS = (
    "zone",
    "start",
    "end",
    "slots",
    "mean_g_per_kwh",
    "baseline_mean_g_per_kwh",
    "savings_pct",
)


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "plan",
        help="find the cleanest time (and zone) to run a job",
        description="Find when, and in which zone, a job of a given duration runs on the "
        "cleanest electricity between an earliest start and a deadline.",
    )
    source = p.add_argument_group("intensity (one of)")
    source.add_argument(
        "--series",
        action="append",
        metavar="FILE",
        help="intensity CSV (Electricity Maps portal or plain); repeat for several zones",
    )
    source.add_argument("--provider", metavar="NAME", help="live provider to ask for a forecast")
    source.add_argument("--zone", metavar="ZONE", help="zone for --provider (or a plain CSV)")
    p.add_argument("--duration", required=True, metavar="D", help="job length: 6h, 90m, 1h30m")
    p.add_argument("--earliest", metavar="TIME", help="ISO 8601 (default: now)")
    end = p.add_mutually_exclusive_group()
    end.add_argument("--deadline", metavar="TIME", help="ISO 8601 time the job must end by")
    end.add_argument("--window", metavar="D", help="deadline as a duration after --earliest")
    p.add_argument("--interruptible", action="store_true", help="the job may pause and resume")
    p.add_argument("--min-slot", metavar="D", help="shortest running slot (with --interruptible)")
    p.add_argument(
        "--basis",
        choices=("lifecycle", "direct"),
        help="intensity basis of the series or forecast (default: lifecycle)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="machine-readable output")
    out.add_argument(
        "--slurm",
        action="store_true",
        help="print the 'sbatch --begin=…' option to use (this machine's local time)",
    )
    job = p.add_argument_group(
        "a whole job (its energy and carbon at the planned window and if started now)"
    )
    job.add_argument("--nodes", type=int, metavar="N", help="nodes of the job")
    job.add_argument("--gpus-per-node", type=int, metavar="G", help="GPUs on each node")
    kind = job.add_mutually_exclusive_group()
    kind.add_argument("--gpu", metavar="NAME", help="the GPU model (its TDP), e.g. H100")
    kind.add_argument("--power-w", type=float, metavar="W", help="mean power per GPU (W)")
    job.add_argument("--utilization", type=float, metavar="U", help="GPU utilisation 0..1")
    job.add_argument("--cpu-cores", type=int, metavar="N", help="CPU cores per node")
    job.add_argument("--cpu-core-w", type=float, metavar="W", help="W per CPU core")
    job.add_argument("--memory-gb", type=float, metavar="G", help="memory per node (GB)")
    job.add_argument("--pue", type=float, metavar="X", help="data-centre PUE (default 1.0)")
    job.add_argument("--no-embodied", action="store_true", help="leave out embodied emissions")
    p.set_defaults(handler=handle)


_JOB_OPTIONS = (
    "nodes",
    "gpus_per_node",
    "gpu",
    "power_w",
    "utilization",
    "cpu_cores",
    "cpu_core_w",
    "memory_gb",
    "pue",
)


def _job_arguments(args: argparse.Namespace) -> dict[str, Any] | None:
    """The whole job's estimate arguments; None when no job option was given."""
    given = {k: getattr(args, k, None) for k in _JOB_OPTIONS}
    given = {k: v for k, v in given.items() if v is not None}
    if not given and not getattr(args, "no_embodied", False):
        return None
    if "nodes" not in given:
        raise ConfigError("the job options need --nodes (and --gpus-per-node with --gpu)")
    given["include_embodied"] = not args.no_embodied
    return given


def handle(args: argparse.Namespace) -> int:
    from carbonledger.schedule.planner import plan
    from carbonledger.schedule.timeparse import parse_duration, parse_time

    job = _job_arguments(args)
    duration_s = parse_duration(args.duration, what="--duration")
    min_slot_s = parse_duration(args.min_slot, what="--min-slot") if args.min_slot else None
    if min_slot_s is not None and not args.interruptible:
        raise ConfigError("--min-slot needs --interruptible")
    now = time.time()
    earliest = parse_time(args.earliest, now=now) if args.earliest else now
    window_s = parse_duration(args.window, what="--window") if args.window else None
    deadline = parse_time(args.deadline, now=now) if args.deadline else None
    series = _load(args, now=now, earliest=earliest, deadline=deadline, window_s=window_s)
    result = plan(
        series,
        duration_s=duration_s,
        earliest=earliest,
        deadline=deadline,
        window_s=window_s,
        interruptible=args.interruptible,
        min_slot_s=min_slot_s,
    )
    job_plan = None
    if job is not None:
        from carbonledger.schedule.job_plan import plan_job

        job_plan = plan_job(result, name="job", **job)
    if args.json:
        print_json(job_plan.to_dict() if job_plan is not None else result.to_dict())
    elif args.slurm:
        print(f"sbatch --begin={slurm_begin(result.start)}")
        _slurm_notes(result)
        if job_plan is not None:
            print(_job_text(job_plan), file=sys.stderr)
    else:
        print(_text(result))
        if job_plan is not None:
            print(_job_text(job_plan))
    return 0


def _job_text(job_plan: Any) -> str:
    """The whole job's lines: energy, carbon with intervals, embodied, carbon saved."""
    from carbonledger.report.numbers import format_mass_interval
    from carbonledger.report.text import format_energy_kwh, format_mass_kg

    fp, now = job_plan.planned, job_plan.start_now
    host = fp.host
    what = f"{host.get('nodes')} node(s)" + (
        f" × {host['gpus_per_node']} GPU(s) ({host.get('hardware')})"
        if host.get("gpus_per_node")
        else ""
    )

    def kg(g: float | None) -> float | None:
        return None if g is None else g / 1000.0

    def kwh(j: float | None) -> float | None:
        return None if j is None else j / 3.6e6

    def iv(pair: tuple[float, float] | None) -> Any:
        return None if pair is None else [pair[0] / 1000.0, pair[1] / 1000.0]

    energy_iv = fp.energy_interval_j
    lines = [
        f"Job: {what}, modelled (estimate)",
        f"  energy     {format_energy_kwh(kwh(fp.energy_j))}"
        + (
            f"  [{format_energy_kwh(kwh(energy_iv[0]))} – {format_energy_kwh(kwh(energy_iv[1]))}]"
            if energy_iv
            else ""
        )
        + f", PUE {fp.pue:g}",
        f"  planned    {format_mass_kg(kg(fp.total_g))} "
        f"{format_mass_interval(iv(fp.total_interval_g))} "
        f"(operational {format_mass_kg(kg(fp.operational_g))}, embodied "
        f"{format_mass_kg(kg(fp.embodied_g))})",
        f"  start now  {format_mass_kg(kg(now.total_g))} "
        f"{format_mass_interval(iv(now.total_interval_g))}",
        f"  saved      {format_mass_kg(kg(job_plan.saved_g))}",
    ]
    lines.extend(f"  note       {w}" for w in fp.warnings)
    return "\n".join(lines)


def slurm_begin(at: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` in this machine's local time (as ``sbatch`` reads it),
    rounded up to the second so the job never starts before the plan."""
    return datetime.fromtimestamp(math.ceil(at)).strftime("%Y-%m-%dT%H:%M:%S")


def _load(
    args: argparse.Namespace,
    *,
    now: float,
    earliest: float,
    deadline: float | None,
    window_s: float | None,
) -> list[Any]:
    if args.series and args.provider:
        raise ConfigError("give --series files or --provider, not both")
    if args.series:
        from carbonledger.intensity.series_csv import load_series

        if args.zone and len(args.series) > 1:
            raise ConfigError("--zone names the zone of a single plain --series file")
        basis = args.basis or "lifecycle"
        return [load_series(path, basis=basis, zone=args.zone) for path in args.series]
    if not args.provider:
        raise ConfigError("give --series FILE or --provider NAME --zone ZONE")
    if not args.zone:
        raise ConfigError("--provider needs --zone")
    from carbonledger.intensity.providers import open_provider

    environ = dict(os.environ)
    if args.basis:
        environ["CARBONLEDGER_ELECTRICITYMAPS_BASIS"] = args.basis
    source = open_provider(args.provider, environ)
    stop = deadline if deadline is not None else earliest + (window_s or 24 * 3600.0)
    hours = max(1, math.ceil((stop - now) / 3600.0))
    return [source.forecast(args.zone, hours=hours)]


def _text(result: Any) -> str:
    from carbonledger.schedule.timeparse import format_duration, format_time

    policy = "pause and resume" if result.policy == "pause_resume" else "flexible start"
    if result.min_slot_s:
        policy += f", slots of at least {format_duration(result.min_slot_s)}"
    lines = [
        f"Plan: a {format_duration(result.duration_s)} job in {result.zone} ({policy})",
        f"  window     {format_time(result.earliest)} → {format_time(result.deadline)}",
        f"  start      {format_time(result.start)}",
        f"  end        {format_time(result.end)}",
        f"  intensity  {result.mean_g_per_kwh:.1f} gCO2e/kWh "
        f"({result.basis}, {result.signal}; from {result.source})",
        f"  start now  {result.baseline_mean_g_per_kwh:.1f} gCO2e/kWh",
        f"  savings    {result.savings_pct:.1f} % less carbon per kWh than starting at once",
    ]
    if not result.exact:
        lines.append("  note       planned on a coarser time grid at the window's edges")
    if len(result.slots) > 1 or result.policy == "pause_resume":
        lines.append(f"Slots ({len(result.slots)}):")
        for slot in result.slots:
            lines.append(
                f"  {format_time(slot.start)} → {format_time(slot.end)}"
                f"  ({format_duration(slot.duration_s)})"
            )
    if result.zones:
        lines.append("Zones (lowest mean first):")
        ranked = sorted(result.zones, key=lambda z: z.mean_g_per_kwh)
        width = max(len(z.zone) for z in ranked)
        for z in ranked:
            mark = "  ← best" if z.zone == result.zone else ""
            lines.append(
                f"  {z.zone:<{width}}  {z.mean_g_per_kwh:8.1f} gCO2e/kWh  "
                f"start {format_time(z.start)}  savings {z.savings_pct:5.1f} %{mark}"
            )
    return "\n".join(lines)


def _slurm_notes(result: Any) -> None:
    from carbonledger.schedule.timeparse import format_time

    where = f" in {result.zone}" if result.zones else ""
    print(
        f"carbonledger: --begin is in this machine's local time (sbatch reads it so); "
        f"plan starts {format_time(result.start)}{where}",
        file=sys.stderr,
    )
    if result.policy == "pause_resume" and len(result.slots) > 1:
        print(
            f"carbonledger: this is the first of {len(result.slots)} slots of a pause-and-"
            "resume plan; the job must pause and resume itself at the others (see --json)",
            file=sys.stderr,
        )
    elif result.policy == "pause_resume":
        print(
            "carbonledger: this is the first and only slot of the pause-and-resume plan",
            file=sys.stderr,
        )
