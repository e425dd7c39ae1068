"""Tracking: ``Tracker`` (start/stop), ``track()`` (context manager and decorator), spans.

The tracker wires a run together and nothing more: the sampler *reads* the sensors, and
every event of the run (start, samples, spans, metrics, stopping, end) goes to a list of
consumers (:mod:`carbonledger.events`): the ledger writer, budgets and forecasts, the
live-intensity recorder, and the sinks users pass (``track(..., sinks=[...])``).

After :meth:`Tracker.start` nothing here raises into the host program: a failing sensor,
sink or ledger write is logged once and tracking goes on with what is left.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import math
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from carbonledger import preflight
from carbonledger.config import Settings
from carbonledger.errors import BudgetExceeded, CarbonLedgerError, ConfigError
from carbonledger.events import RunEnded, RunStarted, RunStopping, SinkFanout
from carbonledger.hostinfo import host_info
from carbonledger.records import DeviceInfo, RunRecord, RunStatus, Sample, Scope, SpanRecord
from carbonledger.redact import redact_argv
from carbonledger.sampling.sampler import DeviceTotals, Sampler
from carbonledger.sensors.base import ProbeContext, Sensor

if TYPE_CHECKING:
    from carbonledger.distributed.coordinator import JobCoordinator
    from carbonledger.intensity.base import IntensitySource
    from carbonledger.intensity.live import LiveIntensityRecorder
    from carbonledger.intensity.series import IntensitySeries
    from carbonledger.lifecycle.footprint import Footprint
    from carbonledger.lifecycle.plan import PricingPlan
    from carbonledger.sampling.attribution import ProcessTree
    from carbonledger.schedule.budget import Budget
    from carbonledger.schedule.forecast import Forecast
    from carbonledger.schedule.monitor import RunMonitor
    from carbonledger.sinks.ledger import LedgerSink
    from carbonledger.store.base import MetricValue
    from carbonledger.store.writer import LedgerWriter

__all__ = ["Run", "SpanToken", "Tracker", "track"]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_running: weakref.WeakSet[Tracker] = weakref.WeakSet()


@atexit.register
def _stop_running_trackers() -> None:
    """A program that exits with trackers still running keeps what they measured."""
    for tracker in list(_running):
        tracker.stop(RunStatus.INTERRUPTED)


class _SpanState(threading.local):
    def __init__(self) -> None:
        self.stack: list[SpanToken] = []


class SpanToken:
    """An open span, as :meth:`Run.begin_span` returns it; give it to :meth:`Run.end_span`."""

    __slots__ = ("_begin", "_stack", "ended", "name", "path", "started_at")

    def __init__(
        self,
        name: str,
        path: str,
        started_at: float,
        begin: Mapping[str, DeviceTotals],
        stack: list[SpanToken],
    ) -> None:
        self.name = name
        self.path = path
        self.started_at = started_at
        self.ended = False
        self._begin = begin
        self._stack = stack

    def __repr__(self) -> str:
        return f"SpanToken({self.path!r}{', ended' if self.ended else ''})"


class Run:
    """The handle of a tracked run: spans, metrics, functional unit, footprint, stops."""

    def __init__(self, tracker: Tracker, run_id: str) -> None:
        self._tracker = tracker
        self.run_id = run_id
        self._span_state = _SpanState()
        self._open: dict[int, SpanToken] = {}
        self._open_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._tracker.name

    def begin_span(self, name: str) -> SpanToken:
        """Open a span now and return its token; :meth:`end_span` closes it, from any hook
        or thread. Spans opened in a thread nest under that thread's open spans. A span
        still open when the run ends is closed then, and the run says so."""
        return self._open_span(name, time.time(), self._tracker._snapshot())

    def _open_span(
        self, name: str, started_at: float, begin: Mapping[str, DeviceTotals]
    ) -> SpanToken:
        """Open a span that began at ``started_at`` with the counters ``begin`` (a span
        asked for while the run was still starting: its begin was taken then)."""
        stack = self._span_state.stack
        path = "/".join([*(t.name for t in stack), str(name)])
        token = SpanToken(str(name), path, started_at, begin, stack)
        stack.append(token)
        with self._open_lock:
            self._open[id(token)] = token
        return token

    def end_span(self, token: SpanToken) -> None:
        """Close the span ``token`` names and record its energy (a second call is ignored)."""
        with self._open_lock:
            if token.ended or self._open.pop(id(token), None) is None:
                return
            token.ended = True
        with contextlib.suppress(ValueError):
            token._stack.remove(token)
        end = self._tracker._snapshot()
        self._tracker._record_span(token.path, token.started_at, time.time(), token._begin, end)

    @contextlib.contextmanager
    def span(self, name: str) -> Iterator[SpanToken]:
        """Record the energy of a block as a (nested, thread-safe) span of this run."""
        token = self.begin_span(name)
        try:
            yield token
        finally:
            self.end_span(token)

    def _close_open_spans(self) -> list[str]:
        """Close every span still open (the run is ending); their paths."""
        with self._open_lock:
            tokens = list(self._open.values())
        for token in tokens:
            self.end_span(token)
        return [t.path for t in tokens]

    def log(self, **metrics: MetricValue) -> None:
        """Store metrics on the run (accuracy=0.91, tokens=1e9, ...)."""
        self._tracker._log_metrics(metrics)

    def set_functional_unit(self, name: str, count: float) -> None:
        """The run's functional unit for SCI: ``set_functional_unit("request", 1000)``."""
        try:
            value = float(count)
        except (TypeError, ValueError):
            value = math.nan
        if not name or not (math.isfinite(value) and value > 0):
            self._tracker._warn(
                "functional unit ignored: it needs a name and a positive count, "
                f"got {name!r}, {count!r}"
            )
            return
        self._tracker._set_functional_unit(str(name), value)

    def footprint(self) -> Footprint:
        """The run's footprint so far (or final, once stopped)."""
        return self._tracker.footprint()

    def forecast(self, done: float, total: float) -> Forecast | None:
        """Extrapolate the run's total energy and carbon after ``done`` of ``total`` units
        of work (epochs, steps). Budgets with ``use_forecast=True`` act on it. ``None``
        (with a warning) when no forecast can be made: bad progress, or the run ended."""
        tracker = self._tracker
        if not tracker.running:
            tracker._warn("forecast asked after the run ended; none made")
            return None
        try:
            tracker._snapshot()  # delivers the samples up to now to the monitor
            return tracker._get_monitor().forecast(done, total)
        except BudgetExceeded:
            raise  # a "stop" budget acting on the forecast, as asked
        except Exception as exc:
            tracker._warn(f"no forecast: {exc}")
            return None

    def should_stop(self) -> bool:
        """True once a budget with ``on_exceed="stop"`` (or ``"interrupt"``) is spent: poll
        it in a training loop or a callback and end the work cleanly."""
        return any(budget.should_stop for budget in self._tracker.budgets)

    def check(self) -> None:
        """Raise BudgetExceeded now if a ``stop`` budget was exceeded (once)."""
        for budget in self._tracker.budgets:
            budget.check()


