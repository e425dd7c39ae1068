"""Helpers shared by command modules: settings from arguments, ledger opening, output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carbonledger.config import Settings
from carbonledger.errors import ConfigError

if TYPE_CHECKING:
    from carbonledger.store.base import Ledger

__all__ = [
    "add_ledger_option",
    "check_output_path",
    "non_negative_int",
    "open_ledger_for_reading",
    "positive_int",
    "print_json",
    "require_existing_ledger",
    "settings_from_args",
    "write_output",
]


def add_ledger_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger",
        metavar="PATH|URL",
        help="ledger file or URL: a path, sqlite:///abs/path, sqlite:rel/path, memory://NAME "
        "or a plug-in's scheme (default: $CARBONLEDGER_LEDGER or "
        "~/.local/share/carbonledger/ledger.sqlite)",
    )


def require_existing_ledger(target: str, *, allow_default: bool = False) -> None:
    """Refuse a SQLite ledger file that does not exist (ConfigError, exit 3) before
    anything opens it, since opening creates it: a reading command given a typo path
    would otherwise make an empty ledger there and report nothing. The default ledger
    (``allow_default``) may be missing: a fresh machine simply has no runs yet. A path
    with ``*``, ``?`` or ``[`` is named as a pattern that matched no file."""
    from carbonledger.config import default_ledger_path
    from carbonledger.store.registry import local_path

    path = local_path(target)
    if path is None or path.exists():
        return
    if allow_default and path.resolve() == default_ledger_path().resolve():
        return
    if any(ch in str(target) for ch in "*?["):
        raise ConfigError(f"no ledger at {target} (a pattern that matched no file)")
    raise ConfigError(f"no ledger at {path}")


def open_ledger_for_reading(settings: Settings, tables: Sequence[str] | None = None) -> Ledger:
    """The configured ledger, checked for damage first (LedgerError, exit 3, if damaged):
    the whole file, or only ``tables`` for a command that reads only those. A ledger file
    that does not exist is refused (exit 3, nothing created), unless it is the default
    one (a fresh machine: no runs yet)."""
    from carbonledger.store import open_ledger

    require_existing_ledger(settings.ledger_url, allow_default=True)
    return open_ledger(settings.ledger_url, verify=True if tables is None else tuple(tables))


def settings_from_args(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings layered with the options this command has (absent options are ignored)."""
    overrides: dict[str, Any] = {}
    for option, field_name in (
        ("ledger", "ledger_path"),
        ("zone", "zone"),
        ("pue", "pue"),
        ("interval", "interval_s"),
        ("scope", "scope"),
        ("phase", "phase"),
        ("intensity_series", "intensity_series"),
    ):
        value = getattr(args, option, None)
        if value is not None:
            overrides[field_name] = value
    overrides.update({k: v for k, v in extra.items() if v is not None})
    return Settings.load(overrides)


def print_json(data: Any) -> None:
    from carbonledger.jsonutil import dumps

    sys.stdout.write(dumps(data) + "\n")


def write_output(text: str, path: str | None) -> None:
    """Write ``text`` to ``path``, or to stdout when path is None or ``-``."""
    if path is None or path == "-":
        sys.stdout.write(text)
        if not text.endswith("\n"):
            sys.stdout.write("\n")
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def check_output_path(path: str | None, option: str = "-o") -> None:
    """Refuse an output file that cannot be written before any work is done (not after).

    ``None`` and ``-`` (stdout) pass. A folder, a missing parent folder or an unwritable
    one is a one-line :class:`ConfigError`.
    """
    import os

    if path is None or path == "-":
        return
    target = os.path.abspath(path)
    parent = os.path.dirname(target)
    if os.path.isdir(target):
        raise ConfigError(f"cannot write {option} {path}: it is a folder")
    if not os.path.isdir(parent):
        raise ConfigError(f"cannot write {option} {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"cannot write {option} {path}: folder {parent} is not writable")


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number >= 0 (a usage error otherwise)."""
    return _whole_number(text, 0)


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (a usage error otherwise)."""
    return _whole_number(text, 1)
