"""A live Prometheus exporter: a run sink behind a one-method collector.

Names follow Prometheus' rules (base units, counters end in ``_total``, power is left to
``rate()``)::

    carbonledger_energy_joules_total{run,name,component,device,method}  attributed energy
    carbonledger_host_energy_joules_total{component,device,method}      what the sensor saw
    carbonledger_emissions_grams_total{run,name,part}       so far (operational|embodied)
    carbonledger_run_info{run,name,phase,zone,scope,status}             1
    carbonledger_run_start_time_seconds{run,name}
    carbonledger_run_energy_joules{run,name,bound}     final footprint (value|low|high)
    carbonledger_run_emissions_grams{run,name,bound}   final footprint (value|low|high)

Label cardinality is bounded: no per-sample or per-span labels, devices are the host's,
and at most ``max_runs`` runs are kept (20 by default; the oldest ended run goes first).
Host energy has no run label: runs that overlap on one host see the same device.

Modes: pull (an HTTP endpoint on ``addr:port``, localhost unless told), a registry of
yours (``registry=``: the collector is added to it, you serve it), or a textfile for
node_exporter's textfile collector (``textfile=``: written atomically, private by default).
``prometheus_client`` is imported only when an exporter is made
(``pip install 'carbonledger[prometheus]'``).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.events import BaseSink, RunEnded, RunStarted, RunStopping
from carbonledger.exporters._live import DEFAULT_MAX_RUNS, LiveTotals, Snapshot
from carbonledger.records import Sample

__all__ = [
    "DEFAULT_ADDR",
    "DEFAULT_PORT",
    "LedgerCollector",
    "PrometheusExporter",
    "parse_listen_address",
    "shared_exporter",
]

log = logging.getLogger(__name__)

DEFAULT_PORT = 9464
DEFAULT_ADDR = "127.0.0.1"
PREFIX = "carbonledger"


def _client() -> Any:
    try:
        return importlib.import_module("prometheus_client")
    except ImportError:
        raise ConfigError(
            "the Prometheus exporter needs prometheus_client: "
            "pip install 'carbonledger[prometheus]'"
        ) from None


def parse_listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``PORT`` (localhost unless a host is given);
    ``[::1]:PORT`` for IPv6. ConfigError for anything else."""
    raw = text.strip()
    host, port_text = DEFAULT_ADDR, raw
    if raw.startswith("["):
        close = raw.find("]")
        if close < 0 or raw[close + 1 : close + 2] != ":":
            raise ConfigError(f"--prometheus {text!r}: expected [HOST]:PORT")
        host, port_text = raw[1:close], raw[close + 2 :]
    elif ":" in raw:
        head, _, port_text = raw.rpartition(":")
        host = head or DEFAULT_ADDR
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(
            f"--prometheus {text!r}: expected HOST:PORT, :PORT or PORT with a port 1-65535"
        )
    return host, int(port_text)


class LedgerCollector:
    """A prometheus_client custom collector: reads the live totals at scrape time."""

    def __init__(self, totals: LiveTotals) -> None:
        self._totals = totals

    def collect(self) -> Iterator[Any]:
        _client()
        yield from families(
            self._totals.snapshot(), importlib.import_module("prometheus_client.core")
        )


def families(snap: Snapshot, core: Any) -> Iterator[Any]:
    """The metric families of one snapshot (``core`` is ``prometheus_client.core``)."""
    devices = {d.device_id: d for d in snap.devices}
    energy = core.CounterMetricFamily(
        f"{PREFIX}_energy_joules",
        "Energy attributed to the run, per device (rate() gives watts).",
        labels=["run", "name", "component", "device", "method"],
    )
    emissions = core.CounterMetricFamily(
        f"{PREFIX}_emissions_grams",
        "Emissions so far in grams CO2e, priced at the zone's average intensity "
        "(the final footprint is carbonledger_run_emissions_grams).",
        labels=["run", "name", "part"],
    )
    info = core.GaugeMetricFamily(
        f"{PREFIX}_run_info",
        "A run carbonledger measures or measured (value 1).",
        labels=["run", "name", "phase", "zone", "scope", "status"],
    )
    started = core.GaugeMetricFamily(
        f"{PREFIX}_run_start_time_seconds",
        "When the run started (unix seconds).",
        labels=["run", "name"],
    )
    final_energy = core.GaugeMetricFamily(
        f"{PREFIX}_run_energy_joules",
        "An ended run's energy (IT, before PUE) from its footprint, with its interval.",
        labels=["run", "name", "bound"],
    )
    final_g = core.GaugeMetricFamily(
        f"{PREFIX}_run_emissions_grams",
        "An ended run's total emissions (operational + embodied) from its footprint, "
        "with its interval.",
        labels=["run", "name", "bound"],
    )
    for run in snap.runs:
        for device_id, joules in sorted(run.energy_j.items()):
            device = devices.get(device_id)
            component = device.component if device is not None else "other"
            method = device.method if device is not None else ""
            energy.add_metric([run.run_id, run.name, component, device_id, method], joules)
        for part, grams in (("operational", run.operational_g), ("embodied", run.embodied_g)):
            if grams is not None:
                emissions.add_metric([run.run_id, run.name, part], grams)
        info.add_metric(
            [run.run_id, run.name, run.phase, run.zone or "", run.scope, run.status], 1.0
        )
        started.add_metric([run.run_id, run.name], run.started_at)
        fp = run.footprint
        if fp is not None:
            for family, value, interval in (
                (final_energy, fp.energy_j, fp.energy_interval_j),
                (final_g, fp.total_g, fp.total_interval_g),
            ):
                if value is not None:
                    family.add_metric([run.run_id, run.name, "value"], value)
                if interval is not None:
                    family.add_metric([run.run_id, run.name, "low"], interval[0])
                    family.add_metric([run.run_id, run.name, "high"], interval[1])
    host = core.CounterMetricFamily(
        f"{PREFIX}_host_energy_joules",
        "Energy the device's sensor saw while runs measured it (whole device, not the "
        "runs' share; counted once when runs overlap).",
        labels=["component", "device", "method"],
    )
    for device in snap.devices:
        if device.host_energy_j is not None:
            host.add_metric(
                [device.component, device.device_id, device.method], device.host_energy_j
            )
    yield from (energy, host, emissions, info, started, final_energy, final_g)


