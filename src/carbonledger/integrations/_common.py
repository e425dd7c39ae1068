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

import contextlib
import importlib
import logging
import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
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


# what a tracked job's start imports: first what the start's first half (in the training
# loop's hook: sensors and the baseline) needs, then what its second half (ledger,
# consumers) and the first footprint need; loaded on a thread of its own when a callback
# is built, so the training loop does not wait for them
_WARM_FIRST = (
    "carbonledger.tracking",
    "carbonledger.distributed.coordinator",
    "carbonledger.intensity.provider_zones",
    "carbonledger.sensors.registry",
    "carbonledger.sensors.rapl",
    "carbonledger.sensors.nvml",  # the module only: pynvml is imported by its probe
    "carbonledger.sensors.amdsmi",
    "carbonledger.sensors.cpu_model",
    "carbonledger.sensors.ram_model",
)
_WARM_THEN = (
    "carbonledger.store.writer",
    "carbonledger.sinks.ledger",
    "carbonledger.schedule.monitor",
    "carbonledger.lifecycle.pricing",
    "carbonledger.store.liveness",
    "psutil",
)
_warmed = threading.Event()
_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None


def _warm() -> None:
    """Import what a start and the first footprint need, and list the sensor plug-ins, on
    a thread of its own (once per process): work that would otherwise run in the training
    loop's first hook. No sensor, ledger or file is opened for writing: it only imports,
    lists plug-ins, builds the zone index and reads the host facts a start would read."""
    global _warm_thread
    with _warm_lock:
        if _warm_thread is not None:
            return

        def load() -> None:
            try:
                for name in _WARM_FIRST:
                    importlib.import_module(name)
                from carbonledger import hostinfo, plugins
                from carbonledger.intensity.zones import resolve_zone

                plugins.available("carbonledger.sensors")
                resolve_zone("FR")  # builds the index a run's zone is checked against, once
                hostinfo.share_facts()  # read once, remembered (sensors.virt)
                for name in _WARM_THEN:
                    importlib.import_module(name)
            except Exception:  # best effort: the start imports what is missing
                pass
            finally:
                _warmed.set()

        _warm_thread = threading.Thread(target=load, name="carbonledger-warm", daemon=True)
        _warm_thread.start()


#: How long :meth:`JobTracking.stop` and the first values wait for a start in the
#: background (sensor discovery, ledger) before giving up on the run.
START_WAIT_S = 60.0


@dataclass
class _Pending:
    """A span asked for while the run was starting: its name, path, start, counters."""

    name: str
    path: str
    started_at: float
    begin: dict[str, Any]
    ended_at: float = 0.0
    end: dict[str, Any] = field(default_factory=dict)


