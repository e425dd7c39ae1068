"""The attribution sink with a fake clock and hand-made samples, and the rows it keeps."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from carbonledger.events import RunStarted, RunStopping
from carbonledger.records import Component, DeviceInfo, Method, RunRecord, RunStatus, Sample, Scope
from carbonledger.serving import RequestEnergySink, RequestLog
from carbonledger.serving.rows import SERVING_KEY, read_requests
from carbonledger.store import open_ledger


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


DEVICE = DeviceInfo("rapl:package-0", Component.CPU, "cpu", Method.MEASURED, "rapl", 0.05)


def _record(run_id: str = "r1") -> RunRecord:
    return RunRecord(
        run_id, "srv", "inference", RunStatus.RUNNING, 1000.0, None, Scope.MACHINE, "FR", None, 1.0
    )


def _sample(a: float, b: float, power_w: float = 100.0) -> Sample:
    return Sample(DEVICE.device_id, a, b, power_w * (b - a), power_w * (b - a))


def _scenario(method: str, ledger: Any = None) -> tuple[RequestEnergySink, RunRecord]:
    clock = Clock()
    log = RequestLog(clock=clock)
    sink = RequestEnergySink(log, attribution=method, ledger=ledger, batch_rows=1)
    record = _record()
    if ledger is not None:
        ledger.create_run(record, [DEVICE])
    sink.on_start(RunStarted(record, (DEVICE,)))
    # [1000, 1001): A alone; [1001, 1002): A and B; [1002, 1003): idle; then C open at stop
    clock.t = 1000.0
    a = log.begin("GET", "/a/1")
    clock.t = 1001.0
    b = log.begin("GET", "/b")
    sink.on_samples("r1", [_sample(1000.0, 1001.0)])
    clock.t = 1002.0
    a.tokens = 30
    log.end(a)
    b.tokens = 10
    b.status = 200
    log.end(b)
    sink.on_samples("r1", [_sample(1001.0, 1002.0)])
    sink.on_samples("r1", [_sample(1002.0, 1003.0)])
    clock.t = 1003.5
    log.begin("POST", "/c")
    sink.on_samples("r1", [_sample(1003.0, 1004.0)])
    sink.on_stopping(RunStopping(record, RunStatus.COMPLETED, 1004.0, 0))
    return sink, record


def test_time_share_rows_and_idle_add_up() -> None:
    sink, _ = _scenario("time-share")
    rows = {r.route: r for r in sink.rows}
    assert rows["/a/{id}"].energy_j == pytest.approx(100 + 50)
    assert rows["/b"].energy_j == pytest.approx(50)
    assert rows["/c"].energy_j == pytest.approx(50) and rows["/c"].outcome == "open"
    t = sink.totals
    assert t.idle_energy_j == pytest.approx(150) and t.idle_s == pytest.approx(1.5)
    assert math.fsum(r.energy_j or 0 for r in sink.rows) + t.idle_energy_j == pytest.approx(400)
    assert all(r.attribution == "time-share" for r in sink.rows)
    assert rows["/b"].latency_s == pytest.approx(1.0) and rows["/b"].status == 200
    assert all(r.carbon_g is not None and r.carbon_g > 0 for r in sink.rows)


def test_tokens_rows_wait_for_tokens() -> None:
    sink, _ = _scenario("tokens")
    rows = {r.route: r for r in sink.rows}
    # A: 15 tok/s, B: 10 tok/s over [1001, 1002); A alone before
    assert rows["/a/{id}"].energy_j == pytest.approx(100 + 60)
    assert rows["/b"].energy_j == pytest.approx(40)
    assert math.fsum(r.energy_j or 0 for r in sink.rows) + sink.totals.idle_energy_j == (
        pytest.approx(400)
    )


@pytest.mark.parametrize("url", ["sqlite", "memory://serving-test"])
def test_rows_kept_in_the_ledger_in_batches(tmp_path: Path, url: str) -> None:
    ledger = open_ledger(str(tmp_path / "l.db") if url == "sqlite" else url)
    try:
        sink, record = _scenario("time-share", ledger)
        kept = read_requests(ledger, record.run_id)
        assert [r.request_id for r in kept] == sorted(r.request_id for r in sink.rows)
        assert kept[0] == sorted(sink.rows, key=lambda r: r.request_id)[0]
        serving = ledger.attachments(record.run_id)[SERVING_KEY]
        assert serving["attribution"] == "time-share" and serving["idle_amortised"] is False
        assert serving["balance_j"] == pytest.approx(0, abs=1e-6)
    finally:
        ledger.close()


class AttachmentsOnly:
    """A ledger without a requests table: rows go to attachments."""

    def __init__(self) -> None:
        self.kept: dict[str, dict[str, Any]] = {}

    def put_attachment(self, run_id: str, key: str, data: Any) -> None:
        self.kept[key] = dict(data)

    def attachments(self, run_id: str) -> dict[str, Any]:
        return dict(self.kept)


def test_fallback_through_attachments() -> None:
    ledger = AttachmentsOnly()
    sink2, _ = _scenario("time-share", None)
    from carbonledger.serving.rows import write_requests

    write_requests(ledger, "r1", sink2.rows[:2], 1)
    write_requests(ledger, "r1", sink2.rows[2:], 2)
    assert sorted(r.request_id for r in read_requests(ledger, "r1")) == sorted(
        r.request_id for r in sink2.rows
    )


def test_failing_ledger_never_raises() -> None:
    class Broken:
        def append_requests(self, run_id: str, rows: Any) -> None:
            raise OSError("disk full")

    sink, _ = _scenario("time-share", None)
    sink.ledger = Broken()
    n = len(sink.rows)
    sink._buffer = list(sink.rows)
    sink._flush("r1")
    assert sink.totals.rows_failed == n


def test_unknown_method_is_refused() -> None:
    from carbonledger.errors import ConfigError

    with pytest.raises(ConfigError, match="time-share"):
        RequestEnergySink(RequestLog(), attribution="shapley")
