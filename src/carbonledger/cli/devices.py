"""``carbonledger devices [--json]``: what is measured, what is modelled, and why."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from carbonledger.cli.common import print_json, settings_from_args

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "devices", help="list the devices found and how each is measured"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
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
    try:
        if args.json:
            print_json(describe(discovery))
        else:
            sys.stdout.write(describe_text(discovery))
    finally:
        for sensor in discovery.sensors:
            sensor.close()
    return 0
