"""carbonledger: honest energy and carbon accounting for machine-learning work.

    import carbonledger as cl
    with cl.track("resnet50", phase="training", zone="FR") as run:
        with run.span("epoch-1"):
            ...
        run.log(accuracy=0.91)
    print(run.footprint().to_dict())

Names are imported on first use, so ``import carbonledger`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # tracking
    "track": "carbonledger.tracking",
    "Tracker": "carbonledger.tracking",
    "Run": "carbonledger.tracking",
    "SpanToken": "carbonledger.tracking",
    # consumers of run events
    "RunSink": "carbonledger.events",
    "BaseSink": "carbonledger.events",
    "RunStarted": "carbonledger.events",
    "RunStopping": "carbonledger.events",
    "RunEnded": "carbonledger.events",
    "Settings": "carbonledger.config",
    # results and accounting
    "Footprint": "carbonledger.lifecycle.footprint",
    "footprint_for_run": "carbonledger.lifecycle.pricing",
    "job_footprint": "carbonledger.distributed",
    "estimate": "carbonledger.lifecycle.estimate",
    "breakeven": "carbonledger.lifecycle.decisions",
    "indifference": "carbonledger.lifecycle.decisions",
    "IntensitySeries": "carbonledger.intensity.series",
    "load_series": "carbonledger.intensity.series_csv",
    "open_ledger": "carbonledger.store",
    # reduce
    "plan": "carbonledger.schedule.planner",
    "Budget": "carbonledger.schedule.budget",
    "CarbonAwarePause": "carbonledger.schedule.pause",
    # reports
    "pareto_front": "carbonledger.report.pareto",
    "expands_front": "carbonledger.report.pareto",
    "runs_frame": "carbonledger.report.frame",
    # errors
    "CarbonLedgerError": "carbonledger.errors",
    "ConfigError": "carbonledger.errors",
    "DataError": "carbonledger.errors",
    "UnknownZoneError": "carbonledger.errors",
    "LedgerError": "carbonledger.errors",
    "RunNotFoundError": "carbonledger.errors",
    "SensorError": "carbonledger.errors",
    "ProviderError": "carbonledger.errors",
    "BudgetExceeded": "carbonledger.errors",
}
_SUBMODULES = {"fl": "carbonledger.lifecycle.fl"}

__all__ = sorted([*_EXPORTS, *_SUBMODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(_SUBMODULES[name])
    else:
        raise AttributeError(f"module 'carbonledger' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)


if TYPE_CHECKING:  # pragma: no cover
    from carbonledger.config import Settings as Settings
    from carbonledger.distributed import job_footprint as job_footprint
    from carbonledger.errors import BudgetExceeded as BudgetExceeded
    from carbonledger.errors import CarbonLedgerError as CarbonLedgerError
    from carbonledger.errors import ConfigError as ConfigError
    from carbonledger.errors import DataError as DataError
    from carbonledger.errors import LedgerError as LedgerError
    from carbonledger.errors import ProviderError as ProviderError
    from carbonledger.errors import RunNotFoundError as RunNotFoundError
    from carbonledger.errors import SensorError as SensorError
    from carbonledger.errors import UnknownZoneError as UnknownZoneError
    from carbonledger.events import BaseSink as BaseSink
    from carbonledger.events import RunEnded as RunEnded
    from carbonledger.events import RunSink as RunSink
    from carbonledger.events import RunStarted as RunStarted
    from carbonledger.events import RunStopping as RunStopping
    from carbonledger.intensity.series import IntensitySeries as IntensitySeries
    from carbonledger.lifecycle.footprint import Footprint as Footprint
    from carbonledger.lifecycle.pricing import footprint_for_run as footprint_for_run
    from carbonledger.tracking import Run as Run
    from carbonledger.tracking import SpanToken as SpanToken
    from carbonledger.tracking import Tracker as Tracker
    from carbonledger.tracking import track as track
