"""The issue's done-when check: a uvicorn server with the middleware on a simulated 100 W
powercap tree; 200 requests at concurrency 1, 8 and 32. Per-request energies plus the
idle bucket add up to the run's energy within 2 %, per-token figures are given, and
``carbonledger requests`` prints the summary."""

from __future__ import annotations

import json
import math
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.engines import require_module
from tests.sensors.powercap_tree import make_powercap_tree

WRAP_UJ = 100_000_000
POWER_W = 100.0


class Powercap100W(threading.Thread):
    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.path = root / "class" / "powercap" / "intel-rapl:0" / "energy_uj"
        self.t0 = time.monotonic()
        self.halt = threading.Event()

    def write(self) -> None:
        value = int(POWER_W * (time.monotonic() - self.t0) * 1e6) % WRAP_UJ
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{value}\n")
        os.replace(tmp, self.path)

    def run(self) -> None:
        while not self.halt.wait(0.002):
            self.write()


def _app(log: Any) -> Any:
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route

    from carbonledger.serving import EnergyMiddleware
    from carbonledger.serving.demo import demo_app

    async def item(request: Any) -> Any:
        from starlette.responses import PlainTextResponse

        return PlainTextResponse(str(request.path_params["item_id"]))

    inner = Starlette(routes=[Route("/items/{item_id}", item), Mount("/", app=demo_app)])
    return EnergyMiddleware(inner, log)


class Server:
    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        # log_config=None: uvicorn's dictConfig would close every logging handler in the
        # process, and one that a framework imported earlier in the same pytest worker
        # added (absl's, via keras) closes pytest's captured stderr with it
        config = uvicorn.Config(app, log_level="warning", lifespan="off", log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()


@pytest.mark.slow
def test_requests_add_up_under_uvicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    require_module("uvicorn", "starlette")
    import carbonledger as cl
    from carbonledger.cli.main import main
    from carbonledger.serving import RequestEnergySink, RequestLog, read_requests
    from carbonledger.serving.bench import drive, steady_window, window_energy
    from carbonledger.store import open_ledger

    root = make_powercap_tree(
        tmp_path / "sys", {"intel-rapl:0": {"name": "package-0", "max_energy_range_uj": WRAP_UJ}}
    )
    sim = Powercap100W(root)
    sim.write()
    sim.start()
    monkeypatch.setenv("CARBONLEDGER_SYSFS_ROOT", str(root))
    ledger_path = tmp_path / "ledger.db"
    run_ids: dict[int, str] = {}
    try:
        for concurrency in (1, 8, 32):
            log = RequestLog()
            with Server(_app(log)) as server:
                url = f"http://127.0.0.1:{server.port}/generate?tokens=8&work=50"
                sink = RequestEnergySink(log)
                with cl.track(
                    f"serve-c{concurrency}",
                    phase="inference",
                    scope="machine",
                    interval=0.1,
                    ledger=ledger_path,
                    sinks=[sink],
                ) as run:
                    time.sleep(0.15)  # some idle time before the load
                    result = drive(url, requests=200, concurrency=concurrency)
                    drive(f"http://127.0.0.1:{server.port}/items/7", requests=5, concurrency=1)
                    time.sleep(0.15)
                run_ids[concurrency] = run.run_id
            assert result.errors == 0
            assert len(result.requests) == 200
            if concurrency > 1:
                window = steady_window(result)
                assert window is not None
    finally:
        sim.halt.set()
        sim.join()

    ledger = open_ledger(str(ledger_path))
    try:
        for concurrency, run_id in run_ids.items():
            rows = read_requests(ledger, run_id)
            samples = ledger.samples(run_id)
            serving = ledger.attachments(run_id)["serving"]
            run_j = math.fsum(s.energy_j for s in samples if s.energy_j is not None)
            request_j = math.fsum(r.energy_j or 0 for r in rows)
            assert len(rows) == 205, concurrency
            assert request_j + serving["idle_energy_j"] == pytest.approx(run_j, rel=0.02)
            assert serving["idle_energy_j"] > 0
            cpu = [s for s in samples if s.device_id.startswith("rapl:")]
            cpu_s = sum(s.duration_s for s in cpu)
            assert math.fsum(s.energy_j or 0 for s in cpu) / cpu_s == pytest.approx(100, rel=0.05)
            routes = {r.route for r in rows}
            assert routes == {"/generate", "/items/{item_id}"}, routes
            assert all(r.tokens == 8 for r in rows if r.route == "/generate")
            assert all(r.attribution == "time-share" for r in rows)
            assert window_energy(samples, samples[0].t_start, samples[-1].t_end) == (
                pytest.approx(run_j)
            )
    finally:
        ledger.close()

    capsys.readouterr()
    assert main(["requests", run_ids[8], "--ledger", str(ledger_path)]) == 0
    text = capsys.readouterr().out
    assert "/generate" in text and "J/token" in text and "idle" in text
    assert main(["requests", run_ids[32], "--ledger", str(ledger_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    gen = next(r for r in data["routes"] if r["route"] == "/generate")
    assert gen["requests"] == 200 and gen["tokens"] == 1600
    assert gen["energy_per_token_j"] > 0 and gen["energy_p99_j"] >= gen["energy_p50_j"]
    lo, hi = gen["energy_per_request_interval_j"]
    assert lo < gen["energy_per_request_j"] < hi
    assert data["method"] == "attributed"