class JobTracking:
    """The tracked job behind a framework callback.

    With ``run`` (a run the caller already tracks: ``with cl.track(...) as run``) the
    callback adds spans to it and never stops it. Without, :meth:`start` starts a tracker
    (``cl.track(name, **track_options)``) and :meth:`stop` stops it. On a process that
    does not measure (:func:`measures_here`), that tracker reads no sensors: its spans mark
    what this rank did, and the energy is in local rank 0's run.

    ``start(wait=False)`` (what the callbacks use) opens the sensors and reads every
    device's baseline at once (the run's start instant), and opens the ledger, host facts
    and the run's consumers on a thread of its own while training goes on: spans asked for
    meanwhile read their counters when asked and are opened on the calling thread once the
    run exists. The first values, a checkpoint's state and :meth:`stop` wait for the start
    to finish (``docs/methodology/sensors.md``, "Start-up").
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
        # a start in the background: its thread, and what it shares with the caller's
        self._lock = threading.Lock()
        self._starting: threading.Thread | None = None
        self._abandoned = False
        self._pending: dict[str, _Pending] = {}  # spans asked for while starting, open
        self._pending_ended: list[_Pending] = []  # ... and those already closed
        #: the last start without waiting: ``baseline_s`` in the caller (sensors and the
        #: baseline reading), ``finish_wall_s`` and ``finish_cpu_s`` of its own thread
        self.start_timing: dict[str, float] = {}
        if run is None:
            _warm()

    def __getstate__(self) -> dict[str, Any]:
        """What a copy keeps (launchers that spawn processes pickle callbacks): the job's
        settings and what earlier segments carried; no tracker, thread or lock."""
        state = dict(self.__dict__)
        del state["_lock"], state["_starting"]
        state.update(_run=self._given, _tracker=None, _tokens={}, _pending={})
        state["_pending_ended"] = []
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._starting = None

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def run(self) -> Run | None:
        return self._run

    @property
    def started(self) -> bool:
        """A run exists or is starting in the background."""
        return self._run is not None or self._starting is not None

    @property
    def measuring(self) -> bool:
        return self._given is not None or measures_here()

    def start(self, *, wait: bool = True) -> Run | None:
        """The job's run, started now if the callback owns it (``None`` if it cannot).

        With ``wait=False`` the start instant is taken now and the rest runs on a thread of
        its own: returns ``None`` at once unless the run already exists."""
        if self._run is not None:
            return self._run
        if self._starting is not None:  # already starting in the background
            if wait:
                self._wait_start()
            return self._run
        if wait:
            return self._start_now()
        t0 = time.perf_counter()
        tracker = self._open_tracker()
        self.start_timing = {"baseline_s": time.perf_counter() - t0}
        if tracker is None:
            return None
        thread = threading.Thread(
            target=self._finish_in_background, args=(tracker,), name="carbonledger-start"
        )
        thread.daemon = True
        self._abandoned = False
        self._starting = thread
        thread.start()
        return None

    def _new_tracker(self) -> Tracker:
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
        self.name = tracker.name
        return tracker

    def _start_now(self) -> Run | None:
        try:
            tracker = self._new_tracker()
            run = tracker.start()
        except Exception as exc:
            self._fail("start", exc)
            return None
        self._tracker, self._run = tracker, run
        _warm()
        return run

    def _open_tracker(self) -> Tracker | None:
        """A new tracker with its sensors open and the baseline read (``None`` if not)."""
        try:
            tracker = self._new_tracker()
            tracker._open_and_read()
        except Exception as exc:
            self._fail("start", exc)
            return None
        with self._lock:
            self._tracker = tracker
        return tracker

    def _finish_in_background(self, tracker: Tracker) -> None:
        t0, cpu0 = time.perf_counter(), time.thread_time()
        run: Run | None = None
        try:
            run = tracker._finish_start()
        except BaseException as exc:  # never into the host: the run is not tracked
            self._fail("start", exc)
        with self._lock:
            if run is None or self._abandoned:  # stop() gave up waiting for this run
                self._tracker = None
                left = run is not None
            else:
                self._run, left = run, False
        if left:
            with contextlib.suppress(Exception):
                tracker.stop("interrupted")
        self.start_timing.update(
            finish_wall_s=time.perf_counter() - t0, finish_cpu_s=time.thread_time() - cpu0
        )

    def _wait_start(self) -> bool:
        """Wait for a start in the background; False (the run abandoned) after
        :data:`START_WAIT_S`."""
        thread = self._starting
        if thread is None:
            return True
        thread.join(START_WAIT_S)
        if thread.is_alive():
            with self._lock:
                self._abandoned = True
            self._fail("start", TimeoutError(f"no run after {START_WAIT_S:g} s; not tracked"))
        self._starting = None
        return self._run is not None

    def _settle(self) -> None:
        """Open, on this thread, the spans asked for while the run was starting."""
        if not (self._pending or self._pending_ended):
            return
        run, tracker = self._run, self._tracker
        if run is None or tracker is None:
            return
        with self._lock:
            pending, self._pending = self._pending, {}
            ended, self._pending_ended = self._pending_ended, []
        try:
            for span in ended:  # began and ended while the run was starting
                tracker._record_span(
                    span.path, span.started_at, span.ended_at, span.begin, span.end
                )
            for key, span in pending.items():
                self._tokens[key] = run._open_span(span.name, span.started_at, span.begin)
        except Exception as exc:
            self._fail("begin_span", exc)

    def stop(self, status: str = "completed") -> Footprint | None:
        """Close the spans this callback opened; stop the tracker if the callback owns it
        (``status``: completed, failed or interrupted). Waits for a start in progress."""
        if self._starting is not None:
            self._wait_start()
        self._settle()
        for key in list(self._tokens):
            self.end(key)
        with self._lock:
            self._pending.clear()  # a start that failed: nothing to record them in
            self._pending_ended.clear()
            tracker, self._tracker = self._tracker, None
            if self._abandoned:  # still starting: its own thread stops it when it can
                tracker = None
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
        if self._run is None and self._starting is not None and self._begin_pending(key, name):
            return
        self._settle()
        run = self._run
        if run is None or key in self._tokens:
            return
        try:
            self._tokens[key] = run.begin_span(name or key)
        except Exception as exc:
            self._fail("begin_span", exc)

    def _begin_pending(self, key: str, name: str | None) -> bool:
        """Keep a span asked for while the run starts (False: the run exists now)."""
        with self._lock:
            if self._run is not None:
                return False
            if key in self._pending:
                return True
            label = name or key
            path = "/".join([*(p.name for p in self._pending.values()), label])
            begin = self._read_counters()
            self._pending[key] = _Pending(label, path, time.time(), begin)
            return True

    def _read_counters(self) -> dict[str, Any]:
        """The counters now (the sensors are open from the start's first half)."""
        tracker = self._tracker
        return {} if tracker is None else dict(tracker._snapshot())

    def end(self, key: str) -> str | None:
        """Close the span open under ``key``; its path (``None`` if none was open)."""
        if self._run is None and key in self._pending:
            with self._lock:
                span = self._pending.pop(key, None) if self._run is None else None
                if span is not None:
                    span.ended_at = time.time()
                    span.end = self._read_counters()
                    self._pending_ended.append(span)
            if span is not None:
                self._last_paths[key] = span.path
                self._fresh.add(key)
                return span.path
        self._settle()
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
        return key in self._tokens or key in self._pending

    # -- values ---------------------------------------------------------------------------
    def footprint(self) -> Footprint | None:
        if self._starting is not None:
            self._wait_start()
        self._settle()
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
        self._settle()
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
        owned = self._tracker is not None or self._starting is not None
        footprint = self.footprint() if owned else None
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
