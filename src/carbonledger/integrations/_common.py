"""What every framework callback shares: one tracked job, spans across hooks, values so far.

A callback is a thin adapter over :class:`JobTracking`: it opens and closes spans by key
from whichever hooks its framework has (a span may begin in one hook and end in another,
on any thread), asks for the job's energy and carbon so far as a flat dict of numbers ready
for the framework's logs, and polls the cooperative stop of budgets.

Distributed runs: spans are recorded on every rank, energy is measured on local rank 0
only (one measurer per node). :func:`measures_here` is the one place that decides; it
reads ``LOCAL_RANK`` until the distributed package gives a job's identity.

Nothing here raises into the training loop: a failure is logged once and tracking goes
on with what is left (or stops, leaving the loop alone).
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carbonledger.units import J_PER_KWH, g_to_kg

if TYPE_CHECKING:
    from carbonledger.lifecycle.footprint import Footprint
    from carbonledger.tracking import Run, SpanToken, Tracker

__all__ = [
    "PREFIX",
    "Carried",
    "JobTracking",
    "global_rank",
    "local_rank",
    "measures_here",
    "values_from",
]

log = logging.getLogger(__name__)

#: The prefix of every key the callbacks add to a framework's logs or metrics.
PREFIX = "carbonledger/"

_STATE_VERSION = 1


def _env_int(name: str, environ: Mapping[str, str]) -> int | None:
    raw = environ.get(name, "").strip()
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def local_rank(environ: Mapping[str, str] | None = None) -> int:
    """This process's rank on its node (``LOCAL_RANK``, as torchrun, Accelerate and
    Lightning set it); 0 for a single process."""
    env = os.environ if environ is None else environ
    return _env_int("LOCAL_RANK", env) or 0


def global_rank(environ: Mapping[str, str] | None = None) -> int:
    """This process's rank in the job (``RANK``); 0 for a single process."""
    env = os.environ if environ is None else environ
    return _env_int("RANK", env) or 0


