"""``carbonledger env-audit [--env PATH] [--against RUN...] [--image TAR_OR_OCI_DIR]
[--transfers N] [--zone Z] [--json]``: what an environment (and an image) holds that none
of the recorded runs used, a minimal requirements list, and what moving the unused part
costs."""

from __future__ import annotations

import argparse
from typing import Any

from carbonledger.cli.common import (
    add_ledger_option,
    positive_int,
    print_json,
    settings_from_args,
)

__all__ = ["register"]

SCHEMA = "carbonledger.env_audit_report/1"


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "env-audit",
        help="installed Python distributions (and image files) no recorded run used",
        description="Compare an environment (a venv, a site-packages folder, or the current "
        "one) and optionally a container image with the environment audits of recorded runs "
        "(carbonledger run --audit-env). The result is a lower bound of what is unused.",
    )
    p.add_argument("--env", metavar="PATH", help="virtual environment or site-packages folder")
    p.add_argument(
        "--against", nargs="+", default=[], metavar="RUN", help="recorded runs (ids or prefixes)"
    )
    p.add_argument(
        "--image", metavar="TAR_OR_OCI_DIR", help="a docker save tar or an OCI image layout"
    )
    p.add_argument(
        "--transfers",
        type=positive_int,
        metavar="N",
        help="times the unused part is moved (nodes × pulls): estimate its energy and carbon",
    )
    p.add_argument("--zone", help="grid zone to price the transfers (default: the runs' zone)")
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    add_ledger_option(p)
    p.set_defaults(handler=handle)


def _load_audits(args: argparse.Namespace) -> tuple[list[Any], list[str], str | None]:
    from carbonledger.envaudit.storage import load_audit
    from carbonledger.errors import DataError
    from carbonledger.store import open_ledger

    if not args.against:
        return [], [], None
    settings = settings_from_args(args)
    ledger = open_ledger(settings.ledger_path)
    audits, run_ids, zone = [], [], None
    try:
        for ref in args.against:
            run = ledger.get_run(ref)
            audit = load_audit(ledger, run.run_id)
            if audit is None:
                raise DataError(
                    f"run {run.run_id[:12]} has no environment audit "
                    "(record one with: carbonledger run --audit-env -- CMD)"
                )
            audits.append(audit)
            run_ids.append(run.run_id)
            zone = zone or run.zone
    finally:
        ledger.close()
    return audits, run_ids, zone


def handle(args: argparse.Namespace) -> int:
    from carbonledger.envaudit.combine import combine_runs
    from carbonledger.envaudit.distributions import current_site_dirs, find_site_dirs, scan
    from carbonledger.envaudit.requirements import requirement_closure

    site_dirs = find_site_dirs(args.env) if args.env else current_site_dirs()
    dists = scan(site_dirs)
    audits, run_ids, run_zone = _load_audits(args)
    combined = combine_runs(dists, audits, site_dirs)
    pins = []
    if audits:
        pins = requirement_closure(
            [d.name for d in combined.distributions if d.used],
            [(d.name, d.version, d.requires, d.editable) for d in dists],
        )
    image = None
    if args.image:
        from carbonledger.envaudit.image import audit_image

        image = audit_image(args.image, combined.files, touched_known=bool(audits))
    zone = args.zone or run_zone
    costs: dict[str, Any] = {}
    if args.transfers is not None:
        from carbonledger.envaudit.cost import transfer_cost

        if audits:
            costs["environment"] = transfer_cost(combined.unused_bytes, args.transfers, zone=zone)
        if image is not None:
            ratio = image.compressed_ratio or 1.0
            base = image.untouched_bytes if audits else image.final_bytes
            costs["image"] = transfer_cost(int(base * ratio), args.transfers, zone=zone)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "runs": run_ids,
        "environment": _env_dict(combined, compared=bool(audits)),
        "requirements": [p.line() for p in pins] if audits else None,
        "image": None if image is None else image.to_dict(),
        "cost": {
            k: {**v.to_dict(), "part": "unused" if audits else "all"} for k, v in costs.items()
        }
        or None,
    }
    if args.json:
        print_json(report)
    else:
        print(_text(combined, bool(audits), run_ids, pins, image, costs))
    return 0


def _env_dict(audit: Any, *, compared: bool) -> dict[str, Any]:
    data: dict[str, Any] = audit.to_dict()
    data.pop("files", None)
    data["files_seen"] = len(audit.files)
    data["compared"] = compared
    if not compared:
        for key in ("unused", "unused_cuda"):
            data[key] = None
        for key in ("used_bytes", "unused_bytes", "unused_share", "used_distributions"):
            data["totals"][key] = None
    return data


def _text(
    audit: Any,
    compared: bool,
    run_ids: list[str],
    pins: list[Any],
    image: Any,
    costs: dict[str, Any],
) -> str:
    from carbonledger.envaudit.render import format_bytes, render_text, safe

    out = []
    if compared:
        out.append(f"Against {len(run_ids)} run(s): {', '.join(r[:12] for r in run_ids)}")
        out.append(render_text(audit, top=40))
        out.append("\nSuggested minimal requirements (used distributions and what they need):")
        out += [f"  {safe(p.line())}" for p in pins] or ["  (none)"]
    else:
        out.append(
            f"Environment: {len(audit.distributions)} distributions, "
            f"{format_bytes(audit.installed_bytes)} installed in "
            f"{', '.join(safe(s) for s in audit.site_dirs) or '(no site folder)'}"
        )
        for d in audit.distributions[:40]:
            out.append(
                f"  {safe(d.name):<32} {safe(d.version):<14} {format_bytes(d.installed_bytes):>10}"
            )
        out.append("No runs given: add --against RUN... to see what they did not use.")
    if image is not None:
        out.append(
            f"\nImage {safe(image.source)}: {format_bytes(image.total_bytes)} in layers, "
            f"{format_bytes(image.final_bytes)} visible after whiteouts and overwrites"
        )
        for layer in image.layers:
            out.append(
                f"  layer {layer.index:<3} {safe(layer.digest)[:24]:<24} "
                f"{format_bytes(layer.bytes_):>10} ({layer.files} files, "
                f"{format_bytes(layer.visible_bytes)} visible)"
            )
        out.append("  by package (visible files):")
        for p in image.packages[:40]:
            touched = f", touched {format_bytes(p.touched_bytes)}" if image.touched_known else ""
            declared = (
                f", declares {format_bytes(p.declared_bytes)}"
                if p.declared_bytes is not None
                else ""
            )
            size = format_bytes(p.bytes_)
            out.append(f"    {p.manager:<5} {safe(p.name):<32} {size:>10}{declared}{touched}")
        if image.touched_known:
            out.append(
                f"  the runs touched {format_bytes(image.touched_bytes)} of "
                f"{format_bytes(image.final_bytes)} (files matched by path inside the image)"
            )
    for what, cost in costs.items():
        low, high = cost.energy_interval_kwh
        label = f"the unused {what}" if compared else f"the whole {what} (no runs to compare)"
        out.append(
            f"\nMoving {label} ({format_bytes(cost.bytes_)}) {cost.transfers} time(s): "
            f"{cost.energy_kwh:.3g} kWh [{low:.2g}-{high:.2g}], "
            f"{cost.kgco2e:.3g} kgCO2e at {cost.intensity_zone} (modeled)"
        )
        out.append(f"  source: {cost.source}")
        out.append(f"  {cost.storage_note}")
    return "\n".join(out)
