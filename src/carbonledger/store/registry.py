"""Ledgers by URL: a scheme names a backend, found among built-ins, then entry points.

=====================================  =========================================
``/path/ledger.sqlite`` (bare path)    SQLite file (as always)
``sqlite:///abs/path.sqlite``          SQLite file ``/abs/path.sqlite``
``sqlite:relative/path.sqlite``        SQLite file relative to the working folder
``memory://NAME``                      in-memory, shared by NAME within the process
``memory://``                          in-memory, private to the object
``SCHEME://...``                       a factory from entry-point group
                                       ``carbonledger.ledgers`` named SCHEME
=====================================  =========================================

A third-party package adds a backend with one entry point, e.g. in ``pyproject.toml``::

    [project.entry-points."carbonledger.ledgers"]
    postgresql = "mypkg.ledger:open_url"   # (url: str) -> Ledger

Something is a URL when it starts with ``SCHEME://``, or ``SCHEME:`` for a known scheme;
anything else is a path (so ``C:\\x`` or ``notes:2024.sqlite`` stay paths).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from carbonledger.errors import ConfigError, LedgerError

if TYPE_CHECKING:
    from carbonledger.store.base import Ledger
    from carbonledger.store.sqlite import SqliteLedger

__all__ = [
    "BUILTIN_SCHEMES",
    "ENTRY_POINT_GROUP",
    "check_target",
    "find_ledger_factory",
    "known_schemes",
    "local_path",
    "open_ledger",
    "split_scheme",
    "sqlite_path_from_url",
]

ENTRY_POINT_GROUP = "carbonledger.ledgers"
LedgerFactory = Callable[..., "Ledger"]

# scheme -> "module:function"; imported only when used
BUILTIN_SCHEMES: dict[str, str] = {
    "sqlite": "carbonledger.store.sqlite:open_sqlite_url",
    "memory": "carbonledger.store.memory:open_memory_url",
    **dict.fromkeys(("postgresql", "postgres"), "carbonledger.store.postgres:open_postgres_url"),
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_PROTOCOL_METHODS = ("create_run", "append_samples", "get_run", "list_runs", "close")


def split_scheme(target: str) -> str | None:
    """The URL scheme of ``target`` (lower case), or None when it is a path."""
    match = _SCHEME.match(target)
    if match is None:
        return None
    scheme = match.group(1).lower()
    if target[match.end() :].startswith("//") or scheme in BUILTIN_SCHEMES:
        return scheme
    return None


def _plugins() -> dict[str, Any]:
    """Ledger plug-ins by scheme, through the one plug-in mechanism (carbonledger.plugins):
    the built-in schemes, then the entry points installed packages declare."""
    from carbonledger import plugins

    return plugins.available(ENTRY_POINT_GROUP)


def known_schemes() -> list[str]:
    """Built-in schemes, then those that installed packages declare."""
    extra = sorted({name.lower() for name in _plugins()} - set(BUILTIN_SCHEMES))
    return [*BUILTIN_SCHEMES, *extra]


def find_ledger_factory(scheme: str) -> tuple[LedgerFactory, bool]:
    """``(factory, builtin)`` for a scheme: built-ins first, then entry points.

    ConfigError names an unknown scheme and the known ones; LedgerError says which
    package's factory failed to load.
    """
    scheme = scheme.lower()
    found = {name.lower(): plugin for name, plugin in _plugins().items()}
    plugin = found.get(scheme)
    if plugin is None:
        raise _unknown(scheme)
    try:
        loaded = plugin.load()
    except ConfigError as exc:
        raise LedgerError(f"ledger scheme {scheme!r}: {exc}") from None
    if not callable(loaded):
        raise LedgerError(f"ledger scheme {scheme!r}: {plugin.value} is not callable")
    factory: LedgerFactory = loaded
    return factory, plugin.origin == "builtin"


def _unknown(scheme: str) -> ConfigError:
    return ConfigError(
        f"unknown ledger scheme {scheme!r}; known: {', '.join(known_schemes())} "
        f"(or a file path; other schemes come from packages declaring a "
        f"{ENTRY_POINT_GROUP!r} entry point)"
    )


def check_target(target: str) -> None:
    """ConfigError for an unknown scheme or a malformed ``sqlite:`` URL (opens nothing)."""
    scheme = split_scheme(target)
    if scheme is None or (scheme in BUILTIN_SCHEMES and scheme != "sqlite"):
        return
    if scheme == "sqlite":
        sqlite_path_from_url(target)
    elif scheme not in known_schemes():
        raise _unknown(scheme)


def local_path(target: str | os.PathLike[str]) -> Path | None:
    """The SQLite file a bare path or ``sqlite:`` URL names; None for other schemes."""
    if isinstance(target, os.PathLike):
        return Path(target).expanduser()
    scheme = split_scheme(target)
    if scheme is None:
        return Path(target).expanduser()
    if scheme == "sqlite":
        return sqlite_path_from_url(target)
    return None


def sqlite_path_from_url(url: str) -> Path:
    """The file of an ``sqlite:`` URL, file-URL style.

    ``sqlite:///abs/path`` (or ``sqlite://localhost/abs/path``) is ``/abs/path``;
    ``sqlite:relative/path`` is relative to the working folder; ``%XX`` escapes are
    decoded and ``~`` expanded. ConfigError for a host, a query or an empty path.
    """
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite":
        raise ConfigError(f"ledger URL {url!r} is not an sqlite: URL")
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(
            f"ledger URL {url!r} names host {parts.netloc!r}: an SQLite ledger is a local "
            "file (write sqlite:///absolute/path or sqlite:relative/path)"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"ledger URL {url!r}: an sqlite: URL takes no ?query or #fragment")
    path = unquote(parts.path)
    if not path or "\0" in path:
        raise ConfigError(f"ledger URL {url!r} has no file path")
    return Path(path).expanduser()


@overload
def open_ledger(target: os.PathLike[str], **options: Any) -> SqliteLedger: ...


@overload
def open_ledger(target: str, **options: Any) -> Ledger: ...


def open_ledger(target: str | os.PathLike[str], **options: Any) -> Ledger:
    """Open the ledger a path or URL names (see the module's table).

    ``options`` (``stale_after_s``, ``busy_timeout_s``, ``retry_s``, ``verify``) go to
    the built-in backends; a plug-in factory gets the URL only.
    """
    if isinstance(target, os.PathLike):
        from carbonledger.store.sqlite import open_sqlite

        return open_sqlite(target, **options)
    if not isinstance(target, str):
        raise ConfigError(f"a ledger is a path or URL, not {type(target).__name__}")
    scheme = split_scheme(target)
    if scheme is None:
        from carbonledger.store.sqlite import open_sqlite

        return open_sqlite(target, **options)
    factory, builtin = find_ledger_factory(scheme)
    ledger = factory(target, **options) if builtin else factory(target)
    missing = [m for m in _PROTOCOL_METHODS if not callable(getattr(ledger, m, None))]
    if missing:
        raise LedgerError(
            f"ledger scheme {scheme!r}: the factory returned {type(ledger).__name__}, "
            f"which lacks {', '.join(missing)} (not a Ledger)"
        )
    return ledger