def measures_here(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process measures energy: local rank 0 of each node does, the others
    record spans only, so a node's devices are counted once."""
    return local_rank(environ) == 0


@dataclass(frozen=True)
class Carried:
    """What earlier segments of the same job measured (a resumed fit carries them)."""

    energy_j: float | None = 0.0
    total_g: float | None = 0.0
    energy_interval_j: tuple[float, float] | None = (0.0, 0.0)
    total_interval_g: tuple[float, float] | None = (0.0, 0.0)
    segments: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "energy_j": self.energy_j,
            "total_g": self.total_g,
            "energy_interval_j": None
            if self.energy_interval_j is None
            else list(self.energy_interval_j),
            "total_interval_g": None
            if self.total_interval_g is None
            else list(self.total_interval_g),
            "segments": self.segments,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Carried:
        return cls(
            energy_j=_opt_float(data.get("energy_j")),
            total_g=_opt_float(data.get("total_g")),
            energy_interval_j=_opt_pair(data.get("energy_interval_j")),
            total_interval_g=_opt_pair(data.get("total_interval_g")),
            segments=int(data.get("segments", 0)),
        )

    def plus(self, footprint: Footprint) -> Carried:
        """These segments and the one ``footprint`` measured (unknown if either is)."""
        return Carried(
            energy_j=_add(self.energy_j, footprint.energy_j),
            total_g=_add(self.total_g, footprint.total_g),
            energy_interval_j=_add_pair(self.energy_interval_j, footprint.energy_interval_j),
            total_interval_g=_add_pair(self.total_interval_g, footprint.total_interval_g),
            segments=self.segments + 1,
        )


def _opt_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _opt_pair(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    low, high = _opt_float(value[0]), _opt_float(value[1])
    return None if low is None or high is None else (low, high)


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _add_pair(
    a: tuple[float, float] | None, b: tuple[float, float] | None
) -> tuple[float, float] | None:
    return None if a is None or b is None else (a[0] + b[0], a[1] + b[1])


def values_from(
    energy_j: float | None,
    total_g: float | None,
    energy_interval_j: tuple[float, float] | None,
    total_interval_g: tuple[float, float] | None,
    *,
    label: str = "",
    prefix: str = PREFIX,
) -> dict[str, float]:
    """Energy (kWh) and emissions (kgCO2e) with their interval bounds as flat log keys:
    ``carbonledger/energy_kwh``, ``…_low``, ``…_high``, ``carbonledger/emissions_kg``, …
    (``label`` goes before the quantity: ``carbonledger/epoch_energy_kwh``). A value
    that is unknown is left out, never written as 0."""
    out: dict[str, float] = {}
    stem = f"{prefix}{label}_" if label else prefix
    if energy_j is not None:
        out[f"{stem}energy_kwh"] = energy_j / J_PER_KWH
    if energy_interval_j is not None:
        out[f"{stem}energy_kwh_low"] = energy_interval_j[0] / J_PER_KWH
        out[f"{stem}energy_kwh_high"] = energy_interval_j[1] / J_PER_KWH
    if total_g is not None:
        out[f"{stem}emissions_kg"] = g_to_kg(total_g)
    if total_interval_g is not None:
        out[f"{stem}emissions_kg_low"] = g_to_kg(total_interval_g[0])
        out[f"{stem}emissions_kg_high"] = g_to_kg(total_interval_g[1])
    return out


_WARM_MODULES = ("carbonledger.lifecycle.pricing", "carbonledger.store.liveness", "psutil")


def _warm_pricing() -> None:
    """Import what the first footprint needs on a thread of its own, so the first log
    after an epoch does not pay for it inside the training loop."""

    def load() -> None:
        for name in _WARM_MODULES:
            try:
                importlib.import_module(name)
            except Exception:
                return

    threading.Thread(target=load, name="carbonledger-warm", daemon=True).start()


class JobTracking:
    """The tracked job behind a framework callback.

    With ``run`` (a run the caller already tracks: ``with cl.track(...) as run``) the
    callback adds spans to it and never stops it. Without, :meth:`start` starts a tracker
    (``cl.track(name, **track_options)``) and :meth:`stop` stops it. On a process that
    does not measure (:func:`measures_here`), that tracker reads no sensors: its spans mark
    what this rank did, and the energy is in local rank 0's run.
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        name: str | None = None,
        framework: str,
        prefix: str = PREFIX,
        track_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._given = run
        self._run: Run | None = run
        self._tracker: Tracker | None = None
        self.name = name
        self.framework = framework
        self.prefix = prefix
        self.track_options = dict(track_options or {})
        self.job_key: str | None = None
        self.carried = Carried()
        self._tokens: dict[str, SpanToken] = {}
        self._last_paths: dict[str, str] = {}  # key -> path of the last span closed
        self._fresh: set[str] = set()  # keys whose last span has not been reported yet
        self._failed: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def run(self) -> Run | None:
        return self._run

    @property
    def measuring(self) -> bool:
        return self._given is not None or measures_here()

    def start(self) -> Run | None:
        """The job's run, started now if the callback owns it (``None`` if it cannot)."""
        if self._run is not None:
            return self._run
        try:
            import carbonledger as cl

            if self.job_key is None:
                self.job_key = os.urandom(8).hex()
            options = dict(self.track_options)
            tags = {str(k): str(v) for k, v in dict(options.pop("tags", None) or {}).items()}
            tags.update(
                {
                    "carbonledger.framework": self.framework,
                    "carbonledger.job": self.job_key,
                    "carbonledger.segment": str(self.carried.segments),
                    "carbonledger.rank": str(global_rank()),
                    "carbonledger.local_rank": str(local_rank()),
                }
            )
            if not measures_here():
                options["sensors"] = []  # spans only: local rank 0 measures this node
                tags["carbonledger.measured_by"] = "local rank 0"
            tracker = cl.track(self.name, tags=tags, **options)
            self._run = tracker.start()
            self._tracker = tracker
            self.name = tracker.name
            _warm_pricing()
        except Exception as exc:
            self._fail("start", exc)
            self._run = None
        return self._run

    def stop(self, status: str = "completed") -> Footprint | None:
        """Close the spans this callback opened; stop the tracker if the callback owns it
        (``status``: completed, failed or interrupted)."""
        for key in list(self._tokens):
            self.end(key)
        tracker, self._tracker = self._tracker, None
        if tracker is None:
            return None
        self._run = self._given
        try:
            final = tracker.stop(status)
        except Exception as exc:
            self._fail("stop", exc)
            return None
        if final is not None and self.measuring:
            # a later start() in this process (validate after fit) continues the job
            self.carried = self.carried.plus(final)
        return final

    # -- spans ----------------------------------------------------------------------------
    def begin(self, key: str, name: str | None = None) -> None:
        """Open a span named ``name`` (default ``key``) under ``key`` (one open per key)."""
        run = self._run
        if run is None or key in self._tokens:
            return
        try:
            self._tokens[key] = run.begin_span(name or key)
        except Exception as exc:
            self._fail("begin_span", exc)

    def end(self, key: str) -> str | None:
        """Close the span open under ``key``; its path (``None`` if none was open)."""
        token = self._tokens.pop(key, None)
        if token is None or self._run is None:
            return None
        try:
            self._run.end_span(token)
        except Exception as exc:
            self._fail("end_span", exc)
            return None
        self._last_paths[key] = token.path
        self._fresh.add(key)
        return token.path

    def is_open(self, key: str) -> bool:
        return key in self._tokens

    # -- values ---------------------------------------------------------------------------
    def footprint(self) -> Footprint | None:
        run = self._run
        if run is None:
            return None
        try:
            return run.footprint()
        except Exception as exc:
            self._fail("footprint", exc)
            return None

    def values(self, *spans: tuple[str, str], once: bool = True) -> dict[str, float]:
        """The job's energy and carbon so far (with what earlier segments carried), and for
        each ``(key, label)`` in ``spans`` the last closed span of that key, as log keys
        (with ``once``, only the first time after it closed). Empty on a rank that does not
        measure."""
        if not self.measuring:
            return {}
        footprint = self.footprint()
        if footprint is None:
            return {}
        total = self.carried.plus(footprint)
        out = values_from(
            total.energy_j,
            total.total_g,
            total.energy_interval_j,
            total.total_interval_g,
            prefix=self.prefix,
        )
        for key, label in spans:
            if once and key not in self._fresh:
                continue
            self._fresh.discard(key)
            path = self._last_paths.get(key)
            span = next((s for s in reversed(footprint.spans) if s.path == path), None)
            if span is not None:
                out.update(
                    values_from(
                        span.energy_j,
                        span.total_g,
                        span.energy_interval_j,
                        span.total_interval_g,
                        label=label,
                        prefix=self.prefix,
                    )
                )
        return out

    def should_stop(self) -> bool:
        """True once a ``stop`` budget of the run is spent (cooperative: end cleanly)."""
        run = self._run
        if run is None:
            return False
        try:
            return bool(run.should_stop())
        except Exception as exc:
            self._fail("should_stop", exc)
            return False

    # -- resuming -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps so that a resumed job continues this one: its name, job
        key, and what has been measured so far (earlier segments included)."""
        carried = self.carried
        footprint = self.footprint() if self._tracker is not None else None
        if footprint is not None:
            carried = carried.plus(footprint)
        return {
            "version": _STATE_VERSION,
            "name": self.name,
            "job_key": self.job_key,
            "carried": carried.to_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue the job a checkpoint saved (before :meth:`start`)."""
        try:
            if int(state.get("version", 0)) != _STATE_VERSION:
                log.warning("carbonledger: unknown callback state %r; starting a new job", state)
                return
            name = state.get("name")
            job_key = state.get("job_key")
            self.name = str(name) if name else self.name
            self.job_key = str(job_key) if job_key else self.job_key
            self.carried = Carried.from_dict(state.get("carried") or {})
        except Exception as exc:
            self._fail("load_state_dict", exc)

    # -- internals ------------------------------------------------------------------------
    def _fail(self, what: str, exc: BaseException) -> None:
        if what not in self._failed:
            self._failed.add(what)
            log.warning("carbonledger %s callback: %s failed (%r)", self.framework, what, exc)
