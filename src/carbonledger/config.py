"""One frozen :class:`Settings`, layered: defaults < config file < environment < arguments.

Values are parsed and validated once, here; the rest of the package reads typed fields.
The config file is TOML (UTF-8; a leading byte-order mark is accepted), at
``$CARBONLEDGER_CONFIG`` or ``$XDG_CONFIG_HOME/carbonledger/config.toml``
(``~/.config/...``), with the same keys as the fields below, at top level or under
``[carbonledger]``. A value of the wrong type (``ledger = 5``) is a ConfigError naming
the setting.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.records import PHASES, Scope

__all__ = [
    "MAX_INTERVAL_S",
    "MIN_INTERVAL_S",
    "Settings",
    "default_config_path",
    "default_ledger_path",
]

MIN_INTERVAL_S = 0.05
MAX_INTERVAL_S = 3600.0
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

ENV_PREFIX = "CARBONLEDGER_"


def default_ledger_path() -> Path:
    """``$XDG_DATA_HOME/carbonledger/ledger.sqlite`` (``~/.local/share/...`` by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "carbonledger" / "ledger.sqlite"


def default_config_path() -> Path:
    explicit = os.environ.get("CARBONLEDGER_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "carbonledger" / "config.toml"


def _default_ledger_url() -> str:
    return str(default_ledger_path())


@dataclass(frozen=True)
class Settings:
    """Everything a tracker needs, typed and validated.

    ``ledger_url`` is a path or URL (``sqlite:///abs/path``, ``sqlite:rel/path``,
    ``memory://NAME``, or a plug-in's scheme); see :mod:`carbonledger.store.registry`.
    The setting is called ``ledger`` in files, ``CARBONLEDGER_LEDGER`` and ``--ledger``.
    """

    ledger_url: str = field(default_factory=_default_ledger_url)
    zone: str | None = None
    pue: float | None = None
    interval_s: float = 1.0
    flush_interval_s: float = 2.0
    scope: Scope = Scope.MACHINE
    phase: str = "other"
    sysfs_root: Path = Path("/sys")
    intensity_series: Path | None = None
    provider: str | None = None  # live intensity provider during runs (needs a zone)
    provider_interval_s: float = 900.0
    cpu_tdp_w: float | None = None
    memory_gb: float | None = None
    detect_cloud: bool = False
    sensors: tuple[str, ...] | None = None  # None: every registered sensor that is present
    log_level: str = "WARNING"

    def __post_init__(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(message)

        check(
            isinstance(self.ledger_url, str) and self.ledger_url.strip() != "",
            f"ledger must be a path or URL (text), got {self.ledger_url!r}",
        )

        check(
            math.isfinite(self.interval_s) and MIN_INTERVAL_S <= self.interval_s <= MAX_INTERVAL_S,
            f"interval must be between {MIN_INTERVAL_S} and {MAX_INTERVAL_S:g} s, "
            f"got {self.interval_s}",
        )
        check(
            math.isfinite(self.provider_interval_s) and 1 <= self.provider_interval_s <= 86400,
            f"provider_interval must be between 1 and 86400 s, got {self.provider_interval_s}",
        )
        check(
            self.provider is None or self.zone is not None,
            "a live intensity provider needs a zone (--zone or CARBONLEDGER_ZONE)",
        )
        check(
            math.isfinite(self.flush_interval_s) and 0 < self.flush_interval_s <= 3600,
            f"flush_interval must be between 0 and 3600 s, got {self.flush_interval_s}",
        )
        check(
            self.pue is None or (math.isfinite(self.pue) and 1.0 <= self.pue <= 5.0),
            f"pue must be between 1.0 and 5.0, got {self.pue}",
        )
        check(
            self.phase in PHASES,
            f"phase must be one of {', '.join(PHASES)}, got {self.phase!r}",
        )
        for name, largest in (("cpu_tdp_w", 100_000.0), ("memory_gb", 1_000_000.0)):
            value = getattr(self, name)
            check(
                value is None or (math.isfinite(value) and 0 < value <= largest),
                f"{name} must be positive and at most {largest:g}, got {value}",
            )
        check(
            self.log_level in _LOG_LEVELS,
            f"log_level must be one of {', '.join(_LOG_LEVELS)}, got {self.log_level!r}",
        )

    @property
    def ledger_path(self) -> Path:
        """The ledger's file, for a bare path or ``sqlite:`` URL.

        ConfigError for a ledger that is not a local file (``memory://``, plug-ins): use
        ``ledger_url`` (what :func:`carbonledger.store.open_ledger` takes) for those.
        """
        from carbonledger.store.registry import local_path

        path = local_path(self.ledger_url)
        if path is None:
            raise ConfigError(f"ledger {self.ledger_url} is not a file (it has no ledger_path)")
        return path

    @property
    def ledger_file(self) -> Path | None:
        """The ledger's file, or None for a ledger that is not a local file."""
        from carbonledger.store.registry import local_path

        return local_path(self.ledger_url)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` parsed like arguments (``None`` values are ignored)."""
        parsed = _parse_mapping({k: v for k, v in changes.items() if v is not None}, "argument")
        return dataclasses.replace(self, **parsed)

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        config_path: Path | None = None,
    ) -> Settings:
        """Defaults < config file < environment < ``overrides`` (``None`` values ignored)."""
        env = os.environ if environ is None else environ
        layered: dict[str, Any] = {}
        path = config_path if config_path is not None else default_config_path()
        layered.update(_read_config_file(path))
        layered.update(_from_environment(env))
        if overrides:
            layered.update(
                _parse_mapping({k: v for k, v in overrides.items() if v is not None}, "argument")
            )
        return cls(**layered)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_ENV_NAMES = {
    "LEDGER": "ledger_url",
    "ZONE": "zone",
    "PUE": "pue",
    "INTERVAL": "interval_s",
    "FLUSH_INTERVAL": "flush_interval_s",
    "SCOPE": "scope",
    "PHASE": "phase",
    "SYSFS_ROOT": "sysfs_root",
    "INTENSITY_SERIES": "intensity_series",
    "PROVIDER": "provider",
    "PROVIDER_INTERVAL": "provider_interval_s",
    "CPU_TDP_W": "cpu_tdp_w",
    "MEMORY_GB": "memory_gb",
    "DETECT_CLOUD": "detect_cloud",
    "SENSORS": "sensors",
    "LOG_LEVEL": "log_level",
}
_FILE_ALIASES = {
    "ledger": "ledger_url",
    "ledger_path": "ledger_url",
    "interval": "interval_s",
    "flush_interval": "flush_interval_s",
    "provider_interval": "provider_interval_s",
}


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    if not path.is_file():
        raise ConfigError(f"config file {path} is not a file")
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        raw = path.read_bytes()
        # a byte-order mark (Windows editors write one) is accepted, not part of the TOML
        data = tomllib.loads(raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read config file {path}: not UTF-8 text") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    table = data.get("carbonledger", data)
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [carbonledger] must be a table")
    return _parse_mapping(table, f"config file {path}")


def _from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    raw = {
        field_name: env[ENV_PREFIX + suffix]
        for suffix, field_name in _ENV_NAMES.items()
        if env.get(ENV_PREFIX + suffix, "") != ""
    }
    return _parse_mapping(raw, "environment")


def _parse_mapping(raw: Mapping[str, Any], origin: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for key, value in raw.items():
        name = _FILE_ALIASES.get(key, key)
        if name not in _FIELDS:
            raise ConfigError(f"{origin}: unknown setting {key!r}")
        parsed[name] = _parse_value(name, value, origin)
    return parsed


_PATHS = ("sysfs_root", "intensity_series")
_TEXTS = ("zone", "provider", "phase", "log_level", "scope")


def _setting_name(name: str) -> str:
    return "ledger" if name == "ledger_url" else name


def _parse_ledger(value: Any, where: str) -> str:
    from carbonledger.store.registry import check_target, split_scheme

    text: str = str(os.fspath(value)).strip()
    if not text or "\0" in text:
        raise ConfigError(f"{where}: invalid value {value!r} (a path or URL is expected)")
    try:
        check_target(text)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return text if split_scheme(text) is not None else os.path.expanduser(text)


def _parse_value(name: str, value: Any, origin: str) -> Any:
    where = f"{origin}: {_setting_name(name)}"
    if name in (*_PATHS, "ledger_url") and not isinstance(value, (str, os.PathLike)):
        raise ConfigError(f"{where}: must be a path (text), got {type(value).__name__} {value!r}")
    if name in _TEXTS and not isinstance(value, str):
        raise ConfigError(f"{where}: must be text, got {type(value).__name__} {value!r}")
    try:
        if name == "ledger_url":
            return _parse_ledger(value, where)
        if name in _PATHS:
            return Path(os.path.expanduser(os.fspath(value)))
        if name in (
            "pue",
            "interval_s",
            "flush_interval_s",
            "cpu_tdp_w",
            "memory_gb",
            "provider_interval_s",
        ):
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if name == "scope":
            return Scope(str(value).lower())
        if name == "detect_cloud":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if name == "sensors":
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(item).strip() for item in items if str(item).strip())
        if name in ("zone", "provider"):
            text = str(value).strip()
            return text or None
        if name == "log_level":
            return str(value).upper()
        return str(value)
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: invalid value {value!r}") from None
