"""A small on-disk JSON cache of provider responses, so repeated queries don't hit the API.

One file per (provider, endpoint, params, credential), named by a SHA-256 of the four; each
holds the response and when it was stored. The credential part is a SHA-256 of the
credential (:func:`credential_id`), never the credential itself, so one token's answer is
never served to a request made with another (plans differ in zones and data), and
:meth:`ResponseCache.put` refuses to write any entry whose text contains one of the secrets
it was given.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ResponseCache", "cache_key", "credential_id", "default_cache_dir"]

log = logging.getLogger("carbonledger.intensity.providers")

SCHEMA = "carbonledger.provider-cache/1"


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/carbonledger/providers`` (``~/.cache/...`` when unset)."""
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "carbonledger" / "providers"


def credential_id(parts: Sequence[str]) -> str:
    """A SHA-256 hex digest standing for a credential (empty string for none)."""
    if not any(parts):
        return ""
    text = json.dumps(["carbonledger-cache-credential", *parts], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_key(provider: str, endpoint: str, params: Mapping[str, str], credential: str = "") -> str:
    """A stable hex digest of the request's provider, endpoint, sorted params and
    credential id (:func:`credential_id`)."""
    text = json.dumps(
        [provider, endpoint, sorted(params.items()), credential], separators=(",", ":")
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """JSON responses on disk, each valid for the TTL the caller asks for when reading."""

    def __init__(self, directory: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self._clock = clock

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.directory)!r})"

    def _path(self, provider: str, key: str) -> Path:
        return self.directory / provider / f"{key}.json"

    def get(
        self,
        provider: str,
        endpoint: str,
        params: Mapping[str, str],
        ttl_s: float,
        *,
        credential: str = "",
    ) -> Any | None:
        """The stored response if younger than ``ttl_s``; None when absent, stale or unreadable."""
        path = self._path(provider, cache_key(provider, endpoint, params, credential))
        try:
            with path.open("r", encoding="utf-8") as fh:
                entry = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.debug("provider cache: ignoring unreadable entry %s", path.name)
            return None
        if not isinstance(entry, dict) or entry.get("schema") != SCHEMA:
            return None
        stored_at = entry.get("stored_at")
        if not isinstance(stored_at, (int, float)):
            return None
        age_s = self._clock() - float(stored_at)
        if age_s < 0 or age_s > ttl_s:
            return None
        return entry.get("payload")

    def put(
        self,
        provider: str,
        endpoint: str,
        params: Mapping[str, str],
        payload: Any,
        *,
        secrets: Sequence[str] = (),
        credential: str = "",
    ) -> bool:
        """Store ``payload``; False (nothing written) when it cannot be or must not be."""
        entry = {
            "schema": SCHEMA,
            "provider": provider,
            "endpoint": endpoint,
            "params": dict(sorted(params.items())),
            "stored_at": self._clock(),
            "payload": payload,
        }
        try:
            text = json.dumps(entry, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return False
        if any(secret and secret in text for secret in secrets):
            log.debug(
                "provider cache: not storing a %s response that contains a credential", provider
            )
            return False
        path = self._path(provider, cache_key(provider, endpoint, params, credential))
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            log.debug("provider cache: cannot write %s: %s", path.parent, exc.strerror)
            return False
        return True

    def clear(self, provider: str | None = None) -> int:
        """Delete stored entries (of one provider, or all); the number deleted."""
        roots = [self.directory / provider] if provider else [self.directory]
        count = 0
        for root in roots:
            if not root.is_dir():
                continue
            for path in root.rglob("*.json"):
                with contextlib.suppress(OSError):
                    path.unlink()
                    count += 1
        return count