class PrometheusExporter(BaseSink):
    """Run events to Prometheus: ``cl.track(..., sinks=[PrometheusExporter(port=9464)])``.

    * pull (default): serves ``/metrics`` on ``addr:port`` (``127.0.0.1:9464``), started
      with the first run (or :meth:`start`) and kept until :meth:`close` or exit, so the
      last values can still be scraped; ``port=0`` picks a free port (:attr:`port`);
    * ``registry=``: the collector joins your ``CollectorRegistry``; nothing is served;
    * ``textfile=PATH.prom``: the metrics are written to PATH every
      ``textfile_interval_s`` and when a run ends, atomically (a temporary file in the
      same folder, then a rename), with mode ``textfile_mode`` (0600: give 0644 when
      node_exporter runs as another user).
    """

    name = "prometheus"

    def __init__(
        self,
        port: int = DEFAULT_PORT,
        *,
        addr: str = DEFAULT_ADDR,
        registry: Any = None,
        textfile: str | os.PathLike[str] | None = None,
        textfile_interval_s: float = 15.0,
        textfile_mode: int = 0o600,
        max_runs: int = DEFAULT_MAX_RUNS,
    ) -> None:
        prom = _client()
        if not 0 <= int(port) < 65536:
            raise ConfigError(f"Prometheus port must be 0-65535, got {port}")
        self.totals = LiveTotals(max_runs=max_runs)
        self.collector = LedgerCollector(self.totals)
        self._addr = addr
        self._port = int(port)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.textfile = None if textfile is None else Path(textfile)
        if self.textfile is not None and self.textfile.suffix != ".prom":
            raise ConfigError(
                f"Prometheus textfile {self.textfile}: node_exporter reads only *.prom files"
            )
        self._textfile_interval_s = float(textfile_interval_s)
        self._textfile_mode = textfile_mode
        self._last_write = float("-inf")
        self._write_failed = False
        self._serve = registry is None and self.textfile is None
        self.registry = (
            registry if registry is not None else prom.CollectorRegistry(auto_describe=False)
        )
        self.registry.register(self.collector)

    # -- pull mode ------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The port served (the real one after ``port=0`` once started)."""
        server = self._server
        return int(server.server_port) if server is not None else self._port

    @property
    def url(self) -> str:
        host = f"[{self._addr}]" if ":" in self._addr else self._addr
        return f"http://{host}:{self.port}/metrics"

    def start(self) -> None:
        """Serve ``/metrics`` now (ConfigError when the address cannot be bound)."""
        with self._lock:
            if not self._serve or self._server is not None:
                return
            try:
                started = _client().start_http_server(
                    self._port, addr=self._addr, registry=self.registry
                )
            except OSError as exc:
                raise ConfigError(
                    f"cannot serve Prometheus metrics on {self._addr}:{self._port}: "
                    f"{exc.strerror or exc}"
                ) from None
            if isinstance(started, tuple):
                self._server, self._thread = started[0], started[1]

    def close(self) -> None:
        """Stop serving (pull mode); the textfile is left in place."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    # -- run events -----------------------------------------------------------------------
    def on_start(self, event: RunStarted) -> None:
        self.totals.on_start(event)
        if self._serve:
            self.start()
        self._maybe_write(force=True)

    def on_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        self.totals.on_samples(run_id, samples)
        self._maybe_write()

    def on_stopping(self, event: RunStopping) -> None:
        self.totals.on_stopping(event)

    def on_end(self, event: RunEnded) -> None:
        self.totals.on_end(event)
        self._maybe_write(force=True)

    # -- textfile mode --------------------------------------------------------------------
    def _maybe_write(self, force: bool = False) -> None:
        if self.textfile is None:
            return
        now = time.monotonic()
        if not force and now - self._last_write < self._textfile_interval_s:
            return
        self._last_write = now
        try:
            self.write_textfile()
        except OSError as exc:
            if not self._write_failed:
                log.warning("cannot write Prometheus textfile %s: %s", self.textfile, exc)
            self._write_failed = True

    def write_textfile(self) -> None:
        """Write the metrics to :attr:`textfile` now, atomically."""
        if self.textfile is None:
            raise ConfigError("this Prometheus exporter has no textfile")
        data = _client().generate_latest(self.registry)
        write_atomic(self.textfile, data, self._textfile_mode)


_SHARED: PrometheusExporter | None = None
_SHARED_LOCK = threading.Lock()


def shared_exporter() -> PrometheusExporter:
    """The process's exporter on ``127.0.0.1:9464``, made on first use: what
    ``sinks=["prometheus"]`` gives, so run after run in one process share one endpoint."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = PrometheusExporter()
        return _SHARED


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """``data`` into ``path`` by a rename, so a reader sees the old or the new file whole;
    the temporary file is created private (0600) and set to ``mode`` before the rename."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
