"""Timeouts, retries and cache of the live providers' HTTP clients."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.intensity.providers._cache import default_cache_dir

__all__ = ["ENV_PREFIX", "HttpSettings"]

ENV_PREFIX = "CARBONLEDGER_PROVIDER_"
_ENV = ENV_PREFIX


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts, retries and cache of the provider clients.

    ``backoff_base_s`` × 2^attempt (with jitter, capped at ``backoff_max_s``) is the wait
    between attempts unless the server sends ``Retry-After``; a ``Retry-After`` longer than
    ``max_retry_after_s`` ends the attempts at once. ``sleep`` and ``rng`` are seams for tests.
    """

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0
    max_retries: int = 3
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0
    max_retry_after_s: float = 60.0
    cache_dir: Path | None = None
    cache_enabled: bool = True
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    rng: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("connect_timeout_s", "read_timeout_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"provider {name} must be positive, got {value}")
        if not (0 <= self.max_retries <= 10):
            raise ConfigError(f"provider max_retries must be 0..10, got {self.max_retries}")
        for name in ("backoff_base_s", "backoff_max_s", "max_retry_after_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"provider {name} must be >= 0, got {value}")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HttpSettings:
        """Settings from ``CARBONLEDGER_PROVIDER_*``: ``CONNECT_TIMEOUT``, ``TIMEOUT`` (read,
        seconds), ``RETRIES``, ``CACHE`` (on/off) and ``CACHE_DIR``."""
        kwargs: dict[str, Any] = {}
        for suffix, name, kind in (
            ("CONNECT_TIMEOUT", "connect_timeout_s", float),
            ("TIMEOUT", "read_timeout_s", float),
            ("RETRIES", "max_retries", int),
        ):
            raw = environ.get(_ENV + suffix, "").strip()
            if raw:
                try:
                    kwargs[name] = kind(raw)
                except ValueError:
                    raise ConfigError(f"{_ENV}{suffix}: invalid value {raw!r}") from None
        cache = environ.get(_ENV + "CACHE", "").strip().lower()
        if cache:
            if cache in ("0", "false", "no", "off"):
                kwargs["cache_enabled"] = False
            elif cache not in ("1", "true", "yes", "on"):
                raise ConfigError(f"{_ENV}CACHE: invalid value {cache!r} (use on or off)")
        cache_dir = environ.get(_ENV + "CACHE_DIR", "").strip()
        kwargs["cache_dir"] = (
            Path(cache_dir).expanduser() if cache_dir else default_cache_dir(environ)
        )
        return cls(**kwargs)

    def backoff_s(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (0-based): exponential, capped, half jittered."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2.0**attempt))
        return ceiling / 2 + self.rng() * ceiling / 2
