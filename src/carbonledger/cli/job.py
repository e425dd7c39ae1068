"""``carbonledger job KEY [--json] [--no-sacct]``: one footprint for a distributed job."""

from __future__ import annotations

import argparse
from typing import Any

from carbonledger.cli.common import (
    add_ledger_option,
    open_ledger_for_reading,
    print_json,
    settings_from_args,
)

__all__ = ["register", "render_text"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "job", help="one footprint for a distributed job (all its ranks and nodes)"
    )
    p.add_argument("key", metavar="KEY", help="the job key (see `carbonledger runs --json`)")
    p.add_argument("--json", action="store_true", help="the job footprint JSON")
    p.add_argument(
        "--no-sacct",
        action="store_true",
        help="do not ask Slurm's accounting (sacct) for its figure",
    )
    add_ledger_option(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from carbonledger.distributed.job import job_footprint
    from carbonledger.distributed.slurm import read_sacct, slurm_job_id
    from carbonledger.store._schema import TABLES

    settings = settings_from_args(args)
    # every table but the samples is checked for damage first: a job is priced from the
    # sums kept beside them (a whole-file check of a day of a large job takes longer than
    # the answer); samples read where the sums do not serve raise LedgerError if damaged
    ledger = open_ledger_for_reading(
        settings, tables=[t for t in TABLES if t not in ("samples", "requests")]
    )
    try:
        job = job_footprint(ledger, args.key)
    finally:
        ledger.close()
    slurm_id = slurm_job_id(job.key)
    if slurm_id is not None and not args.no_sacct:
        found, note = read_sacct(slurm_id)
        scheduler: dict[str, Any] = {"source": note}
        if found is not None:
            scheduler.update(found.to_dict())
        job = replace(job, scheduler=scheduler)
    data = job.to_dict()
    if args.json:
        print_json(data)
    else:
        print(render_text(data))
    return 0


def render_text(d: dict[str, Any]) -> str:
    """The job footprint for a terminal (user text made safe)."""
    from carbonledger.cli.summary import cell
    from carbonledger.report.numbers import format_mass_interval
    from carbonledger.report.text import format_energy_kwh, format_mass_kg

    u = d["uncertainty"]
    lines = [
        f"job {cell(d['key'], 80)}: {len(d['nodes'])} node(s), {len(d['ranks'])} run(s)",
        f"  energy   {format_energy_kwh(d['energy_kwh'])}"
        + (
            f"  [{format_energy_kwh(u['energy_kwh'][0])} – {format_energy_kwh(u['energy_kwh'][1])}]"
            if u["energy_kwh"]
            else ""
        ),
        f"  carbon   {format_mass_kg(d['total_kgco2e'])} "
        f"{format_mass_interval(u['total_kgco2e'])} (operational "
        f"{format_mass_kg(d['operational_kgco2e'])}, "
        f"embodied {format_mass_kg(d['embodied_kgco2e'])})",
        "  intervals: nodes added in quadrature (independent); a bias common to all nodes "
        "would add linearly: "
        + (
            f"{format_energy_kwh(u['energy_kwh_linear'][0])} – "
            f"{format_energy_kwh(u['energy_kwh_linear'][1])}"
            if u["energy_kwh_linear"]
            else "unknown"
        ),
    ]
    for n in d["nodes"]:
        lines.append(
            f"  node {cell(n['node'], 40)} ({cell(n['zone'] or 'no zone', 20)}): "
            f"{format_energy_kwh(n['energy_kwh'])}, {format_mass_kg(n['total_kgco2e'])}"
        )
        for dev in n["devices"]:
            gap = dev.get("gap_s")
            filled = dev.get("gap_filled_kwh")
            lines.append(
                f"    {cell(dev['device'], 48)} {format_energy_kwh(dev['energy_kwh'])}"
                + (
                    f" (unmeasured {gap:.0f} s: {format_energy_kwh(filled)} of it modelled)"
                    if gap and gap >= 1 and filled
                    else f" (unmeasured {gap:.0f} s)"
                    if gap and gap >= 1
                    else ""
                )
            )

    def span_energy(s: dict[str, Any]) -> str:
        if s["energy_kwh"] is None and s.get("known_energy_kwh") is not None:
            return f"unknown (at least {format_energy_kwh(s['known_energy_kwh'])})"
        return format_energy_kwh(s["energy_kwh"])

    for r in d["ranks"]:
        spans = ", ".join(f"{cell(s['path'], 30)} {span_energy(s)}" for s in r["spans"][:5])
        more = f" (+{len(r['spans']) - 5} more)" if len(r["spans"]) > 5 else ""
        lines.append(
            f"  rank {r['rank'] if r['rank'] is not None else '-'} (local "
            f"{r['local_rank'] if r['local_rank'] is not None else '-'}, restart {r['restart']}, "
            f"{cell(r['node'], 30)}) {'measures' if r['measured'] else 'standby'}"
            + (f": {spans}{more}" if spans else "")
        )
    sched = d.get("scheduler")
    if sched and sched.get("job_id") is not None:
        elapsed = sched.get("elapsed_s")
        lines.append(
            f"  Slurm job {cell(sched['job_id'], 30)} (sacct): "
            f"{cell(sched.get('state') or 'state unknown', 30)}, elapsed "
            + (f"{elapsed:.0f} s" if elapsed is not None else "unknown")
        )
        if sched.get("energy_kwh") is not None:
            lines.append(
                f"  Slurm (sacct ConsumedEnergyRaw): {format_energy_kwh(sched['energy_kwh'])} "
                f"beside carbonledger's {format_energy_kwh(d['energy_kwh'])}"
            )
        else:
            lines.append(f"  {sched.get('energy_note') or 'Slurm recorded no energy'}")
        lines.append(f"    {sched['caveat']}")
    elif sched:
        lines.append(f"  Slurm accounting: none read ({cell(sched.get('source'), 100)})")
    for w in d["warnings"]:
        lines.append(f"  warning: {cell(w, 300)}")
    return "\n".join(lines)
