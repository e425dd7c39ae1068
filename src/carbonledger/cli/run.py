"""``carbonledger run [options] -- CMD ARGS...``: track a command and its process tree."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from typing import Any

from carbonledger.cli.common import add_ledger_option, settings_from_args
from carbonledger.errors import ConfigError
from carbonledger.jsonutil import dumps
from carbonledger.limits import MAX_FUNCTIONAL_UNIT_COUNT
from carbonledger.records import PHASES, RunStatus

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run a command and measure its energy and carbon",
        description="Run CMD, track its energy and carbon, and exit with its exit code.",
    )
    p.add_argument("--name", help="run name (default: the command's name)")
    p.add_argument("--phase", choices=PHASES, help="life-cycle phase (default: other)")
    p.add_argument(
        "--zone", help="grid zone: FR, US-CA, aws:us-east-1, ... (default: world average)"
    )
    p.add_argument(
        "--pue",
        type=float,
        help="power usage effectiveness of the facility (default: the provider's fleet PUE "
        "for aws:/gcp:/azure: zones, else 1.0, i.e. IT energy only)",
    )
    p.add_argument("--interval", type=float, help="sampling interval in seconds (default 1.0)")
    p.add_argument(
        "--scope",
        choices=("machine", "process"),
        help="energy of the machine or of CMD's process tree",
    )
    p.add_argument(
        "--intensity-series",
        metavar="FILE",
        help="CSV intensity series to price the run time-aligned",
    )
    p.add_argument(
        "--functional-unit", metavar="NAME=COUNT", help="SCI functional unit, e.g. request=1000"
    )
    p.add_argument("--embodied", metavar="PRESET", help="hardware preset for embodied emissions")
    p.add_argument(
        "--provider",
        help="live intensity provider during the run (electricitymaps, watttime, ukgrid); "
        "needs --zone",
    )
    p.add_argument(
        "--tag", action="append", default=[], metavar="K=V", help="tag the run (repeatable)"
    )
    p.add_argument("--json-out", metavar="PATH", help="write the footprint JSON here")
    p.add_argument("--quiet", action="store_true", help="no summary on stderr")
    p.add_argument(
        "--audit-env",
        action="store_true",
        help="record which installed Python distributions the command used (a lower bound)",
    )
    p.add_argument(
        "--job",
        metavar="KEY",
        help="the distributed job this run belongs to (default: from Slurm, torchrun or MPI "
        "variables, else the key a wrapped torchrun's workers will use, else one named after "
        "this run); exported to the command as CARBONLEDGER_JOB so ranks that track "
        "themselves join it",
    )
    p.add_argument(
        "--prometheus",
        metavar="[HOST]:PORT",
        type=_listen_address,
        help="serve live Prometheus metrics on HOST:PORT during the run (127.0.0.1 unless "
        "a host is given; needs carbonledger[prometheus])",
    )
    p.add_argument(
        "--prometheus-textfile",
        metavar="FILE.prom",
        help="write Prometheus metrics to FILE.prom for node_exporter's textfile collector",
    )
    add_ledger_option(p)
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    p.set_defaults(handler=handle)


def _listen_address(text: str) -> tuple[str, int]:
    from carbonledger.exporters.prometheus import parse_listen_address

    try:
        return parse_listen_address(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _exporters(args: argparse.Namespace) -> list[object]:
    """The Prometheus exporters asked for, serving before the command starts."""
    if args.prometheus is None and args.prometheus_textfile is None:
        return []
    from carbonledger.exporters.prometheus import PrometheusExporter

    sinks: list[object] = []
    if args.prometheus is not None:
        host, port = args.prometheus
        exporter = PrometheusExporter(port, addr=host)
        exporter.start()  # ConfigError (exit 3) when the address is taken
        sinks.append(exporter)
    if args.prometheus_textfile is not None:
        sinks.append(PrometheusExporter(textfile=args.prometheus_textfile))
    return sinks


def parse_pairs(items: list[str], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} must be KEY=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def parse_functional_unit(text: str | None) -> tuple[str, float] | None:
    if text is None:
        return None
    name, sep, count = text.partition("=")
    try:
        value = float(count)
    except ValueError:
        value = -1.0
    if not sep or not name or not 0 < value <= MAX_FUNCTIONAL_UNIT_COUNT:
        raise ConfigError(
            "--functional-unit must be NAME=COUNT with a positive, finite count "
            f"(at most {MAX_FUNCTIONAL_UNIT_COUNT:g}), got {text!r}"
        )
    return name, value


def handle(args: argparse.Namespace) -> int:
    from carbonledger.report.text import summary
    from carbonledger.tracking import Tracker

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        print("carbonledger run: missing command after --", file=sys.stderr)
        return 2
    if args.json_out:
        _check_writable(args.json_out)
    tags = parse_pairs(args.tag, "--tag")
    functional_unit = parse_functional_unit(args.functional_unit)
    settings = settings_from_args(args, provider=args.provider)
    from carbonledger.distributed.identity import JOB_ENV, wrapper_job

    job = wrapper_job(getattr(args, "job", None), os.environ, cmd)
    for warning in job.warnings:
        print(warning, file=sys.stderr)
    exporters = _exporters(args)
    tracker = Tracker(
        args.name or cmd[0].rsplit("/", 1)[-1],
        settings=settings,
        tags=tags,
        embodied=args.embodied,
        job=job.key,
        sinks=exporters,
    )
    run = tracker.start()
    env = dict(os.environ, CARBONLEDGER_RUN_ID=run.run_id)
    if tracker.record is not None and tracker.record.job is not None:
        env[JOB_ENV] = tracker.record.job.key  # ranks the command starts join this job
    audit = None
    if args.audit_env:
        from carbonledger.envaudit.command import CommandAudit

        audit = CommandAudit()
        env = audit.child_env(env)
    try:
        child = subprocess.Popen(cmd, env=env)
    except OSError as exc:
        if audit is not None:
            audit.cancel()
        tracker.stop(RunStatus.FAILED, exit_code=127)
        print(f"carbonledger run: cannot start {cmd[0]!r}: {exc.strerror or exc}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    if audit is not None:
        audit.watch(child.pid)
    forwarded: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        forwarded.append(signum)
        if signum == signal.SIGINT and _terminal_sent_to_group():
            return  # Ctrl-C at a terminal already reached the child (same process group)
        with contextlib.suppress(OSError):
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = _wait(child)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if functional_unit is not None:
        run.set_functional_unit(*functional_unit)
    status = RunStatus.COMPLETED
    if forwarded or code < 0:
        status = RunStatus.INTERRUPTED
    elif code != 0:
        status = RunStatus.FAILED
    exit_code = 128 - code if code < 0 else code
    footprint = tracker.stop(status, exit_code=exit_code)
    audit_data = None
    if audit is not None:
        env_audit, note = audit.finish(settings.ledger_path, run.run_id)
        audit_data = None if env_audit is None else env_audit.to_dict()
        if not args.quiet:
            print(f"carbonledger: {note}", file=sys.stderr)
    if footprint is not None:
        if args.json_out:
            data = footprint.to_dict()
            if audit_data is not None:
                data["env_audit"] = audit_data
            try:
                with open(args.json_out, "w", encoding="utf-8") as fh:
                    fh.write(dumps(data) + "\n")
            except OSError as exc:
                print(
                    f"carbonledger: cannot write {args.json_out}: {exc.strerror}", file=sys.stderr
                )
        if not args.quiet:
            print(summary(footprint), file=sys.stderr)
    return exit_code


def _check_writable(path: str) -> None:
    """Refuse an output path that cannot be written before the command runs, not after."""
    target = os.path.abspath(path)
    if os.path.isdir(target):
        raise ConfigError(f"--json-out {path}: is a folder")
    if not os.path.isdir(os.path.dirname(target)):
        raise ConfigError(f"--json-out {path}: folder {os.path.dirname(target)} does not exist")
    if not os.access(os.path.dirname(target), os.W_OK):
        raise ConfigError(f"--json-out {path}: folder is not writable")


def _terminal_sent_to_group() -> bool:
    """True when our process group is the terminal's foreground group (Ctrl-C hits all)."""
    for stream in (sys.stdin, sys.stderr, sys.stdout):
        try:
            return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
        except (OSError, AttributeError, ValueError):
            continue
    return False


def _wait(child: subprocess.Popen[bytes]) -> int:
    while True:
        try:
            return child.wait()
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
