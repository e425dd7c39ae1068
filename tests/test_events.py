"""Run events and sinks: what a sink receives, in what order, and what a failing one does."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import carbonledger as cl
from carbonledger.events import BaseSink, RunEnded, RunStarted, RunStopping, SinkFanout
from carbonledger.records import Component, RunStatus, Sample, SpanRecord
from carbonledger.sensors.fake import FakeSensor, fake_device


def fake_sensors(cpu_w: float = 40.0) -> list[FakeSensor]:
    devices = [fake_device("fake:cpu"), fake_device("fake:ram", Component.RAM)]
    return [FakeSensor(devices, {"fake:cpu": cpu_w, "fake:ram": 6.0})]


class Recorder(BaseSink):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.samples: list[Sample] = []
        self.lock = threading.Lock()

    def on_start(self, event: RunStarted) -> None:
        self.events.append(("start", event))

    def on_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        with self.lock:
            self.samples.extend(samples)
            self.events.append(("samples", run_id))

    def on_span(self, run_id: str, span: SpanRecord) -> None:
        self.events.append(("span", span))

    def on_metrics(self, run_id: str, metrics: Mapping[str, Any]) -> None:
        self.events.append(("metrics", dict(metrics)))

    def on_stopping(self, event: RunStopping) -> None:
        self.events.append(("stopping", event))

    def on_end(self, event: RunEnded) -> None:
        self.events.append(("end", event))


def test_a_sink_receives_start_samples_spans_metrics_and_end() -> None:
    sink = Recorder()
    with cl.track("sinks", interval=0.05, sensors=fake_sensors(), sinks=[sink]) as run:
        with run.span("epoch-0"):
            time.sleep(0.15)
        run.log(accuracy=0.9)
    kinds = [k for k, _ in sink.events]
    assert kinds[0] == "start" and kinds[-2:] == ["stopping", "end"]
    assert {"samples", "span", "metrics"} <= set(kinds)
    start = sink.events[0][1]
    assert start.run_id == run.run_id and {d.device_id for d in start.devices} == {
        "fake:cpu",
        "fake:ram",
    }
    span = next(v for k, v in sink.events if k == "span")
    assert span.path == "epoch-0" and span.energy_j["fake:cpu"] > 0
    assert ("metrics", {"accuracy": 0.9}) in sink.events
    end = sink.events[-1][1]
    assert end.status is RunStatus.COMPLETED
    assert end.footprint is not None and end.footprint.run_id == run.run_id
    # the sink saw every joule the footprint counts
    seen_j = sum(s.energy_j or 0.0 for s in sink.samples)
    assert seen_j == pytest.approx(end.footprint.energy_j, rel=1e-9)


class Exploding(BaseSink):
    calls = 0

    def on_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        Exploding.calls += 1
        raise RuntimeError("boom")


def test_a_failing_sink_is_dropped_with_one_warning_and_the_run_completes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = Recorder()
    tracker = cl.Tracker("boom", interval=0.05, sensors=fake_sensors(), sinks=[Exploding(), good])
    with caplog.at_level(logging.WARNING), tracker as run:
        time.sleep(0.3)
    fp = run.footprint()
    assert fp.status == "completed" and fp.energy_j and fp.energy_j > 0
    assert Exploding.calls == 1  # dropped after its first failure
    dropped = [w for w in tracker.warnings if "Exploding" in w]
    assert len(dropped) == 1 and "dropped" in dropped[0]
    assert sum("Exploding" in r.message for r in caplog.records) == 1
    assert [k for k, _ in good.events][-1] == "end"  # the others went on
    assert any("Exploding" in w for w in fp.warnings)  # the caveat travels with the run


def test_duck_typed_sinks_with_some_methods_work_and_non_sinks_are_refused() -> None:
    ends: list[RunEnded] = []

    class OnlyEnd:
        def on_end(self, event: RunEnded) -> None:
            ends.append(event)

    with cl.track("duck", interval=0.05, sensors=fake_sensors(), sinks=[OnlyEnd()]):
        pass
    assert len(ends) == 1
    with pytest.raises(cl.ConfigError, match="none of the methods"):
        cl.track("x", sinks=[object()])


def test_fanout_delivers_in_order_and_keeps_going() -> None:
    order: list[str] = []
    warnings: list[str] = []

    class A(BaseSink):
        def on_metrics(self, run_id: str, metrics: Mapping[str, Any]) -> None:
            order.append("a")

    class B(BaseSink):
        name = "b-sink"

        def on_metrics(self, run_id: str, metrics: Mapping[str, Any]) -> None:
            raise ValueError("no")

    fan = SinkFanout([A(), B(), A()], warn=warnings.append)
    fan.metrics("r", {"x": 1})
    fan.metrics("r", {"x": 2})
    assert order == ["a", "a", "a", "a"]
    assert len(fan.sinks) == 2
    assert warnings == ["sink b-sink failed in on_metrics (ValueError('no')) and was dropped"]


def test_begin_and_end_span_across_hooks_and_threads() -> None:
    with cl.track("hooks", interval=0.05, sensors=fake_sensors()) as run:
        outer = run.begin_span("fit")  # e.g. on_train_begin
        with run.span("epoch-0"):  # nests under the open span of this thread
            time.sleep(0.1)
        token: list[cl.SpanToken] = []
        t = threading.Thread(target=lambda: token.append(run.begin_span("eval")))
        t.start()
        t.join()
        time.sleep(0.05)
        run.end_span(token[0])  # ended from another thread than it began in
        run.end_span(outer)
        run.end_span(outer)  # a second end is ignored
    spans = {s["path"]: s for s in run.footprint().to_dict()["spans"]}
    assert set(spans) == {"fit", "fit/epoch-0", "eval"}
    assert spans["fit/epoch-0"]["energy_kwh"] <= spans["fit"]["energy_kwh"]


def test_open_spans_are_closed_and_marked_when_the_run_ends() -> None:
    tracker = cl.Tracker("open", interval=0.05, sensors=fake_sensors())
    with tracker as run:
        run.begin_span("never-ended")
        time.sleep(0.1)
    fp = run.footprint()
    assert [s.path for s in fp.spans] == ["never-ended"]
    assert fp.spans[0].energy_j is not None and fp.spans[0].energy_j > 0
    assert any("'never-ended' was still open" in w for w in fp.warnings)


def _series_file(path: Path, values: list[float], step_s: float, start: float) -> Path:
    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, tz=timezone.utc).isoformat()

    rows = [f"{iso(start + i * step_s)},{v}" for i, v in enumerate(values)]
    path.write_text("timestamp,g_per_kwh\n" + "\n".join(rows) + "\n")
    return path


def test_a_budget_prices_time_aligned_like_the_final_footprint(tmp_path: Path) -> None:
    # an intensity that changes every 0.1 s: an annual average would price it differently
    start = time.time() - 1
    values = [100.0 + 400.0 * (i % 2) for i in range(200)]
    series = _series_file(tmp_path / "steps.csv", values, 0.1, start)
    budget = cl.Budget(kgco2e=1e6)  # never spent: we only read what it saw
    tracker = cl.Tracker(
        "aligned",
        zone="FR",
        interval=0.05,
        sensors=fake_sensors(400.0),
        intensity_series=series,
        budget=budget,
    )
    with tracker:
        time.sleep(0.6)
    fp = tracker.footprint()
    assert fp.intensity.time_aligned
    monitor = tracker._monitor
    assert monitor is not None
    assert monitor.operational_g == pytest.approx(fp.operational_g, rel=1e-9)
    # and it is not what the annual average would have said
    average_g = (fp.energy_j or 0) * fp.pue / 3.6e6 * 56.0
    assert abs(monitor.operational_g - average_g) > 0.5 * average_g


def test_forecast_total_includes_embodied_like_the_run_total() -> None:
    with cl.track("fc", zone="FR", interval=0.05, sensors=fake_sensors()) as run:
        for i in range(2):
            with run.span(f"epoch-{i}"):
                time.sleep(0.1)
        forecast = run.forecast(done=2, total=4)
    assert forecast is not None
    d = forecast.to_dict()
    assert d["embodied_kgco2e"] is not None and d["embodied_kgco2e"] > 0
    assert d["total_kgco2e"] == pytest.approx(d["operational_kgco2e"] + d["embodied_kgco2e"])
    fp = run.footprint()
    assert fp.embodied_g is not None and fp.embodied_g > 0


def test_should_stop_is_false_without_budgets() -> None:
    with cl.track("nostop", interval=0.05, sensors=fake_sensors()) as run:
        assert run.should_stop() is False
        run.check()
