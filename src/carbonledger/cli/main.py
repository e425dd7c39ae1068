"""The ``carbonledger`` command: composition root.

Each command lives in its own module under :mod:`carbonledger.cli` and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` (args -> exit code).
Exit codes: 0 ok; 2 usage; 3 bad data or configuration (one line, no traceback);
``run`` returns the wrapped command's code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from carbonledger import __version__
from carbonledger.cli.common import check_output_path
from carbonledger.errors import CarbonLedgerError
from carbonledger.limits import check_cli_numbers
from carbonledger.safetext import SafeStream, term

__all__ = ["EXIT_BAD_DATA", "EXIT_USAGE", "build_parser", "main"]

EXIT_USAGE = 2
EXIT_BAD_DATA = 3

_NOT_COMMANDS = {"main", "common"}


def _command_modules() -> list[str]:
    import carbonledger.cli as package

    return sorted(
        m.name for m in pkgutil.iter_modules(package.__path__) if m.name not in _NOT_COMMANDS
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carbonledger",
        description="Honest energy and carbon accounting for machine-learning work.",
    )
    parser.add_argument("--version", action="version", version=f"carbonledger {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_modules():
        module = importlib.import_module(f"carbonledger.cli.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its output passes through :class:`SafeStream` (no escapes)."""
    saved = sys.stdout, sys.stderr
    if sys.stdout is not None:
        sys.stdout = SafeStream(sys.stdout)
    if sys.stderr is not None:
        sys.stderr = SafeStream(sys.stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = saved


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="carbonledger: %(levelname)s: %(message)s",
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        check_cli_numbers(vars(args))
        check_output_path(getattr(args, "output", None))
        return int(handler(args))
    except CarbonLedgerError as exc:
        print(f"carbonledger: error: {term(exc)}", file=sys.stderr)
        return EXIT_BAD_DATA
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (OverflowError, RecursionError) as exc:
        print(f"carbonledger: error: a number or input is out of range ({exc})", file=sys.stderr)
        return EXIT_BAD_DATA
    except UnicodeError as exc:  # text that is not UTF-8 (argv bytes) where text is needed
        print(f"carbonledger: error: not valid UTF-8 text ({term(exc)})", file=sys.stderr)
        return EXIT_BAD_DATA
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"carbonledger: error: {term(exc.strerror or exc)}{term(where)}", file=sys.stderr)
        return EXIT_BAD_DATA
    except Exception as exc:
        if args.verbose:
            raise
        print(
            f"carbonledger: internal error: {type(exc).__name__}: {term(exc)} "
            "(run with -v for details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
