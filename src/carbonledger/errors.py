"""The one exception root of carbonledger.

Every error carbonledger raises on purpose derives from :class:`CarbonLedgerError`;
vendor errors (NVML, amdsmi, sqlite3, httpx) are mapped to these once, at the boundary
where they are caught. The CLI turns ``DataError`` and ``ConfigError`` into exit code 3
with a one-line message.

    CarbonLedgerError
    ├── ConfigError            bad settings (file, environment or arguments)
    ├── DataError              malformed input data: CSV rows, tables, sysfs values
    │   ├── UnknownZoneError   a zone that no table knows (with close matches)
    │   │   └── ProviderZoneError  (also a ProviderError) a provider does not know it
    │   └── UnknownHardware    a hardware name or preset the catalog does not know
    ├── LedgerError            the ledger cannot be opened, migrated or written, or is damaged
    │   ├── RunNotFoundError   no run, or an ambiguous prefix
    │   └── CorruptRunError    one stored run (or its samples, spans …) cannot be read back
    ├── SensorError            a sensor failed to read (recorded, never raised into hosts)
    ├── ProviderError          a live intensity provider failed (auth, timeout, format)
    │   └── ProviderHTTPError  an HTTP error status (with .status)
    └── BudgetExceeded         a carbon or energy budget with on_exceed="stop" was spent
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BudgetExceeded",
    "CarbonLedgerError",
    "ConfigError",
    "CorruptRunError",
    "DataError",
    "LedgerError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderZoneError",
    "RunNotFoundError",
    "SensorError",
    "UnknownHardware",
    "UnknownZoneError",
]


class CarbonLedgerError(Exception):
    """Root of every error carbonledger raises on purpose."""


class ConfigError(CarbonLedgerError):
    """A setting is missing, malformed or out of range."""


class DataError(CarbonLedgerError):
    """Input data is malformed; the message names the file, line or field."""


class UnknownZoneError(DataError):
    """A zone that no bundled table or configured source knows."""

    def __init__(self, zone: str, suggestions: list[str] | tuple[str, ...] = ()) -> None:
        self.zone = zone
        self.suggestions = tuple(suggestions)
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown zone {zone!r}{hint}")


class LedgerError(CarbonLedgerError):
    """The ledger cannot be opened, migrated, read or written."""


class RunNotFoundError(LedgerError):
    """No run matches the id or prefix, or the prefix is ambiguous."""


class CorruptRunError(LedgerError):
    """One run's stored data is damaged; the message names the ledger, run and field.

    ``get_run`` and the per-run reads raise it; listings skip the run and report it.
    """

    def __init__(self, message: str, *, run_id: str, field: str) -> None:
        self.run_id = run_id
        self.field = field
        super().__init__(message)


class SensorError(CarbonLedgerError):
    """A sensor could not be read (a sysfs read that timed out, a vendor library error
    mapped once). Sensors raise it; the sampler records it, logs it once and records the
    lost time as a gap; it never reaches the host program."""


class ProviderError(CarbonLedgerError):
    """A live intensity provider failed. The message never contains a secret."""


class BudgetExceeded(CarbonLedgerError):
    """A budget with ``on_exceed="stop"`` was spent (or is forecast to be)."""

    def __init__(
        self,
        message: str = "budget exceeded",
        *,
        spent: float | None = None,
        limit: float | None = None,
        unit: str = "",
    ) -> None:
        self.spent = spent
        self.limit = limit
        self.unit = unit
        super().__init__(message)


class UnknownHardware(DataError):
    """A hardware name or preset the catalog does not know, or knows several matches for."""

    def __init__(
        self,
        name: str,
        suggestions: tuple[str, ...] = (),
        *,
        what: str = "hardware",
        ambiguous: bool = False,
    ) -> None:
        self.name = name
        self.suggestions = tuple(suggestions)
        if ambiguous:
            matches = ", ".join(self.suggestions)
            msg = f"ambiguous {what} {name!r}: matches {matches}; be more specific"
        else:
            hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
            msg = f"unknown {what} {name!r}{hint}"
        super().__init__(msg)


class ProviderHTTPError(ProviderError):
    """An HTTP error status from a provider (the message is already one line, redacted)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ProviderZoneError(UnknownZoneError, ProviderError):
    """A provider does not know the zone or region; both an UnknownZoneError and a ProviderError."""

    def __init__(self, zone: str, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(zone, list(suggestions))
        self.args = (message,)
        self.status: int | None = None

    def __str__(self) -> str:
        return str(self.args[0])
