"""Carbon and energy budgets attached to a run.

A budget is checked on the sampling cadence (and on each forecast when
``use_forecast=True``). What happens when it is spent depends on ``on_exceed``:

- ``"warn"`` (default): one warning.
- ``"stop"``: a cooperative stop. ``run.should_stop()`` turns True and ``run.check()``
  (or :meth:`Budget.check`) raises :class:`~carbonledger.errors.BudgetExceeded` in the
  thread that calls it, so a training loop or a framework callback ends cleanly at a
  point of its choosing (after saving a checkpoint, say).
- ``"interrupt"``: raise ``BudgetExceeded`` asynchronously in the thread that started the
  run, at its next Python instruction, like Ctrl-C raises KeyboardInterrupt. Use it only
  for code that cannot poll: the exception can land inside any library call, including a
  ``finally`` block, a lock's critical section or native code's Python callbacks, and
  leave that state half-updated; it does not interrupt a long native call (a CUDA kernel,
  a blocking read) until it returns to Python.

Spending counts what the run's footprint counts under its total: operational emissions
priced through the run's pricing plan (time-aligned when it has an intensity series, PUE
included) plus the embodied share of the hardware accrued so far.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

from carbonledger.errors import BudgetExceeded, ConfigError

__all__ = ["Budget", "BudgetStatus"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BudgetStatus:
    limit: float
    unit: str  # "kgCO2e" | "kWh"
    spent: float
    forecast: float | None
    exceeded: bool


class Budget:
    """``Budget(kgco2e=2.0)`` or ``Budget(kwh=10, on_exceed="stop", use_forecast=True)``."""

    def __init__(
        self,
        *,
        kgco2e: float | None = None,
        kwh: float | None = None,
        on_exceed: str = "warn",
        use_forecast: bool = False,
    ) -> None:
        if (kgco2e is None) == (kwh is None):
            raise ConfigError("Budget needs exactly one of kgco2e= or kwh=")
        limit = float(kgco2e if kgco2e is not None else kwh)  # type: ignore[arg-type]
        if not (math.isfinite(limit) and limit > 0):
            raise ConfigError(f"budget limit must be positive, got {limit}")
        if on_exceed not in ("warn", "stop", "interrupt"):
            raise ConfigError(f"on_exceed must be 'warn', 'stop' or 'interrupt', got {on_exceed!r}")
        self.limit = limit
        self.unit = "kgCO2e" if kgco2e is not None else "kWh"
        self.on_exceed = on_exceed
        self.use_forecast = use_forecast
        self.spent = 0.0
        self.forecast: float | None = None
        self.exceeded = False
        self._error: BudgetExceeded | None = None
        self._raised = False
        self._owner_thread: int | None = None
        self._lock = threading.Lock()

    @property
    def status(self) -> BudgetStatus:
        return BudgetStatus(self.limit, self.unit, self.spent, self.forecast, self.exceeded)

    def bind(self, owner_thread_id: int) -> None:
        """Called by the tracker: the thread that an ``interrupt`` is raised in."""
        self._owner_thread = owner_thread_id

    def disarm(self) -> None:
        """The run is ending: raise nothing into its thread from now on."""
        self._owner_thread = None

    def update(self, *, spent_kwh: float, spent_kgco2e: float | None) -> None:
        """Record spending so far (from the sampler thread) and act if over."""
        spent = spent_kwh if self.unit == "kWh" else spent_kgco2e
        if spent is None:
            return
        self.spent = spent
        if spent > self.limit:
            self._exceed(
                f"{self.unit} budget exceeded: spent {spent:.4g} of {self.limit:.4g} {self.unit}"
            )

    def update_forecast(self, *, energy_kwh: float, kgco2e: float | None) -> None:
        forecast = energy_kwh if self.unit == "kWh" else kgco2e
        if forecast is None:
            return
        self.forecast = forecast
        if self.use_forecast and forecast > self.limit:
            self._exceed(
                f"{self.unit} budget forecast to be exceeded: {forecast:.4g} of "
                f"{self.limit:.4g} {self.unit} expected by the end of the run"
            )

    @property
    def should_stop(self) -> bool:
        """True once a ``stop`` or ``interrupt`` budget is spent."""
        return self.exceeded and self.on_exceed in ("stop", "interrupt")

    def check(self) -> None:
        """Raise BudgetExceeded if a ``stop``/``interrupt`` budget was exceeded and not
        raised yet (once: a loop that catches it to checkpoint is not raised at again)."""
        with self._lock:
            if self._error is None or self.on_exceed == "warn" or self._raised:
                return
            self._raised = True
            error = self._error
        raise error

    def _exceed(self, message: str) -> None:
        with self._lock:
            if self.exceeded:
                return
            self.exceeded = True
            self._error = BudgetExceeded(
                message, spent=self.spent, limit=self.limit, unit=self.unit
            )
        log.warning("%s", message)
        if self.on_exceed == "interrupt" and self._owner_thread is not None:
            if threading.get_ident() == self._owner_thread:
                self.check()
            else:
                self._raise_in_owner(message)

    def _raise_in_owner(self, message: str) -> None:
        import ctypes

        spent, limit, unit = self.spent, self.limit, self.unit

        def init(exc: BudgetExceeded, *_: object) -> None:
            BudgetExceeded.__init__(exc, message, spent=spent, limit=limit, unit=unit)

        # an async exception is raised by type; this subclass carries the message
        exc_type = type("BudgetExceeded", (BudgetExceeded,), {"__init__": init})
        with self._lock:
            if self._raised:
                return
            self._raised = True
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(self._owner_thread or 0), ctypes.py_object(exc_type)
        )
