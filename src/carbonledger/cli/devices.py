"""``carbonledger devices [--json]``: what is measured, what is modelled, and why.

Also says whether this machine is a virtual machine or a CPU-limited container, and the
share of its physical host it is charged (CPU power when modelled, and embodied emissions).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from carbonledger.cli.common import print_json, settings_from_args

__all__ = ["describe_host", "register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "devices", help="list the devices found and how each is measured"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=handle)


def describe_host(facts: dict[str, Any]) -> str:
    """The host-share lines of ``devices`` for the facts of :func:`hostinfo.share_facts`."""
    kind = facts.get("host_share_kind")
    share = facts.get("host_share")
    if not kind or not isinstance(share, (int, float)):
        return (
            "Host: bare metal (no hypervisor or CPU limit found): the whole machine is charged.\n"
        )
    virt = facts.get("virtualization")
    what = {
        "vm": "virtual machine",
        "container": "CPU-limited container",
        "vm+container": "CPU-limited container in a virtual machine",
    }.get(str(kind), str(kind))
    if virt and virt != "unknown":
        what += f" ({virt})"
    if facts.get("cloud"):
        what += f", cloud {facts['cloud']}"
    return (
        f"Host: {what}: charged its share of the physical host, {share:.1%} "
        f"({facts.get('host_share_basis')}), for CPU power when it is modelled and for "
        "embodied emissions (VM share assumed; see docs/methodology/sensors.md).\n"
    )


def handle(args: argparse.Namespace) -> int:
    from carbonledger.hostinfo import share_facts
    from carbonledger.sensors.base import ProbeContext
    from carbonledger.sensors.registry import describe, describe_text, discover

    settings = settings_from_args(args)
    ctx = ProbeContext(
        sysfs_root=settings.sysfs_root,
        cpu_tdp_w=settings.cpu_tdp_w,
        memory_gb=settings.memory_gb,
        environ=dict(os.environ),
    )
    discovery = discover(ctx, only=settings.sensors)
    facts = share_facts(settings.sysfs_root)
    try:
        if args.json:
            out = describe(discovery)
            out["host"] = facts
            print_json(out)
        else:
            sys.stdout.write(describe_text(discovery))
            sys.stdout.write("\n" + describe_host(facts))
    finally:
        for sensor in discovery.sensors:
            sensor.close()
    return 0