class Tracker:
    """Measures one run at a time: ``start()`` opens sensors and a ledger run, ``stop()``
    closes it. ``stop()`` twice is harmless; ``start()`` after ``stop()`` starts a new run.

    ``sinks`` are extra consumers of the run's events (objects implementing any of
    :class:`carbonledger.events.RunSink`'s methods, or names of exporter plug-ins).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        phase: str | None = None,
        zone: str | None = None,
        pue: float | None = None,
        interval: float | None = None,
        scope: str | Scope | None = None,
        ledger: str | os.PathLike[str] | None = None,
        tags: Mapping[str, str] | None = None,
        intensity_series: str | os.PathLike[str] | None = None,
        embodied: str | None = None,
        budget: Budget | Sequence[Budget] | None = None,
        provider: str | IntensitySource | None = None,
        sinks: Sequence[object | str] | None = None,
        audit_env: bool = False,
        settings: Settings | None = None,
        sensors: Sequence[Sensor] | None = None,
        root_pid: int | None = None,
        job: str | None = None,
    ) -> None:
        overrides = {
            "phase": phase,
            "zone": zone,
            "pue": pue,
            "interval_s": interval,
            "scope": None if scope is None else str(scope),
            "ledger_path": None if ledger is None else os.fspath(ledger),
            "intensity_series": None if intensity_series is None else os.fspath(intensity_series),
            "provider": provider if isinstance(provider, str) else None,
        }
        self.settings = (settings or Settings.load()).replace(**overrides)
        if self.settings.zone is None and self.settings.detect_cloud:
            from carbonledger.intensity.cloud_detect import detect_cloud_zone

            detected = detect_cloud_zone(os.environ, self.settings.sysfs_root)
            if detected is not None:
                log.info("cloud region detected (detect_cloud is on): %s", detected)
                self.settings = self.settings.replace(zone=detected)
        self._provider_obj = None if provider is None or isinstance(provider, str) else provider
        if self._provider_obj is not None and self.settings.zone is None:
            raise ConfigError("a live intensity provider needs a zone")
        self.name = name or preflight.default_run_name()
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.embodied_preset = embodied
        if budget is None:
            self.budgets: list[Budget] = []
        elif isinstance(budget, Sequence):
            self.budgets = list(budget)
        else:
            self.budgets = [budget]
        self._user_sinks = _resolve_sinks(sinks)
        self.audit_env = bool(audit_env)
        self._given_sensors = list(sensors) if sensors is not None else None
        self._root_pid = root_pid if root_pid is not None else os.getpid()
        if job is not None:
            from carbonledger.distributed.identity import parse_job_key

            job = parse_job_key(job)
        self._job_key = job
        self._coordinator: JobCoordinator | None = None
        # the state of the current run, set by start()
        self._recorder: LiveIntensityRecorder | None = None
        self._series_path: Path | None = None
        self._writer: LedgerWriter | None = None
        self._ledger_sink: LedgerSink | None = None
        self._fanout: SinkFanout | None = None
        self._tree: ProcessTree | None = None
        self._monitor: RunMonitor | None = None
        self._sampler: Sampler | None = None
        self.run: Run | None = None
        self.record: RunRecord | None = None
        self.devices: list[DeviceInfo] = []
        self.absent: list[Any] = []
        self.warnings: list[str] = []
        self._final: Footprint | None = None
        self._early: list[list[Sample]] | None = None
        self._early_lock = threading.Lock()
        self._starting: tuple[str, float, int] | None = None  # between the halves of start
        self.settings, self._series = preflight.validate(
            self.settings, embodied, provider_object=self._provider_obj is not None
        )

    # -- lifecycle ------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._sampler is not None

    def start(self) -> Run:
        """Open sensors, take the first reading (every device's baseline), open the ledger
        and start sampling. Returns the run handle."""
        if self.running:
            assert self.run is not None
            return self.run
        self._open_and_read()
        return self._finish_start()

    def _open_and_read(self, owner_thread: int | None = None) -> None:
        """The first half of :meth:`start`: open the sensors and read every device's
        baseline; the run's start instant is that reading's. :meth:`_finish_start` (on any
        thread) opens the ledger and the run's consumers; span boundaries may be read in
        between (their samples are held back until the consumers are attached).
        ``owner_thread``: the thread an ``interrupt`` budget raises in (default: this one)."""
        self._final = None
        self.warnings = []
        run_id = os.urandom(16).hex()  # 128 random bits, as uuid4 (without importing uuid)
        # may raise ConfigError (provider credentials): before anything opens
        self._recorder = preflight.open_recorder(self.settings, self._provider_obj, run_id)
        self._coordinator = self._job_coordinator()
        sensors = self._open_sensors()
        self._tree = None
        shares = None
        if self.settings.scope is Scope.PROCESS:
            from carbonledger.sampling.attribution import ProcessTree

            try:
                self._tree = ProcessTree(self._root_pid)
                shares = self._tree.shares
            except Exception as exc:
                self._warn(f"process attribution unavailable ({exc!r}); process shares unknown")
        self._fanout = SinkFanout([], warn=self._warn)
        self._early = []  # sample batches read before the run's consumers are attached
        sampler = Sampler(
            sensors,
            interval_s=self.settings.interval_s,
            scope=self.settings.scope,
            shares=shares,
            on_samples=lambda batch: self._deliver_samples(run_id, batch),
        )
        self.devices = list(sampler.devices)
        # the baseline first, so the run's measured time starts with it; the ledger, host
        # facts and consumers are set up after it
        started_at = time.time()
        self._sampler = sampler
        try:
            sampler.read_now()
        except BaseException:
            self._sampler = None
            sampler.stop()
            raise
        owner = threading.get_ident() if owner_thread is None else owner_thread
        self._starting = (run_id, started_at, owner)

    def _finish_start(self) -> Run:
        """The second half of :meth:`start` (after :meth:`_open_and_read`)."""
        assert self._starting is not None and self._sampler is not None
        (run_id, started_at, owner), self._starting = self._starting, None
        sampler, fanout = self._sampler, self._fanout
        assert fanout is not None
        try:
            return self._start_run(run_id, started_at, sampler, fanout, owner)
        except BaseException:
            self._sampler = None
            sampler.stop()
            raise

    def _start_run(
        self, run_id: str, started_at: float, sampler: Sampler, fanout: SinkFanout, owner: int
    ) -> Run:
        """The ledger, the run record and the run's consumers; then the sampler's thread."""
        from carbonledger.sinks.ledger import LedgerSink
        from carbonledger.store.writer import LedgerWriter

        writer = self._writer = LedgerWriter(
            self.settings.ledger_url,
            flush_interval_s=self.settings.flush_interval_s,
            warn=self._warn,
        )
        ledger_sink = self._ledger_sink = LedgerSink(writer)
        self._series_path = self._keep_series_beside(run_id)
        if self.settings.zone is None:
            preflight.warn_default_zone_once()
        self.record = RunRecord(
            run_id=run_id,
            name=self.name,
            phase=self.settings.phase,
            status=RunStatus.RUNNING,
            started_at=started_at,
            ended_at=None,
            scope=self.settings.scope,
            zone=self.settings.zone,
            pue=self.settings.pue,
            interval_s=self.settings.interval_s,
            host=host_info(self.settings.sysfs_root),
            tags=self.tags,
            pid=os.getpid(),
            heartbeat_at=started_at,
            settings=self._settings_snapshot(),
            job=None if self._coordinator is None else self._coordinator.job,
        )
        # consumers, in delivery order: budgets and the recorder act before the ledger
        # closes the run; users' sinks see the run once it exists in the ledger
        # budgets and forecasts see every sample from the start (forecasts may be asked
        # for at any time); the monitor prices lazily, off the start-up path
        self._monitor = None
        for budget in self.budgets:
            budget.bind(owner)
        self._get_monitor()
        if self._recorder is not None:
            from carbonledger.sinks.intensity import RecorderSink

            fanout.add(RecorderSink(self._recorder, keep_series=self._keep_series, note=self._note))
        fanout.add(ledger_sink)
        if self._coordinator is not None:
            fanout.add(self._coordinator.sink(ledger_sink.keep, self._note))
        for sink in self._user_sinks:
            bind = getattr(sink, "bind_ledger", None)
            if callable(bind):  # a sink that keeps rows with the run (serving)
                bind(writer)
            fanout.add(sink)
        if self.audit_env:
            fanout.add(self._env_audit_sink())
        fanout.start(RunStarted(self.record, tuple(self.devices)))
        with self._early_lock:  # what span boundaries read meanwhile, in order
            early, self._early = self._early, None
            for batch in early or ():
                fanout.samples(run_id, batch)
        if self._series is not None:
            self._keep_series(run_id, self._series)
        sampler.add_tick_listener(ledger_sink.tick)
        sampler.start(first_read=False)
        self.run = Run(self, run_id)
        _running.add(self)
        return self.run

    def stop(
        self, status: RunStatus | str = RunStatus.COMPLETED, exit_code: int | None = None
    ) -> Footprint | None:
        """Take a last sample, close the run in the ledger and return its footprint."""
        sampler = self._sampler
        if sampler is None:
            return self._final
        run = self.run
        if run is not None:
            for path in run._close_open_spans():
                self._warn(f"span {path!r} was still open when the run ended; closed then")
        self._sampler = None
        _running.discard(self)
        for budget in self.budgets:
            budget.disarm()
        ended_at = time.time()
        writer = self._writer
        record = self.record
        fanout = self._fanout
        final_status = RunStatus(str(status))
        if self._coordinator is not None:
            self._coordinator.stopping()  # a standby does not take over at its last read
        try:
            sampler.stop()
            if writer is not None and record is not None and fanout is not None:
                gaps = []
                for device_id, totals in sampler.totals.items():
                    if not totals.ok:
                        # the rest of the run is unknown for this device: record the gap
                        start = totals.last_t or record.started_at
                        gaps.append(Sample(device_id, start, ended_at, None, None))
                if gaps:
                    fanout.samples(record.run_id, gaps)
                for message in sampler.errors:
                    self._note(message)  # the sampler logged it already
                fanout.stopping(RunStopping(record, final_status, ended_at, exit_code))
                self._keep_warnings(record.run_id)
                self._final = self.footprint()
                fanout.end(
                    RunEnded(
                        record,
                        final_status,
                        ended_at,
                        exit_code,
                        self._final,
                        tuple(self.warnings),
                    )
                )
        except Exception as exc:
            log.error("carbonledger could not close the run cleanly: %r", exc)
        finally:
            if writer is not None:
                writer.close()
        return self._final

    @property
    def run_id(self) -> str:
        if self.record is None:
            raise CarbonLedgerError("the tracker has not started")
        return self.record.run_id

    def footprint(self) -> Footprint:
        """Price the run from the ledger (flushing what is pending first)."""
        if self._final is not None and not self.running:
            return self._final
        if self._writer is None or self.record is None:
            raise CarbonLedgerError("the run has no ledger; no footprint can be computed")
        from carbonledger.lifecycle.pricing import footprint_for_run

        self._writer.flush(self.record.run_id)
        return footprint_for_run(
            self._writer.ledger, self.record.run_id, extra_warnings=tuple(self.warnings)
        )

    def pricing_plan(self) -> PricingPlan:
        """How this run is priced, as the final footprint will price it (one pricing path)."""
        from carbonledger.lifecycle.plan import plan_for

        return plan_for(
            self.settings.zone,
            self.settings.pue,
            series=self._series,
            embodied_preset=self.embodied_preset,
            host=self.record.host if self.record is not None else None,
        )

    # -- context manager and decorator --------------------------------------------------
    def __enter__(self) -> Run:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.stop(RunStatus.COMPLETED)
        elif issubclass(exc_type, (KeyboardInterrupt, SystemExit, BudgetExceeded)):
            self.stop(RunStatus.INTERRUPTED)
        else:
            self.stop(RunStatus.FAILED)

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    # -- internals ----------------------------------------------------------------
    def _settings_snapshot(self) -> dict[str, Any]:
        s = self.settings
        series = self._series_path
        if self._recorder is not None:
            series = self._recorder.path
        return {
            "interval_s": s.interval_s,
            "intensity_series": None if series is None else str(series),
            "intensity_provider": None
            if self._recorder is None
            else getattr(self._recorder.provider, "name", type(self._recorder.provider).__name__),
            "embodied": self.embodied_preset,
            "sensors": list(s.sensors) if s.sensors is not None else None,
            "argv": redact_argv(sys.argv),
            "absent": [{"kind": a.kind, "reason": a.reason, "fix": a.fix} for a in self.absent],
        }

    def _keep_series_beside(self, run_id: str) -> Path | None:
        """For ledgers that cannot keep a series: a copy of the CSV beside the ledger."""
        if self._series is None or self._ledger_sink is None:
            return None
        if callable(getattr(self._ledger_sink.writer.ledger, "put_series", None)):
            return self.settings.intensity_series
        return preflight.snapshot_series(self.settings, run_id, self._series.source, self._warn)

    def _keep_series(self, run_id: str, series: IntensitySeries) -> None:
        """Keep the series the run is priced with in the ledger, so it re-prices alone."""
        if self._ledger_sink is not None:
            self._ledger_sink.keep("put_series", run_id, series)

    def _env_audit_sink(self) -> object:
        """The environment audit of this process (``audit_env=True``), kept in the ledger."""
        from carbonledger.envaudit.sink import EnvAuditSink
        from carbonledger.envaudit.storage import KEY

        ledger_sink = self._ledger_sink

        def save(run_id: str, audit: Any) -> None:
            if ledger_sink is None or not ledger_sink.keep(
                "put_attachment", run_id, KEY, audit.to_dict()
            ):
                self._warn("this ledger cannot keep the environment audit; it was not stored")

        return EnvAuditSink(root_pid=self._root_pid, in_process=True, save=save)

    def _keep_warnings(self, run_id: str) -> None:
        """Keep the caveats of the run with it, so every later output shows them."""
        if self._ledger_sink is not None and self.warnings:
            self._ledger_sink.keep(
                "put_attachment", run_id, "warnings", {"messages": list(self.warnings)}
            )

    def _job_coordinator(self) -> JobCoordinator | None:
        """The job this process runs in (launcher variables, ``job=``), if any."""
        from carbonledger.distributed.coordinator import job_coordinator

        environ = dict(os.environ)
        try:
            found = job_coordinator(
                self._job_key, interval_s=self.settings.interval_s, environ=environ
            )
        except CarbonLedgerError as exc:
            self._warn(f"job identity ignored: {exc}")
            return None
        if found is None:
            from carbonledger.distributed.identity import pmi_without_job

            if pmi_without_job(environ):
                self._warn(
                    "started by a PMI launcher (MPICH or Intel MPI: PMI_RANK set) that names "
                    "no job, so this run is in none and every rank measures its node; set "
                    "CARBONLEDGER_JOB (the same for all ranks) or job= to make them one job"
                )
        return found

    def _open_sensors(self) -> list[Sensor]:
        sensors = self._discover_sensors()
        if self._coordinator is not None:  # one measurer per device among the job's ranks
            return self._coordinator.gate(sensors)
        return sensors

    def _discover_sensors(self) -> list[Sensor]:
        if self._given_sensors is not None:
            self.absent = []
            return list(self._given_sensors)
        from carbonledger.sensors.registry import discover

        ctx = ProbeContext(
            sysfs_root=self.settings.sysfs_root,
            cpu_tdp_w=self.settings.cpu_tdp_w,
            memory_gb=self.settings.memory_gb,
            tracked_pids=self._tracked_pids,
            environ=dict(os.environ),
        )
        try:
            discovery = discover(ctx, only=self.settings.sensors)
        except Exception as exc:
            self._warn(f"sensor discovery failed: {exc!r}")
            return []
        self.absent = list(discovery.absent)
        return list(discovery.sensors)

    def _tracked_pids(self) -> set[int]:
        if self._tree is not None:
            return set(self._tree.pids())
        return {self._root_pid}

    def _warn(self, message: str) -> None:
        """Log a warning once and keep it with the run's footprint."""
        if message not in self.warnings:
            self.warnings.append(message)
            log.warning("%s", message)

    def _note(self, message: str) -> None:
        """Keep with the run's footprint a warning that was logged where it arose."""
        if message not in self.warnings:
            self.warnings.append(message)

    def _deliver_samples(self, run_id: str, batch: list[Sample]) -> None:
        """Samples to the run's consumers; held back while the run is still starting."""
        with self._early_lock:
            if self._early is not None:
                self._early.append(batch)
                return
            fanout = self._fanout
        if fanout is not None:
            fanout.samples(run_id, batch)

    def _snapshot(self) -> dict[str, DeviceTotals]:
        sampler = self._sampler
        if sampler is None:
            return {}
        try:
            return sampler.read_now()
        except Exception as exc:
            self._warn(f"span boundary read failed: {exc!r}")
            return {}

    def _record_span(
        self,
        path: str,
        started_at: float,
        ended_at: float,
        begin: Mapping[str, DeviceTotals],
        end: Mapping[str, DeviceTotals],
    ) -> None:
        energy: dict[str, float | None] = {}
        host: dict[str, float | None] = {}
        for device_id, b in begin.items():
            e = end.get(device_id)
            if e is None or b.last_t is None:  # not read (another process measures it)
                energy[device_id] = host[device_id] = None
                continue
            energy[device_id] = e.energy_j - b.energy_j
            host[device_id] = e.host_energy_j - b.host_energy_j
        if self._fanout is not None and self.record is not None:
            self._fanout.span(
                self.record.run_id, SpanRecord(path, started_at, ended_at, energy, host)
            )

    def _get_monitor(self) -> RunMonitor:
        """Budgets and forecasts of the current run, set up on first use."""
        if self._monitor is None:
            from carbonledger.schedule.monitor import RunMonitor

            writer = self._writer
            run_id = self.record.run_id if self.record is not None else ""
            self._monitor = RunMonitor(
                plan=self.pricing_plan,
                devices=self.devices,
                budgets=self.budgets,
                started_at=self.record.started_at if self.record is not None else time.time(),
                warn=self._warn,
                price_each_sample=bool(self.budgets) or self._series is not None,
                log_metrics=None
                if writer is None
                else (lambda metrics: writer.call("log_metrics", run_id, metrics)),
            )
            if self._fanout is not None and self._monitor not in self._fanout.sinks:
                self._fanout.add(self._monitor)
        return self._monitor

    def _log_metrics(self, metrics: Mapping[str, MetricValue]) -> None:
        if self.record is None:
            return
        clean: dict[str, MetricValue] = {}
        for key, value in metrics.items():
            if isinstance(value, (bool, str)):
                clean[str(key)] = value
                continue
            try:
                number = float(value)  # numpy scalars, tensors with one value, ...
            except (TypeError, ValueError, OverflowError):
                self._warn(f"metric {key!r} is not a finite number or text; ignored")
                continue
            if not math.isfinite(number):
                self._warn(f"metric {key!r} is not a finite number ({value!r}); ignored")
                continue
            clean[str(key)] = value if isinstance(value, int) else number
        if self._fanout is not None:
            self._fanout.metrics(self.record.run_id, clean)

    def _set_functional_unit(self, name: str, count: float) -> None:
        if self._writer is not None and self.record is not None:
            self._writer.call("set_functional_unit", self.record.run_id, name, count)


def _resolve_sinks(sinks: Sequence[object | str] | None) -> list[object]:
    """Sink objects as given; names are exporter plug-ins (``carbonledger.exporters``)."""
    resolved: list[object] = []
    for sink in sinks or ():
        if isinstance(sink, str):
            from carbonledger import plugins

            factory = plugins.load("carbonledger.exporters", sink, check=plugins.callable_check)
            resolved.append(factory())
        else:
            resolved.append(sink)
    SinkFanout(resolved, warn=log.warning)  # refuses objects that are not sinks, up front
    return resolved


def track(
    name: str | None = None,
    *,
    phase: str | None = None,
    zone: str | None = None,
    pue: float | None = None,
    interval: float | None = None,
    scope: str | Scope | None = None,
    ledger: str | os.PathLike[str] | None = None,
    tags: Mapping[str, str] | None = None,
    intensity_series: str | os.PathLike[str] | None = None,
    embodied: str | None = None,
    budget: Budget | Sequence[Budget] | None = None,
    provider: str | IntensitySource | None = None,
    sinks: Sequence[object | str] | None = None,
    audit_env: bool = False,
    settings: Settings | None = None,
    sensors: Sequence[Sensor] | None = None,
    root_pid: int | None = None,
    job: str | None = None,
) -> Tracker:
    """Track a block (``with cl.track("job") as run:``) or a function (``@cl.track("job")``).

    Takes the options of :class:`Tracker`; ``sinks`` adds consumers of the run's events
    (:class:`carbonledger.events.RunSink` objects, or exporter plug-in names);
    ``audit_env=True`` records which installed distributions the run used
    (:mod:`carbonledger.envaudit`), kept with the run in the ledger. ``job`` names the
    distributed job the run belongs to when no launcher variable does
    (:mod:`carbonledger.distributed`): one process per node measures each device.
    """
    return Tracker(
        name,
        phase=phase,
        zone=zone,
        pue=pue,
        interval=interval,
        scope=scope,
        ledger=ledger,
        tags=tags,
        intensity_series=intensity_series,
        embodied=embodied,
        budget=budget,
        provider=provider,
        sinks=sinks,
        audit_env=audit_env,
        settings=settings,
        sensors=sensors,
        root_pid=root_pid,
        job=job,
    )
